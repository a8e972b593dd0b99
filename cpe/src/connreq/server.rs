//! The HTTP side of the Connection Request server (TR-069 Amd 6 §3.2.2): a hyper HTTP/1.1
//! server that answers `GET <path>` and drives the [`DigestVerifier`], the rate limit and the
//! [`Notifier`].

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Empty;
use hyper::body::{Body as _, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rand::rngs::{StdRng, SysRng};
use rand::{CryptoRng, SeedableRng};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tracing::{Instrument as _, debug, debug_span};

use crate::net::{self, AcceptLimits};

use super::digest::{
    AuthRequest, Challenge, DEFAULT_MAX_NONCES, DEFAULT_NONCE_LIFETIME, DEFAULT_REALM,
    DigestConfig, DigestVerifier, Rejection,
};
use super::rate::{RateLimit, RateLimiter};
use super::signal::Notifier;
use super::{Clock, CredentialSource, Error, TokioClock};

/// The usual CWMP port, where a CPE listens for Connection Requests by default (TR-069 Amd 6
/// §3.2.2; the port is part of `ConnectionRequestURL`).
pub const DEFAULT_PORT: u16 = 7547;

/// Settings of the Connection Request server (TR-069 Amd 6 §3.2.2). `Default` gives a server
/// on `0.0.0.0:7547` with a random path, Digest only, and 5 accepted requests per minute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Where to listen. TR-069 Amd 6 §3.2.2: requests are accepted from any source address.
    pub listen: SocketAddr,
    /// The path of `ConnectionRequestURL` (`/…`, letters, digits and `-._~/` only). `None`
    /// draws `/cr-<32 hex digits>` from the server's RNG: TR-069 says the path SHOULD be random
    /// and unique per CPE. The agent persists [`ConnectionRequestServer::path`] and passes it
    /// back here, so the URL the ACS knows survives a reboot.
    pub path: Option<String>,
    /// The Digest realm (printable ASCII, 1-128 bytes).
    pub realm: String,
    /// Whether `Authorization: Basic` is accepted besides Digest. TR-069 Amd 6 §3.2.2 requires
    /// Digest, and over plain HTTP Basic exposes the password, so this is off by default.
    pub allow_basic: bool,
    /// How long a nonce is accepted before a correct answer gets `stale=true`.
    pub nonce_lifetime: Duration,
    /// Most outstanding nonces; each unauthenticated request issues one and the oldest is
    /// evicted, so failed-auth floods cannot grow memory.
    pub max_nonces: usize,
    /// The TR-069 rate limit: requests beyond it get 503 without `Retry-After`.
    pub rate_limit: RateLimit,
    /// Most connections served at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// Most requests on one keep-alive connection (the 401 then the authenticated retry
    /// usually share one); the last response says `Connection: close`.
    pub max_requests_per_connection: u32,
    /// Time allowed to send a request's headers, also while idle between requests; a slow
    /// client is then disconnected.
    pub header_read_timeout: Duration,
    /// Longest life of one connection, whatever it does.
    pub connection_timeout: Duration,
    /// Most request header fields.
    pub max_headers: usize,
    /// Most bytes of request line plus headers.
    pub max_header_size: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, DEFAULT_PORT)),
            path: None,
            realm: DEFAULT_REALM.to_owned(),
            allow_basic: false,
            nonce_lifetime: DEFAULT_NONCE_LIFETIME,
            max_nonces: DEFAULT_MAX_NONCES,
            rate_limit: RateLimit::default(),
            max_connections: 16,
            max_requests_per_connection: 4,
            header_read_timeout: Duration::from_secs(10),
            connection_timeout: Duration::from_secs(30),
            max_headers: 32,
            max_header_size: 8 * 1024,
        }
    }
}

