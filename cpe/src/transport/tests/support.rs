//! Loopback fixtures: a scripted HTTP/1.1 server (plain or TLS) that records every request and
//! counts connections, a tiny HTTP proxy, an rcgen PKI, and a Digest verifier. The file
//! transfer tests (`crate::transfer`) use them too.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::transport::{AcsUrl, Client, ClientCertificate, TlsSettings, TransportConfig};

/// A config that never reads the machine's CA bundle.
pub(crate) fn config() -> TransportConfig {
    TransportConfig {
        tls: TlsSettings {
            system_ca_file: "/nonexistent/ca-bundle.crt".into(),
            ..TlsSettings::default()
        },
        ..TransportConfig::default()
    }
}

pub(crate) fn client(config: TransportConfig) -> Client {
    Client::new(config).expect("client config")
}

/// One request as the server read it.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    /// 0-based index of the TCP (or TLS) connection it arrived on.
    pub(crate) connection: usize,
    pub(crate) method: String,
    pub(crate) target: String,
    /// Header names lowercased, in arrival order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// The raw head (request line and headers) as received.
    pub(crate) head: String,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with one request.
pub(crate) struct Reply {
    bytes: Vec<u8>,
    close: bool,
    silent: bool,
}

impl Reply {
    /// Close the connection after writing (without a `Connection: close` header, as GenieACS).
    pub(crate) fn then_close(mut self) -> Self {
        self.close = true;
        self
    }

    /// Close the connection without answering (an idle keep-alive connection closed by the
    /// server just as the next request arrived).
    pub(crate) fn drop_connection() -> Self {
        Self {
            bytes: Vec::new(),
            close: true,
            silent: false,
        }
    }

    /// Never answer and keep the connection open.
    pub(crate) fn silence() -> Self {
        Self {
            bytes: Vec::new(),
            close: false,
            silent: true,
        }
    }

    /// Exactly these bytes.
    pub(crate) fn raw(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: bytes.into(),
            close: false,
            silent: false,
        }
    }
}

/// A response with `Content-Length`, e.g. `reply("200 OK", &[("Set-Cookie", "a=1")], "<x/>")`.
pub(crate) fn reply(status: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut bytes = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        bytes.push_str(&format!("{name}: {value}\r\n"));
    }
    bytes.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    Reply::raw(bytes)
}

pub(crate) fn ok(body: &str) -> Reply {
    reply(
        "200 OK",
        &[("Content-Type", "text/xml; charset=\"utf-8\"")],
        body,
    )
}

pub(crate) fn no_content() -> Reply {
    reply("204 No Content", &[], "")
}

type Handler = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

#[derive(Default)]
struct State {
    connections: AtomicUsize,
    requests: Mutex<Vec<Recorded>>,
    tls_failures: Mutex<Vec<String>>,
}

/// A loopback HTTP/1.1 server driven by a handler `(request, 0-based request number) -> Reply`.
pub(crate) struct Server {
    addr: SocketAddr,
    tls: bool,
    state: Arc<State>,
}

impl Server {
    pub(crate) async fn start(
        handler: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::spawn(None, Arc::new(handler)).await
    }

    pub(crate) async fn start_tls(
        config: Arc<rustls::ServerConfig>,
        handler: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::spawn(Some(TlsAcceptor::from(config)), Arc::new(handler)).await
    }

