//! The real `acs-sim serve` process killed or stopped while a CPE works through its queued
//! tasks: no task is lost, and none is run twice in the TR-069 sense.
//!
//! What "run twice" means here follows the task life cycle of `acs_sim::store` ("Task life
//! cycle and durability"): a session claims a task, sends its RPC, and records the CPE's
//! response with `complete_task`, which deletes the task and appends it to the completion log
//! in one transaction, before the ACS answers that POST. A task whose RPC is in flight when
//! the process dies (the CPE holds the request and has not answered) was claimed but never
//! completed: as far as the ACS knows, the RPC never ran. On restart the store puts it back in
//! the queue (its `attempts` bumped) and the next session sends it again, once. So the CPE
//! receives that one task twice (delivery of an RPC in flight is at least once), while every
//! task is completed exactly once. The RPCs carry the task id as ParameterKey
//! (SetParameterValues, AddObject, DeleteObject: TR-069 Amd 6 A.3.2.1, A.3.2.6, A.3.2.7; the
//! CPE keeps the last one applied in `ManagementServer.ParameterKey`) or as CommandKey (Reboot,
//! A.3.2.9, echoed in `M Reboot`), so a re-sent RPC is recognisable on the device too.
//!
//! The tests start the binary (`CARGO_BIN_EXE_acs-sim`) on a database in a temporary
//! directory and drive it with a scripted CPE over loopback; the kill happens when the CPE
//! holds a given request, never after a delay.
#![cfg(unix)]

#[path = "server/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use acs_sim::store::{FaultFilter, SqliteStore, Store, TaskFilter, TaskId, TaskStatus};
use http::{Method, StatusCode};
use schemas::rpc::EventCode;
use schemas::rpc::{
    AddObjectResponse, DeleteObjectResponse, RebootResponse, SetParameterValuesResponse,
};
use schemas::{Body, Envelope};
use serde_json::{Value, json};
use support::{Answer, PostError, TestCpe, device, http_request, inform, reply_to};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, ChildStderr, Command};

/// The device the scripted CPE plays.
const SERIAL: &str = "RESTART1";
/// How long the server may take to start listening, and to exit once stopped.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(10);
/// The line `acs-sim serve` logs once every listener is bound.
const SERVING: &str = "acs-sim serving";
/// `serve`'s configuration: no Connection Request credentials provisioning, so sessions
/// carry only the queued tasks.
const CONFIG: &str = "[connection_request]\nprovision = false\n";

/// The listen addresses of one server, kept across a restart (the CPE's ACS URL does not
/// change).
#[derive(Clone, Copy, Debug)]
struct Ports {
    cwmp: SocketAddr,
    nbi: SocketAddr,
    files: SocketAddr,
}

impl Ports {
    /// Three loopback ports free a moment ago (bound together, so distinct).
    fn free() -> Self {
        let bind = || TcpListener::bind("127.0.0.1:0").unwrap();
        let (cwmp, nbi, files) = (bind(), bind(), bind());
        let addr = |listener: &TcpListener| listener.local_addr().unwrap();
        Self {
            cwmp: addr(&cwmp),
            nbi: addr(&nbi),
            files: addr(&files),
        }
    }
}

/// An `acs-sim serve` process; killed (SIGKILL) if dropped while running, so a failing test
/// leaves no server behind. Its log is kept and printed if the test fails.
struct Server {
    child: Child,
    ports: Ports,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts a server on fresh ports, with its database and configuration in `dir`; new ports
    /// are tried if another process took one in between.
    async fn start(dir: &Path) -> Self {
        const TRIES: usize = 3;
        let mut failures = Vec::new();
        for _ in 0..TRIES {
            match Self::spawn(dir, Ports::free()).await {
                Ok(server) => return server,
                Err(log) if log.contains("cannot listen") => failures.push(log),
                Err(log) => panic!("acs-sim serve did not start:\n{log}"),
            }
        }
        panic!("acs-sim serve found no free ports in {TRIES} tries:\n{failures:#?}");
    }

    /// Starts a server again on `ports` and the same database.
    async fn restart(dir: &Path, ports: Ports) -> Self {
        Self::spawn(dir, ports)
            .await
            .unwrap_or_else(|log| panic!("acs-sim serve did not restart:\n{log}"))
    }

