//! Errors of the CWMP HTTP(S) transport.

use std::fmt;
use std::io;
use std::path::PathBuf;

use http::StatusCode;

/// Everything that can end a CWMP session's HTTP exchange (TR-069 Amd 6 §3.3, §3.4).
///
/// Each variant names what failed so the session retry logic (§3.2.1.1) and the logs can tell
/// an unreachable ACS from a certificate problem or rejected credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The ACS answered 401 again after the CPE had answered its challenge (TR-069 Amd 6
    /// §3.4.4): the credentials are wrong.
    #[error("ACS rejected the credentials (repeated 401{})", realm_suffix(.realm))]
    AuthRejected {
        /// The realm of the last challenge, when it had one.
        realm: Option<String>,
    },
    /// The ACS demanded authentication (401) but no username/password is configured.
    #[error("ACS requires authentication (401) but no credentials are configured")]
    AuthRequired,
    /// The ACS offered only HTTP Basic over plain `http`, which would send the password in
    /// clear text; TR-069 Amd 6 §3.4.4 allows Basic only over TLS unless the configuration
    /// explicitly allows it.
    #[error(
        "ACS offered only Basic authentication over plain http; refusing to send the password in clear text"
    )]
    BasicOverPlainHttp,
    /// The `WWW-Authenticate` header could not be used (no header, syntax error, unknown
    /// scheme or algorithm).
    #[error("unusable WWW-Authenticate challenge: {reason}")]
    BadChallenge {
        /// Why the challenge was refused.
        reason: String,
    },
    /// A 3xx redirect had no usable `Location`.
    #[error("redirect ({status}) without a usable Location header")]
    BadRedirect {
        /// The redirect status.
        status: StatusCode,
    },
    /// The response body broke off before it was complete (connection reset or closed short
    /// of the announced length) while a file was being downloaded.
    #[error("response body broke off after {received} bytes: {source}")]
    BodyInterrupted {
        /// Bytes received (and written) before the failure.
        received: u64,
        /// hyper's description of the failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The response body was larger than the configured limit.
    #[error("response body exceeds {max} bytes")]
    BodyTooLarge {
        /// The configured limit in bytes.
        max: usize,
    },
    /// The TCP connection to the ACS could not be opened or broke during the TLS handshake.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// `host:port` that was dialled.
        addr: String,
        /// The socket error.
        #[source]
        source: io::Error,
    },
    /// The HTTP exchange on an established connection failed (malformed response, connection
    /// reset mid-response, ...).
    #[error("HTTP exchange with {addr} failed: {source}")]
    Http {
        /// `host:port` of the peer.
        addr: String,
        /// hyper's description of the failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A redirect pointed from `https` to plain `http`, which would drop transport security
    /// for the rest of the session (TR-069 Amd 6 §3.3).
    #[error("refusing redirect from https to plain http ({location})")]
    InsecureRedirect {
        /// The refused target.
        location: String,
    },
    /// A configured header value (`User-Agent`, `SOAPAction`, an upload's `Content-Type`) is
    /// not valid in HTTP.
    #[error("configured {name} is not a valid HTTP header value")]
    InvalidHeader {
        /// The header.
        name: &'static str,
    },
    /// A URL (configured ACS URL, redirect target or proxy) could not be used.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The HTTP proxy failed; see [`ProxyError`].
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// Writing a downloaded body to its destination failed (disk full, I/O error).
    #[error("cannot write the downloaded body: {source}")]
    Sink {
        /// The write error.
        #[source]
        source: io::Error,
    },
    /// The ACS answered with a status the CWMP session cannot use (neither 2xx, nor a SOAP
    /// fault, nor a followed redirect or answered challenge).
    #[error("unexpected HTTP status {status} from {url}")]
    Status {
        /// The status received.
        status: StatusCode,
        /// The URL that answered.
        url: String,
    },
    /// The wait named by `what` exceeded its configured limit.
    #[error("timed out waiting for {what}")]
    Timeout {
        /// Which wait expired.
        what: TimeoutKind,
    },
    /// TLS failed for a reason other than an untrusted certificate (alerts from the ACS, e.g.
    /// `CertificateRequired` when it demands a client certificate; protocol mismatch).
    #[error("TLS with {host} failed: {source}")]
    Tls {
        /// The server name used for SNI.
        host: String,
        /// rustls' description of the failure.
        #[source]
        source: rustls::Error,
    },
    /// Loading the TLS configuration (CA file, client certificate or key) failed.
    #[error("TLS configuration: {0}")]
    TlsConfig(#[from] TlsConfigError),
    /// More than `max` redirects for one request (TR-069 Amd 6 §3.4.6 asks for at least 5).
    #[error("more than {max} redirects")]
    TooManyRedirects {
        /// The configured maximum.
        max: u8,
    },
    /// The ACS certificate is not trusted: `reason` says why (`UnknownIssuer`, `Expired`,
    /// `NotValidForName`, ...).
    #[error("certificate of {host} is not trusted: {reason:?}")]
    UntrustedCertificate {
        /// The server name the certificate was checked against.
        host: String,
        /// rustls' verdict.
        reason: rustls::CertificateError,
    },
}

fn realm_suffix(realm: &Option<String>) -> String {
    realm
        .as_ref()
        .map(|r| format!(", realm {r:?}"))
        .unwrap_or_default()
}

/// Which wait of [`TransportError::Timeout`] expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// Opening the connection: TCP connect, proxy `CONNECT` and TLS handshake together.
    Connect,
    /// Waiting for a complete response (status, headers and body) to one request; for a file
    /// download, waiting for the status and headers.
    Response,
    /// Waiting for the next part of a file download's body: the server stalled for longer
    /// than the response timeout.
    Body,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "the connection to the ACS",
            Self::Response => "the ACS response",
            Self::Body => "more of the response body",
        })
    }
}

