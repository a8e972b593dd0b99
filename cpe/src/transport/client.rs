//! [`Client`] (shared settings) and [`Session`] (one CWMP session's connection, cookies and
//! authentication).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{
    AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, LOCATION,
    PROXY_AUTHORIZATION, SET_COOKIE, USER_AGENT,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tracing::debug;

use super::auth::Authenticator;
use super::config::{Credentials, TransportConfig};
use super::connect::{Connection, Dialer};
use super::cookie::CookieJar;
use super::error::{TimeoutKind, TransportError};
use super::tls;
use super::url::AcsUrl;
use crate::dial::ProxyPolicy;

/// `Content-Type` of every POST that carries a SOAP envelope (TR-069 Amd 6 §3.4.2).
const SOAP_CONTENT_TYPE: &str = "text/xml; charset=\"utf-8\"";

static SOAP_ACTION: HeaderName = HeaderName::from_static("soapaction");

/// The CWMP HTTP(S) client: TLS trust, proxy and limits, loaded once and shared (cheaply
/// cloned) by every session of an agent or fleet.
///
/// ```no_run
/// # async fn demo() -> Result<(), cpe::transport::TransportError> {
/// use cpe::transport::{Client, Credentials, TransportConfig};
///
/// let client = Client::new(TransportConfig::default())?;
/// let url = "https://acs.example.com:7547/cwmp".parse()?;
/// let mut session = client.open(url, Some(Credentials::new("cpe", "secret"))).await?;
/// let inform_response = session.post(bytes::Bytes::from_static(b"<Envelope/>")).await?;
/// let next = session.post(bytes::Bytes::new()).await?; // empty POST
/// # let _ = (inform_response, next);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: TransportConfig,
    dialer: Dialer,
    user_agent: HeaderValue,
    soap_action: Option<HeaderValue>,
}

impl Client {
    /// Loads the TLS configuration (CA file or system bundle, client certificate) and parses
    /// the proxy. Fails on unreadable files or invalid settings.
    pub fn new(config: TransportConfig) -> Result<Self, TransportError> {
        let tls = tls::client_config(&config.tls)?;
        let proxies = ProxyPolicy::new(&config.proxy)?;
        let header = |name: &'static str, value: &str| {
            HeaderValue::from_str(value).map_err(|_| TransportError::InvalidHeader { name })
        };
        let user_agent = header("User-Agent", &config.user_agent)?;
        let soap_action = config
            .soap_action
            .as_deref()
            .map(|v| header("SOAPAction", v))
            .transpose()?;
        let dialer = Dialer {
            tls,
            insecure: config.tls.insecure,
            proxies,
            connect_timeout: config.connect_timeout,
            last_peer: Mutex::new(None),
        };
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                dialer,
                user_agent,
                soap_action,
            }),
        })
    }

    /// The peer of the latest connection any session or transfer of this client opened: the
    /// server's address, or the HTTP proxy's when one was used; `None` before the first.
    /// With Happy Eyeballs (RFC 8305) it tells which address family won.
    pub fn last_peer(&self) -> Option<SocketAddr> {
        self.shared.dialer.last_peer()
    }

    /// The proxies this client uses, for the other outbound connections of the agent (the
    /// cloud tunnel) to follow the same settings.
    pub fn proxies(&self) -> &ProxyPolicy {
        &self.shared.dialer.proxies
    }

    /// Opens a CWMP session to `url`: connects (TCP, proxy, TLS) right away, with an empty
    /// cookie jar and the ACS credentials (`ManagementServer.Username`/`Password`) to answer
    /// challenges with.
    pub async fn open(
        &self,
        url: AcsUrl,
        credentials: Option<Credentials>,
    ) -> Result<Session, TransportError> {
        let connection = self.shared.dialer.connect(&url).await?;
        Ok(Session {
            shared: self.shared.clone(),
            url,
            auth: Authenticator::new(credentials),
            cookies: CookieJar::default(),
            connection: Some(connection),
            connections_opened: 1,
        })
    }
}

/// The HTTP side of one CWMP session (TR-069 Amd 6 §3.4, §3.7): POSTs go out in order on one
/// HTTP/1.1 connection; cookies and the answered authentication challenge carry over between
/// them. When the ACS closes the connection between requests, the next POST reconnects
/// transparently and the cookies keep the session together.
///
/// Dropping the session closes its connection.
#[derive(Debug)]
pub struct Session {
    shared: Arc<Shared>,
    url: AcsUrl,
    auth: Authenticator,
    cookies: CookieJar,
    connection: Option<Connection>,
    connections_opened: u32,
}