    /// Runs `acs-sim serve` and waits for its [`SERVING`] line; the log so far if it exits
    /// first.
    async fn spawn(dir: &Path, ports: Ports) -> Result<Self, String> {
        let config = dir.join("acs.toml");
        std::fs::write(&config, CONFIG).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_acs-sim"));
        command
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--db")
            .arg(db_path(dir))
            .args(["--cwmp", &ports.cwmp.to_string()])
            .args(["--nbi", &ports.nbi.to_string()])
            .args(["--files", &ports.files.to_string()])
            // The file server's blobs (`store.files_dir`, relative) go in `dir` too.
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ACS_") {
                command.env_remove(name);
            }
        }
        let mut child = command.spawn().expect("acs-sim runs");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
        let mut log = Vec::new();
        let ready = tokio::time::timeout(PROCESS_TIMEOUT, async {
            while let Some(line) = lines.next_line().await.expect("the log is readable") {
                let ready = line.contains(SERVING);
                log.push(line);
                if ready {
                    return true;
                }
            }
            false
        })
        .await
        .expect("acs-sim serve starts or exits in time");
        if !ready {
            let status = child.wait().await.expect("the process is reaped");
            log.push(format!("(exited: {status})"));
            return Err(log.join("\n"));
        }
        let log = Arc::new(Mutex::new(log));
        tokio::spawn(keep_log(lines, Arc::clone(&log)));
        Ok(Self { child, ports, log })
    }

    /// `kill -9`: the process dies without running any of its code.
    async fn kill(mut self) -> ExitStatus {
        self.child.start_kill().expect("the process can be killed");
        self.wait().await
    }

    /// SIGTERM: the graceful stop, as a service manager does it.
    async fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().expect("still running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill(1) runs");
        assert!(sent.success(), "kill -TERM {pid}: {sent}");
        self.wait().await
    }

    async fn wait(&mut self) -> ExitStatus {
        tokio::time::timeout(PROCESS_TIMEOUT, self.child.wait())
            .await
            .expect("the process exits in time")
            .expect("the process is reaped")
    }

    /// A REST API call.
    async fn rest(&self, method: Method, target: &str, body: impl Into<bytes::Bytes>) -> Answer {
        http_request(self.ports.nbi, method, target, body).await
    }

    /// A REST API `GET` answered `200` with JSON.
    async fn get(&self, target: &str) -> Value {
        let answer = self.rest(Method::GET, target, "").await;
        assert_eq!(answer.status, StatusCode::OK, "GET {target}: {answer:?}");
        answer.json()
    }

    /// Queues `task` (GenieACS task JSON) for the CPE's device; returns its id.
    async fn queue(&self, task: &Value) -> TaskId {
        let target = format!("/devices/{}/tasks", device(SERIAL));
        let answer = self.rest(Method::POST, &target, task.to_string()).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{task}: {answer:?}");
        let id = answer.json()["_id"]
            .as_str()
            .expect("the task's id")
            .to_owned();
        id.parse().expect("a task id")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
            eprintln!("acs-sim serve log:\n{}", log.join("\n"));
        }
    }
}

/// Reads the server's log to its end (so the pipe never fills and blocks the server).
async fn keep_log(
    mut lines: tokio::io::Lines<BufReader<ChildStderr>>,
    log: Arc<Mutex<Vec<String>>>,
) {
    while let Ok(Some(line)) = lines.next_line().await {
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }
}

fn db_path(dir: &Path) -> PathBuf {
    dir.join("acs.db")
}

/// What the scripted CPE saw, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    /// The ACS sent the RPC of this task.
    Request(String),
    /// The ACS took the CPE's response to this task's RPC (it answered that POST).
    Answered(String),
}

/// How a session of [`Cpe::session`] ended.
enum Outcome {
    /// `204 No Content` after this many requests.
    Ended(usize),
    /// The CPE stopped with this request unanswered.
    Holding(Box<Envelope>),
}

/// A scripted CPE that answers every task RPC with success and logs the task ids.
struct Cpe {
    http: TestCpe,
    log: Vec<Seen>,
}

impl Cpe {
    fn new(server: &Server) -> Self {
        Self {
            http: TestCpe::new(server.ports.cwmp),
            log: Vec::new(),
        }
    }

