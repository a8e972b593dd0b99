//! The session against scripted CPEs, in memory, on a fake clock. Every envelope the ACS sends
//! is kept and checked against the BBF schemas at the end of each test that sends any.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use schemas::rpc::types::{DeviceIdStruct, EventStruct, ParameterValueStruct, Status};
use schemas::rpc::*;
use schemas::soap::{CwmpNamespace, CwmpVersion};
use schemas::{Body, Envelope, SoapError};

use super::*;

/// A session under test, the replies it gave, and the fake clock.
struct Harness {
    session: Session,
    now: Instant,
    sent: Vec<Reply>,
}

impl Harness {
    fn new() -> Self {
        Self::with(SessionConfig::default())
    }

    fn with(config: SessionConfig) -> Self {
        let now = Instant::now();
        Self {
            session: Session::new(config, now),
            now,
            sent: Vec::new(),
        }
    }

    /// POSTs `body` and returns the session's answer, which must exist.
    fn post(&mut self, body: &[u8]) -> Reply {
        self.now += Duration::from_millis(5);
        self.session.handle_request(body, self.now);
        self.expect_reply()
    }

    fn expect_reply(&mut self) -> Reply {
        let reply = self
            .session
            .poll_transmit()
            .expect("the session has an answer");
        self.sent.push(reply.clone());
        reply
    }

    /// POSTs `body` in `ns` with ID `id`; returns the answer read back.
    fn post_envelope(&mut self, ns: CwmpNamespace, id: &str, body: impl Into<Body>) -> Reply {
        let bytes = Envelope::new(ns, body).with_id(id).write();
        self.post(&bytes)
    }

    fn events(&mut self) -> Vec<SessionEvent> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    fn validate(&self) {
        validate(&self.sent);
    }
}

fn envelope(reply: &Reply) -> Envelope {
    match reply {
        Reply::Envelope(bytes) => Envelope::parse(bytes).unwrap(),
        Reply::NoContent => panic!("expected an envelope, got 204"),
    }
}

fn fault_code(reply: &Reply) -> FaultCode {
    let Body::Fault(f) = envelope(reply).body else {
        panic!("expected a fault")
    };
    f.detail.unwrap().fault_code
}

fn validate(sent: &[Reply]) {
    let envelopes: Vec<&[u8]> = sent
        .iter()
        .filter_map(|r| match r {
            Reply::Envelope(bytes) => Some(bytes.as_slice()),
            Reply::NoContent => None,
        })
        .collect();
    schemas::testing::validate_envelopes(&envelopes);
}

fn inform() -> Inform {
    Inform {
        device_id: DeviceIdStruct {
            manufacturer: "Example".into(),
            oui: "00D09E".into(),
            product_class: "HGW".into(),
            serial_number: "SN1".into(),
        },
        event: vec![EventStruct::new(EventCode::Boot)],
        max_envelopes: 1,
        parameter_list: vec![ParameterValueStruct::new(
            "Device.DeviceInfo.SoftwareVersion",
            "1.0",
        )],
        ..Inform::default()
    }
}

/// An Inform as a CWMP 1.4 CPE sends it: cwmp-1-2, SupportedCWMPVersions, SessionTimeout.
fn inform_1_4(supported: &[CwmpVersion], timeout: Option<u32>) -> Vec<u8> {
    let mut env = Envelope::new(CwmpNamespace::V1_2, inform()).with_id("inf-1");
    env.header.supported_cwmp_versions = Some(supported.to_vec());
    env.header.session_timeout = timeout;
    env.write()
}

fn informed(events: &[SessionEvent]) -> &Informed {
    match &events[0] {
        SessionEvent::Informed(i) => i,
        other => panic!("expected Informed, got {other:?}"),
    }
}

