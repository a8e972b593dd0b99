//! Tests of the handlers: the fault each refusal is answered with, the ParameterKey rules, and
//! the all-or-nothing property of SetParameterValues.

use std::collections::BTreeSet;

use proptest::prelude::*;
use schemas::rpc::types::{Notification, ParameterValueStruct, SetParameterAttributesStruct};
use schemas::rpc::{
    AddObject, Body, DeleteObject, FaultCode, GetParameterAttributes, GetParameterNames,
    GetParameterValues, GetRPCMethods, ParameterKey, Reboot, SetParameterAttributes,
    SetParameterValues,
};
use schemas::value::{Value, XsdType};

use super::*;
use crate::model::testing::device;

fn key(text: &str) -> ParameterKey {
    text.parse().unwrap()
}

fn spv(list: &[(&str, Value)], parameter_key: &str) -> SetParameterValues {
    SetParameterValues {
        parameter_list: list
            .iter()
            .map(|(n, v)| ParameterValueStruct::new(*n, v.clone()))
            .collect(),
        parameter_key: key(parameter_key),
    }
}

fn gpv(names: &[&str]) -> GetParameterValues {
    GetParameterValues {
        parameter_names: names.iter().map(|n| (*n).to_owned()).collect(),
    }
}

fn gpn(path: &str, next_level: bool) -> GetParameterNames {
    GetParameterNames {
        parameter_path: path.into(),
        next_level,
    }
}

fn spa(name: &str, notification: Notification) -> SetParameterAttributes {
    SetParameterAttributes {
        parameter_list: vec![SetParameterAttributesStruct {
            name: name.into(),
            notification_change: true,
            notification,
            access_list_change: false,
            access_list: Vec::new(),
        }],
    }
}

fn add(name: &str, parameter_key: &str) -> AddObject {
    AddObject {
        object_name: name.into(),
        parameter_key: key(parameter_key),
    }
}

fn delete(name: &str, parameter_key: &str) -> DeleteObject {
    DeleteObject {
        object_name: name.into(),
        parameter_key: key(parameter_key),
    }
}

#[test]
fn get_rpc_methods_lists_the_required_methods() {
    let (mut model, ..) = device();
    let Some(Body::GetRPCMethodsResponse(r)) = handle(&mut model, &GetRPCMethods {}.into()) else {
        panic!("no GetRPCMethodsResponse");
    };
    assert_eq!(r.method_list, REQUIRED_METHODS);
    assert!(r.method_list.iter().any(|m| m == "GetParameterNames"));
    let extended = get_rpc_methods(&["GetRPCMethods", "FactoryReset"]);
    assert_eq!(extended.method_list, ["GetRPCMethods", "FactoryReset"]);
}

#[test]
fn other_methods_are_left_to_the_session() {
    let (mut model, ..) = device();
    assert_eq!(handle(&mut model, &Reboot::default().into()), None);
}

#[test]
fn faults_come_back_as_soap_faults_with_their_kind() {
    let (mut model, ..) = device();
    let answer = handle(&mut model, &gpv(&["Device.Nope"]).into());
    let Some(Body::Fault(fault)) = answer else {
        panic!("expected a fault, got {answer:?}");
    };
    let detail = fault.detail.unwrap();
    assert_eq!(detail.fault_code, FaultCode::InvalidParameterName);
    assert!(detail.fault_string.starts_with("Invalid parameter name: "));
    assert_eq!(fault.kind, schemas::rpc::FaultKind::Client);
}

#[test]
fn gpn_unknown_path_is_9005_and_next_level_on_a_parameter_is_9003() {
    let (model, ..) = device();
    let fault = get_parameter_names(&model, &gpn("Device.Nope.", false)).unwrap_err();
    assert_eq!(fault.fault_code, FaultCode::InvalidParameterName);
    let fault = get_parameter_names(&model, &gpn("Device.X_TEST_Box.Port", true)).unwrap_err();
    assert_eq!(fault.fault_code, FaultCode::InvalidArguments);
    let root = get_parameter_names(&model, &gpn("", true)).unwrap();
    assert_eq!(root.parameter_list.len(), 1);
    assert_eq!(root.parameter_list[0].name, "Device.");
    assert!(!root.parameter_list[0].writable);
}

