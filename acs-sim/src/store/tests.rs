//! One suite for every backend, plus the SQLite-only restart and crash tests.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tempfile::TempDir;

use super::*;

mod write_behind;

/// A backend under test and whatever must live as long as it (the temporary directory).
struct Fixture {
    store: Box<dyn Store>,
    _dir: Option<TempDir>,
}

fn memory() -> Fixture {
    Fixture {
        store: Box::new(MemoryStore::new()),
        _dir: None,
    }
}

fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("acs.sqlite")).unwrap();
    Fixture {
        store: Box::new(store),
        _dir: Some(dir),
    }
}

fn inform(serial: &str, now: i64) -> InformSummary {
    InformSummary {
        manufacturer: "Example".to_owned(),
        oui: "00236A".to_owned(),
        product_class: "IGD".to_owned(),
        serial_number: serial.to_owned(),
        events: vec!["0 BOOTSTRAP".to_owned(), "1 BOOT".to_owned()],
        parameters: vec![value("Device.DeviceInfo.SoftwareVersion", "1.0")],
        cwmp_version: "1.4".to_owned(),
        connection_request_url: Some(format!("http://10.0.0.1:7547/{serial}")),
        now,
    }
}

fn value(name: &str, value: &str) -> ParameterValue {
    ParameterValue {
        name: name.to_owned(),
        value: value.to_owned(),
        xsd_type: "xsd:string".to_owned(),
    }
}

fn new_task(device: &DeviceId, name: TaskName, timestamp: i64) -> NewTask {
    NewTask {
        device: device.clone(),
        name,
        arguments: json!({"parameterNames": ["Device.DeviceInfo."]}),
        timestamp,
    }
}

fn fault_detail(timestamp: i64) -> FaultDetail {
    FaultDetail {
        code: "9002".to_owned(),
        message: "Internal error".to_owned(),
        detail: json!({"faultCode": 9002}),
        timestamp,
    }
}

fn ids(devices: &[Device]) -> Vec<String> {
    devices.iter().map(|d| d.serial_number.clone()).collect()
}

fn is_not_found<T: fmt::Debug>(result: Result<T>) -> bool {
    matches!(result, Err(StoreError::NotFound { .. }))
}

fn is_conflict<T: fmt::Debug>(result: Result<T>) -> bool {
    matches!(result, Err(StoreError::Conflict { .. }))
}

fn devices_and_informs(store: &dyn Store) {
    let id = store.record_inform(&inform("SN-1", 100)).unwrap();
    assert_eq!(id.as_str(), "00236A-IGD-SN%2D1");
    let device = store.device(&id).unwrap();
    assert_eq!(device.last_inform, 100);
    assert_eq!(device.last_events, ["0 BOOTSTRAP", "1 BOOT"]);
    assert_eq!(device.cwmp_version, "1.4");
    assert_eq!(
        device.parameters["Device.DeviceInfo.SoftwareVersion"],
        ParameterRecord {
            value: "1.0".to_owned(),
            xsd_type: "xsd:string".to_owned(),
            timestamp: 100
        }
    );

    // Second Inform: events replaced, parameters merged, tags and credentials kept.
    store.add_tag(&id, "lab").unwrap();
    let credentials = Credentials {
        username: "cr".to_owned(),
        password: "secret".to_owned(),
    };
    store.set_credentials(&id, Some(&credentials)).unwrap();
    store
        .set_parameters(
            &id,
            &[value(
                "Device.ManagementServer.PeriodicInformInterval",
                "60",
            )],
            150,
        )
        .unwrap();
    let mut second = inform("SN-1", 200);
    second.events = vec!["2 PERIODIC".to_owned()];
    second.parameters = vec![value("Device.DeviceInfo.SoftwareVersion", "1.1")];
    second.connection_request_url = None;
    store.record_inform(&second).unwrap();
    let device = store.device(&id).unwrap();
    assert_eq!(device.last_inform, 200);
    assert_eq!(device.last_events, ["2 PERIODIC"]);
    assert_eq!(device.parameters.len(), 2);
    assert_eq!(
        device.parameters["Device.DeviceInfo.SoftwareVersion"].value,
        "1.1"
    );
    assert_eq!(
        device.parameters["Device.ManagementServer.PeriodicInformInterval"].timestamp,
        150
    );
    assert_eq!(device.tags, BTreeSet::from(["lab".to_owned()]));
    assert_eq!(device.credentials, Some(credentials));
    assert_eq!(device.connection_request_url, None);
    store.set_credentials(&id, None).unwrap();
    assert_eq!(store.device(&id).unwrap().credentials, None);

    // Empty ProductClass.
    let mut bare = inform("X", 1);
    bare.product_class.clear();
    assert_eq!(store.record_inform(&bare).unwrap().as_str(), "00236A-X");

    let missing = DeviceId::new("1", "", "2");
    assert!(is_not_found(store.device(&missing)));
    assert!(is_not_found(store.set_parameters(&missing, &[], 1)));
    assert!(is_not_found(store.set_credentials(&missing, None)));
    assert!(is_not_found(store.add_tag(&missing, "t")));
    assert!(is_not_found(store.delete_device(&missing)));
}

