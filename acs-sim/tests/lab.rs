//! `acs-sim lab` with 20 CPEs: every step happens for every device, the timeline says so in
//! words, and every message the two ACSes sent (recorded as transcripts) validates against the
//! BBF schemas.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acs_sim::lab::{LabOptions, Step};

/// A writer the test can read after the lab is done with it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_takes_twenty_cpes_through_every_step() {
    let out = Shared::default();
    let transcripts = tempfile::tempdir().unwrap();
    let options = LabOptions {
        cpes: 20,
        deadline: Duration::from_secs(60),
        verbose: false,
        transcripts: Some(transcripts.path().to_owned()),
        dhcp: false,
    };
    let report = acs_sim::lab::run(options, out.clone()).await.unwrap();
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    println!("{text}");
    assert!(report.success(), "{report:?}");
    for step in Step::ALL {
        assert_eq!(report.reached.get(&step), Some(&20), "{}", step.title());
    }
    assert!(text.contains("Result: every step happened for every device (20 devices"));
    assert!(text.contains("LAB0001  called ACS 1 for the first time"));
    assert!(text.contains("= sub-option 1, the ACS URL: http://127.0.0.1:"));
    assert!(text.contains("LAB0001: cpe cloud status\n  Cloud connection state"));
    // The first device's own count of what it sent: its firmware download and the
    // TransferComplete that reported it, without a failure.
    let stats = text
        .split("LAB0001: cpe stats\n")
        .nth(1)
        .expect("cpe stats block");
    let row = |name: &str| {
        let line = stats
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap();
        line.split_whitespace()
            .skip(1)
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        row("TransferComplete"),
        "1 0",
        "Success and Failed: {stats}"
    );
    assert_eq!(row("Download"), "1 0", "Success and Failed: {stats}");

    let sent = acs_messages(transcripts.path());
    let kinds: BTreeSet<&str> = sent.iter().map(|(kind, _)| kind.as_str()).collect();
    for kind in [
        "InformResponse",
        "GetParameterNames",
        "GetParameterValues",
        "SetParameterValues",
        "Download",
        "TransferCompleteResponse",
        "Reboot",
    ] {
        assert!(kinds.contains(kind), "the ACSes sent no {kind}: {kinds:?}");
    }
    let bodies: Vec<&[u8]> = sent.iter().map(|(_, body)| body.as_slice()).collect();
    schemas::testing::validate_envelopes(&bodies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_with_dhcp_gets_option_43_from_a_real_dnsmasq_in_network_namespaces() {
    let out = Shared::default();
    let options = LabOptions {
        cpes: 3,
        dhcp: true,
        ..LabOptions::default()
    };
    let report = acs_sim::lab::run(options, out.clone()).await.unwrap();
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    println!("{text}");
    assert!(report.success(), "{report:?}");
    for step in Step::ALL {
        assert_eq!(report.reached.get(&step), Some(&3), "{}", step.title());
    }
    if let Some(line) = text.lines().find(|l| l.contains("--dhcp: ")) {
        // No namespaces here: the lab said why and handed the bytes over.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the real exchange: {line}"
        );
        println!("SKIPPED (real DHCP exchange): {line}");
        return;
    }
    assert!(text.contains("dnsmasq in network namespace"), "{text}");
    assert!(
        text.contains(
            "LAB0001 asked over dhcpv4-inform; 10.231.0.1 answered option 43: http://10.231.0.1:"
        ),
        "{text}"
    );
}

/// Every message an ACS sent, from the transcripts (`NN-acs-<Name>.txt`), with its name.
fn acs_messages(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                dirs.push(path);
            } else if let Some((_, kind)) = name
                .strip_suffix(".txt")
                .and_then(|n| n.split_once("-acs-"))
            {
                found.push((kind.to_owned(), std::fs::read(&path).unwrap()));
            }
        }
    }
    found
}

#[tokio::test]
async fn the_lab_refuses_a_cpe_count_out_of_range() {
    let options = LabOptions {
        cpes: 0,
        ..LabOptions::default()
    };
    let error = acs_sim::lab::run(options, Shared::default())
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "--cpes must be 1 to 500, got 0");
}
