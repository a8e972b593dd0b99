//! The H3C re-pointing flow (H3C CWMP guide, figure 2) against two scripted ACSes:
//! Inform -> empty POST -> GPV(URL) -> SPV(URL = second ACS) -> 204; the agent then opens a
//! session with the second ACS with `0 BOOTSTRAP`, and after a restart still uses it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpe::agent::Agent;
use cpe::config::{Config, FileConfig, Overrides};
use schemas::rpc::types::{ParameterValueStruct, Status};
use schemas::rpc::*;
use schemas::soap::CwmpNamespace;
use schemas::{Body, Envelope};
use tokio::sync::Notify;

use crate::support::acs::{HttpRequest, HttpResponse, ScriptedAcs};
use crate::support::validate;

fn reply(id: &str, body: impl Into<Body>) -> HttpResponse {
    HttpResponse::xml(Envelope::new(CwmpNamespace::V1_2, body).with_id(id).write())
}

fn parse(request: &HttpRequest) -> Option<Envelope> {
    (!request.body.is_empty()).then(|| Envelope::parse(&request.body).unwrap())
}

fn events_of(request: &HttpRequest) -> Vec<EventCode> {
    match parse(request).map(|e| e.body) {
        Some(Body::Inform(i)) => i.event.into_iter().map(|e| e.event_code).collect(),
        other => panic!("expected an Inform, got {other:?}"),
    }
}

fn config(acs_url: &str, state_dir: &std::path::Path) -> Config {
    Config::resolve(
        FileConfig::default(),
        Overrides {
            acs_url: Some(acs_url.to_owned()),
            state_dir: Some(state_dir.to_owned()),
            connreq_listen: Some("127.0.0.1:0".into()),
            ..Overrides::default()
        },
    )
    .unwrap()
}

/// Returns once the agent of `dir` completed `count` sessions and has none in progress.
async fn sessions_over(dir: &std::path::Path, count: u64) {
    loop {
        if let Ok(cpe::control::Response::Status(s)) =
            cpe::control::request(dir, &cpe::control::Request::Status).await
            && s.sessions_ok >= count
            && !s.in_session
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An ACS that answers Informs and ends each session at once, waking `informed`.
async fn plain_acs(informed: Arc<Notify>) -> ScriptedAcs {
    ScriptedAcs::start(move |request| match parse(request).map(|e| e.body) {
        Some(Body::Inform(_)) => {
            informed.notify_one();
            reply("i", InformResponse { max_envelopes: 1 })
        }
        _ => HttpResponse::no_content(),
    })
    .await
}

#[tokio::test]
async fn the_acs_repoints_the_cpe_which_bootstraps_there_and_keeps_it_after_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let second_informed = Arc::new(Notify::new());
    let second = plain_acs(second_informed.clone()).await;
    let second_url = second.url.clone();
    let spv_status = Arc::new(Mutex::new(None));
    let status = spv_status.clone();
    let first = ScriptedAcs::start(move |request| match parse(request).map(|e| e.body) {
        Some(Body::Inform(_)) => reply("1", InformResponse { max_envelopes: 1 }),
        None => reply(
            "2",
            GetParameterValues {
                parameter_names: vec!["Device.ManagementServer.URL".into()],
            },
        ),
        Some(Body::GetParameterValuesResponse(_)) => reply(
            "3",
            SetParameterValues {
                parameter_list: vec![ParameterValueStruct::new(
                    "Device.ManagementServer.URL",
                    second_url.as_str(),
                )],
                parameter_key: "repoint-1".parse().unwrap(),
            },
        ),
        Some(Body::SetParameterValuesResponse(r)) => {
            *status.lock().unwrap() = Some(r.status);
            HttpResponse::no_content()
        }
        _ => HttpResponse::no_content(),
    })
    .await;

    // First run: the first ACS re-points the agent; the agent bootstraps with the second. It
    // stops once that session is over: a stop during it would leave 0 BOOTSTRAP unacknowledged.
    let agent = Agent::start(config(&first.url, state.path()))
        .await
        .unwrap();
    let done = second_informed.clone();
    let dir = state.path().to_owned();
    tokio::time::timeout(
        Duration::from_secs(20),
        agent.run_until(async move {
            done.notified().await;
            sessions_over(&dir, 2).await;
        }),
    )
    .await
    .expect("the agent reached the second ACS");

    let seen = first.requests();
    assert_eq!(
        seen.len(),
        4,
        "Inform, empty POST, GPV response, SPV response"
    );
    let first_events = events_of(&seen[0]);
    assert!(
        first_events.contains(&EventCode::Bootstrap),
        "{first_events:?}"
    );
    assert!(first_events.contains(&EventCode::Boot), "{first_events:?}");
    let Some(Body::GetParameterValuesResponse(gpv)) = parse(&seen[2]).map(|e| e.body) else {
        panic!()
    };
    assert_eq!(gpv.parameter_list[0].value.to_string(), first.url);
    assert_eq!(*spv_status.lock().unwrap(), Some(Status::Applied));
    let at_second = second.requests();
    assert!(events_of(&at_second[0]).contains(&EventCode::Bootstrap));

    // Restart with the same configuration: the URL the ACS set still wins.
    let agent = Agent::start(config(&first.url, state.path()))
        .await
        .unwrap();
    let before = second.requests().len();
    let done = second_informed.clone();
    tokio::time::timeout(
        Duration::from_secs(20),
        agent.run_until(async move { done.notified().await }),
    )
    .await
    .expect("the restarted agent called the second ACS");
    let after = second.requests();
    assert!(after.len() > before);
    let restart_events = events_of(&after[before]);
    assert!(
        restart_events.contains(&EventCode::Boot),
        "{restart_events:?}"
    );
    assert!(
        !restart_events.contains(&EventCode::Bootstrap),
        "{restart_events:?}"
    );
    assert_eq!(
        first.requests().len(),
        4,
        "the first ACS is not called again"
    );

    let all: Vec<Vec<u8>> = first
        .requests()
        .into_iter()
        .chain(second.requests())
        .map(|r| r.body)
        .collect();
    validate(&all);
}