#[test]
fn summary_from_codec_inform() {
    use schemas::rpc::types::{DeviceIdStruct, EventStruct, ParameterValueStruct};
    use schemas::rpc::{EventCode, Inform};
    use schemas::value::Value;

    let inform = Inform {
        device_id: DeviceIdStruct {
            manufacturer: "Example".to_owned(),
            oui: "00236A".to_owned(),
            product_class: String::new(),
            serial_number: "SN 7".to_owned(),
        },
        event: vec![EventStruct::new("1 BOOT".parse::<EventCode>().unwrap())],
        parameter_list: vec![
            ParameterValueStruct::new(
                "InternetGatewayDevice.ManagementServer.ConnectionRequestURL",
                "http://192.0.2.1:7547/cr",
            ),
            ParameterValueStruct::new(
                "InternetGatewayDevice.ManagementServer.PeriodicInformInterval",
                Value::UnsignedInt(300),
            ),
        ],
        ..Inform::default()
    };
    let summary = InformSummary::from_inform(&inform, "1.2", 9);
    assert_eq!(summary.device_id().as_str(), "00236A-SN%207");
    assert_eq!(summary.events, ["1 BOOT"]);
    assert_eq!(
        summary.connection_request_url.as_deref(),
        Some("http://192.0.2.1:7547/cr")
    );
    assert_eq!(summary.parameters[1].value, "300");
    assert_eq!(summary.parameters[1].xsd_type, "xsd:unsignedInt");
    assert_eq!(summary.parameters[0].xsd_type, "xsd:string");
    assert_eq!((summary.cwmp_version.as_str(), summary.now), ("1.2", 9));
}

fn device_filters(store: &dyn Store) {
    for (serial, version) in [("A", "1.0"), ("B", "2.0"), ("C", "2.0")] {
        let mut i = inform(serial, 1);
        i.parameters = vec![value("Device.DeviceInfo.SoftwareVersion", version)];
        store.record_inform(&i).unwrap();
    }
    let a = DeviceId::new("00236A", "IGD", "A");
    let b = DeviceId::new("00236A", "IGD", "B");
    store.add_tag(&a, "red").unwrap();
    store.add_tag(&b, "red").unwrap();
    store.add_tag(&b, "red").unwrap();
    store.add_tag(&b, "blue").unwrap();

    let version = |v: &str| DeviceFilter::ParameterEquals {
        name: "Device.DeviceInfo.SoftwareVersion".to_owned(),
        value: v.to_owned(),
    };
    let cases = [
        (DeviceFilter::All, vec!["A", "B", "C"]),
        (DeviceFilter::Id(b.clone()), vec!["B"]),
        (DeviceFilter::Tag("red".to_owned()), vec!["A", "B"]),
        (DeviceFilter::Tag("none".to_owned()), vec![]),
        (version("2.0"), vec!["B", "C"]),
        (
            DeviceFilter::And(vec![version("2.0"), DeviceFilter::Tag("red".to_owned())]),
            vec!["B"],
        ),
        (
            DeviceFilter::Or(vec![version("1.0"), DeviceFilter::Tag("blue".to_owned())]),
            vec!["A", "B"],
        ),
        (DeviceFilter::And(vec![]), vec!["A", "B", "C"]),
        (DeviceFilter::Or(vec![]), vec![]),
        // A value that would break naive string formatting is just a value.
        (DeviceFilter::Tag("x' OR '1'='1".to_owned()), vec![]),
    ];
    for (filter, expected) in cases {
        let devices = store.devices(&filter).unwrap();
        assert_eq!(ids(&devices), expected, "{filter:?}");
        assert!(devices.iter().all(|d| d.matches(&filter)));
    }

    store.remove_tag(&b, "red").unwrap();
    store.remove_tag(&b, "absent").unwrap();
    assert_eq!(
        ids(&store.devices(&DeviceFilter::Tag("red".to_owned())).unwrap()),
        ["A"]
    );
}

