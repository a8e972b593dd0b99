//! DHCPv4 probe messages, sans-IO: DHCPINFORM (RFC 2131 §3.4) when the interface has an
//! address, DHCPDISCOVER (RFC 2131 §3.1) when it has none, and reading the server's DHCPACK or
//! DHCPOFFER for option 43 (RFC 2132 §8.4, TR-069 §3.1).
//!
//! dhcproto writes the requests; answers are read by [`Reply::read`], a small walk of our own
//! (dhcproto's decoder stops silently at the first option it cannot decode, RUST-GUIDE.md
//! §1.6, and panics on some).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use dhcproto::Encodable;
use dhcproto::v4::{DhcpOption, Flags, Message, MessageType, Opcode, OptionCode};
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
const BOOTREPLY: u8 = 2;
/// RFC 2132 option codes.
const PAD: u8 = 0;
const END: u8 = 255;
const VENDOR_SPECIFIC: u8 = 43;
const MESSAGE_TYPE: u8 = 53;
const SERVER_IDENTIFIER: u8 = 54;

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
        let reply = Reply::read(datagram).ok_or(ReplyError::NotOurs("not a DHCPv4 message"))?;
        if reply.op != BOOTREPLY {
            return Err(ReplyError::NotOurs("not a BOOTREPLY"));
        }
        if reply.xid != self.xid {
            return Err(ReplyError::NotOurs("another transaction id"));
        }
        if reply.chaddr.get(..self.mac.len()) != Some(&self.mac[..]) {
            return Err(ReplyError::NotOurs("another client hardware address"));
        }
        if reply.message_type != Some(u8::from(self.answer_type())) {
            return Err(ReplyError::NotOurs("not the expected DHCP message type"));
        }
        let server = reply.server.map_or(from, IpAddr::V4);
        let Some(payload) = reply.option43 else {
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

/// What the probe reads of a DHCPv4 message (RFC 2131 §2), by its own walk: dhcproto's decoder
/// panics on some malformed options (a `debug_assert!` on the bulk-leasequery lengths, a
/// `len - 1` on a zero-length status code), so it never sees network input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// `op`: 1 BOOTREQUEST, 2 BOOTREPLY.
    pub op: u8,
    /// `xid`.
    pub xid: u32,
    /// `chaddr`, all 16 bytes.
    pub chaddr: [u8; 16],
    /// Option 53.
    pub message_type: Option<u8>,
    /// Option 54, when four bytes long.
    pub server: Option<Ipv4Addr>,
    /// Option 43, every instance joined in order (RFC 3396 §6).
    pub option43: Option<Vec<u8>>,
}

impl Reply {
    /// Reads `datagram`: `None` when it is shorter than the fixed header or lacks the magic
    /// cookie. The option walk stops at the end option or where an option is cut short,
    /// keeping what came before; options overloaded into `sname`/`file` (option 52) are not
    /// read.
    pub fn read(datagram: &[u8]) -> Option<Self> {
        let header = datagram.get(..OPTIONS_START)?;
        if header[OPTIONS_START - MAGIC_COOKIE.len()..] != MAGIC_COOKIE {
            return None;
        }
        let mut reply = Self {
            op: header[0],
            xid: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
            chaddr: header[28..44].try_into().ok()?,
            ..Self::default()
        };
        let mut rest = &datagram[OPTIONS_START..];
        while let Some((&code, tail)) = rest.split_first() {
            match code {
                PAD => rest = tail,
                END => break,
                _ => {
                    let Some((&len, tail)) = tail.split_first() else {
                        break;
                    };
                    let Some((data, tail)) = tail.split_at_checked(usize::from(len)) else {
                        break;
                    };
                    reply.take(code, data);
                    rest = tail;
                }
            }
        }
        Some(reply)
    }

    fn take(&mut self, code: u8, data: &[u8]) {
        match code {
            MESSAGE_TYPE => self.message_type = data.first().copied(),
            SERVER_IDENTIFIER => {
                self.server = <[u8; 4]>::try_from(data).ok().map(Ipv4Addr::from);
            }
            VENDOR_SPECIFIC => self
                .option43
                .get_or_insert_with(Vec::new)
                .extend_from_slice(data),
            _ => {}
        }
    }
}
