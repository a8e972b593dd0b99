//! One Connection Request exchange (TR-069 Amd 6 §3.2.2): `GET` the URL; on `401` answer the
//! challenge (RFC 7616 Digest, or RFC 7617 Basic when allowed) and `GET` again, on the same
//! connection when the CPE kept it open.

use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, HOST, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Request, StatusCode, Uri};
use http_auth::{PasswordClient, PasswordParams};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::AbortHandle;
use tracing::debug;

use super::ConnReqError;
use crate::store::Credentials;

/// The most body bytes read from a response before the connection is dropped instead.
const MAX_BODY: usize = 16 * 1024;

/// Sends a Connection Request to `url` (`http://` only), answering a Digest challenge, and a
/// Basic one only when `allow_basic`. `200` or `204` is success. The whole exchange, connecting
/// included, must end within `timeout`.
pub async fn request(
    url: &str,
    credentials: Option<&Credentials>,
    allow_basic: bool,
    timeout: Duration,
) -> Result<(), ConnReqError> {
    let target = Target::parse(url)?;
    tokio::time::timeout(timeout, exchange(&target, credentials, allow_basic))
        .await
        .unwrap_or_else(|_| {
            Err(ConnReqError::Timeout {
                url: url.to_owned(),
                after: timeout,
            })
        })
}

async fn exchange(
    target: &Target,
    credentials: Option<&Credentials>,
    allow_basic: bool,
) -> Result<(), ConnReqError> {
    let mut connection = Connection::open(target).await?;
    let (status, headers) = connection.get(target, None).await?;
    if status != StatusCode::UNAUTHORIZED {
        return outcome(target, status);
    }
    let credentials = credentials.ok_or_else(|| ConnReqError::NoCredentials {
        url: target.url.clone(),
    })?;
    let authorization = answer(target, &headers, credentials, allow_basic)?;
    if !connection.reusable().await {
        connection = Connection::open(target).await?;
    }
    let (status, _) = connection.get(target, Some(authorization)).await?;
    if status == StatusCode::UNAUTHORIZED {
        return Err(ConnReqError::CredentialsRefused {
            url: target.url.clone(),
        });
    }
    outcome(target, status)
}

fn outcome(target: &Target, status: StatusCode) -> Result<(), ConnReqError> {
    match status {
        StatusCode::OK | StatusCode::NO_CONTENT => Ok(()),
        status => Err(ConnReqError::Rejected {
            url: target.url.clone(),
            status,
        }),
    }
}

/// The `Authorization` answering the challenges of a 401.
fn answer(
    target: &Target,
    headers: &HeaderMap,
    credentials: &Credentials,
    allow_basic: bool,
) -> Result<HeaderValue, ConnReqError> {
    let bad = |reason: String| ConnReqError::BadChallenge {
        url: target.url.clone(),
        reason,
    };
    let mut builder = PasswordClient::builder();
    for value in headers.get_all(WWW_AUTHENTICATE) {
        let value = value
            .to_str()
            .map_err(|_| bad("WWW-Authenticate is not text".to_owned()))?;
        builder = builder.challenges(value);
    }
    // Digest is preferred whenever the CPE offers it.
    let mut client = builder.build().map_err(bad)?;
    if matches!(client, PasswordClient::Basic(_)) && !allow_basic {
        return Err(ConnReqError::BasicRefused {
            url: target.url.clone(),
        });
    }
    let value = client
        .respond(&PasswordParams {
            username: &credentials.username,
            password: &credentials.password,
            uri: &target.request_target,
            method: "GET",
            body: None,
        })
        .map_err(bad)?;
    HeaderValue::from_str(&value).map_err(|_| bad("credentials are not header text".to_owned()))
}