#[test]
fn a_genieacs_style_session_runs_inform_gpv_spv_and_ends_with_204() {
    let mut h = Harness::new();
    let answer = envelope(&h.post_envelope(CwmpNamespace::V1_0, "qe8iamqi", inform()));
    assert!(matches!(
        answer.body,
        Body::InformResponse(InformResponse { max_envelopes: 1 })
    ));
    assert_eq!(
        answer.header.id.as_deref(),
        Some("qe8iamqi"),
        "the ID is echoed"
    );
    assert_eq!(answer.namespace, CwmpNamespace::V1_0);
    let events = h.events();
    let i = informed(&events);
    assert_eq!(i.inform.device_id.serial_number, "SN1");
    assert_eq!((i.version, i.timeout), (CwmpVersion::V1_0, DEFAULT_TIMEOUT));

    let gpv_id = h
        .session
        .request(
            GetParameterValues {
                parameter_names: vec!["Device.DeviceInfo.".into()],
            },
            h.now,
        )
        .unwrap();
    let gpv = envelope(&h.post(b""));
    assert!(matches!(gpv.body, Body::GetParameterValues(_)));
    assert_eq!(gpv.header.id.as_deref(), Some(gpv_id.as_str()));
    assert_eq!(gpv.namespace, CwmpNamespace::V1_0);

    // The response arrives with no request queued: the session waits for the application.
    h.now += Duration::from_millis(5);
    let response = Envelope::new(CwmpNamespace::V1_0, GetParameterValuesResponse::default())
        .with_id(gpv_id.clone())
        .write();
    h.session.handle_request(&response, h.now);
    assert_eq!(h.session.poll_transmit(), None);
    assert_eq!(
        h.session.poll_timeout(),
        None,
        "no deadline while the application works"
    );
    let events = h.events();
    assert!(matches!(
        &events[..],
        [SessionEvent::Response { id, request_name: "GetParameterValues", body: Body::GetParameterValuesResponse(_) }]
            if *id == gpv_id
    ));

    let spv = SetParameterValues {
        parameter_list: vec![ParameterValueStruct::new(
            "Device.ManagementServer.PeriodicInformInterval",
            "300",
        )],
        ..SetParameterValues::default()
    };
    let spv_id = h.session.request(spv, h.now).unwrap();
    h.session.finish(h.now);
    let sent = envelope(&h.expect_reply());
    assert!(matches!(sent.body, Body::SetParameterValues(_)));
    assert!(h.session.poll_timeout().is_some());

    // A missing cwmp:ID in the response is tolerated.
    let reply = h.post(
        &Envelope::new(
            CwmpNamespace::V1_0,
            SetParameterValuesResponse {
                status: Status::Applied,
            },
        )
        .write(),
    );
    assert_eq!(reply, Reply::NoContent);
    let events = h.events();
    assert!(matches!(
        &events[..],
        [SessionEvent::Response { id, request_name: "SetParameterValues", .. }, SessionEvent::Completed]
            if *id == spv_id
    ));
    assert!(h.session.is_closed());
    assert_eq!(
        h.post(b""),
        Reply::NoContent,
        "a closed session answers 204"
    );
    assert!(h.events().is_empty());
    h.validate();
}

#[test]
fn requests_queued_before_the_empty_post_go_out_one_per_post() {
    let mut h = Harness::new();
    h.post_envelope(CwmpNamespace::V1_2, "1", inform());
    h.events();
    let a = h.session.request(GetRPCMethods {}, h.now).unwrap();
    let b = h.session.request(Reboot::default(), h.now).unwrap();
    h.session.finish(h.now);
    assert_ne!(a, b);
    assert_eq!(
        h.session.request(Reboot::default(), h.now),
        Err(RequestError::Closed)
    );
    assert!(matches!(
        envelope(&h.post(b"")).body,
        Body::GetRPCMethods(_)
    ));
    let fault = SoapFault::from(FaultCode::MethodNotSupported);
    let reboot = h.post_envelope(CwmpNamespace::V1_2, &a, fault.clone());
    assert!(matches!(envelope(&reboot).body, Body::Reboot(_)));
    assert_eq!(
        h.post_envelope(CwmpNamespace::V1_2, &b, RebootResponse {}),
        Reply::NoContent
    );
    let events = h.events();
    assert_eq!(
        events[0],
        SessionEvent::Fault {
            id: a,
            request_name: "GetRPCMethods",
            fault
        }
    );
    assert!(matches!(
        events[1],
        SessionEvent::Response {
            request_name: "Reboot",
            ..
        }
    ));
    assert_eq!(events[2], SessionEvent::Completed);
    h.validate();
}