fn task_life_cycle(store: &dyn Store) {
    let id = store.record_inform(&inform("T", 1)).unwrap();
    let missing = DeviceId::new("1", "", "2");
    assert!(is_not_found(store.add_task(&new_task(
        &missing,
        TaskName::Reboot,
        1
    ))));
    assert_eq!(store.next_task(&id).unwrap(), None);

    let later = store
        .add_task(&new_task(&id, TaskName::Reboot, 20))
        .unwrap();
    let first = store
        .add_task(&new_task(&id, TaskName::GetParameterValues, 10))
        .unwrap();
    let tie = store
        .add_task(&new_task(&id, TaskName::Download, 20))
        .unwrap();
    assert_eq!(first.status, TaskStatus::Queued);
    assert_eq!(first.id.as_str().len(), 24);
    let all = store.tasks(&TaskFilter::default()).unwrap();
    assert_eq!(
        all.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        [first.id.clone(), later.id.clone(), tie.id.clone()]
    );
    assert_eq!(all[0], first);

    // Claim the oldest; the next one is then the next oldest.
    assert_eq!(store.next_task(&id).unwrap().as_ref(), Some(&first));
    let claimed = store.claim_task(&first.id).unwrap();
    assert_eq!(claimed.status, TaskStatus::InProgress);
    assert!(is_conflict(store.claim_task(&first.id)));
    assert_eq!(store.next_task(&id).unwrap().unwrap().id, later.id);
    assert!(is_conflict(store.complete_task(&later.id, 5)));
    store.complete_task(&first.id, 30).unwrap();
    assert!(is_not_found(store.complete_task(&first.id, 31)));
    assert_eq!(
        store.completed_tasks(Some(&id)).unwrap(),
        [CompletedTask {
            id: first.id.clone(),
            device: id.clone(),
            name: TaskName::GetParameterValues,
            completed_at: 30,
            attempts: 0,
        }]
    );
    assert_eq!(store.completed_tasks(Some(&missing)).unwrap(), []);

    // Fault, list, retry.
    store.claim_task(&later.id).unwrap();
    let fault = store.fault_task(&later.id, &fault_detail(40)).unwrap();
    assert_eq!(fault.id, format!("{id}:task_{}", later.id));
    assert_eq!(fault.retries, 1);
    let stored = store
        .tasks(&TaskFilter::default().id(later.id.clone()))
        .unwrap();
    assert_eq!(stored[0].status, TaskStatus::Faulted);
    assert_eq!(stored[0].retries, 1);
    assert_eq!(
        store.faults(&FaultFilter::default()).unwrap(),
        std::slice::from_ref(&fault)
    );
    assert_eq!(
        store
            .faults(&FaultFilter::default().task(later.id.clone()))
            .unwrap(),
        std::slice::from_ref(&fault)
    );
    assert_eq!(
        store
            .faults(&FaultFilter::default().device(missing.clone()))
            .unwrap(),
        []
    );
    assert_eq!(store.next_task(&id).unwrap().unwrap().id, tie.id);
    assert!(is_conflict(store.retry_task(&tie.id)));
    store.retry_task(&later.id).unwrap();
    assert_eq!(store.faults(&FaultFilter::default()).unwrap(), []);
    assert_eq!(store.next_task(&id).unwrap().unwrap().id, later.id);
    store.claim_task(&later.id).unwrap();
    let again = store.fault_task(&later.id, &fault_detail(50)).unwrap();
    assert_eq!(again.retries, 2);

    // Deleting the fault deletes its task (GenieACS task channel).
    store.delete_fault(&again.id).unwrap();
    assert!(is_not_found(store.delete_fault(&again.id)));
    assert!(
        store
            .tasks(&TaskFilter::default().id(later.id.clone()))
            .unwrap()
            .is_empty()
    );

    // Filters by status and device; delete.
    let queued = store
        .tasks(&TaskFilter::default().status(TaskStatus::Queued))
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        store.tasks(&TaskFilter::default().device(missing)).unwrap(),
        []
    );
    store.claim_task(&tie.id).unwrap();
    store.fault_task(&tie.id, &fault_detail(60)).unwrap();
    store.delete_task(&tie.id).unwrap();
    assert!(is_not_found(store.delete_task(&tie.id)));
    assert_eq!(store.faults(&FaultFilter::default()).unwrap(), []);
    assert_eq!(store.tasks(&TaskFilter::default()).unwrap(), []);
}

