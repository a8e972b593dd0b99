//! One TCP (or TLS) connection of a CPE: HTTP/1.1 with keep-alive, each POST answered in turn
//! (TR-069 Amd 6 §3.4: one request outstanding at a time).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::sessions::{Answer, Sessions};
use super::{COOKIE_NAME, Shared, now, run_sync};
use crate::session::Reply;

/// A cookie value longer than this is not one of ours.
const MAX_COOKIE_VALUE: usize = 64;

/// One accepted connection.
pub(super) struct Connection {
    shared: Arc<Shared>,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
    /// The session this connection runs, for CPEs that send no cookie.
    session: Mutex<Option<Arc<str>>>,
    /// The CPE proved its credentials on this connection (§3.4.4).
    authenticated: AtomicBool,
}

impl Connection {
    pub(super) fn new(shared: Arc<Shared>, peer: SocketAddr, stop: watch::Receiver<bool>) -> Self {
        Self {
            shared,
            peer,
            stop,
            session: Mutex::new(None),
            authenticated: AtomicBool::new(false),
        }
    }

    /// Serves the connection until the CPE closes it, it idles past the header timeout, or the
    /// endpoint stops.
    pub(super) async fn run(self, stream: TcpStream, tls: Option<TlsAcceptor>) {
        let Some(tls) = tls else {
            return self.serve(stream).await;
        };
        let limit = self.shared.limits.tls_handshake_timeout;
        if let Some(stream) = cpe::net::tls_handshake(&tls, stream, limit).await {
            self.serve(stream).await;
        }
    }

    async fn serve<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut stop = self.stop.clone();
        let http = self.shared.http.clone();
        let this = Arc::new(self);
        let service = service_fn(move |request| {
            let this = Arc::clone(&this);
            async move { Ok::<_, Infallible>(this.respond(request).await) }
        });
        let connection = http.serve_connection(TokioIo::new(io), service);
        tokio::pin!(connection);
        let mut stopping = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    return;
                }
                _ = stop.wait_for(|&stop| stop), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }

    async fn respond(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        if request.method() != Method::POST {
            let mut response = text(
                StatusCode::METHOD_NOT_ALLOWED,
                "CWMP takes POST only (TR-069 §3.4)",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        let sessions = &self.shared.sessions;
        let (parts, body) = request.into_parts();
        let bound = self.bound();
        let found = sessions.find(session_cookie(&parts.headers), bound.as_deref());
        let body = match self.read_body(body).await {
            Ok(body) => body,
            Err(mut response) => {
                if let Some(slot) = found {
                    let sessions = Arc::clone(sessions);
                    let now = now();
                    run_sync(self.shared.blocking, move || sessions.end(&slot, now)).await;
                }
                self.bind(None);
                // The rest of the body is unread: the connection cannot carry another request.
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return response;
            }
        };

        let known = self.authenticated.load(Ordering::Relaxed)
            || found.as_deref().is_some_and(Sessions::authenticated);
        if self.shared.auth.required() && !known {
            let authorization = parts
                .headers
                .get(header::AUTHORIZATION)
                .map(|v| v.to_str().unwrap_or_default());
            let target = parts.uri.to_string();
            let checked =
                self.shared
                    .auth
                    .check(parts.method.as_str(), &target, authorization, now());
            if let Err(challenge) = checked {
                let mut response = text(StatusCode::UNAUTHORIZED, "authentication required");
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, challenge.0);
                return response;
            }
            tracing::debug!(peer = %self.peer, "CPE authenticated");
            self.authenticated.store(true, Ordering::Relaxed);
        }

        let authenticated = self.authenticated.load(Ordering::Relaxed);
        let sessions = Arc::clone(sessions);
        let now = now();
        let answered = run_sync(self.shared.blocking, move || {
            sessions.post(found, &body, authenticated, now)
        })
        .await;
        match answered {
            Some(Ok(answer)) => self.answer(answer),
            Some(Err(full)) => {
                cpe::oplog!(ACS_SESSION_REFUSED, peer = %self.peer, %full, "session refused");
                text(StatusCode::SERVICE_UNAVAILABLE, &full.to_string())
            }
            // A bug, not the CPE's input: already logged.
            None => text(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
        }
    }

    /// Reads the whole body, up to the configured limit and within the body timeout.
    async fn read_body(&self, body: Incoming) -> Result<Bytes, Response<Full<Bytes>>> {
        let limit = self.shared.acs.config.body_limit;
        let read = Limited::new(body, limit).collect();
        match tokio::time::timeout(self.shared.limits.body_read_timeout, read).await {
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(error)) if error.is::<LengthLimitError>() => {
                cpe::oplog!(ACS_BODY_TOO_LARGE, peer = %self.peer, limit, "request body too large; the session ends");
                Err(text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("a CWMP message may be at most {limit} bytes"),
                ))
            }
            Ok(Err(error)) => {
                tracing::debug!(peer = %self.peer, %error, "request body unreadable");
                Err(text(StatusCode::BAD_REQUEST, "unreadable request body"))
            }
            Err(_) => Err(text(
                StatusCode::REQUEST_TIMEOUT,
                "the request body was not sent in time",
            )),
        }
    }

    fn answer(&self, answer: Answer) -> Response<Full<Bytes>> {
        let Answer {
            reply,
            open,
            opened,
        } = answer;
        let mut response = match reply {
            Reply::Envelope(bytes) => {
                let mut response = Response::new(Full::new(Bytes::from(bytes)));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/xml; charset=\"utf-8\""),
                );
                response
            }
            // §3.4.6: the ACS has no more requests, the session is over.
            Reply::NoContent => {
                let mut response = Response::new(Full::new(Bytes::new()));
                *response.status_mut() = StatusCode::NO_CONTENT;
                response
            }
        };
        if opened
            && let Some(key) = &open
            && let Some(cookie) = set_cookie(key)
        {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        self.bind(open);
        response
    }

    fn bound(&self) -> Option<Arc<str>> {
        self.session
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn bind(&self, session: Option<Arc<str>>) {
        *self.session.lock().unwrap_or_else(PoisonError::into_inner) = session;
    }
}

