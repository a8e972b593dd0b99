//! DHCPv6 probe messages, sans-IO: an Information-request (RFC 8415 §18.2.6) asking for the
//! vendor-specific information option 17 of enterprise 3561 (TR-069 §3.1), and reading the
//! server's Reply.
//!
//! Both directions are a plain TLV walk here: dhcproto's DHCPv6 decoder misreads option 17 and
//! panics on a short one (RUST-GUIDE.md §1.6), so it never sees network input.

use std::net::IpAddr;
use std::time::Duration;

use schemas::dhcp::{AcsDiscovery, BBF_ENTERPRISE, VendorClass};

use super::{Finding, ProbeError, ReplyError, Transport};

/// RFC 8415 §7.3 message types.
const INFORMATION_REQUEST: u8 = 11;
const REPLY: u8 = 7;

/// RFC 8415 §21 option codes.
const OPTION_CLIENTID: u16 = 1;
const OPTION_ORO: u16 = 6;
const OPTION_ELAPSED_TIME: u16 = 8;
const OPTION_VENDOR_CLASS: u16 = 16;
const OPTION_VENDOR_OPTS: u16 = 17;

/// RFC 8415 §11.4: DUID-LL, hardware type 1 (Ethernet).
const DUID_LL: [u8; 4] = [0, 3, 0, 1];

/// One DHCPv6 probe: the request and what answers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    mac: [u8; 6],
    xid: [u8; 3],
}

impl Probe {
    /// A probe from the interface with hardware address `mac`, transaction id the low 24 bits
    /// of `xid`.
    pub fn new(mac: [u8; 6], xid: u32) -> Self {
        let [_, a, b, c] = xid.to_be_bytes();
        Self {
            mac,
            xid: [a, b, c],
        }
    }

    /// The client identifier: a DUID-LL from the hardware address.
    pub fn duid(&self) -> Vec<u8> {
        let mut duid = DUID_LL.to_vec();
        duid.extend_from_slice(&self.mac);
        duid
    }

    /// The request, `elapsed` after the first one (option 8, hundredths of a second,
    /// saturating at 0xffff as RFC 8415 §21.9 says).
    pub fn encode(&self, elapsed: Duration) -> Result<Vec<u8>, ProbeError> {
        let vendor_class =
            VendorClass::dslforum()
                .encode_option16()
                .map_err(|e| ProbeError::Build {
                    transport: Transport::Dhcpv6,
                    reason: e.to_string(),
                })?;
        let centis = u16::try_from(elapsed.as_millis() / 10).unwrap_or(u16::MAX);
        let mut out = vec![INFORMATION_REQUEST];
        out.extend_from_slice(&self.xid);
        put_option(&mut out, OPTION_CLIENTID, &self.duid());
        put_option(&mut out, OPTION_ELAPSED_TIME, &centis.to_be_bytes());
        put_option(&mut out, OPTION_ORO, &OPTION_VENDOR_OPTS.to_be_bytes());
        put_option(&mut out, OPTION_VENDOR_CLASS, &vendor_class);
        put_option(&mut out, OPTION_VENDOR_OPTS, &BBF_ENTERPRISE.to_be_bytes());
        Ok(out)
    }

    /// Reads a datagram from `from`: the server's option 17 for enterprise 3561 if it answers
    /// this probe.
    pub fn parse_reply(&self, datagram: &[u8], from: IpAddr) -> Result<Finding, ReplyError> {
        let Some((&kind, rest)) = datagram.split_first() else {
            return Err(ReplyError::NotOurs("empty datagram"));
        };
        if kind != REPLY {
            return Err(ReplyError::NotOurs("not a DHCPv6 Reply"));
        }
        let Some((xid, options)) = rest.split_at_checked(3) else {
            return Err(ReplyError::NotOurs("no transaction id"));
        };
        if xid != self.xid {
            return Err(ReplyError::NotOurs("another transaction id"));
        }
        let options =
            options_of(options).ok_or(ReplyError::NotOurs("options cut short or malformed"))?;
        let duid = self.duid();
        // RFC 8415 §16.10: a Reply to an Information-request may omit the client id; one that
        // names another client is not ours.
        if options
            .iter()
            .any(|&(code, data)| code == OPTION_CLIENTID && data != duid.as_slice())
        {
            return Err(ReplyError::NotOurs("another client identifier"));
        }
        let server = from;
        let bbf = options.iter().find(|&&(code, data)| {
            code == OPTION_VENDOR_OPTS && data.get(..4) == Some(&BBF_ENTERPRISE.to_be_bytes()[..])
        });
        let Some(&(_, payload)) = bbf else {
            return Err(ReplyError::NoAcsOption { server, option: 17 });
        };
        let discovery =
            AcsDiscovery::decode_option17(payload).map_err(|reason| ReplyError::Refused {
                server,
                option: 17,
                reason,
            })?;
        Ok(Finding {
            transport: Transport::Dhcpv6,
            server,
            discovery,
        })
    }
}

fn put_option(out: &mut Vec<u8>, code: u16, data: &[u8]) {
    // Every option built here is a few bytes long.
    let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
}

/// The top-level options as `(code, data)`, or `None` when one is cut short (RFC 8415 §21.1).
pub fn options_of(mut bytes: &[u8]) -> Option<Vec<(u16, &[u8])>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (header, rest) = bytes.split_at_checked(4)?;
        let code = u16::from_be_bytes([header[0], header[1]]);
        let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let (data, rest) = rest.split_at_checked(len)?;
        out.push((code, data));
        bytes = rest;
    }
    Some(out)
}
