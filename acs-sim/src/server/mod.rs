//! The CWMP endpoint (TR-069 Amd 6 §3.4): HTTP and HTTPS listeners on raw hyper, one
//! [`crate::session::Session`] and one [`crate::provision::Provisioner`] per CPE session.
//!
//! A thin async driver around the sans-IO session machine. Per POST (§3.4.1: the CPE is the
//! HTTP client, the ACS answers each POST with its next message):
//!
//! 1. Only `POST` carries CWMP; other methods get `405` with `Allow: POST`. Any path is served.
//! 2. The body is read up to [`crate::acs::AcsConfig::body_limit`]; more gets `413` and ends the
//!    session.
//! 3. The CPE authenticates per [`crate::acs::CpeAuth`] (§3.4.4): `401` with a Basic or Digest
//!    challenge until it does, once per connection or session.
//! 4. The session is found by its cookie (§3.4.1: the CPE returns the ACS's cookies within the
//!    session), else by the connection it runs on (CPEs that keep no cookies). An Inform always
//!    opens a fresh session.
//! 5. On a blocking thread when the work may wait on I/O (the provisioner talks to the store,
//!    transcripts are written), else in place: the session reads the body, the provisioner queues the ACS's
//!    requests, and the answer is `200` with the next envelope
//!    or `204 No Content`, which ends the session (§3.4.6).
//!
//! Sessions silent past their timeout (§3.7.1.5 / `SessionTimeout`) are failed by a reaper, so
//! the provisioner puts the tasks they claimed back in the queue.

mod auth;
mod connection;
mod sessions;
mod transcript;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cpe::net::{self, AcceptLimits};
use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use tokio::net::TcpListener;
use tracing::Instrument as _;

use crate::acs::Acs;
use auth::Authenticator;
use connection::Connection;
use sessions::Sessions;

/// The name of the cookie that carries the session (`Set-Cookie: session=<32 hex>; Path=/`).
pub const COOKIE_NAME: &str = "session";

/// The endpoint's resource bounds; `Default` suits a lab of up to 100 000 CPEs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most open CWMP sessions; a new session beyond it gets `503`.
    pub max_sessions: usize,
    /// Most TCP connections served at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// Time allowed for a request's headers, also while a keep-alive connection is idle.
    pub header_read_timeout: Duration,
    /// Time allowed for a request's body once its headers are in; slower gets `408`.
    pub body_read_timeout: Duration,
    /// Time allowed for the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// How often sessions are checked for their timeout.
    pub reap_interval: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_sessions: 100_000,
            max_connections: 100_000,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            tls_handshake_timeout: Duration::from_secs(10),
            reap_interval: Duration::from_secs(1),
        }
    }
}

/// Serves CWMP on an already-bound listener until `shutdown` resolves, with default
/// [`Limits`]: HTTPS when `tls` is given, else HTTP.
pub async fn serve(
    listener: TcpListener,
    acs: Arc<Acs>,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    Endpoint::new(acs, Limits::default())
        .serve(listener, tls, shutdown)
        .await
}

/// The CWMP endpoint: its session table, shared by every listener it serves.
#[derive(Clone)]
pub struct Endpoint {
    shared: Arc<Shared>,
}

/// What every connection of an [`Endpoint`] shares.
struct Shared {
    acs: Arc<Acs>,
    limits: Limits,
    sessions: Arc<Sessions>,
    auth: Authenticator,
    http: http1::Builder,
    /// Session work may wait on I/O (the store's calls block, or transcripts are written), so
    /// it runs on the blocking pool.
    blocking: bool,
    /// How many [`Endpoint::serve`] calls are running.
    serving: AtomicUsize,
}

impl Endpoint {
    /// An endpoint for `acs` with no session open yet.
    pub fn new(acs: Arc<Acs>, limits: Limits) -> Self {
        let mut http = http1::Builder::new();
        // hyper's header size and count limits stay at their defaults (~400 KiB, 100 fields).
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .keep_alive(true);
        Self {
            shared: Arc::new(Shared {
                sessions: Arc::new(Sessions::new(Arc::clone(&acs), limits.max_sessions)),
                // The Inform path decides: a store whose Informs are in-memory steps (both
                // backends) runs sessions in place. SQLite's task calls then commit on the
                // worker: short, since WAL commits do not fsync (checkpoints run on the store's
                // writer thread). Transcript files are written during the step, so they keep
                // the blocking pool.
                blocking: acs.store.inform_path_blocks() || acs.config.transcripts.is_some(),
                auth: Authenticator::new(&acs.config.auth),
                acs,
                limits,
                http,
                serving: AtomicUsize::new(0),
            }),
        }
    }