#[test]
fn responses_and_cpe_methods_are_not_acs_requests() {
    let mut h = Harness::new();
    assert_eq!(
        h.session.request(RebootResponse {}, h.now),
        Err(RequestError::NotAnAcsRequest("RebootResponse"))
    );
    assert_eq!(
        h.session.request(TransferComplete::default(), h.now),
        Err(RequestError::NotAnAcsRequest("TransferComplete"))
    );
}

#[test]
fn a_cwmp_1_4_cpe_gets_use_cwmp_version_and_its_session_timeout() {
    let mut h = Harness::new();
    let answer = envelope(&h.post(&inform_1_4(&CwmpVersion::ALL, Some(10))));
    assert_eq!(answer.header.use_cwmp_version, Some(CwmpVersion::V1_4));
    assert_eq!(answer.namespace, CwmpNamespace::V1_2);
    let events = h.events();
    assert_eq!(informed(&events).timeout, Duration::from_secs(10));
    assert_eq!(
        h.session.poll_timeout(),
        Some(h.now + Duration::from_secs(10))
    );

    // An ACS of 1.3 picks 1.3 from the offer.
    let mut h = Harness::with(SessionConfig {
        max_version: CwmpVersion::V1_3,
        ..SessionConfig::default()
    });
    let answer = envelope(&h.post(&inform_1_4(&CwmpVersion::ALL, None)));
    assert_eq!(answer.header.use_cwmp_version, Some(CwmpVersion::V1_3));
    assert_eq!(h.session.version(), CwmpVersion::V1_3);

    // An ACS of 1.1 answers a 1.4 CPE offering 1.1 in cwmp-1-1 (no version headers there).
    let mut h = Harness::with(SessionConfig {
        max_version: CwmpVersion::V1_1,
        ..SessionConfig::default()
    });
    let answer = envelope(&h.post(&inform_1_4(&CwmpVersion::ALL, None)));
    assert_eq!(answer.namespace, CwmpNamespace::V1_1);
    assert_eq!(answer.header.use_cwmp_version, None);
    h.validate();
}

#[test]
fn old_cpes_get_answers_in_their_own_namespace_without_version_headers() {
    for (ns, version) in [
        (CwmpNamespace::V1_0, CwmpVersion::V1_0),
        (CwmpNamespace::V1_1, CwmpVersion::V1_1),
        (CwmpNamespace::V1_2, CwmpVersion::V1_2),
    ] {
        let mut h = Harness::new();
        let answer = envelope(&h.post_envelope(ns, "1", inform()));
        assert_eq!(answer.namespace, ns);
        assert_eq!(answer.header.use_cwmp_version, None);
        assert_eq!(informed(&h.events()).version, version);
        h.session
            .request(GetParameterNames::default(), h.now)
            .unwrap();
        assert_eq!(envelope(&h.post(b"")).namespace, ns);
        h.validate();
    }
}

#[test]
fn no_common_version_is_answered_with_8006() {
    let mut h = Harness::with(SessionConfig {
        max_version: CwmpVersion::V1_2,
        ..SessionConfig::default()
    });
    let reply = h.post(&inform_1_4(&[CwmpVersion::V1_3, CwmpVersion::V1_4], None));
    assert_eq!(fault_code(&reply), FaultCode::AcsVersionIncompatible);
    assert_eq!(envelope(&reply).header.id.as_deref(), Some("inf-1"));
    assert_eq!(
        h.events(),
        [SessionEvent::Failed(SessionError::VersionIncompatible {
            offered: vec![CwmpVersion::V1_3, CwmpVersion::V1_4],
            max: CwmpVersion::V1_2,
        })]
    );
    assert!(h.session.is_closed());

    // A CWMP 1.1 CPE at an ACS of 1.0.
    let mut h = Harness::with(SessionConfig {
        max_version: CwmpVersion::V1_0,
        ..SessionConfig::default()
    });
    let reply = h.post_envelope(CwmpNamespace::V1_1, "x", inform());
    assert_eq!(fault_code(&reply), FaultCode::AcsVersionIncompatible);
    assert_eq!(envelope(&reply).namespace, CwmpNamespace::V1_1);
    h.validate();
}

