//! `cpe backup`, `cpe backup verify` and `cpe restore`, the real binary against a running
//! agent: a backup taken from the running agent, restored into a wiped state directory, gives
//! the next agent the same values.

use std::path::Path;
use std::process::Output;

use crate::support::cwmp::{cpe_binary, start_without_url};

async fn cpe(args: &[&str], dir: &Path) -> Output {
    let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    args.extend(["--state-dir".to_owned(), dir.display().to_string()]);
    cpe_binary(args, Vec::new()).await
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The values of `cpe get` that belong to the device's state (not those that change with
/// each start: the uptime, and the Connection Request URL's port).
async fn values(dir: &Path) -> Vec<String> {
    let out = cpe(
        &["get", "Device.ManagementServer.", "Device.DeviceInfo."],
        dir,
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    stdout(&out)
        .lines()
        .filter(|l| !l.contains("UpTime") && !l.contains("ConnectionRequestURL"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_wipe_restore_gives_the_same_values() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path();
    let saved = tempfile::tempdir().unwrap();
    let file = saved.path().join("cpe.snap");
    let file_arg = file.to_str().unwrap();

    let agent = start_without_url(dir).await;
    let set = cpe(
        &[
            "set",
            "Device.ManagementServer.PeriodicInformInterval=4321",
            "Device.ManagementServer.ConnectionRequestUsername=snap-user",
        ],
        dir,
    )
    .await;
    assert!(set.status.success(), "{set:?}");
    let before = values(dir).await;
    assert!(
        before.contains(&"Device.ManagementServer.PeriodicInformInterval = 4321".to_owned()),
        "{before:?}"
    );

    let out = cpe(&["backup", file_arg], dir).await;
    assert!(out.status.success(), "{out:?}");
    let printed = stdout(&out);
    assert!(printed.contains("cpe-state of oui="), "{printed}");
    assert!(printed.contains("sha256 "), "{printed}");

    let out = cpe_binary(
        vec!["backup".into(), "verify".into(), file_arg.into()],
        vec![],
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).starts_with("corrupt: false\n"), "{out:?}");

    // A restore while the agent runs is refused, naming the way out.
    let out = cpe(&["restore", file_arg], dir).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stop it first"), "{err}");

    agent.stop().await;
    for entry in std::fs::read_dir(dir).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let out = cpe(&["restore", file_arg], dir).await;
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).starts_with("restored cpe-state of "),
        "{out:?}"
    );

    let agent = start_without_url(dir).await;
    assert_eq!(values(dir).await, before);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_is_reported_corrupt_and_refused() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path();
    let file = dir.join("cpe.snap");
    let file_arg = file.to_str().unwrap();
    let agent = start_without_url(dir).await;
    agent.stop().await;
    // A stopped agent is backed up from its state files.
    let out = cpe(&["backup", file_arg], dir).await;
    assert!(out.status.success(), "{out:?}");
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&file, &bytes).unwrap();

    let out = cpe_binary(
        vec![
            "backup".into(),
            "verify".into(),
            file_arg.into(),
            "--json".into(),
        ],
        vec![],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict["corrupt"], true);
    assert!(
        verdict["reason"]
            .as_str()
            .unwrap()
            .contains("checksum mismatch"),
        "{verdict}"
    );

    let model = std::fs::read(dir.join("model.json")).unwrap();
    let out = cpe(&["restore", file_arg], dir).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("corrupt"), "{err}");
    assert_eq!(std::fs::read(dir.join("model.json")).unwrap(), model);
}
