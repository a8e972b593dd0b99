//! Operating acs-sim (issue 7): `acs-sim backup`, `backup verify`, `restore` and `status`, run
//! as real processes (`CARGO_BIN_EXE_acs-sim`) against an ACS serving in this process on
//! loopback over a real SQLite file, and `/health` over real HTTP.
#![cfg(unix)]

#[path = "server/support.rs"]
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use acs_sim::acs::{Acs, AcsConfig};
use acs_sim::cloud::{CloudConfig, CloudServer, lab_certificate};
use acs_sim::files::FileStore;
use acs_sim::health::{self, HealthReport};
use acs_sim::scenario::Scenario;
use acs_sim::store::{DeviceId, FileMeta, InformSummary, SqliteStore, Store, TaskFilter};
use http::{Method, StatusCode};
use serde_json::Value;
use support::http_request;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// The listeners of [`Running`], by the name `/health` gives them.
const LISTENERS: [&str; 3] = ["cwmp", "nbi", "files"];

/// A listener of [`Running`]: its name, its stop signal, its serve loop.
type Listener = (
    &'static str,
    oneshot::Sender<()>,
    JoinHandle<std::io::Result<()>>,
);

/// An ACS serving CWMP, the REST API and files on loopback over the SQLite store `db`, each
/// listener stoppable on its own.
struct Running {
    acs: Arc<Acs>,
    nbi: SocketAddr,
    listeners: Vec<Listener>,
}

impl Running {
    async fn start(db: &Path) -> Self {
        let store = SqliteStore::open(db).unwrap();
        let files_dir = db.with_extension("files");
        let mut config = AcsConfig::default();
        config.connreq.provision = false;
        let acs = Acs::new(
            Arc::new(store),
            config,
            Scenario::default(),
            FileStore::new(&files_dir).unwrap(),
        );
        let mut listeners = Vec::new();
        let mut nbi = None;
        for name in LISTENERS {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (stop, stopped) = oneshot::channel::<()>();
            let stopped = async {
                let _ = stopped.await;
            };
            let acs = Arc::clone(&acs);
            let task = match name {
                "cwmp" => tokio::spawn(acs_sim::server::serve(listener, acs, None, stopped)),
                "nbi" => {
                    nbi = Some(listener.local_addr().unwrap());
                    tokio::spawn(acs_sim::nbi::serve(listener, acs, stopped))
                }
                _ => tokio::spawn(acs_sim::files::serve(listener, acs, stopped)),
            };
            listeners.push((name, stop, task));
        }
        let running = Self {
            acs,
            nbi: nbi.unwrap(),
            listeners,
        };
        // Every listener has registered once /health lists them all.
        for _ in 0..100 {
            let names: Vec<String> = running
                .health()
                .await
                .1
                .components
                .into_iter()
                .map(|c| c.name)
                .collect();
            if LISTENERS.iter().all(|l| names.iter().any(|n| n == l)) {
                return running;
            }
            tokio::task::yield_now().await;
        }
        panic!("the listeners did not register");
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.acs.store
    }

    fn url(&self) -> String {
        format!("http://{}", self.nbi)
    }

    /// `GET /health`: the status and the report.
    async fn health(&self) -> (StatusCode, HealthReport) {
        let answer = http_request(self.nbi, Method::GET, health::HEALTH_PATH, "").await;
        (
            answer.status,
            serde_json::from_value(answer.json()).unwrap(),
        )
    }

    /// Stops one listener and waits until its serve loop ended.
    async fn stop_listener(&mut self, name: &str) {
        let index = self.listeners.iter().position(|l| l.0 == name).unwrap();
        let (_, stop, task) = self.listeners.remove(index);
        let _ = stop.send(());
        task.await.unwrap().unwrap();
    }

    /// Stops every listener that still serves.
    async fn stop(mut self) {
        for name in LISTENERS {
            if self.listeners.iter().any(|l| l.0 == name) {
                self.stop_listener(name).await;
            }
        }
    }
}

/// What a finished `acs-sim` process printed.
#[derive(Debug)]
struct Run {
    stdout: String,
    stderr: String,
}

/// Runs `acs-sim ARGS` with no `ACS_*` variables from the test's environment and checks that
/// it exits with `code`.
async fn acs_sim(args: &[&str], code: i32) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_acs-sim"));
    command.args(args).env_remove("RUST_LOG");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ACS_") {
            command.env_remove(name);
        }
    }
    let output: Output = command.output().await.expect("acs-sim runs");
    let run = Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_eq!(
        output.status.code(),
        Some(code),
        "acs-sim {args:?}: {run:?}"
    );
    run
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A device as its Inform records it.
fn informed(store: &dyn Store, serial: &str) -> DeviceId {
    store
        .record_inform(&InformSummary {
            manufacturer: "Acme".into(),
            oui: "00236A".into(),
            product_class: "IGD".into(),
            serial_number: serial.into(),
            events: vec!["1 BOOT".into()],
            cwmp_version: "1.4".into(),
            now: 1_700_000_000,
            ..InformSummary::default()
        })
        .unwrap()
}

