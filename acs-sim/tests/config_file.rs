//! The CPE agent's Vendor Configuration File through acs-sim's file server (TR-069 Amd 6
//! A.4.1.5 Upload `1 Vendor Configuration File`, A.3.2.8 Download `3 Vendor Configuration
//! File`): the uploaded file is the agent's snapshot and verifies; downloading it back undoes a
//! change the ACS made since; a copy with one byte flipped is refused with fault 9018 and the
//! model stays as it was.

#[path = "server/support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use acs_sim::acs::{Acs, AcsConfig, AcsEvent};
use acs_sim::files::{self, FileStore, NewFile};
use acs_sim::scenario::Scenario;
use acs_sim::server::{Endpoint, Limits};
use acs_sim::store::{DeviceId, MemoryStore, NewTask, Store, TaskName};
use bytes::Bytes;
use cpe::control::{self, Request, Response};
use cpe::snapshot::{self, Kind};
use http_body_util::Full;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

const SERIAL: &str = "SNAP0001";
const INTERVAL: &str = "Device.ManagementServer.PeriodicInformInterval";
const WAIT: Duration = Duration::from_secs(20);

/// acs-sim's CWMP endpoint and file server on loopback, and an agent pointed at them.
struct Rig {
    acs: Arc<Acs>,
    events: broadcast::Receiver<AcsEvent>,
    device: DeviceId,
    state: tempfile::TempDir,
    stop: watch::Sender<bool>,
    _files: tempfile::TempDir,
}