fn requeue_and_delete_device(store: &dyn Store) {
    let id = store.record_inform(&inform("R", 1)).unwrap();
    let other = store.record_inform(&inform("S", 1)).unwrap();
    let task = store.add_task(&new_task(&id, TaskName::Reboot, 1)).unwrap();
    let kept = store
        .add_task(&new_task(&other, TaskName::Reboot, 1))
        .unwrap();
    store.claim_task(&task.id).unwrap();
    assert_eq!(store.requeue_in_progress().unwrap(), 1);
    assert_eq!(store.requeue_in_progress().unwrap(), 0);
    let task = store.next_task(&id).unwrap().unwrap();
    assert_eq!((task.status, task.attempts), (TaskStatus::Queued, 1));
    // One claim released by a session that ended before the CPE answered.
    assert!(is_conflict(store.release_task(&task.id)));
    store.claim_task(&task.id).unwrap();
    store.release_task(&task.id).unwrap();
    let task = store.next_task(&id).unwrap().unwrap();
    assert_eq!((task.status, task.attempts), (TaskStatus::Queued, 2));
    store.claim_task(&task.id).unwrap();
    store.fault_task(&task.id, &fault_detail(2)).unwrap();

    store.delete_device(&id).unwrap();
    assert!(is_not_found(store.device(&id)));
    assert_eq!(store.tasks(&TaskFilter::default()).unwrap(), [kept]);
    assert_eq!(store.faults(&FaultFilter::default()).unwrap(), []);
}

fn files(store: &dyn Store) {
    let mut file = FileMeta {
        name: "fw-2.0.bin".to_owned(),
        file_type: "1 Firmware Upgrade Image".to_owned(),
        oui: "00236A".to_owned(),
        product_class: "IGD".to_owned(),
        version: "2.0".to_owned(),
        size: 1 << 20,
        path: "/var/lib/acs/files/fw-2.0.bin".to_owned(),
    };
    store.put_file(&file).unwrap();
    assert_eq!(store.file(&file.name).unwrap(), file);
    file.size = 42;
    store.put_file(&file).unwrap();
    let mut config = file.clone();
    config.name = "cfg.xml".to_owned();
    config.file_type = "3 Vendor Configuration File".to_owned();
    store.put_file(&config).unwrap();
    assert_eq!(store.files().unwrap(), [config.clone(), file.clone()]);
    store.delete_file(&file.name).unwrap();
    assert!(is_not_found(store.delete_file(&file.name)));
    assert!(is_not_found(store.file(&file.name)));
    assert_eq!(store.files().unwrap(), [config]);
}

