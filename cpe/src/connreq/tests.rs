//! Loopback tests of the Connection Request server (TR-069 Amd 6 §3.2.2), speaking raw
//! HTTP/1.1 bytes so that wire-level mistakes show, and answering challenges with the
//! `http-auth` client as an ACS would.

use std::io::{ErrorKind, Read as _};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_auth::{PasswordClient, PasswordParams};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::signal::{self, Waiter};
use super::*;

const USER: &str = "acs";
const PASS: &str = "0GPsylN1aKx14RBHOGa1BThUAokGQJ";
const PATH: &str = "/cr-0123456789abcdef";

/// Guards every wait, so a regression fails instead of hanging; never reached when passing.
const GUARD: Duration = Duration::from_secs(20);

#[derive(Clone)]
struct ManualClock(Arc<Mutex<Instant>>);

impl ManualClock {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(Instant::now())))
    }

    fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }
}

struct Harness {
    addr: SocketAddr,
    clock: ManualClock,
    credentials: watch::Sender<Option<Credentials>>,
    waiter: Waiter,
    handle: ServerHandle,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Harness {
    async fn start(tweak: impl FnOnce(&mut ServerConfig)) -> Self {
        let mut config = ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            path: Some(PATH.to_owned()),
            ..ServerConfig::default()
        };
        tweak(&mut config);
        let (credentials, rx) = watch::channel(Some(Credentials::new(USER, PASS)));
        let (notifier, waiter) = signal::channel();
        let clock = ManualClock::new();
        let server = ConnectionRequestServer::builder(config)
            .clock(clock.clone())
            .rng(StdRng::seed_from_u64(42))
            .bind(rx.into(), notifier)
            .await
            .expect("bind");
        let addr = server.local_addr();
        let handle = server.handle();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server.serve(async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            clock,
            credentials,
            waiter,
            handle,
            stop,
            task,
        }
    }

    /// Stops the server and waits until every connection is done, so every signal the server
    /// will ever send has been sent.
    async fn stop(self) -> (Waiter, ServerStats) {
        let stats_handle = self.handle.clone();
        let _ = self.stop.send(());
        guard(self.task).await.expect("serve task");
        (self.waiter, stats_handle.stats())
    }

    async fn wakeup(&mut self) -> signal::Wakeup {
        guard(self.waiter.wait()).await.expect("a wakeup")
    }
}

async fn guard<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(GUARD, f)
        .await
        .expect("timed out: the server did not answer")
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn challenge(&self) -> &str {
        assert_eq!(self.status, 401, "{self:?}");
        self.header("www-authenticate").expect("a challenge")
    }

    fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// Parses one response out of `bytes`; `None` if incomplete.
fn parse_reply(bytes: &[u8]) -> Option<(Reply, usize)> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&bytes[..end]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').expect("header line");
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().expect("content-length"));
    if bytes.len() < end + length {
        return None;
    }
    let body = bytes[end..end + length].to_vec();
    Some((
        Reply {
            status,
            headers,
            body,
        },
        end + length,
    ))
}

async fn read_reply(stream: &mut TcpStream) -> Reply {
    let mut buf = Vec::new();
    loop {
        if let Some((reply, used)) = parse_reply(&buf) {
            assert_eq!(used, buf.len(), "unexpected bytes after the response");
            return reply;
        }
        let n = guard(stream.read_buf(&mut buf)).await.expect("read");
        assert!(n > 0, "connection closed mid-response: {buf:?}");
    }
}

/// Reads until the server closes the connection.
async fn expect_eof(stream: &mut TcpStream) {
    let mut rest = Vec::new();
    guard(stream.read_to_end(&mut rest))
        .await
        .expect("read to end");
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
}

fn request(method: &str, path: &str, authorization: Option<&str>) -> String {
    let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:7547\r\n{auth}\r\n")
}

async fn send_on(stream: &mut TcpStream, raw: &str) -> Reply {
    stream.write_all(raw.as_bytes()).await.expect("write");
    read_reply(stream).await
}

/// One request on a fresh connection.
async fn send(addr: SocketAddr, raw: &str) -> Reply {
    let mut stream = guard(TcpStream::connect(addr)).await.expect("connect");
    send_on(&mut stream, raw).await
}

fn answer(challenge: &str, user: &str, pass: &str) -> String {
    let mut client = PasswordClient::try_from(challenge).expect("parsable challenge");
    client
        .respond(&PasswordParams {
            username: user,
            password: pass,
            uri: PATH,
            method: "GET",
            body: None,
        })
        .expect("digest response")
}