#[test]
fn cpe_requests_are_answered_and_reported() {
    let mut h = Harness::new();
    h.post_envelope(CwmpNamespace::V1_2, "1", inform());
    h.events();
    let tc = TransferComplete {
        command_key: "fw-1".parse().unwrap(),
        ..TransferComplete::default()
    };
    let answer = envelope(&h.post_envelope(CwmpNamespace::V1_2, "tc", tc.clone()));
    assert!(matches!(answer.body, Body::TransferCompleteResponse(_)));
    assert_eq!(answer.header.id.as_deref(), Some("tc"));
    assert_eq!(
        h.events(),
        [SessionEvent::CpeRequest {
            id: Some("tc".into()),
            request: tc.into()
        }]
    );

    let answer = envelope(&h.post_envelope(CwmpNamespace::V1_2, "g", GetRPCMethods {}));
    let Body::GetRPCMethodsResponse(methods) = answer.body else {
        panic!()
    };
    assert_eq!(methods.method_list.len(), ACS_METHODS.len());

    let kicked = Kicked {
        next: "http://example.com/next".into(),
        ..Kicked::default()
    };
    let Body::KickedResponse(k) = envelope(&h.post_envelope(CwmpNamespace::V1_2, "k", kicked)).body
    else {
        panic!()
    };
    assert_eq!(k.next_url, "http://example.com/next");
    for request in [
        Body::from(AutonomousTransferComplete::default()),
        RequestDownload::default().into(),
        DUStateChangeComplete::default().into(),
        AutonomousDUStateChangeComplete::default().into(),
    ] {
        let expected = format!("{}Response", request.name());
        let answer = envelope(&h.post_envelope(CwmpNamespace::V1_2, "r", request));
        assert_eq!(answer.body.name(), expected);
    }
    assert_eq!(h.events().len(), 6);
    h.session.finish(h.now);
    assert_eq!(h.post(b""), Reply::NoContent);
    assert_eq!(h.events(), [SessionEvent::Completed]);
    h.validate();
}

#[test]
fn a_transfer_complete_without_events_or_times_is_answered() {
    let mut h = Harness::new();
    h.post_envelope(CwmpNamespace::V1_0, "1", inform());
    let bare = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
        xmlns:c="urn:dslforum-org:cwmp-1-0"><s:Body><c:TransferComplete><CommandKey>k</CommandKey>
        </c:TransferComplete></s:Body></s:Envelope>"#;
    let answer = envelope(&h.post(bare));
    assert!(matches!(answer.body, Body::TransferCompleteResponse(_)));
    assert_eq!(answer.header.id, None, "no ID to echo");
    h.validate();
}

#[test]
fn an_unknown_cpe_method_gets_8000_and_the_session_goes_on() {
    let mut h = Harness::new();
    h.post_envelope(CwmpNamespace::V1_2, "1", inform());
    h.events();
    let unknown = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
        xmlns:c="urn:dslforum-org:cwmp-1-2"><s:Header><c:ID s:mustUnderstand="1">u-1</c:ID>
        </s:Header><s:Body><c:X_ACME_Frobnicate/></s:Body></s:Envelope>"#;
    let reply = h.post(unknown);
    assert_eq!(fault_code(&reply), FaultCode::AcsMethodNotSupported);
    assert_eq!(envelope(&reply).header.id.as_deref(), Some("u-1"));
    // A known method the ACS does not take from a CPE.
    let reply = h.post_envelope(CwmpNamespace::V1_2, "r", Reboot::default());
    assert_eq!(fault_code(&reply), FaultCode::AcsMethodNotSupported);
    assert!(h.events().is_empty());
    h.session.finish(h.now);
    assert_eq!(h.post(b""), Reply::NoContent);
    assert_eq!(h.events(), [SessionEvent::Completed]);
    h.validate();
}

