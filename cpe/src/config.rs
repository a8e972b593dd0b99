//! The agent's configuration: a TOML file (`cpe run --config FILE`), every field optional,
//! overridden by command-line flags and `CPE_*` environment variables.
//!
//! ```toml
//! [acs]
//! url = "https://acs.example.net:7547/"   # else learned from DHCP option 43
//! username = "cpe"                         # provisioned ManagementServer.Username
//! password = "secret"                      # provisioned ManagementServer.Password
//!
//! [tls]
//! ca_file = "/etc/cpe/acs-ca.pem"          # default: the system bundle
//! client_cert = "/etc/cpe/cpe.pem"         # for ACSes that demand mutual TLS
//! client_key = "/etc/cpe/cpe.key"
//! insecure = false                         # never verify: only when set here
//!
//! [proxy]                                  # else https_proxy, http_proxy, all_proxy, no_proxy
//! url = "http://proxy.example.net:3128"    # for CWMP, transfers and the cloud tunnel
//! no_proxy = [".lan.example", "10.0.0.0/8"] # names, domain suffixes, IPs, CIDRs or "*"
//! username = "cpe"                         # Proxy-Authorization: Basic (or user:pw@ in url)
//! password = "secret"
//!
//! [device]
//! profile = "/etc/cpe/profile.toml"        # default: the built-in gateway profile
//! serial = "EX0123456789"
//!
//! [connection_request]
//! listen = "0.0.0.0:7547"
//!
//! [session]
//! max_version = "1.4"                      # 1.0 to 1.4
//! timeout = 30                             # seconds, 5 to 3600
//!
//! [state]
//! dir = "/var/lib/cpe"
//!
//! [log]
//! format = "text"                          # or "json"
//! throttle = 5                             # lines per code per minute, 0 (no limit) to 10000
//! syslog = false                           # true: also to /dev/log; or a socket path
//!
//! [cloud]                                  # the cloud-management tunnel (else from DHCP or the ACS)
//! domain = "cloud.example.net"             # 1-253 characters, case-sensitive
//! port = 443                               # 1-65535
//! ca_file = "/etc/cpe/cloud-ca.pem"        # default: the system bundle
//! secret = "..."                           # the CAS password; default: the serial number
//!
//! [metrics]                                # off unless listen is set
//! listen = "127.0.0.1:9310"                # GET /metrics, Prometheus text format
//!
//! [commands]                               # what Reboot etc. do on the host
//! reboot = ["systemctl", "reboot"]         # default: restart the agent's own state
//! factory_reset = ["/usr/sbin/factory-reset"]
//! firmware_apply = ["/usr/sbin/fw-apply", "{file}"]
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemas::soap::CwmpVersion;
use serde::Deserialize;

use crate::dial::{NoProxy, ProxyOptions};
use crate::transport::Credentials;

/// Where state lives when nothing else says.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/cpe";

/// Why a configuration was refused: each variant names the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, naming the field and line.
        message: String,
    },
    /// A value outside what the field allows.
    #[error("`{field}` = {value}: {allowed}")]
    Invalid {
        /// The field, as written in the file (`session.timeout`).
        field: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        allowed: &'static str,
    },
}

/// The configuration file as written; every field optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `[acs]`.
    #[serde(default)]
    pub acs: AcsSection,
    /// `[tls]`.
    #[serde(default)]
    pub tls: TlsSection,
    /// `[proxy]`.
    #[serde(default)]
    pub proxy: ProxySection,
    /// `[device]`.
    #[serde(default)]
    pub device: DeviceSection,
    /// `[connection_request]`.
    #[serde(default)]
    pub connection_request: ConnectionRequestSection,
    /// `[session]`.
    #[serde(default)]
    pub session: SessionSection,
    /// `[state]`.
    #[serde(default)]
    pub state: StateSection,
    /// `[log]`.
    #[serde(default)]
    pub log: LogSection,
    /// `[commands]`.
    #[serde(default)]
    pub commands: Commands,
    /// `[cloud]`.
    #[serde(default)]
    pub cloud: CloudSection,
    /// `[metrics]`.
    #[serde(default)]
    pub metrics: MetricsSection,
}