/// The usual ACS exchange on one connection: GET, 401, GET with Digest.
async fn connection_request(addr: SocketAddr, user: &str, pass: &str) -> (Reply, TcpStream) {
    let mut stream = guard(TcpStream::connect(addr)).await.expect("connect");
    let first = send_on(&mut stream, &request("GET", PATH, None)).await;
    assert!(!first.closes(), "a 401 keeps the connection for the retry");
    let auth = answer(first.challenge(), user, pass);
    let second = send_on(&mut stream, &request("GET", PATH, Some(&auth))).await;
    (second, stream)
}

fn assert_ok_empty(reply: &Reply) {
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.is_empty());
    assert_eq!(reply.header("content-length"), Some("0"));
    assert!(reply.closes());
}

#[tokio::test]
async fn wrong_credentials_get_401_and_no_signal() {
    let mut h = Harness::start(|_| {}).await;
    let (wrong_pass, _s) = connection_request(h.addr, USER, "guess").await;
    let challenge = wrong_pass.challenge();
    assert!(challenge.starts_with("Digest realm=\"cpe\", qop=\"auth\", algorithm=MD5"));
    assert!(!challenge.contains("stale=true"));
    let (wrong_user, _s) = connection_request(h.addr, "mallory", PASS).await;
    assert_eq!(wrong_user.status, 401);
    assert_eq!(h.waiter.try_take(), None);

    let (mut waiter, stats) = h.stop().await;
    assert_eq!(
        waiter.try_take(),
        None,
        "a failed request must not open a session"
    );
    assert_eq!(stats.accepted, 0);
    assert_eq!(stats.unauthorized, 4);
}

#[tokio::test]
async fn right_credentials_get_200_before_exactly_one_signal() {
    let mut h = Harness::start(|_| {}).await;
    let mut stream = guard(TcpStream::connect(h.addr)).await.unwrap();
    let first = send_on(&mut stream, &request("GET", PATH, None)).await;
    let auth = answer(first.challenge(), USER, PASS);
    stream
        .write_all(request("GET", PATH, Some(&auth)).as_bytes())
        .await
        .unwrap();

    // Do not read the reply yet: wait for the agent's signal first. When the signal is
    // observable, the whole 200 and the close must already sit in our receive buffer.
    let wakeup = h.wakeup().await;
    assert_eq!(wakeup.requests(), 1);
    assert_eq!(wakeup.event_code().as_str(), "6 CONNECTION REQUEST");
    let mut std_stream = stream.into_std().unwrap();
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match std_stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                panic!("signal observable before the response arrived: got {bytes:?}")
            }
            Err(e) => panic!("{e}"),
        }
    }
    let (reply, used) = parse_reply(&bytes).expect("a whole response");
    assert_eq!(used, bytes.len());
    assert_ok_empty(&reply);
    assert!(reply.header("retry-after").is_none());

    assert_eq!(h.waiter.try_take(), None);
    let (mut waiter, stats) = h.stop().await;
    assert_eq!(waiter.try_take(), None, "exactly one signal");
    assert_eq!(stats.accepted, 1);
    assert_eq!(stats.open_connections, 0);
}

#[tokio::test]
async fn stale_nonce_gets_stale_true_then_succeeds() {
    let mut h = Harness::start(|c| c.nonce_lifetime = Duration::from_secs(30)).await;
    let mut stream = guard(TcpStream::connect(h.addr)).await.unwrap();
    let first = send_on(&mut stream, &request("GET", PATH, None)).await;
    let auth = answer(first.challenge(), USER, PASS);
    h.clock.advance(Duration::from_secs(31));
    let stale = send_on(&mut stream, &request("GET", PATH, Some(&auth))).await;
    assert!(stale.challenge().ends_with(", stale=true"), "{stale:?}");
    assert_ne!(stale.challenge(), first.challenge());

    let retry = answer(stale.challenge(), USER, PASS);
    let ok = send_on(&mut stream, &request("GET", PATH, Some(&retry))).await;
    assert_ok_empty(&ok);
    assert_eq!(h.wakeup().await.requests(), 1);
    let (mut waiter, _) = h.stop().await;
    assert_eq!(waiter.try_take(), None);
}

