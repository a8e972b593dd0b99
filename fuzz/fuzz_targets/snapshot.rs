//! Fuzzes the snapshot container's reader (`cpe::snapshot`) on arbitrary bytes: it must never
//! panic, `verify` must agree with `decode`, and whatever decodes must encode to bytes that
//! decode to the same snapshot.

#![no_main]

use cpe::snapshot::{Snapshot, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let verdict = verify(data);
    match Snapshot::decode(data) {
        Ok(snapshot) => {
            assert!(!verdict.corrupt, "verify disagrees with decode");
            let again = Snapshot::decode(&snapshot.encode()).expect("own output must decode");
            assert_eq!(again, snapshot, "round trip changed the snapshot");
        }
        Err(e) => {
            assert!(verdict.corrupt, "verify disagrees with decode");
            assert_eq!(verdict.reason, Some(e.to_string()));
        }
    }
});