#[test]
fn gpv_expands_partial_paths_hides_passwords_and_faults_the_whole_request_on_9005() {
    let (model, ..) = device();
    let r = get_parameter_values(
        &model,
        &gpv(&[
            "Device.ManagementServer.Password",
            "Device.X_TEST_Box.Rule.1.",
        ]),
    )
    .unwrap();
    assert_eq!(r.parameter_list[0].value, Value::from(""));
    assert_eq!(r.parameter_list.len(), 1 + 4);
    let fault =
        get_parameter_values(&model, &gpv(&["Device.X_TEST_Box.Port", "Device.X"])).unwrap_err();
    assert_eq!(fault.fault_code, FaultCode::InvalidParameterName);
}

#[test]
fn spv_success_sets_the_parameter_key_and_answers_status_0() {
    let (mut model, ..) = device();
    let r = set_parameter_values(
        &mut model,
        &spv(
            &[("Device.X_TEST_Box.Port", Value::UnsignedInt(8443))],
            "k1",
        ),
    )
    .unwrap();
    assert_eq!(r.status, Status::Applied);
    assert_eq!(model.parameter_key(), "k1");
    let inform = model.inform_parameters(&[]);
    assert!(
        inform
            .iter()
            .any(|p| p.name == "Device.ManagementServer.ParameterKey"
                && p.value == Value::from("k1"))
    );
}

#[test]
fn spv_deferred_parameter_answers_status_1() {
    let (mut model, ..) = device();
    let r = set_parameter_values(
        &mut model,
        &spv(
            &[("Device.X_TEST_Box.WanAddress", Value::from("192.0.2.5"))],
            "k2",
        ),
    )
    .unwrap();
    assert_eq!(r.status, Status::Pending);
    assert_eq!(model.parameter_key(), "k2");
}

#[test]
fn spv_fault_is_9003_with_one_entry_per_bad_parameter_and_keeps_the_parameter_key() {
    let (mut model, ..) = device();
    model.set_parameter_key("before");
    let fault = set_parameter_values(
        &mut model,
        &spv(
            &[
                ("Device.X_TEST_Box.Port", Value::UnsignedInt(80)),
                ("Device.X_TEST_Box.Nope", Value::from("x")),
                ("Device.X_TEST_Box.Port", Value::UnsignedInt(81)),
                ("Device.X_TEST_Box.Keepalive", Value::from("abc")),
                ("Device.X_TEST_Box.Keepalive", Value::UnsignedInt(1)),
                ("Device.X_TEST_Box.Mode", Value::from("Z")),
                ("Device.X_TEST_Box.Serial", Value::from("S9")),
            ],
            "after",
        ),
    )
    .unwrap_err();
    assert_eq!(fault.fault_code, FaultCode::InvalidArguments);
    let entries: Vec<(&str, FaultCode)> = fault
        .set_parameter_values_fault
        .iter()
        .map(|f| (f.parameter_name.as_str(), f.fault_code))
        .collect();
    assert_eq!(
        entries,
        [
            ("Device.X_TEST_Box.Nope", FaultCode::InvalidParameterName),
            (
                "Device.X_TEST_Box.Keepalive",
                FaultCode::InvalidParameterType
            ),
            ("Device.X_TEST_Box.Mode", FaultCode::InvalidParameterValue),
            ("Device.X_TEST_Box.Serial", FaultCode::NonWritableParameter),
            ("Device.X_TEST_Box.Port", FaultCode::InvalidArguments),
            ("Device.X_TEST_Box.Keepalive", FaultCode::InvalidArguments),
        ]
    );
    assert!(
        fault
            .set_parameter_values_fault
            .iter()
            .all(|f| !f.fault_string.is_empty())
    );
    assert_eq!(model.parameter_key(), "before");
    assert_eq!(
        model.value("Device.X_TEST_Box.Port"),
        Ok(Value::UnsignedInt(443))
    );
}

