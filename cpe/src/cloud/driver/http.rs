//! The HTTP/1.1 steps of the establishment (table steps 1-5) with hyper: the connection that
//! [`Action::Connect`](crate::cloud::Action::Connect) opened carries the requests to the
//! cloud's origin; a URL of another origin (a CAS elsewhere) gets a connection of its own.
//! Idle connections are kept per origin until the attempt is over.

use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, LOCATION, USER_AGENT};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper_util::rt::TokioIo;
use schemas::tunnel::MAX_FRAME;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::timeout;

use super::IO_TIMEOUT;
use super::net::{self, Egress};
use crate::cloud::{ConnectError, HttpMethod, HttpResponse, SendError};
use crate::transport::AcsUrl;

const AGENT: &str = concat!("cwmp-toolkit-cpe/", env!("CARGO_PKG_VERSION"));

/// Idle connections kept at most (the cloud's and a CAS's are two).
const MAX_IDLE: usize = 4;

/// The sending half of an HTTP/1.1 connection.
pub(super) type Sender = SendRequest<Full<Bytes>>;

/// One request of an [`Action::Http`](crate::cloud::Action::Http).
#[derive(Debug)]
pub(super) struct Request {
    pub(super) method: HttpMethod,
    pub(super) url: String,
    pub(super) content_type: Option<&'static str>,
    pub(super) body: String,
}

/// Where [`Action::Connect`](crate::cloud::Action::Connect) reached the cloud.
#[derive(Clone, Debug)]
struct Cloud {
    origin: AcsUrl,
    addr: SocketAddr,
    domain: String,
}

/// The connections of the current attempt.
#[derive(Debug, Default)]
pub(super) struct Pool {
    cloud: Option<Cloud>,
    idle: Vec<(AcsUrl, Sender)>,
}

/// A request ready to run on its own task: its connection, if one is idle, and how to open
/// one otherwise.
#[derive(Debug)]
pub(super) struct Exchange {
    url: AcsUrl,
    sender: Option<Sender>,
    /// The cloud's address and TLS name when `url` is the cloud's origin.
    cloud: Option<(SocketAddr, String)>,
    request: Request,
}

/// A connection that can take the next request.
#[derive(Debug)]
pub(super) struct Idle(AcsUrl, Sender);

impl Pool {
    /// Forgets every connection (a new attempt, or the HTTP steps are over).
    pub(super) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Keeps the connection that `Connect` opened to `addr` for `domain`.
    pub(super) fn connected(&mut self, addr: SocketAddr, domain: String, sender: Sender) {
        let Ok(origin) = origin_url(&domain, addr.port()).parse::<AcsUrl>() else {
            return;
        };
        self.cloud = Some(Cloud {
            origin: origin.clone(),
            addr,
            domain,
        });
        self.put(Idle(origin, sender));
    }

    /// Prepares `request`: an idle connection to its origin if there is one.
    pub(super) fn exchange(&mut self, request: Request) -> Result<Exchange, SendError> {
        let url: AcsUrl = request
            .url
            .parse()
            .map_err(|e| SendError::Io(format!("{}: {e}", request.url)))?;
        let sender = self
            .idle
            .iter()
            .position(|(origin, _)| origin.same_origin(&url))
            .map(|i| self.idle.swap_remove(i).1)
            .filter(|sender| !sender.is_closed());
        let cloud = self
            .cloud
            .as_ref()
            .filter(|cloud| cloud.origin.same_origin(&url))
            .map(|cloud| (cloud.addr, cloud.domain.clone()));
        Ok(Exchange {
            url,
            sender,
            cloud,
            request,
        })
    }

    /// Takes back a connection after its exchange.
    pub(super) fn put(&mut self, Idle(origin, sender): Idle) {
        self.idle.retain(|(o, _)| !o.same_origin(&origin));
        if self.idle.len() >= MAX_IDLE {
            self.idle.remove(0);
        }
        self.idle.push((origin, sender));
    }
}

impl Exchange {
    /// Sends the request (opening a connection first if none is idle) and reads the answer.
    /// A body larger than [`MAX_FRAME`] is not read: the answer is delivered without body
    /// and `Location`, which no step accepts ("Processing ... failed").
    pub(super) async fn run(
        self,
        egress: Egress,
    ) -> (Result<HttpResponse, SendError>, Option<Idle>) {
        match timeout(IO_TIMEOUT, self.exchange(egress)).await {
            Ok(Ok((response, idle))) => (Ok(response), idle),
            Ok(Err(e)) => (Err(e), None),
            Err(_) => (Err(SendError::Io("no answer in time".to_owned())), None),
        }
    }