#[test]
fn a_malformed_body_gets_8003_and_fails_the_session() {
    let mut h = Harness::new();
    h.post_envelope(CwmpNamespace::V1_2, "1", inform());
    h.events();
    let bad = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
        xmlns:c="urn:dslforum-org:cwmp-1-2"><s:Header><c:ID s:mustUnderstand="1">b-1</c:ID>
        </s:Header><s:Body><c:TransferComplete><FaultStruct><FaultCode>x</FaultCode>
        </FaultStruct></c:TransferComplete></s:Body></s:Envelope>"#;
    let reply = h.post(bad);
    assert_eq!(fault_code(&reply), FaultCode::AcsInvalidArguments);
    assert_eq!(envelope(&reply).header.id.as_deref(), Some("b-1"));
    assert!(matches!(
        h.events()[..],
        [SessionEvent::Failed(SessionError::Malformed(_))]
    ));
    assert!(h.session.is_closed());

    let mut h = Harness::new();
    let reply = h.post(b"<not-soap/>");
    assert_eq!(fault_code(&reply), FaultCode::AcsInvalidArguments);
    assert!(matches!(
        h.events()[..],
        [SessionEvent::Failed(SessionError::Malformed(_))]
    ));
    h.validate();
}

#[test]
fn a_session_not_opened_by_an_inform_ends_cleanly() {
    let mut h = Harness::new();
    assert_eq!(h.post(b""), Reply::NoContent);
    assert_eq!(
        h.events(),
        [SessionEvent::Failed(SessionError::EmptyBeforeInform)]
    );

    let mut h = Harness::new();
    let reply = h.post_envelope(CwmpNamespace::V1_1, "t", TransferComplete::default());
    assert_eq!(fault_code(&reply), FaultCode::AcsInvalidArguments);
    assert_eq!(envelope(&reply).namespace, CwmpNamespace::V1_1);
    assert_eq!(
        h.events(),
        [SessionEvent::Failed(SessionError::NotInform(
            "TransferComplete"
        ))]
    );

    let mut h = Harness::new();
    assert_eq!(
        h.post_envelope(CwmpNamespace::V1_2, "r", RebootResponse {}),
        Reply::NoContent
    );
    assert_eq!(
        h.events(),
        [SessionEvent::Failed(SessionError::NotInform(
            "RebootResponse"
        ))]
    );
    h.validate();
}

#[test]
fn messages_out_of_turn_end_the_session() {
    // A response to nothing.
    let mut h = Harness::new();
    h.post_envelope(CwmpNamespace::V1_2, "1", inform());
    h.events();
    assert_eq!(
        h.post_envelope(CwmpNamespace::V1_2, "2", RebootResponse {}),
        Reply::NoContent
    );
    assert!(matches!(
        h.events()[..],
        [SessionEvent::Failed(SessionError::UnexpectedMessage {
            got: "RebootResponse",
            ..
        })]
    ));

    // A second Inform.
    let mut h = Harness::new();
    h.post_envelope(CwmpNamespace::V1_2, "1", inform());
    h.events();
    let reply = h.post_envelope(CwmpNamespace::V1_2, "2", inform());
    assert_eq!(fault_code(&reply), FaultCode::AcsInvalidArguments);
    assert!(h.session.is_closed());

    // An empty POST while a request is outstanding.
    let mut h = Harness::new();
    h.post_envelope(CwmpNamespace::V1_2, "1", inform());
    h.session.request(Reboot::default(), h.now).unwrap();
    h.post(b"");
    assert_eq!(h.post(b""), Reply::NoContent);
    assert!(h.session.is_closed());
    h.validate();
}

