//! The Connection Request server (TR-069 Amd 6 §3.2.2).
//!
//! An ACS asks the CPE to open a session by sending an HTTP 1.1 `GET` to the CPE's
//! `ConnectionRequestURL`. The CPE MUST authenticate it with HTTP Digest, MUST NOT open a
//! session for an unauthenticated one, answers an authenticated one with `200 OK` and an empty
//! body, and only then opens a session whose Inform carries `6 CONNECTION REQUEST`. It SHOULD
//! limit how many requests it accepts per period and answers the excess with `503` without
//! `Retry-After`.
//!
//! The pieces:
//! - [`ConnectionRequestServer`] (built from a [`ServerConfig`]) accepts on a TCP port, answers
//!   with hyper, and is stopped by a shutdown future.
//! - [`digest::DigestVerifier`] is the sans-IO Digest/Basic verifier, shared with the ACS side.
//! - [`signal::channel`] makes the [`signal::Notifier`] / [`signal::Waiter`] latch that tells
//!   the agent to open a session, coalescing requests that arrive while one is pending.
//! - [`CredentialSource`] reads `ConnectionRequestUsername`/`ConnectionRequestPassword` live,
//!   so a SetParameterValues from the ACS takes effect on the next request.
//!
//! ```no_run
//! # async fn run() -> Result<(), cpe::connreq::Error> {
//! use cpe::connreq::{ConnectionRequestServer, CredentialSource, Credentials, ServerConfig};
//!
//! let (credentials_tx, credentials_rx) = tokio::sync::watch::channel(None);
//! let (notifier, mut waiter) = cpe::connreq::signal::channel();
//! let server = ConnectionRequestServer::builder(ServerConfig::default())
//!     .bind(CredentialSource::from(credentials_rx), notifier)
//!     .await?;
//! println!("ConnectionRequestURL path: {}", server.path());
//! let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
//! tokio::spawn(server.serve(async move {
//!     let _ = stop_rx.await;
//! }));
//! credentials_tx.send_replace(Some(Credentials::new("acs", "secret")));
//! while let Some(wakeup) = waiter.wait().await {
//!     // Open a session whose Inform carries `wakeup.event_code()`.
//!     let _ = wakeup;
//! }
//! # drop(stop_tx);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

mod base64;
pub mod digest;
mod rate;
mod server;
pub mod signal;

pub use rate::RateLimit;
pub(crate) use rate::RateLimiter;
pub use server::{
    ConnectionRequestServer, DEFAULT_PORT, ServerBuilder, ServerConfig, ServerHandle, ServerStats,
};

/// The `ConnectionRequestUsername` / `ConnectionRequestPassword` pair of
/// `Device.ManagementServer.` (TR-069 Amd 6 §3.2.2). `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    /// Makes a pair.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The username.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Whether both parts are set. An empty username or password counts as "not configured":
    /// the server then refuses every request rather than accept a guessable one.
    pub fn is_configured(&self) -> bool {
        !self.username.is_empty() && !self.password.is_empty()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// Where the server reads the current credentials from, on every request, so a change made by
/// the ACS (SetParameterValues on `ConnectionRequestPassword`, TR-069 Amd 6 §3.2.2) applies to
/// the next Connection Request without a restart.
#[derive(Clone)]
pub struct CredentialSource(Source);

#[derive(Clone)]
enum Source {
    Fixed(Option<Credentials>),
    Function(Arc<dyn Fn() -> Option<Credentials> + Send + Sync>),
    Watch(watch::Receiver<Option<Credentials>>),
}

impl CredentialSource {
    /// Credentials that never change (tests, or a device with fixed credentials).
    pub fn fixed(credentials: Option<Credentials>) -> Self {
        Self(Source::Fixed(credentials))
    }

    /// Credentials read by calling `read`, e.g. a lookup in the data model.
    pub fn from_fn(read: impl Fn() -> Option<Credentials> + Send + Sync + 'static) -> Self {
        Self(Source::Function(Arc::new(read)))
    }

    /// The current credentials, or `None` when none are configured (see
    /// [`Credentials::is_configured`]).
    pub fn current(&self) -> Option<Credentials> {
        let current = match &self.0 {
            Source::Fixed(c) => c.clone(),
            Source::Function(read) => read(),
            Source::Watch(rx) => rx.borrow().clone(),
        };
        current.filter(Credentials::is_configured)
    }
}

impl From<watch::Receiver<Option<Credentials>>> for CredentialSource {
    /// Credentials published on a `watch` channel by whoever owns the data model.
    fn from(rx: watch::Receiver<Option<Credentials>>) -> Self {
        Self(Source::Watch(rx))
    }
}

impl fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0 {
            Source::Fixed(_) => "fixed",
            Source::Function(_) => "function",
            Source::Watch(_) => "watch",
        };
        f.debug_tuple("CredentialSource").field(&kind).finish()
    }
}

/// The time source for nonce expiry and the rate-limit window (TR-069 Amd 6 §3.2.2), injected
/// so tests can move time by hand.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The default [`Clock`] of the Connection Request server (TR-069 Amd 6 §3.2.2): tokio's clock,
/// so `tokio::time::pause` also governs it.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// Why the Connection Request server (TR-069 Amd 6 §3.2.2) could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("cannot bind the Connection Request server to {addr}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The operating system's random generator failed while seeding nonces.
    #[error("cannot seed the Connection Request nonce generator")]
    Entropy(#[source] rand::rngs::SysError),
    /// A setting is out of range.
    #[error("invalid Connection Request setting `{field}`: {reason}")]
    InvalidConfig {
        /// The [`ServerConfig`] field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The bound address could not be read back.
    #[error("cannot read the Connection Request server's bound address")]
    LocalAddr(#[source] io::Error),
}

#[cfg(test)]
mod tests;