/// `[metrics]`: the Prometheus `/metrics` endpoint ([`crate::stats::server`]), off by default.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// Address the endpoint listens on; none, no endpoint.
    pub listen: Option<String>,
}

/// `[cloud]`: the cloud-management tunnel's server (ARCHITECTURE.md, "Cloud-management
/// tunnel"). Domain and port are the provisioned `X_<vendor>_CloudManagement.ServerDomain` /
/// `ServerPort`: written into the data model at start, below what the ACS or `cpe set` chose,
/// above DHCP (the precedence of [`crate::ztp`]).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudSection {
    /// The server's domain name.
    pub domain: Option<String>,
    /// The server's TCP port.
    pub port: Option<u32>,
    /// PEM file of the CAs trusted for the cloud; default the system bundle.
    pub ca_file: Option<PathBuf>,
    /// The device's secret for the CAS (the password of step 2); default the serial number.
    pub secret: Option<String>,
}

/// The checked `[cloud]` section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloudConfig {
    /// The server's domain name, 1-253 characters.
    pub domain: Option<String>,
    /// The server's TCP port.
    pub port: Option<u16>,
    /// Trusted CAs for the cloud.
    pub ca_file: Option<PathBuf>,
    /// The CAS secret, 1-256 characters.
    pub secret: Option<String>,
}

/// `[acs]`: the ACS to call (TR-069 `ManagementServer.URL`, `Username`, `Password`).
///
/// These are the device's provisioned values of those parameters: the agent writes them into
/// its data model at start, and an ACS that later sets the parameters itself wins over them
/// until the configuration changes (see [`crate::agent`]).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcsSection {
    /// The ACS URL.
    pub url: Option<String>,
    /// User name for HTTP authentication to the ACS (TR-069 §3.4.4), provisioned as
    /// `ManagementServer.Username`.
    pub username: Option<String>,
    /// Password for HTTP authentication to the ACS (TR-069 §3.4.4), provisioned as
    /// `ManagementServer.Password`; needs `username`.
    pub password: Option<String>,
}

/// `[tls]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// PEM file of the CAs trusted for the ACS; default the system bundle.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain, for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub client_key: Option<PathBuf>,
    /// Skip certificate verification. Only ever from this explicit setting.
    #[serde(default)]
    pub insecure: bool,
}

/// `[proxy]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySection {
    /// `http://host:port` of an HTTP proxy for all outbound traffic.
    pub url: Option<String>,
    /// Hosts reached without the proxy (curl's `NO_PROXY` syntax).
    pub no_proxy: Option<Vec<String>>,
    /// User name for `Proxy-Authorization: Basic`.
    pub username: Option<String>,
    /// Password for `Proxy-Authorization: Basic`.
    pub password: Option<String>,
}

/// `[device]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSection {
    /// Profile file (TOML, or a genieacs-sim CSV); default the built-in gateway.
    pub profile: Option<PathBuf>,
    /// Serial number, overriding the profile's.
    pub serial: Option<String>,
}

/// `[connection_request]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionRequestSection {
    /// Address the Connection Request server listens on.
    pub listen: Option<String>,
}

/// `[session]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSection {
    /// Highest CWMP version offered.
    pub max_version: Option<String>,
    /// Session timeout in seconds.
    pub timeout: Option<u64>,
}

/// `[state]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSection {
    /// Directory of the agent's state files and control socket.
    pub dir: Option<PathBuf>,
}

/// `[log]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// `text` or `json`.
    pub format: Option<String>,
    /// Lines of one code per minute ([`crate::oplog::Throttle`]); 0 means no limit.
    pub throttle: Option<u32>,
    /// Also send the coded lines to syslog ([`crate::oplog::SyslogLayer`]).
    pub syslog: Option<crate::oplog::SyslogSetting>,
}

