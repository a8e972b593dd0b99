//! Opening the one HTTP/1.1 connection of a CWMP session: TCP (directly or through an HTTP
//! proxy), optional TLS (TR-069 Amd 6 §3.3), then hyper's `client::conn::http1` handshake.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tracing::debug;

use super::config::ProxyConfig;
use super::error::{ProxyError, TimeoutKind, TransportError};
use super::tls;
use super::url::{AcsUrl, Scheme};

/// Largest `CONNECT` response head read from a proxy.
const MAX_PROXY_HEAD: usize = 8 * 1024;

/// Opens connections; one per [`Client`](super::Client), shared by its sessions.
#[derive(Debug)]
pub(crate) struct Dialer {
    pub(crate) tls: Arc<ClientConfig>,
    pub(crate) insecure: bool,
    pub(crate) proxy: Option<Proxy>,
    pub(crate) connect_timeout: Duration,
}

impl Dialer {
    /// Opens a connection to `url` within the connect timeout.
    pub(crate) async fn connect(&self, url: &AcsUrl) -> Result<Connection, TransportError> {
        tokio::time::timeout(self.connect_timeout, self.connect_inner(url))
            .await
            .map_err(|_| TransportError::Timeout {
                what: TimeoutKind::Connect,
            })?
    }

    /// Whether requests to `url` go to an HTTP proxy in absolute-form.
    pub(crate) fn absolute_form(&self, url: &AcsUrl) -> bool {
        self.proxy.is_some() && url.scheme() == Scheme::Http
    }

    async fn connect_inner(&self, url: &AcsUrl) -> Result<Connection, TransportError> {
        let tcp = match &self.proxy {
            Some(proxy) => {
                let tcp = tcp_connect(&proxy.host, proxy.port)
                    .await
                    .map_err(|source| ProxyError::Connect {
                        addr: proxy.authority(),
                        source,
                    })?;
                if url.is_https() {
                    proxy.tunnel(tcp, url).await?
                } else {
                    tcp
                }
            }
            None => tcp_connect(url.host(), url.port())
                .await
                .map_err(|source| TransportError::Connect {
                    addr: url.authority(),
                    source,
                })?,
        };
        // CWMP is request/response with small messages: do not wait for Nagle.
        if let Err(error) = tcp.set_nodelay(true) {
            debug!(%error, "cannot set TCP_NODELAY");
        }

        let stream = if url.is_https() {
            if self.insecure {
                crate::oplog!(TLS_INSECURE_CONNECT, url = %url, "connecting WITHOUT verifying the ACS certificate (insecure)");
            }
            let name = tls::server_name(url.host())?;
            let tls = TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|error| match tls::classify(&error, url.host()) {
                    Some(classified) => classified,
                    None => TransportError::Connect {
                        addr: url.authority(),
                        source: error,
                    },
                })?;
            Stream::Tls(Box::new(tls))
        } else {
            Stream::Plain(tcp)
        };

        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|source| TransportError::Http {
                addr: url.authority(),
                source: source.into(),
            })?;
        let addr = url.authority();
        let task = tokio::spawn(async move {
            if let Err(error) = connection.await {
                debug!(%addr, %error, "ACS connection ended with an error");
            }
        });
        debug!(url = %url, "connection to ACS opened");
        Ok(Connection {
            sender,
            task,
            origin: url.clone(),
            requests: 0,
        })
    }
}

/// One open HTTP/1.1 connection: hyper's request sender plus the task driving the socket.
/// Dropping it closes the socket.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) sender: SendRequest<Full<Bytes>>,
    task: JoinHandle<()>,
    /// Scheme, host and port this connection reaches.
    pub(crate) origin: AcsUrl,
    /// Requests sent on it so far.
    pub(crate) requests: u32,
}

