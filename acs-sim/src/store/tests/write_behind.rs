//! The SQLite store's write-behind of Inform records: bounded window, order with the writes
//! that follow, read-your-writes, and what a kill -9 keeps.

use std::io::{BufRead as _, BufReader};

use super::*;
use crate::store::writer::WINDOW;

/// A file store and its path.
fn file_store() -> (TempDir, std::path::PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acs.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    (dir, path, store)
}

/// The committed value of `name` for device `id`, read by another connection (what a crash
/// would leave).
fn committed_value(path: &Path, id: &DeviceId, name: &str) -> Option<String> {
    use rusqlite::OptionalExtension as _;
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT value FROM parameters WHERE device_id = ?1 AND name = ?2",
            [id.as_str(), name],
            |r| r.get(0),
        )
        .optional()
        .unwrap()
}

const VERSION: &str = "Device.DeviceInfo.SoftwareVersion";

fn inform_with(serial: &str, version: &str, now: i64) -> InformSummary {
    let mut summary = inform(serial, now);
    summary.parameters = vec![value(VERSION, version)];
    summary
}

#[test]
fn inform_is_committed_within_the_window_and_not_before() {
    let (_dir, path, store) = file_store();
    let recorded = Instant::now();
    let id = store.record_inform(&inform_with("W", "1.0", 1)).unwrap();
    let early = committed_value(&path, &id, VERSION);
    if recorded.elapsed() < WINDOW {
        assert_eq!(early, None, "committed before the window ended");
    }
    // The writer commits once the window has passed; allow for a loaded machine.
    let deadline = recorded + Duration::from_secs(5);
    while committed_value(&path, &id, VERSION).is_none() {
        assert!(Instant::now() < deadline, "never committed");
        std::thread::sleep(WINDOW / 4);
    }
    assert_eq!(committed_value(&path, &id, VERSION).as_deref(), Some("1.0"));
}

#[test]
fn flush_and_drop_commit_pending_informs() {
    let (_dir, path, store) = file_store();
    let id = store.record_inform(&inform_with("F", "1.0", 1)).unwrap();
    store.flush().unwrap();
    assert_eq!(committed_value(&path, &id, VERSION).as_deref(), Some("1.0"));
    store.record_inform(&inform_with("F", "2.0", 2)).unwrap();
    drop(store);
    assert_eq!(committed_value(&path, &id, VERSION).as_deref(), Some("2.0"));
}

#[test]
fn set_parameters_after_inform_is_not_overwritten_by_its_flush() {
    let (_dir, path, store) = file_store();
    let id = store.record_inform(&inform_with("O", "inform", 1)).unwrap();
    store
        .set_parameters(&id, &[value(VERSION, "gpv")], 2)
        .unwrap();
    // Durable on return, and ordered after the Inform it followed.
    assert_eq!(committed_value(&path, &id, VERSION).as_deref(), Some("gpv"));
    store.flush().unwrap();
    assert_eq!(committed_value(&path, &id, VERSION).as_deref(), Some("gpv"));
    assert_eq!(store.device(&id).unwrap().parameters[VERSION].value, "gpv");

    // A later Inform wins again, in memory and on disk.
    store.record_inform(&inform_with("O", "again", 3)).unwrap();
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    let device = store.device(&id).unwrap();
    assert_eq!(
        (
            device.parameters[VERSION].value.as_str(),
            device.parameters[VERSION].timestamp
        ),
        ("again", 3)
    );
}

#[test]
fn reads_see_informs_not_committed_yet() {
    let (_dir, path, store) = file_store();
    let id = store.record_inform(&inform_with("R", "3.1", 7)).unwrap();
    let device = store.device(&id).unwrap();
    assert_eq!((device.last_inform, device.parameters.len()), (7, 1));
    let filter = DeviceFilter::ParameterEquals {
        name: VERSION.to_owned(),
        value: "3.1".to_owned(),
    };
    assert_eq!(ids(&store.devices(&filter).unwrap()), ["R"]);
    // The task needs the device row: adding it commits the Inform first.
    let task = store.add_task(&new_task(&id, TaskName::Reboot, 8)).unwrap();
    assert!(committed_value(&path, &id, VERSION).is_some());
    assert_eq!(store.next_task(&id).unwrap(), Some(task));
}

