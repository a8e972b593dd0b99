//! Every outbound TCP connection of the agent (CWMP sessions, file transfers, the cloud
//! tunnel): the HTTP proxy chosen per target ([`ProxyPolicy`]: `[proxy]`, the environment,
//! `no_proxy`), the `CONNECT` tunnel through it ([`Proxy::tunnel`], RFC 9110 §9.3.6), and
//! Happy Eyeballs (RFC 8305) over the addresses of the target or of the proxy.
//!
//! Callers bound each connection with their own connect timeout.

mod eyeballs;
mod policy;
mod proxy;

use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::net::TcpStream;

pub use eyeballs::{CONNECTION_ATTEMPT_DELAY, MAX_ADDRESSES, interleave, race};
pub use policy::{
    InvalidNoProxy, MAX_NO_PROXY_ENTRIES, NoProxy, ProxyOptions, ProxyPolicy, ProxySettings,
};
pub use proxy::Proxy;

/// The addresses of `host` (an IP literal is its own address) with `port`, in Happy Eyeballs
/// order ([`interleave`]: IPv6 first, at most [`MAX_ADDRESSES`]).
pub async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addresses = interleave(tokio::net::lookup_host((host, port)).await?);
    if addresses.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} has no address"),
        ));
    }
    Ok(addresses)
}

/// Opens TCP to `host:port`: resolves it, then races its addresses ([`tcp_to`]).
pub async fn tcp(host: &str, port: u16) -> io::Result<(TcpStream, SocketAddr)> {
    tcp_to(&resolve(host, port).await?).await
}

/// Opens TCP to the first of `addresses` that accepts, Happy Eyeballs style ([`race`] with
/// [`CONNECTION_ATTEMPT_DELAY`]), with `TCP_NODELAY` set (CWMP and the tunnel exchange small
/// messages). Returns the stream and the address it reached.
pub async fn tcp_to(addresses: &[SocketAddr]) -> io::Result<(TcpStream, SocketAddr)> {
    let (stream, peer) = race(addresses, CONNECTION_ATTEMPT_DELAY, TcpStream::connect).await?;
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
    tracing::debug!(%peer, "connected");
    Ok((stream, peer))
}

/// `host:port`, with an IPv6 literal in brackets.
pub fn authority(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn localhost_reaches_a_server_listening_on_ipv4_only() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (_stream, peer) = tcp("localhost", port).await.unwrap();
        assert_eq!(peer, listener.local_addr().unwrap());
    }

    #[tokio::test]
    async fn literals_resolve_to_themselves() {
        assert_eq!(
            resolve("[::1]", 80).await.unwrap(),
            ["[::1]:80".parse().unwrap()]
        );
        assert_eq!(
            resolve("192.0.2.1", 7).await.unwrap(),
            ["192.0.2.1:7".parse().unwrap()]
        );
        assert_eq!(authority("::1", 80), "[::1]:80");
        assert_eq!(authority("acs", 443), "acs:443");
    }
}
