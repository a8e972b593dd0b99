//! Fuzzes `VendorClass::decode_option16` (DHCPv6 vendor class, RFC 8415 §21.16) and the option
//! 60 check on arbitrary bytes: neither may panic, and option 16 has no normalisation, so what
//! it reads must encode back to the very same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use schemas::dhcp::{VendorClass, is_cwmp_vendor_class};

fuzz_target!(|data: &[u8]| {
    let _ = is_cwmp_vendor_class(data);
    let Ok(value) = VendorClass::decode_option16(data) else {
        return;
    };
    let _ = value.is_cwmp();
    match value.encode_option16() {
        Ok(written) => assert_eq!(written, data, "option 16 must re-encode byte for byte"),
        Err(e) => panic!("a read option 16 must encode: {e}\n{value:?}"),
    }
});
