//! Fuzzes the `cpe dhcp probe` DHCPv6 Reply reader (`cpe::ztp::probe::v6`), our own TLV walk
//! (dhcproto's DHCPv6 decoder panics on a short option 17), on arbitrary datagrams: it must
//! never panic. The probe takes its transaction id from the datagram, so the fuzzer reaches
//! the option walk and the option 17 decoder.

#![no_main]

use std::net::{IpAddr, Ipv6Addr};

use cpe::ztp::probe::v6::Probe;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let xid = match data.get(1..4) {
        Some(&[a, b, c]) => u32::from_be_bytes([0, a, b, c]),
        _ => 0,
    };
    let probe = Probe::new([2, 0, 0, 0, 0, 1], xid);
    let _ = probe.parse_reply(data, IpAddr::V6(Ipv6Addr::LOCALHOST));
});
