//! The cloud-management server simulator: the far end of the tunnel of [`schemas::tunnel`]
//! (PROTOCOL.md §4.3, ARCHITECTURE.md "Cloud-management tunnel"), for labs and tests.
//!
//! One TLS listener (HTTP/1.1) serves everything:
//!
//! | Path | What | Source |
//! |---|---|---|
//! | `GET /v3/base/userauth` | step 1: [`CasInfo`](schemas::tunnel::CasInfo), the CAS URL is this server's | §4.3 |
//! | `POST /v1/tickets` | step 2: a TGT for any user name; a registered serial's password must be its secret (else `401`) | §4.3 (CAS REST) |
//! | `POST /v1/tickets/{tgt}` | step 3: a service ticket, as text; the TGT is spent | §4.3 (CAS REST) |
//! | `GET /v3/base/userauth?ticket=` | step 4: the session id, or the refusal `{"retCode","reason"}` for a serial not in the registry, an unbound one, or under [`Faults::refuse_auth`] | §4.3; refusal ours |
//! | `POST /v3/base/register` | step 5: the main link's `wsUrl` | step §4.3; body ours |
//! | `GET /v3/tunnel/base` | the main link's WebSocket (cookie `JSESSIONID` = a live session id, else `401`) | ours |
//! | `GET /v3/tunnel/{cloudModName}` | a sub-link's WebSocket, one per offered micro-service | ours |
//! | `/api/devices...` | the REST API of [`rest`] | ours |
//!
//! URLs handed out (`cas_url`, the TGT URL, `wsUrl`, sub-link URLs) are built from the
//! request's `Host`, so a device that reaches the server as `127.0.0.1:PORT` or
//! `localhost:PORT` is sent back to the same origin.
//!
//! On the links, device frames are read strictly by
//! [`DeviceFrame::decode`](schemas::tunnel::DeviceFrame::decode); a refused frame (or one whose
//! link key is not this link's) is counted in [`DeviceView::bad_frames`] and the link stays
//! up. optTypes 1 and 2 are answered as §4.3 describes; 101-105 as [`schemas::tunnel`] defines
//! them (this project's).
//!
//! Tickets are single-use and expire after [`CloudLimits::ticket_ttl`]; a device has at most
//! one session, which lives while its main link is up, or [`CloudLimits::session_ttl`] after
//! authentication until then. Everything is bounded by [`CloudLimits`].

mod device;
mod http;
mod link;
pub mod rest;
mod state;
mod tickets;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cpe::net::{self, AcceptLimits};
use tokio::net::TcpListener;
use tracing::Instrument as _;

pub use device::{DeviceView, Faults};
pub use http::{SESSION_COOKIE, TUNNEL_PATH};
pub use state::{Cloud, CloudError, CloudEvent, CloudEventKind};
pub use tls::{LabCertificate, TlsError, lab_certificate, load_tls};

/// The micro-services offered when none are configured.
pub const DEFAULT_SERVICES: [&str; 3] = ["confmgr", "stamgr", "devmgr"];
/// The listen address when none is configured.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

/// What the server is built from.
#[derive(Clone, Debug)]
pub struct CloudConfig {
    /// Where to listen; default [`DEFAULT_LISTEN`].
    pub listen: SocketAddr,
    /// The server's certificate and key.
    pub tls: Arc<rustls::ServerConfig>,
    /// The micro-services offered (`cloudModName`), in the order the optType 102 answer lists
    /// them; default [`DEFAULT_SERVICES`].
    pub services: Vec<String>,
    /// Resource bounds and timeouts.
    pub limits: CloudLimits,
}

impl CloudConfig {
    /// The defaults around `tls`.
    pub fn new(tls: Arc<rustls::ServerConfig>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            tls,
            services: DEFAULT_SERVICES.map(str::to_owned).to_vec(),
            limits: CloudLimits::default(),
        }
    }
}

/// The server's bounds; `Default` suits a lab of a few thousand devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudLimits {
    /// Most serials in the registry.
    pub max_devices: usize,
    /// Most TCP connections served at once (HTTP steps, REST, WebSocket upgrades); further
    /// clients wait in the listen backlog.
    pub max_connections: usize,
    /// Most WebSocket links open at once; an upgrade beyond it gets `503`.
    pub max_links: usize,
    /// Most tickets (TGTs and service tickets) outstanding; beyond it the CAS answers `503`.
    pub max_tickets: usize,
    /// Most configuration pushes and connection requests waiting on one device.
    pub max_pending: usize,
    /// Time allowed for the TLS handshake, and for a new link to register (optType 1).
    pub handshake_timeout: Duration,
    /// Time allowed for a request's headers, also while a keep-alive connection is idle.
    pub header_read_timeout: Duration,
    /// A registered link that sends nothing for this long is closed (the device's keepalive
    /// is at most 600 s).
    pub idle_timeout: Duration,
    /// How long a TGT or service ticket stays usable.
    pub ticket_ttl: Duration,
    /// How long a session id stays usable before its main link comes up.
    pub session_ttl: Duration,
    /// The largest HTTP request body read (steps and REST); larger gets `413`.
    pub body_limit: usize,
}

impl Default for CloudLimits {
    fn default() -> Self {
        Self {
            max_devices: 10_000,
            max_connections: 10_000,
            max_links: 40_000,
            max_tickets: 10_000,
            max_pending: 64,
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(3 * 600 + 60),
            ticket_ttl: Duration::from_secs(60),
            session_ttl: Duration::from_secs(120),
            body_limit: schemas::tunnel::MAX_FRAME,
        }
    }
}

/// A bound cloud server, not yet serving.
pub struct CloudServer {
    listener: TcpListener,
    local: SocketAddr,
    tls: tokio_rustls::TlsAcceptor,
    cloud: Cloud,
}

impl CloudServer {
    /// Binds [`CloudConfig::listen`].
    pub async fn bind(config: CloudConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.listen).await?;
        let local = listener.local_addr()?;
        Ok(Self {
            listener,
            local,
            tls: tokio_rustls::TlsAcceptor::from(config.tls),
            cloud: Cloud::new(config.services, config.limits),
        })
    }

    /// The address bound (with the port the system chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The shared state: registry, operations, fault injection, events.
    pub fn handle(&self) -> Cloud {
        self.cloud.clone()
    }

    /// Serves until `shutdown` resolves; then stops accepting, closes every link with a close
    /// frame and lets open requests finish.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let Self {
            listener,
            local,
            tls,
            cloud,
        } = self;
        cpe::oplog!(CLOUDSRV_LISTENING, %local, "cloud server listening");
        let limits = AcceptLimits {
            max_connections: cloud.limits().max_connections,
            grace: Some(cloud.limits().handshake_timeout),
        };
        let router = http::router(cloud.clone());
        let cloud_limits = cloud.limits();
        net::serve(listener, limits, shutdown, |accepted| {
            let peer = accepted.peer;
            http::connection(router.clone(), cloud_limits.clone(), tls.clone(), accepted)
                .instrument(tracing::debug_span!("cloud-connection", %peer))
        })
        .await;
        cloud.stop_links();
        cpe::oplog!(CLOUDSRV_STOPPED, %local, "cloud server stopped");
    }
}

impl std::fmt::Debug for CloudServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudServer")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}