impl Rig {
    async fn start() -> Self {
        let files_dir = tempfile::tempdir().unwrap();
        let file_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = AcsConfig {
            files_url: format!("http://{}/", file_listener.local_addr().unwrap()),
            ..AcsConfig::default()
        };
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let area = FileStore::new(files_dir.path().join("files")).unwrap();
        let acs = Acs::new(store, config, Scenario::default(), area);
        let mut events = acs.events();
        let (stop, stopped) = watch::channel(false);
        let mut done = stopped.clone();
        tokio::spawn(files::serve(file_listener, Arc::clone(&acs), async move {
            let _ = done.wait_for(|s| *s).await;
        }));
        let cwmp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let acs_url = format!("http://{}/", cwmp.local_addr().unwrap());
        let endpoint = Endpoint::new(Arc::clone(&acs), Limits::default());
        let mut done = stopped.clone();
        tokio::spawn(async move {
            endpoint
                .serve(cwmp, None, async move {
                    let _ = done.wait_for(|s| *s).await;
                })
                .await
        });

        let state = tempfile::tempdir().unwrap();
        let config = cpe::config::Config::resolve(
            cpe::config::FileConfig::default(),
            cpe::config::Overrides {
                acs_url: Some(acs_url),
                serial: Some(SERIAL.to_owned()),
                state_dir: Some(state.path().to_owned()),
                connreq_listen: Some("127.0.0.1:0".to_owned()),
                ..cpe::config::Overrides::default()
            },
        )
        .unwrap();
        let agent = cpe::agent::Agent::start(config).await.unwrap();
        let mut done = stopped;
        tokio::spawn(agent.run_until(async move {
            let _ = done.wait_for(|s| *s).await;
        }));
        // The boot session: the device is known and its Connection Request credentials are
        // provisioned, so the ACS can ask it for sessions.
        let device = next(&mut events, |e| match e {
            AcsEvent::Informed { device, .. } => Some(device.clone()),
            _ => None,
        })
        .await;
        // The agent takes up the provisioned credentials once its side of the session is
        // over, which the ACS does not see.
        tokio::time::timeout(WAIT, async {
            loop {
                match control::request(state.path(), &Request::Status).await {
                    Ok(Response::Status(s)) if s.sessions_ok >= 1 && !s.in_session => break,
                    _ => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        })
        .await
        .expect("the boot session is over");
        Self {
            acs,
            events,
            device,
            state,
            stop,
            _files: files_dir,
        }
    }

    /// Queues tasks and asks the agent for one session, which runs them in order (the agent
    /// takes at most 5 Connection Requests a minute); returns their ids, the CommandKeys.
    async fn session(&self, tasks: &[(TaskName, serde_json::Value)]) -> Vec<String> {
        let ids = tasks
            .iter()
            .map(|(name, arguments)| {
                let task = self
                    .acs
                    .store
                    .add_task(&NewTask {
                        device: self.device.clone(),
                        name: *name,
                        arguments: arguments.clone(),
                        timestamp: acs_sim::acs::unix_now(),
                    })
                    .unwrap();
                task.id.to_string()
            })
            .collect();
        acs_sim::connreq::kick(&self.acs, &self.device)
            .await
            .unwrap();
        ids
    }

    /// The fault of the TransferComplete for the task `command_key`; on the way, checks that
    /// every SetParameterValues job succeeded.
    async fn transfer_complete(&mut self, command_key: &str) -> Option<String> {
        next(&mut self.events, |e| match e {
            AcsEvent::JobDone { label, fault, .. } if label == "setParameterValues" => {
                assert_eq!(fault, &None, "{label}");
                None
            }
            AcsEvent::TransferComplete {
                command_key: key,
                fault,
                ..
            } if key == command_key => Some(fault.clone()),
            _ => None,
        })
        .await
    }

    /// [`INTERVAL`] as the agent holds it.
    async fn interval(&self) -> String {
        let request = Request::Get {
            paths: vec![INTERVAL.to_owned()],
        };
        let Response::Values { values } =
            control::request(self.state.path(), &request).await.unwrap()
        else {
            panic!("values expected");
        };
        values.into_iter().next().unwrap().1
    }

    /// The stored file `name`'s bytes.
    async fn file(&self, name: &str) -> Vec<u8> {
        let meta = self.acs.store.file(name).unwrap();
        tokio::fs::read(&meta.path).await.unwrap()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The next event `pick` accepts, within [`WAIT`].
async fn next<T>(
    events: &mut broadcast::Receiver<AcsEvent>,
    mut pick: impl FnMut(&AcsEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            let event = events.recv().await.unwrap();
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    })
    .await
    .expect("the awaited ACS event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configuration_file_round_trips_and_a_corrupt_one_changes_nothing() {
    let mut rig = Rig::start().await;

    // Upload: the stored file is the device's snapshot.
    let ids = rig
        .session(&[
            set_interval(600),
            (
                TaskName::Upload,
                json!({"fileType": "1 Vendor Configuration File", "fileName": "config.snap"}),
            ),
        ])
        .await;
    assert_eq!(rig.transfer_complete(&ids[1]).await, None);
    let uploaded = rig.file("config.snap").await;
    let verdict = snapshot::verify(&uploaded);
    assert!(!verdict.corrupt, "{verdict:?}");
    assert_eq!(verdict.kind, Some(Kind::CpeState));
    assert_eq!(
        verdict.identity.unwrap().get("serial").map(String::as_str),
        Some(SERIAL)
    );

    // The ACS changes a parameter; the configuration file puts it back.
    let ids = rig
        .session(&[
            set_interval(1200),
            (
                TaskName::Download,
                json!({"file": "config.snap", "fileType": "3 Vendor Configuration File"}),
            ),
        ])
        .await;
    assert_eq!(rig.transfer_complete(&ids[1]).await, None);
    assert_eq!(rig.interval().await, "600");

    // One byte flipped: fault 9018, and the model is as it was.
    let mut corrupt = uploaded.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0x01;
    rig.acs
        .files
        .put(
            &rig.acs.store,
            NewFile {
                file_type: "3 Vendor Configuration File".to_owned(),
                ..NewFile::named("corrupt.snap")
            },
            Full::new(Bytes::from(corrupt)),
        )
        .await
        .unwrap();
    let ids = rig
        .session(&[
            set_interval(1800),
            (TaskName::Download, json!({"file": "corrupt.snap"})),
        ])
        .await;
    let fault = rig.transfer_complete(&ids[1]).await.expect("a fault");
    assert!(fault.starts_with("9018"), "{fault}");
    assert_eq!(rig.interval().await, "1800");
}

/// A SetParameterValues task of [`INTERVAL`].
fn set_interval(value: u32) -> (TaskName, serde_json::Value) {
    (
        TaskName::SetParameterValues,
        json!({"parameterValues": [[INTERVAL, value, "xsd:unsignedInt"]]}),
    )
}
