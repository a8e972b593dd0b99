//! What `emit-samples` writes is valid CWMP: every file passes the Broadband Forum schemas
//! (`../shared/schemas-ref/validate-cwmp`), one file per message type, and reads back as the
//! envelope it was written from.

#[path = "../examples/emit-samples/samples.rs"]
mod samples;
/// The workspace's test helpers (the `testing` feature, which this package's own tests cannot
/// switch on); this test uses its validator.
#[path = "../src/testing.rs"]
#[allow(dead_code, unreachable_pub)]
mod testing;

use std::collections::BTreeSet;
use std::path::PathBuf;

use schemas::{Body, Envelope};

fn out_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("schemas-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn emit_samples_writes_one_file_per_message_type() {
    let dir = out_dir("emit");
    let files = samples::write_all(&dir).unwrap();
    let written: BTreeSet<String> = files
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let expected: BTreeSet<String> = Body::NAMES.iter().map(|n| (*n).to_owned()).collect();
    assert_eq!(written, expected);
    assert_eq!(files.len(), expected.len(), "one file per message type");
    for (file, env) in files.iter().zip(samples::envelopes()) {
        let read = Envelope::parse(&std::fs::read(file).unwrap()).unwrap();
        assert_eq!(read, env, "{}", file.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_emitted_envelope_validates_against_the_bbf_schemas() {
    let envelopes: Vec<Vec<u8>> = samples::envelopes().iter().map(Envelope::write).collect();
    let Some((valid, report)) = testing::check_envelopes(&envelopes) else {
        return;
    };
    assert!(valid, "validate-cwmp refused some envelopes:\n{report}");
    let oks = report
        .lines()
        .filter(|l| l.contains(": ok (cwmp-1-2, "))
        .count();
    assert_eq!(
        oks,
        envelopes.len(),
        "every envelope is reported ok:\n{report}"
    );
}