fn concurrent_claims(store: &dyn Store) {
    let id = store.record_inform(&inform("C", 1)).unwrap();
    for t in 0..50 {
        store.add_task(&new_task(&id, TaskName::Reboot, t)).unwrap();
    }
    // Four workers race for the same tasks: each is claimed and completed by exactly one.
    let completed: Vec<Vec<TaskId>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    while let Some(task) = store.next_task(&id).unwrap() {
                        match store.claim_task(&task.id) {
                            Ok(_) => {
                                store.complete_task(&task.id, 2).unwrap();
                                mine.push(task.id);
                            }
                            Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                    mine
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let all: BTreeSet<TaskId> = completed.iter().flatten().cloned().collect();
    assert_eq!(completed.iter().map(Vec::len).sum::<usize>(), 50);
    assert_eq!(all.len(), 50);
    assert_eq!(store.completed_tasks(None).unwrap().len(), 50);
}

fn repeated_inform_values_keep_their_timestamp(store: &dyn Store) {
    let id = store.record_inform(&inform("T", 10)).unwrap();
    let mut later = inform("T", 20);
    later
        .parameters
        .push(value("Device.DeviceInfo.UpTime", "5"));
    store.record_inform(&later).unwrap();
    let mut changed = inform("T", 30);
    changed.parameters[0].value = "2.0".to_owned();
    store.record_inform(&changed).unwrap();
    let stamps = |store: &dyn Store| {
        let device = store.device(&id).unwrap();
        let stamp = |name: &str| device.parameters[name].timestamp;
        (
            device.last_inform,
            stamp("Device.DeviceInfo.SoftwareVersion"),
            stamp("Device.DeviceInfo.UpTime"),
        )
    };
    // The repeated UpTime keeps 20; the changed SoftwareVersion takes 30; the device says 30.
    assert_eq!(stamps(store), (30, 30, 20));
    store
        .set_parameters(&id, &[value("Device.DeviceInfo.UpTime", "5")], 40)
        .unwrap();
    assert_eq!(stamps(store), (30, 30, 40), "a read or set always stamps");
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod memory_backend {
            $(#[test] fn $case() { super::$case(&*super::memory().store) })*
        }
        mod sqlite_backend {
            $(#[test] fn $case() { super::$case(&*super::sqlite().store) })*
        }
    };
}

suite!(
    devices_and_informs,
    device_filters,
    task_life_cycle,
    requeue_and_delete_device,
    files,
    concurrent_claims,
    repeated_inform_values_keep_their_timestamp,
);

#[test]
fn sqlite_survives_reopen_and_requeues_claims() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acs.sqlite");
    let (id, claimed, queued) = {
        let store = SqliteStore::open(&path).unwrap();
        let id = store.record_inform(&inform("P", 1)).unwrap();
        store.add_tag(&id, "kept").unwrap();
        let claimed = store
            .add_task(&new_task(&id, TaskName::Download, 1))
            .unwrap();
        let queued = store.add_task(&new_task(&id, TaskName::Reboot, 2)).unwrap();
        store.claim_task(&claimed.id).unwrap();
        (id, claimed, queued)
    };
    let store = SqliteStore::open(&path).unwrap();
    assert!(store.device(&id).unwrap().tags.contains("kept"));
    let tasks = store.tasks(&TaskFilter::default()).unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0].id, claimed.id);
    assert_eq!(
        (tasks[0].status, tasks[0].attempts),
        (TaskStatus::Queued, 1)
    );
    assert_eq!((tasks[1].id.clone(), tasks[1].attempts), (queued.id, 0));
    let version: i32 = store
        .lock()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SqliteStore::SCHEMA_VERSION);
    let mode: String = store
        .lock()
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn sqlite_refuses_newer_schema_and_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acs.sqlite");
    {
        let store = SqliteStore::open(&path).unwrap();
        let id = store.record_inform(&inform("Q", 1)).unwrap();
        store.add_task(&new_task(&id, TaskName::Reboot, 1)).unwrap();
        store
            .lock()
            .execute("UPDATE tasks SET name = 'selfDestruct'", [])
            .unwrap();
        assert!(store.tasks(&TaskFilter::default()).is_err());
        store
            .lock()
            .pragma_update(None, "user_version", SqliteStore::SCHEMA_VERSION + 1)
            .unwrap();
    }
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn sqlite_in_memory_works() {
    let store = SqliteStore::open_in_memory().unwrap();
    task_life_cycle(&store);
}

/// Set in the child process of [`sqlite_kill_mid_queue_loses_and_repeats_nothing`]: the store
/// file to work on.
const CRASH_CHILD_ENV: &str = "ACS_SIM_STORE_CRASH_CHILD";
const CRASH_TASKS: usize = 100;

fn crash_device() -> DeviceId {
    DeviceId::new("00236A", "IGD", "CRASH")
}

