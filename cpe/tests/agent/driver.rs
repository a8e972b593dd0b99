//! One session driven over the real transport against the scripted ACS.

use std::time::Duration;

use cpe::agent::driver::{self, DriveError, SessionHandler};
use cpe::session::{SessionConfig, SessionError, SessionEvent};
use cpe::transport::{Client, TransportConfig};
use schemas::rpc::types::{DeviceIdStruct, EventStruct, ParameterValueStruct};
use schemas::rpc::*;
use schemas::soap::CwmpNamespace;
use schemas::{Body, Envelope};

use crate::support::acs::{HttpResponse, ScriptedAcs};
use crate::support::validate;

struct Answers {
    events: Vec<SessionEvent>,
}

impl SessionHandler for Answers {
    fn request(&mut self, request: Body) -> Body {
        match request {
            Body::GetParameterValues(_) => GetParameterValuesResponse {
                parameter_list: vec![ParameterValueStruct::new(
                    "Device.ManagementServer.URL",
                    "http://acs-1/",
                )],
            }
            .into(),
            _ => SoapFault::from(FaultCode::MethodNotSupported).into(),
        }
    }

    fn event(&mut self, event: SessionEvent) {
        self.events.push(event);
    }
}

fn inform() -> Inform {
    Inform {
        device_id: DeviceIdStruct {
            manufacturer: "Example".into(),
            oui: "00D09E".into(),
            product_class: "HGW".into(),
            serial_number: "SN1".into(),
        },
        event: vec![EventStruct::new(EventCode::Bootstrap)],
        max_envelopes: 1,
        ..Inform::default()
    }
}

fn reply(body: impl Into<Body>) -> HttpResponse {
    HttpResponse::xml(
        Envelope::new(CwmpNamespace::V1_2, body)
            .with_id("acs")
            .write(),
    )
}

#[tokio::test]
async fn a_session_runs_over_one_connection_and_everything_sent_validates() {
    let mut step = 0;
    let acs = ScriptedAcs::start(move |_| {
        step += 1;
        match step {
            1 => reply(InformResponse { max_envelopes: 1 }),
            2 => reply(GetParameterValues {
                parameter_names: vec!["Device.ManagementServer.URL".into()],
            }),
            _ => HttpResponse::no_content(),
        }
    })
    .await;
    let client = Client::new(TransportConfig::default()).unwrap();
    let mut handler = Answers { events: Vec::new() };
    let report = driver::run(
        &client,
        acs.url.parse().unwrap(),
        None,
        SessionConfig::new(inform()),
        &mut handler,
    )
    .await;
    report.result.unwrap();
    assert!(report.inform_accepted);
    let requests = acs.requests();
    assert_eq!(requests.len(), 3, "Inform, empty POST, GPV response");
    assert!(requests.iter().all(|r| r.start == "POST /acs HTTP/1.1"));
    assert!(
        requests.iter().all(|r| r.connection == 0),
        "one TCP connection"
    );
    assert_eq!(requests[1].body, b"", "the empty POST");
    assert_eq!(requests[1].header("content-length"), Some("0"));
    assert!(matches!(
        handler.events[..],
        [SessionEvent::InformAccepted(_)]
    ));
    validate(&requests.iter().map(|r| r.body.clone()).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn an_acs_that_never_answers_fails_the_session_at_its_timeout() {
    // Accepts the connection and reads, but never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let _server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let _keep = stream;
        std::future::pending::<()>().await;
    });
    let client = Client::new(TransportConfig {
        response_timeout: Duration::from_secs(600),
        ..TransportConfig::default()
    })
    .unwrap();
    let mut config = SessionConfig::new(inform());
    config.timeout = Duration::from_secs(30);
    let mut handler = Answers { events: Vec::new() };
    let report = driver::run(&client, url.parse().unwrap(), None, config, &mut handler).await;
    assert!(
        matches!(report.result, Err(DriveError::Session(SessionError::Timeout(t))) if t == Duration::from_secs(30)),
        "{:?}",
        report.result
    );
    assert!(!report.inform_accepted);
}
