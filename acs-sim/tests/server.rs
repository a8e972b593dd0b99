//! The CWMP endpoint over real loopback sockets (TR-069 Amd 6 §3.4): sessions by cookie and
//! by connection, Basic and Digest authentication, HTTPS, limits, session timeout, queued
//! tasks, transcripts, and a real `cpe` agent. Every envelope the ACS sends is checked against the CWMP schemas.

#[path = "server/support.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use acs_sim::acs::{AcsConfig, AcsEvent, CpeAuth, TranscriptConfig};
use acs_sim::server::Limits;
use acs_sim::store::{Credentials, TaskName, TaskStatus};
use cpe::config::{Config, FileConfig, Overrides, TlsSection};
use http::{StatusCode, header};
use http_body_util::BodyExt as _;
use schemas::Body;
use schemas::rpc::types::ParameterValueStruct;
use schemas::rpc::{EventCode, GetParameterValuesResponse};
use support::{ClientTls, TestAcs, TestCpe, config, device, inform, reply_to};
use tokio::sync::Notify;

const SOFTWARE_VERSION: &str = "Device.DeviceInfo.SoftwareVersion";

/// Runs a whole session with nothing queued: Inform, empty POST, 204.
async fn plain_session(cpe: &mut TestCpe, serial: &str) {
    assert_eq!(
        cpe.post(inform(serial, EventCode::Boot)).await.name(),
        "InformResponse"
    );
    assert_eq!(cpe.post("").await.status, StatusCode::NO_CONTENT);
}

/// Registers device `serial` and queues a getParameterValues task for it.
async fn device_with_task(acs: &TestAcs, serial: &str) -> acs_sim::store::Task {
    plain_session(&mut acs.cpe(), serial).await;
    acs.add_task(
        &device(serial),
        TaskName::GetParameterValues,
        serde_json::json!({ "parameterNames": [SOFTWARE_VERSION] }),
    )
}

fn credentials() -> Credentials {
    Credentials {
        username: "cpe".into(),
        password: "secret".into(),
    }
}

#[tokio::test]
async fn a_session_found_by_cookie_continues_over_a_new_connection() {
    let acs = TestAcs::start(config()).await;
    let mut cpe = acs.cpe();
    let answer = cpe.post(inform("SN1", EventCode::Bootstrap)).await;
    assert_eq!(answer.name(), "InformResponse");
    let set_cookie = answer.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set_cookie.starts_with("session=") && set_cookie.contains("Path=/"),
        "{set_cookie}"
    );
    assert_eq!(acs.endpoint.session_count(), 1);

    cpe.disconnect();
    let end = cpe.post("").await;
    assert_eq!(end.status, StatusCode::NO_CONTENT);
    assert!(end.body.is_empty());
    assert_eq!(acs.endpoint.session_count(), 0, "204 ends the session");
    assert!(acs.store().device(&device("SN1")).is_ok());
    cpe.validate();
    acs.stop().await;
}

#[tokio::test]
async fn a_cpe_without_cookies_keeps_its_session_on_its_connection() {
    let acs = TestAcs::start(config()).await;
    let mut cpe = acs.cpe();
    cpe.cookies = false;
    assert_eq!(
        cpe.post(inform("SN1", EventCode::Periodic)).await.name(),
        "InformResponse"
    );
    assert_eq!(cpe.post("").await.status, StatusCode::NO_CONTENT);
    assert_eq!(acs.endpoint.session_count(), 0);

    // On a new connection without cookie, an empty POST belongs to no session: the session
    // machine refuses it as a session that did not start with an Inform.
    cpe.post(inform("SN1", EventCode::Periodic)).await;
    cpe.disconnect();
    assert_eq!(cpe.post("").await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        acs.endpoint.session_count(),
        1,
        "the first connection's session is untouched"
    );
    cpe.validate();
    acs.stop().await;
}