impl ServerConfig {
    fn validate(&self) -> Result<(), Error> {
        let invalid = |field, reason| Err(Error::InvalidConfig { field, reason });
        if self.path.as_deref().is_some_and(|path| !valid_path(path)) {
            return invalid("path", "must be `/` then up to 255 of `A-Za-z0-9-._~/`");
        }
        if self.realm.is_empty()
            || self.realm.len() > 128
            || !self.realm.bytes().all(|b| (0x20..0x7f).contains(&b))
        {
            return invalid("realm", "must be 1-128 printable ASCII characters");
        }
        if self.nonce_lifetime.is_zero() {
            return invalid("nonce_lifetime", "must be more than zero");
        }
        if self.max_nonces == 0 {
            return invalid("max_nonces", "must be at least 1");
        }
        if self.rate_limit.max_requests == 0 || self.rate_limit.window.is_zero() {
            return invalid("rate_limit", "needs at least 1 request per non-zero window");
        }
        if self.max_connections == 0 || self.max_connections > Semaphore::MAX_PERMITS {
            return invalid("max_connections", "must be at least 1");
        }
        if self.max_requests_per_connection == 0 {
            return invalid("max_requests_per_connection", "must be at least 1");
        }
        if self.header_read_timeout.is_zero() || self.connection_timeout.is_zero() {
            return invalid("header_read_timeout", "timeouts must be more than zero");
        }
        if self.max_headers == 0 || self.max_header_size < 256 {
            return invalid(
                "max_header_size",
                "headers need at least 1 field and 256 bytes",
            );
        }
        Ok(())
    }
}

fn valid_path(path: &str) -> bool {
    path.len() <= 256
        && path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b))
}

/// Builds a [`ConnectionRequestServer`] (TR-069 Amd 6 §3.2.2), with the clock and the RNG
/// replaceable for tests.
pub struct ServerBuilder {
    config: ServerConfig,
    clock: Arc<dyn Clock>,
    rng: Option<Box<dyn CryptoRng + Send>>,
}

impl ServerBuilder {
    /// Uses `clock` for nonce expiry and the rate-limit window instead of [`TokioClock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Draws nonces, `opaque` and the default path from `rng` instead of a generator seeded
    /// by the operating system.
    pub fn rng(mut self, rng: impl CryptoRng + Send + 'static) -> Self {
        self.rng = Some(Box::new(rng));
        self
    }

    /// Checks the settings, binds the listening socket and returns the server, ready to
    /// [`serve`](ConnectionRequestServer::serve). Each accepted request calls
    /// `notifier.notify()`; credentials are read from `credentials` on every request.
    pub async fn bind(
        self,
        credentials: CredentialSource,
        notifier: Notifier,
    ) -> Result<ConnectionRequestServer, Error> {
        let config = self.config;
        config.validate()?;
        let mut rng: Box<dyn CryptoRng + Send> = match self.rng {
            Some(rng) => rng,
            None => Box::new(StdRng::try_from_rng(&mut SysRng).map_err(Error::Entropy)?),
        };
        let path = match &config.path {
            Some(path) => path.clone(),
            None => {
                let mut bytes = [0u8; 16];
                rng.fill_bytes(&mut bytes);
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                format!("/cr-{hex}")
            }
        };
        let verifier = DigestVerifier::new(
            DigestConfig {
                realm: config.realm.clone(),
                nonce_lifetime: config.nonce_lifetime,
                max_nonces: config.max_nonces,
                allow_basic: config.allow_basic,
            },
            &mut *rng,
        );
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: config.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(Error::LocalAddr)?;

        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(config.header_read_timeout)
            .max_headers(config.max_headers)
            .max_header_size(config.max_header_size)
            // hyper refuses (panics on) buffers under 8 KiB.
            .max_buf_size(config.max_header_size.saturating_mul(2).max(8 * 1024))
            .keep_alive(true);

        crate::oplog!(CONNREQ_LISTENING, %local_addr, %path, "Connection Request server listening");
        Ok(ConnectionRequestServer {
            listener,
            local_addr,
            http,
            max_connections: config.max_connections,
            connection_timeout: config.connection_timeout,
            shared: Arc::new(Shared {
                path,
                credentials,
                clock: self.clock,
                notifier,
                max_requests_per_connection: config.max_requests_per_connection,
                state: Mutex::new(State {
                    verifier,
                    limiter: RateLimiter::new(config.rate_limit),
                    rng,
                }),
                counters: Counters::default(),
                warned_unconfigured: AtomicBool::new(false),
                warned_rate_limited: AtomicBool::new(false),
            }),
        })
    }
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The Connection Request server (TR-069 Amd 6 §3.2.2), bound and ready to serve.
///
/// Per request, in order: a path other than the configured one gets 404; a method other than
/// `GET` gets 405; no configured credentials get 503; missing or wrong credentials get 401 with
/// a fresh Digest challenge (`stale=true` when only the nonce had expired); past the rate
/// limit, 503 without `Retry-After`; otherwise `200 OK` with an empty body and
/// `Connection: close`, and once that response is written and the connection closed, the
/// [`Notifier`] fires. A request body is never read.
#[derive(Debug)]
pub struct ConnectionRequestServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    http: http1::Builder,
    max_connections: usize,
    connection_timeout: Duration,
    shared: Arc<Shared>,
}