#[test]
fn silence_past_the_session_timeout_fails_the_session() {
    let mut h = Harness::with(SessionConfig {
        timeout: Duration::from_secs(10),
        ..SessionConfig::default()
    });
    let deadline = h.session.poll_timeout().unwrap();
    assert_eq!(deadline, h.now + Duration::from_secs(10));
    h.session
        .handle_timeout(deadline - Duration::from_millis(1));
    assert!(!h.session.is_closed());
    h.session.handle_timeout(deadline);
    assert_eq!(
        h.events(),
        [SessionEvent::Failed(SessionError::Timeout(
            Duration::from_secs(10)
        ))]
    );
    assert_eq!(h.session.poll_timeout(), None);

    // Each POST pushes the deadline forward; the CPE's SessionTimeout rules after the Inform.
    let mut h = Harness::new();
    h.now += Duration::from_secs(25);
    h.post(&inform_1_4(&CwmpVersion::ALL, Some(60)));
    assert_eq!(
        h.session.poll_timeout(),
        Some(h.now + Duration::from_secs(60))
    );
    h.session.handle_timeout(h.now + Duration::from_secs(59));
    assert!(!h.session.is_closed());
    h.session.handle_timeout(h.now + Duration::from_secs(60));
    assert!(h.session.is_closed());
}

// --- Real CPE captures ---------------------------------------------------------------------

fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/cwmp-samples/peers")
}

use schemas::testing::http_body;

/// Every CPE message of `dir`, in file order.
fn cpe_messages(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains("-cpe-"))
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, http_body(&std::fs::read(&p).unwrap()))
        })
        .collect()
}

