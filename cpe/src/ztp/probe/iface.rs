//! What the system says about the probing interface: that it exists and is up
//! (`/sys/class/net/IF/flags`), its hardware address (`address`), its index
//! (`ifindex`, the IPv6 scope id) and its first IPv4 address (`getifaddrs`).

use std::net::Ipv4Addr;

use nix::ifaddrs::InterfaceAddress;
use nix::net::if_::InterfaceFlags;

use super::ProbeError;

/// Linux's IFNAMSIZ less the terminating NUL.
const MAX_NAME: usize = 15;

/// A network interface, as the probe needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Its name.
    pub name: String,
    /// Its index.
    pub index: u32,
    /// Its hardware address.
    pub mac: [u8; 6],
    /// Its first IPv4 address, if it has one.
    pub ipv4: Option<Ipv4Addr>,
}

impl Interface {
    /// Looks up `name`: an error if it is no interface name, does not exist, or is down.
    pub fn lookup(name: &str) -> Result<Self, ProbeError> {
        check_name(name)?;
        let addresses: Vec<InterfaceAddress> = nix::ifaddrs::getifaddrs()
            .map_err(|e| ProbeError::Interface {
                name: name.to_owned(),
                what: "addresses",
                source: e.into(),
            })?
            .filter(|a| a.interface_name == name)
            .collect();
        // The link-layer entry (AF_PACKET) names every interface, with or without addresses.
        let Some((link, flags)) = addresses.iter().find_map(|a| {
            let link = a.address.as_ref()?.as_link_addr()?;
            Some((*link, a.flags))
        }) else {
            return Err(ProbeError::NoSuchInterface(name.to_owned()));
        };
        if !flags.contains(InterfaceFlags::IFF_UP) {
            return Err(ProbeError::InterfaceDown(name.to_owned()));
        }
        let index = u32::try_from(link.ifindex()).map_err(|_| ProbeError::Interface {
            name: name.to_owned(),
            what: "index",
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("unexpected index {}", link.ifindex()),
            ),
        })?;
        Ok(Self {
            name: name.to_owned(),
            index,
            // Loopback and tunnels have no 6-byte hardware address: zeros.
            mac: link.addr().unwrap_or_default(),
            ipv4: addresses
                .iter()
                .find_map(|a| a.address.as_ref()?.as_sockaddr_in().map(|sin| sin.ip())),
        })
    }
}

/// Refuses what cannot be an interface name.
pub fn check_name(name: &str) -> Result<(), ProbeError> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.len() > MAX_NAME {
        "longer than 15 bytes"
    } else if name == "."
        || name == ".."
        || name.contains(['/', '\0'])
        || name.contains(char::is_whitespace)
    {
        "not an interface name"
    } else {
        return Ok(());
    };
    Err(ProbeError::InterfaceName {
        name: name.to_owned(),
        reason,
    })
}
