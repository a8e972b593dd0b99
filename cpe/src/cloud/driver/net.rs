//! Name lookup, TCP and TLS for the tunnel's connections, each bounded by [`IO_TIMEOUT`] and
//! each failure mapped to the machine's inputs.

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

/// The addresses `host` resolves to (an IP literal resolves to itself).
pub(super) async fn resolve(host: &str) -> Result<Vec<IpAddr>, ResolveError> {
    let lookup = tokio::net::lookup_host((host, 0));
    match timeout(IO_TIMEOUT, lookup).await {
        Ok(Ok(addrs)) => Ok(addrs.map(|a| a.ip()).collect()),
        Ok(Err(e)) => Err(ResolveError(format!("{host}: {e}"))),
        Err(_) => Err(ResolveError(format!("{host}: lookup timed out"))),
    }
}

/// Opens TCP to `addr`: refused, unreachable and timed out are all
/// [`ConnectError::Refused`].
pub(super) async fn tcp(addr: SocketAddr) -> Result<TcpStream, ConnectError> {
    let stream = match timeout(IO_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(ConnectError::Refused(format!("{addr}: {e}"))),
        Err(_) => return Err(ConnectError::Refused(format!("{addr}: connect timed out"))),
    };
    // Frames are small and a keepalive must not wait for Nagle.
    let _best_effort = stream.set_nodelay(true);
    Ok(stream)
}

/// Opens TCP to the first address of `host` that accepts.
pub(super) async fn tcp_to(host: &str, port: u16) -> Result<TcpStream, ConnectError> {
    let addrs = resolve(host)
        .await
        .map_err(|e| ConnectError::Refused(e.to_string()))?;
    let mut last = ConnectError::Refused(format!("{host}: no address"));
    for ip in addrs {
        match tcp(SocketAddr::new(ip, port)).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
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