/// The value of our session cookie among the request's `Cookie` headers (RFC 6265 §5.4).
fn session_cookie(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| value.len() <= MAX_COOKIE_VALUE)
}

/// The `Set-Cookie` value that hands the CPE its session: `session=<key>; Path=/`, written
/// into one buffer of the right size (this runs for every session).
fn set_cookie(key: &str) -> Option<HeaderValue> {
    const PATH: &str = "; Path=/";
    let mut value = String::with_capacity(COOKIE_NAME.len() + 1 + key.len() + PATH.len());
    value.push_str(COOKIE_NAME);
    value.push('=');
    value.push_str(key);
    value.push_str(PATH);
    HeaderValue::try_from(value).ok()
}

/// A plain-text answer saying why.
fn text(status: StatusCode, reason: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{reason}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(values: &[&str]) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for value in values {
            headers.append(header::COOKIE, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn set_cookie_names_the_session_for_every_path() {
        let value = set_cookie("0a1b").unwrap();
        assert_eq!(value.to_str().unwrap(), "session=0a1b; Path=/");
    }

    #[test]
    fn the_session_cookie_is_found_among_others_and_in_any_cookie_header() {
        let headers = cookies(&["a=1; session=abc ; b=2"]);
        assert_eq!(session_cookie(&headers), Some("abc"));
        let headers = cookies(&["a=1", "session=\"def\""]);
        assert_eq!(session_cookie(&headers), Some("def"));
        assert_eq!(session_cookie(&cookies(&["sessionx=1; a=session"])), None);
        let long = format!("session={}", "x".repeat(MAX_COOKIE_VALUE + 1));
        assert_eq!(session_cookie(&cookies(&[&long])), None);
    }
}