#[test]
fn delete_then_inform_again_leaves_no_task_behind() {
    let (_dir, path, store) = file_store();
    let id = store.record_inform(&inform_with("D", "1", 1)).unwrap();
    store.add_task(&new_task(&id, TaskName::Reboot, 1)).unwrap();
    store.delete_device(&id).unwrap();
    store.record_inform(&inform_with("D", "2", 2)).unwrap();
    assert_eq!(store.next_task(&id).unwrap(), None);
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.device(&id).unwrap().parameters[VERSION].value, "2");
    assert_eq!(store.tasks(&TaskFilter::default()).unwrap(), []);
}

/// Set in the child process of [`kill_keeps_every_task_tag_and_credential`]: the store file.
const KILL_CHILD_ENV: &str = "ACS_SIM_STORE_KILL_CHILD";
const KILLED_DEVICES: usize = 20;

fn killed_device(index: usize) -> DeviceId {
    DeviceId::new("00236A", "IGD", &format!("K-{index}"))
}

fn killed_credentials(index: usize) -> Credentials {
    Credentials {
        username: format!("user-{index}"),
        password: "secret".to_owned(),
    }
}

/// The child: for each device an Inform, a tag, credentials and a task, each followed by more
/// Informs (left to the write-behind); then says "ready" and waits to be killed.
fn kill_child(path: &Path) {
    let store = SqliteStore::open(path).unwrap();
    for index in 0..KILLED_DEVICES {
        let serial = format!("K-{index}");
        let id = store.record_inform(&inform_with(&serial, "1", 1)).unwrap();
        store.add_tag(&id, "kept").unwrap();
        store.record_inform(&inform_with(&serial, "2", 2)).unwrap();
        store
            .set_credentials(&id, Some(&killed_credentials(index)))
            .unwrap();
        store.record_inform(&inform_with(&serial, "3", 3)).unwrap();
        let timestamp = i64::try_from(index).unwrap();
        store
            .add_task(&new_task(&id, TaskName::Reboot, timestamp))
            .unwrap();
        store.record_inform(&inform_with(&serial, "4", 4)).unwrap();
    }
    println!("ready");
    loop {
        std::thread::park();
    }
}

/// A SIGKILL right after the calls return: every task, tag and credential is in the file; of
/// the Informs that followed them, at most the last window's are lost.
#[test]
fn kill_keeps_every_task_tag_and_credential() {
    if let Some(path) = std::env::var_os(KILL_CHILD_ENV) {
        kill_child(Path::new(&path));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acs.sqlite");
    let test_name = format!(
        "{}::kill_keeps_every_task_tag_and_credential",
        module_path!().trim_start_matches("acs_sim::")
    );
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            test_name.as_str(),
            "--exact",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(KILL_CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(std::result::Result::ok)
        .any(|line| line.contains("ready"));
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(ready, "the child did not get ready");

    let store = SqliteStore::open(&path).unwrap();
    let tasks = store.tasks(&TaskFilter::default()).unwrap();
    assert_eq!(tasks.len(), KILLED_DEVICES);
    for index in 0..KILLED_DEVICES {
        let id = killed_device(index);
        let device = store.device(&id).unwrap();
        assert!(device.tags.contains("kept"), "{id}: tag lost");
        assert_eq!(device.credentials, Some(killed_credentials(index)));
        // Committed with the task at the latest: the Informs before it.
        let version: u32 = device.parameters[VERSION].value.parse().unwrap();
        assert!(
            version >= 3,
            "{id}: an Inform before a durable write was lost"
        );
        assert_eq!(store.next_task(&id).unwrap().unwrap().device, id);
    }
}
