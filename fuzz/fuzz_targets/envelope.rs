//! Fuzzes `Envelope::parse` on arbitrary bytes, and checks that what the codec writes is a fixed
//! point: whatever parses is written, the written bytes parse again, and writing that second
//! parse gives the same bytes.
//!
//! `parse(write(a)) == a` is not asserted: a lenient read may legitimately change on the way
//! through the canonical writer (a non-standard namespace is written as `cwmp-1-2`,
//! `NoMoreRequests` is dropped, a typed value that does not fit its type is written as a
//! string, ...). The canonical form itself must be stable.

#![no_main]

use libfuzzer_sys::fuzz_target;
use schemas::Envelope;

fuzz_target!(|data: &[u8]| {
    let Ok(first) = Envelope::parse(data) else {
        return;
    };
    let written = first.write();
    let second = match Envelope::parse(&written) {
        Ok(envelope) => envelope,
        Err(e) => panic!(
            "own output must parse: {e}\n--- written ---\n{}",
            String::from_utf8_lossy(&written)
        ),
    };
    let rewritten = second.write();
    if rewritten != written {
        panic!(
            "written form is not a fixed point\n--- first write ---\n{}\n--- second write ---\n{}",
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&rewritten)
        );
    }
});
