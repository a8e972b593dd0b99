//! The session against a scripted ACS, in memory, on a fake clock. Every envelope the CPE sends
//! is kept and, at the end of each test, checked against the BBF schemas.

use std::time::{Duration, Instant};

use schemas::rpc::types::{DeviceIdStruct, EventStruct, ParameterValueStruct, Status};
use schemas::rpc::*;
use schemas::soap::{CwmpNamespace, CwmpVersion};
use schemas::{Body, Envelope};

use super::*;

/// A session under test, the envelopes it sent, and the fake clock.
struct Harness {
    session: Session,
    now: Instant,
    sent: Vec<Transmit>,
}

impl Harness {
    fn new(config: SessionConfig) -> Self {
        let now = Instant::now();
        let mut h = Self {
            session: Session::new(config, now),
            now,
            sent: Vec::new(),
        };
        h.expect_sent();
        h
    }

    /// The session's next POST, which must exist.
    fn expect_sent(&mut self) -> Transmit {
        let t = self
            .session
            .poll_transmit()
            .expect("the session has something to send");
        self.sent.push(t.clone());
        t
    }

    fn expect_envelope(&mut self) -> Envelope {
        match self.expect_sent() {
            Transmit::Envelope(bytes) => Envelope::parse(&bytes).unwrap(),
            Transmit::Empty => panic!("expected an envelope, got an empty POST"),
        }
    }

    fn reply(&mut self, status: u16, body: &[u8]) {
        self.now += Duration::from_millis(5);
        self.session.handle_response(status, body, self.now);
    }

    fn reply_with(&mut self, ns: CwmpNamespace, id: &str, body: impl Into<Body>) {
        let bytes = Envelope::new(ns, body).with_id(id).write();
        self.reply(200, &bytes);
    }

    fn events(&mut self) -> Vec<SessionEvent> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    /// Checks everything the CPE sent against the BBF schemas.
    fn validate(&self) {
        validate(&self.sent);
    }
}