#[test]
fn every_captured_cpe_message_gets_an_answer_in_any_state() {
    let mut messages = cpe_messages(&peers_dir().join("genieacs-sim-cpe"));
    assert!(messages.len() >= 10, "captures missing");
    messages.extend(cpe_messages(&peers_dir().join("genieacs-acs")));
    let malformed = peers_dir().join("../malformed/cwmpclient-0.0.1b0-Inform-no-soap-ns.txt");
    messages.push((
        "cwmpclient Inform".into(),
        http_body(&std::fs::read(malformed).unwrap()),
    ));
    let informs: Vec<_> = messages
        .iter()
        .filter(|(n, _)| n.contains("Inform"))
        .collect();
    assert!(!informs.is_empty());
    let mut sent = Vec::new();
    for (name, body) in &messages {
        // First message of a session, after an Inform, and with a request outstanding.
        for setup in 0..3 {
            let mut h = Harness::new();
            if setup >= 1 {
                h.post(&informs[0].1);
            }
            if setup == 2 {
                let gpv = GetParameterValues {
                    parameter_names: vec!["Device.".into()],
                };
                h.session.request(gpv, h.now).unwrap();
                h.post(b"");
            }
            h.now += Duration::from_millis(5);
            h.session.handle_request(body, h.now);
            let reply = h.session.poll_transmit().unwrap_or_else(|| {
                // The CPE's turn is over and nothing is queued: the application decides.
                assert!(!h.session.is_closed(), "{name}: closed without an answer");
                h.session.finish(h.now);
                h.session.poll_transmit().expect("finish() answers")
            });
            h.sent.push(reply.clone());
            if let Reply::Envelope(bytes) = &reply {
                Envelope::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            h.events();
            sent.extend(h.sent);
        }
    }
    // The captured session replayed in order: Informs open, the rest answers.
    let mut h = Harness::new();
    let inform = envelope(&h.post(&informs[0].1));
    assert!(matches!(inform.body, Body::InformResponse(_)));
    assert_eq!(inform.namespace, CwmpNamespace::V1_0);
    assert!(matches!(
        informed(&h.events()).inform.event[0].event_code,
        EventCode::Periodic
    ));
    sent.extend(h.sent);
    validate(&sent);
}

#[test]
fn an_inform_without_the_soap_namespace_gets_8003() {
    let path = peers_dir().join("../malformed/cwmpclient-0.0.1b0-Inform-no-soap-ns.txt");
    let mut h = Harness::new();
    let reply = h.post(&http_body(&std::fs::read(path).unwrap()));
    assert_eq!(fault_code(&reply), FaultCode::AcsInvalidArguments);
    assert!(matches!(
        h.events()[..],
        [SessionEvent::Failed(SessionError::Malformed(
            SoapError::NotSoapEnvelope { .. }
        ))]
    ));
    h.validate();
}

#[test]
fn an_unknown_method_as_the_first_message_gets_8000_and_fails() {
    let mut h = Harness::new();
    let unknown = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
        xmlns:c="urn:dslforum-org:cwmp-1-1"><s:Header><c:ID s:mustUnderstand="1">u</c:ID>
        </s:Header><s:Body><c:X_ACME_Hello/></s:Body></s:Envelope>"#;
    let reply = h.post(unknown);
    assert_eq!(fault_code(&reply), FaultCode::AcsMethodNotSupported);
    assert_eq!(envelope(&reply).namespace, CwmpNamespace::V1_1);
    assert!(h.session.is_closed());
    h.validate();
}

proptest::proptest! {
    /// Whatever the CPE POSTs, in whatever order, and whatever the application does in
    /// between, the session never panics, and every POST gets an answer once the application
    /// has said it is done.
    #[test]
    fn any_sequence_of_posts_gets_answers(steps in proptest::collection::vec((0usize..8, proptest::collection::vec(proptest::num::u8::ANY, 0..64), proptest::bool::ANY), 1..12)) {
        let inform = Envelope::new(CwmpNamespace::V1_2, inform()).with_id("i").write();
        let gpv_response = Envelope::new(CwmpNamespace::V1_2, GetParameterValuesResponse::default()).write();
        let fault = Envelope::new(CwmpNamespace::V1_2, SoapFault::from(FaultCode::RequestDenied)).write();
        let tc = Envelope::new(CwmpNamespace::V1_2, TransferComplete::default()).write();
        let mut h = Harness::new();
        for (kind, noise, queue) in steps {
            if queue {
                let _ = h.session.request(Reboot::default(), h.now);
            }
            let mut body = match kind {
                0 | 1 => inform.clone(),
                2 => Vec::new(),
                3 => gpv_response.clone(),
                4 => fault.clone(),
                5 => tc.clone(),
                6 => noise.clone(),
                _ => {
                    let mut cut = inform.clone();
                    cut.truncate(noise.len() * 8);
                    cut
                }
            };
            if kind == 1 && !noise.is_empty() {
                let at = usize::from(noise[0]) * body.len() / 256;
                body[at] = noise[noise.len() - 1];
            }
            h.now += Duration::from_millis(1);
            h.session.handle_request(&body, h.now);
            if h.session.poll_transmit().is_none() {
                proptest::prop_assert!(!h.session.is_closed());
                h.session.finish(h.now);
                proptest::prop_assert!(h.session.poll_transmit().is_some());
            }
            h.events();
            if h.session.is_closed() {
                h = Harness::new();
            }
        }
    }
}

#[test]
fn a_newer_method_in_an_old_session_is_answered_in_the_namespace_that_defines_it() {
    let mut h = Harness::new();
    h.post_envelope(CwmpNamespace::V1_0, "1", inform());
    let cases: [(Body, CwmpNamespace); 3] = [
        (
            AutonomousTransferComplete::default().into(),
            CwmpNamespace::V1_1,
        ),
        (DUStateChangeComplete::default().into(), CwmpNamespace::V1_2),
        (TransferComplete::default().into(), CwmpNamespace::V1_0),
    ];
    for (request, namespace) in cases {
        let name = request.name();
        let answer = envelope(&h.post_envelope(CwmpNamespace::V1_0, "2", request));
        assert_eq!(answer.namespace, namespace, "{name}");
    }
    h.validate();
}
