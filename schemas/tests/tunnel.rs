//! `schemas::tunnel` from outside: the status strings against the seed table, the duration
//! format, the settings' ranges, the canonical form of each frame, a corpus of malformed frames
//! (each with its exact error and the status counter it lands in), and property round trips of
//! every message and body, plus "never panics" on arbitrary input.

use std::time::Duration;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use schemas::rpc::types::ParameterValueStruct;
use schemas::rpc::{Fault, FaultCode, SetParameterValuesFault};
use schemas::tunnel::{
    AuthAnswer, CasInfo, CloudMessage, CloudSettings, Configuration, ConfigurationAnswer,
    ConnectionState, Counted, CwmpState, DeviceFrame, DeviceMessage, DeviceState, DownReason,
    FailureReason, FrameError, KEEPALIVE, LinkKey, MAX_FRAME, OptType, PING, PORT, ProcessState,
    RegisterAnswer, RegisterRequest, Report, ReportFailure, ReportFailureReason, RetCode, Service,
    Setting, SettingError, form_decode, form_encode, format_duration,
};
use schemas::value::{DateTime, Value, XsdType};

// ---------------------------------------------------------------------------------------------
// Status vocabulary: ARCHITECTURE.md, "Cloud-management tunnel", field by field.

fn texts<T: Copy>(all: &[T], as_str: impl Fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|&v| as_str(v)).collect()
}

#[test]
fn status_strings_are_the_seed_tables() {
    assert_eq!(
        texts(ConnectionState::ALL, ConnectionState::as_str),
        ["Unconnected", "Request", "Established"]
    );
    assert_eq!(
        texts(DeviceState::ALL, DeviceState::as_str),
        [
            "Idle",
            "Connecting",
            "Request_CAS_url",
            "Request_CAS_url_success",
            "Request_CAS_TGT",
            "Request_CAS_TGT_success",
            "Request_CAS_ST",
            "Request_CAS_ST_success",
            "Request_cloud_auth",
            "Request_cloud_auth_success",
            "Register",
            "Register_success",
            "Request",
            "Request_success",
        ]
    );
    assert_eq!(
        texts(ProcessState::ALL, ProcessState::as_str),
        [
            "DNS not parsed",
            "DNS parsed",
            "Message not sent",
            "Message sent",
            "Message not received",
            "Message received",
        ]
    );
    assert_eq!(
        texts(FailureReason::ALL, FailureReason::as_str),
        [
            "DNS parse failed",
            "Socket connection failed",
            "SSL creation failed",
            "Sending CAS url failed",
            "Processing CAS url failed",
            "Sending CAS TGT failed",
            "Processing CAS TGT failed",
            "Sending CAS ST failed",
            "Processing CAS ST failed",
            "Sending cloud auth failed",
            "Processing cloud auth response failed",
            "Sending register failed",
            "Processing register failed",
            "Sending handshake failed",
            "Processing handshake failed",
            "Sending websocket register failed",
            "Processing websocket register failed",
            "Sending websocket sub-connection failed",
            "Processing websocket sub-connection failed",
            "N/A",
        ]
    );
    assert_eq!(
        texts(DownReason::ALL, DownReason::as_str),
        [
            "Device or process rebooted",
            "Socket connection error",
            "Configuration changed",
            "Received websocket close packet from cloud",
            "Keepalive expired",
            "Packet processing failed",
            "Main connection went down",
            "Cloud reset connection",
            "Memory reached threshold",
        ]
    );
    assert_eq!(
        texts(ReportFailureReason::ALL, ReportFailureReason::as_str),
        [
            "Tunnel is being deleted",
            "Tunnel socket is invalid",
            "Failed to convert string to json",
            "Send buffer is full",
        ]
    );
}

#[test]
fn status_texts_read_back_to_their_values() {
    for &v in DeviceState::ALL {
        assert_eq!(DeviceState::from_text(v.as_str()), Some(v));
        assert_eq!(v.to_string(), v.as_str());
    }
    for &v in FailureReason::ALL {
        assert_eq!(FailureReason::from_text(v.as_str()), Some(v));
    }
    for &v in DownReason::ALL {
        assert_eq!(DownReason::from_text(v.as_str()), Some(v));
    }
    assert_eq!(
        DownReason::from_text("keepalive expired"),
        None,
        "case-sensitive"
    );
}

#[test]
fn ssl_sending_failure_carries_a_bounded_one_line_detail() {
    let short = ReportFailure::ssl_sending_failure("peer closed connection\nwithout close_notify");
    assert_eq!(
        short.to_string(),
        "SSL sending failure (peer closed connection without close_notify)"
    );
    let long = ReportFailure::ssl_sending_failure("x".repeat(1000));
    assert_eq!(
        long,
        ReportFailure::SslSendingFailure("x".repeat(ReportFailure::MAX_DETAIL))
    );
    assert_eq!(
        ReportFailure::from(ReportFailureReason::TunnelSocketIsInvalid).to_string(),
        "Tunnel socket is invalid"
    );
}

