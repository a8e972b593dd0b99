//! The file server CPEs download from and upload to (TR-069 Amd 6 A.3.2.8 Download, A.4.1.5
//! Upload: the CPE fetches or sends the file at the URL the ACS gave, over HTTP; `Range` lets a
//! download resume). `GET`/`HEAD /<name>` serve a stored file; `PUT` or `POST /<name>` stores
//! the request body under that name. [`serve_tls`] is the same over HTTPS.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use cpe::net::{self, AcceptLimits};
use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::{Instrument as _, debug, debug_span};

use super::name::{decode, query_param};
use super::response::{ResponseBody, file_response, full};
use super::{FileError, NewFile};
use crate::acs::Acs;

/// The file server's usual port (GenieACS's `fs` service).
pub const DEFAULT_PORT: u16 = 7567;

/// Most connections served at once; further clients wait in the listen backlog.
const MAX_CONNECTIONS: usize = 256;
/// Time allowed to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Time allowed for a client's TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open transfers may go on after shutdown was asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves files from `acs.files` on `listener` over HTTP until `shutdown` resolves, then stops
/// accepting, lets open requests finish for a few seconds, and returns.
pub async fn serve(
    listener: TcpListener,
    acs: Arc<Acs>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, acs, None, shutdown).await
}

/// [`serve`] over HTTPS with `tls` (TR-069 Amd 6 §3.3: the CPE verifies the file server's
/// certificate as it does the ACS's), for Download and Upload URLs that start with `https://`.
pub async fn serve_tls(
    listener: TcpListener,
    acs: Arc<Acs>,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, acs, Some(TlsAcceptor::from(tls)), shutdown).await
}

async fn serve_with(
    listener: TcpListener,
    acs: Arc<Acs>,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let local_addr = listener.local_addr()?;
    let secure = tls.is_some();
    cpe::oplog!(FILES_LISTENING, %local_addr, tls = secure, "file server listening");
    let name = if secure { "files-tls" } else { "files" };
    let _listening = acs.components().listening(name, local_addr);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_headers(64);
    let limits = AcceptLimits {
        max_connections: MAX_CONNECTIONS,
        grace: Some(SHUTDOWN_GRACE),
    };
    let open = net::serve(listener, limits, shutdown, |accepted| {
        let peer = accepted.peer;
        let (acs, http, tls) = (Arc::clone(&acs), http.clone(), tls.clone());
        async move {
            let Some(tls) = tls else {
                return serve_connection(accepted.stream, acs, &http, accepted.stop).await;
            };
            if let Some(stream) =
                net::tls_handshake(&tls, accepted.stream, TLS_HANDSHAKE_TIMEOUT).await
            {
                serve_connection(stream, acs, &http, accepted.stop).await;
            }
        }
        .instrument(debug_span!("files", %peer))
    })
    .await;
    cpe::oplog!(FILES_STOPPED, %local_addr, open, "file server stopped");
    Ok(())
}

/// Serves one connection until it closes or `stop` turns true.
fn serve_connection<I>(
    stream: I,
    acs: Arc<Acs>,
    http: &http1::Builder,
    mut stop: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let acs = Arc::clone(&acs);
        async move { Ok::<_, Infallible>(handle(&acs, request).await) }
    });
    let connection = http.serve_connection(TokioIo::new(stream), service);
    async move {
        tokio::pin!(connection);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    debug!(error = %e, "file server connection ended with an error");
                }
                return;
            }
            _ = stop.wait_for(|&stop| stop) => connection.as_mut().graceful_shutdown(),
        }
        if let Err(e) = connection.await {
            debug!(error = %e, "file server connection ended with an error");
        }
    }
}

/// Answers one request.
async fn handle(acs: &Arc<Acs>, request: Request<Incoming>) -> Response<ResponseBody> {
    let Some(name) = request
        .uri()
        .path()
        .strip_prefix('/')
        .filter(|segment| !segment.is_empty() && !segment.contains('/'))
        .and_then(|segment| decode(segment, false))
    else {
        return text(StatusCode::NOT_FOUND, "not found");
    };
    let method = request.method().clone();
    let result = match method {
        Method::GET | Method::HEAD => get(acs, &name, &request, method == Method::HEAD).await,
        Method::PUT | Method::POST => put(acs, name, request).await,
        _ => {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD, PUT, POST"));
            return response;
        }
    };
    result.unwrap_or_else(|error| {
        if error.status().is_server_error() {
            cpe::oplog!(FILES_REQUEST_FAILED, %method, %error, "file server request failed");
        }
        text(error.status(), &error.to_string())
    })
}

async fn get(
    acs: &Arc<Acs>,
    name: &str,
    request: &Request<Incoming>,
    head: bool,
) -> Result<Response<ResponseBody>, FileError> {
    let open = acs.files.open(&acs.store, name).await?;
    Ok(file_response(open, request.headers(), head).await?)
}

/// Stores an upload; `?fileType=` sets the file type.
async fn put(
    acs: &Arc<Acs>,
    name: String,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, FileError> {
    let file = NewFile {
        file_type: query_param(request.uri().query(), "fileType").unwrap_or_default(),
        ..NewFile::named(name)
    };
    let meta = acs.files.put(&acs.store, file, request.into_body()).await?;
    cpe::oplog!(
        FILES_UPLOADED,
        name = meta.name,
        size = meta.size,
        "file uploaded"
    );
    Ok(text(StatusCode::OK, ""))
}

fn text(status: StatusCode, message: &str) -> Response<ResponseBody> {
    let mut response = Response::new(full(message.to_owned()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
