//! Fuzzes `GatewayAssociation::decode_option125` (V-I vendor-specific information, RFC 3925)
//! on arbitrary bytes: it must never panic, and a Broadband Forum block it reads must encode
//! (a read block fits 255 bytes, and re-encoding never grows it) and read back unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use schemas::dhcp::GatewayAssociation;

fuzz_target!(|data: &[u8]| {
    let Ok(Some(value)) = GatewayAssociation::decode_option125(data) else {
        return;
    };
    let written = match value.encode_option125() {
        Ok(written) => written,
        Err(e) => panic!("a read option 125 block must encode: {e}\n{value:?}"),
    };
    match GatewayAssociation::decode_option125(&written) {
        Ok(Some(again)) => assert_eq!(again, value, "round trip changed the value"),
        other => panic!("own output must decode to a block: {other:?}\n{written:02x?}"),
    }
});
