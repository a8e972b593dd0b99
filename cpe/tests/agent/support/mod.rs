//! What the agent tests share.

pub(crate) mod acs;
pub(crate) mod cr;
pub(crate) mod pki;

use std::path::Path;
use std::process::Command;

/// Checks CWMP envelopes against the BBF schemas (`validate-cwmp`); empty bodies are skipped.
/// Skips loudly when xmllint is missing, except in CI, where that fails.
pub(crate) fn validate(bodies: &[Vec<u8>]) {
    let validator =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/schemas-ref/validate-cwmp");
    if Command::new("xmllint").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "xmllint missing in CI");
        eprintln!("!!! SKIPPED schema validation: xmllint not found !!!");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = bodies
        .iter()
        .filter(|b| !b.is_empty())
        .enumerate()
        .map(|(i, body)| {
            let path = dir.path().join(format!("{i}.xml"));
            std::fs::write(&path, body).unwrap();
            path
        })
        .collect();
    if files.is_empty() {
        return;
    }
    let out = Command::new(validator).args(&files).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