#[tokio::test]
async fn an_inform_with_an_old_cookie_opens_a_fresh_session() {
    let acs = TestAcs::start(config()).await;
    let mut cpe = acs.cpe();
    cpe.post(inform("SN1", EventCode::Periodic)).await;
    let first = cpe.cookie.clone().unwrap();

    let answer = cpe.post(inform("SN1", EventCode::ConnectionRequest)).await;
    assert_eq!(answer.name(), "InformResponse");
    let second = cpe.cookie.clone().unwrap();
    assert_ne!(first, second, "a new session, a new cookie");
    assert_eq!(acs.endpoint.session_count(), 1, "the old session is gone");
    assert_eq!(cpe.post("").await.status, StatusCode::NO_CONTENT);
    cpe.validate();
    acs.stop().await;
}

#[tokio::test]
async fn a_queued_get_parameter_values_task_is_sent_after_the_empty_post_and_completed() {
    let acs = TestAcs::start(config()).await;
    let task = device_with_task(&acs, "SN1").await;

    let mut cpe = acs.cpe();
    cpe.post(inform("SN1", EventCode::Periodic)).await;
    let request = cpe.post("").await.envelope();
    let Body::GetParameterValues(gpv) = &request.body else {
        panic!("expected GetParameterValues, got {}", request.body.name());
    };
    assert_eq!(gpv.parameter_names, [SOFTWARE_VERSION]);
    let response = GetParameterValuesResponse {
        parameter_list: vec![ParameterValueStruct::new(SOFTWARE_VERSION, "2.0")],
    };
    let end = cpe.post(reply_to(&request, response)).await;
    assert_eq!(end.status, StatusCode::NO_CONTENT);

    assert!(acs.tasks(&device("SN1")).is_empty(), "the task is done");
    let done = acs.store().completed_tasks(Some(&device("SN1"))).unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].id, task.id);
    cpe.validate();
    acs.stop().await;
}

#[tokio::test]
async fn a_session_timeout_puts_the_claimed_task_back_in_the_queue() {
    let acs = TestAcs::start(config()).await;
    let task = device_with_task(&acs, "SN1").await;
    let mut cpe = acs.cpe();
    cpe.post(inform("SN1", EventCode::Periodic)).await;
    assert_eq!(cpe.post("").await.name(), "GetParameterValues");
    let claimed = acs.tasks(&device("SN1"));
    assert_eq!(claimed[0].status, TaskStatus::InProgress);

    // The CPE never answers. Just before the session timeout nothing happens; after it the
    // session fails and its claim is released.
    let endpoint = acs.endpoint.clone();
    let now = Instant::now();
    let reap = move |at| {
        let endpoint = endpoint.clone();
        tokio::task::spawn_blocking(move || endpoint.reap(at))
    };
    assert_eq!(reap(now + Duration::from_secs(29)).await.unwrap(), 0);
    assert_eq!(reap(now + Duration::from_secs(31)).await.unwrap(), 1);
    assert_eq!(acs.endpoint.session_count(), 0);
    let released = acs.tasks(&device("SN1"));
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].id, task.id);
    assert_eq!(released[0].status, TaskStatus::Queued);
    assert_eq!(released[0].attempts, 1);

    // The late answer finds no session: a fresh one refuses it cleanly.
    let late = cpe.post("").await;
    assert_eq!(late.status, StatusCode::NO_CONTENT);
    cpe.validate();
    acs.stop().await;
}

#[tokio::test]
async fn basic_authentication_is_challenged_once_per_session() {
    let mut config = config();
    config.auth = CpeAuth::Basic(credentials());
    let acs = TestAcs::start(config).await;
    let mut cpe = acs.cpe();

    let refused = cpe.post(inform("SN1", EventCode::Boot)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.headers[header::WWW_AUTHENTICATE],
        "Basic realm=\"acs-sim\""
    );
    let wrong = cpe
        .post_authenticated(inform("SN1", EventCode::Boot), "cpe", "wrong")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(acs.endpoint.session_count(), 0);

    cpe.authorization = None;
    let answer = cpe
        .post_authenticated(inform("SN1", EventCode::Boot), "cpe", "secret")
        .await;
    assert_eq!(answer.name(), "InformResponse");
    // Its cookie now stands for the authenticated session, also on a new connection.
    cpe.authorization = None;
    cpe.disconnect();
    assert_eq!(cpe.post("").await.status, StatusCode::NO_CONTENT);
    cpe.validate();
    acs.stop().await;
}

