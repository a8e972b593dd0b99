//! A scripted ACS's side of provisioning tests: a script that accepts Informs, the Informs it
//! received, and what the agent's status says about where its values came from.

use std::path::Path;
use std::time::Duration;

use cpe::config::{Config, FileConfig, Overrides};
use cpe::control::{self, Request, Response, Status};
use schemas::rpc::{EventCode, Inform, InformResponse};
use schemas::soap::CwmpNamespace;
use schemas::{Body, Envelope};

use super::acs::{HttpRequest, HttpResponse, ScriptedAcs};

/// A 200 answer carrying `body` in an envelope.
pub(crate) fn reply(body: impl Into<Body>) -> HttpResponse {
    HttpResponse::xml(
        Envelope::new(CwmpNamespace::V1_2, body)
            .with_id("acs")
            .write(),
    )
}

/// An ACS that answers Informs and, to the first empty POST, sends `first_request` if any.
pub(crate) fn script(
    first_request: Option<Body>,
) -> impl FnMut(&HttpRequest) -> HttpResponse + Send {
    let mut pending = first_request;
    move |request| {
        if request.body.is_empty() {
            return pending.take().map_or_else(HttpResponse::no_content, reply);
        }
        match Envelope::parse(&request.body).unwrap().body {
            Body::Inform(_) => reply(InformResponse { max_envelopes: 1 }),
            _ => HttpResponse::no_content(),
        }
    }
}

/// The Informs `acs` received, in order.
pub(crate) fn informs(acs: &ScriptedAcs) -> Vec<Inform> {
    acs.requests()
        .iter()
        .filter(|r| !r.body.is_empty())
        .filter_map(|r| match Envelope::parse(&r.body).unwrap().body {
            Body::Inform(i) => Some(i),
            _ => None,
        })
        .collect()
}

/// The event codes of an Inform.
pub(crate) fn events(inform: &Inform) -> Vec<EventCode> {
    inform.event.iter().map(|e| e.event_code.clone()).collect()
}

/// The value of parameter `name` in an Inform's ParameterList, as text.
pub(crate) fn value(inform: &Inform, name: &str) -> Option<String> {
    inform
        .parameter_list
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.lexical().into_owned())
}

/// The status of the agent of state directory `dir`.
pub(crate) async fn status(dir: &Path) -> Status {
    match control::request(dir, &Request::Status).await.unwrap() {
        Response::Status(status) => status,
        other => panic!("{other:?}"),
    }
}

/// Where the agent's value of `name` came from, as `cpe status` says.
pub(crate) fn source<'a>(status: &'a Status, name: &str) -> &'a str {
    status
        .sources
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s.as_str())
        .unwrap_or_else(|| panic!("no source for {name}: {:?}", status.sources))
}

/// `DeviceInfo.ProvisioningCode`, which option 43 sub-option 2 sets.
pub(crate) const PC: &str = "Device.DeviceInfo.ProvisioningCode";

/// An agent's configuration with no ACS URL: it waits for DHCP.
pub(crate) fn no_url_config(state_dir: &Path) -> Config {
    Config::resolve(
        FileConfig::default(),
        Overrides {
            state_dir: Some(state_dir.to_owned()),
            connreq_listen: Some("127.0.0.1:0".into()),
            ..Overrides::default()
        },
    )
    .unwrap()
}

/// The first `count` Informs the ACS received, waiting up to 20 s for them.
pub(crate) async fn wait_informs(acs: &ScriptedAcs, count: usize) -> Vec<Inform> {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let found = informs(acs);
            if found.len() >= count {
                break found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the Informs arrived")
}

/// Starts an agent without an ACS URL and waits until its control socket answers (a hook run
/// before that finds no agent and leaves the lease for its next start).
pub(crate) async fn start_without_url(dir: &Path) -> super::Running {
    let agent = super::Running::start(no_url_config(dir)).await;
    tokio::time::timeout(Duration::from_secs(10), async {
        while control::request(dir, &Request::Status).await.is_err() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the control socket answers");
    agent
}

/// Runs the `cpe` binary with `args` and `env` (and neither `reason` nor `CPE_STATE_DIR`
/// from the test's own environment), off the runtime's threads.
pub(crate) async fn cpe_binary(
    args: Vec<String>,
    env: Vec<(String, String)>,
) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_cpe"))
            .args(&args)
            .envs(env)
            .env_remove("reason")
            .env_remove("CPE_STATE_DIR")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}
