//! Every ACS->CPE method the agent implements, and each fault path, exercised against the
//! running agent over loopback, across the sessions the methods cause: Reboot gives `1 BOOT` +
//! `M Reboot`, ScheduleInform `3 SCHEDULED` + `M ScheduleInform`, FactoryReset `0 BOOTSTRAP`.
//! Everything the agent sends validates against the BBF schemas.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpe::config::FileConfig;
use schemas::rpc::types::*;
use schemas::rpc::*;
use schemas::soap::CwmpNamespace;
use schemas::value::Value;
use schemas::{Body, Envelope};
use tokio::sync::Notify;

use crate::support::acs::{HttpResponse, ScriptedAcs};
use crate::support::{Running, agent_config, validate};

/// What the ACS sends: a typed request, or raw bytes (for what the codec cannot express).
#[derive(Clone)]
enum Outgoing {
    Rpc(Body),
    Raw(&'static str),
}

/// The ACS side of the sessions: a plan per session, chosen from the session's Inform.
#[derive(Default)]
struct Acs {
    plan: VecDeque<Outgoing>,
    /// Each request sent with the CPE's answer.
    answers: Vec<(String, Body)>,
    outstanding: Option<String>,
    informs: Vec<Inform>,
    /// The envelopes the CPE sent.
    sent: Vec<Vec<u8>>,
}

fn gpv(names: &[&str]) -> Body {
    GetParameterValues {
        parameter_names: names.iter().map(|n| (*n).to_owned()).collect(),
    }
    .into()
}

fn spv(list: Vec<(&str, Value)>, key: &str) -> Body {
    SetParameterValues {
        parameter_list: list
            .into_iter()
            .map(|(n, v)| ParameterValueStruct::new(n, v))
            .collect(),
        parameter_key: key.parse().unwrap(),
    }
    .into()
}

fn gpn(path: &str, next_level: bool) -> Body {
    GetParameterNames {
        parameter_path: path.into(),
        next_level,
    }
    .into()
}

const UNKNOWN_METHOD: &str = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:c="urn:dslforum-org:cwmp-1-2"><s:Header><c:ID s:mustUnderstand="1">unknown</c:ID>
 </s:Header><s:Body><c:X_ACME_Frobnicate/></s:Body></s:Envelope>"#;

const MS: &str = "Device.ManagementServer.";

/// The boot session's plan: every parameter method, its faults, then ScheduleInform, an
/// unknown method, and Reboot last.
fn boot_plan() -> Vec<Outgoing> {
    let interval = format!("{MS}PeriodicInformInterval");
    let rpc = |b: Body| Outgoing::Rpc(b);
    vec![
        rpc(GetRPCMethods {}.into()),
        rpc(gpn("", true)),
        rpc(gpn(MS, true)),
        rpc(gpn("Device.DeviceInfo.SerialNumber", true)),
        rpc(gpn("Device.Nope.", false)),
        rpc(gpv(&["Device.DeviceInfo.", &format!("{MS}Password")])),
        rpc(gpv(&["Device.Nope"])),
        rpc(spv(vec![(&interval, Value::UnsignedInt(600))], "k1")),
        rpc(gpv(&[&interval, &format!("{MS}ParameterKey")])),
        rpc(spv(
            vec![
                ("Device.Nope", Value::from("x")),
                (&format!("{MS}PeriodicInformEnable"), Value::from("maybe")),
                (&interval, Value::UnsignedInt(0)),
                ("Device.DeviceInfo.UpTime", Value::UnsignedInt(5)),
            ],
            "k2",
        )),
        rpc(spv(
            vec![
                (&interval, Value::UnsignedInt(60)),
                (&interval, Value::UnsignedInt(70)),
            ],
            "k3",
        )),
        rpc(gpv(&[&format!("{MS}ParameterKey"), &interval])),
        rpc(GetParameterAttributes {
            parameter_names: vec![format!("{MS}URL")],
        }
        .into()),
        rpc(SetParameterAttributes {
            parameter_list: vec![SetParameterAttributesStruct {
                name: format!("{MS}URL"),
                notification_change: true,
                notification: Notification::Active,
                access_list_change: false,
                access_list: Vec::new(),
            }],
        }
        .into()),
        rpc(GetParameterAttributes {
            parameter_names: vec![format!("{MS}URL")],
        }
        .into()),
        rpc(SetParameterAttributes {
            parameter_list: vec![SetParameterAttributesStruct {
                name: "Device.DeviceInfo.UpTime".into(),
                notification_change: true,
                notification: Notification::Active,
                ..SetParameterAttributesStruct::default()
            }],
        }
        .into()),
        rpc(AddObject {
            object_name: "Device.NAT.PortMapping.".into(),
            parameter_key: "k4".parse().unwrap(),
        }
        .into()),
        rpc(AddObject {
            object_name: "Device.DeviceInfo.".into(),
            parameter_key: "k5".parse().unwrap(),
        }
        .into()),
        rpc(DeleteObject {
            object_name: "Device.NAT.PortMapping.1.".into(),
            parameter_key: "k6".parse().unwrap(),
        }
        .into()),
        rpc(DeleteObject {
            object_name: "Device.NAT.PortMapping.9.".into(),
            parameter_key: "k7".parse().unwrap(),
        }
        .into()),
        rpc(ScheduleInform {
            delay_seconds: 1,
            command_key: "si-1".parse().unwrap(),
        }
        .into()),
        Outgoing::Raw(UNKNOWN_METHOD),
        rpc(ChangeDUState::default().into()),
        rpc(Reboot {
            command_key: "rb-1".parse().unwrap(),
        }
        .into()),
    ]
}

fn script(
    acs: Arc<Mutex<Acs>>,
    informed: Arc<Notify>,
) -> impl FnMut(&crate::support::acs::HttpRequest) -> HttpResponse {
    move |request| {
        let mut acs = acs.lock().unwrap();
        if !request.body.is_empty() {
            acs.sent.push(request.body.clone());
            let envelope = Envelope::parse(&request.body).unwrap();
            if let Body::Inform(inform) = envelope.body {
                let events: Vec<_> = inform.event.iter().map(|e| e.event_code.clone()).collect();
                if events.contains(&EventCode::Scheduled) {
                    acs.plan = VecDeque::from([Outgoing::Rpc(FactoryReset {}.into())]);
                } else if events.contains(&EventCode::Bootstrap) && acs.informs.is_empty() {
                    acs.plan = boot_plan().into();
                } else if events.contains(&EventCode::Bootstrap) {
                    acs.plan = VecDeque::from([Outgoing::Rpc(gpv(&[&format!(
                        "{MS}PeriodicInformInterval"
                    )]))]);
                }
                acs.informs.push(inform);
                informed.notify_one();
                let reply = Envelope::new(CwmpNamespace::V1_2, InformResponse { max_envelopes: 1 });
                return HttpResponse::xml(reply.with_id("inform").write());
            }
            if let Some(request) = acs.outstanding.take() {
                acs.answers.push((request, envelope.body));
            }
        }
        match acs.plan.pop_front() {
            Some(Outgoing::Rpc(body)) => {
                acs.outstanding = Some(body.name().to_owned());
                let id = format!("acs-{}", acs.answers.len());
                HttpResponse::xml(Envelope::new(CwmpNamespace::V1_2, body).with_id(id).write())
            }
            Some(Outgoing::Raw(xml)) => {
                acs.outstanding = Some("X_ACME_Frobnicate".into());
                HttpResponse::xml(xml.as_bytes().to_vec())
            }
            None => HttpResponse::no_content(),
        }
    }
}

fn fault_code(body: &Body) -> Option<FaultCode> {
    match body {
        Body::Fault(f) => f.detail.as_ref().map(|d| d.fault_code),
        _ => None,
    }
}

fn values(body: &Body) -> Vec<(String, String)> {
    let Body::GetParameterValuesResponse(r) = body else {
        panic!("{body:?}")
    };
    r.parameter_list
        .iter()
        .map(|p| (p.name.clone(), p.value.to_string()))
        .collect()
}

fn value_of(body: &Body, name: &str) -> String {
    values(body)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name}"))
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_and_fault_path_against_the_running_agent() {
    let acs_state = Arc::new(Mutex::new(Acs::default()));
    let informed = Arc::new(Notify::new());
    let acs = ScriptedAcs::start(script(acs_state.clone(), informed.clone())).await;
    let state = tempfile::tempdir().unwrap();
    let running = Running::start(agent_config(FileConfig::default(), &acs.url, state.path())).await;
    // Boot (0 BOOTSTRAP), after Reboot (1 BOOT), ScheduleInform (3 SCHEDULED), after
    // FactoryReset (0 BOOTSTRAP).
    for session in 0..4 {
        tokio::time::timeout(Duration::from_secs(20), informed.notified())
            .await
            .unwrap_or_else(|_| panic!("session {session} did not come"));
    }
    // Let the last session finish before reading the log.
    tokio::time::timeout(Duration::from_secs(10), async {
        while acs_state.lock().unwrap().answers.len() < boot_plan().len() + 2 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("every request was answered");
    running.stop().await;

    let acs = acs_state.lock().unwrap();
    let a: Vec<&(String, Body)> = acs.answers.iter().collect();
    let interval = format!("{MS}PeriodicInformInterval");

    // GetRPCMethods lists what the agent implements.
    let Body::GetRPCMethodsResponse(m) = &a[0].1 else {
        panic!("{:?}", a[0])
    };
    for method in [
        "GetParameterValues",
        "SetParameterValues",
        "AddObject",
        "Reboot",
        "FactoryReset",
        "ScheduleInform",
    ] {
        assert!(m.method_list.iter().any(|n| n == method), "{method}");
    }
    // GetParameterNames: root with NextLevel gives `Device.`; a partial path its children;
    // a parameter with NextLevel=true is 9003; an unknown path 9005.
    let Body::GetParameterNamesResponse(root) = &a[1].1 else {
        panic!()
    };
    assert_eq!(
        root.parameter_list
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["Device."]
    );
    let Body::GetParameterNamesResponse(ms) = &a[2].1 else {
        panic!()
    };
    assert!(
        ms.parameter_list
            .iter()
            .any(|p| p.name == format!("{MS}URL") && p.writable)
    );
    assert_eq!(fault_code(&a[3].1), Some(FaultCode::InvalidArguments));
    assert_eq!(fault_code(&a[4].1), Some(FaultCode::InvalidParameterName));
    // GetParameterValues: a partial path expands; a hidden parameter reads back empty; an
    // unknown name is 9005.
    let info = values(&a[5].1);
    assert!(
        info.iter()
            .any(|(n, v)| n == "Device.DeviceInfo.SerialNumber" && !v.is_empty())
    );
    assert!(
        info.iter()
            .any(|(n, v)| n == &format!("{MS}Password") && v.is_empty())
    );
    assert_eq!(fault_code(&a[6].1), Some(FaultCode::InvalidParameterName));
    // SetParameterValues applies and moves the ParameterKey.
    assert!(matches!(&a[7].1, Body::SetParameterValuesResponse(r) if r.status == Status::Applied));
    assert_eq!(value_of(&a[8].1, &interval), "600");
    assert_eq!(value_of(&a[8].1, &format!("{MS}ParameterKey")), "k1");
    // A SetParameterValues with bad entries is 9003 listing each, and changes nothing.
    let Body::Fault(f) = &a[9].1 else {
        panic!("{:?}", a[9])
    };
    let detail = f.detail.as_ref().unwrap();
    assert_eq!(detail.fault_code, FaultCode::InvalidArguments);
    let mut codes: Vec<(String, u32)> = detail
        .set_parameter_values_fault
        .iter()
        .map(|e| (e.parameter_name.clone(), e.fault_code.code()))
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            ("Device.DeviceInfo.UpTime".to_owned(), 9008),
            (format!("{MS}PeriodicInformEnable"), 9006),
            (interval.clone(), 9007),
            ("Device.Nope".to_owned(), 9005),
        ]
    );
    // The same name twice is 9003.
    assert_eq!(fault_code(&a[10].1), Some(FaultCode::InvalidArguments));
    assert_eq!(
        value_of(&a[11].1, &format!("{MS}ParameterKey")),
        "k1",
        "unchanged by faults"
    );
    assert_eq!(value_of(&a[11].1, &interval), "600", "unchanged by faults");
    // Attributes: read, set to Active, read back; Active on a canDeny parameter is 9009.
    assert!(matches!(&a[12].1, Body::GetParameterAttributesResponse(_)));
    assert!(matches!(&a[13].1, Body::SetParameterAttributesResponse(_)));
    let Body::GetParameterAttributesResponse(attrs) = &a[14].1 else {
        panic!()
    };
    assert_eq!(attrs.parameter_list[0].notification, Notification::Active);
    assert_eq!(
        fault_code(&a[15].1),
        Some(FaultCode::NotificationRequestRejected)
    );
    // AddObject on a table gives an instance; on a single object 9005; DeleteObject of the
    // instance succeeds and of a missing one is 9005.
    assert!(matches!(&a[16].1, Body::AddObjectResponse(r) if r.instance_number == 1));
    assert_eq!(fault_code(&a[17].1), Some(FaultCode::InvalidParameterName));
    assert!(matches!(&a[18].1, Body::DeleteObjectResponse(_)));
    assert_eq!(fault_code(&a[19].1), Some(FaultCode::InvalidParameterName));
    assert!(matches!(&a[20].1, Body::ScheduleInformResponse(_)));
    // An unknown method and one the agent does not implement are 9000.
    assert_eq!(fault_code(&a[21].1), Some(FaultCode::MethodNotSupported));
    assert_eq!(fault_code(&a[22].1), Some(FaultCode::MethodNotSupported));
    assert!(matches!(&a[23].1, Body::RebootResponse(_)));

    // The sessions the methods caused.
    let codes = |i: usize| -> Vec<String> {
        acs.informs[i]
            .event
            .iter()
            .map(|e| {
                format!(
                    "{}{}",
                    e.event_code,
                    if e.command_key.as_str().is_empty() {
                        String::new()
                    } else {
                        format!(":{}", e.command_key)
                    }
                )
            })
            .collect()
    };
    assert!(
        codes(0).contains(&"0 BOOTSTRAP".to_owned()),
        "{:?}",
        codes(0)
    );
    assert!(
        codes(1).contains(&"1 BOOT".to_owned()) && codes(1).contains(&"M Reboot:rb-1".to_owned()),
        "{:?}",
        codes(1)
    );
    assert!(
        codes(2).contains(&"3 SCHEDULED".to_owned())
            && codes(2).contains(&"M ScheduleInform:si-1".to_owned()),
        "{:?}",
        codes(2)
    );
    assert!(matches!(&a[24].1, Body::FactoryResetResponse(_)));
    assert!(
        codes(3).contains(&"0 BOOTSTRAP".to_owned()),
        "{:?}",
        codes(3)
    );
    // After the factory reset the profile's values are back.
    assert_ne!(value_of(&a[25].1, &interval), "600");
    // Each M event came exactly once.
    let all: Vec<String> = (0..acs.informs.len()).flat_map(codes).collect();
    assert_eq!(all.iter().filter(|c| *c == "M Reboot:rb-1").count(), 1);
    assert_eq!(
        all.iter().filter(|c| *c == "M ScheduleInform:si-1").count(),
        1
    );

    validate(&acs.sent);
}
