//! The two servers under test, on `127.0.0.1:0`: acs-sim's CWMP endpoint over a real store,
//! and a bare hyper HTTP/1.1 server answering with fixed bytes (the ceiling).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use acs_sim::acs::{Acs, AcsConfig};
use acs_sim::files::FileStore;
use acs_sim::scenario::Scenario;
use acs_sim::server::{COOKIE_NAME, Endpoint, Limits};
use acs_sim::store::{DeviceFilter, MemoryStore, SqliteStore, Store};
use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use schemas::Envelope;
use schemas::rpc::InformResponse;
use schemas::soap::CwmpNamespace;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Bare hyper, fixed answers.
    Bare,
    /// acs-sim with its default store, SQLite in a file.
    Sqlite,
    /// acs-sim with the in-memory store.
    Memory,
}

impl Kind {
    pub(crate) const ALL: [Self; 3] = [Self::Bare, Self::Sqlite, Self::Memory];

    /// The name on the command line (`--serve-child`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Bare => "bare",
            Self::Sqlite => "sqlite",
            Self::Memory => "memory",
        }
    }

    pub(crate) fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .with_context(|| format!("unknown server {name:?}"))
    }

    /// The row label in the tables.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Bare => "bare hyper, fixed bytes (ceiling)",
            Self::Sqlite => "acs-sim, `SqliteStore` (default)",
            Self::Memory => "acs-sim, `MemoryStore`",
        }
    }
}

/// A server running on loopback until [`Server::stop`].
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    /// acs-sim's endpoint and state; `None` for the bare server.
    acs: Option<(Arc<Acs>, Endpoint)>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `kind` on `127.0.0.1:0` on the current runtime.
    pub(crate) async fn start(kind: Kind) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async {
            let _ = stopped.await;
        };
        let Some(store) = open_store(kind, dir.path())? else {
            let task = tokio::spawn(bare(listener, shutdown));
            return Ok(Self {
                addr,
                acs: None,
                stop,
                task,
                _dir: dir,
            });
        };
        // A session is exactly Inform, InformResponse, empty POST, 204: no credentials
        // provisioning (it would add a SetParameterValues), no scenario, no tasks.
        let mut config = AcsConfig::default();
        config.connreq.provision = false;
        let files = FileStore::new(dir.path().join("files"))?;
        let acs = Acs::new(store, config, Scenario::default(), files);
        let endpoint = Endpoint::new(Arc::clone(&acs), Limits::default());
        let serving = endpoint.clone();
        let task = tokio::spawn(async move { serving.serve(listener, None, shutdown).await });
        Ok(Self {
            addr,
            acs: Some((acs, endpoint)),
            stop,
            task,
            _dir: dir,
        })
    }

    /// Stops the server (its clients gone) and checks what acs-sim holds: no session left
    /// open, `devices` devices in the store.
    pub(crate) async fn stop(self, devices: usize) -> Result<()> {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .context("the server did not stop")???;
        let Some((acs, endpoint)) = self.acs else {
            return Ok(());
        };
        let open = endpoint.session_count();
        if open != 0 {
            bail!("{open} sessions still open after every CPE finished");
        }
        let stored = tokio::task::spawn_blocking(move || acs.store.devices(&DeviceFilter::All))
            .await??
            .len();
        if stored != devices {
            bail!("{stored} devices in the store, expected {devices}");
        }
        Ok(())
    }
}

/// acs-sim's store for `kind`, in `dir`; `None` for the bare server.
pub(crate) fn open_store(kind: Kind, dir: &Path) -> Result<Option<Arc<dyn Store>>> {
    Ok(match kind {
        Kind::Bare => None,
        Kind::Sqlite => Some(Arc::new(SqliteStore::open(dir.join("acs.db"))?)),
        Kind::Memory => Some(Arc::new(MemoryStore::new())),
    })
}

/// What the bare server answers a non-empty POST with: the bytes acs-sim sends for the
/// bench's Inform (same namespace and `cwmp:ID`).
fn inform_response() -> Bytes {
    let mut envelope = Envelope::new(CwmpNamespace::V1_2, InformResponse { max_envelopes: 1 });
    envelope.header.id = Some("1748856600001".into());
    Bytes::from(envelope.write())
}

/// The bare server: the same hyper settings as acs-sim's endpoint (HTTP/1.1 keep-alive,
/// header timeout, `TCP_NODELAY`), each connection a task, each body read whole (with the
/// same limit); a POST with a body gets `200` with [`inform_response`] and a fixed session
/// cookie, an empty POST gets `204`.
async fn bare(listener: TcpListener, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    let limit = AcsConfig::default().body_limit;
    let answer = inform_response();
    let cookie = HeaderValue::try_from(format!("{COOKIE_NAME}={:032x}; Path=/", 0x5e55_1075_u64))
        .expect("ASCII");
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Limits::default().header_read_timeout)
        .keep_alive(true);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => accepted?,
        };
        stream.set_nodelay(true)?;
        let (answer, cookie) = (answer.clone(), cookie.clone());
        let service = service_fn(move |request: Request<Incoming>| {
            let (answer, cookie) = (answer.clone(), cookie.clone());
            async move {
                let body = match Limited::new(request.into_body(), limit).collect().await {
                    Ok(body) => body.to_bytes(),
                    Err(_) => return Ok::<_, Infallible>(status(StatusCode::BAD_REQUEST)),
                };
                if body.is_empty() {
                    return Ok(status(StatusCode::NO_CONTENT));
                }
                let mut response = Response::new(Full::new(answer));
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/xml; charset=\"utf-8\""),
                );
                headers.insert(header::SET_COOKIE, cookie);
                Ok(response)
            }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        tokio::spawn(connection);
    }
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}
