//! One HTTP proxy: its parsed address and credentials, the TCP connection to it (Happy
//! Eyeballs over its addresses), and the `CONNECT` tunnel through it (RFC 9110 §9.3.6) with
//! `Proxy-Authorization: Basic` (RFC 9110 §11.7.2, RFC 7617).

use std::net::SocketAddr;

use http::{HeaderValue, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::debug;

use crate::transport::{AcsUrl, ProxyConfig, ProxyError, TransportError};

/// Largest `CONNECT` response head read from a proxy.
const MAX_PROXY_HEAD: usize = 8 * 1024;

/// A parsed [`ProxyConfig`].
#[derive(Debug)]
pub struct Proxy {
    host: String,
    port: u16,
    /// `Proxy-Authorization` value, sent with every request to the proxy.
    authorization: Option<HeaderValue>,
}

impl Proxy {
    /// Parses `http://[user:password@]host:port[/]` (the scheme may be left out, as curl
    /// allows); the configured credentials win over user information in the URL.
    pub fn from_config(config: &ProxyConfig) -> Result<Self, TransportError> {
        let invalid = |reason: &'static str| TransportError::InvalidUrl {
            url: config.url.clone(),
            reason,
        };
        let raw = config.url.trim();
        let rest = match raw.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some(_) => return Err(invalid("only http:// proxies are supported")),
            None => raw,
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        let parsed: AcsUrl = format!("http://{host_port}")
            .parse()
            .map_err(|_| invalid("bad proxy host or port"))?;
        let credentials = match (&config.credentials, userinfo) {
            (Some(c), _) => Some((c.username.clone(), c.password.clone())),
            (None, Some(userinfo)) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                Some((user.to_owned(), password.to_owned()))
            }
            (None, None) => None,
        };
        let authorization = credentials
            .map(|(user, password)| {
                HeaderValue::from_str(&http_auth::basic::encode_credentials(&user, &password))
                    .map_err(|_| invalid("proxy credentials are not valid in a header"))
            })
            .transpose()?;
        Ok(Self {
            host: parsed.host().to_owned(),
            port: parsed.port(),
            authorization,
        })
    }

    /// The proxy's host (an IPv6 literal without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port` of the proxy, as errors and logs name it.
    pub fn authority(&self) -> String {
        super::authority(&self.host, self.port)
    }

    /// The `Proxy-Authorization` value sent with every request to the proxy, if any.
    pub fn authorization(&self) -> Option<&HeaderValue> {
        self.authorization.as_ref()
    }

    /// Opens TCP to the proxy (its name resolved, Happy Eyeballs over its addresses).
    pub async fn connect(&self) -> Result<(TcpStream, SocketAddr), ProxyError> {
        super::tcp(&self.host, self.port)
            .await
            .map_err(|source| self.unreachable(source))
    }

    /// Opens TCP to the proxy over addresses already resolved (their ports are replaced by
    /// the proxy's).
    pub async fn connect_to(
        &self,
        addresses: &[SocketAddr],
    ) -> Result<(TcpStream, SocketAddr), ProxyError> {
        let addresses: Vec<_> = addresses
            .iter()
            .map(|a| SocketAddr::new(a.ip(), self.port))
            .collect();
        super::tcp_to(&addresses)
            .await
            .map_err(|source| self.unreachable(source))
    }

    fn unreachable(&self, source: std::io::Error) -> ProxyError {
        ProxyError::Connect {
            proxy: self.authority(),
            source,
        }
    }

    /// Asks the proxy on `stream` for a `CONNECT` tunnel to `target` (`host:port`,
    /// RFC 9110 §9.3.6) and returns the stream once the proxy answered 2xx. A 407 is
    /// [`ProxyError::AuthRequired`] or [`ProxyError::AuthRejected`] (credentials sent), any
    /// other status [`ProxyError::Refused`].
    pub async fn tunnel<S>(&self, mut stream: S, target: &str) -> Result<S, ProxyError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let io_error = |source| self.unreachable(source);
        let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        if let Some(authorization) = &self.authorization {
            head.push_str("Proxy-Authorization: ");
            // Built from a String in `from_config`, so it is valid UTF-8.
            head.push_str(authorization.to_str().unwrap_or_default());
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.map_err(io_error)?;

        let invalid = |reason| ProxyError::InvalidResponse {
            proxy: self.authority(),
            reason,
        };
        let mut buf = Vec::with_capacity(512);
        let head_len = loop {
            let mut chunk = [0u8; 512];
            let n = stream.read(&mut chunk).await.map_err(io_error)?;
            if n == 0 {
                return Err(invalid("proxy closed the connection"));
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if buf.len() > MAX_PROXY_HEAD {
                return Err(invalid("response head too large"));
            }
        };
        let status = parse_status_line(&buf).ok_or_else(|| invalid("bad status line"))?;
        if status.is_success() {
            if head_len != buf.len() {
                // The server speaks only after our ClientHello: extra bytes mean a confused
                // proxy.
                return Err(invalid("data after the CONNECT response"));
            }
            debug!(proxy = %self.authority(), %target, "proxy tunnel established");
            return Ok(stream);
        }
        Err(self.refusal(status, target))
    }

    /// The error for a proxy's final non-2xx answer `status` to a request for `target`.
    pub fn refusal(&self, status: StatusCode, target: &str) -> ProxyError {
        let proxy = self.authority();
        match status {
            StatusCode::PROXY_AUTHENTICATION_REQUIRED if self.authorization.is_some() => {
                ProxyError::AuthRejected { proxy }
            }
            StatusCode::PROXY_AUTHENTICATION_REQUIRED => ProxyError::AuthRequired { proxy },
            status => ProxyError::Refused {
                proxy,
                target: target.to_owned(),
                status,
            },
        }
    }
}

