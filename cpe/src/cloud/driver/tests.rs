//! The driver against scripted loopback servers that misbehave on purpose (the real cloud
//! server's flow is in the e2e tests): which connection each HTTP step takes, a refused
//! WebSocket upgrade, an oversized answer, a connection closed without an answer.

use std::time::Duration;

use schemas::tunnel::{
    AuthAnswer, CAS_TICKETS_PATH, CasInfo, CloudSettings, DeviceState, FailureReason, MAX_FRAME,
    ProcessState, REGISTER_PATH, RegisterAnswer, USERAUTH_PATH,
};
use tokio::sync::mpsc;

use super::{CloudClient, DriverConfig, cloud_tls};
use crate::cloud::{Backoff, Event, TunnelConfig};
use crate::transport::tests::support::{Pki, Recorded, Reply, Server, reply};

const WAIT: Duration = Duration::from_secs(10);

fn config(pki: &Pki, port: u16) -> DriverConfig {
    DriverConfig {
        tunnel: TunnelConfig {
            settings: CloudSettings::new("127.0.0.1", port, 10, 10).unwrap(),
            serial: "SN0001".to_owned(),
            secret: "secret".to_owned(),
            services: Vec::new(),
            buffer_limit: 16 * 1024,
            backoff: Backoff {
                initial: Duration::from_secs(60),
                max: Duration::from_secs(60),
            },
        },
        tls: cloud_tls(Some(&pki.ca_file)).unwrap(),
        proxy: Default::default(),
        stats: Default::default(),
    }
}

/// The first event of the driver.
async fn first_event(events: &mut mpsc::UnboundedReceiver<Event>) -> Event {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("an event in time")
        .expect("the driver runs")
}

fn json(body: &str) -> Reply {
    reply("200 OK", &[("Content-Type", "application/json")], body)
}

/// The cloud's side of steps 1, 4, 5 and 6 for a CAS at `cas`: the upgrade is refused with
/// 403.
fn cloud(request: &Recorded, cas: u16) -> Reply {
    let target = request.target.as_str();
    if target.starts_with(&format!("{USERAUTH_PATH}?ticket=")) {
        let answer = AuthAnswer::Session {
            session_id: "session-1".to_owned(),
        };
        json(&answer.encode().unwrap())
    } else if target == USERAUTH_PATH {
        let info = CasInfo {
            cas_url: format!("http://127.0.0.1:{cas}{CAS_TICKETS_PATH}"),
            cas_https: false,
            ignore_cas: false,
        };
        json(&info.encode().unwrap())
    } else if target == REGISTER_PATH {
        let host = request.header("host").unwrap_or_default();
        let answer = RegisterAnswer::Accepted {
            ws_url: format!("wss://{host}/v3/tunnel/base"),
        };
        json(&answer.encode().unwrap())
    } else {
        reply("403 Forbidden", &[], "")
    }
}

/// A CAS over plain HTTP: the TGT for any credentials, then a service ticket.
fn cas(request: &Recorded) -> Reply {
    if request.target == CAS_TICKETS_PATH {
        let host = request.header("host").unwrap_or_default();
        let tgt = format!("http://{host}{CAS_TICKETS_PATH}/TGT-1");
        reply("201 Created", &[("Location", &tgt)], "")
    } else {
        reply("200 OK", &[("Content-Type", "text/plain")], "ST-1")
    }
}

#[tokio::test]
async fn http_steps_share_the_connect_connection_per_origin_and_a_refused_upgrade_fails_the_handshake()
 {
    let pki = Pki::new();
    let cas_server = Server::start(|r, _| cas(r)).await;
    let cas_at = cas_server.port();
    let cloud_server =
        Server::start_tls(pki.server_config(false), move |r, _| cloud(r, cas_at)).await;

    let (client, mut events) = CloudClient::spawn(config(&pki, cloud_server.port()));
    let failed = Event::Failed(FailureReason::ProcessingHandshakeFailed);
    assert_eq!(first_event(&mut events).await, failed);
    let status = client.status().await.unwrap();
    assert_eq!(
        status.failure_reason,
        FailureReason::ProcessingHandshakeFailed
    );
    assert_eq!(status.device_state, DeviceState::RegisterSuccess);

    // Steps 1, 4 and 5 on the connection `Connect` opened; the upgrade on its own.
    let requests = cloud_server.requests();
    let seen: Vec<_> = requests
        .iter()
        .map(|r| {
            (
                r.connection,
                r.method.as_str(),
                r.target.split('?').next().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (0, "GET", USERAUTH_PATH),
            (0, "GET", USERAUTH_PATH),
            (0, "POST", REGISTER_PATH),
            (1, "GET", "/v3/tunnel/base"),
        ]
    );
    let host = format!("127.0.0.1:{}", cloud_server.port());
    assert!(
        requests
            .iter()
            .all(|r| r.header("host") == Some(host.as_str()))
    );
    assert_eq!(requests[1].target, format!("{USERAUTH_PATH}?ticket=ST-1"));
    assert_eq!(requests[3].header("cookie"), Some("JSESSIONID=session-1"));
    assert_eq!(requests[2].header("content-type"), Some("application/json"));
    // Steps 2 and 3 at the CAS, another origin, on one connection of their own.
    let cas_requests = cas_server.requests();
    assert_eq!(cas_server.connections(), 1);
    assert_eq!(cas_requests.len(), 2);
    assert_eq!(
        String::from_utf8_lossy(&cas_requests[0].body),
        "username=SN0001&password=secret"
    );
    assert_eq!(cas_requests[1].target, format!("{CAS_TICKETS_PATH}/TGT-1"));
    client.stop();
}

#[tokio::test]
async fn answer_larger_than_max_frame_fails_the_step_as_processing_failed() {
    let pki = Pki::new();
    let big = "x".repeat(MAX_FRAME + 1);
    let server = Server::start_tls(pki.server_config(false), move |_, _| json(&big)).await;
    let (client, mut events) = CloudClient::spawn(config(&pki, server.port()));
    let failed = Event::Failed(FailureReason::ProcessingCasUrlFailed);
    assert_eq!(first_event(&mut events).await, failed);
    let status = client.status().await.unwrap();
    assert_eq!(status.device_state, DeviceState::RequestCasUrl);
    assert_eq!(status.process_state, ProcessState::MessageReceived);
}

#[tokio::test]
async fn connection_closed_without_an_answer_fails_sending() {
    let pki = Pki::new();
    let server = Server::start_tls(pki.server_config(false), |_, _| Reply::drop_connection()).await;
    let (client, mut events) = CloudClient::spawn(config(&pki, server.port()));
    let failed = Event::Failed(FailureReason::SendingCasUrlFailed);
    assert_eq!(first_event(&mut events).await, failed);
    let status = client.status().await.unwrap();
    assert_eq!(status.device_state, DeviceState::RequestCasUrl);
    assert_eq!(status.process_state, ProcessState::MessageNotSent);
}
