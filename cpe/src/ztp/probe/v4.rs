//! DHCPv4 probe messages, sans-IO: DHCPINFORM (RFC 2131 §3.4) when the interface has an
//! address, DHCPDISCOVER (RFC 2131 §3.1) when it has none, and reading the server's DHCPACK or
//! DHCPOFFER for option 43 (RFC 2132 §8.4, TR-069 §3.1).
//!
//! dhcproto frames the messages. Its option decoder stops silently at the first option it
//! cannot decode (RUST-GUIDE.md §1.6), so option 43 is taken from the raw option area by
//! [`option43`], which also joins split instances (RFC 3396).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use dhcproto::v4::{DhcpOption, Flags, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Encodable};
use schemas::dhcp::{AcsDiscovery, encode_option60};

use super::{Finding, ProbeError, ReplyError, Transport};

/// Option 55: subnet mask, router, DNS servers, vendor-specific information (43) and the
/// vendor class (60).
pub const PARAMETER_REQUEST_LIST: [OptionCode; 5] = [
    OptionCode::SubnetMask,
    OptionCode::Router,
    OptionCode::DomainNameServer,
    OptionCode::VendorExtensions,
    OptionCode::ClassIdentifier,
];

/// RFC 1542 §2.1: a BOOTP message is at least 300 bytes; shorter ones are padded.
const MIN_MESSAGE: usize = 300;
/// The fixed BOOTP header and the magic cookie (RFC 2131 §2, §3).
const OPTIONS_START: usize = 240;
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

/// Which DHCPv4 message the probe sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// DHCPINFORM from this address (`ciaddr`); the server answers DHCPACK to it.
    Inform(Ipv4Addr),
    /// DHCPDISCOVER with the broadcast flag; the server answers DHCPOFFER by broadcast.
    Discover,
}

/// One DHCPv4 probe: the request and what answers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    kind: Kind,
    mac: [u8; 6],
    xid: u32,
}

impl Probe {
    /// A probe from the interface with hardware address `mac`, transaction `xid`.
    pub fn new(kind: Kind, mac: [u8; 6], xid: u32) -> Self {
        Self { kind, mac, xid }
    }

    /// Which message this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Which transport this is.
    pub fn transport(&self) -> Transport {
        match self.kind {
            Kind::Inform(_) => Transport::Dhcpv4Inform,
            Kind::Discover => Transport::Dhcpv4Discover,
        }
    }

    fn answer_type(&self) -> MessageType {
        match self.kind {
            Kind::Inform(_) => MessageType::Ack,
            Kind::Discover => MessageType::Offer,
        }
    }

    /// The request, `elapsed` after the first one (the `secs` field).
    pub fn encode(&self, elapsed: Duration) -> Result<Vec<u8>, ProbeError> {
        let (ciaddr, message_type, flags) = match self.kind {
            Kind::Inform(addr) => (addr, MessageType::Inform, Flags::default()),
            Kind::Discover => (
                Ipv4Addr::UNSPECIFIED,
                MessageType::Discover,
                Flags::default().set_broadcast(),
            ),
        };
        let mut msg = Message::new_with_id(
            self.xid,
            ciaddr,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            &self.mac,
        );
        let secs = u16::try_from(elapsed.as_secs()).unwrap_or(u16::MAX);
        msg.set_opcode(Opcode::BootRequest)
            .set_flags(flags)
            .set_secs(secs);
        let opts = msg.opts_mut();
        opts.insert(DhcpOption::MessageType(message_type));
        // RFC 2132 §9.14: hardware type 1 (Ethernet), then the address.
        let mut client_id = vec![1];
        client_id.extend_from_slice(&self.mac);
        opts.insert(DhcpOption::ClientIdentifier(client_id));
        opts.insert(DhcpOption::ClassIdentifier(encode_option60("")));
        opts.insert(DhcpOption::ParameterRequestList(
            PARAMETER_REQUEST_LIST.to_vec(),
        ));
        let mut bytes = msg.to_vec().map_err(|e| ProbeError::Build {
            transport: self.transport(),
            reason: e.to_string(),
        })?;
        if bytes.len() < MIN_MESSAGE {
            bytes.resize(MIN_MESSAGE, 0);
        }
        Ok(bytes)
    }

    /// Reads a datagram from `from`: the server's option 43 if it answers this probe.
    pub fn parse_reply(&self, datagram: &[u8], from: IpAddr) -> Result<Finding, ReplyError> {
        let msg = Message::from_bytes(datagram)
            .map_err(|_| ReplyError::NotOurs("not a DHCPv4 message"))?;
        if msg.opcode() != Opcode::BootReply {
            return Err(ReplyError::NotOurs("not a BOOTREPLY"));
        }
        if msg.xid() != self.xid {
            return Err(ReplyError::NotOurs("another transaction id"));
        }
        if msg.chaddr().get(..self.mac.len()) != Some(&self.mac[..]) {
            return Err(ReplyError::NotOurs("another client hardware address"));
        }
        if msg.opts().msg_type() != Some(self.answer_type()) {
            return Err(ReplyError::NotOurs("not the expected DHCP message type"));
        }
        let server = match msg.opts().get(OptionCode::ServerIdentifier) {
            Some(DhcpOption::ServerIdentifier(addr)) => IpAddr::V4(*addr),
            _ => from,
        };
        let Some(payload) = option43(datagram) else {
            return Err(ReplyError::NoAcsOption { server, option: 43 });
        };
        let discovery =
            AcsDiscovery::decode_option43(&payload).map_err(|reason| ReplyError::Refused {
                server,
                option: 43,
                reason,
            })?;
        Ok(Finding {
            transport: self.transport(),
            server,
            discovery,
        })
    }
}

/// Option 43's data in a DHCPv4 message, every instance joined in order (RFC 3396 §6); `None`
/// when the message has none. The walk stops at the end option or where an option is cut
/// short, keeping what came before.
pub fn option43(datagram: &[u8]) -> Option<Vec<u8>> {
    let options = datagram.get(OPTIONS_START..)?;
    if datagram.get(OPTIONS_START - MAGIC_COOKIE.len()..OPTIONS_START)? != MAGIC_COOKIE {
        return None;
    }
    let vendor = u8::from(OptionCode::VendorExtensions);
    let mut found: Option<Vec<u8>> = None;
    let mut rest = options;
    while let Some((&code, tail)) = rest.split_first() {
        match code {
            0 => rest = tail,
            255 => break,
            _ => {
                let Some((&len, tail)) = tail.split_first() else {
                    break;
                };
                let Some((data, tail)) = tail.split_at_checked(usize::from(len)) else {
                    break;
                };
                if code == vendor {
                    found.get_or_insert_with(Vec::new).extend_from_slice(data);
                }
                rest = tail;
            }
        }
    }
    found
}