/// A parsed ConnectionRequestURL.
struct Target {
    url: String,
    /// Host name or address, without IPv6 brackets.
    host: String,
    port: u16,
    /// `Host` header value.
    authority: HeaderValue,
    /// Path and query, as sent in the request line.
    request_target: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, ConnReqError> {
        let bad = |reason| ConnReqError::BadUrl {
            url: url.to_owned(),
            reason,
        };
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(_) => return Err(bad("only http:// URLs are supported")),
            None => return Err(bad("no scheme")),
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user information in the URL is not supported"));
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(Self {
            url: url.to_owned(),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: authority.port_u16().unwrap_or(80),
            authority: HeaderValue::from_str(authority.as_str()).map_err(|_| bad("bad host"))?,
            request_target: uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), ToString::to_string),
        })
    }

    fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One HTTP/1.1 connection to the CPE; its driver task ends when this is dropped.
struct Connection {
    sender: SendRequest<Empty<Bytes>>,
    driver: AbortHandle,
}

impl Connection {
    async fn open(target: &Target) -> Result<Self, ConnReqError> {
        let unreachable = |source| ConnReqError::Unreachable {
            addr: target.addr(),
            source,
        };
        let stream = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(unreachable)?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|source| http_error(target, source))?;
        let driver = tokio::spawn(async move {
            if let Err(e) = connection.await {
                debug!(error = %e, "Connection Request connection ended with an error");
            }
        })
        .abort_handle();
        Ok(Self { sender, driver })
    }

    /// Sends a `GET` and reads the response (its body is drained, up to a limit, so the
    /// connection can carry the authenticated retry).
    async fn get(
        &mut self,
        target: &Target,
        authorization: Option<HeaderValue>,
    ) -> Result<(StatusCode, HeaderMap), ConnReqError> {
        let mut request = Request::get(target.request_target.as_str())
            .header(HOST, target.authority.clone())
            .body(Empty::new())
            .map_err(|_| ConnReqError::BadUrl {
                url: target.url.clone(),
                reason: "cannot form a request for it",
            })?;
        if let Some(authorization) = authorization {
            request.headers_mut().insert(AUTHORIZATION, authorization);
        }
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|source| http_error(target, source))?;
        let (parts, body) = response.into_parts();
        debug!(url = target.url, status = %parts.status, "Connection Request answered");
        if Limited::new(body, MAX_BODY).collect().await.is_err() {
            // Unread body: the connection cannot be reused; `reusable` will say so.
            self.driver.abort();
        }
        Ok((parts.status, parts.headers))
    }

    /// Whether the connection can take another request (the CPE did not close it).
    async fn reusable(&mut self) -> bool {
        !self.driver.is_finished() && self.sender.ready().await.is_ok()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

fn http_error(target: &Target, source: hyper::Error) -> ConnReqError {
    ConnReqError::Http {
        url: target.url.clone(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(url: &str) -> &'static str {
        match Target::parse(url) {
            Err(ConnReqError::BadUrl { reason, .. }) => reason,
            other => panic!("{url}: {:?}", other.map(|t| t.url)),
        }
    }

    #[test]
    fn urls_are_parsed_into_address_and_target() {
        let t = Target::parse("http://10.0.0.1:7547/cr-abc?x=1").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("10.0.0.1", 7547));
        assert_eq!(t.request_target, "/cr-abc?x=1");
        assert_eq!(t.authority, "10.0.0.1:7547");
        let t = Target::parse("http://[::1]/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 80));
        assert_eq!(t.addr(), "[::1]:80");
        assert_eq!(Target::parse("http://cpe").unwrap().request_target, "/");
    }

    #[test]
    fn unusable_urls_are_refused_with_a_reason() {
        assert_eq!(bad("https://cpe/"), "only http:// URLs are supported");
        assert_eq!(bad("ftp://cpe/x"), "only http:// URLs are supported");
        assert_eq!(bad("/just/a/path"), "no scheme");
        assert_eq!(bad("not a url"), "not a URL");
        assert_eq!(
            bad("http://u:p@cpe/"),
            "user information in the URL is not supported"
        );
    }
}
