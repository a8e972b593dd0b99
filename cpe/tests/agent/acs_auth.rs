//! The agent authenticating to an ACS that demands HTTP authentication (TR-069 Amd 6 §3.4.4)
//! with the credentials of its configuration: `[acs] username` / `password` are the device's
//! provisioned `ManagementServer.Username` / `Password`, which the ACS may later change with
//! SetParameterValues (A.3.2.1); the ACS's values then win across restarts, until the
//! configuration changes.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpe::config::{AcsSection, FileConfig, TlsSection};
use cpe::control::{self, Request, Response, Status};
use cpe::model::ModelState;
use schemas::rpc::types::ParameterValueStruct;
use schemas::rpc::*;
use schemas::soap::CwmpNamespace;
use schemas::{Body, Envelope};

use crate::support::acs::{HttpRequest, HttpResponse, ScriptedAcs};
use crate::support::auth::{self, Scheme, digest_username};
use crate::support::pki::Pki;
use crate::support::{Running, agent_config};

const MS: &str = "Device.ManagementServer.";

fn with_credentials(username: &str, password: &str) -> FileConfig {
    FileConfig {
        acs: AcsSection {
            username: Some(username.to_owned()),
            password: Some(password.to_owned()),
            ..AcsSection::default()
        },
        ..FileConfig::default()
    }
}

fn reply(body: impl Into<Body>) -> HttpResponse {
    HttpResponse::xml(
        Envelope::new(CwmpNamespace::V1_2, body)
            .with_id("acs")
            .write(),
    )
}

/// An ACS that accepts Informs and, in reply to the first empty POST, sends `first_request`
/// (if any); then it has nothing more to ask.
fn acs_script(
    first_request: Option<Body>,
) -> impl FnMut(&HttpRequest) -> HttpResponse + Send + 'static {
    let mut pending = first_request;
    move |request| {
        if request.body.is_empty() {
            return match pending.take() {
                Some(body) => reply(body),
                None => HttpResponse::no_content(),
            };
        }
        match Envelope::parse(&request.body).unwrap().body {
            Body::Inform(_) => reply(InformResponse { max_envelopes: 1 }),
            _ => HttpResponse::no_content(),
        }
    }
}

async fn status(dir: &Path) -> Status {
    match control::request(dir, &Request::Status).await.unwrap() {
        Response::Status(status) => status,
        other => panic!("{other:?}"),
    }
}

/// Waits until `count` sessions have ended (completed or failed).
async fn sessions_ended(dir: &Path, count: u64) -> Status {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(Response::Status(s)) = control::request(dir, &Request::Status).await
                && s.sessions_ok + s.sessions_failed >= count
            {
                break s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the sessions ended")
}

/// A parameter's value as `cpe get` shows it.
async fn get(dir: &Path, name: &str) -> String {
    let request = Request::Get {
        paths: vec![name.to_owned()],
    };
    match control::request(dir, &request).await.unwrap() {
        Response::Values { values } => values.into_iter().next().unwrap().1,
        other => panic!("{other:?}"),
    }
}

/// The `data` of `agent.json`.
fn agent_json(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("agent.json")).unwrap();
    let mut file: serde_json::Value = serde_json::from_str(&text).unwrap();
    file["data"].take()
}