impl ConnectionRequestServer {
    /// Starts building a server with `config`.
    pub fn builder(config: ServerConfig) -> ServerBuilder {
        ServerBuilder {
            config,
            clock: Arc::new(TokioClock),
            rng: None,
        }
    }

    /// The bound address (with the real port when the configured one was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The path answered, as published in `ConnectionRequestURL` (TR-069 Amd 6 §3.2.2).
    pub fn path(&self) -> &str {
        &self.shared.path
    }

    /// A handle that reads the server's counters while it runs.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Serves until `shutdown` resolves, then stops accepting (the port closes), lets each
    /// open connection finish the request it is on (idle keep-alive connections close at
    /// once), and returns when all are done.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let Self {
            listener,
            local_addr,
            http,
            max_connections,
            connection_timeout,
            shared,
        } = self;
        let limits = AcceptLimits {
            max_connections,
            grace: None,
        };
        let open = net::serve(listener, limits, shutdown, |accepted| {
            shared.counters.connections.fetch_add(1, Ordering::Relaxed);
            shared.counters.open.fetch_add(1, Ordering::Relaxed);
            let peer = accepted.peer;
            let connection = Connection {
                shared: Arc::clone(&shared),
                http: http.clone(),
                timeout: connection_timeout,
                stop: accepted.stop,
            };
            connection
                .run(accepted.stream, peer)
                .instrument(debug_span!("connreq", %peer))
        })
        .await;
        crate::oplog!(CONNREQ_STOPPED, %local_addr, open, "Connection Request server stopped");
    }
}

/// Reads a running server's counters (TR-069 Amd 6 §3.2.2 diagnostics).
#[derive(Clone, Debug)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl ServerHandle {
    /// A snapshot of the counters.
    pub fn stats(&self) -> ServerStats {
        let c = &self.shared.counters;
        let nonces = self.shared.lock().verifier.nonce_count();
        ServerStats {
            connections: c.connections.load(Ordering::Relaxed),
            open_connections: c.open.load(Ordering::Relaxed),
            accepted: c.accepted.load(Ordering::Relaxed),
            unauthorized: c.unauthorized.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            unconfigured: c.unconfigured.load(Ordering::Relaxed),
            not_found: c.not_found.load(Ordering::Relaxed),
            method_not_allowed: c.method_not_allowed.load(Ordering::Relaxed),
            nonces,
        }
    }
}

/// Counters of a [`ConnectionRequestServer`] since it was bound, one per outcome of TR-069
/// Amd 6 §3.2.2.2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// TCP connections accepted.
    pub connections: u64,
    /// Connections open now.
    pub open_connections: usize,
    /// Requests answered 200 (each one signalled the agent).
    pub accepted: u64,
    /// Requests answered 401.
    pub unauthorized: u64,
    /// Authenticated requests answered 503 by the rate limit.
    pub rate_limited: u64,
    /// Requests answered 503 because no credentials are configured.
    pub unconfigured: u64,
    /// Requests answered 404.
    pub not_found: u64,
    /// Requests answered 405.
    pub method_not_allowed: u64,
    /// Nonces remembered now (at most [`ServerConfig::max_nonces`]).
    pub nonces: usize,
}