    /// One session (TR-069 §3.7.1): Inform with `event`, an empty POST, then a response to
    /// each request until `204`. With `hold_after`, stops holding the first request that
    /// arrives once the CPE has had that many responses taken in all.
    async fn session(&mut self, event: EventCode, hold_after: Option<usize>) -> Outcome {
        // A new session starts without the last one's cookie.
        self.http.cookie = None;
        let informed = self.http.post(inform(SERIAL, event)).await;
        assert_eq!(informed.name(), "InformResponse");
        let mut next = self.http.post("").await;
        let mut requests = 0;
        loop {
            if next.status == StatusCode::NO_CONTENT {
                return Outcome::Ended(requests);
            }
            let request = next.envelope();
            self.log.push(Seen::Request(task_key(&request.body)));
            requests += 1;
            if hold_after == Some(self.answered().len()) {
                return Outcome::Holding(Box::new(request));
            }
            next = self
                .answer(&request)
                .await
                .unwrap_or_else(|e| panic!("the ACS takes the response: {e}"));
        }
    }

    /// Sends the success response to `request`.
    async fn answer(&mut self, request: &Envelope) -> Result<Answer, PostError> {
        let answer = self
            .http
            .try_post(reply_to(request, response_to(&request.body)))
            .await?;
        self.log.push(Seen::Answered(task_key(&request.body)));
        Ok(answer)
    }

    /// Runs sessions until one carries no request.
    async fn run_until_idle(&mut self) {
        const MOST: usize = 10;
        for _ in 0..MOST {
            if let Outcome::Ended(0) = self.session(EventCode::Periodic, None).await {
                return;
            }
        }
        panic!("the ACS still had requests after {MOST} sessions");
    }

    /// The task ids of the RPCs received, in order.
    fn requests(&self) -> Vec<String> {
        self.seen(|s| match s {
            Seen::Request(id) => Some(id),
            Seen::Answered(_) => None,
        })
    }

    /// The task ids of the responses the ACS took, in order.
    fn answered(&self) -> Vec<String> {
        self.seen(|s| match s {
            Seen::Answered(id) => Some(id),
            Seen::Request(_) => None,
        })
    }

    fn seen(&self, pick: impl Fn(&Seen) -> Option<&String>) -> Vec<String> {
        self.log.iter().filter_map(pick).cloned().collect()
    }
}

/// The task id an RPC carries: its ParameterKey or CommandKey.
fn task_key(request: &Body) -> String {
    match request {
        Body::SetParameterValues(r) => r.parameter_key.as_str(),
        Body::AddObject(r) => r.parameter_key.as_str(),
        Body::DeleteObject(r) => r.parameter_key.as_str(),
        Body::Reboot(r) => r.command_key.as_str(),
        other => panic!("a request no task of this test sends: {}", other.name()),
    }
    .to_owned()
}

/// The CPE's success response to `request`.
fn response_to(request: &Body) -> Body {
    match request {
        Body::SetParameterValues(_) => SetParameterValuesResponse::default().into(),
        Body::AddObject(_) => AddObjectResponse {
            instance_number: 1,
            ..AddObjectResponse::default()
        }
        .into(),
        Body::DeleteObject(_) => DeleteObjectResponse::default().into(),
        Body::Reboot(_) => RebootResponse::default().into(),
        other => panic!("a request no task of this test sends: {}", other.name()),
    }
}

/// Task `n` of the queue: mostly SetParameterValues with a distinct value, with AddObject,
/// DeleteObject and Reboot mixed in, so both ParameterKey and CommandKey carry task ids.
fn task(n: usize) -> Value {
    match n % 8 {
        2 | 6 => json!({"name": "addObject", "objectName": "Device.NAT.PortMapping."}),
        3 => json!({"name": "deleteObject", "objectName": format!("Device.NAT.PortMapping.{n}.")}),
        7 => json!({"name": "reboot"}),
        _ => json!({
            "name": "setParameterValues",
            "parameterValues": [["Device.DeviceInfo.ProvisioningCode", format!("task-{n}")]],
        }),
    }
}

/// Registers the CPE's device (a session with nothing queued), then queues `count` tasks
/// through the REST API; returns their ids in queue order.
async fn device_with_tasks(server: &Server, cpe: &mut Cpe, count: usize) -> Vec<String> {
    let Outcome::Ended(0) = cpe.session(EventCode::Boot, None).await else {
        panic!("the registration session carries no request");
    };
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        ids.push(server.queue(&task(n)).await.as_str().to_owned());
    }
    ids
}

