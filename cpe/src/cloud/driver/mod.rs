//! The tokio driver of the tunnel machine ([`Tunnel`]): one task owns the machine and carries
//! out its [`Action`](super::Action)s on real sockets (ARCHITECTURE.md, "Cloud-management
//! tunnel"; the flow is [`schemas::tunnel`]'s table).
//!
//! - `Resolve`: `tokio::net::lookup_host` of the domain, or of the HTTP proxy that serves it
//!   ([`DriverConfig::proxy`]);
//! - `Connect`: TCP (Happy Eyeballs over the addresses, RFC 8305, or the proxy's `CONNECT`
//!   tunnel to the domain and port; bounded by [`IO_TIMEOUT`]) then TLS with tokio-rustls,
//!   server name = the configured domain; the HTTP/1.1 connection (hyper) it opens carries the HTTP steps to
//!   that origin, and a step whose URL names another origin (a CAS elsewhere) opens its own;
//! - `Http`: one request, its answer's body capped at [`MAX_FRAME`];
//! - `OpenWebSocket`: TCP (through the proxy as for `Connect`), TLS for `wss://`, the upgrade with tokio-tungstenite (message and
//!   frame size capped at [`MAX_FRAME`]); each link is then a task that feeds frames back and
//!   writes what the machine sends, one frame at a time;
//! - `Send` / `Close`: handed to the link's task.
//!
//! The machine's [`Record`](super::Record)s go to [`DriverConfig::stats`] after each turn,
//! with the Inqueue of the tunnel's rows (the frames in its send buffer).
//!
//! The machine's `now` is `tokio::time::Instant::now()`, and its timeout is slept with
//! `tokio::time::sleep_until`, so tests can pause tokio's clock. The back-off jitter comes
//! from `rand`.
//!
//! [`MAX_FRAME`]: schemas::tunnel::MAX_FRAME

mod http;
mod link;
mod net;
mod task;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use schemas::tunnel::{CloudSettings, DeviceMessage, ReportFailure};
use tokio::sync::{mpsc, oneshot};

use super::{CloudStatus, Event, Link, Tunnel, TunnelConfig};
use crate::dial::ProxyPolicy;
use crate::stats::{Message, Stats};
use crate::transport::{TlsSettings, TransportError};

/// The longest any single I/O operation of the driver may take (a lookup, a connect with its
/// TLS handshake, an HTTP exchange, a WebSocket upgrade, one frame's write). The machine's
/// own [`STEP_TIMEOUT`](super::STEP_TIMEOUT) bounds each establishment step as a whole.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// What the driver is built from.
#[derive(Clone, Debug)]
pub struct DriverConfig {
    /// The machine's configuration: settings, serial, secret, services, buffer, back-off.
    pub tunnel: TunnelConfig,
    /// The TLS client configuration of every connection to the cloud ([`cloud_tls`]).
    pub tls: Arc<rustls::ClientConfig>,
    /// The HTTP proxies: a `CONNECT` tunnel to the cloud's domain and port (and to a CAS
    /// elsewhere) when one serves it; [`ProxyPolicy::default`] connects directly.
    pub proxy: ProxyPolicy,
    /// The call-home statistics the tunnel's rows are counted in (the agent's).
    pub stats: Stats<Message>,
}

/// The driver could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The trust anchors could not be loaded.
    #[error("cloud TLS configuration: {0}")]
    Tls(#[from] TransportError),
}

/// The driver task has stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the cloud tunnel driver has stopped")]
pub struct Stopped;

/// A message was not queued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendRefused {
    /// The driver task has stopped.
    #[error(transparent)]
    Stopped(#[from] Stopped),
    /// The machine refused it (link not registered, buffer full, not encodable); the
    /// reason is also the status table's "Last report failure reason".
    #[error("refused: {0}")]
    Refused(ReportFailure),
}

/// Builds the TLS client configuration of the tunnel: the CA certificates of the PEM file
/// `ca` (`--cloud-ca`), or the system bundle ([`SYSTEM_CA_BUNDLE`](crate::transport::SYSTEM_CA_BUNDLE)) when `ca` is `None`.
pub fn cloud_tls(ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, DriverError> {
    let settings = TlsSettings {
        ca_file: ca.map(Path::to_owned),
        ..TlsSettings::default()
    };
    Ok(crate::transport::client_config(&settings)?)
}

/// What a [`CloudClient`] asks of the driver task.
#[derive(Debug)]
enum Command {
    Status(oneshot::Sender<CloudStatus>),
    Reconfigure(CloudSettings),
    Reset,
    Send {
        link: Link,
        message: DeviceMessage,
        answer: oneshot::Sender<Result<(), ReportFailure>>,
    },
    Stop,
}

/// A handle on the driver task: cheap to clone; the task ends with [`Self::stop`] or when
/// the last clone is dropped, closing its links.
#[derive(Clone, Debug)]
pub struct CloudClient {
    commands: mpsc::UnboundedSender<Command>,
}

impl CloudClient {
    /// Spawns the driver task on the current tokio runtime; it starts resolving the domain
    /// at once. The receiver gets the machine's [`Event`]s.
    pub fn spawn(config: DriverConfig) -> (Self, mpsc::UnboundedReceiver<Event>) {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::unbounded_channel();
        let mut rng = rand::make_rng::<rand::rngs::StdRng>();
        let jitter = move || rand::RngExt::random::<f64>(&mut rng);
        let tunnel = Tunnel::new(config.tunnel, jitter, task::now());
        let egress = net::Egress {
            tls: config.tls,
            proxies: config.proxy,
        };
        let driver = task::Driver::new(tunnel, egress, event_tx, config.stats);
        tokio::spawn(driver.run(command_rx));
        (Self { commands }, events)
    }

    /// The status table now (its times taken against `SystemTime::now()`).
    pub async fn status(&self) -> Result<CloudStatus, Stopped> {
        let (answer, status) = oneshot::channel();
        self.command(Command::Status(answer))?;
        status.await.map_err(|_| Stopped)
    }

    /// New settings: a different domain or port reconnects ("Configuration changed").
    pub fn reconfigure(&self, settings: CloudSettings) {
        let _stopped = self.command(Command::Reconfigure(settings));
    }

    /// `cpe cloud reset`: drop the tunnel ("Cloud reset connection") and establish it again.
    pub fn reset(&self) {
        let _stopped = self.command(Command::Reset);
    }

    /// Queues the unbinding request (optType 105) on the main link.
    pub async fn unbind(&self, code: String) -> Result<(), SendRefused> {
        self.send(Link::Main, DeviceMessage::Unbind { code }).await
    }

    /// Queues `message` on `link` (a configuration answer, a connection-request answer, a
    /// report).
    pub async fn send(&self, link: Link, message: DeviceMessage) -> Result<(), SendRefused> {
        let (answer, queued) = oneshot::channel();
        self.command(Command::Send {
            link,
            message,
            answer,
        })?;
        queued
            .await
            .map_err(|_| Stopped)?
            .map_err(SendRefused::Refused)
    }

    /// Stops the driver task: it closes its links and ends.
    pub fn stop(&self) {
        let _stopped = self.command(Command::Stop);
    }

    fn command(&self, command: Command) -> Result<(), Stopped> {
        self.commands.send(command).map_err(|_| Stopped)
    }
}
