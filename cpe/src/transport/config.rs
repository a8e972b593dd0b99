//! Configuration of the CWMP transport.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::dial::ProxySettings;

/// Where the system trust anchors are read from when no CA file is configured.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Largest response body accepted by default (a CWMP envelope is far smaller; a
/// GetParameterValues over the whole model of a big gateway fits).
pub const DEFAULT_MAX_BODY: usize = 4 * 1024 * 1024;

/// Redirects followed per request by default (TR-069 Amd 6 §3.4.6 asks for at least 5).
pub const DEFAULT_MAX_REDIRECTS: u8 = 5;

/// Default connect and response timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Static settings of the CWMP HTTP(S) client, shared by every session of an agent (or every
/// member of a fleet) through one [`Client`](super::Client).
///
/// The per-session values (ACS URL and `ManagementServer.Username`/`Password`) are given to
/// [`Client::open`](super::Client::open).
#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// TLS trust anchors, client identity and the `insecure` switch (TR-069 Amd 6 §3.3).
    pub tls: TlsSettings,
    /// The HTTP proxies for CWMP sessions and file transfers, and the targets reached
    /// directly; none by default.
    pub proxy: ProxySettings,
    /// Limit for TCP connect + proxy `CONNECT` + TLS handshake.
    pub connect_timeout: Duration,
    /// Limit for one complete response (status, headers and body) after a request is sent.
    pub response_timeout: Duration,
    /// Largest response body accepted; larger ones fail with
    /// [`TransportError::BodyTooLarge`](super::TransportError::BodyTooLarge).
    pub max_body_size: usize,
    /// Redirects followed per request (TR-069 Amd 6 §3.4.6).
    pub max_redirects: u8,
    /// Answer a Basic challenge over plain `http` (sends the password in clear text).
    /// TR-069 Amd 6 §3.4.4 allows Basic only over TLS, so this is off by default.
    pub allow_basic_over_http: bool,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// A `SOAPAction` header value to send on POSTs that carry an envelope; `None` sends no
    /// `SOAPAction` (GenieACS and most ACSes ignore it).
    pub soap_action: Option<String>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            tls: TlsSettings::default(),
            proxy: ProxySettings::default(),
            connect_timeout: DEFAULT_TIMEOUT,
            response_timeout: DEFAULT_TIMEOUT,
            max_body_size: DEFAULT_MAX_BODY,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            allow_basic_over_http: false,
            user_agent: concat!("cwmp-toolkit-cpe/", env!("CARGO_PKG_VERSION")).to_owned(),
            soap_action: None,
        }
    }
}

/// TLS settings for `https` ACS URLs (TR-069 Amd 6 §3.3).
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// PEM file of the CA certificates to trust. When `None`, `system_ca_file` is used.
    pub ca_file: Option<PathBuf>,
    /// The system bundle used when `ca_file` is `None` and the file exists
    /// (default [`SYSTEM_CA_BUNDLE`]).
    pub system_ca_file: PathBuf,
    /// A client certificate for ACSes that authenticate the CPE by certificate.
    pub client_certificate: Option<ClientCertificate>,
    /// Skip server certificate verification entirely. Only for labs: every session logs a
    /// warning while this is set.
    pub insecure: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            ca_file: None,
            system_ca_file: PathBuf::from(SYSTEM_CA_BUNDLE),
            client_certificate: None,
            insecure: false,
        }
    }
}

/// A client certificate chain and its private key, both PEM files.
#[derive(Clone, Debug)]
pub struct ClientCertificate {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// One HTTP proxy: `http://host:port`. A plain-http server is reached with absolute-form
/// requests through the proxy, an https server through a `CONNECT` tunnel.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// `http://host:port` (user information in the URL is taken as `credentials` when those
    /// are not given).
    pub url: String,
    /// Credentials for `Proxy-Authorization: Basic`, sent with every proxy request.
    pub credentials: Option<Credentials>,
}

/// A username and password (ACS: `ManagementServer.Username`/`Password`; or a proxy).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The username.
    pub username: String,
    /// The password; never printed by `Debug`.
    pub password: String,
}

impl Credentials {
    /// Credentials from a username and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}