/// The child: claims and completes tasks until none is queued, pausing between claim and
/// completion (the RPC round trip) so that kills land in that window too.
fn crash_child(path: &Path) {
    let store = SqliteStore::open(path).unwrap();
    let device = crash_device();
    while let Some(task) = store.next_task(&device).unwrap() {
        store.claim_task(&task.id).unwrap();
        std::thread::sleep(Duration::from_millis(1));
        store.complete_task(&task.id, 2).unwrap();
    }
}

/// xorshift64*: a deterministic sequence of kill delays.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// "Kill acs-sim in the middle of 100 queued tasks and start it again: no task is lost or run
/// twice." A child process (this test binary, re-run with [`CRASH_CHILD_ENV`]) works the queue;
/// the parent SIGKILLs it after a pseudo-random delay, again and again, then drains what is left
/// itself. Every task must end in the completion log exactly once.
#[test]
fn sqlite_kill_mid_queue_loses_and_repeats_nothing() {
    if let Some(path) = std::env::var_os(CRASH_CHILD_ENV) {
        crash_child(Path::new(&path));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acs.sqlite");
    let mut expected = BTreeSet::new();
    {
        let store = SqliteStore::open(&path).unwrap();
        let mut summary = inform("CRASH", 1);
        summary.parameters.clear();
        store.record_inform(&summary).unwrap();
        for t in 0..CRASH_TASKS {
            let t = i64::try_from(t).unwrap();
            expected.insert(
                store
                    .add_task(&new_task(&crash_device(), TaskName::Reboot, t))
                    .unwrap()
                    .id,
            );
        }
    }

    let test_name = format!(
        "{}::sqlite_kill_mid_queue_loses_and_repeats_nothing",
        module_path!().trim_start_matches("acs_sim::")
    );
    let started = Instant::now();
    let mut seed: u64 = 0x5eed_0ac5;
    let mut kills = 0;
    // (task, attempts) of every claim a kill cut short; a kill during a child's `open` can leave
    // the same claim to be seen twice, hence the set.
    let mut cut_short = BTreeSet::new();
    for _ in 0..20 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                test_name.as_str(),
                "--exact",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(CRASH_CHILD_ENV, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(5 + next_random(&mut seed) % 30));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL on Unix
            kills += 1;
        }
        child.wait().unwrap();
        // Look at the file as the dead process left it, before a restart requeues.
        let raw = rusqlite::Connection::open(&path).unwrap();
        let mut statement = raw
            .prepare("SELECT id, attempts FROM tasks WHERE status = 'in_progress'")
            .unwrap();
        let claims: Vec<(String, u32)> = statement
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(claims.len() <= 1, "one worker claims one task at a time");
        cut_short.extend(claims);
        let left: u32 = raw
            .query_row("SELECT COUNT(*) FROM tasks", [], |r| r.get(0))
            .unwrap();
        if left == 0 {
            break;
        }
    }

    // Restart: what is left is queued again (attempts bumped where a claim was cut short).
    // One open store per file at a time (the store's lock), so it closes before the last run.
    let (left, done_by_children) = {
        let store = SqliteStore::open(&path).unwrap();
        let left = store.tasks(&TaskFilter::default()).unwrap();
        assert!(left.iter().all(|t| t.status == TaskStatus::Queued));
        (left, store.completed_tasks(None).unwrap().len())
    };
    crash_child(&path);

    let store = SqliteStore::open(&path).unwrap();
    let log = store.completed_tasks(None).unwrap();
    let mut times: HashMap<TaskId, usize> = HashMap::new();
    for entry in &log {
        *times.entry(entry.id.clone()).or_default() += 1;
    }
    assert!(times.values().all(|&n| n == 1), "a task completed twice");
    assert_eq!(
        times.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "a task lost"
    );
    assert_eq!(store.tasks(&TaskFilter::default()).unwrap(), []);
    // Every claim cut short was handed out again exactly once: each bumped `attempts` once.
    let requeues: u32 = log.iter().map(|c| c.attempts).sum();
    assert_eq!(usize::try_from(requeues).unwrap(), cut_short.len());
    assert!(kills > 0, "the children were never killed");
    let cut_short = cut_short.len();
    eprintln!(
        "crash test: {kills} kills ({cut_short} cut a claim short), {done_by_children} tasks \
         done by children, {} left for the last run, {:?}",
        left.len(),
        started.elapsed()
    );
}

