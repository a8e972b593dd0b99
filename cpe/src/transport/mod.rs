//! The HTTP(S) client of a CWMP session (TR-069 Amd 6 §3.3 "Use of TLS and TCP", §3.4 "Use of
//! HTTP").
//!
//! A [`Client`] holds what every session shares (TLS trust anchors and client certificate,
//! proxy, timeouts, limits); [`Client::open`] starts a [`Session`], which owns the one
//! HTTP/1.1 connection of a CWMP session (hyper `client::conn::http1`, so requests cannot
//! wander to another connection) and sends the session's POSTs on it in order:
//!
//! - every POST carries `Content-Type: text/xml; charset="utf-8"`, except the empty POST,
//!   which is `Content-Length: 0` with no body (§3.4.6, §3.7.2.4);
//! - cookies from `Set-Cookie` are echoed on the session's later requests (§3.4.6); when the
//!   ACS closes the connection between requests (GenieACS does), the next POST reconnects and
//!   the cookies keep the session together;
//! - a 401 is answered with Digest (MD5 or SHA-256, `qop=auth`) or, over TLS or when
//!   explicitly allowed, Basic (§3.4.4, §3.4.5); later requests authorize pre-emptively;
//! - 301/302/307/308 redirects are followed with the same POST and body, at most
//!   [`TransportConfig::max_redirects`] per request (§3.4.6), and [`Session::url`] reports the
//!   URL to use for the rest of the session;
//! - TLS uses rustls with the aws-lc-rs provider: a CA file or the system bundle, an optional
//!   client certificate, SNI from the URL host (§3.3);
//! - an HTTP proxy ([`ProxySettings`], chosen per target with `no_proxy`) is used with
//!   absolute-form requests for `http` and a `CONNECT` tunnel for `https`; without one the
//!   server's addresses are raced with Happy Eyeballs (RFC 8305), and [`Client::last_peer`]
//!   tells which address (or proxy) was reached;
//! - connect and response waits are bounded with `tokio::time` (pausable in tests), response
//!   bodies by [`TransportConfig::max_body_size`].
//!
//! The same client carries file transfers (TR-069 Amd 6 A.3.2.8 Download, A.4.1.5 Upload):
//! [`Client::download`] streams a `GET` body into a writer under a size cap, and
//! [`Client::upload`] sends a file body with `PUT` (or `POST`), both with the TLS trust, proxy,
//! Basic/Digest authentication (answered for the request's own method) and redirects above.
//!
//! Every failure is a [`TransportError`] that names what failed.

mod auth;
mod client;
mod config;
mod connect;
mod cookie;
mod error;
mod tls;
mod url;

pub use crate::dial::{ProxyPolicy, ProxySettings};
pub use client::{Client, Downloaded, Response, Session};
pub use config::{
    ClientCertificate, Credentials, DEFAULT_MAX_BODY, DEFAULT_MAX_REDIRECTS, DEFAULT_TIMEOUT,
    ProxyConfig, SYSTEM_CA_BUNDLE, TlsSettings, TransportConfig,
};
pub use error::{ProxyError, TimeoutKind, TlsConfigError, TransportError};
pub use url::{AcsUrl, Scheme};

/// The cloud tunnel trusts the same anchors the same way.
pub(crate) use tls::client_config;

#[cfg(test)]
pub(crate) mod tests;