    async fn spawn(tls: Option<TlsAcceptor>, handler: Arc<Handler>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let is_tls = tls.is_some();
        let task_state = state.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let index = task_state.connections.fetch_add(1, Ordering::SeqCst);
                let (state, handler, tls) = (task_state.clone(), handler.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        None => serve(tcp, index, &state, handler.as_ref()).await,
                        Some(acceptor) => match acceptor.accept(tcp).into_fallible().await {
                            Ok(stream) => serve(stream, index, &state, handler.as_ref()).await,
                            Err((error, mut tcp)) => {
                                state.tls_failures.lock().unwrap().push(error.to_string());
                                // Read until the client gives up, so closing sends no RST
                                // that could overtake our alert.
                                let mut sink = [0u8; 1024];
                                while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
                            }
                        },
                    }
                });
            }
        });
        Self {
            addr,
            tls: is_tls,
            state,
        }
    }

    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http(s)://127.0.0.1:<port><path>`.
    pub(crate) fn url(&self, path: &str) -> AcsUrl {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}{path}", self.addr.port())
            .parse()
            .unwrap()
    }

    pub(crate) fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    pub(crate) fn tls_failures(&self) -> Vec<String> {
        self.state.tls_failures.lock().unwrap().clone()
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    connection: usize,
    state: &State,
    handler: &Handler,
) {
    let mut buf = Vec::new();
    while let Some(request) = read_request(&mut stream, &mut buf, connection).await {
        let number = {
            let mut requests = state.requests.lock().unwrap();
            requests.push(request.clone());
            requests.len() - 1
        };
        let reply = handler(&request, number);
        if reply.silent {
            std::future::pending::<()>().await;
        }
        if stream.write_all(&reply.bytes).await.is_err() || stream.flush().await.is_err() {
            return;
        }
        if reply.close {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// Reads one request (head plus `Content-Length` body); `None` at EOF or on garbage.
async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    connection: usize,
) -> Option<Recorded> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    buf.drain(..head_end);
    while buf.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf.drain(..length).collect();
    Some(Recorded {
        connection,
        method,
        target,
        headers,
        body,
        head,
    })
}

/// A port nothing listens on (bound, then released).
pub(crate) async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// Request lines and `Proxy-Authorization` values a [`Proxy`] received.
type ProxyLog = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A tiny HTTP proxy: `CONNECT` tunnels and absolute-form forwarding, both spliced.
pub(crate) struct Proxy {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    seen: ProxyLog,
}

impl Proxy {
    /// `required`: the exact `Proxy-Authorization` value to demand, if any.
    pub(crate) async fn start(required: Option<String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (count, log) = (connections.clone(), seen.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let (log, required) = (log.clone(), required.clone());
                tokio::spawn(proxy_connection(client, log, required));
            }
        });
        Self {
            addr,
            connections,
            seen,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub(crate) fn seen(&self) -> Vec<(String, Option<String>)> {
        self.seen.lock().unwrap().clone()
    }
}

async fn proxy_connection(mut client: TcpStream, seen: ProxyLog, required: Option<String>) {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    let authorization = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, v)| v.trim().to_owned());
    seen.lock()
        .unwrap()
        .push((request_line.clone(), authorization.clone()));

    if required.is_some() && authorization != required {
        let _ = client
            .write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                  Proxy-Authenticate: Basic realm=\"proxy\"\r\nContent-Length: 0\r\n\r\n",
            )
            .await;
        return;
    }
    let mut parts = request_line.split(' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let upstream_addr = if method == "CONNECT" {
        target.to_owned()
    } else {
        // Absolute-form: http://host:port/path
        let rest = target.strip_prefix("http://").unwrap_or(target);
        rest.split('/').next().unwrap_or_default().to_owned()
    };
    let Ok(mut upstream) = TcpStream::connect(&upstream_addr).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    };
    if method == "CONNECT" {
        if client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
        buf.drain(..head_end);
    }
    if upstream.write_all(&buf).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

#[path = "../../../tests/agent/support/pki.rs"]
mod shared_pki;

/// The test PKI the agent's tests use too, with the client certificate as the transport
/// configures it.
pub(crate) struct Pki {
    shared: shared_pki::Pki,
    pub(crate) ca_file: PathBuf,
    pub(crate) other_ca_file: PathBuf,
    pub(crate) client_certificate: ClientCertificate,
}

impl Pki {
    pub(crate) fn new() -> Self {
        let shared = shared_pki::Pki::new();
        Self {
            ca_file: shared.ca_file.clone(),
            other_ca_file: shared.other_ca_file.clone(),
            client_certificate: ClientCertificate {
                cert_file: shared.client_cert.clone(),
                key_file: shared.client_key.clone(),
            },
            shared,
        }
    }

    /// A server config; with `require_client_cert`, clients must present a certificate
    /// issued by the test CA.
    pub(crate) fn server_config(&self, require_client_cert: bool) -> Arc<rustls::ServerConfig> {
        self.shared.server_config(require_client_cert)
    }
}

/// Parses `Digest k=v, k="v", ...` into a map.
pub(crate) fn digest_params(header: &str) -> HashMap<String, String> {
    let mut params = HashMap::new();
    let mut rest = header.strip_prefix("Digest ").unwrap_or(header).trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (&quoted[..end], quoted.get(end + 1..).unwrap_or_default())
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        params.insert(key.trim().to_owned(), value.to_owned());
        rest = after.trim_start_matches([',', ' ']);
    }
    params
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex(&md5::Md5::digest(data))
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    let suite = rustls::crypto::aws_lc_rs::cipher_suite::TLS13_AES_128_GCM_SHA256;
    let hash = suite.tls13().unwrap().common.hash_provider;
    hex(hash.hash(data).as_ref())
}

/// Recomputes an RFC 7616 `qop=auth` response to a POST the way a server does; returns the
/// params when `response` matches.
pub(crate) fn verify_digest(
    header: &str,
    password: &str,
    hash: fn(&[u8]) -> String,
) -> Result<HashMap<String, String>, String> {
    verify_digest_for("POST", header, password, hash)
}

/// [`verify_digest`] for a request with `method`.
pub(crate) fn verify_digest_for(
    method: &str,
    header: &str,
    password: &str,
    hash: fn(&[u8]) -> String,
) -> Result<HashMap<String, String>, String> {
    let p = digest_params(header);
    let get = |k: &str| {
        p.get(k)
            .cloned()
            .ok_or_else(|| format!("missing {k} in {header}"))
    };
    if get("qop")? != "auth" {
        return Err(format!("qop not auth: {header}"));
    }
    let ha1 = hash(format!("{}:{}:{password}", get("username")?, get("realm")?).as_bytes());
    let ha2 = hash(format!("{method}:{}", get("uri")?).as_bytes());
    let expected = hash(
        format!(
            "{ha1}:{}:{}:{}:auth:{ha2}",
            get("nonce")?,
            get("nc")?,
            get("cnonce")?
        )
        .as_bytes(),
    );
    if expected == get("response")? {
        Ok(p)
    } else {
        Err(format!("bad digest response in {header}"))
    }
}
