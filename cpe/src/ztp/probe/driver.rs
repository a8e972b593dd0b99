//! The probe's I/O: a UDP socket bound to the interface (SO_BINDTODEVICE), the request sent
//! and retransmitted on the [`Backoff`] schedule within [`Limits`], answers read until one is
//! this probe's.
//!
//! | Transport | Bound to | Sent to |
//! |---|---|---|
//! | DHCPINFORM | the interface's address, port 68 | 255.255.255.255:67 |
//! | DHCPDISCOVER | 0.0.0.0:68 (the OFFER comes back broadcast) | 255.255.255.255:67 |
//! | DHCPv6 | \[::\]:546 | \[ff02::1:2\]:547 on the interface (RFC 8415 §7.1) |

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use rand::RngExt;
use rand::rngs::StdRng;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::iface::Interface;
use super::{Backoff, Finding, Limits, ProbeError, ReplyError, Transport, v4, v6};

/// RFC 2131 §4.1 ports.
const CLIENT_PORT_V4: u16 = 68;
const SERVER_PORT_V4: u16 = 67;
/// RFC 8415 §7.2 ports and §7.1 All_DHCP_Relay_Agents_and_Servers.
const CLIENT_PORT_V6: u16 = 546;
const SERVER_PORT_V6: u16 = 547;
const ALL_DHCP_SERVERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);
/// Answers longer than this are cut, fail to parse, and are ignored.
const MAX_DATAGRAM: usize = 4096;

/// A probe request of either family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// DHCPINFORM or DHCPDISCOVER.
    V4(v4::Probe),
    /// Information-request.
    V6(v6::Probe),
}

impl Request {
    /// The request for `iface`: DHCPv6 if `v6`, else DHCPINFORM if the interface has an IPv4
    /// address, else DHCPDISCOVER. `xid` is the transaction id.
    pub fn for_interface(iface: &Interface, v6: bool, xid: u32) -> Self {
        if v6 {
            return Self::V6(v6::Probe::new(iface.mac, xid));
        }
        let kind = match iface.ipv4 {
            Some(addr) => v4::Kind::Inform(addr),
            None => v4::Kind::Discover,
        };
        Self::V4(v4::Probe::new(kind, iface.mac, xid))
    }

    /// Where to bind and where to send (see the [module documentation](self)); `index` is the
    /// interface's, the scope of the DHCPv6 multicast address.
    pub fn addresses(&self, index: u32) -> (SocketAddr, SocketAddr) {
        match self {
            Self::V4(probe) => {
                let local = match probe.kind() {
                    v4::Kind::Inform(addr) => addr,
                    v4::Kind::Discover => Ipv4Addr::UNSPECIFIED,
                };
                (
                    SocketAddr::from((local, CLIENT_PORT_V4)),
                    SocketAddr::from((Ipv4Addr::BROADCAST, SERVER_PORT_V4)),
                )
            }
            Self::V6(_) => (
                SocketAddr::from((Ipv6Addr::UNSPECIFIED, CLIENT_PORT_V6)),
                SocketAddr::V6(SocketAddrV6::new(
                    ALL_DHCP_SERVERS,
                    SERVER_PORT_V6,
                    0,
                    index,
                )),
            ),
        }
    }

    /// Which transport this is.
    pub fn transport(&self) -> Transport {
        match self {
            Self::V4(probe) => probe.transport(),
            Self::V6(_) => Transport::Dhcpv6,
        }
    }

    /// The retransmission schedule of the family.
    pub fn backoff(&self) -> Backoff {
        match self {
            Self::V4(_) => Backoff::DHCPV4,
            Self::V6(_) => Backoff::DHCPV6,
        }
    }

    /// The request, `elapsed` after the first one.
    pub fn encode(&self, elapsed: Duration) -> Result<Vec<u8>, ProbeError> {
        match self {
            Self::V4(probe) => probe.encode(elapsed),
            Self::V6(probe) => probe.encode(elapsed),
        }
    }

    /// Reads a datagram from `from`.
    pub fn parse_reply(&self, datagram: &[u8], from: IpAddr) -> Result<Finding, ReplyError> {
        match self {
            Self::V4(probe) => probe.parse_reply(datagram, from),
            Self::V6(probe) => probe.parse_reply(datagram, from),
        }
    }
}