/// `HTTP/1.x NNN reason` → `NNN`.
fn parse_status_line(head: &[u8]) -> Option<StatusCode> {
    let line = head.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    StatusCode::from_bytes(parts.next()?.as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Credentials;

    fn proxy(url: &str, credentials: Option<Credentials>) -> Result<Proxy, TransportError> {
        Proxy::from_config(&ProxyConfig {
            url: url.into(),
            credentials,
        })
    }

    #[test]
    fn parses_proxy_config() {
        let parsed = proxy("http://bob:s3cret@proxy.lan:3128/", None).unwrap();
        assert_eq!(parsed.authority(), "proxy.lan:3128");
        assert_eq!(
            parsed.authorization().unwrap(),
            &http_auth::basic::encode_credentials("bob", "s3cret")
        );

        let parsed = proxy("[::1]:8080", Some(Credentials::new("a", "b"))).unwrap();
        assert_eq!(parsed.authority(), "[::1]:8080");
        assert_eq!(parsed.host(), "::1");
        assert!(parsed.authorization().is_some());

        for bad in [
            "https://proxy:443",
            "socks5://p:1080",
            "http://",
            "http://proxy:notaport",
        ] {
            assert!(proxy(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_status_lines() {
        assert_eq!(
            parse_status_line(b"HTTP/1.1 200 Connection established\r\n\r\n"),
            Some(StatusCode::OK)
        );
        assert_eq!(
            parse_status_line(b"HTTP/1.0 407 Auth\r\n"),
            Some(StatusCode::PROXY_AUTHENTICATION_REQUIRED)
        );
        assert_eq!(parse_status_line(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status_line(b"HTTP/1.1 abc\r\n"), None);
    }

    #[test]
    fn a_refusal_names_the_proxy_the_target_and_the_status() {
        let parsed = proxy("http://proxy.example:3128", None).unwrap();
        let refused = parsed.refusal(StatusCode::FORBIDDEN, "acs:443");
        assert_eq!(
            TransportError::from(refused).to_string(),
            "HTTP proxy proxy.example:3128 refused CONNECT to acs:443: 403 Forbidden"
        );
        assert!(matches!(
            parsed.refusal(StatusCode::PROXY_AUTHENTICATION_REQUIRED, "acs:443"),
            ProxyError::AuthRequired { .. }
        ));
        let with_auth = proxy("http://u:p@proxy.example:3128", None).unwrap();
        let rejected = with_auth.refusal(StatusCode::PROXY_AUTHENTICATION_REQUIRED, "acs:443");
        assert_eq!(
            rejected.to_string(),
            "HTTP proxy proxy.example:3128 rejected the configured credentials (407)"
        );
    }
}
