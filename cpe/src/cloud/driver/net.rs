//! Name lookup, TCP (directly with Happy Eyeballs, RFC 8305, or through the HTTP proxy's
//! `CONNECT` tunnel) and TLS for the tunnel's connections, each bounded by [`IO_TIMEOUT`] and
//! each failure mapped to the machine's inputs. A proxy's refusal is "Socket connection
//! failed" for the machine, and the log names the proxy.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::IO_TIMEOUT;
use crate::cloud::{ConnectError, ResolveError};
use crate::dial::{self, Proxy, ProxyPolicy};

/// How the tunnel's connections go out: the TLS trust and the HTTP proxies.
#[derive(Clone, Debug)]
pub(super) struct Egress {
    pub(super) tls: Arc<ClientConfig>,
    pub(super) proxies: ProxyPolicy,
}

impl Egress {
    /// The proxy for the cloud's own connections (always TLS), if one serves `domain`.
    fn proxy(&self, secure: bool, host: &str) -> Option<&Proxy> {
        self.proxies.proxy_for(secure, host)
    }

    /// The addresses the tunnel connects to for `domain`, IPv6 first and interleaved
    /// (RFC 8305 §4): the proxy's when one serves the domain (the proxy resolves the
    /// domain itself), else the domain's. An IP literal resolves to itself.
    pub(super) async fn resolve(&self, domain: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let addrs = self.lookup(domain, 0, true).await.map_err(ResolveError)?;
        Ok(addrs.iter().map(SocketAddr::ip).collect())
    }

    /// The addresses for a connection to `host:port`: the proxy's or the host's.
    async fn lookup(&self, host: &str, port: u16, secure: bool) -> Result<Vec<SocketAddr>, String> {
        let name = self.proxy(secure, host).map_or(host, Proxy::host);
        match timeout(IO_TIMEOUT, dial::resolve(name, port)).await {
            Ok(Ok(addrs)) => Ok(addrs),
            Ok(Err(e)) => Err(format!("{name}: {e}")),
            Err(_) => Err(format!("{name}: lookup timed out")),
        }
    }

    /// Opens TCP for `host:port` over `addrs` ([`Self::resolve`]'s answer with the port):
    /// to the first that accepts (Happy Eyeballs), or through the proxy that serves `host`
    /// (`addrs` are then the proxy's) and its `CONNECT` tunnel. Returns the stream and the
    /// address reached, with `port`. Refused, unreachable and timed out are all
    /// [`ConnectError::Refused`].
    pub(super) async fn tcp(
        &self,
        addrs: &[SocketAddr],
        host: &str,
        port: u16,
        secure: bool,
    ) -> Result<(TcpStream, SocketAddr), ConnectError> {
        let target = dial::authority(host, port);
        let connecting = async {
            match self.proxy(secure, host) {
                Some(proxy) => {
                    let tunnel = async {
                        let (tcp, peer) = proxy.connect_to(addrs).await?;
                        Ok((proxy.tunnel(tcp, &target).await?, peer))
                    };
                    tunnel.await.map_err(|e: crate::transport::ProxyError| {
                        crate::oplog!(CLOUD_PROXY_FAILED, proxy = %proxy.authority(), %target, error = %e,
                            "cloud tunnel: HTTP proxy failed");
                        ConnectError::Refused(e.to_string())
                    })
                }
                None => dial::tcp_to(addrs)
                    .await
                    .map_err(|e| ConnectError::Refused(format!("{target}: {e}"))),
            }
        };
        match timeout(IO_TIMEOUT, connecting).await {
            Ok(Ok((stream, peer))) => Ok((stream, SocketAddr::new(peer.ip(), port))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ConnectError::Refused(format!(
                "{target}: connect timed out"
            ))),
        }
    }

    /// Resolves `host` (or its proxy) and opens TCP to it ([`Self::tcp`]); `secure` picks
    /// the proxy for `https`/`wss` or for `http`/`ws`.
    pub(super) async fn tcp_to(
        &self,
        host: &str,
        port: u16,
        secure: bool,
    ) -> Result<TcpStream, ConnectError> {
        let addrs = self
            .lookup(host, port, secure)
            .await
            .map_err(ConnectError::Refused)?;
        Ok(self.tcp(&addrs, host, port, secure).await?.0)
    }
}

/// Runs the TLS handshake over `tcp`, checking the certificate against `name`.
pub(super) async fn tls(
    tcp: TcpStream,
    name: &str,
    config: Arc<ClientConfig>,
) -> Result<TlsStream<TcpStream>, ConnectError> {
    let server_name = ServerName::try_from(name.to_owned())
        .map_err(|_| ConnectError::Tls(format!("{name:?} is not a valid TLS server name")))?;
    match timeout(
        IO_TIMEOUT,
        TlsConnector::from(config).connect(server_name, tcp),
    )
    .await
    {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(ConnectError::Tls(format!("{name}: {e}"))),
        Err(_) => Err(ConnectError::Tls(format!(
            "{name}: TLS handshake timed out"
        ))),
    }
}

/// Whether `error` carries a TLS-layer failure (rustls wraps its errors in `io::Error`).
pub(super) fn is_tls(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.is::<rustls::Error>())
}
