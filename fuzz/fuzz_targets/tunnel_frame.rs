//! Fuzzes the cloud-management tunnel's readers (`schemas::tunnel`) on arbitrary bytes: a frame
//! from the cloud, a frame from a device, and the JSON bodies of the HTTP steps. None may panic;
//! every refusal must say which status counter it lands in; and whatever reads must encode, and
//! its encoding must read back to the same value and encode to the same text (the canonical
//! form is a fixed point).

#![no_main]

use libfuzzer_sys::fuzz_target;
use schemas::tunnel::{
    AuthAnswer, CasInfo, CloudMessage, DeviceFrame, RegisterAnswer, RegisterRequest,
};

macro_rules! check {
    ($ty:ty, $data:expr) => {
        match <$ty>::decode($data) {
            Ok(value) => {
                let text = value.encode().unwrap_or_else(|e| {
                    panic!("{} read but does not encode: {e}", stringify!($ty))
                });
                let again = <$ty>::decode(&text).unwrap_or_else(|e| {
                    panic!("own {} output must read: {e}\n{text}", stringify!($ty))
                });
                assert_eq!(
                    again,
                    value,
                    "{} round trip changed the value",
                    stringify!($ty)
                );
                assert_eq!(
                    again.encode().ok().as_deref(),
                    Some(text.as_str()),
                    "not canonical"
                );
            }
            Err(e) => {
                let _ = (e.to_string(), e.counted_as());
            }
        }
    };
}

fuzz_target!(|data: &[u8]| {
    check!(CloudMessage, data);
    check!(DeviceFrame, data);
    check!(CasInfo, data);
    check!(AuthAnswer, data);
    check!(RegisterRequest, data);
    check!(RegisterAnswer, data);
});
