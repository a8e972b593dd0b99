//! Fuzzes the `cpe dhcp probe` DHCPv4 answer reader (`cpe::ztp::probe::v4`) on arbitrary
//! datagrams: it must never panic. The probe takes its transaction id and hardware address
//! from the datagram itself, so the fuzzer reaches the option walk and the option 43 decoder
//! rather than stopping at "not ours".

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use cpe::ztp::probe::v4::{Kind, Probe, Reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(reply) = Reply::read(data) else {
        return;
    };
    let mut mac = [0; 6];
    mac.copy_from_slice(&reply.chaddr[..6]);
    let from = IpAddr::V4(Ipv4Addr::LOCALHOST);
    for kind in [Kind::Discover, Kind::Inform(Ipv4Addr::new(10, 0, 0, 2))] {
        let probe = Probe::new(kind, mac, reply.xid);
        if let Ok(finding) = probe.parse_reply(data, from) {
            assert_eq!(finding.transport, probe.transport());
        }
    }
});