/// A copy of the database files as a crash left them, opened as the restarted server opens
/// the original (which stays untouched).
fn open_copy(dir: &Path, copy: &Path) -> SqliteStore {
    let target = db_path(copy);
    let with_suffix = |path: &Path, suffix: &str| {
        let mut path = path.as_os_str().to_owned();
        path.push(suffix);
        PathBuf::from(path)
    };
    // The database and its write-ahead log (where the last commits are), as SQLite names them.
    for suffix in ["", "-wal", "-shm"] {
        let from = with_suffix(&db_path(dir), suffix);
        if from.exists() {
            std::fs::copy(&from, with_suffix(&target, suffix)).unwrap();
        }
    }
    SqliteStore::open(&target).unwrap()
}

/// The ids that appear more than once in `ids`.
fn duplicates(ids: &[String]) -> BTreeSet<String> {
    let mut counts = BTreeMap::<&String, usize>::new();
    for id in ids {
        *counts.entry(id).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(id, _)| id.clone())
        .collect()
}

/// 100 tasks queued; the ACS is killed (`kill -9`) while the CPE holds the RPC of the 41st,
/// then started again on the same database. Every task is completed exactly once (the
/// completion log), the queue ends empty with no faults, and the CPE receives every task,
/// the in-flight one twice (see the module docs for why that is not running it twice) and
/// no task after the ACS took its response.
#[tokio::test]
async fn kill_9_mid_queue_loses_no_task_and_completes_each_once() {
    const TASKS: usize = 100;
    const KILL_AFTER: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let ports = server.ports;
    let mut cpe = Cpe::new(&server);
    let ids = device_with_tasks(&server, &mut cpe, TASKS).await;

    let Outcome::Holding(held) = cpe
        .session(EventCode::ConnectionRequest, Some(KILL_AFTER))
        .await
    else {
        panic!("the session ended before the CPE had answered {KILL_AFTER} tasks");
    };
    let in_flight = task_key(&held.body);
    assert_eq!(in_flight, ids[KILL_AFTER], "tasks are sent oldest first");
    let killed = server.kill().await;
    assert!(!killed.success(), "killed: {killed}");
    let lost = cpe.answer(&held).await;
    assert!(lost.is_err(), "a dead ACS took the response: {lost:?}");

    // The crash image: the ACS recorded exactly the responses it took, and the task in
    // flight was claimed, not completed (opening the copy requeues it with attempts 1).
    let crash = tempfile::tempdir().unwrap();
    let image = open_copy(dir.path(), crash.path());
    let logged: Vec<String> = image
        .completed_tasks(None)
        .unwrap()
        .into_iter()
        .map(|t| t.id.as_str().to_owned())
        .collect();
    assert_eq!(logged.len(), KILL_AFTER);
    assert_eq!(logged, cpe.answered(), "completion log at the kill");
    let queued = image.tasks(&TaskFilter::default()).unwrap();
    assert_eq!(queued.len(), TASKS - KILL_AFTER);
    assert_eq!(queued[0].id.as_str(), in_flight);
    assert_eq!(
        (queued[0].status, queued[0].attempts),
        (TaskStatus::Queued, 1)
    );
    assert!(queued[1..].iter().all(|t| t.attempts == 0), "{queued:?}");
    drop(image);

    let server = Server::restart(dir.path(), ports).await;
    cpe.run_until_idle().await;

    // (1) Nothing left, nothing faulted, through the REST API.
    assert_eq!(server.get("/tasks/").await, json!([]));
    assert_eq!(server.get("/faults/").await, json!([]));
    let status = server.terminate().await;
    assert!(status.success(), "graceful stop: {status}");

    let store = SqliteStore::open(db_path(dir.path())).unwrap();
    assert!(store.tasks(&TaskFilter::default()).unwrap().is_empty());
    assert!(store.faults(&FaultFilter::default()).unwrap().is_empty());
    // (2) Each task completed exactly once, in queue order; only the one in flight at the
    // kill had a claim dropped.
    let completed = store.completed_tasks(Some(&device(SERIAL))).unwrap();
    let completed_ids: Vec<String> = completed.iter().map(|t| t.id.as_str().to_owned()).collect();
    assert_eq!(completed_ids, ids, "completion log");
    for task in &completed {
        let expected = u32::from(task.id.as_str() == in_flight);
        assert_eq!(task.attempts, expected, "{task:?}");
    }
    // (3) The CPE received every task; only the one in flight at the kill twice.
    let received = cpe.requests();
    assert_eq!(
        received.iter().collect::<BTreeSet<_>>(),
        ids.iter().collect::<BTreeSet<_>>(),
        "tasks received"
    );
    let twice = duplicates(&received);
    assert!(
        twice.len() <= 1 && twice.iter().all(|id| *id == in_flight),
        "received more than once: {twice:?} (in flight at the kill: {in_flight})"
    );
    let expected: Vec<String> = ids[..=KILL_AFTER]
        .iter()
        .chain(&ids[KILL_AFTER..])
        .cloned()
        .collect();
    assert_eq!(received, expected, "the order of the requests");
    // (4) No task was sent after the ACS took (and so recorded) its response.
    let mut done = BTreeSet::new();
    for seen in &cpe.log {
        match seen {
            Seen::Request(id) => assert!(!done.contains(id), "{id} sent after it was done"),
            Seen::Answered(id) => assert!(done.insert(id.clone()), "{id} answered twice"),
        }
    }
    assert_eq!(done.len(), TASKS);
    validate_one_of_each(&cpe.http.received);
}