/// One step of the differential test; indices pick among a few devices, tags and the tasks
/// created so far (in creation order, since the backends draw different ids).
#[derive(Debug, Clone)]
enum Op {
    Inform {
        device: usize,
        version: usize,
        now: i64,
    },
    AddTag {
        device: usize,
        tag: usize,
    },
    RemoveTag {
        device: usize,
        tag: usize,
    },
    DeleteDevice {
        device: usize,
    },
    AddTask {
        device: usize,
        timestamp: i64,
    },
    Claim {
        task: usize,
    },
    Complete {
        task: usize,
    },
    Fault {
        task: usize,
    },
    Retry {
        task: usize,
    },
    DeleteTask {
        task: usize,
    },
    DeleteFault {
        task: usize,
    },
    Requeue,
}

fn op_strategy() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0..3_usize, 0..3_usize, 0..100_i64).prop_map(|(device, version, now)| Op::Inform {
            device,
            version,
            now
        }),
        (0..3_usize, 0..2_usize).prop_map(|(device, tag)| Op::AddTag { device, tag }),
        (0..3_usize, 0..2_usize).prop_map(|(device, tag)| Op::RemoveTag { device, tag }),
        (0..3_usize).prop_map(|device| Op::DeleteDevice { device }),
        (0..3_usize, 0..4_i64).prop_map(|(device, timestamp)| Op::AddTask { device, timestamp }),
        (0..3_usize, 0..4_i64).prop_map(|(device, timestamp)| Op::AddTask { device, timestamp }),
        (0..8_usize).prop_map(|task| Op::Claim { task }),
        (0..8_usize).prop_map(|task| Op::Complete { task }),
        (0..8_usize).prop_map(|task| Op::Fault { task }),
        (0..8_usize).prop_map(|task| Op::Retry { task }),
        (0..8_usize).prop_map(|task| Op::DeleteTask { task }),
        (0..8_usize).prop_map(|task| Op::DeleteFault { task }),
        Just(Op::Requeue),
    ]
}

/// A backend driven by [`Op`]s, remembering its task ids in creation order.
struct Driven<'a> {
    store: &'a dyn Store,
    tasks: Vec<TaskId>,
}

/// What an operation returned, with backend-specific ids replaced by creation indices.
#[derive(Debug, PartialEq)]
enum Outcome {
    Ok,
    NotFound,
    Conflict,
    Next(Option<usize>),
}

