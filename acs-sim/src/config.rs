//! `acs-sim serve` configuration: a TOML file, then `ACS_*` variables and flags on top.
//!
//! ```toml
//! [listen]
//! cwmp = "127.0.0.1:7547"        # CWMP over HTTP
//! cwmps = "127.0.0.1:7548"       # CWMP over HTTPS (needs [tls]); off by default
//! nbi = "127.0.0.1:7557"         # GenieACS-compatible REST API
//! files = "127.0.0.1:7567"       # file server for Download / Upload
//! files_tls = "127.0.0.1:7568"   # the file server over HTTPS (needs [tls]); off by default
//!
//! [store]
//! db = "acs-sim.db"              # SQLite file
//! files_dir = "acs-sim-files"    # blobs of the file server
//!
//! [acs]
//! max_version = "1.4"            # 1.0 to 1.4 (TR-069 §3.7.4)
//! session_timeout = 30           # seconds, 5 to 3600 (§3.7.1.5)
//! body_limit = 4194304           # bytes, 1024 to 67108864
//! files_url = "http://127.0.0.1:7567"   # base of Download / Upload URLs
//! partial_path_gpv = false       # send partial paths in GetParameterValues as they are
//! scenario = "scenarios/lab.toml"
//!
//! [auth]                         # CPE -> ACS authentication (§3.4.4)
//! mode = "none"                  # none, basic or digest
//! username = "cpe"
//! password = "secret"
//!
//! [connection_request]           # ACS -> CPE (§3.2.2)
//! provision = true               # set random credentials on the first session
//! username = "acs"               # used for devices without provisioned ones
//! password = "secret"
//! allow_basic = false
//! timeout = 5                    # seconds, 1 to 120
//!
//! [tls]                          # for the cwmps and files_tls listeners
//! cert = "cert.pem"
//! key = "key.pem"
//!
//! [transcripts]
//! dir = "transcripts"            # one file per message, per session
//! devices = []                   # device ids; empty = every device
//!
//! [log]                          # as the CPE's (README.md, "Log codes")
//! format = "text"                # or "json" (also --log-json)
//! throttle = 5                   # lines per code per minute, 0 (no limit) to 10000
//! syslog = false                 # true: also to /dev/log; or a socket path
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a configuration was refused: each variant names the field (the CPE's configuration
/// refuses the same way).
pub use cpe::config::ConfigError;
use cpe::config::read_toml;
use serde::Deserialize;

use crate::acs::{AcsConfig, ConnReqConfig, CpeAuth, TranscriptConfig};
use crate::session::SessionConfig;
use crate::store::Credentials;

/// The configuration file as written; every field optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `[listen]`.
    #[serde(default)]
    pub listen: ListenSection,
    /// `[store]`.
    #[serde(default)]
    pub store: StoreSection,
    /// `[acs]`.
    #[serde(default)]
    pub acs: AcsSection,
    /// `[auth]`.
    #[serde(default)]
    pub auth: AuthSection,
    /// `[connection_request]`.
    #[serde(default)]
    pub connection_request: ConnReqSection,
    /// `[tls]`.
    #[serde(default)]
    pub tls: TlsSection,
    /// `[transcripts]`.
    #[serde(default)]
    pub transcripts: TranscriptSection,
    /// `[log]`.
    #[serde(default)]
    pub log: cpe::config::LogSection,
}

/// `[listen]`: addresses as text, checked by [`ServeConfig::resolve`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenSection {
    /// CWMP over HTTP.
    pub cwmp: Option<String>,
    /// CWMP over HTTPS.
    pub cwmps: Option<String>,
    /// REST API.
    pub nbi: Option<String>,
    /// File server.
    pub files: Option<String>,
    /// File server over HTTPS.
    pub files_tls: Option<String>,
}

/// `[store]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// SQLite file.
    pub db: Option<PathBuf>,
    /// Directory of the file server's blobs.
    pub files_dir: Option<PathBuf>,
}

/// `[acs]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcsSection {
    /// Highest CWMP version.
    pub max_version: Option<String>,
    /// Session timeout, seconds.
    pub session_timeout: Option<u64>,
    /// Request body limit, bytes.
    pub body_limit: Option<usize>,
    /// Base URL of Download / Upload URLs.
    pub files_url: Option<String>,
    /// Send partial paths in GetParameterValues.
    pub partial_path_gpv: Option<bool>,
    /// Provisioning scenario file.
    pub scenario: Option<PathBuf>,
}

