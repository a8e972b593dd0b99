//! The lab's REST client: one HTTP/1.1 request per connection to an acs-sim REST API, as a
//! GenieACS user's script would make it. `acs-sim status` reads `/health` with it too.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use tokio::net::TcpStream;

/// Why a REST call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// Connecting, sending or reading failed.
    #[error("{method} {path}: {message}")]
    Io {
        /// The request method.
        method: &'static str,
        /// The request path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// No answer in time.
    #[error("{method} {path}: no answer within {0:?}", .timeout)]
    Timeout {
        /// The request method.
        method: &'static str,
        /// The request path.
        path: String,
        /// How long it waited.
        timeout: Duration,
    },
}

/// The most response body bytes read; a longer body fails the call.
const MAX_BODY: usize = 16 << 20;

/// Sends one request and returns the status and the body (at most [`MAX_BODY`] bytes).
pub(crate) async fn call(
    addr: SocketAddr,
    method: &'static str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    timeout: Duration,
) -> Result<(u16, Bytes), HttpError> {
    let io = |message: String| HttpError::Io {
        method,
        path: path.to_owned(),
        message,
    };
    let exchange = async {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| io(e.to_string()))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| io(e.to_string()))?;
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", addr.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| io(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| io(e.to_string()))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| io(e.to_string()))?
            .to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| HttpError::Timeout {
            method,
            path: path.to_owned(),
            timeout,
        })?
}