/// The ACS's answer to one POST, after redirects and authentication.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Response {
    /// 2xx, or 500 carrying a SOAP Fault. `204 No Content` (empty body) means the ACS has no
    /// more requests (TR-069 Amd 6 §3.4.6).
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The complete body (at most the configured limit).
    pub body: Bytes,
    /// The URL that answered: differs from the session's original URL after a redirect.
    pub url: AcsUrl,
}

impl Response {
    /// Whether the ACS sent no envelope: `204 No Content` or an empty body, meaning it has no
    /// further requests (TR-069 Amd 6 §3.4.6, §3.7.2.4).
    pub fn is_empty(&self) -> bool {
        self.status == StatusCode::NO_CONTENT || self.body.is_empty()
    }
}

/// A file fetched by [`Client::download`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Downloaded {
    /// Body bytes written to the sink.
    pub bytes: u64,
    /// The URL that served the file (differs from the requested one after a redirect).
    pub url: AcsUrl,
}

/// What one request sends, apart from its target and authorization.
struct Outgoing<'a> {
    method: Method,
    body: &'a Bytes,
    /// `Content-Type`, sent with a non-empty body.
    content_type: Option<HeaderValue>,
    /// Whether to add the configured `SOAPAction` to a non-empty body.
    soap: bool,
}

/// A response whose status and headers have arrived and whose body is still unread.
struct Head {
    status: StatusCode,
    headers: HeaderMap,
    body: Incoming,
    /// The connection the body arrives on: it must stay open (its task alive) until the body
    /// is read, then goes back to the session unless the server asked to close it.
    connection: Connection,
    /// When the response timeout of this exchange expires.
    deadline: Instant,
}

impl Client {
    /// Downloads `url` with `GET` into `sink` (TR-069 Amd 6 A.3.2.8 Download, A.4.1.8
    /// ScheduleDownload): over the client's TLS trust and proxy, answering one Basic or Digest
    /// challenge with `credentials` (the Download's Username/Password), following redirects.
    ///
    /// The body is streamed: at most `max_size` bytes are written, a larger body (announced
    /// or received) fails with [`TransportError::BodyTooLarge`]. The status and headers must
    /// arrive within the response timeout, and each later part of the body within the same
    /// time of the previous one ([`TimeoutKind::Body`]); the caller bounds the whole transfer.
    /// A status other than 2xx is [`TransportError::Status`]; a body that breaks off is
    /// [`TransportError::BodyInterrupted`]; a failing sink is [`TransportError::Sink`].
    pub async fn download<W>(
        &self,
        url: AcsUrl,
        credentials: Option<Credentials>,
        sink: &mut W,
        max_size: u64,
    ) -> Result<Downloaded, TransportError>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let mut session = self.open(url, credentials).await?;
        let empty = Bytes::new();
        let outgoing = Outgoing {
            method: Method::GET,
            body: &empty,
            content_type: None,
            soap: false,
        };
        let head = session.send(&outgoing).await?;
        let bytes = session.stream_body(head, sink, max_size).await?;
        Ok(Downloaded {
            bytes,
            url: session.url,
        })
    }

    /// Sends `body` to `url` with `method` (TR-069 Amd 6 A.4.1.5 Upload: HTTP `PUT`; some
    /// servers want `POST`), with `content_type`, answering one Basic or Digest challenge with
    /// `credentials` and following redirects with the same method and body. Returns the 2xx
    /// status; any other final status is [`TransportError::Status`].
    pub async fn upload(
        &self,
        url: AcsUrl,
        credentials: Option<Credentials>,
        method: Method,
        body: Bytes,
        content_type: &str,
    ) -> Result<StatusCode, TransportError> {
        let content_type =
            HeaderValue::from_str(content_type).map_err(|_| TransportError::InvalidHeader {
                name: "Content-Type",
            })?;
        let mut session = self.open(url, credentials).await?;
        let outgoing = Outgoing {
            method,
            body: &body,
            content_type: Some(content_type),
            soap: false,
        };
        let head = session.send(&outgoing).await?;
        let limit = session.shared.config.max_body_size;
        let (status, _, _) = session.collect(head, limit).await?;
        if !status.is_success() {
            return Err(TransportError::Status {
                status,
                url: session.url.to_string(),
            });
        }
        Ok(status)
    }
}