impl Driven<'_> {
    fn serial(device: usize) -> String {
        format!("D-{device}")
    }

    fn device(device: usize) -> DeviceId {
        DeviceId::new("00236A", "IGD", &Self::serial(device))
    }

    fn index(&self, id: &TaskId) -> usize {
        self.tasks.iter().position(|t| t == id).unwrap()
    }

    fn apply(&mut self, op: &Op) -> Outcome {
        let task = |index: &usize| self.tasks.get(*index).cloned();
        let result: Result<()> = match op {
            Op::Inform {
                device,
                version,
                now,
            } => {
                let mut summary = inform(&Self::serial(*device), *now);
                summary.parameters = vec![value("Device.X", &version.to_string())];
                self.store.record_inform(&summary).map(|_| ())
            }
            Op::AddTag { device, tag } => {
                self.store.add_tag(&Self::device(*device), &tag.to_string())
            }
            Op::RemoveTag { device, tag } => self
                .store
                .remove_tag(&Self::device(*device), &tag.to_string()),
            Op::DeleteDevice { device } => self.store.delete_device(&Self::device(*device)),
            Op::AddTask { device, timestamp } => {
                let new = new_task(&Self::device(*device), TaskName::Reboot, *timestamp);
                self.store.add_task(&new).map(|t| self.tasks.push(t.id))
            }
            Op::Claim { task: index } => match task(index) {
                Some(id) => self.store.claim_task(&id).map(|_| ()),
                None => return self.next(index),
            },
            Op::Complete { task: index } => match task(index) {
                Some(id) => self.store.complete_task(&id, 7),
                None => return Outcome::NotFound,
            },
            Op::Fault { task: index } => match task(index) {
                Some(id) => self.store.fault_task(&id, &fault_detail(8)).map(|_| ()),
                None => return Outcome::NotFound,
            },
            Op::Retry { task: index } => match task(index) {
                Some(id) => self.store.retry_task(&id),
                None => return Outcome::NotFound,
            },
            Op::DeleteTask { task: index } => match task(index) {
                Some(id) => self.store.delete_task(&id),
                None => return Outcome::NotFound,
            },
            Op::DeleteFault { task: index } => match task(index) {
                Some(id) => {
                    let device = self
                        .store
                        .tasks(&TaskFilter::default().id(id.clone()))
                        .unwrap()
                        .first()
                        .map(|t| t.device.clone());
                    match device {
                        Some(device) => self.store.delete_fault(&Fault::id_for(&device, &id)),
                        None => return Outcome::NotFound,
                    }
                }
                None => return Outcome::NotFound,
            },
            Op::Requeue => self.store.requeue_in_progress().map(|_| ()),
        };
        match result {
            Ok(()) => Outcome::Ok,
            Err(StoreError::NotFound { .. }) => Outcome::NotFound,
            Err(StoreError::Conflict { .. }) => Outcome::Conflict,
            Err(e) => panic!("{op:?}: {e}"),
        }
    }

    /// For a task index not created yet: ask for the next task of a device instead.
    fn next(&self, index: &usize) -> Outcome {
        let next = self.store.next_task(&Self::device(index % 3)).unwrap();
        Outcome::Next(next.map(|t| self.index(&t.id)))
    }

    /// The whole state, ids replaced by creation indices.
    fn snapshot(&self) -> String {
        let devices = self.store.devices(&DeviceFilter::All).unwrap();
        let tasks: Vec<_> = self
            .store
            .tasks(&TaskFilter::default())
            .unwrap()
            .into_iter()
            .map(|t| {
                (
                    self.index(&t.id),
                    t.device,
                    t.timestamp,
                    t.status,
                    t.retries,
                    t.attempts,
                )
            })
            .collect();
        let faults: Vec<_> = self
            .store
            .faults(&FaultFilter::default())
            .unwrap()
            .into_iter()
            .map(|f| (self.index(&f.task), f.device, f.retries))
            .collect();
        let completed: Vec<_> = self
            .store
            .completed_tasks(None)
            .unwrap()
            .into_iter()
            .map(|c| (self.index(&c.id), c.device, c.attempts))
            .collect();
        format!("{devices:?}\n{tasks:?}\n{faults:?}\n{completed:?}")
    }
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(64))]

    /// Both backends give the same answers and end in the same state for any sequence of
    /// operations.
    #[test]
    fn backends_agree(ops in proptest::collection::vec(op_strategy(), 1..60)) {
        let memory = MemoryStore::new();
        let sqlite = SqliteStore::open_in_memory().unwrap();
        let mut a = Driven { store: &memory, tasks: Vec::new() };
        let mut b = Driven { store: &sqlite, tasks: Vec::new() };
        for op in &ops {
            proptest::prop_assert_eq!(a.apply(op), b.apply(op), "{:?}", op);
        }
        proptest::prop_assert_eq!(a.snapshot(), b.snapshot());
    }
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(16))]

    /// The SQLite store's memory holds what it commits: reopening the file (after a requeue,
    /// which opening does too) gives the same state, tasks queued included.
    #[test]
    fn sqlite_reopens_to_the_same_state(ops in proptest::collection::vec(op_strategy(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acs.sqlite");
        let (before, tasks) = {
            let store = SqliteStore::open(&path).unwrap();
            let mut driven = Driven { store: &store, tasks: Vec::new() };
            for op in ops.iter().chain([&Op::Requeue]) {
                driven.apply(op);
            }
            (driven.snapshot(), driven.tasks)
        };
        let store = SqliteStore::open(&path).unwrap();
        let reopened = Driven { store: &store, tasks };
        proptest::prop_assert_eq!(before, reopened.snapshot());
        for device in 0..3 {
            let id = Driven::device(device);
            let expected = store
                .tasks(&TaskFilter::default().device(id.clone()).status(TaskStatus::Queued))
                .unwrap()
                .into_iter()
                .next();
            proptest::prop_assert_eq!(store.next_task(&id).unwrap(), expected);
        }
    }
}