fn validate(sent: &[Transmit]) {
    let envelopes: Vec<&[u8]> = sent
        .iter()
        .filter_map(|t| match t {
            Transmit::Envelope(bytes) => Some(bytes.as_slice()),
            Transmit::Empty => None,
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
        event: vec![
            EventStruct::new(EventCode::Bootstrap),
            EventStruct::new(EventCode::Boot),
        ],
        max_envelopes: 1,
        parameter_list: vec![ParameterValueStruct::new(
            "Device.DeviceInfo.SoftwareVersion",
            "1.0",
        )],
        ..Inform::default()
    }
}

fn transfer_complete() -> Body {
    TransferComplete {
        command_key: "fw-1".parse().unwrap(),
        ..TransferComplete::default()
    }
    .into()
}

#[test]
fn a_full_session_runs_inform_requests_empty_post_and_acs_requests_in_order() {
    let mut config = SessionConfig::new(inform());
    config.requests = vec![transfer_complete()];
    let mut h = Harness::new(config);
    let Transmit::Envelope(first) = &h.sent[0] else {
        panic!()
    };
    let sent = Envelope::parse(first).unwrap();
    assert!(matches!(sent.body, Body::Inform(_)));
    // CWMP 1.4 offer (§3.7.4): cwmp-1-2 with SupportedCWMPVersions and SessionTimeout.
    assert_eq!(sent.namespace, CwmpNamespace::V1_2);
    assert_eq!(
        sent.header.supported_cwmp_versions.as_ref().unwrap().len(),
        5
    );
    assert_eq!(sent.header.session_timeout, Some(30));

    let mut response = Envelope::new(CwmpNamespace::V1_2, InformResponse { max_envelopes: 1 });
    response.header.id = sent.header.id.clone();
    response.header.use_cwmp_version = Some(CwmpVersion::V1_4);
    h.reply(200, &response.write());
    assert_eq!(
        h.events(),
        [SessionEvent::InformAccepted(CwmpVersion::V1_4)]
    );

    let tc = h.expect_envelope();
    assert!(matches!(tc.body, Body::TransferComplete(_)));
    h.reply_with(CwmpNamespace::V1_2, "x", TransferCompleteResponse {});
    assert!(matches!(
        h.events()[..],
        [SessionEvent::RequestAnswered { index: 0, .. }]
    ));

    assert_eq!(h.expect_sent(), Transmit::Empty);
    let gpv = GetParameterValues {
        parameter_names: vec!["Device.DeviceInfo.".into()],
    };
    h.reply_with(CwmpNamespace::V1_2, "acs-1", gpv.clone());
    assert_eq!(h.events(), [SessionEvent::Request(gpv.into())]);
    assert_eq!(
        h.session.poll_timeout(),
        None,
        "no deadline while the application works"
    );

    h.session
        .respond(GetParameterValuesResponse::default(), h.now);
    let answer = h.expect_envelope();
    assert_eq!(
        answer.header.id.as_deref(),
        Some("acs-1"),
        "the response echoes the ID"
    );
    assert!(matches!(answer.body, Body::GetParameterValuesResponse(_)));

    h.reply(204, b"");
    assert_eq!(h.events(), [SessionEvent::Completed]);
    assert!(h.session.is_closed());
    assert_eq!(h.session.poll_transmit(), None);
    h.validate();
}

#[test]
fn an_empty_200_ends_the_session_like_a_204() {
    let mut h = Harness::new(SessionConfig::new(inform()));
    h.reply_with(
        CwmpNamespace::V1_2,
        "1",
        InformResponse { max_envelopes: 1 },
    );
    assert_eq!(h.expect_sent(), Transmit::Empty);
    h.reply(200, b"  \r\n");
    assert_eq!(h.events().last(), Some(&SessionEvent::Completed));
}

#[test]
fn an_old_acs_answering_in_cwmp_1_0_sets_the_namespace_for_the_rest() {
    let mut h = Harness::new(SessionConfig::new(inform()));
    h.reply_with(
        CwmpNamespace::V1_0,
        "1",
        InformResponse { max_envelopes: 1 },
    );
    assert_eq!(
        h.events(),
        [SessionEvent::InformAccepted(CwmpVersion::V1_0)]
    );
    assert_eq!(h.expect_sent(), Transmit::Empty);
    h.reply_with(CwmpNamespace::V1_0, "r", Reboot::default());
    h.events();
    h.session.respond(RebootResponse {}, h.now);
    let answer = h.expect_envelope();
    assert_eq!(answer.namespace, CwmpNamespace::V1_0);
    h.validate();
}

#[test]
fn use_cwmp_version_picks_the_version_and_one_not_offered_fails() {
    let mut h = Harness::new(SessionConfig::new(inform()));
    let mut r = Envelope::new(CwmpNamespace::V1_2, InformResponse { max_envelopes: 1 });
    r.header.use_cwmp_version = Some(CwmpVersion::V1_3);
    h.reply(200, &r.write());
    assert_eq!(
        h.events(),
        [SessionEvent::InformAccepted(CwmpVersion::V1_3)]
    );

    let mut config = SessionConfig::new(inform());
    config.max_version = CwmpVersion::V1_2;
    let mut h = Harness::new(config);
    let Transmit::Envelope(first) = &h.sent[0] else {
        panic!()
    };
    let offer = Envelope::parse(first).unwrap();
    assert_eq!(
        offer.header.supported_cwmp_versions, None,
        "1.2 has no version headers"
    );
    assert_eq!(offer.header.session_timeout, None);
    h.reply(200, &r.write());
    assert_eq!(
        h.events(),
        [SessionEvent::Failed(SessionError::VersionNotOffered(
            CwmpVersion::V1_3
        ))]
    );
}

#[test]
fn fault_8005_to_the_inform_fails_the_session_for_a_retry() {
    let mut h = Harness::new(SessionConfig::new(inform()));
    h.reply_with(
        CwmpNamespace::V1_2,
        "1",
        SoapFault::from(FaultCode::AcsRetryRequest),
    );
    assert_eq!(
        h.events(),
        [SessionEvent::Failed(SessionError::InformRefused(
            FaultCode::AcsRetryRequest
        ))]
    );
    assert!(h.session.is_closed());
}

#[test]
fn hold_requests_defers_the_cpe_requests_until_the_acs_is_done() {
    let mut config = SessionConfig::new(inform());
    config.requests = vec![transfer_complete()];
    let mut h = Harness::new(config);
    let mut r = Envelope::new(CwmpNamespace::V1_2, InformResponse { max_envelopes: 1 });
    r.header.hold_requests = Some(true);
    h.reply(200, &r.write());
    // Held: an empty POST instead of TransferComplete.
    assert_eq!(h.expect_sent(), Transmit::Empty);
    h.reply_with(CwmpNamespace::V1_2, "a", GetRPCMethods {});
    h.events();
    let methods = GetRPCMethodsResponse {
        method_list: vec!["GetRPCMethods".into()],
    };
    h.session.respond(methods, h.now);
    h.expect_envelope();
    // The ACS is done: now the held request goes out, then the empty POST, then the end.
    h.reply(204, b"");
    assert!(matches!(
        h.expect_envelope().body,
        Body::TransferComplete(_)
    ));
    h.reply_with(CwmpNamespace::V1_2, "b", TransferCompleteResponse {});
    assert_eq!(h.expect_sent(), Transmit::Empty);
    h.reply(204, b"");
    let events = h.events();
    assert!(matches!(
        events[0],
        SessionEvent::RequestAnswered { index: 0, .. }
    ));
    assert_eq!(events.last(), Some(&SessionEvent::Completed));
    h.validate();
}

#[test]
fn a_refused_cpe_request_is_reported_and_the_session_goes_on() {
    let mut config = SessionConfig::new(inform());
    config.requests = vec![transfer_complete(), GetRPCMethods {}.into()];
    let mut h = Harness::new(config);
    h.reply_with(
        CwmpNamespace::V1_2,
        "1",
        InformResponse { max_envelopes: 1 },
    );
    h.expect_envelope();
    h.reply_with(
        CwmpNamespace::V1_2,
        "2",
        SoapFault::from(FaultCode::AcsInternalError),
    );
    assert!(matches!(h.expect_envelope().body, Body::GetRPCMethods(_)));
    h.reply_with(CwmpNamespace::V1_2, "3", GetRPCMethodsResponse::default());
    assert_eq!(h.expect_sent(), Transmit::Empty);
    let events = h.events();
    assert!(matches!(
        events[1],
        SessionEvent::RequestRefused { index: 0, .. }
    ));
    assert!(matches!(
        events[2],
        SessionEvent::RequestAnswered { index: 1, .. }
    ));
}

#[test]
fn an_unknown_method_is_answered_with_9000_and_bad_arguments_with_9003() {
    let mut h = Harness::new(SessionConfig::new(inform()));
    h.reply_with(
        CwmpNamespace::V1_2,
        "1",
        InformResponse { max_envelopes: 1 },
    );
    assert_eq!(h.expect_sent(), Transmit::Empty);
    let unknown = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
        xmlns:c="urn:dslforum-org:cwmp-1-2"><s:Header><c:ID s:mustUnderstand="1">u-1</c:ID>
        </s:Header><s:Body><c:X_ACME_Frobnicate/></s:Body></s:Envelope>"#;
    h.reply(200, unknown);
    let fault = h.expect_envelope();
    assert_eq!(fault.header.id.as_deref(), Some("u-1"));
    let Body::Fault(f) = fault.body else { panic!() };
    assert_eq!(f.detail.unwrap().fault_code, FaultCode::MethodNotSupported);

    let bad = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
        xmlns:c="urn:dslforum-org:cwmp-1-2"><s:Header><c:ID s:mustUnderstand="1">u-2</c:ID>
        </s:Header><s:Body><c:ScheduleInform><DelaySeconds>-1</DelaySeconds></c:ScheduleInform>
        </s:Body></s:Envelope>"#;
    h.reply(200, bad);
    let fault = h.expect_envelope();
    assert_eq!(fault.header.id.as_deref(), Some("u-2"));
    let Body::Fault(f) = fault.body else { panic!() };
    assert_eq!(f.detail.unwrap().fault_code, FaultCode::InvalidArguments);
    assert!(
        h.events()
            .iter()
            .all(|e| !matches!(e, SessionEvent::Failed(_)))
    );
    h.validate();
}

#[test]
fn silence_past_the_session_timeout_fails_the_session() {
    let mut config = SessionConfig::new(inform());
    config.timeout = Duration::from_secs(10);
    let mut h = Harness::new(config);
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
}

#[test]
fn each_answer_pushes_the_deadline_forward() {
    let mut h = Harness::new(SessionConfig::new(inform()));
    h.now += Duration::from_secs(25);
    h.reply_with(
        CwmpNamespace::V1_2,
        "1",
        InformResponse { max_envelopes: 1 },
    );
    assert_eq!(h.session.poll_timeout(), Some(h.now + DEFAULT_TIMEOUT));
}

#[test]
fn http_errors_unexpected_messages_and_garbage_fail_the_session() {
    let mut h = Harness::new(SessionConfig::new(inform()));
    h.reply(500, b"oops");
    assert_eq!(
        h.events(),
        [SessionEvent::Failed(SessionError::HttpStatus(500))]
    );

    let mut h = Harness::new(SessionConfig::new(inform()));
    h.reply_with(CwmpNamespace::V1_2, "1", GetRPCMethods {});
    assert!(matches!(
        h.events()[..],
        [SessionEvent::Failed(SessionError::UnexpectedMessage {
            expected: "InformResponse",
            ..
        })]
    ));

    let mut h = Harness::new(SessionConfig::new(inform()));
    h.reply(204, b"");
    assert!(matches!(
        h.events()[..],
        [SessionEvent::Failed(SessionError::UnexpectedMessage { .. })]
    ));

    let mut h = Harness::new(SessionConfig::new(inform()));
    h.reply(200, b"<not-soap/>");
    assert!(matches!(
        h.events()[..],
        [SessionEvent::Failed(SessionError::Malformed(_))]
    ));
}

#[test]
fn responding_out_of_turn_changes_nothing() {
    let mut h = Harness::new(SessionConfig::new(inform()));
    h.session.respond(
        SetParameterValuesResponse {
            status: Status::Applied,
        },
        h.now,
    );
    assert!(!h.session.is_closed());
    assert_eq!(h.session.poll_transmit(), None);
    // No UseCWMPVersion: an ACS of CWMP 1.3 or older answering in cwmp-1-2 (§3.7.4).
    h.reply_with(
        CwmpNamespace::V1_2,
        "1",
        InformResponse { max_envelopes: 1 },
    );
    assert_eq!(
        h.events(),
        [SessionEvent::InformAccepted(CwmpVersion::V1_2)]
    );
}

#[test]
fn message_ids_are_unique_within_a_session() {
    let mut config = SessionConfig::new(inform());
    config.requests = vec![transfer_complete(), transfer_complete()];
    config.id_seed = 0xabc;
    let mut h = Harness::new(config);
    h.reply_with(
        CwmpNamespace::V1_2,
        "1",
        InformResponse { max_envelopes: 1 },
    );
    let a = h.expect_envelope().header.id.unwrap();
    h.reply_with(CwmpNamespace::V1_2, "2", TransferCompleteResponse {});
    let b = h.expect_envelope().header.id.unwrap();
    let Transmit::Envelope(first) = &h.sent[0] else {
        panic!()
    };
    let inform_id = Envelope::parse(first).unwrap().header.id.unwrap();
    assert!(inform_id.starts_with("abc."));
    assert!(inform_id != a && a != b && inform_id != b);
}
