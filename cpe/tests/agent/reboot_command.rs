//! With a host reboot command configured, Reboot runs it after the session and the agent does
//! not pretend the device rebooted: `M Reboot` stays held for the host's next boot, also when
//! only the agent restarts (same kernel boot ID).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpe::config::{Commands, FileConfig};
use cpe::control::{self, Request, Response, Status};
use schemas::rpc::*;
use schemas::soap::CwmpNamespace;
use schemas::{Body, Envelope};

use crate::support::acs::{HttpResponse, ScriptedAcs};
use crate::support::{Running, agent_config};

async fn status_after(state: &std::path::Path, done: impl Fn(&Status) -> bool) -> Status {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(Response::Status(s)) = control::request(state, &Request::Status).await
                && done(&s)
            {
                return s;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the agent reached the expected state")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_reboot_command_holds_m_reboot_until_the_host_really_boots() {
    let informs: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let (count, sent_reboot) = (informs.clone(), Arc::new(Mutex::new(false)));
    let acs = ScriptedAcs::start(move |request| {
        let reply = |body: Body| {
            HttpResponse::xml(
                Envelope::new(CwmpNamespace::V1_2, body)
                    .with_id("a")
                    .write(),
            )
        };
        if request.body.is_empty() {
            let mut sent = sent_reboot.lock().unwrap();
            if !*sent {
                *sent = true;
                return reply(
                    Reboot {
                        command_key: "rb-host".parse().unwrap(),
                    }
                    .into(),
                );
            }
            return HttpResponse::no_content();
        }
        match Envelope::parse(&request.body).unwrap().body {
            Body::Inform(inform) => {
                let codes = inform
                    .event
                    .iter()
                    .map(|e| e.event_code.to_string())
                    .collect();
                count.lock().unwrap().push(codes);
                reply(InformResponse { max_envelopes: 1 }.into())
            }
            _ => HttpResponse::no_content(),
        }
    })
    .await;
    let state = tempfile::tempdir().unwrap();
    let marker = state.path().join("rebooted");
    let file = FileConfig {
        commands: Commands {
            reboot: vec!["touch".into(), marker.display().to_string()],
            ..Commands::default()
        },
        ..FileConfig::default()
    };
    let running = Running::start(agent_config(file.clone(), &acs.url, state.path())).await;
    let status = status_after(state.path(), |s| s.sessions_ok >= 1).await;
    assert!(marker.exists(), "the reboot command ran after the session");
    assert!(
        status.pending_events.iter().any(|e| e == "M Reboot"),
        "{status:?}"
    );
    assert!(
        !status.pending_events.iter().any(|e| e == "1 BOOT"),
        "{status:?}"
    );
    running.stop().await;
    assert_eq!(informs.lock().unwrap().len(), 1, "no faked boot session");

    // The agent restarts on the same boot: still no 1 BOOT, M Reboot still held, and the
    // owed reboot is run again.
    std::fs::remove_file(&marker).unwrap();
    let running = Running::start(agent_config(file, &acs.url, state.path())).await;
    let status = status_after(state.path(), |_| true).await;
    assert!(marker.exists(), "the owed reboot was carried out");
    assert!(
        status.pending_events.iter().any(|e| e == "M Reboot"),
        "{status:?}"
    );
    assert!(
        !status.pending_events.iter().any(|e| e == "1 BOOT"),
        "{status:?}"
    );
    running.stop().await;
    // A session may follow the restart (the Connection Request URL moved to a new port, an
    // active notification), but none reports a boot that did not happen.
    for codes in informs.lock().unwrap().iter().skip(1) {
        assert!(
            !codes.iter().any(|c| c == "1 BOOT" || c == "M Reboot"),
            "{codes:?}"
        );
    }
}