/// `[commands]`: host commands for what the agent cannot do itself. Each is an argv; an empty
/// or absent one means the built-in behaviour.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Commands {
    /// Run after a Reboot's session ends; default: restart the agent's own state machine.
    #[serde(default)]
    pub reboot: Vec<String>,
    /// Run after a FactoryReset's session ends; default: return to the profile.
    #[serde(default)]
    pub factory_reset: Vec<String>,
    /// Run with a downloaded firmware image (`{file}` is replaced by its path).
    #[serde(default)]
    pub firmware_apply: Vec<String>,
}

/// Values given on the command line or in `CPE_*` variables; they beat the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--acs-url` / `CPE_ACS_URL`.
    pub acs_url: Option<String>,
    /// `--state-dir` / `CPE_STATE_DIR`.
    pub state_dir: Option<PathBuf>,
    /// `--profile` / `CPE_PROFILE`.
    pub profile: Option<PathBuf>,
    /// `--serial` / `CPE_SERIAL`.
    pub serial: Option<String>,
    /// `--connreq-listen` / `CPE_CONNREQ_LISTEN`.
    pub connreq_listen: Option<String>,
    /// `--log-format` / `CPE_LOG_FORMAT`.
    pub log_format: Option<String>,
    /// `--cloud-domain` / `CPE_CLOUD_DOMAIN`.
    pub cloud_domain: Option<String>,
    /// `--cloud-port` / `CPE_CLOUD_PORT`.
    pub cloud_port: Option<u32>,
    /// `--cloud-ca` / `CPE_CLOUD_CA`.
    pub cloud_ca: Option<PathBuf>,
    /// `--metrics-listen` / `CPE_METRICS_LISTEN`.
    pub metrics_listen: Option<String>,
}

/// How logs are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The checked configuration the agent runs with.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// ACS URL from the configuration, if any (DHCP or the ACS itself may set it later).
    pub acs_url: Option<String>,
    /// ACS user name from the configuration, the provisioned `ManagementServer.Username`
    /// (TR-069 §3.4.4); empty when none is configured.
    pub acs_username: String,
    /// ACS password from the configuration, the provisioned `ManagementServer.Password`;
    /// empty when none is configured (or when it is empty).
    pub acs_password: String,
    /// Trusted CAs for the ACS.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key, both or neither.
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// Skip certificate verification.
    pub insecure: bool,
    /// The `[proxy]` settings; the environment completes them when the agent starts.
    pub proxy: ProxyOptions,
    /// Profile file; `None` for the built-in gateway.
    pub profile: Option<PathBuf>,
    /// Serial number override.
    pub serial: Option<String>,
    /// Connection Request listen address.
    pub connreq_listen: SocketAddr,
    /// Highest CWMP version offered.
    pub max_version: CwmpVersion,
    /// Session timeout.
    pub session_timeout: Duration,
    /// State directory.
    pub state_dir: PathBuf,
    /// Log format, throttle and syslog.
    pub log: crate::oplog::LogConfig,
    /// Host commands.
    pub commands: Commands,
    /// The cloud-management tunnel.
    pub cloud: CloudConfig,
    /// Where `/metrics` listens; `None`, the endpoint is off.
    pub metrics_listen: Option<SocketAddr>,
}

impl Config {
    /// Reads `path` (if given), applies `overrides`, and checks every value.
    pub fn load(path: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let file = match path {
            Some(path) => FileConfig::read(path)?,
            None => FileConfig::default(),
        };
        Self::resolve(file, overrides)
    }