#[tokio::test]
async fn replayed_nonce_count_is_refused() {
    let mut h = Harness::start(|_| {}).await;
    let first = send(h.addr, &request("GET", PATH, None)).await;
    let auth = answer(first.challenge(), USER, PASS);
    let ok = send(h.addr, &request("GET", PATH, Some(&auth))).await;
    assert_ok_empty(&ok);
    let replay = send(h.addr, &request("GET", PATH, Some(&auth))).await;
    assert!(!replay.challenge().contains("stale=true"));
    assert_eq!(h.wakeup().await.requests(), 1);

    let (mut waiter, stats) = h.stop().await;
    assert_eq!(waiter.try_take(), None, "the replay opened no session");
    assert_eq!((stats.accepted, stats.unauthorized), (1, 2));
}

#[tokio::test]
async fn basic_is_refused_unless_enabled() {
    let h = Harness::start(|_| {}).await;
    let basic = http_auth::basic::encode_credentials(USER, PASS);
    let reply = send(h.addr, &request("GET", PATH, Some(&basic))).await;
    assert_eq!(reply.status, 401);
    let offered = reply.headers_named("www-authenticate");
    assert_eq!(offered.len(), 1, "Digest only: {offered:?}");
    assert!(offered[0].starts_with("Digest "));
    let (mut waiter, stats) = h.stop().await;
    assert_eq!(waiter.try_take(), None);
    assert_eq!(stats.accepted, 0);
}

#[tokio::test]
async fn basic_is_accepted_when_enabled() {
    let mut h = Harness::start(|c| c.allow_basic = true).await;
    let challenge = send(h.addr, &request("GET", PATH, None)).await;
    let offered = challenge.headers_named("www-authenticate");
    assert_eq!(offered.len(), 2, "{offered:?}");
    assert!(offered[0].starts_with("Digest "));
    assert_eq!(offered[1], "Basic realm=\"cpe\"");

    let wrong = http_auth::basic::encode_credentials(USER, "x");
    assert_eq!(
        send(h.addr, &request("GET", PATH, Some(&wrong)))
            .await
            .status,
        401
    );
    let basic = http_auth::basic::encode_credentials(USER, PASS);
    assert_ok_empty(&send(h.addr, &request("GET", PATH, Some(&basic))).await);
    assert_eq!(h.wakeup().await.requests(), 1);
    let (mut waiter, _) = h.stop().await;
    assert_eq!(waiter.try_take(), None);
}

#[tokio::test]
async fn no_credentials_get_503_until_set_at_run_time() {
    let mut h = Harness::start(|_| {}).await;
    h.credentials.send_replace(None);
    let reply = send(h.addr, &request("GET", PATH, None)).await;
    assert_eq!(reply.status, 503);
    assert!(reply.header("www-authenticate").is_none());
    assert!(reply.header("retry-after").is_none());
    assert!(reply.closes());
    // Even a well-formed Digest answer to an earlier challenge gets nowhere.
    h.credentials
        .send_replace(Some(Credentials::new(USER, PASS)));
    let challenge = send(h.addr, &request("GET", PATH, None)).await;
    let auth = answer(challenge.challenge(), USER, PASS);
    h.credentials.send_replace(Some(Credentials::new(USER, "")));
    assert_eq!(
        send(h.addr, &request("GET", PATH, Some(&auth)))
            .await
            .status,
        503
    );
    assert_eq!(h.waiter.try_take(), None);

    // The ACS sets new credentials (SetParameterValues): they apply to the next request.
    h.credentials
        .send_replace(Some(Credentials::new("acs2", "fresh")));
    let (old, _s) = connection_request(h.addr, USER, PASS).await;
    assert_eq!(old.status, 401);
    let (new, _s) = connection_request(h.addr, "acs2", "fresh").await;
    assert_ok_empty(&new);
    assert_eq!(h.wakeup().await.requests(), 1);

    let (mut waiter, stats) = h.stop().await;
    assert_eq!(waiter.try_take(), None);
    assert_eq!((stats.unconfigured, stats.accepted), (2, 1));
}