/// Checks one envelope of each message the ACS sent against the CWMP schemas (the others
/// differ from it only in keys and values; validating all 140 would take seconds).
fn validate_one_of_each(received: &[bytes::Bytes]) {
    let mut kinds = BTreeMap::new();
    for envelope in received {
        let name = Envelope::parse(envelope)
            .expect("a CWMP envelope")
            .body
            .name();
        kinds.entry(name).or_insert(envelope);
    }
    assert_eq!(
        kinds.keys().copied().collect::<Vec<_>>(),
        [
            "AddObject",
            "DeleteObject",
            "InformResponse",
            "Reboot",
            "SetParameterValues"
        ]
    );
    schemas::testing::validate_envelopes(&kinds.into_values().collect::<Vec<_>>());
}

/// SIGTERM while the CPE holds a task's RPC: the server stops cleanly and, before exiting,
/// puts the claimed task back in the queue with its `attempts` bumped (read from the file
/// before any restart could requeue it); the restarted server then completes it.
#[tokio::test]
async fn sigterm_mid_session_releases_the_claimed_task() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let ports = server.ports;
    let mut cpe = Cpe::new(&server);
    let ids = device_with_tasks(&server, &mut cpe, 2).await;
    let Outcome::Holding(held) = cpe.session(EventCode::ConnectionRequest, Some(0)).await else {
        panic!("the session carries the first task");
    };
    assert_eq!(task_key(&held.body), ids[0]);

    let status = server.terminate().await;
    assert!(status.success(), "graceful stop: {status}");
    assert!(
        cpe.answer(&held).await.is_err(),
        "a stopped ACS took the response"
    );
    assert_eq!(
        stored_states(&db_path(dir.path())),
        [
            (ids[0].clone(), "queued".to_owned(), 1),
            (ids[1].clone(), "queued".to_owned(), 0)
        ],
        "the queue as the stopped server left it"
    );

    let server = Server::restart(dir.path(), ports).await;
    cpe.run_until_idle().await;
    assert_eq!(server.get("/tasks/").await, json!([]));
    let status = server.terminate().await;
    assert!(status.success(), "graceful stop: {status}");
    let store = SqliteStore::open(db_path(dir.path())).unwrap();
    let completed: Vec<(String, u32)> = store
        .completed_tasks(None)
        .unwrap()
        .into_iter()
        .map(|t| (t.id.as_str().to_owned(), t.attempts))
        .collect();
    assert_eq!(completed, [(ids[0].clone(), 1), (ids[1].clone(), 0)]);
    assert_eq!(cpe.requests(), [ids[0].as_str(), &ids[0], &ids[1]]);
    cpe.http.validate();
}

/// Each task's id, status and attempts, read without `SqliteStore::open` (which would requeue
/// tasks left in progress and hide whether the server released them), in queue order.
fn stored_states(db: &Path) -> Vec<(String, String, u32)> {
    let connection =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut statement = connection
        .prepare("SELECT id, status, attempts FROM tasks ORDER BY seq")
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}