/// Failures of the HTTP proxy (`CONNECT` tunnel for https, absolute-form for http); each
/// names the proxy (`host:port`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The proxy demanded authentication (407) and no proxy credentials are configured.
    #[error(
        "HTTP proxy {proxy} requires authentication (407) but no proxy credentials are configured"
    )]
    AuthRequired {
        /// `host:port` of the proxy.
        proxy: String,
    },
    /// The proxy answered 407 to the configured credentials.
    #[error("HTTP proxy {proxy} rejected the configured credentials (407)")]
    AuthRejected {
        /// `host:port` of the proxy.
        proxy: String,
    },
    /// The proxy itself could not be reached, or the connection to it broke.
    #[error("cannot connect to HTTP proxy {proxy}: {source}")]
    Connect {
        /// `host:port` of the proxy.
        proxy: String,
        /// The socket error.
        #[source]
        source: io::Error,
    },
    /// The proxy's answer to `CONNECT` was not HTTP or was too large.
    #[error("HTTP proxy {proxy} gave a malformed answer to CONNECT: {reason}")]
    InvalidResponse {
        /// `host:port` of the proxy.
        proxy: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// The proxy refused the `CONNECT` tunnel with this status (403, 502, ...).
    #[error("HTTP proxy {proxy} refused CONNECT to {target}: {status}")]
    Refused {
        /// `host:port` of the proxy.
        proxy: String,
        /// The `host:port` asked for.
        target: String,
        /// The status the proxy answered.
        status: StatusCode,
    },
}

/// Loading the TLS trust anchors or client identity failed (TR-069 Amd 6 §3.3).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// A PEM file could not be read or parsed.
    #[error("cannot read {path}: {source}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// The parse or I/O error.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The CA file held no certificate rustls could use.
    #[error("no usable CA certificate in {path}")]
    NoCaCertificates {
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the configuration (e.g. client key does not match the certificate).
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
}
