//! The CPE's `/metrics` endpoint: a small hyper HTTP/1.1 server that answers `GET /metrics`
//! with the Prometheus text exposition ([`super::prometheus`]), `404` for any other path and
//! `405` (with `Allow: GET`) for any other method. It is bounded like the Connection Request
//! server: a few connections at once, a header read timeout, a lifetime per connection, and a
//! request body is never read.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::net::{self, AcceptLimits};

/// The path answered.
pub const PATH: &str = "/metrics";

/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 8;

/// How long a client may take to send its request head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one connection may stay open.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);

/// What writes the page, each time it is asked for.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// The server could not start.
#[derive(Debug, thiserror::Error)]
#[error("metrics endpoint: cannot listen on {addr}: {source}")]
pub struct BindError {
    /// The address.
    pub addr: SocketAddr,
    /// Why.
    pub source: std::io::Error,
}

/// The `/metrics` server, bound and ready to serve.
#[derive(Debug)]
pub struct MetricsServer {
    listener: TcpListener,
    local_addr: SocketAddr,
}

impl MetricsServer {
    /// Binds `addr`.
    pub async fn bind(addr: SocketAddr) -> Result<Self, BindError> {
        let error = |source| BindError { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(error)?;
        let local_addr = listener.local_addr().map_err(error)?;
        Ok(Self {
            listener,
            local_addr,
        })
    }

    /// The bound address (with the real port when the configured one was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves `render`'s page until `shutdown` resolves.
    pub async fn serve(self, render: Render, shutdown: impl Future<Output = ()>) {
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_headers(32)
            .max_buf_size(16 * 1024)
            .keep_alive(true);
        let limits = AcceptLimits {
            max_connections: MAX_CONNECTIONS,
            grace: Some(Duration::from_secs(1)),
        };
        crate::oplog!(CTRL_METRICS_LISTENING, addr = %self.local_addr, "metrics endpoint listening");
        net::serve(self.listener, limits, shutdown, |accepted| {
            let render = Arc::clone(&render);
            let service = service_fn(move |request| {
                let response = respond(&request, &render);
                async move { Ok::<_, Infallible>(response) }
            });
            let connection = http.serve_connection(TokioIo::new(accepted.stream), service);
            async move {
                if let Ok(Err(e)) = tokio::time::timeout(CONNECTION_LIFETIME, connection).await {
                    tracing::debug!(error = %e, "metrics connection ended with an error");
                }
            }
        })
        .await;
    }
}

fn respond(request: &Request<Incoming>, render: &Render) -> Response<Full<Bytes>> {
    let (status, body) = if request.uri().path() != PATH {
        (StatusCode::NOT_FOUND, String::new())
    } else if request.method() != Method::GET {
        (StatusCode::METHOD_NOT_ALLOWED, String::new())
    } else {
        (StatusCode::OK, render())
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    match status {
        StatusCode::OK => {
            headers.insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(super::prometheus::CONTENT_TYPE),
            );
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            headers.insert(header::ALLOW, header::HeaderValue::from_static("GET"));
        }
        _ => {}
    }
    response
}