fn file_meta() -> FileMeta {
    FileMeta {
        name: "fw.bin".into(),
        file_type: "1 Firmware Upgrade Image".into(),
        oui: "00236A".into(),
        product_class: "IGD".into(),
        version: "2.0".into(),
        size: 3,
        path: "fw.bin.0".into(),
    }
}

/// The `_id`s of a REST collection, in the API's order.
async fn ids(nbi: SocketAddr, collection: &str) -> Vec<String> {
    let answer = http_request(nbi, Method::GET, collection, "").await;
    assert_eq!(answer.status, StatusCode::OK, "{collection}: {answer:?}");
    let Value::Array(items) = answer.json() else {
        panic!("{collection} is not a list");
    };
    items
        .iter()
        .map(|item| item["_id"].as_str().unwrap().to_owned())
        .collect()
}

/// A backup taken while tasks are being added through the REST API is a sound snapshot; a
/// restore is refused while the server holds the store, and a restore into a fresh path gives
/// a server that sees the devices, tags, file metadata and a prefix of the tasks in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_tasks_are_added_restores_to_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("acs.db");
    let snapshot = dir.path().join("acs.snapshot");
    let running = Running::start(&db).await;
    let devices: Vec<DeviceId> = ["B1", "B2", "B3"]
        .iter()
        .map(|serial| informed(running.store().as_ref(), serial))
        .collect();
    running.store().add_tag(&devices[0], "lab").unwrap();
    running.store().put_file(&file_meta()).unwrap();

    let (stop_writer, mut stopping) = watch::channel(false);
    let (added_tx, mut added) = watch::channel(0_usize);
    let writer = {
        let (nbi, devices) = (running.nbi, devices.clone());
        tokio::spawn(async move {
            let mut count = 0;
            while !*stopping.borrow_and_update() {
                let target = format!("/devices/{}/tasks", devices[count % devices.len()]);
                let answer = http_request(nbi, Method::POST, &target, r#"{"name":"reboot"}"#).await;
                assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
                count += 1;
                added_tx.send_replace(count);
            }
            count
        })
    };
    added.wait_for(|n| *n >= 10).await.unwrap();
    let backup = acs_sim(&["backup", path(&snapshot), "--db", path(&db)], 0).await;
    assert!(backup.stdout.starts_with("wrote "), "{backup:?}");

    let refused = acs_sim(&["restore", path(&snapshot), "--db", path(&db)], 1).await;
    let why = refused.stderr;
    assert!(
        why.contains("in use by another process") && why.contains("acs.db.lock"),
        "{why}"
    );

    stop_writer.send_replace(true);
    let written = writer.await.unwrap();
    let all_tasks: Vec<String> = running
        .store()
        .tasks(&TaskFilter::default())
        .unwrap()
        .into_iter()
        .map(|t| t.id.as_str().to_owned())
        .collect();
    assert_eq!(all_tasks.len(), written);
    running.stop().await;

    let verify = acs_sim(&["backup", "verify", "--json", path(&snapshot)], 0).await;
    let verdict: Value = serde_json::from_str(&verify.stdout).unwrap();
    assert_eq!(verdict["corrupt"], false);
    assert_eq!(verdict["kind"], "acs-store");
    assert_eq!(verdict["schema_version"], SqliteStore::SCHEMA_VERSION);

    let fresh = dir.path().join("fresh").join("acs.db");
    std::fs::create_dir(fresh.parent().unwrap()).unwrap();
    acs_sim(&["restore", path(&snapshot), "--db", path(&fresh)], 0).await;

    let restored = Running::start(&fresh).await;
    let expected: Vec<String> = devices.iter().map(|d| d.as_str().to_owned()).collect();
    assert_eq!(ids(restored.nbi, "/devices/").await, expected);
    let tagged = http_request(
        restored.nbi,
        Method::GET,
        "/devices/?query=%7B%22_tags%22%3A%22lab%22%7D",
        "",
    )
    .await;
    assert_eq!(tagged.json().as_array().unwrap().len(), 1, "{tagged:?}");
    assert_eq!(restored.store().files().unwrap(), [file_meta()]);
    let tasks = ids(restored.nbi, "/tasks/").await;
    assert!(tasks.len() >= 10, "{} tasks", tasks.len());
    assert_eq!(
        tasks[..],
        all_tasks[..tasks.len()],
        "not a prefix of the tasks added"
    );
    assert!(
        tasks.len() < written,
        "no task was added after the snapshot"
    );
    restored.stop().await;
}

