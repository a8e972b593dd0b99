//! `cpe backup`, `cpe backup verify` and `cpe restore`, the real binary against a running
//! agent: a backup taken from the running agent, restored into a wiped state directory, gives
//! the next agent the same values; against an ACS, the restored agent is healthy and the ACS
//! sees the same device.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use schemas::rpc::types::ParameterValueStruct;
use schemas::rpc::{EventCode, GetParameterValues, InformResponse, SetParameterValues};
use schemas::{Body, Envelope};

use crate::support::acs::{HttpResponse, ScriptedAcs};
use crate::support::cwmp::{cpe_binary, events, informs, reply, start_without_url, status};
use crate::support::{Running, agent_config, validate};

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

/// What the ACS reads back in every session: values the ACS set, the ParameterKey, and the
/// device's identity.
const READ_BACK: [&str; 5] = [
    "Device.ManagementServer.PeriodicInformInterval",
    "Device.ManagementServer.ConnectionRequestUsername",
    "Device.ManagementServer.ParameterKey",
    "Device.DeviceInfo.SerialNumber",
    "Device.DeviceInfo.ProductClass",
];

/// An ACS that sets two values (ParameterKey `snap-1`) in its first session and reads
/// [`READ_BACK`] in every session.
async fn reading_acs() -> ScriptedAcs {
    let mut session = 0;
    let mut queue: VecDeque<Body> = VecDeque::new();
    ScriptedAcs::start(move |request| {
        if !request.body.is_empty()
            && let Body::Inform(_) = Envelope::parse(&request.body).unwrap().body
        {
            session += 1;
            queue.clear();
            if session == 1 {
                queue.push_back(
                    SetParameterValues {
                        parameter_list: vec![
                            ParameterValueStruct::new(READ_BACK[0], 2468u32),
                            ParameterValueStruct::new(READ_BACK[1], "snap-acs"),
                        ],
                        parameter_key: "snap-1".parse().unwrap(),
                    }
                    .into(),
                );
            }
            queue.push_back(
                GetParameterValues {
                    parameter_names: READ_BACK.iter().map(|n| (*n).to_owned()).collect(),
                }
                .into(),
            );
            return reply(InformResponse { max_envelopes: 1 });
        }
        queue
            .pop_front()
            .map_or_else(HttpResponse::no_content, reply)
    })
    .await
}

/// Every GetParameterValuesResponse the ACS received, in order.
fn read_backs(acs: &ScriptedAcs) -> Vec<Vec<ParameterValueStruct>> {
    acs.requests()
        .iter()
        .filter(|r| !r.body.is_empty())
        .filter_map(|r| match Envelope::parse(&r.body).unwrap().body {
            Body::GetParameterValuesResponse(response) => Some(response.parameter_list),
            _ => None,
        })
        .collect()
}

/// Waits until the ACS has received `count` read-backs and the agent's session is over.
async fn read_back(acs: &ScriptedAcs, dir: &Path, count: usize) -> Vec<Vec<ParameterValueStruct>> {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let found = read_backs(acs);
            if found.len() >= count && !status(dir).await.in_session {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the ACS reads the device back")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_backup_wipe_restore_the_agent_is_healthy_and_the_acs_sees_the_same_device() {
    let acs = reading_acs().await;
    let state = tempfile::tempdir().unwrap();
    let dir = state.path();
    let saved = tempfile::tempdir().unwrap();
    let file = saved.path().join("cpe.snap");
    let file_arg = file.to_str().unwrap();

    let agent = Running::start(agent_config(Default::default(), &acs.url, dir)).await;
    let before = read_back(&acs, dir, 1).await.remove(0);
    let out = cpe(&["backup", file_arg], dir).await;
    assert!(out.status.success(), "{out:?}");
    agent.stop().await;

    std::fs::remove_dir_all(dir).unwrap();
    std::fs::create_dir(dir).unwrap();
    let out = cpe(&["restore", file_arg], dir).await;
    assert!(out.status.success(), "{out:?}");

    let agent = Running::start(agent_config(Default::default(), &acs.url, dir)).await;
    let after = read_back(&acs, dir, 2).await.remove(1);
    let checked = cpe(&["status", "--check"], dir).await;
    assert_eq!(checked.status.code(), Some(0), "{checked:?}");
    assert!(
        stdout(&checked).contains("health: 6 of 6 healthy"),
        "{checked:?}"
    );
    agent.stop().await;

    // The values the ACS set before the backup, read back the same after the restore.
    assert_eq!(after, before);
    let interval = before.iter().find(|p| p.name == READ_BACK[0]).unwrap();
    assert_eq!(interval.value.to_string(), "2468");
    // The same device, not a new one: a restart (1 BOOT), no 0 BOOTSTRAP, same ParameterKey.
    let informs = informs(&acs);
    assert_eq!(informs.len(), 2, "one session per start");
    let codes = events(&informs[1]);
    assert!(codes.contains(&EventCode::Boot), "{codes:?}");
    assert!(!codes.contains(&EventCode::Bootstrap), "{codes:?}");
    assert_eq!(
        crate::support::cwmp::value(&informs[1], READ_BACK[2]).as_deref(),
        Some("snap-1")
    );
    let bodies: Vec<Vec<u8>> = acs.requests().into_iter().map(|r| r.body).collect();
    validate(
        &bodies
            .into_iter()
            .filter(|b| !b.is_empty())
            .collect::<Vec<_>>(),
    );
}