    /// Applies `overrides` to `file` and checks every value.
    pub fn resolve(file: FileConfig, o: Overrides) -> Result<Self, ConfigError> {
        let acs_url = o.acs_url.or(file.acs.url).filter(|u| !u.is_empty());
        if let Some(url) = &acs_url {
            check_url("acs.url", url, &["http://", "https://"])?;
            // Exactly what the transport will connect to: host, port and path must read.
            if url.parse::<crate::transport::AcsUrl>().is_err() {
                return Err(ConfigError::Invalid {
                    field: "acs.url",
                    value: url.clone(),
                    allowed: "an http:// or https:// URL of at most 256 characters",
                });
            }
        }
        let proxy = check_proxy(file.proxy)?;
        let client_identity = together(
            file.tls.client_cert,
            file.tls.client_key,
            ["tls.client_cert", "tls.client_key"],
            "tls.client_cert and tls.client_key go together",
        )?;
        let listen = o.connreq_listen.or(file.connection_request.listen);
        let connreq_listen = match listen.as_deref() {
            None => SocketAddr::from(([0, 0, 0, 0], 7547)),
            Some(text) => text.parse().map_err(|_| ConfigError::Invalid {
                field: "connection_request.listen",
                value: text.into(),
                allowed: "an address and port, e.g. 0.0.0.0:7547 or [::]:7547",
            })?,
        };
        let max_version = match file.session.max_version.as_deref() {
            None => CwmpVersion::V1_4,
            Some(text) => text.parse().map_err(|_| ConfigError::Invalid {
                field: "session.max_version",
                value: text.into(),
                allowed: "one of 1.0, 1.1, 1.2, 1.3, 1.4",
            })?,
        };
        let timeout = file.session.timeout.unwrap_or(30);
        if !(5..=3600).contains(&timeout) {
            return Err(ConfigError::Invalid {
                field: "session.timeout",
                value: timeout.to_string(),
                allowed: "seconds, from 5 to 3600",
            });
        }
        let log = crate::oplog::LogConfig::resolve(file.log, o.log_format)?;
        if let Some(serial) = o.serial.as_ref().or(file.device.serial.as_ref())
            && (serial.is_empty() || serial.len() > 64)
        {
            return Err(ConfigError::Invalid {
                field: "device.serial",
                value: serial.clone(),
                allowed: "1 to 64 characters (DeviceIdStruct SerialNumber)",
            });
        }
        let acs_username = file.acs.username.unwrap_or_default();
        let acs_password = file.acs.password.unwrap_or_default();
        if acs_username.is_empty() && !acs_password.is_empty() {
            return Err(ConfigError::Invalid {
                field: "acs.username",
                value: "(missing)".into(),
                allowed: "acs.password needs acs.username",
            });
        }
        // `ManagementServer.Username` / `Password` are string(256) (TR-181).
        for (field, value) in [
            ("acs.username", &acs_username),
            ("acs.password", &acs_password),
        ] {
            if value.chars().count() > 256 {
                return Err(ConfigError::Invalid {
                    field,
                    value: format!("({} characters)", value.chars().count()),
                    allowed: "at most 256 characters",
                });
            }
        }
        let cloud = check_cloud(file.cloud, o.cloud_domain, o.cloud_port, o.cloud_ca)?;
        let metrics_listen = match o.metrics_listen.or(file.metrics.listen).as_deref() {
            None | Some("") => None,
            Some(text) => Some(text.parse().map_err(|_| ConfigError::Invalid {
                field: "metrics.listen",
                value: text.into(),
                allowed: "an address and port, e.g. 127.0.0.1:9310 or [::1]:9310",
            })?),
        };
        Ok(Self {
            acs_url,
            acs_username,
            acs_password,
            ca_file: file.tls.ca_file,
            client_identity,
            insecure: file.tls.insecure,
            proxy,
            profile: o.profile.or(file.device.profile),
            serial: o.serial.or(file.device.serial),
            connreq_listen,
            max_version,
            session_timeout: Duration::from_secs(timeout),
            state_dir: o
                .state_dir
                .or(file.state.dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR)),
            log,
            commands: file.commands,
            cloud,
            metrics_listen,
        })
    }
}

