//! What the system says about the probing interface: that it exists and is up
//! (`/sys/class/net/IF/flags`), its hardware address (`address`), its index
//! (`ifindex`, the IPv6 scope id) and its first IPv4 address (`getifaddrs`).

use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::ProbeError;

/// Linux's IFNAMSIZ less the terminating NUL.
const MAX_NAME: usize = 15;
/// `IFF_UP` in `/sys/class/net/IF/flags`.
const IFF_UP: u32 = 0x1;

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
        let dir = PathBuf::from("/sys/class/net").join(name);
        if !dir.exists() {
            return Err(ProbeError::NoSuchInterface(name.to_owned()));
        }
        let read = |what: &'static str| {
            std::fs::read_to_string(dir.join(what))
                .map(|text| text.trim().to_owned())
                .map_err(|source| ProbeError::Interface {
                    name: name.to_owned(),
                    what,
                    source,
                })
        };
        let invalid = |what: &'static str, text: &str| ProbeError::Interface {
            name: name.to_owned(),
            what,
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("unexpected {text:?}"),
            ),
        };
        let flags = read("flags")?;
        let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16)
            .map_err(|_| invalid("flags", &flags))?;
        // Administratively down is an error; no carrier yet (at boot) is what retransmission
        // is for.
        if flags & IFF_UP == 0 {
            return Err(ProbeError::InterfaceDown(name.to_owned()));
        }
        let index = read("ifindex")?;
        let index = index.parse().map_err(|_| invalid("ifindex", &index))?;
        let mac = read("address")?;
        let mac = parse_mac(&mac).ok_or_else(|| invalid("address", &mac))?;
        let ipv4 = first_ipv4(name).map_err(|source| ProbeError::Interface {
            name: name.to_owned(),
            what: "IPv4 addresses",
            source,
        })?;
        Ok(Self {
            name: name.to_owned(),
            index,
            mac,
            ipv4,
        })
    }
}

/// Refuses what cannot be an interface name (and could walk out of `/sys/class/net`).
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

/// `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

fn first_ipv4(name: &str) -> std::io::Result<Option<Ipv4Addr>> {
    let addresses = nix::ifaddrs::getifaddrs().map_err(std::io::Error::from)?;
    Ok(addresses
        .filter(|a| a.interface_name == name)
        .find_map(|a| a.address?.as_sockaddr_in().map(|sin| sin.ip())))
}