    /// Serves CWMP on `listener` until `shutdown` resolves: HTTPS when `tls` is given, else
    /// HTTP. Several listeners may share one endpoint (and so its sessions). On shutdown it
    /// stops accepting, lets each connection finish its request, and, once the last listener
    /// of the endpoint stops, fails the sessions still open so their claimed tasks go back to
    /// the queue.
    pub async fn serve(
        &self,
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let local = listener.local_addr()?;
        let shared = &self.shared;
        shared.serving.fetch_add(1, Ordering::SeqCst);
        let name = if tls.is_some() { "cwmps" } else { "cwmp" };
        let _listening = shared.acs.components().listening(name, local);
        let reaper = tokio::spawn(reap_loop(
            shared.blocking,
            Arc::clone(&shared.sessions),
            shared.limits.reap_interval,
        ));
        cpe::oplog!(ACS_LISTENING, %local, tls = tls.is_some(), "CWMP endpoint listening");
        let tls = tls.map(tokio_rustls::TlsAcceptor::from);
        let limits = AcceptLimits {
            max_connections: shared.limits.max_connections,
            grace: None,
        };
        let open = net::serve(listener, limits, shutdown, |accepted| {
            let peer = accepted.peer;
            let connection = Connection::new(Arc::clone(shared), peer, accepted.stop);
            let tls = tls.clone();
            async move { connection.run(accepted.stream, tls).await }
                .instrument(tracing::debug_span!("cwmp-connection", %peer))
        })
        .await;
        cpe::oplog!(ACS_ACCEPT_STOPPED, %local, open, "CWMP listener stopped accepting");
        reaper.abort();
        if shared.serving.fetch_sub(1, Ordering::SeqCst) == 1 {
            let sessions = Arc::clone(&shared.sessions);
            let ended = run_sync(shared.blocking, move || sessions.end_all(Instant::now())).await;
            cpe::oplog!(ACS_STOPPED, %local, ended = ended.unwrap_or(0), "CWMP endpoint stopped");
        } else {
            cpe::oplog!(ACS_LISTENER_STOPPED, %local, "CWMP listener stopped");
        }
        Ok(())
    }

    /// Fails and forgets the sessions whose timeout passed by `now` (§3.7.1.5), letting their
    /// provisioners release claimed tasks; returns how many. Blocks on the store: call it
    /// from a blocking context. [`Endpoint::serve`] does this every
    /// [`Limits::reap_interval`].
    pub fn reap(&self, now: Instant) -> usize {
        self.shared.sessions.reap(now)
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.shared.sessions.len()
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("limits", &self.shared.limits)
            .field("sessions", &self.shared.sessions.len())
            .finish_non_exhaustive()
    }
}

/// Fails sessions past their timeout, every `every`.
async fn reap_loop(blocking: bool, sessions: Arc<Sessions>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = now();
        let sessions = Arc::clone(&sessions);
        if let Some(reaped) = run_sync(blocking, move || sessions.reap(now)).await
            && reaped > 0
        {
            cpe::oplog!(ACS_SESSIONS_REAPED, reaped, "sessions timed out");
        }
    }
}

/// The session clock: tokio's, so paused-time tests drive it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Runs session work (the provisioner's store calls, transcript writes): on the blocking pool
/// when it may wait on I/O, else in place on the async worker, which spares every POST a hop
/// to another thread and back. `None` (logged) if it panicked.
async fn run_sync<T: Send + 'static>(
    blocking: bool,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    if blocking {
        return match tokio::task::spawn_blocking(work).await {
            Ok(value) => Some(value),
            Err(error) => {
                cpe::oplog!(ACS_WORK_FAILED, %error, "session work failed");
                None
            }
        };
    }
    // The work leaves the session table and each session consistent between its calls (see
    // `sessions`), so what a panic interrupted stays usable, as on the blocking pool.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        Ok(value) => Some(value),
        Err(_) => {
            cpe::oplog!(ACS_WORK_FAILED, "session work panicked");
            None
        }
    }
}
