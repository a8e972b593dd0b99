//! TLS to the ACS (TR-069 §3.3): an untrusted certificate is refused with a clear error, the
//! right CA is accepted, and a client certificate is presented when the ACS demands one.

use std::sync::Arc;
use std::time::Duration;

use cpe::agent::Agent;
use cpe::config::{Config, FileConfig, Overrides, TlsSection};
use cpe::control::{self, Request, Response};
use schemas::rpc::InformResponse;
use schemas::soap::CwmpNamespace;
use schemas::{Body, Envelope};
use tokio::sync::Notify;

use crate::support::acs::{HttpResponse, ScriptedAcs};
use crate::support::pki::Pki;

async fn tls_acs(pki: &Pki, require_client_cert: bool) -> ScriptedAcs {
    ScriptedAcs::start_tls(pki.server_config(require_client_cert), move |request| {
        if request.body.is_empty() {
            return HttpResponse::no_content();
        }
        match Envelope::parse(&request.body).unwrap().body {
            Body::Inform(_) => {
                let reply = Envelope::new(CwmpNamespace::V1_2, InformResponse { max_envelopes: 1 });
                HttpResponse::xml(reply.with_id("i").write())
            }
            _ => HttpResponse::no_content(),
        }
    })
    .await
}

fn config(url: &str, state: &std::path::Path, tls: TlsSection) -> Config {
    let file = FileConfig {
        tls,
        ..FileConfig::default()
    };
    Config::resolve(
        file,
        Overrides {
            acs_url: Some(url.to_owned()),
            state_dir: Some(state.to_owned()),
            connreq_listen: Some("127.0.0.1:0".into()),
            ..Overrides::default()
        },
    )
    .unwrap()
}

/// Runs the agent until its first session has ended; returns whether the ACS received an
/// Inform and the session's outcome as `cpe status` reports it.
async fn run(config: Config, acs: &ScriptedAcs) -> (bool, String) {
    let state = config.state_dir.clone();
    let agent = Agent::start(config).await.unwrap();
    let stop = Arc::new(Notify::new());
    let stopped = stop.clone();
    let running = tokio::spawn(agent.run_until(async move { stopped.notified().await }));
    let outcome = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(Response::Status(s)) = control::request(&state, &Request::Status).await
                && let Some((_, outcome)) = s.last_session
            {
                break outcome;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the first session ended");
    stop.notify_one();
    running.await.unwrap();
    (!acs.requests().is_empty(), outcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acs_certificate_the_agent_does_not_trust_is_refused_with_a_clear_error() {
    let pki = Pki::new();
    let acs = tls_acs(&pki, false).await;
    let state = tempfile::tempdir().unwrap();
    // No CA configured: only the system bundle, which does not know the test CA.
    let (reached, outcome) = run(config(&acs.url, state.path(), TlsSection::default()), &acs).await;
    assert!(!reached, "an untrusted ACS must not get an Inform");
    assert!(
        outcome.contains("certificate") || outcome.contains("UnknownIssuer"),
        "{outcome}"
    );
    assert!(acs.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_ca_is_trusted() {
    let pki = Pki::new();
    let acs = tls_acs(&pki, false).await;
    let state = tempfile::tempdir().unwrap();
    let tls = TlsSection {
        ca_file: Some(pki.ca_file.clone()),
        ..TlsSection::default()
    };
    let (reached, outcome) = run(config(&acs.url, state.path(), tls), &acs).await;
    assert!(reached);
    assert_eq!(outcome, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_is_presented_when_the_acs_demands_one() {
    let pki = Pki::new();
    let acs = tls_acs(&pki, true).await;
    let with_cert = TlsSection {
        ca_file: Some(pki.ca_file.clone()),
        client_cert: Some(pki.client_cert.clone()),
        client_key: Some(pki.client_key.clone()),
        insecure: false,
    };
    let state = tempfile::tempdir().unwrap();
    let (reached, outcome) = run(config(&acs.url, state.path(), with_cert), &acs).await;
    assert!(reached, "{outcome}");
    assert_eq!(outcome, "ok");

    // Without it, the ACS refuses the handshake and the session fails.
    let without = TlsSection {
        ca_file: Some(pki.ca_file.clone()),
        ..TlsSection::default()
    };
    let state = tempfile::tempdir().unwrap();
    let before = acs.requests().len();
    let (_, outcome) = run(config(&acs.url, state.path(), without), &acs).await;
    assert_ne!(outcome, "ok");
    assert_eq!(acs.requests().len(), before, "no request got through");
}