/// Two settings that go together: both or neither; one alone is an error naming the other
/// (`fields` in the order of `a` and `b`).
fn together<A, B>(
    a: Option<A>,
    b: Option<B>,
    fields: [&'static str; 2],
    allowed: &'static str,
) -> Result<Option<(A, B)>, ConfigError> {
    match (a, b) {
        (Some(a), Some(b)) => Ok(Some((a, b))),
        (None, None) => Ok(None),
        (a, _) => Err(ConfigError::Invalid {
            field: if a.is_some() { fields[1] } else { fields[0] },
            value: "(missing)".into(),
            allowed,
        }),
    }
}

/// `[proxy]`: an `http://` URL, `no_proxy` entries as [`NoProxy`] reads them, and user name
/// and password together.
fn check_proxy(section: ProxySection) -> Result<ProxyOptions, ConfigError> {
    let url = section.url.filter(|u| !u.is_empty());
    if let Some(url) = &url {
        check_url("proxy.url", url, &["http://"])?;
    }
    if let Some(list) = &section.no_proxy {
        NoProxy::parse(list.iter().map(String::as_str)).map_err(|e| ConfigError::Invalid {
            field: "proxy.no_proxy",
            value: e.entry,
            allowed: "at most 256 host names, .domain suffixes, IP addresses, CIDR blocks or *",
        })?;
    }
    let credentials = together(
        section.username,
        section.password,
        ["proxy.username", "proxy.password"],
        "proxy.username and proxy.password go together",
    )?
    .map(|(username, password)| Credentials::new(username, password));
    Ok(ProxyOptions {
        url,
        no_proxy: section.no_proxy,
        credentials,
    })
}

/// `[cloud]` with the command line's overrides, each value in its range.
fn check_cloud(
    file: CloudSection,
    domain: Option<String>,
    port: Option<u32>,
    ca_file: Option<PathBuf>,
) -> Result<CloudConfig, ConfigError> {
    let domain = domain.or(file.domain);
    if let Some(domain) = &domain
        && schemas::tunnel::CloudSettings::with_defaults(domain.clone()).is_err()
    {
        return Err(ConfigError::Invalid {
            field: "cloud.domain",
            value: domain.clone(),
            allowed: "a domain name of 1 to 253 letters, digits, `-`, `.` and `_`",
        });
    }
    let port = match port.or(file.port) {
        None => None,
        Some(port) => Some(
            u16::try_from(port)
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| ConfigError::Invalid {
                    field: "cloud.port",
                    value: port.to_string(),
                    allowed: "a TCP port, from 1 to 65535",
                })?,
        ),
    };
    if let Some(secret) = &file.secret
        && (secret.is_empty() || secret.chars().count() > 256)
    {
        return Err(ConfigError::Invalid {
            field: "cloud.secret",
            value: format!("({} characters)", secret.chars().count()),
            allowed: "1 to 256 characters",
        });
    }
    Ok(CloudConfig {
        domain,
        port,
        ca_file: ca_file.or(file.ca_file),
        secret: file.secret,
    })
}

impl Config {
    /// The ACS credentials the configuration provisions (`[acs] username` / `password`), if
    /// it gives a user name: the factory values of `ManagementServer.Username` / `Password`
    /// (TR-069 §3.4.4).
    pub fn acs_credentials(&self) -> Option<Credentials> {
        (!self.acs_username.is_empty())
            .then(|| Credentials::new(&self.acs_username, &self.acs_password))
    }
}

impl FileConfig {
    /// Reads and parses a configuration file.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        read_toml(path)
    }
}

/// Reads a TOML configuration file into `T`; the errors name the file, and the parser's
/// message names the field and line. The ACS's configuration reads the same way.
pub fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Syntax {
        path: path.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })
}