#[test]
fn durations_print_as_days_hours_minutes_seconds() {
    for (secs, text) in [
        (0, "00d 00h 00m 00s"),
        (121, "00d 00h 02m 01s"),
        (3_599, "00d 00h 59m 59s"),
        (86_399, "00d 23h 59m 59s"),
        (90_061, "01d 01h 01m 01s"),
        (100 * 86_400, "100d 00h 00m 00s"),
    ] {
        assert_eq!(format_duration(Duration::from_secs(secs)), text);
    }
    assert_eq!(
        format_duration(Duration::from_millis(121_999)),
        "00d 00h 02m 01s",
        "fractions are dropped, not rounded"
    );
}

// ---------------------------------------------------------------------------------------------
// Settings

#[test]
fn settings_ranges_and_defaults_are_the_command_references() {
    assert_eq!((PORT.min, PORT.max, PORT.default), (1, 65535, 443));
    assert_eq!(
        (KEEPALIVE.min, KEEPALIVE.max, KEEPALIVE.default),
        (10, 600, 180)
    );
    assert_eq!((PING.min, PING.max, PING.default), (10, 600, 60));

    let s = CloudSettings::with_defaults("Oasis.Example.com").unwrap();
    assert_eq!(s.domain(), "Oasis.Example.com", "case is kept");
    assert_eq!((s.port(), s.keepalive(), s.ping()), (443, 180, 60));
    assert_eq!(s.keepalive_expiry(), Duration::from_secs(540));
    assert_eq!(s.ping_period(), Duration::from_secs(60));

    for (port, keepalive, ping) in [(1, 10, 10), (65535, 600, 600)] {
        assert!(CloudSettings::new("a", port, keepalive, ping).is_ok());
    }
    assert!(CloudSettings::new("d".repeat(253), 443, 180, 60).is_ok());
}

#[test]
fn settings_errors_name_the_field_and_the_range() {
    let cases = [
        (
            CloudSettings::new("a", 0, 180, 60),
            Setting::Port,
            0,
            1,
            65535,
        ),
        (
            CloudSettings::new("a", 443, 9, 60),
            Setting::Keepalive,
            9,
            10,
            600,
        ),
        (
            CloudSettings::new("a", 443, 601, 60),
            Setting::Keepalive,
            601,
            10,
            600,
        ),
        (
            CloudSettings::new("a", 443, 180, 9),
            Setting::Ping,
            9,
            10,
            600,
        ),
        (
            CloudSettings::new("a", 443, 180, 601),
            Setting::Ping,
            601,
            10,
            600,
        ),
    ];
    for (result, setting, value, min, max) in cases {
        assert_eq!(
            result,
            Err(SettingError::OutOfRange {
                setting,
                value,
                min,
                max
            })
        );
    }
    assert_eq!(
        CloudSettings::new("a", 443, 9, 60).unwrap_err().to_string(),
        "cloud-management keepalive 9 is outside 10-600"
    );
    assert_eq!(
        CloudSettings::with_defaults(""),
        Err(SettingError::DomainLength { len: 0 })
    );
    let long = CloudSettings::with_defaults("d".repeat(254)).unwrap_err();
    assert_eq!(long, SettingError::DomainLength { len: 254 });
    assert_eq!(
        long.to_string(),
        "cloud-management server domain must be 1-253 characters, got 254"
    );
    assert_eq!(
        CloudSettings::with_defaults("cloud example.com"),
        Err(SettingError::DomainCharacter { character: ' ' })
    );
}

#[test]
fn only_domain_or_port_changes_require_a_reconnect() {
    let base = CloudSettings::with_defaults("a.example").unwrap();
    let timers = CloudSettings::new("a.example", 443, 300, 30).unwrap();
    let port = CloudSettings::new("a.example", 8443, 180, 60).unwrap();
    let domain = CloudSettings::with_defaults("A.example").unwrap();
    assert!(!base.requires_reconnect(&timers));
    assert!(base.requires_reconnect(&port));
    assert!(
        base.requires_reconnect(&domain),
        "the domain is case-sensitive"
    );
}

// ---------------------------------------------------------------------------------------------
// Canonical frames

fn main_link() -> LinkKey {
    LinkKey::main("210235A1BSC123000050", "a1b2c3")
}

const LINK_JSON: &str = r#""devSN":"210235A1BSC123000050","tokenID":"a1b2c3","devModName":"cmtnlmgr","cloudModName":"base""#;

fn device(message: DeviceMessage) -> DeviceFrame {
    DeviceFrame {
        link: main_link(),
        message,
    }
}