#[test]
fn spv_backend_failure_is_9002() {
    let (mut model, _, commands) = device();
    commands.answer(
        "led-set",
        Err(crate::model::CommandError::Spawn {
            program: "led-set".into(),
            reason: "missing".into(),
        }),
    );
    let fault = set_parameter_values(
        &mut model,
        &spv(&[("Device.X_TEST_Box.Led", Value::from("red"))], "k"),
    )
    .unwrap_err();
    assert_eq!(fault.fault_code, FaultCode::InternalError);
    assert_eq!(fault.set_parameter_values_fault.len(), 1);
    assert_eq!(model.parameter_key(), "");
}

#[test]
fn spa_and_gpa_faults_are_9005_and_9009() {
    let (mut model, ..) = device();
    let fault = set_parameter_attributes(&mut model, &spa("Device.Nope", Notification::Passive))
        .unwrap_err();
    assert_eq!(fault.fault_code, FaultCode::InvalidParameterName);
    let fault = set_parameter_attributes(
        &mut model,
        &spa("Device.DeviceInfo.SoftwareVersion", Notification::Passive),
    )
    .unwrap_err();
    assert_eq!(fault.fault_code, FaultCode::NotificationRequestRejected);
    let fault = set_parameter_attributes(
        &mut model,
        &spa("Device.ManagementServer.ParameterKey", Notification::Active),
    )
    .unwrap_err();
    assert_eq!(fault.fault_code, FaultCode::NotificationRequestRejected);
    set_parameter_attributes(
        &mut model,
        &spa("Device.X_TEST_Box.Port", Notification::Active),
    )
    .unwrap();
    let r = get_parameter_attributes(
        &model,
        &GetParameterAttributes {
            parameter_names: vec!["Device.X_TEST_Box.Port".into()],
        },
    )
    .unwrap();
    assert_eq!(r.parameter_list[0].notification, Notification::Active);
    let fault = get_parameter_attributes(
        &model,
        &GetParameterAttributes {
            parameter_names: vec!["Device.Nope.".into()],
        },
    )
    .unwrap_err();
    assert_eq!(fault.fault_code, FaultCode::InvalidParameterName);
}

#[test]
fn add_and_delete_object_update_the_parameter_key_only_on_success() {
    let (mut model, ..) = device();
    let r = add_object(&mut model, &add("Device.X_TEST_Box.Empty.", "a1")).unwrap();
    assert_eq!((r.instance_number, r.status), (1, Status::Applied));
    assert_eq!(model.parameter_key(), "a1");
    let fault = add_object(&mut model, &add("Device.X_TEST_Box.Slot.", "a2")).unwrap_err();
    assert_eq!(fault.fault_code, FaultCode::InvalidParameterName);
    assert_eq!(model.parameter_key(), "a1");
    let fault = delete_object(&mut model, &delete("Device.X_TEST_Box.Empty.", "d0")).unwrap_err();
    assert_eq!(fault.fault_code, FaultCode::InvalidParameterName);
    assert_eq!(model.parameter_key(), "a1");
    let r = delete_object(&mut model, &delete("Device.X_TEST_Box.Empty.1.", "d1")).unwrap();
    assert_eq!(r.status, Status::Applied);
    assert_eq!(model.parameter_key(), "d1");
    let r = add_object(&mut model, &add("Device.X_TEST_Box.Empty.", "a3")).unwrap();
    assert_eq!(r.instance_number, 2);
}

#[test]
fn fault_strings_are_cut_to_256_characters() {
    let (model, ..) = device();
    let long = format!("Device.{}", "A".repeat(240));
    let fault = get_parameter_values(&model, &gpv(&[&long])).unwrap_err();
    assert!(fault.fault_string.chars().count() <= 256);
}

/// One entry of a generated SetParameterValues: a parameter and whether to give it a good
/// value.
#[derive(Clone, Debug)]
struct Entry {
    name: &'static str,
    good: bool,
    variant: u8,
}

/// Parameters with a good and a bad value each, and (last three) names always refused.
const POOL: &[&str] = &[
    "Device.X_TEST_Box.Port",
    "Device.X_TEST_Box.Keepalive",
    "Device.X_TEST_Box.Name",
    "Device.X_TEST_Box.Mode",
    "Device.X_TEST_Box.Rule.1.Port",
    "Device.X_TEST_Box.Rule.[cpe-2].Enable",
    "Device.X_TEST_Box.Slot.1.Label",
    "Device.X_TEST_Box.Serial",
    "Device.X_TEST_Box.Missing",
    "Device.X_TEST_Box.Rule.9.Port",
];