#[tokio::test]
async fn wrong_path_gets_404_and_other_methods_405() {
    let h = Harness::start(|_| {}).await;
    for path in ["/", "/cr-0123456789abcdeg", "/cr-0123456789abcdef/x", "*"] {
        let reply = send(h.addr, &request("GET", path, None)).await;
        assert_eq!(reply.status, 404, "{path}");
        assert!(reply.header("www-authenticate").is_none());
    }
    for method in ["POST", "PUT", "DELETE", "HEAD", "OPTIONS"] {
        let reply = send(h.addr, &request(method, PATH, None)).await;
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("allow"), Some("GET"));
    }
    // A body is ignored (never read) and the connection then closes.
    let mut stream = TcpStream::connect(h.addr).await.unwrap();
    let with_body = format!(
        "GET {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n{}",
        "x".repeat(100)
    );
    let reply = send_on(&mut stream, &with_body).await;
    assert_eq!(reply.status, 401);
    assert!(reply.closes());
    let (mut waiter, stats) = h.stop().await;
    assert_eq!(waiter.try_take(), None);
    assert_eq!((stats.not_found, stats.method_not_allowed), (4, 5));
}

#[tokio::test]
async fn per_connection_request_limit_closes_the_connection() {
    let h = Harness::start(|c| c.max_requests_per_connection = 2).await;
    let mut stream = TcpStream::connect(h.addr).await.unwrap();
    let first = send_on(&mut stream, &request("GET", PATH, None)).await;
    assert!(!first.closes());
    let second = send_on(&mut stream, &request("GET", PATH, None)).await;
    assert_eq!(second.status, 401);
    assert!(second.closes());
    expect_eof(&mut stream).await;
    h.stop().await;
}

/// Runs `requests` on fresh connections, at most `in_flight` at a time; returns the statuses.
async fn flood(addr: SocketAddr, requests: Vec<String>, in_flight: usize) -> Vec<u16> {
    let mut statuses = Vec::with_capacity(requests.len());
    let mut tasks = JoinSet::new();
    for raw in requests {
        if tasks.len() >= in_flight {
            statuses.push(guard(tasks.join_next()).await.unwrap().unwrap());
        }
        tasks.spawn(async move {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            let reply = send_on(&mut stream, &raw).await;
            reply.status
        });
    }
    while let Some(status) = guard(tasks.join_next()).await {
        statuses.push(status.unwrap());
    }
    statuses
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|&&s| s == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_is_rate_limited_memory_bounded_and_the_server_recovers() {
    const N: usize = 1000;
    let mut h = Harness::start(|c| {
        c.max_nonces = 64;
        c.max_connections = 64;
    })
    .await;
    let started = std::time::Instant::now();

    // 1,000 unauthenticated requests: each gets 401 and a nonce, the table stays bounded.
    let unauthenticated = vec![request("GET", PATH, None); N];
    let statuses = flood(h.addr, unauthenticated, 32).await;
    assert_eq!(count(&statuses, 401), N);
    let stats = h.handle.stats();
    assert!(stats.nonces <= 64, "{stats:?}");

    // 1,000 valid requests (one nonce, nc 1..=1000), concurrently: 5 accepted, the rest 503.
    let challenge = send(h.addr, &request("GET", PATH, None)).await;
    let mut client = PasswordClient::try_from(challenge.challenge()).unwrap();
    let valid: Vec<String> = (0..N)
        .map(|_| {
            let auth = client
                .respond(&PasswordParams {
                    username: USER,
                    password: PASS,
                    uri: PATH,
                    method: "GET",
                    body: None,
                })
                .unwrap();
            request("GET", PATH, Some(&auth))
        })
        .collect();
    let statuses = flood(h.addr, valid, 32).await;
    let elapsed = started.elapsed();
    assert_eq!(count(&statuses, 200), 5, "{:?}", h.handle.stats());
    assert_eq!(count(&statuses, 503), N - 5);
    let stats = h.handle.stats();
    assert!(stats.nonces <= 64);
    assert_eq!(stats.rate_limited, (N - 5) as u64);
    eprintln!("flood: 2 x {N} requests in {elapsed:?}; {stats:?}");

    // The 5 accepted requests signal 5 times at most (coalesced while nobody waits).
    let mut signalled = 0;
    while signalled < 5 {
        signalled += h.wakeup().await.requests();
    }
    assert_eq!(signalled, 5);

    // Once the window has passed, the server answers correctly again.
    h.clock.advance(Duration::from_secs(60));
    let (ok, _s) = connection_request(h.addr, USER, PASS).await;
    assert_ok_empty(&ok);
    assert_eq!(h.wakeup().await.requests(), 1);
    let (mut waiter, stats) = h.stop().await;
    assert_eq!(waiter.try_take(), None, "no signal beyond the limit");
    assert_eq!(stats.accepted, 6);
    assert_eq!(stats.open_connections, 0);
}

#[tokio::test]
async fn requests_during_a_session_coalesce_into_one_follow_up() {
    let mut h = Harness::start(|c| c.rate_limit.max_requests = 20).await;
    let (ok, _s) = connection_request(h.addr, USER, PASS).await;
    assert_ok_empty(&ok);
    // The agent takes the wakeup and is now "in a session"; 10 more requests arrive.
    assert_eq!(h.wakeup().await.requests(), 1);
    for _ in 0..10 {
        let (ok, _s) = connection_request(h.addr, USER, PASS).await;
        assert_ok_empty(&ok);
    }
    // The session ends; the agent asks for the next one: exactly one follow-up.
    let (mut waiter, stats) = h.stop().await;
    let follow_up = guard(waiter.wait()).await.expect("one follow-up");
    assert_eq!(follow_up.requests(), 10);
    assert_eq!(guard(waiter.wait()).await, None, "no second follow-up");
    assert_eq!(stats.accepted, 11);
}

#[tokio::test(start_paused = true)]
async fn slow_and_idle_clients_are_closed_by_the_header_timeout() {
    let h = Harness::start(|c| c.header_read_timeout = Duration::from_secs(5)).await;
    let started = tokio::time::Instant::now();
    let mut slow = TcpStream::connect(h.addr).await.unwrap();
    slow.write_all(format!("GET {PATH} HTTP/1.1\r\nHost: x\r\n").as_bytes())
        .await
        .unwrap();
    let mut rest = Vec::new();
    guard(slow.read_to_end(&mut rest)).await.unwrap();
    assert!(
        rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&rest)
    );
    assert!(started.elapsed() >= Duration::from_secs(5));

    // A keep-alive connection left idle after its 401 is closed the same way.
    let mut idle = TcpStream::connect(h.addr).await.unwrap();
    let reply = send_on(&mut idle, &request("GET", PATH, None)).await;
    assert_eq!(reply.status, 401);
    let idle_since = tokio::time::Instant::now();
    expect_eof(&mut idle).await;
    assert!(idle_since.elapsed() >= Duration::from_secs(5));
    let (_, stats) = h.stop().await;
    assert_eq!(stats.open_connections, 0);
}