#[tokio::test]
async fn digest_authentication_refuses_a_wrong_password_and_accepts_the_right_one() {
    let mut config = config();
    config.auth = CpeAuth::Digest(credentials());
    let acs = TestAcs::start(config).await;
    let mut cpe = acs.cpe();

    let wrong = cpe
        .post_authenticated(inform("SN1", EventCode::Boot), "cpe", "wrong")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let challenge = wrong.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
    assert!(
        challenge.starts_with("Digest realm=\"acs-sim\", qop=\"auth\""),
        "{challenge}"
    );
    assert_eq!(acs.endpoint.session_count(), 0);

    cpe.authorization = None;
    let answer = cpe
        .post_authenticated(inform("SN1", EventCode::Boot), "cpe", "secret")
        .await;
    assert_eq!(answer.name(), "InformResponse");
    // The connection is authenticated: the rest of the session needs no new credentials.
    cpe.authorization = None;
    assert_eq!(cpe.post("").await.status, StatusCode::NO_CONTENT);
    cpe.validate();
    acs.stop().await;
}

#[tokio::test]
async fn a_session_runs_over_https() {
    let pki = support::pki::Pki::new();
    let acs = TestAcs::start_with(config(), Some(pki.server_config(false))).await;
    let mut cpe = TestCpe::new(acs.addr).with_tls(ClientTls::trusting(&pki));
    plain_session(&mut cpe, "SN1").await;
    assert!(acs.store().device(&device("SN1")).is_ok());
    cpe.validate();
    acs.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_and_ends_the_session() {
    let mut config = config();
    config.body_limit = 4096;
    let acs = TestAcs::start(config).await;
    let mut cpe = acs.cpe();
    cpe.post(inform("SN1", EventCode::Boot)).await;
    assert_eq!(acs.endpoint.session_count(), 1);

    let big = vec![b' '; 5000];
    let refused = cpe.post(big).await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    let reason = String::from_utf8_lossy(&refused.body);
    assert!(reason.contains("4096 bytes"), "{reason}");
    assert_eq!(acs.endpoint.session_count(), 0, "the session ended");
    cpe.validate();
    acs.stop().await;
}

#[tokio::test]
async fn other_methods_get_405_and_any_path_serves_cwmp() {
    let acs = TestAcs::start(config()).await;
    let stream = tokio::net::TcpStream::connect(acs.addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let get = http::Request::get("/acs")
        .header(header::HOST, "acs")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let answer = sender.send_request(get).await.unwrap();
    assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.headers()[header::ALLOW], "POST");
    answer.into_body().collect().await.unwrap();

    let post = http::Request::post("/some/acs/path")
        .header(header::HOST, "acs")
        .body(http_body_util::Full::new(bytes::Bytes::from(inform(
            "SN1",
            EventCode::Boot,
        ))))
        .unwrap();
    sender.ready().await.unwrap();
    let answer = sender.send_request(post).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    acs.stop().await;
}

#[tokio::test]
async fn a_full_session_table_answers_503() {
    let limits = Limits {
        max_sessions: 1,
        ..Limits::default()
    };
    let acs = TestAcs::start_limited(config(), None, limits).await;
    let mut first = acs.cpe();
    first.post(inform("SN1", EventCode::Boot)).await;
    let refused = acs.cpe().post(inform("SN2", EventCode::Boot)).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(String::from_utf8_lossy(&refused.body).contains("too many open CWMP sessions"));
    // Once the first session ends there is room again.
    first.post("").await;
    plain_session(&mut acs.cpe(), "SN2").await;
    first.validate();
    acs.stop().await;
}

#[tokio::test]
async fn transcripts_record_each_message_of_the_asked_for_devices() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config();
    config.transcripts = Some(TranscriptConfig {
        dir: dir.path().to_owned(),
        devices: vec![device("SN1").as_str().to_owned()],
    });
    let acs = TestAcs::start(config).await;
    plain_session(&mut acs.cpe(), "SN1").await;
    plain_session(&mut acs.cpe(), "SN2").await;

    let sessions: Vec<_> = std::fs::read_dir(dir.path().join(device("SN1").as_str()))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(sessions.len(), 1);
    let session_dir = sessions[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let (stamp, seq) = session_dir.split_once('-').unwrap();
    assert!(
        stamp.len() == 15 && stamp.as_bytes()[8] == b'T',
        "{session_dir}"
    );
    assert_eq!(seq, "1");
    let mut files: Vec<String> = std::fs::read_dir(&sessions[0])
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "01-cpe-Inform.txt",
            "02-acs-InformResponse.txt",
            "03-cpe-empty-POST.txt",
            "04-acs-204-NoContent.txt"
        ]
    );
    let inform_file = std::fs::read(sessions[0].join("01-cpe-Inform.txt")).unwrap();
    assert_eq!(inform_file, inform("SN1", EventCode::Boot));
    assert!(
        !dir.path().join(device("SN2").as_str()).exists(),
        "SN2 was not asked for"
    );
    acs.stop().await;
}