/// One flipped byte makes `backup verify` say `corrupt: true` and `restore` refuse, leaving the
/// store file as it was.
#[tokio::test]
async fn a_flipped_byte_is_refused_by_restore_and_the_store_stays() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.db");
    let target = dir.path().join("target.db");
    let snapshot = dir.path().join("acs.snapshot");
    for (db, serial) in [(&source, "S1"), (&target, "T1")] {
        let store = SqliteStore::open(db).unwrap();
        informed(&store, serial);
    }
    acs_sim::backup::backup(&source, &snapshot).unwrap();
    let mut bytes = std::fs::read(&snapshot).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&snapshot, &bytes).unwrap();
    let before = std::fs::read(&target).unwrap();

    let verify = acs_sim(&["backup", "verify", path(&snapshot)], 1).await;
    assert!(
        verify.stdout.starts_with("corrupt: true\nreason: "),
        "{verify:?}"
    );

    let restore = acs_sim(&["restore", path(&snapshot), "--db", path(&target)], 1).await;
    assert!(
        restore.stderr.contains("is corrupt: checksum mismatch"),
        "{restore:?}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), before);
}

/// `acs-sim status` prints one line per component and `health: N of N`; `--check` fails once
/// a listener stopped, and the store counts as unhealthy once its file is gone; `/health`
/// answers 503 then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_check_fails_when_a_listener_stops_or_the_store_file_goes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("acs.db");
    let mut running = Running::start(&db).await;
    let url = running.url();

    let lines = acs_sim(&["status", "--check", "--nbi", &url], 0)
        .await
        .stdout;
    for name in ["cwmp", "nbi", "files", "store", "connection-requests"] {
        assert!(
            lines.contains(&format!("\n{name}: ")) || lines.starts_with(&format!("{name}: ")),
            "{name}: {lines}"
        );
    }
    assert!(lines.ends_with("health: 5 of 5\n"), "{lines}");
    assert_eq!(running.health().await.0, StatusCode::OK);

    running.stop_listener("files").await;
    let lines = acs_sim(&["status", "--check", "--nbi", &url], 1)
        .await
        .stdout;
    assert!(
        lines.contains("files: stopped (was listening on 127.0.0.1:"),
        "{lines}"
    );
    assert!(lines.ends_with("health: 4 of 5\n"), "{lines}");
    // Without --check, an unhealthy report is still a report.
    acs_sim(&["status", "--nbi", &url], 0).await;

    std::fs::remove_file(&db).unwrap();
    let json = acs_sim(&["status", "--json", "--nbi", &url], 0).await;
    let report: HealthReport = serde_json::from_str(&json.stdout).unwrap();
    let store = report.component("store").unwrap();
    assert!(
        !store.healthy && store.state.contains("unable to open"),
        "{store:?}"
    );
    assert_eq!(report.health, "3 of 5");
    let (status, body) = running.health().await;
    assert_eq!(
        (status, body.health.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "3 of 5")
    );
    running.stop().await;

    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let why = acs_sim(&["status", "--check", "--nbi", &gone], 1)
        .await
        .stderr;
    assert!(
        why.contains(&format!("acs-sim at {gone} is unreachable")),
        "{why}"
    );
}

/// An attached cloud-management server is a component: healthy while it serves, unhealthy
/// once it stopped.
#[tokio::test]
async fn an_attached_cloud_server_is_healthy_while_it_serves() {
    let dir = tempfile::tempdir().unwrap();
    let acs = Acs::new(
        Arc::new(SqliteStore::open_in_memory().unwrap()),
        AcsConfig::default(),
        Scenario::default(),
        FileStore::new(dir.path()).unwrap(),
    );
    let lab = lab_certificate(&["127.0.0.1".to_owned()]).unwrap();
    let mut config = CloudConfig::new(lab.server);
    config.listen = "127.0.0.1:0".parse().unwrap();
    let server = CloudServer::bind(config).await.unwrap();
    assert!(acs.attach_cloud(server.handle()));
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));

    let report = health::check(&acs).await;
    let cloud = report.component("cloud").unwrap();
    assert_eq!(
        (cloud.state.as_str(), cloud.healthy),
        ("serving, 0 of 0 devices online", true)
    );
    assert!(report.healthy(), "{report}");
    assert!(
        report
            .to_string()
            .contains("connection-requests: ready (timeout 5 s, cloud fallback on)")
    );

    let _ = stop.send(());
    serving.await.unwrap();
    let report = health::check(&acs).await;
    let cloud = report.component("cloud").unwrap();
    assert_eq!((cloud.state.as_str(), cloud.healthy), ("stopped", false));
    assert_eq!(report.health, "2 of 3");
}