/// Looks up `iface_name` and probes on it: DHCPv6 if `v6`, else DHCPv4 (see
/// [`Request::for_interface`]).
pub async fn probe(iface_name: &str, v6: bool, limits: Limits) -> Result<Finding, ProbeError> {
    let iface = Interface::lookup(iface_name)?;
    let mut rng = rand::make_rng::<StdRng>();
    let request = Request::for_interface(&iface, v6, rng.random());
    let (bind, dest) = request.addresses(iface.index);
    let socket = bind_socket(&iface, bind)?;
    exchange(&socket, dest, &request, limits, &mut || {
        rng.random_range(-1.0..=1.0)
    })
    .await
}

/// Sends `request` to `dest` and waits for the answer: retransmits after each of the
/// backoff's waits (the last attempt waits until the deadline), up to `limits`. `random`
/// gives the jitter, in `-1.0..=1.0`. Datagrams that are not this probe's are skipped.
pub async fn exchange(
    socket: &UdpSocket,
    dest: SocketAddr,
    request: &Request,
    limits: Limits,
    random: &mut (dyn FnMut() -> f64 + Send),
) -> Result<Finding, ProbeError> {
    let start = Instant::now();
    let deadline = start + limits.timeout;
    let backoff = request.backoff();
    let mut buf = vec![0; MAX_DATAGRAM];
    let mut sent = 0;
    while sent < limits.attempts && Instant::now() < deadline {
        let now = Instant::now();
        let datagram = request.encode(now - start)?;
        socket
            .send_to(&datagram, dest)
            .await
            .map_err(|source| ProbeError::Socket {
                action: format!("send the {} request to {dest}", request.transport()),
                source,
            })?;
        let wait_until = if sent + 1 == limits.attempts {
            deadline
        } else {
            (now + backoff.delay(sent, random())).min(deadline)
        };
        sent += 1;
        while let Ok(received) =
            tokio::time::timeout_at(wait_until, socket.recv_from(&mut buf)).await
        {
            let (len, from) = received.map_err(|source| ProbeError::Socket {
                action: format!("receive the {} answer", request.transport()),
                source,
            })?;
            match request.parse_reply(&buf[..len], from.ip()) {
                Ok(finding) => return Ok(finding),
                Err(e) if e.is_ours() => return Err(ProbeError::Reply(e)),
                Err(e) => tracing::debug!(%from, "skipped: {e}"),
            }
        }
    }
    Err(ProbeError::NoAnswer {
        attempts: sent,
        timeout: limits.timeout,
    })
}

/// A UDP socket on `iface` bound to `bind`, with SO_REUSEADDR (another DHCP client may hold
/// the port), SO_BROADCAST (DHCPv4) and the multicast interface (DHCPv6).
fn bind_socket(iface: &Interface, bind: SocketAddr) -> Result<UdpSocket, ProbeError> {
    let fail = |what: &str| {
        let action = format!("{what} (UDP {bind} on {})", iface.name);
        move |source: std::io::Error| ProbeError::Socket { action, source }
    };
    let socket = Socket::new(Domain::for_address(bind), Type::DGRAM, Some(Protocol::UDP))
        .map_err(fail("create a socket"))?;
    socket
        .set_reuse_address(true)
        .map_err(fail("set SO_REUSEADDR"))?;
    socket
        .bind_device(Some(iface.name.as_bytes()))
        .map_err(fail("bind to the device (SO_BINDTODEVICE)"))?;
    if bind.is_ipv4() {
        socket
            .set_broadcast(true)
            .map_err(fail("set SO_BROADCAST"))?;
    } else {
        socket.set_only_v6(true).map_err(fail("set IPV6_V6ONLY"))?;
        socket
            .set_multicast_if_v6(iface.index)
            .map_err(fail("set IPV6_MULTICAST_IF"))?;
    }
    socket
        .set_nonblocking(true)
        .map_err(fail("set non-blocking"))?;
    socket.bind(&bind.into()).map_err(fail("bind"))?;
    UdpSocket::from_std(socket.into()).map_err(fail("register with the runtime"))
}