impl Session {
    /// Sends one POST: `body` is a SOAP envelope, or empty for the CPE's empty POST (sent with
    /// `Content-Length: 0` and no `Content-Type`).
    ///
    /// Follows 301/302/307/308 redirects (keeping the POST and its body; at most
    /// `max_redirects`), answers one 401 challenge (a second 401 is
    /// [`TransportError::AuthRejected`]), and returns 2xx responses and 500 responses with a
    /// body (SOAP Faults). Any other status is [`TransportError::Status`].
    pub async fn post(&mut self, body: Bytes) -> Result<Response, TransportError> {
        let outgoing = Outgoing {
            method: Method::POST,
            body: &body,
            content_type: Some(HeaderValue::from_static(SOAP_CONTENT_TYPE)),
            soap: true,
        };
        let head = self.send(&outgoing).await?;
        let limit = self.shared.config.max_body_size;
        let (status, headers, body) = self.collect(head, limit).await?;
        let fault = status == StatusCode::INTERNAL_SERVER_ERROR && !body.is_empty();
        if !status.is_success() && !fault {
            return Err(TransportError::Status {
                status,
                url: self.url.to_string(),
            });
        }
        Ok(Response {
            status,
            headers,
            body,
            url: self.url.clone(),
        })
    }

    /// The URL the session talks to now: the opened URL, or the target of the last redirect.
    /// TR-069 Amd 6 §3.4.6: use it for the rest of this session only.
    pub fn url(&self) -> &AcsUrl {
        &self.url
    }

    /// How many connections this session has opened (1 unless the ACS closed the connection
    /// or redirected to another server).
    pub fn connections_opened(&self) -> u32 {
        self.connections_opened
    }

    /// Sends `outgoing` until a final response: follows redirects (at most `max_redirects`)
    /// and answers one 401 challenge. Returns the final response with its body unread.
    async fn send(&mut self, outgoing: &Outgoing<'_>) -> Result<Head, TransportError> {
        let max_redirects = self.shared.config.max_redirects;
        let mut redirects = 0u8;
        let mut challenges_answered = 0u8;
        loop {
            let target = self.request_target();
            let authorization =
                self.auth
                    .authorization(outgoing.method.as_str(), &target, outgoing.body)?;
            let authorized = authorization.is_some();
            let head = self.exchange(&target, outgoing, authorization).await?;
            let status = head.status;
            debug!(url = %self.url, method = %outgoing.method, %status, "response");

            if status == StatusCode::UNAUTHORIZED {
                let headers = self.discard(head).await?;
                let basic_allowed = self.url.is_https() || self.shared.config.allow_basic_over_http;
                let stale = self.auth.challenge(&headers, basic_allowed)?;
                // A second 401 after answering means wrong credentials, unless the server says
                // only the nonce was stale (RFC 7616 §3.3); never loop more than twice.
                if challenges_answered >= 2 || (challenges_answered == 1 && !stale) {
                    let realm = self.auth.realm();
                    self.auth.reset();
                    return Err(TransportError::AuthRejected { realm });
                }
                challenges_answered += 1;
                continue;
            }
            if authorized && challenges_answered > 0 {
                debug!(url = %self.url, "server accepted the credentials");
            }
            if status == StatusCode::PROXY_AUTHENTICATION_REQUIRED
                && let Some(proxy) = self.shared.dialer.absolute_form(&self.url)
            {
                return Err(proxy.refusal(status, &self.url.authority()).into());
            }
            let redirect = matches!(
                status,
                StatusCode::MOVED_PERMANENTLY
                    | StatusCode::FOUND
                    | StatusCode::TEMPORARY_REDIRECT
                    | StatusCode::PERMANENT_REDIRECT
            ) || (status == StatusCode::SEE_OTHER && outgoing.method == Method::GET);
            if redirect {
                if redirects >= max_redirects {
                    return Err(TransportError::TooManyRedirects { max: max_redirects });
                }
                redirects += 1;
                challenges_answered = 0;
                let headers = self.discard(head).await?;
                self.follow(status, &headers)?;
                continue;
            }
            return Ok(head);
        }
    }

    /// The request-target: origin-form, or absolute-form through an HTTP proxy.
    fn request_target(&self) -> String {
        if self.shared.dialer.absolute_form(&self.url).is_some() {
            self.url.to_string()
        } else {
            self.url.path_and_query().to_owned()
        }
    }

