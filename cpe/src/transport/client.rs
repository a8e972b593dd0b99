//! [`Client`] (shared settings) and [`Session`] (one CWMP session's connection, cookies and
//! authentication).

use std::sync::Arc;

use bytes::Bytes;
use http::header::{
    AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, LOCATION,
    PROXY_AUTHORIZATION, SET_COOKIE, USER_AGENT,
};
use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tracing::{debug, info};

use super::auth::Authenticator;
use super::config::{Credentials, TransportConfig};
use super::connect::{Connection, Dialer, Proxy};
use super::cookie::CookieJar;
use super::error::{ProxyError, TimeoutKind, TransportError};
use super::tls;
use super::url::AcsUrl;

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
        let proxy = config.proxy.as_ref().map(Proxy::from_config).transpose()?;
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
            proxy,
            connect_timeout: config.connect_timeout,
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

/// One HTTP exchange before redirect/auth handling.
struct Exchange {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
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
        let max_redirects = self.shared.config.max_redirects;
        let mut redirects = 0u8;
        let mut challenges_answered = 0u8;
        loop {
            let target = self.request_target();
            let authorization = self.auth.authorization(&target, &body)?;
            let authorized = authorization.is_some();
            let exchange = self.exchange(&target, &body, authorization).await?;
            let status = exchange.status;
            debug!(url = %self.url, %status, bytes = exchange.body.len(), "ACS response");

            if status == StatusCode::UNAUTHORIZED {
                let basic_allowed = self.url.is_https() || self.shared.config.allow_basic_over_http;
                let stale = self.auth.challenge(&exchange.headers, basic_allowed)?;
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
                debug!(url = %self.url, "ACS accepted the credentials");
            }
            if status == StatusCode::PROXY_AUTHENTICATION_REQUIRED
                && self.shared.dialer.absolute_form(&self.url)
            {
                let proxy = self.shared.dialer.proxy.as_ref();
                return Err(if proxy.is_some_and(|p| p.authorization.is_some()) {
                    ProxyError::AuthRejected
                } else {
                    ProxyError::AuthRequired
                }
                .into());
            }
            if matches!(
                status,
                StatusCode::MOVED_PERMANENTLY
                    | StatusCode::FOUND
                    | StatusCode::TEMPORARY_REDIRECT
                    | StatusCode::PERMANENT_REDIRECT
            ) {
                if redirects >= max_redirects {
                    return Err(TransportError::TooManyRedirects { max: max_redirects });
                }
                redirects += 1;
                challenges_answered = 0;
                self.follow(status, &exchange.headers)?;
                continue;
            }

            let fault = status == StatusCode::INTERNAL_SERVER_ERROR && !exchange.body.is_empty();
            if !status.is_success() && !fault {
                return Err(TransportError::Status {
                    status,
                    url: self.url.to_string(),
                });
            }
            return Ok(Response {
                status,
                headers: exchange.headers,
                body: exchange.body,
                url: self.url.clone(),
            });
        }
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

    /// The request-target: origin-form, or absolute-form through an HTTP proxy.
    fn request_target(&self) -> String {
        if self.shared.dialer.absolute_form(&self.url) {
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
        info!(from = %self.url, to = %next, %status, "ACS redirected the session");
        self.url = next;
        Ok(())
    }

    async fn exchange(
        &mut self,
        target: &str,
        body: &Bytes,
        authorization: Option<HeaderValue>,
    ) -> Result<Exchange, TransportError> {
        let mut retried = false;
        loop {
            let mut connection = self.take_connection().await?;
            let reused = connection.requests > 0;
            connection.requests += 1;
            let request = self.build_request(target, body, authorization.clone())?;
            let limit = self.shared.config.max_body_size;
            let result = tokio::time::timeout(
                self.shared.config.response_timeout,
                send(&mut connection, request, limit),
            )
            .await;
            let exchange = match result {
                Ok(Ok(exchange)) => exchange,
                Ok(Err(Failure::Send(error))) if reused && !retried && closed_by_peer(&error) => {
                    // The ACS closed the idle connection as we sent (GenieACS closes after
                    // every response): the request never reached it, so send it again.
                    debug!(url = %self.url, %error, "ACS closed the connection; reconnecting");
                    retried = true;
                    continue;
                }
                Ok(Err(failure)) => return Err(failure.into_error(&self.url)),
                Err(_) => {
                    return Err(TransportError::Timeout {
                        what: TimeoutKind::Response,
                    });
                }
            };
            for set_cookie in exchange.headers.get_all(SET_COOKIE) {
                self.cookies.store(set_cookie);
            }
            let close = exchange
                .headers
                .get(CONNECTION)
                .is_some_and(|c| c.as_bytes().eq_ignore_ascii_case(b"close"));
            if !close {
                self.connection = Some(connection);
            }
            return Ok(exchange);
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
        body: &Bytes,
        authorization: Option<HeaderValue>,
    ) -> Result<Request<Full<Bytes>>, TransportError> {
        let shared = &self.shared;
        let invalid = || TransportError::InvalidUrl {
            url: self.url.to_string(),
            reason: "not usable as an HTTP request",
        };
        let mut request = Request::post(target)
            .body(Full::new(body.clone()))
            .map_err(|_| invalid())?;
        let headers = request.headers_mut();
        headers.insert(
            HOST,
            HeaderValue::from_str(&self.url.host_header()).map_err(|_| invalid())?,
        );
        headers.insert(USER_AGENT, shared.user_agent.clone());
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        if !body.is_empty() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(SOAP_CONTENT_TYPE));
            if let Some(action) = &shared.soap_action {
                headers.insert(SOAP_ACTION.clone(), action.clone());
            }
        }
        if let Some(cookie) = self.cookies.header() {
            headers.insert(COOKIE, cookie);
        }
        if let Some(authorization) = authorization {
            headers.insert(AUTHORIZATION, authorization);
        }
        if shared.dialer.absolute_form(&self.url)
            && let Some(proxy) = &shared.dialer.proxy
            && let Some(proxy_authorization) = &proxy.authorization
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
    TooLarge {
        max: usize,
    },
}

impl Failure {
    fn into_error(self, url: &AcsUrl) -> TransportError {
        let source: Box<dyn std::error::Error + Send + Sync> = match self {
            Self::TooLarge { max } => return TransportError::BodyTooLarge { max },
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

/// Sends `request` and reads the whole response, bounded by `limit` bytes of body.
async fn send(
    connection: &mut Connection,
    request: Request<Full<Bytes>>,
    limit: usize,
) -> Result<Exchange, Failure> {
    let response = connection
        .sender
        .send_request(request)
        .await
        .map_err(Failure::Send)?;
    let (parts, incoming) = response.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(Failure::TooLarge { max: limit });
    }
    let body = Limited::new(incoming, limit)
        .collect()
        .await
        .map_err(|error| {
            if error.is::<LengthLimitError>() {
                Failure::TooLarge { max: limit }
            } else {
                Failure::Body(error)
            }
        })?
        .to_bytes();
    Ok(Exchange {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// Whether a send failed because the peer had closed the (idle) connection, so the request
/// did not reach the ACS.
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