#[tokio::test]
async fn a_transcript_that_cannot_be_written_does_not_disturb_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_directory = dir.path().join("file");
    std::fs::write(&not_a_directory, b"").unwrap();
    let mut config = config();
    config.transcripts = Some(TranscriptConfig {
        dir: not_a_directory,
        devices: Vec::new(),
    });
    let acs = TestAcs::start(config).await;
    let mut cpe = acs.cpe();
    plain_session(&mut cpe, "SN1").await;
    assert!(acs.store().device(&device("SN1")).is_ok());
    cpe.validate();
    acs.stop().await;
}

/// The `cpe` agent against the endpoint. Without ACS authentication: the agent reads its ACS
/// credentials from `ManagementServer.Username`, which its `[acs]` settings do not fill yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpe_agent_over_https_completes_its_bootstrap_and_takes_connection_request_credentials() {
    let pki = support::pki::Pki::new();
    let config = AcsConfig::default();
    assert!(config.connreq.provision);
    let acs = TestAcs::start_with(config, Some(pki.server_config(false))).await;
    let mut events = acs.acs.events();

    let state = tempfile::tempdir().unwrap();
    let file = FileConfig {
        tls: TlsSection {
            ca_file: Some(pki.ca_file.clone()),
            ..TlsSection::default()
        },
        ..FileConfig::default()
    };
    let agent_config = Config::resolve(
        file,
        Overrides {
            acs_url: Some(format!("https://127.0.0.1:{}/", acs.addr.port())),
            state_dir: Some(state.path().to_owned()),
            connreq_listen: Some("127.0.0.1:0".into()),
            ..Overrides::default()
        },
    )
    .unwrap();
    let agent = cpe::agent::Agent::start(agent_config).await.unwrap();
    let stop = Arc::new(Notify::new());
    let stopped = Arc::clone(&stop);
    let running = tokio::spawn(agent.run_until(async move { stopped.notified().await }));

    let mut provisioned = None;
    let (device, error) = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match events.recv().await.unwrap() {
                AcsEvent::JobDone { label, fault, .. } if label.contains("credentials") => {
                    provisioned = Some(fault);
                }
                AcsEvent::SessionEnded { device, error } => break (device, error),
                _ => {}
            }
        }
    })
    .await
    .expect("the agent's first session ends");
    assert_eq!(error, None, "the session completed");
    assert_eq!(provisioned, Some(None), "the CPE accepted the credentials");
    let device = acs.store().device(&device.unwrap()).unwrap();
    assert!(device.credentials.is_some());

    stop.notify_one();
    tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("the agent stops")
        .unwrap();
    acs.stop().await;
}