/// `[auth]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// `none`, `basic` or `digest`.
    pub mode: Option<String>,
    /// User name CPEs must present.
    pub username: Option<String>,
    /// Password CPEs must present.
    pub password: Option<String>,
}

/// `[connection_request]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnReqSection {
    /// Provision random credentials on the first session.
    pub provision: Option<bool>,
    /// Fallback user name.
    pub username: Option<String>,
    /// Fallback password.
    pub password: Option<String>,
    /// Answer Basic challenges.
    pub allow_basic: Option<bool>,
    /// Seconds to wait for the device.
    pub timeout: Option<u64>,
}

/// `[tls]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
}

/// `[transcripts]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscriptSection {
    /// Directory; absent = no transcripts.
    pub dir: Option<PathBuf>,
    /// Device ids to record; empty = all.
    #[serde(default)]
    pub devices: Vec<String>,
}

/// Values from flags or `ACS_*` variables; they beat the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--cwmp` / `ACS_CWMP`.
    pub cwmp: Option<String>,
    /// `--cwmps` / `ACS_CWMPS`.
    pub cwmps: Option<String>,
    /// `--nbi` / `ACS_NBI`.
    pub nbi: Option<String>,
    /// `--files` / `ACS_FILES`.
    pub files: Option<String>,
    /// `--files-tls` / `ACS_FILES_TLS`.
    pub files_tls: Option<String>,
    /// `--db` / `ACS_DB`.
    pub db: Option<PathBuf>,
    /// `--scenario` / `ACS_SCENARIO`.
    pub scenario: Option<PathBuf>,
    /// `--transcripts` / `ACS_TRANSCRIPTS`.
    pub transcripts: Option<PathBuf>,
}

/// The checked configuration `acs-sim serve` runs with.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// CWMP over HTTP.
    pub cwmp: SocketAddr,
    /// CWMP over HTTPS, with its certificate and key files.
    pub cwmps: Option<(SocketAddr, PathBuf, PathBuf)>,
    /// REST API.
    pub nbi: SocketAddr,
    /// File server.
    pub files: SocketAddr,
    /// File server over HTTPS, with its certificate and key files.
    pub files_tls: Option<(SocketAddr, PathBuf, PathBuf)>,
    /// SQLite file.
    pub db: PathBuf,
    /// Blob directory.
    pub files_dir: PathBuf,
    /// Scenario file, if any.
    pub scenario: Option<PathBuf>,
    /// What the ACS shares with its listeners.
    pub acs: AcsConfig,
    /// Log format, throttle and syslog.
    pub log: cpe::oplog::LogConfig,
}

fn invalid(field: &'static str, value: impl ToString, allowed: &'static str) -> ConfigError {
    ConfigError::Invalid {
        field,
        value: value.to_string(),
        allowed,
    }
}

/// A listener that serves HTTPS with `[tls]`'s certificate: off when `text` is `None`; an
/// error naming `tls.cert` (`needs`) when it is on without a certificate.
fn tls_listener(
    field: &'static str,
    text: Option<String>,
    tls: &TlsSection,
    needs: &'static str,
) -> Result<Option<(SocketAddr, PathBuf, PathBuf)>, ConfigError> {
    let Some(text) = text else {
        return Ok(None);
    };
    let addr = address(field, Some(text), "")?;
    match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => Ok(Some((addr, cert.clone(), key.clone()))),
        _ => Err(invalid("tls.cert", "(missing)", needs)),
    }
}

fn address(
    field: &'static str,
    text: Option<String>,
    default: &str,
) -> Result<SocketAddr, ConfigError> {
    let text = text.unwrap_or_else(|| default.to_owned());
    text.parse().map_err(|_| {
        invalid(
            field,
            text,
            "an address and port, e.g. 127.0.0.1:7547 or [::]:7547",
        )
    })
}

fn ranged<T: PartialOrd + ToString + Copy>(
    field: &'static str,
    value: Option<T>,
    default: T,
    range: std::ops::RangeInclusive<T>,
    allowed: &'static str,
) -> Result<T, ConfigError> {
    let value = value.unwrap_or(default);
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(invalid(field, value, allowed))
    }
}

impl ServeConfig {
    /// Reads `path` (if given), applies `overrides`, and checks every value.
    pub fn load(path: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let file = match path {
            Some(path) => FileConfig::read(path)?,
            None => FileConfig::default(),
        };
        Self::resolve(file, overrides)
    }

