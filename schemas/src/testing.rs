//! Test helpers shared by the workspace's tests (feature `testing`, for dev-dependencies only).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

/// Checks CWMP envelopes against the Broadband Forum schemas with
/// `../shared/schemas-ref/validate-cwmp`; empty bodies (an empty POST, a 204) are skipped.
///
/// Panics, naming each failing envelope, if any is refused. Without `xmllint` it skips with a
/// loud message, except when `CI` is set, where that fails: CI installs `libxml2-utils`.
pub fn validate_envelopes<B: AsRef<[u8]>>(envelopes: &[B]) {
    if let Some((valid, report)) = check_envelopes(envelopes) {
        assert!(valid, "validate-cwmp refused:\n{report}");
    }
}

/// Runs the validator over the envelopes: whether all passed, and its report. `None` (after a
/// loud message) when `xmllint` is missing outside CI, or when there is nothing to check.
pub fn check_envelopes<B: AsRef<[u8]>>(envelopes: &[B]) -> Option<(bool, String)> {
    if Command::new("xmllint").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "xmllint is missing in CI (libxml2-utils)"
        );
        eprintln!(
            "!!! SKIPPED schema validation: xmllint not found (apt-get install libxml2-utils)"
        );
        return None;
    }
    static RUN: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "validate-cwmp-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let files: Vec<PathBuf> = envelopes
        .iter()
        .map(AsRef::as_ref)
        .filter(|body| !body.iter().all(u8::is_ascii_whitespace))
        .enumerate()
        .map(|(i, body)| {
            let path = dir.join(format!("{i}.xml"));
            std::fs::write(&path, body).expect("writing an envelope");
            path
        })
        .collect();
    let result = (!files.is_empty()).then(|| {
        Command::new(validator())
            .args(&files)
            .output()
            .expect("running validate-cwmp")
    });
    let _ = std::fs::remove_dir_all(&dir);
    result.map(|out| {
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    })
}

/// The validator, found from this crate's directory (`../shared` sits beside the checkout).
fn validator() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/schemas-ref/validate-cwmp")
}

/// The HTTP body of a message captured as text (`../shared/cwmp-samples/`: start line,
/// headers, blank line, body); a file that holds a bare body is returned as is. A capture of
/// an empty message may end right after its headers.
pub fn http_body(raw: &[u8]) -> Vec<u8> {
    if !(raw.starts_with(b"POST ") || raw.starts_with(b"HTTP/")) {
        return raw.to_vec();
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| i + 2))
        .unwrap_or(raw.len());
    raw[split..].to_vec()
}