impl Connection {
    /// Whether another request can go out on this connection now (the peer has not closed it
    /// and the previous exchange is complete).
    pub(crate) async fn ready(&mut self) -> bool {
        !self.sender.is_closed() && self.sender.ready().await.is_ok()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A parsed [`ProxyConfig`].
#[derive(Debug)]
pub(crate) struct Proxy {
    host: String,
    port: u16,
    /// `Proxy-Authorization` value, sent with every request to the proxy.
    pub(crate) authorization: Option<HeaderValue>,
}

impl Proxy {
    pub(crate) fn from_config(config: &ProxyConfig) -> Result<Self, TransportError> {
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

    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Asks the proxy for a `CONNECT` tunnel to the ACS (RFC 9110 §9.3.6).
    async fn tunnel(&self, mut tcp: TcpStream, url: &AcsUrl) -> Result<TcpStream, TransportError> {
        let target = url.authority();
        let io_error = |source| ProxyError::Connect {
            addr: self.authority(),
            source,
        };
        let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        if let Some(authorization) = &self.authorization {
            head.push_str("Proxy-Authorization: ");
            // Built from a String in `from_config`, so it is valid UTF-8.
            head.push_str(authorization.to_str().unwrap_or_default());
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        tcp.write_all(head.as_bytes()).await.map_err(io_error)?;

        let mut buf = Vec::with_capacity(512);
        let head_len = loop {
            let mut chunk = [0u8; 512];
            let n = tcp.read(&mut chunk).await.map_err(io_error)?;
            if n == 0 {
                return Err(ProxyError::InvalidResponse {
                    reason: "proxy closed the connection",
                }
                .into());
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if buf.len() > MAX_PROXY_HEAD {
                return Err(ProxyError::InvalidResponse {
                    reason: "response head too large",
                }
                .into());
            }
        };
        let status = parse_status_line(&buf).ok_or(ProxyError::InvalidResponse {
            reason: "bad status line",
        })?;
        if status.is_success() {
            if head_len != buf.len() {
                // The ACS speaks only after our ClientHello: extra bytes mean a confused proxy.
                return Err(ProxyError::InvalidResponse {
                    reason: "data after the CONNECT response",
                }
                .into());
            }
            debug!(%target, "proxy tunnel established");
            return Ok(tcp);
        }
        Err(match status {
            StatusCode::PROXY_AUTHENTICATION_REQUIRED if self.authorization.is_some() => {
                ProxyError::AuthRejected
            }
            StatusCode::PROXY_AUTHENTICATION_REQUIRED => ProxyError::AuthRequired,
            status => ProxyError::Refused { target, status },
        }
        .into())
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

async fn tcp_connect(host: &str, port: u16) -> io::Result<TcpStream> {
    match host.parse::<IpAddr>() {
        Ok(ip) => TcpStream::connect(SocketAddr::new(ip, port)).await,
        Err(_) => TcpStream::connect((host, port)).await,
    }
}

/// The byte stream under hyper: plain TCP or TLS over TCP.
#[derive(Debug)]
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Credentials;

    #[test]
    fn parses_proxy_config() {
        let proxy = Proxy::from_config(&ProxyConfig {
            url: "http://bob:s3cret@proxy.lan:3128/".into(),
            credentials: None,
        })
        .unwrap();
        assert_eq!(proxy.authority(), "proxy.lan:3128");
        assert_eq!(
            proxy.authorization.unwrap(),
            http_auth::basic::encode_credentials("bob", "s3cret")
        );

        let proxy = Proxy::from_config(&ProxyConfig {
            url: "[::1]:8080".into(),
            credentials: Some(Credentials::new("a", "b")),
        })
        .unwrap();
        assert_eq!(proxy.authority(), "[::1]:8080");
        assert!(proxy.authorization.is_some());

        for bad in ["https://proxy:443", "http://", "http://proxy:notaport"] {
            let config = ProxyConfig {
                url: bad.into(),
                credentials: None,
            };
            assert!(Proxy::from_config(&config).is_err(), "{bad}");
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
}