#[test]
fn device_frames_have_one_canonical_form() {
    let report = Report {
        cloud: CloudSettings::with_defaults("oasis.example").unwrap(),
        cwmp: CwmpState {
            acs_url: "https://acs.example:7547/".into(),
            acs_url_source: "dhcp".into(),
            last_inform: Some(DateTime::from_unix(1_700_000_000, 0).unwrap()),
            provisioning_code: "\"lab\"".into(),
        },
    };
    let answer = ConfigurationAnswer {
        seq_number: 7,
        uuid: "u-1".into(),
        ret_code: RetCode::FAILED,
        fault: Some(Fault {
            fault_code: FaultCode::InvalidArguments,
            fault_string: "Invalid arguments".into(),
            set_parameter_values_fault: vec![SetParameterValuesFault {
                parameter_name: "Device.X.Y".into(),
                fault_code: FaultCode::NonWritableParameter,
                fault_string: String::new(),
            }],
        }),
    };
    let cases = [
        (DeviceMessage::Register, "1", String::new()),
        (DeviceMessage::Ping, "101", String::new()),
        (DeviceMessage::SubConnectionRequest, "102", String::new()),
        (
            DeviceMessage::Unbind {
                code: "UNBIND-42".into(),
            },
            "105",
            r#","code":"UNBIND-42""#.into(),
        ),
        (
            DeviceMessage::ConnectionRequestAnswer {
                seq_number: 9,
                ret_code: RetCode::OK,
            },
            "104",
            r#","seqNumber":9,"retCode":0"#.into(),
        ),
        (
            DeviceMessage::Report(report),
            "103",
            concat!(
                r#","cloud":{"domain":"oasis.example","port":443,"keepalive":180,"ping":60}"#,
                r#","cwmp":{"acsUrl":"https://acs.example:7547/","acsUrlSource":"dhcp","#,
                r#""lastInform":"2023-11-14T22:13:20Z","provisioningCode":"\"lab\""}"#
            )
            .into(),
        ),
        (
            DeviceMessage::ConfigurationAnswer(answer),
            "3",
            concat!(
                r#","seqNumber":7,"uuid":"u-1","retCode":1,"fault":{"faultCode":9003,"#,
                r#""faultString":"Invalid arguments","faults":[{"name":"Device.X.Y","#,
                r#""faultCode":9008,"faultString":""}]}"#
            )
            .into(),
        ),
    ];
    for (message, code, rest) in cases {
        let frame = device(message);
        let text = frame.encode().unwrap();
        assert_eq!(text, format!(r#"{{"optType":{code},{LINK_JSON}{rest}}}"#));
        assert_eq!(DeviceFrame::decode(&text).unwrap(), frame);
    }
}

#[test]
fn cloud_frames_have_one_canonical_form() {
    let configuration = Configuration {
        seq_number: 1,
        uuid: "6f1c".into(),
        parameters: vec![
            ParameterValueStruct::new("Device.ManagementServer.PeriodicInformInterval", 300u32),
            ParameterValueStruct::new("Device.X.Banner", "two\nlines\t\u{1}é"),
            ParameterValueStruct::new(
                "Device.X.Float",
                Value::Other {
                    type_name: "float".into(),
                    text: "1.5".into(),
                },
            ),
        ],
    };
    let cases = [
        (
            CloudMessage::KeepaliveAnswer {
                ret_code: RetCode::OK,
            },
            r#"{"optType":2,"retCode":0}"#,
        ),
        (
            CloudMessage::RegisterAnswer {
                ret_code: RetCode::NO_MAIN_CONNECTION,
            },
            r#"{"optType":1,"retCode":3}"#,
        ),
        (
            CloudMessage::ConnectionRequest { seq_number: 4 },
            r#"{"optType":104,"seqNumber":4}"#,
        ),
        (
            CloudMessage::SubConnectionAnswer {
                ret_code: RetCode::OK,
                services: vec![Service {
                    cloud_mod_name: "confmgr".into(),
                    url: "wss://oasis.example/v3/confmgr".into(),
                }],
            },
            r#"{"optType":102,"retCode":0,"services":[{"cloudModName":"confmgr","url":"wss://oasis.example/v3/confmgr"}]}"#,
        ),
        (
            CloudMessage::SubConnectionAnswer {
                ret_code: RetCode::OK,
                services: vec![],
            },
            r#"{"optType":102,"retCode":0}"#,
        ),
        (
            CloudMessage::Configuration(configuration),
            concat!(
                r#"{"optType":3,"seqNumber":1,"uuid":"6f1c","parameters":["#,
                r#"{"name":"Device.ManagementServer.PeriodicInformInterval","value":"300","type":"unsignedInt"},"#,
                r#"{"name":"Device.X.Banner","value":"two\nlines\t\u0001é","type":"string"},"#,
                r#"{"name":"Device.X.Float","value":"1.5","type":"float"}]}"#
            ),
        ),
    ];
    for (message, text) in cases {
        assert_eq!(message.encode().unwrap(), text);
        assert_eq!(CloudMessage::decode(text).unwrap(), message);
    }
}

#[test]
fn configuration_values_that_do_not_fit_their_type_are_kept_for_a_9007() {
    let text = r#"{"optType":3,"seqNumber":1,"uuid":"u","parameters":[{"name":"Device.A","value":"x","type":"int"}]}"#;
    let CloudMessage::Configuration(c) = CloudMessage::decode(text).unwrap() else {
        panic!("not a configuration");
    };
    assert_eq!(
        c.parameters[0].value,
        Value::Invalid {
            declared: XsdType::Int,
            text: "x".into()
        }
    );
}

#[test]
fn encode_refuses_what_the_peer_could_not_read() {
    let mut frame = device(DeviceMessage::Keepalive);
    frame.link.dev_sn = String::new();
    assert_eq!(frame.encode(), Err(FrameError::Empty { field: "devSN" }));

    let huge = CloudMessage::Configuration(Configuration {
        seq_number: 1,
        uuid: "u".into(),
        parameters: (0..200)
            .map(|i| ParameterValueStruct::new(format!("Device.P{i}"), "v".repeat(400)))
            .collect(),
    });
    assert!(matches!(
        huge.encode(),
        Err(FrameError::TooLarge { max: MAX_FRAME, .. })
    ));
}

#[test]
fn http_bodies_have_one_canonical_form() {
    let cas = CasInfo {
        cas_url: "https://cas.example/cas/v1/tickets".into(),
        cas_https: true,
        ignore_cas: true,
    };
    assert_eq!(
        cas.encode().unwrap(),
        r#"{"cas_url":"https://cas.example/cas/v1/tickets","cas_protocol":1,"ignore_cas":1}"#
    );
    let refused = AuthAnswer::Refused {
        ret_code: RetCode::UNKNOWN_DEVICE,
        reason: "unknown serial".into(),
    };
    assert_eq!(
        refused.encode().unwrap(),
        r#"{"retCode":2,"reason":"unknown serial"}"#
    );
    assert_eq!(
        AuthAnswer::decode(r#"{"sessionid":"s1"}"#).unwrap(),
        AuthAnswer::Session {
            session_id: "s1".into()
        }
    );
    let request = RegisterRequest {
        dev_sn: "SN1".into(),
        token_id: "s1".into(),
        dev_model: Some("MSR 50".into()),
        sw_version: None,
    };
    assert_eq!(
        request.encode().unwrap(),
        r#"{"devSN":"SN1","tokenID":"s1","devModel":"MSR 50"}"#
    );
    assert_eq!(
        RegisterAnswer::decode(r#"{"wsUrl":"wss://c.example/v3/base","retCode":0}"#).unwrap(),
        RegisterAnswer::Accepted {
            ws_url: "wss://c.example/v3/base".into()
        },
        "member order is free on input"
    );
    assert_eq!(
        RegisterAnswer::decode(r#"{"retCode":0,"reason":"x"}"#),
        Err(FrameError::MissingField { field: "wsUrl" })
    );
    assert_eq!(
        AuthAnswer::decode(r#"{"retCode":0,"reason":"x"}"#),
        Err(FrameError::OutOfRange {
            field: "retCode",
            value: 0,
            min: 1,
            max: u32::MAX.into()
        }),
        "a refusal is never retCode 0"
    );
}

#[test]
fn cas_forms_escape_and_read_back() {
    let body = form_encode([("username", "SN 1&2"), ("password", "p=é%")]);
    assert_eq!(body, "username=SN+1%262&password=p%3D%C3%A9%25");
    assert_eq!(
        form_decode(body.as_bytes()).unwrap(),
        [
            ("username".to_owned(), "SN 1&2".to_owned()),
            ("password".to_owned(), "p=é%".to_owned())
        ]
    );
    assert_eq!(
        form_decode(b"service=https%3A%2F%2Fc%2Fv3&flag").unwrap(),
        [
            ("service".to_owned(), "https://c/v3".to_owned()),
            ("flag".to_owned(), String::new())
        ]
    );
    assert!(matches!(
        form_decode(b"a=%4"),
        Err(FrameError::Invalid { field: "form", .. })
    ));
    assert_eq!(
        form_decode(b"a=%ff"),
        Err(FrameError::NotUtf8 { valid_up_to: 0 })
    );
}

// ---------------------------------------------------------------------------------------------
// Malformed frames: the exact error, and where the status table counts it.

const DOWN: Counted = Counted::Down(DownReason::PacketProcessingFailed);
const JSON: Counted = Counted::ReportFailure(ReportFailureReason::FailedToConvertStringToJson);

fn link_with(extra: &str) -> String {
    format!(r#"{{"optType":2,{LINK_JSON}{extra}}}"#)
}

#[test]
fn malformed_cloud_frames_get_their_exact_error_and_counter() {
    let long_service = format!(
        r#"{{"optType":102,"retCode":0,"services":[{}]}}"#,
        vec![r#"{"cloudModName":"m","url":"ws://h"}"#; 65].join(",")
    );
    let cases: Vec<(Vec<u8>, FrameError, Counted)> = vec![
        (
            b"\xff\xfe{}".to_vec(),
            FrameError::NotUtf8 { valid_up_to: 0 },
            JSON,
        ),
        (
            b"{\"optType\":2,".to_vec(),
            FrameError::NotJson { line: 1, column: 13 },
            JSON,
        ),
        (b"".to_vec(), FrameError::NotJson { line: 1, column: 0 }, JSON),
        (
            b"{\"optType\":2} trailing".to_vec(),
            FrameError::NotJson { line: 1, column: 15 },
            JSON,
        ),
        (
            b"[1,2]".to_vec(),
            FrameError::NotAnObject { found: "array" },
            JSON,
        ),
        (
            b"\"optType\"".to_vec(),
            FrameError::NotAnObject { found: "string" },
            JSON,
        ),
        (
            br#"{"optType":2,"retCode":0,"retCode":1}"#.to_vec(),
            FrameError::DuplicateField {
                field: "retCode".into(),
            },
            JSON,
        ),
        (
            format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_FRAME)).into_bytes(),
            FrameError::TooLarge {
                len: MAX_FRAME + 10,
                max: MAX_FRAME,
            },
            Counted::Down(DownReason::MemoryReachedThreshold),
        ),
        (
            br#"{"retCode":0}"#.to_vec(),
            FrameError::MissingField { field: "optType" },
            DOWN,
        ),
        (
            br#"{"optType":7,"retCode":0}"#.to_vec(),
            FrameError::UnknownOptType { opt_type: 7 },
            DOWN,
        ),
        (
            br#"{"optType":11}"#.to_vec(),
            FrameError::UnknownOptType { opt_type: 11 },
            DOWN,
        ),
        (
            br#"{"optType":-1}"#.to_vec(),
            FrameError::UnknownOptType { opt_type: -1 },
            DOWN,
        ),
        (
            br#"{"optType":"2","retCode":0}"#.to_vec(),
            FrameError::WrongType {
                field: "optType",
                expected: "integer",
                found: "string",
            },
            DOWN,
        ),
        (
            br#"{"optType":2.0,"retCode":0}"#.to_vec(),
            FrameError::WrongType {
                field: "optType",
                expected: "integer",
                found: "number",
            },
            DOWN,
        ),
        (
            br#"{"optType":101}"#.to_vec(),
            FrameError::UnexpectedOptType {
                opt_type: OptType::Ping,
                sender: "cloud",
            },
            DOWN,
        ),
        (
            br#"{"optType":2}"#.to_vec(),
            FrameError::MissingField { field: "retCode" },
            DOWN,
        ),
        (
            br#"{"optType":2,"retCode":null}"#.to_vec(),
            FrameError::WrongType {
                field: "retCode",
                expected: "integer",
                found: "null",
            },
            DOWN,
        ),
        (
            br#"{"optType":2,"retCode":-1}"#.to_vec(),
            FrameError::OutOfRange {
                field: "retCode",
                value: -1,
                min: 0,
                max: u32::MAX.into(),
            },
            DOWN,
        ),
        (
            br#"{"optType":2,"retCode":0,"extra":true}"#.to_vec(),
            FrameError::UnknownField {
                field: "extra".into(),
            },
            DOWN,
        ),
        (
            br#"{"optType":104,"seqNumber":4294967296}"#.to_vec(),
            FrameError::OutOfRange {
                field: "seqNumber",
                value: 4_294_967_296,
                min: 0,
                max: u32::MAX.into(),
            },
            DOWN,
        ),
        (
            br#"{"optType":3,"seqNumber":1,"uuid":"","parameters":[]}"#.to_vec(),
            FrameError::Empty { field: "uuid" },
            DOWN,
        ),
        (
            br#"{"optType":3,"seqNumber":1,"uuid":"u"}"#.to_vec(),
            FrameError::MissingField {
                field: "parameters",
            },
            DOWN,
        ),
        (
            br#"{"optType":3,"seqNumber":1,"uuid":"u","parameters":{}}"#.to_vec(),
            FrameError::WrongType {
                field: "parameters",
                expected: "array",
                found: "object",
            },
            DOWN,
        ),
        (
            br#"{"optType":3,"seqNumber":1,"uuid":"u","parameters":[{"name":"Device.A","value":1,"type":"int"}]}"#.to_vec(),
            FrameError::Item {
                field: "parameters",
                index: 0,
                source: Box::new(FrameError::WrongType {
                    field: "value",
                    expected: "string",
                    found: "number",
                }),
            },
            DOWN,
        ),
        (
            br#"{"optType":3,"seqNumber":1,"uuid":"u","parameters":[{"name":"Device.A","value":"1"}]}"#.to_vec(),
            FrameError::Item {
                field: "parameters",
                index: 0,
                source: Box::new(FrameError::MissingField { field: "type" }),
            },
            DOWN,
        ),
        (
            br#"{"optType":3,"seqNumber":1,"uuid":"u","parameters":[{"name":"Device.A","value":"1","type":"int","type":"int"}]}"#.to_vec(),
            FrameError::Item {
                field: "parameters",
                index: 0,
                source: Box::new(FrameError::DuplicateField {
                    field: "type".into(),
                }),
            },
            JSON,
        ),
        (
            br#"{"optType":3,"seqNumber":1,"uuid":"u","parameters":[{"name":"Device. A","value":"1","type":"int"}]}"#.to_vec(),
            FrameError::Item {
                field: "parameters",
                index: 0,
                source: Box::new(FrameError::InvalidCharacter {
                    field: "name",
                    character: ' ',
                }),
            },
            DOWN,
        ),
        (
            format!(
                r#"{{"optType":3,"seqNumber":1,"uuid":"u","parameters":[{}]}}"#,
                vec![r#"{"name":"D.A","value":"","type":"string"}"#; 257].join(",")
            )
            .into_bytes(),
            FrameError::TooMany {
                field: "parameters",
                len: 257,
                max: 256,
            },
            DOWN,
        ),
        (
            long_service.into_bytes(),
            FrameError::TooMany {
                field: "services",
                len: 65,
                max: 64,
            },
            DOWN,
        ),
        (
            br#"{"optType":102,"retCode":0,"services":[{"cloudModName":"confmgr","url":"https://c/v3"}]}"#.to_vec(),
            FrameError::Item {
                field: "services",
                index: 0,
                source: Box::new(FrameError::Invalid {
                    field: "url",
                    expected: "a ws:// or wss:// URL with a host",
                }),
            },
            DOWN,
        ),
        (
            br#"{"optType":102,"retCode":0,"services":[{"cloudModName":"conf/mgr","url":"wss://c/v3"}]}"#.to_vec(),
            FrameError::Item {
                field: "services",
                index: 0,
                source: Box::new(FrameError::InvalidCharacter {
                    field: "cloudModName",
                    character: '/',
                }),
            },
            DOWN,
        ),
        (
            br#"{"optType":102,"retCode":0,"services":[{"cloudModName":"a","url":"wss://c/a"},{"cloudModName":"a","url":"wss://c/b"}]}"#.to_vec(),
            FrameError::Item {
                field: "services",
                index: 1,
                source: Box::new(FrameError::Invalid {
                    field: "cloudModName",
                    expected: "a micro-service not listed before",
                }),
            },
            DOWN,
        ),
        (
            {
                let mut deep = "[".repeat(200);
                deep.push_str(&"]".repeat(200));
                format!(r#"{{"optType":2,"retCode":{deep}}}"#).into_bytes()
            },
            FrameError::NotJson { line: 1, column: 150 },
            JSON,
        ),
    ];
    assert!(cases.len() >= 25);
    for (input, error, counted) in cases {
        let shown = String::from_utf8_lossy(&input[..input.len().min(80)]).into_owned();
        let got = CloudMessage::decode(&input);
        assert_eq!(got.as_ref().err(), Some(&error), "{shown}");
        assert_eq!(error.counted_as(), counted, "{shown}");
    }
}

#[test]
fn malformed_device_frames_get_their_exact_error_and_counter() {
    let cases: Vec<(String, FrameError)> = vec![
        (
            r#"{"optType":2,"devSN":"SN1"}"#.into(),
            FrameError::MissingField { field: "tokenID" },
        ),
        (
            link_with("").replace("210235A1BSC123000050", ""),
            FrameError::Empty { field: "devSN" },
        ),
        (
            link_with("").replace("210235A1BSC123000050", &"S".repeat(65)),
            FrameError::TooLong {
                field: "devSN",
                len: 65,
                max: 64,
            },
        ),
        (
            link_with("").replace("210235A1BSC123000050", "SN\\u0000"),
            FrameError::InvalidCharacter {
                field: "devSN",
                character: '\0',
            },
        ),
        (
            link_with("").replace("a1b2c3", "a b"),
            FrameError::InvalidCharacter {
                field: "tokenID",
                character: ' ',
            },
        ),
        (
            link_with("").replace("cmtnlmgr", &"m".repeat(33)),
            FrameError::TooLong {
                field: "devModName",
                len: 33,
                max: 32,
            },
        ),
        (
            link_with(r#","retCode":0"#),
            FrameError::UnknownField {
                field: "retCode".into(),
            },
        ),
        (
            link_with("").replace(r#""optType":2"#, r#""optType":105"#),
            FrameError::MissingField { field: "code" },
        ),
        (
            link_with(r#","cloud":{"domain":"d","port":443,"keepalive":5,"ping":60},"cwmp":{}"#)
                .replace(r#""optType":2"#, r#""optType":103"#),
            FrameError::Setting(SettingError::OutOfRange {
                setting: Setting::Keepalive,
                value: 5,
                min: 10,
                max: 600,
            }),
        ),
        (
            link_with(concat!(
                r#","cloud":{"domain":"d","port":443,"keepalive":180,"ping":60},"#,
                r#""cwmp":{"acsUrl":"","acsUrlSource":"dhcp","lastInform":"yesterday","provisioningCode":""}"#
            ))
            .replace(r#""optType":2"#, r#""optType":103"#),
            FrameError::Invalid {
                field: "lastInform",
                expected: "an xsd:dateTime",
            },
        ),
        (
            link_with(r#","seqNumber":1,"uuid":"u","retCode":1,"fault":{"faultCode":8003,"faultString":""}"#)
                .replace(r#""optType":2"#, r#""optType":3"#),
            FrameError::OutOfRange {
                field: "faultCode",
                value: 8003,
                min: 9000,
                max: 9899,
            },
        ),
    ];
    for (input, error) in cases {
        assert_eq!(DeviceFrame::decode(&input), Err(error.clone()), "{input}");
        assert_eq!(error.counted_as(), DOWN, "{input}");
    }
}

// ---------------------------------------------------------------------------------------------
// Properties

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(mut text: String, max: usize) -> String {
    while text.len() > max {
        text.pop();
    }
    text
}

/// Printable text without whitespace, some of it non-ASCII, 1 to `max` bytes.
fn token(max: usize) -> BoxedStrategy<String> {
    proptest::string::string_regex(&format!("[!-~é中]{{1,{max}}}"))
        .unwrap()
        .prop_map(move |s| cut(s, max))
        .boxed()
}

fn module() -> BoxedStrategy<String> {
    "[A-Za-z0-9_-]{1,32}".boxed()
}

fn printable(max: usize) -> BoxedStrategy<String> {
    proptest::string::string_regex(&format!("[^\\p{{Cc}}]{{0,{max}}}"))
        .unwrap()
        .prop_map(move |s| cut(s, max))
        .boxed()
}

fn link() -> impl Strategy<Value = LinkKey> {
    (token(64), token(64), module(), module()).prop_map(|(dev_sn, token_id, d, c)| LinkKey {
        dev_sn,
        token_id,
        dev_mod_name: d,
        cloud_mod_name: c,
    })
}

fn ret_code() -> impl Strategy<Value = RetCode> {
    any::<u32>().prop_map(RetCode)
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::String),
        any::<i32>().prop_map(Value::Int),
        any::<u32>().prop_map(Value::UnsignedInt),
        any::<i64>().prop_map(Value::Long),
        any::<u64>().prop_map(Value::UnsignedLong),
        any::<bool>().prop_map(Value::Boolean),
        (0i64..253_402_300_799)
            .prop_map(|secs| Value::DateTime(DateTime::from_unix(secs, 0).unwrap())),
        vec(any::<u8>(), 0..32).prop_map(Value::Base64),
        vec(any::<u8>(), 0..32).prop_map(Value::HexBinary),
        ("[a-z]{1,8}", any::<String>())
            .prop_filter("not an xsd type this crate reads", |(t, _)| {
                XsdType::from_name(t).is_none()
            })
            .prop_map(|(type_name, text)| Value::Other { type_name, text }),
        "x[a-z]{0,8}".prop_map(|text| Value::Invalid {
            declared: XsdType::Int,
            text
        }),
    ]
}

fn parameter() -> impl Strategy<Value = ParameterValueStruct> {
    (token(256), value()).prop_map(|(name, value)| ParameterValueStruct { name, value })
}

fn fault_code() -> impl Strategy<Value = FaultCode> {
    (9000u32..=9899).prop_map(FaultCode::from_code)
}

fn fault() -> impl Strategy<Value = Fault> {
    (
        fault_code(),
        printable(256),
        vec(
            (token(256), fault_code(), printable(256)).prop_map(|(n, c, s)| {
                SetParameterValuesFault {
                    parameter_name: n,
                    fault_code: c,
                    fault_string: s,
                }
            }),
            0..4,
        ),
    )
        .prop_map(|(fault_code, fault_string, faults)| Fault {
            fault_code,
            fault_string,
            set_parameter_values_fault: faults,
        })
}

fn settings() -> impl Strategy<Value = CloudSettings> {
    (
        "[A-Za-z0-9._-]{1,253}",
        1u16..=65535,
        10u16..=600,
        10u16..=600,
    )
        .prop_map(|(d, p, k, i)| CloudSettings::new(d, p, k, i).unwrap())
}

fn device_message() -> impl Strategy<Value = DeviceMessage> {
    prop_oneof![
        Just(DeviceMessage::Register),
        Just(DeviceMessage::Keepalive),
        Just(DeviceMessage::Ping),
        Just(DeviceMessage::SubConnectionRequest),
        (any::<u32>(), token(64), ret_code(), option::of(fault())).prop_map(
            |(seq_number, uuid, ret_code, fault)| {
                DeviceMessage::ConfigurationAnswer(ConfigurationAnswer {
                    seq_number,
                    uuid,
                    ret_code,
                    fault,
                })
            }
        ),
        (
            settings(),
            "[ -~]{0,256}".prop_filter("no space", |s| !s.contains(' ')),
            "[a-z]{1,16}",
            option::of((0i64..253_402_300_799).prop_map(|s| DateTime::from_unix(s, 0).unwrap())),
            printable(64),
        )
            .prop_map(
                |(cloud, acs_url, acs_url_source, last_inform, provisioning_code)| {
                    DeviceMessage::Report(Report {
                        cloud,
                        cwmp: CwmpState {
                            acs_url,
                            acs_url_source,
                            last_inform,
                            provisioning_code,
                        },
                    })
                }
            ),
        (any::<u32>(), ret_code()).prop_map(|(seq_number, ret_code)| {
            DeviceMessage::ConnectionRequestAnswer {
                seq_number,
                ret_code,
            }
        }),
        token(64).prop_map(|code| DeviceMessage::Unbind { code }),
    ]
}

fn cloud_message() -> impl Strategy<Value = CloudMessage> {
    prop_oneof![
        ret_code().prop_map(|ret_code| CloudMessage::RegisterAnswer { ret_code }),
        ret_code().prop_map(|ret_code| CloudMessage::KeepaliveAnswer { ret_code }),
        ret_code().prop_map(|ret_code| CloudMessage::ReportAnswer { ret_code }),
        ret_code().prop_map(|ret_code| CloudMessage::UnbindAnswer { ret_code }),
        any::<u32>().prop_map(|seq_number| CloudMessage::ConnectionRequest { seq_number }),
        (any::<u32>(), token(64), vec(parameter(), 1..8)).prop_map(
            |(seq_number, uuid, parameters)| {
                CloudMessage::Configuration(Configuration {
                    seq_number,
                    uuid,
                    parameters,
                })
            }
        ),
        (
            ret_code(),
            proptest::collection::btree_map(module(), "wss?://[a-z.]{1,20}(/[a-z]{0,8})?", 0..6)
        )
            .prop_map(|(ret_code, services)| CloudMessage::SubConnectionAnswer {
                ret_code,
                services: services
                    .into_iter()
                    .map(|(cloud_mod_name, url)| Service {
                        cloud_mod_name,
                        url
                    })
                    .collect(),
            }),
    ]
}

fn refusal() -> impl Strategy<Value = (RetCode, String)> {
    ((1u32..).prop_map(RetCode), printable(256))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn device_frames_round_trip_canonically(link in link(), message in device_message()) {
        let frame = DeviceFrame { link, message };
        let text = frame.encode().unwrap();
        let read = DeviceFrame::decode(&text).unwrap();
        prop_assert_eq!(&read, &frame);
        prop_assert_eq!(read.encode().unwrap(), text);
    }

    #[test]
    fn cloud_messages_round_trip_canonically(message in cloud_message()) {
        let text = message.encode().unwrap();
        let read = CloudMessage::decode(&text).unwrap();
        prop_assert_eq!(&read, &message);
        prop_assert_eq!(read.encode().unwrap(), text);
    }

    #[test]
    fn http_bodies_round_trip_canonically(
        host in "[a-z.]{1,20}",
        https in any::<bool>(),
        ignore in any::<bool>(),
        session in token(256),
        (ret_code, reason) in refusal(),
        model in option::of("[ -~]{1,64}"),
        version in option::of("[ -~]{1,64}"),
        sn in token(64),
    ) {
        let cas = CasInfo { cas_url: format!("https://{host}/v1/tickets"), cas_https: https, ignore_cas: ignore };
        prop_assert_eq!(CasInfo::decode(cas.encode().unwrap()).unwrap(), cas);
        for auth in [AuthAnswer::Session { session_id: session.clone() }, AuthAnswer::Refused { ret_code, reason: reason.clone() }] {
            prop_assert_eq!(AuthAnswer::decode(auth.encode().unwrap()).unwrap(), auth);
        }
        let request = RegisterRequest { dev_sn: sn, token_id: session, dev_model: model, sw_version: version };
        prop_assert_eq!(RegisterRequest::decode(request.encode().unwrap()).unwrap(), request);
        for answer in [RegisterAnswer::Accepted { ws_url: format!("wss://{host}/v3/base") }, RegisterAnswer::Refused { ret_code, reason: reason.clone() }] {
            prop_assert_eq!(RegisterAnswer::decode(answer.encode().unwrap()).unwrap(), answer);
        }
    }

    #[test]
    fn forms_round_trip(pairs in vec((any::<String>(), any::<String>()), 0..4)) {
        let body = form_encode(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let read = form_decode(body.as_bytes()).unwrap();
        prop_assert_eq!(read, pairs);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        let errors = [CloudMessage::decode(&bytes).err(), DeviceFrame::decode(&bytes).err()];
        for e in errors.into_iter().flatten() {
            let _ = (e.to_string(), e.counted_as());
        }
        let _ = (CasInfo::decode(&bytes), AuthAnswer::decode(&bytes), RegisterAnswer::decode(&bytes), form_decode(&bytes));
    }

    #[test]
    fn mutated_frames_never_panic(
        message in cloud_message(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = message.encode().unwrap().into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(read) = CloudMessage::decode(&bytes) {
            prop_assert!(read.encode().is_ok(), "what decodes encodes");
        }
    }
}

#[test]
fn fuzz_seeds_are_frames_or_bodies_that_read() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/tunnel_frame");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let reads = CloudMessage::decode(&bytes).is_ok()
            || DeviceFrame::decode(&bytes).is_ok()
            || CasInfo::decode(&bytes).is_ok()
            || RegisterAnswer::decode(&bytes).is_ok();
        assert!(reads, "{} does not read", path.display());
        seen += 1;
    }
    assert!(seen >= 5);
}