/// The value an entry sends, and whether it must be refused.
fn value_of(entry: &Entry) -> (Value, bool) {
    let v = u32::from(entry.variant);
    let (good, bad): (Value, Value) = match entry.name {
        "Device.X_TEST_Box.Port" | "Device.X_TEST_Box.Rule.1.Port" => (
            Value::UnsignedInt(1 + v * 100),
            if v % 2 == 0 {
                Value::UnsignedInt(70_000)
            } else {
                Value::from("port")
            },
        ),
        "Device.X_TEST_Box.Keepalive" => (
            Value::from((10 + v * 2).to_string()),
            Value::UnsignedInt(601 + v),
        ),
        "Device.X_TEST_Box.Name" => (
            Value::from(format!("n{v}")),
            Value::from("x".repeat(17 + usize::from(entry.variant))),
        ),
        "Device.X_TEST_Box.Mode" => (
            Value::from(if v % 2 == 0 { "A" } else { "B" }),
            Value::from("C"),
        ),
        "Device.X_TEST_Box.Rule.[cpe-2].Enable" => {
            (Value::Boolean(v % 2 == 0), Value::from("maybe"))
        }
        "Device.X_TEST_Box.Slot.1.Label" => (
            Value::from(format!("l{v}")),
            Value::parse(XsdType::Boolean, "maybe"),
        ),
        _ => return (Value::from("x"), true),
    };
    if entry.good {
        (good, false)
    } else {
        (bad, true)
    }
}

fn entries() -> impl Strategy<Value = Vec<Entry>> {
    proptest::sample::subsequence(POOL.to_vec(), 0..=POOL.len())
        .prop_flat_map(|names| {
            let n = names.len();
            (
                Just(names),
                proptest::collection::vec(any::<bool>(), n),
                proptest::collection::vec(0u8..50, n),
            )
        })
        .prop_map(|(names, good, variant)| {
            names
                .into_iter()
                .zip(good)
                .zip(variant)
                .map(|((name, good), variant)| Entry {
                    name,
                    good,
                    variant,
                })
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

proptest! {
    #[test]
    fn spv_applies_all_or_none_and_lists_exactly_the_bad_entries(entries in entries()) {
        let (mut model, ..) = device();
        model.set_parameter_key("old");
        let before = model.state();
        let list: Vec<(&str, Value, bool)> = entries
            .iter()
            .map(|e| {
                let (value, bad) = value_of(e);
                (e.name, value, bad)
            })
            .collect();
        let request = SetParameterValues {
            parameter_list: list
                .iter()
                .map(|(n, v, _)| ParameterValueStruct::new(*n, v.clone()))
                .collect(),
            parameter_key: key("new"),
        };
        let bad: Vec<&str> = list.iter().filter(|(_, _, bad)| *bad).map(|(n, ..)| *n).collect();
        match set_parameter_values(&mut model, &request) {
            Ok(_) => {
                prop_assert!(bad.is_empty(), "accepted bad entries {:?}", bad);
                prop_assert_eq!(model.parameter_key(), "new");
                for (name, value, _) in &list {
                    let stored = model.value(name).unwrap();
                    let expected = model
                        .profile()
                        .parameter(&schemas::model::template_of(
                            &name.replace("[cpe-2]", "2"),
                        ))
                        .unwrap()
                        .check(value)
                        .unwrap();
                    prop_assert_eq!(stored, expected);
                }
            }
            Err(fault) => {
                prop_assert_eq!(fault.fault_code, FaultCode::InvalidArguments);
                let listed: BTreeSet<&str> = fault
                    .set_parameter_values_fault
                    .iter()
                    .map(|f| f.parameter_name.as_str())
                    .collect();
                prop_assert_eq!(listed.len(), fault.set_parameter_values_fault.len());
                prop_assert_eq!(listed, bad.iter().copied().collect::<BTreeSet<_>>());
                prop_assert_eq!(model.parameter_key(), "old");
                prop_assert_eq!(model.state(), before);
            }
        }
    }
}
