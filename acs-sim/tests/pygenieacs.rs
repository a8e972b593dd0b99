//! The GenieACS client `pygenieacs` drives acs-sim against a running `cpe` agent: list devices,
//! getParameterValues with a connection request, setParameterValues, a download of an uploaded
//! file, a reboot, each result read back through the REST API (tests/pygenieacs/drive.py).
//!
//! `.ci/run` installs pygenieacs in a virtual environment and names its interpreter in
//! `ACS_SIM_PYTHON`. Without it the test says SKIPPED, except in CI, where it fails.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use acs_sim::acs::{Acs, AcsConfig};
use acs_sim::files::FileStore;
use acs_sim::scenario::Scenario;
use acs_sim::store::SqliteStore;
use tokio::net::TcpListener;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pygenieacs_drives_acs_sim_and_a_running_cpe() {
    let Some(python) = std::env::var_os("ACS_SIM_PYTHON") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "ACS_SIM_PYTHON is not set in CI (.ci/run sets it)"
        );
        eprintln!(
            "SKIPPED: ACS_SIM_PYTHON is not set (run .ci/run, or point it at a python with pygenieacs)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cwmp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nbi = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let files = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (cwmp_addr, nbi_addr) = (cwmp.local_addr().unwrap(), nbi.local_addr().unwrap());
    let config = AcsConfig {
        files_url: format!("http://{}", files.local_addr().unwrap()),
        ..AcsConfig::default()
    };
    let store = SqliteStore::open(dir.path().join("acs.db")).unwrap();
    let acs = Acs::new(
        Arc::new(store),
        config,
        Scenario::default(),
        FileStore::new(dir.path().join("files")).unwrap(),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until = || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    tokio::spawn(acs_sim::server::serve(
        cwmp,
        Arc::clone(&acs),
        None,
        until(),
    ));
    tokio::spawn(acs_sim::nbi::serve(nbi, Arc::clone(&acs), until()));
    tokio::spawn(acs_sim::files::serve(files, Arc::clone(&acs), until()));

    let serial = "PYG0001";
    let mut informed = acs.events();
    let agent = cpe::agent::Agent::start(cpe_config(
        &format!("http://{cwmp_addr}/"),
        serial,
        &dir.path().join("cpe"),
    ))
    .await
    .unwrap();
    let agent = tokio::spawn(agent.run_until(until()));
    // The first session (bootstrap, credentials provisioned) must be over before the script.
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(event) = informed.recv().await {
            if matches!(
                event,
                acs_sim::acs::AcsEvent::SessionEnded { error: None, .. }
            ) {
                break;
            }
        }
    })
    .await
    .expect("the CPE completes its bootstrap session");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pygenieacs/drive.py");
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(python)
            .arg(script)
            .arg(format!("http://{nbi_addr}"))
            .arg(serial)
            .output(),
    )
    .await
    .expect("the script finishes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "pygenieacs script failed:\n{stdout}"
    );
    assert!(stdout.contains("ok: the device informed 1 BOOT, M Reboot after the reboot"));

    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), agent).await;
}

fn cpe_config(acs_url: &str, serial: &str, state: &Path) -> cpe::config::Config {
    cpe::config::Config::resolve(
        cpe::config::FileConfig::default(),
        cpe::config::Overrides {
            acs_url: Some(acs_url.to_owned()),
            serial: Some(serial.to_owned()),
            state_dir: Some(state.to_owned()),
            connreq_listen: Some("127.0.0.1:0".to_owned()),
            ..cpe::config::Overrides::default()
        },
    )
    .unwrap()
}