    /// Checks `file` with `o` on top.
    pub fn resolve(file: FileConfig, o: Overrides) -> Result<Self, ConfigError> {
        let cwmp = address("listen.cwmp", o.cwmp.or(file.listen.cwmp), "127.0.0.1:7547")?;
        let nbi = address("listen.nbi", o.nbi.or(file.listen.nbi), "127.0.0.1:7557")?;
        let files = address(
            "listen.files",
            o.files.or(file.listen.files),
            "127.0.0.1:7567",
        )?;
        let cwmps = tls_listener(
            "listen.cwmps",
            o.cwmps.or(file.listen.cwmps),
            &file.tls,
            "listen.cwmps needs tls.cert and tls.key",
        )?;
        let files_tls = tls_listener(
            "listen.files_tls",
            o.files_tls.or(file.listen.files_tls),
            &file.tls,
            "listen.files_tls needs tls.cert and tls.key",
        )?;
        let max_version = match file.acs.max_version.as_deref() {
            None => schemas::soap::CwmpVersion::V1_4,
            Some(text) => text
                .parse()
                .map_err(|_| invalid("acs.max_version", text, "one of 1.0, 1.1, 1.2, 1.3, 1.4"))?,
        };
        let timeout = ranged(
            "acs.session_timeout",
            file.acs.session_timeout,
            30,
            5..=3600,
            "seconds, from 5 to 3600",
        )?;
        let body_limit = ranged(
            "acs.body_limit",
            file.acs.body_limit,
            AcsConfig::default().body_limit,
            1024..=64 << 20,
            "bytes, from 1024 to 67108864",
        )?;
        let files_url = file
            .acs
            .files_url
            .unwrap_or_else(|| format!("http://{files}"));
        if !(files_url.starts_with("http://") || files_url.starts_with("https://")) {
            return Err(invalid(
                "acs.files_url",
                files_url,
                "an http:// or https:// URL",
            ));
        }
        let credentials =
            |field: &'static str, username: Option<String>, password: Option<String>| match (
                username, password,
            ) {
                (Some(username), Some(password)) => Ok(Some(Credentials { username, password })),
                (None, None) => Ok(None),
                _ => Err(invalid(
                    field,
                    "(half given)",
                    "username and password go together",
                )),
            };
        let auth_credentials =
            credentials("auth.username", file.auth.username, file.auth.password)?;
        let auth = match (file.auth.mode.as_deref(), auth_credentials) {
            (None | Some("none"), _) => CpeAuth::None,
            (Some("basic"), Some(c)) => CpeAuth::Basic(c),
            (Some("digest"), Some(c)) => CpeAuth::Digest(c),
            (Some("basic" | "digest"), None) => {
                return Err(invalid(
                    "auth.username",
                    "(missing)",
                    "basic and digest need auth.username and auth.password",
                ));
            }
            (Some(other), _) => return Err(invalid("auth.mode", other, "none, basic or digest")),
        };
        let cr = file.connection_request;
        let connreq = ConnReqConfig {
            provision: cr.provision.unwrap_or(true),
            fallback: credentials("connection_request.username", cr.username, cr.password)?,
            allow_basic: cr.allow_basic.unwrap_or(false),
            timeout: Duration::from_secs(ranged(
                "connection_request.timeout",
                cr.timeout,
                5,
                1..=120,
                "seconds, from 1 to 120",
            )?),
        };
        let log = cpe::oplog::LogConfig::resolve(file.log, None)?;
        let transcripts = o
            .transcripts
            .or(file.transcripts.dir)
            .map(|dir| TranscriptConfig {
                dir,
                devices: file.transcripts.devices,
            });
        Ok(Self {
            cwmp,
            cwmps,
            files_tls,
            nbi,
            files,
            db: o
                .db
                .or(file.store.db)
                .unwrap_or_else(|| PathBuf::from("acs-sim.db")),
            files_dir: file
                .store
                .files_dir
                .unwrap_or_else(|| PathBuf::from("acs-sim-files")),
            scenario: o.scenario.or(file.acs.scenario),
            acs: AcsConfig {
                session: SessionConfig {
                    max_version,
                    timeout: Duration::from_secs(timeout),
                    ..SessionConfig::default()
                },
                auth,
                body_limit,
                files_url,
                connreq,
                partial_path_gpv: file.acs.partial_path_gpv.unwrap_or(false),
                transcripts,
            },
            log,
        })
    }
}

