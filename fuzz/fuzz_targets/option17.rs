//! Fuzzes `AcsDiscovery::decode_option17` (DHCPv6 vendor options, enterprise 3561) on arbitrary
//! bytes: it must never panic, and whatever it reads must encode (option 17 has room for every
//! field its decoder fills) and read back unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use schemas::dhcp::AcsDiscovery;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = AcsDiscovery::decode_option17(data) else {
        return;
    };
    let written = match value.encode_option17() {
        Ok(written) => written,
        Err(e) => panic!("a read option 17 value must encode: {e}\n{value:?}"),
    };
    match AcsDiscovery::decode_option17(&written) {
        Ok(again) => assert_eq!(again, value, "round trip changed the value"),
        Err(e) => panic!("own output must decode: {e}\n{written:02x?}"),
    }
});
