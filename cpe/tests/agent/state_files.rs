//! When the agent's state files reach the disk at start-up: before the first Inform when a
//! session opens at once (the Inform tells the ACS the Connection Request URL and the boot
//! events), right away when none can.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpe::agent::Agent;
use cpe::config::{Config, FileConfig, Overrides};
use schemas::rpc::*;
use schemas::soap::CwmpNamespace;
use schemas::{Body, Envelope};
use tokio::sync::Notify;

use crate::support::acs::{HttpResponse, ScriptedAcs};

fn config(acs_url: Option<&str>, state_dir: &Path) -> Config {
    Config::resolve(
        FileConfig::default(),
        Overrides {
            acs_url: acs_url.map(str::to_owned),
            state_dir: Some(state_dir.to_owned()),
            connreq_listen: Some("127.0.0.1:0".into()),
            ..Overrides::default()
        },
    )
    .unwrap()
}

/// The `data` of a state file, if it exists.
fn stored(dir: &Path, name: &str) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join(name)).ok()?;
    let mut file: serde_json::Value = serde_json::from_str(&text).unwrap();
    Some(file["data"].take())
}

/// What the ACS saw on disk when the first Inform arrived.
#[derive(Debug, Default)]
struct Seen {
    /// The Inform's `ConnectionRequestURL`.
    connreq_url: String,
    /// The events the Inform carried.
    events: Vec<EventCode>,
    /// `agent.json`'s `connreq_path` then.
    stored_path: Option<String>,
    /// Whether `events.json` and `model.json` existed then.
    events_file: bool,
    model_file: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_inform_finds_the_start_on_disk() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().to_owned();
    let seen: Arc<Mutex<Option<Seen>>> = Arc::default();
    let informed = Arc::new(Notify::new());
    let (record, wake) = (seen.clone(), informed.clone());
    let acs = ScriptedAcs::start(move |request| {
        if request.body.is_empty() {
            return HttpResponse::no_content();
        }
        let Body::Inform(inform) = Envelope::parse(&request.body).unwrap().body else {
            return HttpResponse::no_content();
        };
        let mut record = record.lock().unwrap();
        if record.is_none() {
            *record = Some(Seen {
                connreq_url: inform
                    .parameter_list
                    .iter()
                    .find(|p| p.name == "Device.ManagementServer.ConnectionRequestURL")
                    .map(|p| p.value.to_string())
                    .unwrap_or_default(),
                events: inform.event.iter().map(|e| e.event_code.clone()).collect(),
                stored_path: stored(&dir, "agent.json")
                    .and_then(|a| a["connreq_path"].as_str().map(str::to_owned)),
                events_file: stored(&dir, "events.json").is_some(),
                model_file: stored(&dir, "model.json").is_some(),
            });
            wake.notify_one();
        }
        let reply = Envelope::new(CwmpNamespace::V1_2, InformResponse { max_envelopes: 1 });
        HttpResponse::xml(reply.with_id("i").write())
    })
    .await;

    let agent = Agent::start(config(Some(&acs.url), state.path()))
        .await
        .unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        agent.run_until(async move { informed.notified().await }),
    )
    .await
    .expect("the boot Inform");

    let seen = seen.lock().unwrap().take().unwrap();
    assert!(seen.events.contains(&EventCode::Bootstrap), "{seen:?}");
    assert!(seen.events_file && seen.model_file, "{seen:?}");
    let path = seen.stored_path.clone().expect("agent.json with the path");
    assert!(seen.connreq_url.ends_with(&path), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_acs_the_start_is_saved_at_once() {
    let state = tempfile::tempdir().unwrap();
    let agent = Agent::start(config(None, state.path())).await.unwrap();
    for name in ["agent.json", "events.json", "model.json"] {
        assert!(stored(state.path(), name).is_some(), "{name}");
    }
    let path = stored(state.path(), "agent.json").unwrap()["connreq_path"].clone();
    assert!(path.as_str().is_some_and(|p| p.starts_with('/')), "{path}");
    drop(agent);
}