/// The user names of the authorized requests from `from` on.
fn users(acs: &ScriptedAcs, from: usize) -> Vec<String> {
    acs.requests()[from..]
        .iter()
        .filter_map(|r| r.header("authorization"))
        .map(|a| digest_username(a).expect("Digest").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_credentials_answer_a_digest_challenge() {
    let passed = Arc::new(Mutex::new(0));
    let acs = ScriptedAcs::start(auth::require(
        Scheme::Digest,
        &[("cpe-1", "s3cret")],
        passed.clone(),
        acs_script(None),
    ))
    .await;
    let state = tempfile::tempdir().unwrap();
    let config = agent_config(with_credentials("cpe-1", "s3cret"), &acs.url, state.path());
    let running = Running::start(config).await;
    let status = sessions_ended(state.path(), 1).await;
    // The provisioned user name is the model's; the password reads back empty (hidden).
    assert_eq!(get(state.path(), &format!("{MS}Username")).await, "cpe-1");
    assert_eq!(get(state.path(), &format!("{MS}Password")).await, "");
    running.stop().await;

    assert_eq!(status.last_session.unwrap().1, "ok");
    assert_eq!(status.sessions_failed, 0);
    let requests = acs.requests();
    // Challenged once, then every request of the session authorized (§3.4.4).
    assert!(requests[0].header("authorization").is_none());
    assert!(
        requests[1..]
            .iter()
            .all(|r| r.header("authorization").is_some()),
        "{requests:?}"
    );
    assert_eq!(users(&acs, 1), vec!["cpe-1"; requests.len() - 1]);
    assert_eq!(*passed.lock().unwrap(), requests.len() - 1);
    // agent.json does not copy the password.
    let stored = agent_json(state.path()).to_string();
    assert!(
        stored.contains("\"acs_credentials_source\":\"config\""),
        "{stored}"
    );
    assert!(!stored.contains("s3cret"), "{stored}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_credentials_answer_basic_over_tls() {
    let pki = Pki::new();
    let passed = Arc::new(Mutex::new(0));
    let acs = ScriptedAcs::start_tls(
        pki.server_config(false),
        auth::require(
            Scheme::Basic,
            &[("cpe-1", "s3cret")],
            passed.clone(),
            acs_script(None),
        ),
    )
    .await;
    let state = tempfile::tempdir().unwrap();
    let file = FileConfig {
        tls: TlsSection {
            ca_file: Some(pki.ca_file.clone()),
            ..TlsSection::default()
        },
        ..with_credentials("cpe-1", "s3cret")
    };
    let running = Running::start(agent_config(file, &acs.url, state.path())).await;
    let status = sessions_ended(state.path(), 1).await;
    running.stop().await;

    assert_eq!(status.last_session.unwrap().1, "ok");
    let basic = http_auth::basic::encode_credentials("cpe-1", "s3cret");
    let requests = acs.requests();
    assert!(requests[0].header("authorization").is_none());
    for request in &requests[1..] {
        assert_eq!(request.header("authorization"), Some(basic.as_str()));
    }
    assert!(*passed.lock().unwrap() >= 2, "Inform and the empty POST");
}

/// Captures what the agent logs, for the test that runs on the current thread.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

// The current-thread runtime keeps the agent's tasks on this thread, where the log capture is
// the default subscriber.
#[tokio::test]
async fn a_wrong_configured_password_fails_the_session_with_a_clear_error_and_retries() {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let passed = Arc::new(Mutex::new(0));
    let acs = ScriptedAcs::start(auth::require(
        Scheme::Digest,
        &[("cpe-1", "right")],
        passed.clone(),
        acs_script(None),
    ))
    .await;
    let state = tempfile::tempdir().unwrap();
    // The shortest retry wait the model allows (§3.2.1.1: m = 1 s, k = 1000), so the retry
    // comes within the test.
    let fast_retries = ModelState {
        version: ModelState::VERSION,
        values: [
            (format!("{MS}CWMPRetryMinimumWaitInterval"), "1".to_owned()),
            (
                format!("{MS}CWMPRetryIntervalMultiplier"),
                "1000".to_owned(),
            ),
        ]
        .into(),
        ..ModelState::default()
    };
    cpe::persist::save(&state.path().join("model.json"), &fast_retries).unwrap();
    let config = agent_config(
        with_credentials("cpe-1", "Wr0ng-pw"),
        &acs.url,
        state.path(),
    );
    let running = Running::start(config).await;
    let status = sessions_ended(state.path(), 2).await;
    let after = self::status(state.path()).await;
    running.stop().await;

    assert_eq!(status.sessions_ok, 0);
    let (_, outcome) = status.last_session.unwrap();
    assert!(
        outcome.contains("ACS rejected the credentials"),
        "{outcome}"
    );
    assert_eq!(
        *passed.lock().unwrap(),
        0,
        "nothing got past the ACS's check"
    );
    // Each attempt: challenged, answered once, refused; the retry says it is one (§3.2.1.1).
    let informs: Vec<Inform> = acs
        .requests()
        .iter()
        .filter(|r| r.header("authorization").is_some())
        .map(|r| match Envelope::parse(&r.body).unwrap().body {
            Body::Inform(inform) => inform,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(informs.len() >= 2, "{informs:?}");
    assert_eq!(informs[0].retry_count, 0);
    assert_eq!(informs[1].retry_count, 1);
    assert!(after.next_session.is_some(), "another retry is scheduled");
    assert!(after.pending_events.iter().any(|e| e == "0 BOOTSTRAP"));

    let logs = logs.text();
    let line = logs
        .lines()
        .find(|l| l.contains("CWMP-3-AUTH_FAILED"))
        .unwrap_or_else(|| panic!("no authentication error logged:\n{logs}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("ACS rejected the credentials"), "{line}");
    assert!(line.contains("cpe-1") && line.contains("config"), "{line}");
    assert!(logs.contains("retrying the session"), "{logs}");
    assert!(
        !logs.contains("Wr0ng-pw"),
        "the password is never logged:\n{logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_the_acs_sets_persist_and_win_over_the_configuration() {
    let set_credentials: Body = SetParameterValues {
        parameter_list: vec![
            ParameterValueStruct::new(format!("{MS}Username"), "acs-user"),
            ParameterValueStruct::new(format!("{MS}Password"), "acs-pass"),
        ],
        parameter_key: "k1".parse().unwrap(),
    }
    .into();
    let acs = ScriptedAcs::start(auth::require(
        Scheme::Digest,
        &[
            ("cpe-1", "factory"),
            ("acs-user", "acs-pass"),
            ("cpe-2", "reprovisioned"),
        ],
        Arc::default(),
        acs_script(Some(set_credentials)),
    ))
    .await;
    let state = tempfile::tempdir().unwrap();
    let config =
        |user, password| agent_config(with_credentials(user, password), &acs.url, state.path());

    // First boot: the configured credentials; the ACS replaces them.
    let running = Running::start(config("cpe-1", "factory")).await;
    let first = sessions_ended(state.path(), 1).await;
    running.stop().await;
    assert_eq!(first.last_session.unwrap().1, "ok");
    assert!(users(&acs, 0).iter().all(|u| u == "cpe-1"));
    let stored = agent_json(state.path());
    assert_eq!(stored["acs_credentials_source"], "acs");

    // Restart with the same configuration: the ACS's credentials are used.
    let seen = acs.requests().len();
    let running = Running::start(config("cpe-1", "factory")).await;
    let second = sessions_ended(state.path(), 2).await;
    assert_eq!(
        get(state.path(), &format!("{MS}Username")).await,
        "acs-user"
    );
    running.stop().await;
    assert_eq!(second.last_session.unwrap().1, "ok");
    let used = users(&acs, seen);
    assert!(
        !used.is_empty() && used.iter().all(|u| u == "acs-user"),
        "{used:?}"
    );

    // An operator's new configuration is a new choice: it wins again.
    let seen = acs.requests().len();
    let running = Running::start(config("cpe-2", "reprovisioned")).await;
    let third = sessions_ended(state.path(), 3).await;
    running.stop().await;
    assert_eq!(third.last_session.unwrap().1, "ok");
    let used = users(&acs, seen);
    assert!(
        !used.is_empty() && used.iter().all(|u| u == "cpe-2"),
        "{used:?}"
    );
    assert_eq!(agent_json(state.path())["acs_credentials_source"], "config");
}