struct Shared {
    path: String,
    credentials: CredentialSource,
    clock: Arc<dyn Clock>,
    notifier: Notifier,
    max_requests_per_connection: u32,
    state: Mutex<State>,
    counters: Counters,
    /// Set once "no credentials" was logged; cleared when credentials appear.
    warned_unconfigured: AtomicBool,
    /// Set once "rate limited" was logged; cleared when a request is accepted again.
    warned_rate_limited: AtomicBool,
}

struct State {
    verifier: DigestVerifier,
    limiter: RateLimiter,
    rng: Box<dyn CryptoRng + Send>,
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    open: AtomicUsize,
    accepted: AtomicU64,
    unauthorized: AtomicU64,
    rate_limited: AtomicU64,
    unconfigured: AtomicU64,
    not_found: AtomicU64,
    method_not_allowed: AtomicU64,
}

/// What to answer a request with.
enum Outcome {
    Accepted,
    MethodNotAllowed,
    NotFound,
    RateLimited,
    Unauthorized(Challenge),
    Unconfigured,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update is one call.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn decide(&self, request: &Request<Incoming>, peer: SocketAddr) -> Outcome {
        if request.uri().path() != self.path {
            return Outcome::NotFound;
        }
        if request.method() != Method::GET {
            return Outcome::MethodNotAllowed;
        }
        let Some(credentials) = self.credentials.current() else {
            if !self.warned_unconfigured.swap(true, Ordering::Relaxed) {
                crate::oplog!(
                    CONNREQ_UNCONFIGURED,
                    %peer,
                    "refusing Connection Requests with 503: ConnectionRequestUsername/Password \
                     are not configured (logged once until they are)"
                );
            }
            return Outcome::Unconfigured;
        };
        self.warned_unconfigured.store(false, Ordering::Relaxed);

        let mut authorizations = request.headers().get_all(header::AUTHORIZATION).iter();
        let authorization = match (authorizations.next(), authorizations.next()) {
            (None, _) => None,
            // Several Authorization fields, or one that is not text, are refused as malformed.
            (Some(value), None) => Some(value.to_str().unwrap_or_default()),
            (Some(_), Some(_)) => Some(""),
        };
        let target = request.uri().to_string();
        let auth = AuthRequest {
            method: request.method().as_str(),
            uri: &target,
            authorization,
        };
        let now = self.clock.now();
        let mut state = self.lock();
        let verdict = state.verifier.verify(&auth, now, |user| {
            (user == credentials.username()).then(|| credentials.password().to_owned())
        });
        match verdict {
            Err(rejection) => {
                if rejection != Rejection::Missing {
                    debug!(%peer, %rejection, "Connection Request not authenticated");
                }
                let State { verifier, rng, .. } = &mut *state;
                Outcome::Unauthorized(verifier.challenge(&mut **rng, now, rejection.is_stale()))
            }
            Ok(_) if !state.limiter.try_acquire(now) => {
                if !self.warned_rate_limited.swap(true, Ordering::Relaxed) {
                    crate::oplog!(CONNREQ_RATE_LIMITED, %peer, "Connection Request rate limit reached; answering 503");
                }
                Outcome::RateLimited
            }
            Ok(user) => {
                self.warned_rate_limited.store(false, Ordering::Relaxed);
                crate::oplog!(CONNREQ_ACCEPTED, %peer, user = %user.username, "Connection Request accepted");
                Outcome::Accepted
            }
        }
    }