#[tokio::test]
async fn shutdown_stops_accepting_and_lets_accepted_requests_signal() {
    let h = Harness::start(|_| {}).await;
    let addr = h.addr;
    // An idle keep-alive connection (after its 401) and a request answered just before stop.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        send_on(&mut idle, &request("GET", PATH, None)).await.status,
        401
    );
    let (ok, _s) = connection_request(addr, USER, PASS).await;
    assert_ok_empty(&ok);

    let (mut waiter, stats) = h.stop().await;
    assert_eq!(waiter.try_take().map(|w| w.requests()), Some(1));
    assert_eq!(stats.open_connections, 0);
    expect_eof(&mut idle).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the port is closed"
    );
    assert_eq!(guard(waiter.wait()).await, None, "the server is gone");
}

#[tokio::test]
async fn invalid_settings_are_refused() {
    let bind = |config: ServerConfig| async {
        let (notifier, _waiter) = signal::channel();
        ConnectionRequestServer::builder(config)
            .bind(CredentialSource::fixed(None), notifier)
            .await
    };
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    type Tweak = fn(&mut ServerConfig);
    let cases: [(&str, Tweak); 5] = [
        ("path", |c| c.path = Some("no-slash".into())),
        ("path", |c| c.path = Some("/a?b".into())),
        ("realm", |c| c.realm = "bad\r\nrealm".into()),
        ("rate_limit", |c| c.rate_limit.max_requests = 0),
        ("max_connections", |c| c.max_connections = 0),
    ];
    for (field, tweak) in cases {
        let mut config = ServerConfig {
            listen: local,
            ..ServerConfig::default()
        };
        tweak(&mut config);
        match bind(config).await {
            Err(Error::InvalidConfig { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    // The default path is random, `/cr-` and 32 hex digits.
    let server = bind(ServerConfig {
        listen: local,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let path = server.path().to_owned();
    assert_eq!(path.len(), 4 + 32);
    assert!(path.starts_with("/cr-"));
    let other = bind(ServerConfig {
        listen: local,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    assert_ne!(other.path(), path);
}