    fn follow(&mut self, status: StatusCode, headers: &HeaderMap) -> Result<(), TransportError> {
        let next = headers
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| self.url.join(l).ok())
            .ok_or(TransportError::BadRedirect { status })?;
        if self.url.is_https() && !next.is_https() {
            return Err(TransportError::InsecureRedirect {
                location: next.to_string(),
            });
        }
        if !next.same_origin(&self.url) {
            // Another server: a new connection, and neither the cookies nor the answered
            // challenge of the old server go there.
            self.connection = None;
            self.cookies.clear();
            self.auth.reset();
        }
        crate::oplog!(CWMP_REDIRECTED, from = %self.url, to = %next, %status, "server redirected the request");
        self.url = next;
        Ok(())
    }

    /// Sends one request and waits for the response head, within the response timeout.
    async fn exchange(
        &mut self,
        target: &str,
        outgoing: &Outgoing<'_>,
        authorization: Option<HeaderValue>,
    ) -> Result<Head, TransportError> {
        let mut retried = false;
        loop {
            let mut connection = self.take_connection().await?;
            let reused = connection.requests > 0;
            connection.requests += 1;
            let request = self.build_request(target, outgoing, authorization.clone())?;
            let deadline = Instant::now() + self.shared.config.response_timeout;
            let result =
                tokio::time::timeout_at(deadline, connection.sender.send_request(request)).await;
            let response = match result {
                Ok(Ok(response)) => response,
                Ok(Err(error)) if reused && !retried && closed_by_peer(&error) => {
                    // The server closed the idle connection as we sent (GenieACS closes after
                    // every response): the request never reached it, so send it again.
                    debug!(url = %self.url, %error, "server closed the connection; reconnecting");
                    retried = true;
                    continue;
                }
                Ok(Err(error)) => return Err(Failure::Send(error).into_error(&self.url)),
                Err(_) => {
                    return Err(TransportError::Timeout {
                        what: TimeoutKind::Response,
                    });
                }
            };
            let (parts, body) = response.into_parts();
            for set_cookie in parts.headers.get_all(SET_COOKIE) {
                self.cookies.store(set_cookie);
            }
            return Ok(Head {
                status: parts.status,
                headers: parts.headers,
                body,
                connection,
                deadline,
            });
        }
    }

    /// Reads the whole body of `head`, at most `limit` bytes, within the exchange's response
    /// timeout; then keeps the connection for the next request.
    async fn collect(
        &mut self,
        head: Head,
        limit: usize,
    ) -> Result<(StatusCode, HeaderMap, Bytes), TransportError> {
        let Head {
            status,
            headers,
            body,
            connection,
            deadline,
        } = head;
        if content_length(&headers).is_some_and(|len| len > limit as u64) {
            return Err(TransportError::BodyTooLarge { max: limit });
        }
        let collected = tokio::time::timeout_at(deadline, Limited::new(body, limit).collect())
            .await
            .map_err(|_| TransportError::Timeout {
                what: TimeoutKind::Response,
            })?
            .map_err(|error| {
                if error.is::<LengthLimitError>() {
                    TransportError::BodyTooLarge { max: limit }
                } else {
                    Failure::Body(error).into_error(&self.url)
                }
            })?;
        self.release(connection, &headers);
        Ok((status, headers, collected.to_bytes()))
    }

    /// Reads and drops the body of an intermediate response (401, redirect), so the
    /// connection can carry the next request; returns the headers.
    async fn discard(&mut self, head: Head) -> Result<HeaderMap, TransportError> {
        let limit = self.shared.config.max_body_size;
        self.collect(head, limit)
            .await
            .map(|(_, headers, _)| headers)
    }

    /// Streams a 2xx body into `sink`, at most `max` bytes, each part within the response
    /// timeout of the previous one. Returns the bytes written.
    async fn stream_body<W>(
        &mut self,
        head: Head,
        sink: &mut W,
        max: u64,
    ) -> Result<u64, TransportError>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let too_large = || TransportError::BodyTooLarge {
            max: usize::try_from(max).unwrap_or(usize::MAX),
        };
        if !head.status.is_success() {
            // Dropping the head drops its connection with the unread body.
            return Err(TransportError::Status {
                status: head.status,
                url: self.url.to_string(),
            });
        }
        if content_length(&head.headers).is_some_and(|len| len > max) {
            return Err(too_large());
        }
        let Head {
            headers,
            mut body,
            connection,
            ..
        } = head;
        let idle = self.shared.config.response_timeout;
        let mut received = 0u64;
        loop {
            let frame = match tokio::time::timeout(idle, body.frame()).await {
                Err(_) => {
                    return Err(TransportError::Timeout {
                        what: TimeoutKind::Body,
                    });
                }
                Ok(None) => break,
                Ok(Some(Err(error))) => {
                    return Err(match Failure::Body(error.into()).into_error(&self.url) {
                        TransportError::Http { source, .. } => {
                            TransportError::BodyInterrupted { received, source }
                        }
                        tls => tls,
                    });
                }
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            received = received.saturating_add(data.len() as u64);
            if received > max {
                return Err(too_large());
            }
            sink.write_all(&data)
                .await
                .map_err(|source| TransportError::Sink { source })?;
        }
        sink.flush()
            .await
            .map_err(|source| TransportError::Sink { source })?;
        self.release(connection, &headers);
        Ok(received)
    }

    /// Keeps `connection` for the next request unless the server asked to close it.
    fn release(&mut self, connection: Connection, headers: &HeaderMap) {
        let close = headers
            .get(CONNECTION)
            .is_some_and(|c| c.as_bytes().eq_ignore_ascii_case(b"close"));
        if !close {
            self.connection = Some(connection);
        }
    }

    /// The open connection to the current URL, or a new one.
    async fn take_connection(&mut self) -> Result<Connection, TransportError> {
        if let Some(mut connection) = self.connection.take() {
            if connection.origin.same_origin(&self.url) && connection.ready().await {
                return Ok(connection);
            }
            debug!(url = %self.url, "connection closed; opening a new one");
        }
        let connection = self.shared.dialer.connect(&self.url).await?;
        self.connections_opened += 1;
        Ok(connection)
    }

    fn build_request(
        &self,
        target: &str,
        outgoing: &Outgoing<'_>,
        authorization: Option<HeaderValue>,
    ) -> Result<Request<Full<Bytes>>, TransportError> {
        let shared = &self.shared;
        let invalid = || TransportError::InvalidUrl {
            url: self.url.to_string(),
            reason: "not usable as an HTTP request",
        };
        let body = outgoing.body;
        let mut request = Request::builder()
            .method(outgoing.method.clone())
            .uri(target)
            .body(Full::new(body.clone()))
            .map_err(|_| invalid())?;
        let headers = request.headers_mut();
        headers.insert(
            HOST,
            HeaderValue::from_str(&self.url.host_header()).map_err(|_| invalid())?,
        );
        headers.insert(USER_AGENT, shared.user_agent.clone());
        if outgoing.method != Method::GET || !body.is_empty() {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        if !body.is_empty() {
            if let Some(content_type) = &outgoing.content_type {
                headers.insert(CONTENT_TYPE, content_type.clone());
            }
            if outgoing.soap
                && let Some(action) = &shared.soap_action
            {
                headers.insert(SOAP_ACTION.clone(), action.clone());
            }
        }
        if let Some(cookie) = self.cookies.header() {
            headers.insert(COOKIE, cookie);
        }
        if let Some(authorization) = authorization {
            headers.insert(AUTHORIZATION, authorization);
        }
        if let Some(proxy) = shared.dialer.absolute_form(&self.url)
            && let Some(proxy_authorization) = proxy.authorization()
        {
            headers.insert(PROXY_AUTHORIZATION, proxy_authorization.clone());
        }
        Ok(request)
    }
}

/// Why one exchange failed, before mapping to [`TransportError`].
enum Failure {
    /// Sending or waiting for the response head failed.
    Send(hyper::Error),
    /// Reading the body failed.
    Body(Box<dyn std::error::Error + Send + Sync>),
}

impl Failure {
    fn into_error(self, url: &AcsUrl) -> TransportError {
        let source: Box<dyn std::error::Error + Send + Sync> = match self {
            Self::Send(error) => error.into(),
            Self::Body(error) => error,
        };
        if url.is_https()
            && let Some(error) = tls::classify(source.as_ref(), url.host())
        {
            return error;
        }
        TransportError::Http {
            addr: url.authority(),
            source,
        }
    }
}

/// The `Content-Length` a response announces, if any.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Whether a send failed because the peer had closed the (idle) connection, so the request
/// did not reach the server.
fn closed_by_peer(error: &hyper::Error) -> bool {
    if error.is_canceled() || error.is_closed() || error.is_incomplete_message() {
        return true;
    }
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            );
        }
        source = inner.source();
    }
    false
}
