//! `acs-sim lab` with 20 CPEs: every step happens for every device, and the timeline says so
//! in words.

use std::io::Write;
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
    let options = LabOptions {
        cpes: 20,
        deadline: Duration::from_secs(60),
        verbose: false,
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