    async fn exchange(self, egress: Egress) -> Result<(HttpResponse, Option<Idle>), SendError> {
        let url = self.url;
        let idle = match self.sender {
            Some(mut sender) => sender.ready().await.is_ok().then_some(sender),
            None => None,
        };
        let mut sender = match idle {
            Some(sender) => sender,
            None => open(&url, self.cloud, &egress).await.map_err(|e| match e {
                ConnectError::Tls(detail) => SendError::Tls(detail),
                other => SendError::Io(other.to_string()),
            })?,
        };
        let request = build(&url, self.request)?;
        let response = sender.send_request(request).await.map_err(send_error)?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = match Limited::new(response.into_body(), MAX_FRAME)
            .collect()
            .await
        {
            Ok(body) => body.to_bytes().to_vec(),
            Err(e) if e.is::<LengthLimitError>() => {
                let answer = HttpResponse {
                    status,
                    location: None,
                    body: Vec::new(),
                };
                return Ok((answer, None));
            }
            Err(e) => return Err(SendError::Io(format!("reading the answer: {e}"))),
        };
        let idle = (!sender.is_closed()).then(|| Idle(url, sender));
        let answer = HttpResponse {
            status,
            location,
            body,
        };
        Ok((answer, idle))
    }
}

/// Opens TCP to the first of `addrs` that accepts (or through the proxy), TLS with the name
/// `domain`, and an HTTP/1.1 connection over them (the answer to
/// [`Action::Connect`](crate::cloud::Action::Connect)); returns it with the address reached.
pub(super) async fn connect(
    addrs: &[SocketAddr],
    domain: &str,
    egress: &Egress,
) -> Result<(Sender, SocketAddr), ConnectError> {
    let port = addrs.first().map_or(443, SocketAddr::port);
    let (tcp, peer) = egress.tcp(addrs, domain, port, true).await?;
    let sender = http1(net::tls(tcp, domain, egress.tls.clone()).await?).await?;
    Ok((sender, peer))
}

/// Opens a connection to `url`'s origin: the cloud's address when it is the cloud's origin,
/// a lookup of the host otherwise.
async fn open(
    url: &AcsUrl,
    cloud: Option<(SocketAddr, String)>,
    egress: &Egress,
) -> Result<Sender, ConnectError> {
    if let Some((addr, domain)) = cloud {
        return Ok(connect(&[addr], &domain, egress).await?.0);
    }
    let tcp = egress
        .tcp_to(url.host(), url.port(), url.is_https())
        .await?;
    if url.is_https() {
        http1(net::tls(tcp, url.host(), egress.tls.clone()).await?).await
    } else {
        http1(tcp).await
    }
}

async fn http1<S>(stream: S) -> Result<Sender, ConnectError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ConnectError::Refused(e.to_string()))?;
    // The connection ends when its sender is dropped or the peer closes it.
    tokio::spawn(async move {
        let _closed = connection.await;
    });
    Ok(sender)
}

fn build(url: &AcsUrl, request: Request) -> Result<http::Request<Full<Bytes>>, SendError> {
    let method = match request.method {
        HttpMethod::Get => http::Method::GET,
        HttpMethod::Post => http::Method::POST,
    };
    let mut builder = http::Request::builder()
        .method(method)
        .uri(url.path_and_query())
        .header(HOST, url.host_header())
        .header(USER_AGENT, AGENT);
    if let Some(content_type) = request.content_type {
        builder = builder.header(CONTENT_TYPE, content_type);
    }
    builder
        .body(Full::new(Bytes::from(request.body)))
        .map_err(|e| SendError::Io(format!("{}: {e}", request.url)))
}

fn send_error(error: hyper::Error) -> SendError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && net::is_tls(io)
        {
            return SendError::Tls(error.to_string());
        }
        source = e.source();
    }
    SendError::Io(error.to_string())
}

/// The machine's origin for `domain` and `port` (IPv6 literals in brackets).
fn origin_url(domain: &str, port: u16) -> String {
    if domain.contains(':') {
        format!("https://[{domain}]:{port}/")
    } else {
        format!("https://{domain}:{port}/")
    }
}
