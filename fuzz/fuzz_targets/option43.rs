//! Fuzzes `AcsDiscovery::decode_option43` (DHCPv4 option 43, BBF and H3C layouts) on arbitrary
//! bytes: it must never panic, and whatever it reads must survive `encode_option43` then
//! `decode_option43` unchanged, in both dialects where the dialect can carry the value.
//!
//! A read value may legitimately fail to encode (a plain-URL payload longer than one
//! sub-option's 255 bytes, a payload holding only pads); the encoder must then say why, not
//! write something its decoder reads differently.

#![no_main]

use libfuzzer_sys::fuzz_target;
use schemas::dhcp::{AcsDiscovery, Dialect};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = AcsDiscovery::decode_option43(data) else {
        return;
    };
    for dialect in [Dialect::H3c, Dialect::Bbf] {
        let Ok(written) = value.encode_option43(dialect) else {
            continue;
        };
        match AcsDiscovery::decode_option43(&written) {
            Ok(again) => assert_eq!(again, value, "{dialect:?} round trip changed the value"),
            Err(e) => panic!("own {dialect:?} output must decode: {e}\n{written:02x?}"),
        }
    }
});