impl FileConfig {
    /// Reads and parses a configuration file.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        read_toml(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ServeConfig, ConfigError> {
        ServeConfig::resolve(toml::from_str(text).unwrap(), Overrides::default())
    }

    #[test]
    fn defaults_are_the_documented_ports() {
        let c = parse("").unwrap();
        assert_eq!(c.cwmp.to_string(), "127.0.0.1:7547");
        assert_eq!(c.nbi.to_string(), "127.0.0.1:7557");
        assert_eq!(c.files.to_string(), "127.0.0.1:7567");
        assert_eq!(c.acs.files_url, "http://127.0.0.1:7567");
        assert_eq!(c.acs.auth, CpeAuth::None);
        assert!(c.cwmps.is_none());
    }

    #[test]
    fn the_log_section_is_the_cpes() {
        let c = parse("[log]\nthrottle = 0\nsyslog = true\nformat = \"json\"").unwrap();
        assert_eq!(c.log.throttle, 0);
        assert_eq!(c.log.syslog, Some(PathBuf::from("/dev/log")));
        assert_eq!(c.log.format, cpe::config::LogFormat::Json);
        let error = parse("[log]\nthrottle = 10001").unwrap_err().to_string();
        assert!(error.starts_with("`log.throttle` = 10001"), "{error}");
    }

    #[test]
    fn overrides_beat_the_file() {
        let file =
            toml::from_str("[listen]\ncwmp = \"127.0.0.1:1\"\n[store]\ndb = \"a.db\"").unwrap();
        let o = Overrides {
            cwmp: Some("127.0.0.1:2".into()),
            db: Some("b.db".into()),
            ..Overrides::default()
        };
        let c = ServeConfig::resolve(file, o).unwrap();
        assert_eq!((c.cwmp.port(), c.db), (2, PathBuf::from("b.db")));
    }

    #[test]
    fn digest_auth_takes_its_credentials() {
        let c = parse("[auth]\nmode = \"digest\"\nusername = \"u\"\npassword = \"p\"").unwrap();
        assert_eq!(
            c.acs.auth,
            CpeAuth::Digest(Credentials {
                username: "u".into(),
                password: "p".into()
            })
        );
    }

    #[test]
    fn bad_values_name_the_field_and_the_range() {
        let cases = [
            (
                "[listen]\nnbi = \"nope\"",
                "`listen.nbi` = nope: an address and port, e.g. 127.0.0.1:7547 or [::]:7547",
            ),
            (
                "[acs]\nsession_timeout = 1",
                "`acs.session_timeout` = 1: seconds, from 5 to 3600",
            ),
            (
                "[acs]\nmax_version = \"2.0\"",
                "`acs.max_version` = 2.0: one of 1.0, 1.1, 1.2, 1.3, 1.4",
            ),
            (
                "[acs]\nbody_limit = 10",
                "`acs.body_limit` = 10: bytes, from 1024 to 67108864",
            ),
            (
                "[auth]\nmode = \"ntlm\"",
                "`auth.mode` = ntlm: none, basic or digest",
            ),
            (
                "[auth]\nmode = \"basic\"",
                "`auth.username` = (missing): basic and digest need auth.username and auth.password",
            ),
            (
                "[auth]\nusername = \"u\"",
                "`auth.username` = (half given): username and password go together",
            ),
            (
                "[connection_request]\ntimeout = 0",
                "`connection_request.timeout` = 0: seconds, from 1 to 120",
            ),
            (
                "[listen]\ncwmps = \"127.0.0.1:7548\"",
                "`tls.cert` = (missing): listen.cwmps needs tls.cert and tls.key",
            ),
            (
                "[listen]\nfiles_tls = \"127.0.0.1:7568\"",
                "`tls.cert` = (missing): listen.files_tls needs tls.cert and tls.key",
            ),
            (
                "[listen]\nfiles_tls = \"nowhere\"\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"",
                "`listen.files_tls` = nowhere: an address and port, e.g. 127.0.0.1:7547 or [::]:7547",
            ),
            (
                "[acs]\nfiles_url = \"ftp://x\"",
                "`acs.files_url` = ftp://x: an http:// or https:// URL",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(parse(text).unwrap_err().to_string(), message, "{text}");
        }
    }

    #[test]
    fn unknown_fields_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acs.toml");
        std::fs::write(&path, "[acs]\nsesion_timeout = 3\n").unwrap();
        let message = ServeConfig::load(Some(&path), Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("unknown field `sesion_timeout`"),
            "{message}"
        );
    }
}