fn check_url(field: &'static str, url: &str, schemes: &[&str]) -> Result<(), ConfigError> {
    let ok = schemes.iter().any(|s| {
        url.get(..s.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(s))
            && url.len() > s.len()
    });
    if ok && !url.contains(char::is_whitespace) && url.len() <= 256 {
        return Ok(());
    }
    Err(ConfigError::Invalid {
        field,
        value: url.into(),
        allowed: if schemes.len() > 1 {
            "an http:// or https:// URL of at most 256 characters"
        } else {
            "an http:// URL of at most 256 characters"
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: "test.toml".into(),
            message: e.to_string(),
        })?;
        Config::resolve(file, Overrides::default())
    }

    #[test]
    fn metrics_endpoint_is_off_unless_an_address_is_given_and_a_bad_one_names_the_field() {
        assert_eq!(parse("").unwrap().metrics_listen, None);
        let c = parse("[metrics]\nlisten = \"127.0.0.1:9310\"").unwrap();
        assert_eq!(c.metrics_listen, Some("127.0.0.1:9310".parse().unwrap()));
        let o = Overrides {
            metrics_listen: Some("[::1]:0".into()),
            ..Overrides::default()
        };
        let c = Config::resolve(FileConfig::default(), o).unwrap();
        assert_eq!(c.metrics_listen, Some("[::1]:0".parse().unwrap()));
        let err = parse("[metrics]\nlisten = \"9310\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("metrics.listen") && err.contains("address and port"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.acs_url, None);
        assert_eq!(c.connreq_listen, "0.0.0.0:7547".parse().unwrap());
        assert_eq!(c.max_version, CwmpVersion::V1_4);
        assert_eq!(c.session_timeout, Duration::from_secs(30));
        assert_eq!(c.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
        assert_eq!(c.log.format, LogFormat::Text);
        assert!(!c.insecure);
    }

    #[test]
    fn flags_and_environment_beat_the_file() {
        let file: FileConfig =
            toml::from_str("[acs]\nurl = \"http://a/\"\n[state]\ndir = \"/x\"").unwrap();
        let o = Overrides {
            acs_url: Some("https://b/".into()),
            state_dir: Some("/y".into()),
            ..Overrides::default()
        };
        let c = Config::resolve(file, o).unwrap();
        assert_eq!(c.acs_url.as_deref(), Some("https://b/"));
        assert_eq!(c.state_dir, PathBuf::from("/y"));
    }

    #[test]
    fn bad_values_name_the_field_and_the_allowed_range() {
        let err = parse("[session]\ntimeout = 2").unwrap_err().to_string();
        assert_eq!(err, "`session.timeout` = 2: seconds, from 5 to 3600");
        let err = parse("[acs]\nurl = \"http://[bad\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("`acs.url` = http://[bad: an http://"),
            "{err}"
        );
        let err = parse("[acs]\nurl = \"ftp://x\"").unwrap_err().to_string();
        assert!(
            err.starts_with("`acs.url` = ftp://x: an http:// or https:// URL"),
            "{err}"
        );
        let err = parse("[session]\nmax_version = \"2.0\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("session.max_version") && err.contains("1.4"),
            "{err}"
        );
        let err = parse("[connection_request]\nlisten = \"7547\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("connection_request.listen"), "{err}");
        let err = parse("[tls]\nclient_cert = \"/c.pem\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("tls.client_key"), "{err}");
        let err = parse("[log]\nformat = \"xml\"").unwrap_err().to_string();
        assert_eq!(err, "`log.format` = xml: text or json");
    }

    #[test]
    fn the_cloud_section_is_checked_and_the_flags_beat_it() {
        let c = parse("[cloud]\ndomain = \"Cloud.Example\"\nport = 8443\nsecret = \"s\"").unwrap();
        assert_eq!(
            c.cloud.domain.as_deref(),
            Some("Cloud.Example"),
            "case kept"
        );
        assert_eq!(c.cloud.port, Some(8443));
        assert_eq!(c.cloud.secret.as_deref(), Some("s"));
        let err = parse("[cloud]\nport = 70000").unwrap_err().to_string();
        assert_eq!(err, "`cloud.port` = 70000: a TCP port, from 1 to 65535");
        let err = parse("[cloud]\nport = 0").unwrap_err().to_string();
        assert!(err.starts_with("`cloud.port` = 0:"), "{err}");
        let long = "a".repeat(254);
        let err = parse(&format!("[cloud]\ndomain = \"{long}\"")).unwrap_err();
        assert!(err.to_string().starts_with("`cloud.domain` = aaa"), "{err}");
        let err = parse("[cloud]\nsecret = \"\"").unwrap_err().to_string();
        assert!(err.starts_with("`cloud.secret`"), "{err}");
        let file: FileConfig = toml::from_str("[cloud]\ndomain = \"a.example\"\nport = 1").unwrap();
        let o = Overrides {
            cloud_domain: Some("b.example".into()),
            cloud_port: Some(2),
            cloud_ca: Some("/ca.pem".into()),
            ..Overrides::default()
        };
        let c = Config::resolve(file, o).unwrap();
        assert_eq!(c.cloud.domain.as_deref(), Some("b.example"));
        assert_eq!(c.cloud.port, Some(2));
        assert_eq!(c.cloud.ca_file, Some(PathBuf::from("/ca.pem")));
    }

    #[test]
    fn acs_credentials_need_a_user_name_and_fit_the_model() {
        assert!(parse("").unwrap().acs_credentials().is_none());
        let c = parse("[acs]\nusername = \"cpe\"\npassword = \"pw\"").unwrap();
        let credentials = c.acs_credentials().unwrap();
        assert_eq!(
            (credentials.username.as_str(), credentials.password.as_str()),
            ("cpe", "pw")
        );
        // A user name alone is a user with an empty password.
        let c = parse("[acs]\nusername = \"cpe\"").unwrap();
        assert_eq!(c.acs_credentials().unwrap().password, "");
        let err = parse("[acs]\npassword = \"pw\"").unwrap_err().to_string();
        assert_eq!(
            err,
            "`acs.username` = (missing): acs.password needs acs.username"
        );
        let long = "x".repeat(257);
        let err = parse(&format!("[acs]\nusername = \"cpe\"\npassword = \"{long}\""))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "`acs.password` = (257 characters): at most 256 characters"
        );
        assert!(!err.contains(&long));
    }

    #[test]
    fn a_proxy_url_may_carry_credentials() {
        let c = parse("[proxy]\nurl = \"http://user:pw@proxy.example.net:3128\"").unwrap();
        assert_eq!(
            c.proxy.url.as_deref(),
            Some("http://user:pw@proxy.example.net:3128")
        );
    }

    #[test]
    fn proxy_exceptions_and_credentials_are_read_and_checked() {
        let c = parse(
            "[proxy]\nurl = \"http://p:3128\"\nno_proxy = [\".lan\", \"10.0.0.0/8\", \"*\"]\n\
             username = \"u\"\npassword = \"pw\"",
        )
        .unwrap();
        assert_eq!(
            c.proxy.no_proxy.as_deref(),
            Some(&[".lan".into(), "10.0.0.0/8".into(), "*".into()][..])
        );
        assert_eq!(c.proxy.credentials, Some(Credentials::new("u", "pw")));
        assert!(parse("").unwrap().proxy == ProxyOptions::default());

        let err = parse("[proxy]\nno_proxy = [\"10.0.0.0/40\"]")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("`proxy.no_proxy` = 10.0.0.0/40"), "{err}");
        let err = parse("[proxy]\nusername = \"u\"").unwrap_err().to_string();
        assert!(err.starts_with("`proxy.password`"), "{err}");
        let err = parse("[proxy]\nurl = \"socks5://p:1080\"")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("`proxy.url`"), "{err}");
    }

    #[test]
    fn unknown_fields_are_refused_with_their_name() {
        let err = parse("[acs]\nurll = \"http://a/\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("urll"), "{err}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = Config::load(
            Some(Path::new("/nonexistent/cpe.toml")),
            Overrides::default(),
        );
        assert!(
            err.unwrap_err()
                .to_string()
                .starts_with("cannot read /nonexistent/cpe.toml")
        );
    }
}
