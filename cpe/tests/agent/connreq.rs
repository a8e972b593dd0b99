//! Connection Requests against the running agent (TR-069 §3.2.2): wrong credentials open no
//! session, right ones exactly one with `6 CONNECTION REQUEST`, and a flood is refused with
//! 503 while the agent keeps working.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpe::config::FileConfig;
use cpe::control::{self, Request, Response};
use schemas::rpc::*;
use schemas::soap::CwmpNamespace;
use schemas::{Body, Envelope};
use tokio::sync::Notify;

use crate::support::acs::{HttpResponse, ScriptedAcs};
use crate::support::cr::connection_request;
use crate::support::{Running, agent_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_requests_open_exactly_one_session_and_a_flood_gets_503s() {
    let informs: Arc<Mutex<Vec<Vec<EventCode>>>> = Arc::default();
    let informed = Arc::new(Notify::new());
    let (seen, wake) = (informs.clone(), informed.clone());
    let acs = ScriptedAcs::start(move |request| {
        if request.body.is_empty() {
            return HttpResponse::no_content();
        }
        match Envelope::parse(&request.body).unwrap().body {
            Body::Inform(i) => {
                seen.lock()
                    .unwrap()
                    .push(i.event.into_iter().map(|e| e.event_code).collect());
                wake.notify_one();
                let reply = Envelope::new(CwmpNamespace::V1_2, InformResponse { max_envelopes: 1 });
                HttpResponse::xml(reply.with_id("i").write())
            }
            _ => HttpResponse::no_content(),
        }
    })
    .await;
    let state = tempfile::tempdir().unwrap();
    let running = Running::start(agent_config(FileConfig::default(), &acs.url, state.path())).await;
    let within = Duration::from_secs(10);
    tokio::time::timeout(within, informed.notified())
        .await
        .expect("the boot Inform");

    let set = Request::Set {
        values: vec![
            (
                "Device.ManagementServer.ConnectionRequestUsername".into(),
                "cr".into(),
            ),
            (
                "Device.ManagementServer.ConnectionRequestPassword".into(),
                "s3cret".into(),
            ),
        ],
    };
    assert_eq!(
        control::request(state.path(), &set).await.unwrap(),
        Response::Done
    );
    let get = Request::Get {
        paths: vec!["Device.ManagementServer.ConnectionRequestURL".into()],
    };
    let Response::Values { values } = control::request(state.path(), &get).await.unwrap() else {
        panic!()
    };
    let url = values[0].1.clone();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    assert_eq!(connection_request(&url, "cr", "wrong").await, 401);
    let ok = connection_request(&url, "cr", "s3cret").await;
    assert!(ok == 200 || ok == 204, "{ok}");
    tokio::time::timeout(within, informed.notified())
        .await
        .expect("the CR session");
    {
        let informs = informs.lock().unwrap();
        assert_eq!(
            informs.len(),
            2,
            "the wrong request opened no session: {informs:?}"
        );
        assert!(
            informs[1].contains(&EventCode::ConnectionRequest),
            "{informs:?}"
        );
    }

    // A flood: 1,000 valid requests, 50 at a time. The rate limit (5 a minute) lets 4 more in.
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let batch: Vec<_> = (0..50)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { connection_request(&url, "cr", "s3cret").await })
            })
            .collect();
        for request in batch {
            statuses.push(request.await.unwrap());
        }
    }
    let refused = statuses.iter().filter(|s| **s == 503).count();
    let accepted = statuses.iter().filter(|s| **s == 200 || **s == 204).count();
    assert_eq!((accepted, refused), (4, 996), "{statuses:?}");

    // The agent keeps working: it answers its control socket and its ACS.
    let Response::Status(status) = control::request(state.path(), &Request::Status)
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(status.sessions_ok >= 2, "{status:?}");
    running.stop().await;
    let informs = informs.lock().unwrap().len();
    assert!(
        (2..=6).contains(&informs),
        "accepted requests coalesce: {informs} sessions"
    );
}