    fn respond(
        &self,
        request: &Request<Incoming>,
        connection: &ConnectionState,
    ) -> Response<Empty<Bytes>> {
        let number = connection
            .requests
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        let outcome = self.decide(request, connection.peer);
        let counter = match &outcome {
            Outcome::Accepted => &self.counters.accepted,
            Outcome::MethodNotAllowed => &self.counters.method_not_allowed,
            Outcome::NotFound => &self.counters.not_found,
            Outcome::RateLimited => &self.counters.rate_limited,
            Outcome::Unauthorized(_) => &self.counters.unauthorized,
            Outcome::Unconfigured => &self.counters.unconfigured,
        };
        counter.fetch_add(1, Ordering::Relaxed);

        let mut response = Response::new(Empty::new());
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        // Only a 401 keeps the connection, for the authenticated retry; an unread request body
        // also ends it, since the body is never read.
        let mut close =
            !request.body().is_end_stream() || number >= self.max_requests_per_connection;
        let status = match outcome {
            Outcome::Accepted => {
                connection.accepted.store(true, Ordering::Release);
                close = true;
                StatusCode::OK
            }
            Outcome::MethodNotAllowed => {
                headers.insert(header::ALLOW, HeaderValue::from_static("GET"));
                close = true;
                StatusCode::METHOD_NOT_ALLOWED
            }
            Outcome::NotFound => {
                close = true;
                StatusCode::NOT_FOUND
            }
            // TR-069 Amd 6 §3.2.2: 503, and no Retry-After.
            Outcome::RateLimited | Outcome::Unconfigured => {
                close = true;
                StatusCode::SERVICE_UNAVAILABLE
            }
            Outcome::Unauthorized(challenge) => {
                let digest = HeaderValue::try_from(challenge.digest_header());
                let basic = challenge
                    .basic_header()
                    .map(HeaderValue::try_from)
                    .transpose();
                match (digest, basic) {
                    (Ok(digest), Ok(basic)) => {
                        headers.append(header::WWW_AUTHENTICATE, digest);
                        if let Some(basic) = basic {
                            headers.append(header::WWW_AUTHENTICATE, basic);
                        }
                        StatusCode::UNAUTHORIZED
                    }
                    // The realm is checked at bind time and nonces are hex, so this is
                    // unreachable; answer rather than panic.
                    _ => {
                        crate::oplog!(
                            CONNREQ_CHALLENGE_FAILED,
                            "cannot encode the Digest challenge"
                        );
                        close = true;
                        StatusCode::INTERNAL_SERVER_ERROR
                    }
                }
            }
        };
        if close {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        *response.status_mut() = status;
        debug!(status = status.as_u16(), request = number, "answered");
        response
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("path", &self.path)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// Per-connection facts the service shares with the connection task.
struct ConnectionState {
    peer: SocketAddr,
    requests: AtomicU32,
    accepted: AtomicBool,
}

/// One accepted TCP connection (its task holds one of the `max_connections` slots).
struct Connection {
    shared: Arc<Shared>,
    http: http1::Builder,
    timeout: Duration,
    stop: watch::Receiver<bool>,
}

impl Connection {
    async fn run(mut self, stream: TcpStream, peer: SocketAddr) {
        let state = Arc::new(ConnectionState {
            peer,
            requests: AtomicU32::new(0),
            accepted: AtomicBool::new(false),
        });
        let service = {
            let shared = Arc::clone(&self.shared);
            let state = Arc::clone(&state);
            service_fn(move |request| {
                let response = shared.respond(&request, &state);
                async move { Ok::<_, Infallible>(response) }
            })
        };
        let connection = self.http.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);
        let mut stopping = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        debug!(error = %e, "connection ended with an error");
                    }
                    break;
                }
                _ = self.stop.wait_for(|&stop| stop), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
                () = &mut deadline => {
                    debug!("connection closed: lifetime exceeded");
                    break;
                }
            }
        }
        self.shared.counters.open.fetch_sub(1, Ordering::Relaxed);
        // TR-069 Amd 6 §3.2.2: the 200 goes out first, the session opens after; the response
        // is flushed and the connection closed by now.
        if state.accepted.load(Ordering::Acquire) {
            self.shared.notifier.notify();
        }
    }
}
