//! Opening the one HTTP/1.1 connection of a CWMP session: TCP (directly or through an HTTP
//! proxy), optional TLS (TR-069 Amd 6 §3.3), then hyper's `client::conn::http1` handshake.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tracing::debug;

use super::error::{TimeoutKind, TransportError};
use super::tls;
use super::url::{AcsUrl, Scheme};
use crate::dial::{self, Proxy, ProxyPolicy};

/// Opens connections; one per [`Client`](super::Client), shared by its sessions.
#[derive(Debug)]
pub(crate) struct Dialer {
    pub(crate) tls: Arc<ClientConfig>,
    pub(crate) insecure: bool,
    pub(crate) proxies: ProxyPolicy,
    pub(crate) connect_timeout: Duration,
    /// The peer of the latest TCP connection: the server's address, or the proxy's.
    pub(crate) last_peer: Mutex<Option<SocketAddr>>,
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

    /// The proxy that connections to `url` go through, if any (`no_proxy` considered).
    pub(crate) fn proxy_for(&self, url: &AcsUrl) -> Option<&Proxy> {
        self.proxies.proxy_for(url.is_https(), url.host())
    }

    /// The proxy that takes requests to `url` in absolute-form (plain `http` through a
    /// proxy), if any.
    pub(crate) fn absolute_form(&self, url: &AcsUrl) -> Option<&Proxy> {
        self.proxy_for(url).filter(|_| url.scheme() == Scheme::Http)
    }

    /// The peer of the latest TCP connection (the server, or the proxy).
    pub(crate) fn last_peer(&self) -> Option<SocketAddr> {
        *self.last_peer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// TCP to `url`'s server, or to its proxy and for https through a `CONNECT` tunnel;
    /// Happy Eyeballs over the addresses either way.
    async fn tcp(&self, url: &AcsUrl) -> Result<TcpStream, TransportError> {
        let (tcp, peer) = match self.proxy_for(url) {
            Some(proxy) => {
                let (tcp, peer) = proxy.connect().await?;
                if url.is_https() {
                    (proxy.tunnel(tcp, &url.authority()).await?, peer)
                } else {
                    (tcp, peer)
                }
            }
            None => dial::tcp(url.host(), url.port()).await.map_err(|source| {
                TransportError::Connect {
                    addr: url.authority(),
                    source,
                }
            })?,
        };
        *self.last_peer.lock().unwrap_or_else(|e| e.into_inner()) = Some(peer);
        Ok(tcp)
    }

    async fn connect_inner(&self, url: &AcsUrl) -> Result<Connection, TransportError> {
        let tcp = self.tcp(url).await?;

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
