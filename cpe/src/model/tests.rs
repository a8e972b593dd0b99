//! Tests of the data model: names, values, tables, aliases, attributes, notifications,
//! deferred changes and persistence. Profiles are written out in full, so nothing here depends
//! on the TR-181 table's content.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use schemas::model::ActiveNotify;
use schemas::rpc::FaultCode;
use schemas::rpc::types::{Notification, SetParameterAttributesStruct, Status};
use schemas::value::{Value, XsdType};

use super::testing::{PROFILE, device, profile};
use super::*;

fn names(model: &DataModel, path: &str, next_level: bool) -> Vec<(String, bool)> {
    model.parameter_names(path, next_level).unwrap()
}

fn name_list(model: &DataModel, path: &str, next_level: bool) -> Vec<String> {
    names(model, path, next_level)
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

fn get(model: &DataModel, name: &str) -> Value {
    model.value(name).unwrap()
}

fn set_acs(model: &mut DataModel, name: &str, value: Value) -> Result<Status, SetValuesError> {
    model.set_values([(name, &value)], Origin::Acs)
}

fn codes(error: &SetValuesError) -> Vec<(String, FaultCode)> {
    error
        .errors
        .iter()
        .map(|e| (e.name().to_owned(), e.fault_code()))
        .collect()
}

fn attribute(name: &str, notification: Notification) -> SetParameterAttributesStruct {
    SetParameterAttributesStruct {
        name: name.into(),
        notification_change: true,
        notification,
        access_list_change: false,
        access_list: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// GetParameterNames

#[test]
fn gpn_empty_path_with_next_level_gives_only_the_root_object() {
    let (model, ..) = device();
    assert_eq!(names(&model, "", true), [("Device.".to_owned(), false)]);
}

#[test]
fn gpn_empty_path_without_next_level_gives_everything() {
    let (model, ..) = device();
    let all = name_list(&model, "", false);
    assert_eq!(all[0], "Device.");
    for expected in [
        "Device.X_TEST_Box.",
        "Device.X_TEST_Box.Port",
        "Device.X_TEST_Box.Rule.",
        "Device.X_TEST_Box.Rule.2.",
        "Device.X_TEST_Box.Rule.1.Sub.1.Value",
        "Device.X_TEST_Box.Empty.",
        "Device.ManagementServer.ParameterKey",
    ] {
        assert!(all.iter().any(|n| n == expected), "{expected} missing");
    }
    assert!(!all.iter().any(|n| n.contains("Empty.1")));
}

#[test]
fn gpn_partial_path_with_next_level_gives_direct_children_objects_with_a_dot() {
    let (model, ..) = device();
    let children = names(&model, "Device.X_TEST_Box.", true);
    assert!(children.contains(&("Device.X_TEST_Box.Port".into(), true)));
    assert!(children.contains(&("Device.X_TEST_Box.Serial".into(), false)));
    assert!(children.contains(&("Device.X_TEST_Box.Rule.".into(), true)));
    assert!(children.contains(&("Device.X_TEST_Box.Slot.".into(), false)));
    assert!(children.iter().all(|(n, _)| {
        let rest = n.strip_prefix("Device.X_TEST_Box.").unwrap();
        !rest.trim_end_matches('.').contains('.')
    }));
}

#[test]
fn gpn_writable_on_tables_means_add_object_and_on_instances_delete_object() {
    let (model, ..) = device();
    assert_eq!(
        names(&model, "Device.X_TEST_Box.Rule.", true),
        [
            ("Device.X_TEST_Box.Rule.1.".to_owned(), true),
            ("Device.X_TEST_Box.Rule.2.".to_owned(), true)
        ]
    );
    assert_eq!(
        names(&model, "Device.X_TEST_Box.Slot.", true),
        [("Device.X_TEST_Box.Slot.1.".to_owned(), false)]
    );
    let subtree = names(&model, "Device.X_TEST_Box.Slot.", false);
    assert_eq!(subtree[0], ("Device.X_TEST_Box.Slot.".to_owned(), false));
    assert!(subtree.contains(&("Device.X_TEST_Box.Slot.1.Label".into(), true)));
}

#[test]
fn gpn_partial_path_without_next_level_gives_the_object_and_its_subtree() {
    let (model, ..) = device();
    assert_eq!(
        name_list(&model, "Device.X_TEST_Box.Rule.1.", false),
        [
            "Device.X_TEST_Box.Rule.1.",
            "Device.X_TEST_Box.Rule.1.Alias",
            "Device.X_TEST_Box.Rule.1.Enable",
            "Device.X_TEST_Box.Rule.1.Port",
            "Device.X_TEST_Box.Rule.1.Sub.",
            "Device.X_TEST_Box.Rule.1.Sub.1.",
            "Device.X_TEST_Box.Rule.1.Sub.1.Value",
        ]
    );
}

#[test]
fn gpn_full_parameter_name_gives_it_without_next_level_and_9003_with() {
    let (model, ..) = device();
    assert_eq!(
        names(&model, "Device.X_TEST_Box.Port", false),
        [("Device.X_TEST_Box.Port".to_owned(), true)]
    );
    let err = model
        .parameter_names("Device.X_TEST_Box.Port", true)
        .unwrap_err();
    assert_eq!(err.fault_code(), FaultCode::InvalidArguments);
}

#[test]
fn gpn_unknown_names_objects_without_dot_and_parameters_with_dot_are_9005() {
    let (model, ..) = device();
    for bad in [
        "Device.Nope.",
        "Device.X_TEST_Box",
        "Device.X_TEST_Box.Port.",
        "Device.X_TEST_Box.Rule.9.",
        "Device.X_TEST_Box.Rule.01.",
        "Device.X_TEST_Box.Rule.*.",
        "Device..",
        "InternetGatewayDevice.",
    ] {
        let err = model.parameter_names(bad, false).unwrap_err();
        assert_eq!(err.fault_code(), FaultCode::InvalidParameterName, "{bad}");
    }
}

// ---------------------------------------------------------------------------------------------
// GetParameterValues

#[test]
fn gpv_partial_path_expands_to_every_parameter_below() {
    let (model, ..) = device();
    let values = model.parameter_values("Device.X_TEST_Box.Rule.2.").unwrap();
    assert_eq!(
        values,
        [
            (
                "Device.X_TEST_Box.Rule.2.Alias".into(),
                Value::from("cpe-2")
            ),
            (
                "Device.X_TEST_Box.Rule.2.Enable".into(),
                Value::Boolean(false)
            ),
            (
                "Device.X_TEST_Box.Rule.2.Port".into(),
                Value::UnsignedInt(22)
            ),
        ]
    );
}

#[test]
fn gpv_unknown_name_is_9005() {
    let (model, ..) = device();
    let err = model
        .parameter_values("Device.X_TEST_Box.Nope")
        .unwrap_err();
    assert_eq!(err.fault_code(), FaultCode::InvalidParameterName);
}

#[test]
fn hidden_parameters_read_back_empty_to_the_acs_but_not_to_the_agent() {
    let (model, ..) = device();
    assert_eq!(
        model
            .parameter_values("Device.ManagementServer.Password")
            .unwrap(),
        [("Device.ManagementServer.Password".into(), Value::from(""))]
    );
    assert_eq!(
        get(&model, "Device.ManagementServer.Password"),
        Value::from("secret")
    );
}

#[test]
fn instance_wildcard_expands_to_every_instance_and_an_empty_table_to_nothing() {
    let (model, ..) = device();
    let ports = model
        .parameter_values("Device.X_TEST_Box.Rule.*.Port")
        .unwrap();
    assert_eq!(
        ports,
        [
            (
                "Device.X_TEST_Box.Rule.1.Port".into(),
                Value::UnsignedInt(8080)
            ),
            (
                "Device.X_TEST_Box.Rule.2.Port".into(),
                Value::UnsignedInt(22)
            ),
        ]
    );
    assert!(
        model
            .parameter_values("Device.X_TEST_Box.Empty.*.Note")
            .unwrap()
            .is_empty()
    );
    let partial = model
        .parameter_values("Device.X_TEST_Box.Rule.*.Sub.*.")
        .unwrap();
    assert_eq!(partial.len(), 1);
    let err = model
        .parameter_values("Device.X_TEST_Box.Rule.*.Nope")
        .unwrap_err();
    assert_eq!(err.fault_code(), FaultCode::InvalidParameterName);
}

#[test]
fn computed_values_come_from_the_host_and_fall_back_to_the_profile() {
    let (model, host, _) = device();
    assert_eq!(
        get(&model, "Device.DeviceInfo.UpTime"),
        Value::UnsignedInt(100)
    );
    assert_eq!(
        get(&model, "Device.DeviceInfo.SoftwareVersion"),
        Value::from("1.0")
    );
    *host.version.lock().unwrap() = Some("2.0".into());
    assert_eq!(
        get(&model, "Device.DeviceInfo.SoftwareVersion"),
        Value::from("2.0")
    );
    assert_eq!(
        get(&model, "Device.X_TEST_Box.RuleNumberOfEntries"),
        Value::UnsignedInt(2)
    );
}

#[test]
fn external_values_run_get_with_placeholders_and_fall_back_when_it_fails() {
    let (model, _, commands) = device();
    assert_eq!(get(&model, "Device.X_TEST_Box.Temperature"), Value::Int(21));
    assert!(commands.calls().contains(&vec![
        "sensor".into(),
        "Device.X_TEST_Box.Temperature".into()
    ]));
    commands.answer(
        "sensor",
        Err(CommandError::Failed {
            program: "sensor".into(),
            status: "exit status: 1".into(),
            stderr: String::new(),
        }),
    );
    assert_eq!(get(&model, "Device.X_TEST_Box.Temperature"), Value::Int(20));
    commands.answer("sensor", Ok("warm"));
    assert_eq!(get(&model, "Device.X_TEST_Box.Temperature"), Value::Int(20));
}

// ---------------------------------------------------------------------------------------------
// SetParameterValues

#[test]
fn spv_applies_every_change_and_converts_strings_that_read_as_the_type() {
    let (mut model, ..) = device();
    let changes = [
        ("Device.X_TEST_Box.Port", Value::from("8443")),
        ("Device.X_TEST_Box.Mode", Value::from("B")),
    ];
    let status = model
        .set_values(changes.iter().map(|(n, v)| (*n, v)), Origin::Acs)
        .unwrap();
    assert_eq!(status, Status::Applied);
    assert_eq!(
        get(&model, "Device.X_TEST_Box.Port"),
        Value::UnsignedInt(8443)
    );
    assert_eq!(get(&model, "Device.X_TEST_Box.Mode"), Value::from("B"));
}

#[test]
fn spv_unknown_name_and_object_name_are_9005() {
    let (mut model, ..) = device();
    for name in [
        "Device.X_TEST_Box.Nope",
        "Device.X_TEST_Box.",
        "Device.X_TEST_Box.Rule.7.Port",
        "Device.X_TEST_Box.Rule.*.Port",
        "",
    ] {
        let err = set_acs(&mut model, name, Value::from("1")).unwrap_err();
        assert_eq!(
            codes(&err),
            [(name.to_owned(), FaultCode::InvalidParameterName)]
        );
    }
}

#[test]
fn spv_wrong_type_is_9006() {
    let (mut model, ..) = device();
    let err = set_acs(&mut model, "Device.X_TEST_Box.Port", Value::from("abc")).unwrap_err();
    assert_eq!(err.errors[0].fault_code(), FaultCode::InvalidParameterType);
    let invalid = Value::parse(XsdType::UnsignedInt, "-3");
    let err = set_acs(&mut model, "Device.X_TEST_Box.Port", invalid).unwrap_err();
    assert_eq!(err.errors[0].fault_code(), FaultCode::InvalidParameterType);
    let err = set_acs(
        &mut model,
        "Device.X_TEST_Box.Rule.1.Enable",
        Value::from("yes"),
    )
    .unwrap_err();
    assert_eq!(err.errors[0].fault_code(), FaultCode::InvalidParameterType);
}

#[test]
fn spv_out_of_range_enumeration_and_length_are_9007() {
    let (mut model, ..) = device();
    for (name, value) in [
        ("Device.X_TEST_Box.Keepalive", Value::UnsignedInt(601)),
        ("Device.X_TEST_Box.Keepalive", Value::UnsignedInt(9)),
        ("Device.X_TEST_Box.Port", Value::UnsignedInt(0)),
        ("Device.X_TEST_Box.Mode", Value::from("C")),
        ("Device.X_TEST_Box.Name", Value::from("seventeen chars!!")),
    ] {
        let err = set_acs(&mut model, name, value).unwrap_err();
        assert_eq!(
            codes(&err),
            [(name.to_owned(), FaultCode::InvalidParameterValue)]
        );
    }
}

#[test]
fn spv_read_only_and_computed_parameters_are_9008_for_the_acs() {
    let (mut model, ..) = device();
    for name in [
        "Device.X_TEST_Box.Serial",
        "Device.DeviceInfo.UpTime",
        "Device.ManagementServer.ParameterKey",
        "Device.X_TEST_Box.RuleNumberOfEntries",
    ] {
        let err = set_acs(&mut model, name, Value::from("1")).unwrap_err();
        assert_eq!(
            codes(&err),
            [(name.to_owned(), FaultCode::NonWritableParameter)]
        );
    }
    model
        .set_value(
            "Device.X_TEST_Box.Serial",
            &Value::from("S2"),
            Origin::Local,
        )
        .unwrap();
    assert_eq!(get(&model, "Device.X_TEST_Box.Serial"), Value::from("S2"));
}

#[test]
fn spv_same_name_twice_is_9003() {
    let (mut model, ..) = device();
    let v = Value::UnsignedInt(100);
    let err = model
        .set_values(
            [
                ("Device.X_TEST_Box.Port", &v),
                ("Device.X_TEST_Box.Port", &v),
            ],
            Origin::Acs,
        )
        .unwrap_err();
    assert_eq!(
        codes(&err),
        [(
            "Device.X_TEST_Box.Port".to_owned(),
            FaultCode::InvalidArguments
        )]
    );
    let err = model
        .set_values(
            [
                ("Device.X_TEST_Box.Rule.1.Port", &v),
                ("Device.X_TEST_Box.Rule.[web].Port", &v),
            ],
            Origin::Acs,
        )
        .unwrap_err();
    assert_eq!(err.errors[0].fault_code(), FaultCode::InvalidArguments);
    assert_eq!(
        get(&model, "Device.X_TEST_Box.Port"),
        Value::UnsignedInt(443)
    );
}

#[test]
fn spv_with_one_bad_parameter_applies_nothing_and_lists_each_bad_one() {
    let (mut model, ..) = device();
    let before = model.state();
    let good = Value::UnsignedInt(1000);
    let bad_range = Value::UnsignedInt(5);
    let bad_name = Value::from("x");
    let err = model
        .set_values(
            [
                ("Device.X_TEST_Box.Port", &good),
                ("Device.X_TEST_Box.Keepalive", &bad_range),
                ("Device.X_TEST_Box.Nope", &bad_name),
            ],
            Origin::Acs,
        )
        .unwrap_err();
    assert_eq!(
        codes(&err),
        [
            (
                "Device.X_TEST_Box.Keepalive".to_owned(),
                FaultCode::InvalidParameterValue
            ),
            (
                "Device.X_TEST_Box.Nope".to_owned(),
                FaultCode::InvalidParameterName
            ),
        ]
    );
    assert_eq!(model.state(), before);
    assert_eq!(
        get(&model, "Device.X_TEST_Box.Port"),
        Value::UnsignedInt(443)
    );
}

#[test]
fn spv_of_a_deferred_parameter_answers_status_1_and_is_taken_after_the_session() {
    let (mut model, ..) = device();
    let status = set_acs(
        &mut model,
        "Device.X_TEST_Box.WanAddress",
        Value::from("192.0.2.9"),
    );
    assert_eq!(status, Ok(Status::Pending));
    assert_eq!(
        get(&model, "Device.X_TEST_Box.WanAddress"),
        Value::from("192.0.2.9")
    );
    assert_eq!(model.state().deferred, ["Device.X_TEST_Box.WanAddress"]);
    let deferred = model.take_deferred();
    assert_eq!(
        deferred,
        [DeferredChange {
            name: "Device.X_TEST_Box.WanAddress".into(),
            value: Value::from("192.0.2.9")
        }]
    );
    assert!(model.take_deferred().is_empty());
    assert!(model.apply_deferred(&deferred).is_empty());
    assert_eq!(
        set_acs(&mut model, "Device.X_TEST_Box.Port", Value::UnsignedInt(1)),
        Ok(Status::Applied)
    );
}

#[test]
fn spv_of_an_external_parameter_runs_set_and_a_failure_undoes_the_others() {
    let (mut model, _, commands) = device();
    set_acs(&mut model, "Device.X_TEST_Box.Led", Value::from("blink")).unwrap();
    assert!(
        commands
            .calls()
            .contains(&vec!["led-set".into(), "blink".into()])
    );
    commands.answer(
        "led-set",
        Err(CommandError::TimedOut {
            program: "led-set".into(),
            after: std::time::Duration::from_secs(1),
        }),
    );
    let port = Value::UnsignedInt(999);
    let led = Value::from("red");
    let err = model
        .set_values(
            [
                ("Device.X_TEST_Box.Port", &port),
                ("Device.X_TEST_Box.Led", &led),
            ],
            Origin::Acs,
        )
        .unwrap_err();
    assert_eq!(
        codes(&err),
        [("Device.X_TEST_Box.Led".to_owned(), FaultCode::InternalError)]
    );
    assert_eq!(
        get(&model, "Device.X_TEST_Box.Port"),
        Value::UnsignedInt(443)
    );
}

// ---------------------------------------------------------------------------------------------
// Aliases (TR-069 Amd 6 §3.6.1)

#[test]
fn alias_addresses_an_instance_and_new_instances_get_cpe_aliases() {
    let (mut model, ..) = device();
    assert_eq!(
        get(&model, "Device.X_TEST_Box.Rule.[web].Port"),
        Value::UnsignedInt(8080)
    );
    assert_eq!(
        get(&model, "Device.X_TEST_Box.Rule.[cpe-2].Port"),
        Value::UnsignedInt(22)
    );
    set_acs(
        &mut model,
        "Device.X_TEST_Box.Rule.[web].Port",
        Value::UnsignedInt(81),
    )
    .unwrap();
    assert_eq!(
        get(&model, "Device.X_TEST_Box.Rule.1.Port"),
        Value::UnsignedInt(81)
    );
    assert_eq!(
        names(&model, "Device.X_TEST_Box.Rule.[web].", true)[0].0,
        "Device.X_TEST_Box.Rule.1.Alias"
    );
    let n = model
        .add_object("Device.X_TEST_Box.Rule.", Origin::Acs)
        .unwrap();
    assert_eq!(
        get(&model, &format!("Device.X_TEST_Box.Rule.{n}.Alias")),
        Value::from("cpe-3")
    );
    let m = model
        .add_object("Device.X_TEST_Box.Rule.[ssh].", Origin::Acs)
        .unwrap();
    assert_eq!(
        get(&model, "Device.X_TEST_Box.Rule.[ssh].Port"),
        Value::UnsignedInt(0)
    );
    assert_eq!(m, 4);
}

#[test]
fn alias_unknown_is_9005_and_duplicate_or_malformed_alias_is_9007() {
    let (mut model, ..) = device();
    let err = model
        .value("Device.X_TEST_Box.Rule.[nope].Port")
        .unwrap_err();
    assert_eq!(err.fault_code(), FaultCode::InvalidParameterName);
    for bad in ["cpe-2", "1abc", ""] {
        let err = set_acs(
            &mut model,
            "Device.X_TEST_Box.Rule.1.Alias",
            Value::from(bad),
        )
        .unwrap_err();
        assert_eq!(
            err.errors[0].fault_code(),
            FaultCode::InvalidParameterValue,
            "{bad}"
        );
    }
    let err = model
        .add_object("Device.X_TEST_Box.Rule.[web].", Origin::Acs)
        .unwrap_err();
    assert_eq!(err.fault_code(), FaultCode::InvalidParameterValue);
    // Swapping two aliases in one request is fine.
    let (a, b) = (Value::from("cpe-2"), Value::from("web"));
    model
        .set_values(
            [
                ("Device.X_TEST_Box.Rule.1.Alias", &a),
                ("Device.X_TEST_Box.Rule.2.Alias", &b),
            ],
            Origin::Acs,
        )
        .unwrap();
    assert_eq!(
        get(&model, "Device.X_TEST_Box.Rule.[web].Port"),
        Value::UnsignedInt(22)
    );
}

// ---------------------------------------------------------------------------------------------
// AddObject / DeleteObject

#[test]
fn instance_numbers_are_never_reused_even_across_restore() {
    let (mut model, ..) = device();
    let table = "Device.X_TEST_Box.Empty.";
    assert_eq!(model.add_object(table, Origin::Acs), Ok(1));
    assert_eq!(model.add_object(table, Origin::Acs), Ok(2));
    model
        .delete_object("Device.X_TEST_Box.Empty.2.", Origin::Acs)
        .unwrap();
    assert_eq!(model.add_object(table, Origin::Acs), Ok(3));
    model
        .delete_object("Device.X_TEST_Box.Empty.3.", Origin::Acs)
        .unwrap();
    let restored = DataModel::restore(profile(), &model.state());
    let mut restored = restored;
    assert_eq!(restored.add_object(table, Origin::Acs), Ok(4));
    assert_eq!(
        name_list(&restored, table, true),
        ["Device.X_TEST_Box.Empty.1.", "Device.X_TEST_Box.Empty.4."]
    );
}

#[test]
fn add_object_creates_the_instance_with_template_defaults() {
    let (mut model, ..) = device();
    let n = model
        .add_object("Device.X_TEST_Box.Empty.", Origin::Acs)
        .unwrap();
    assert_eq!(
        model
            .parameter_values(&format!("Device.X_TEST_Box.Empty.{n}."))
            .unwrap(),
        [(
            format!("Device.X_TEST_Box.Empty.{n}.Note"),
            Value::from("new")
        )]
    );
    let m = model
        .add_object("Device.X_TEST_Box.Rule.1.Sub.", Origin::Acs)
        .unwrap();
    assert_eq!(m, 2);
    assert_eq!(
        get(&model, "Device.X_TEST_Box.Rule.1.Sub.2.Value"),
        Value::from("v")
    );
    let k = model
        .add_object("Device.X_TEST_Box.Rule.2.Sub.", Origin::Acs)
        .unwrap();
    assert_eq!(k, 1);
}

#[test]
fn add_object_on_non_tables_and_non_writable_tables_is_9005() {
    let (mut model, ..) = device();
    for name in [
        "Device.X_TEST_Box.",
        "Device.X_TEST_Box.Rule.1.",
        "Device.X_TEST_Box.Slot.",
        "Device.X_TEST_Box.Port",
        "Device.X_TEST_Box.Nope.",
        "Device.X_TEST_Box.Rule",
    ] {
        let err = model.add_object(name, Origin::Acs).unwrap_err();
        assert_eq!(err.fault_code(), FaultCode::InvalidParameterName, "{name}");
    }
    assert_eq!(
        model.add_object("Device.X_TEST_Box.Slot.", Origin::Local),
        Ok(2)
    );
}

#[test]
fn add_object_beyond_max_instances_is_9004() {
    let (mut model, ..) = device();
    for _ in 0..3 {
        model
            .add_object("Device.X_TEST_Box.Empty.", Origin::Acs)
            .unwrap();
    }
    let err = model
        .add_object("Device.X_TEST_Box.Empty.", Origin::Acs)
        .unwrap_err();
    assert_eq!(err.fault_code(), FaultCode::ResourcesExceeded);
}

#[test]
fn delete_object_removes_the_instance_and_everything_below_it() {
    let (mut model, ..) = device();
    set_acs(
        &mut model,
        "Device.X_TEST_Box.Rule.1.Sub.1.Value",
        Value::from("x"),
    )
    .unwrap();
    model
        .delete_object("Device.X_TEST_Box.Rule.[web].", Origin::Acs)
        .unwrap();
    assert_eq!(
        name_list(&model, "Device.X_TEST_Box.Rule.", true),
        ["Device.X_TEST_Box.Rule.2."]
    );
    assert_eq!(
        get(&model, "Device.X_TEST_Box.RuleNumberOfEntries"),
        Value::UnsignedInt(1)
    );
    assert!(model.value("Device.X_TEST_Box.Rule.1.Sub.1.Value").is_err());
    assert!(model.state().values.keys().all(|k| !k.contains("Rule.1.")));
}

#[test]
fn delete_object_on_non_instances_missing_instances_and_fixed_tables_is_9005() {
    let (mut model, ..) = device();
    for name in [
        "Device.X_TEST_Box.Rule.",
        "Device.X_TEST_Box.Rule.9.",
        "Device.X_TEST_Box.Slot.1.",
        "Device.X_TEST_Box.",
        "Device.X_TEST_Box.Rule.1",
        "Device.X_TEST_Box.Rule.*.",
    ] {
        let err = model.delete_object(name, Origin::Acs).unwrap_err();
        assert_eq!(err.fault_code(), FaultCode::InvalidParameterName, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Attributes

#[test]
fn spa_changes_notification_and_access_list_and_gpa_reads_them() {
    let (mut model, ..) = device();
    let mut change = attribute("Device.X_TEST_Box.Port", Notification::Passive);
    change.access_list_change = true;
    change.access_list = vec!["Subscriber".into()];
    model.set_attributes(&[change]).unwrap();
    let attributes = model
        .parameter_attributes("Device.X_TEST_Box.Port")
        .unwrap();
    assert_eq!(attributes[0].notification, Notification::Passive);
    assert_eq!(attributes[0].access_list, ["Subscriber"]);
    model
        .set_attributes(&[attribute("Device.X_TEST_Box.Rule.", Notification::Active)])
        .unwrap();
    let all = model
        .parameter_attributes("Device.X_TEST_Box.Rule.*.Port")
        .unwrap();
    assert!(all.iter().all(|a| a.notification == Notification::Active));
    assert_eq!(all.len(), 2);
}

#[test]
fn spa_force_enabled_refuses_turning_active_off_with_9009() {
    let (mut model, ..) = device();
    let attributes = model
        .parameter_attributes("Device.DeviceInfo.SoftwareVersion")
        .unwrap();
    assert_eq!(attributes[0].notification, Notification::Active);
    let err = model
        .set_attributes(&[attribute(
            "Device.DeviceInfo.SoftwareVersion",
            Notification::Off,
        )])
        .unwrap_err();
    assert_eq!(err.fault_code(), FaultCode::NotificationRequestRejected);
    assert!(matches!(
        err,
        ModelError::NotificationRejected {
            rule: ActiveNotify::ForceEnabled,
            ..
        }
    ));
}

#[test]
fn spa_can_deny_refuses_active_with_9009_and_partial_paths_skip_refused_ones() {
    let (mut model, ..) = device();
    let err = model
        .set_attributes(&[attribute("Device.DeviceInfo.UpTime", Notification::Active)])
        .unwrap_err();
    assert_eq!(err.fault_code(), FaultCode::NotificationRequestRejected);
    model
        .set_attributes(&[attribute("Device.DeviceInfo.", Notification::Active)])
        .unwrap();
    let uptime = model
        .parameter_attributes("Device.DeviceInfo.UpTime")
        .unwrap();
    assert_eq!(uptime[0].notification, Notification::Off);
    model
        .set_attributes(&[attribute("Device.DeviceInfo.", Notification::Off)])
        .unwrap();
    let version = model
        .parameter_attributes("Device.DeviceInfo.SoftwareVersion")
        .unwrap();
    assert_eq!(version[0].notification, Notification::Active);
}

#[test]
fn spa_is_all_or_nothing_and_unknown_names_are_9005() {
    let (mut model, ..) = device();
    let err = model
        .set_attributes(&[
            attribute("Device.X_TEST_Box.Port", Notification::Passive),
            attribute("Device.X_TEST_Box.Nope", Notification::Passive),
        ])
        .unwrap_err();
    assert_eq!(err.fault_code(), FaultCode::InvalidParameterName);
    let port = model
        .parameter_attributes("Device.X_TEST_Box.Port")
        .unwrap();
    assert_eq!(port[0].notification, Notification::Off);
    assert!(model.state().attributes.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Value changes and the Inform

#[test]
fn acs_set_values_never_produce_a_value_change_notice() {
    let (mut model, _, commands) = device();
    model
        .set_attributes(&[
            attribute("Device.X_TEST_Box.", Notification::Active),
            attribute(
                "Device.ManagementServer.ParameterKey",
                Notification::Passive,
            ),
        ])
        .unwrap();
    set_acs(&mut model, "Device.X_TEST_Box.Port", Value::UnsignedInt(1)).unwrap();
    model.set_parameter_key("after-spv");
    set_acs(&mut model, "Device.X_TEST_Box.Led", Value::from("green")).unwrap();
    commands.answer("led-get", Ok("green"));
    model
        .add_object("Device.X_TEST_Box.Rule.", Origin::Acs)
        .unwrap();
    model.check_value_changes();
    assert_eq!(model.take_value_changes(), []);
}

#[test]
fn local_set_of_a_notified_parameter_gives_a_notice_with_its_notification() {
    let (mut model, ..) = device();
    model
        .set_attributes(&[attribute("Device.X_TEST_Box.Port", Notification::Passive)])
        .unwrap();
    model
        .set_value(
            "Device.X_TEST_Box.Port",
            &Value::UnsignedInt(8443),
            Origin::Local,
        )
        .unwrap();
    model
        .set_value(
            "Device.X_TEST_Box.Keepalive",
            &Value::UnsignedInt(20),
            Origin::Local,
        )
        .unwrap();
    assert_eq!(
        model.take_value_changes(),
        [("Device.X_TEST_Box.Port".to_owned(), Notification::Passive)]
    );
    assert!(model.take_value_changes().is_empty());
    model
        .set_value(
            "Device.X_TEST_Box.Port",
            &Value::UnsignedInt(8443),
            Origin::Local,
        )
        .unwrap();
    assert!(
        model.take_value_changes().is_empty(),
        "unchanged value: no notice"
    );
}

#[test]
fn external_and_computed_changes_give_a_notice_after_the_first_check() {
    let (mut model, host, commands) = device();
    model
        .set_attributes(&[
            attribute("Device.X_TEST_Box.Temperature", Notification::Active),
            attribute("Device.DeviceInfo.UpTime", Notification::Passive),
        ])
        .unwrap();
    model.check_value_changes();
    assert!(model.take_value_changes().is_empty());
    commands.answer("sensor", Ok("25"));
    host.uptime.store(160, Ordering::SeqCst);
    model.check_value_changes();
    assert_eq!(
        model.take_value_changes(),
        [
            ("Device.DeviceInfo.UpTime".to_owned(), Notification::Passive),
            (
                "Device.X_TEST_Box.Temperature".to_owned(),
                Notification::Active
            ),
        ]
    );
    model.check_value_changes();
    assert!(model.take_value_changes().is_empty());
    model
        .set_attributes(&[attribute(
            "Device.X_TEST_Box.Temperature",
            Notification::Off,
        )])
        .unwrap();
    commands.answer("sensor", Ok("30"));
    model.check_value_changes();
    assert!(
        !model
            .take_value_changes()
            .iter()
            .any(|(n, _)| n.contains("Temperature"))
    );
}

#[test]
fn inform_parameters_are_the_forced_ones_plus_the_changed_ones() {
    let (mut model, ..) = device();
    model.set_parameter_key("k7");
    let inform = model.inform_parameters(&[
        "Device.X_TEST_Box.Port".into(),
        "Device.X_TEST_Box.Serial".into(),
        "Device.X_TEST_Box.Gone".into(),
    ]);
    let list: Vec<(String, String)> = inform
        .iter()
        .map(|p| (p.name.clone(), p.value.lexical().into_owned()))
        .collect();
    assert_eq!(
        list,
        [
            (
                "Device.ManagementServer.ParameterKey".to_owned(),
                "k7".to_owned()
            ),
            (
                "Device.DeviceInfo.SoftwareVersion".to_owned(),
                "1.0".to_owned()
            ),
            ("Device.X_TEST_Box.Serial".to_owned(), "S1".to_owned()),
            ("Device.X_TEST_Box.Port".to_owned(), "443".to_owned()),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Persistence

#[test]
fn state_holds_only_differences_and_restore_brings_them_back() {
    let (mut model, ..) = device();
    assert_eq!(
        model.state(),
        ModelState {
            version: ModelState::VERSION,
            ..ModelState::default()
        }
    );
    set_acs(
        &mut model,
        "Device.X_TEST_Box.Port",
        Value::UnsignedInt(8443),
    )
    .unwrap();
    model.set_parameter_key("key-1");
    model
        .set_attributes(&[attribute("Device.X_TEST_Box.Mode", Notification::Passive)])
        .unwrap();
    let n = model
        .add_object("Device.X_TEST_Box.Empty.", Origin::Acs)
        .unwrap();
    set_acs(
        &mut model,
        &format!("Device.X_TEST_Box.Empty.{n}.Note"),
        Value::from("x"),
    )
    .unwrap();
    set_acs(
        &mut model,
        "Device.X_TEST_Box.WanAddress",
        Value::from("192.0.2.3"),
    )
    .unwrap();
    let state = model.state();
    let json = serde_json::to_string(&state).unwrap();
    let state: ModelState = serde_json::from_str(&json).unwrap();
    let mut restored = DataModel::restore(profile(), &state);
    assert_eq!(restored.state(), model.state());
    assert_eq!(restored.parameter_key(), "key-1");
    assert_eq!(
        get(&restored, "Device.X_TEST_Box.Port"),
        Value::UnsignedInt(8443)
    );
    assert_eq!(
        get(&restored, "Device.X_TEST_Box.Empty.1.Note"),
        Value::from("x")
    );
    assert_eq!(
        restored
            .parameter_attributes("Device.X_TEST_Box.Mode")
            .unwrap()[0]
            .notification,
        Notification::Passive
    );
    assert_eq!(restored.take_deferred().len(), 1);
}

#[test]
fn restore_drops_what_the_profile_no_longer_has() {
    let mut state = ModelState::default();
    state
        .values
        .insert("Device.X_TEST_Box.Gone".into(), "1".into());
    state
        .values
        .insert("Device.X_TEST_Box.Port".into(), "not a number".into());
    state
        .values
        .insert("Device.X_TEST_Box.Keepalive".into(), "30".into());
    state.tables.insert(
        "Device.X_TEST_Box.Gone.".into(),
        TableState {
            next_instance: 3,
            instances: vec![1],
        },
    );
    let model = DataModel::restore(profile(), &state);
    assert_eq!(
        get(&model, "Device.X_TEST_Box.Port"),
        Value::UnsignedInt(443)
    );
    assert_eq!(
        get(&model, "Device.X_TEST_Box.Keepalive"),
        Value::UnsignedInt(30)
    );
    assert!(model.state().tables.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Profiles

fn profile_error(text: &str) -> ProfileError {
    Profile::from_toml(text, "bad.toml").unwrap_err()
}

#[test]
fn profile_value_out_of_range_names_file_line_field_and_range() {
    let err = profile_error(
        r#"
[[parameter]]
name = "Device.X_EXAMPLE_Cloud.Keepalive"
type = "unsignedInt"
writable = true
min = 10
max = 600
value = 700
"#,
    );
    assert_eq!(err.file, "bad.toml");
    assert_eq!(err.line, 8);
    assert!(
        err.field.contains("Device.X_EXAMPLE_Cloud.Keepalive"),
        "{err}"
    );
    assert!(err.field.contains("value"), "{err}");
    let text = err.to_string();
    assert!(text.contains("10..=600"), "{text}");
    assert!(text.starts_with("bad.toml:8:"), "{text}");
}

#[test]
fn profile_unknown_type_lists_the_allowed_types() {
    let err = profile_error(
        "[[parameter]]\nname = \"Device.X_A_B\"\ntype = \"strng\"\nwritable = true\n",
    );
    assert_eq!(err.line, 3);
    assert!(err.field.contains("type"));
    assert!(err.to_string().contains("unsignedInt"), "{err}");
}

#[test]
fn profile_vendor_parameters_must_declare_type_and_writable_and_use_tr106_names() {
    let err = profile_error("[[parameter]]\nname = \"Device.X_A_B\"\nwritable = true\n");
    assert!(
        matches!(err.kind, ProfileErrorKind::MissingType { .. }),
        "{err}"
    );
    let err = profile_error("[[parameter]]\nname = \"Device.X_A_B\"\ntype = \"string\"\n");
    assert!(
        matches!(
            err.kind,
            ProfileErrorKind::VendorMissing {
                field: "writable",
                ..
            }
        ),
        "{err}"
    );
    let err = profile_error(
        "[[parameter]]\nname = \"Device.X_Bad\"\ntype = \"string\"\nwritable = true\n",
    );
    assert!(
        matches!(err.kind, ProfileErrorKind::BadVendorName { .. }),
        "{err}"
    );
}

#[test]
fn profile_standard_name_without_type_needs_tr181_metadata() {
    let text = "[values]\n\"Device.DeviceInfo.Manufacturer\" = \"Acme\"\n";
    let standard = schemas::model::parameter("Device.DeviceInfo.Manufacturer");
    match (Profile::from_toml(text, "p.toml"), standard) {
        (Ok(p), Some(_)) => {
            let model = DataModel::new(Arc::new(p));
            assert_eq!(
                get(&model, "Device.DeviceInfo.Manufacturer"),
                Value::from("Acme")
            );
        }
        (Err(err), None) => {
            assert!(
                matches!(err.kind, ProfileErrorKind::MissingType { .. }),
                "{err}"
            );
            assert_eq!(err.line, 2);
        }
        (result, standard) => panic!("{result:?} with metadata {standard:?}"),
    }
}

#[test]
fn profile_syntax_and_unknown_fields_give_the_line() {
    let err = profile_error("[[parameter]]\nname = \"Device.X_A_B\"\ntype = \n");
    assert!(matches!(err.kind, ProfileErrorKind::Syntax(_)), "{err}");
    assert_eq!(err.line, 3);
    let err = profile_error(
        "[[parameter]]\nname = \"Device.X_A_B\"\ntype = \"string\"\nwritable = true\nwritabel = 1\n",
    );
    assert!(err.to_string().contains("writabel"), "{err}");
    assert!(err.line >= 1);
}

#[test]
fn profile_semantic_errors_name_the_field() {
    let base = "[[parameter]]\nname = \"Device.X_A_B\"\ntype = \"unsignedInt\"\nwritable = true\n";
    let cases = [
        ("notification = 9\n", "notification", "0..=6"),
        ("active_notify = \"loud\"\n", "active_notify", "canDeny"),
        ("apply = \"later\"\n", "apply", "deferred"),
        ("computed = \"weather\"\n", "computed", "uptime"),
        ("min = -1\n", "min", "0..=4294967295"),
        ("value = \"abc\"\n", "value", "unsignedInt"),
        ("value = 1.5\n", "value", "float"),
    ];
    for (extra, field, hint) in cases {
        let err = profile_error(&format!("{base}{extra}"));
        assert_eq!(err.line, 5, "{err}");
        assert!(err.field.contains(field), "{err}");
        assert!(err.to_string().contains(hint), "{err}");
    }
    let err = profile_error(&format!(
        "{base}[[parameter]]\nname = \"Device.X_A_B\"\ntype = \"string\"\nwritable = true\n"
    ));
    assert!(
        matches!(err.kind, ProfileErrorKind::Duplicate { first: 2 }),
        "{err}"
    );
    let err = profile_error(&format!(
        "{base}[[parameter]]\nname = \"Device.X_A_B.C\"\ntype = \"string\"\nwritable = true\n"
    ));
    assert!(matches!(err.kind, ProfileErrorKind::Shape(_)), "{err}");
    assert_eq!(err.line, 6, "{err}");
    let err = profile_error(
        "[[object]]\nname = \"Device.X_A_T.{i}.\"\nwritable = true\ninstances = [1, 1, 2]\nnext_instance = 2\n",
    );
    assert_eq!(err.line, 5, "{err}");
    assert!(err.to_string().contains("3.."), "{err}");
}

#[test]
fn default_gateway_profile_loads_with_the_cloud_management_defaults() {
    let profile = Arc::new(Profile::default_gateway());
    assert_eq!(profile.root(), "Device");
    let mut model = DataModel::new(profile);
    assert_eq!(
        get(&model, "Device.X_EXAMPLE_CloudManagement.ServerPort"),
        Value::UnsignedInt(443)
    );
    assert_eq!(
        get(&model, "Device.X_EXAMPLE_CloudManagement.KeepaliveInterval"),
        Value::UnsignedInt(180)
    );
    assert_eq!(
        get(&model, "Device.X_EXAMPLE_CloudManagement.PingInterval"),
        Value::UnsignedInt(60)
    );
    let err = set_acs(
        &mut model,
        "Device.X_EXAMPLE_CloudManagement.KeepaliveInterval",
        Value::UnsignedInt(601),
    )
    .unwrap_err();
    assert_eq!(err.errors[0].fault_code(), FaultCode::InvalidParameterValue);
    let code = "Device.X_EXAMPLE_CloudManagement.UnbindingCode";
    set_acs(&mut model, code, Value::String("unbind-42".into())).unwrap();
    assert_eq!(get(&model, code), Value::String("unbind-42".into()));
    let seen = model.parameter_values(code).unwrap();
    assert_eq!(seen[0].1, Value::String(String::new()), "write-only");
    let err = set_acs(
        &mut model,
        "Device.X_EXAMPLE_CloudManagement.Status.ConnectionState",
        Value::String("Established".into()),
    )
    .unwrap_err();
    assert_eq!(err.errors[0].fault_code(), FaultCode::NonWritableParameter);
    assert_eq!(
        get(&model, "Device.WiFi.SSIDNumberOfEntries"),
        Value::UnsignedInt(2)
    );
    assert_eq!(
        get(&model, "Device.IP.Interface.[wan].Name"),
        Value::from("eth0")
    );
    assert_eq!(
        names(&model, "Device.NAT.PortMapping.", true),
        Vec::<(String, bool)>::new()
    );
    assert_eq!(
        model.add_object("Device.NAT.PortMapping.", Origin::Acs),
        Ok(1)
    );
    assert_eq!(
        set_acs(
            &mut model,
            "Device.IP.Interface.1.IPv4Address.1.IPAddress",
            Value::from("198.51.100.2")
        ),
        Ok(Status::Pending)
    );
    let forced: Vec<String> = model
        .inform_parameters(&[])
        .into_iter()
        .map(|p| p.name)
        .collect();
    for name in [
        "Device.RootDataModelVersion",
        "Device.DeviceInfo.HardwareVersion",
        "Device.DeviceInfo.SoftwareVersion",
        "Device.DeviceInfo.ProvisioningCode",
        "Device.ManagementServer.ParameterKey",
        "Device.ManagementServer.ConnectionRequestURL",
        "Device.ManagementServer.AliasBasedAddressing",
    ] {
        assert!(forced.iter().any(|n| n == name), "{name} not forced");
    }
}

#[test]
fn load_picks_the_format_by_extension_and_reports_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let toml_path = dir.path().join("p.toml");
    std::fs::write(&toml_path, PROFILE).unwrap();
    assert_eq!(Profile::load(&toml_path).unwrap().name(), "test");
    let csv_path = dir.path().join("p.csv");
    std::fs::write(&csv_path, GENIEACS_CSV).unwrap();
    assert_eq!(
        Profile::load(&csv_path).unwrap().root(),
        "InternetGatewayDevice"
    );
    let err = Profile::load(dir.path().join("missing.toml")).unwrap_err();
    assert!(matches!(err.kind, ProfileErrorKind::Io(_)));
    assert_eq!(err.line, 0);
}

// ---------------------------------------------------------------------------------------------
// genieacs-sim CSV

const GENIEACS_CSV: &str = "\
Parameter,Object,Object timestamp,Writable,Writable timestamp,Value,Value type,Value timestamp,Notification,Notification timestamp,Access list,Access list timestamp
DeviceID.Manufacturer,false,,false,,\"Huawei Technologies Co., Ltd.\",xsd:string,,,,,
Tags.lab,false,,true,,true,xsd:boolean,,,,,
InternetGatewayDevice,true,,false,,,,,,,,
InternetGatewayDevice.DeviceInfo,true,,false,,,,,,,,
InternetGatewayDevice.DeviceInfo.Manufacturer,false,,false,,\"Huawei Technologies Co., Ltd.\",xsd:string,,0,,,
InternetGatewayDevice.DeviceInfo.SoftwareVersion,false,,false,,V100R001,xsd:string,,2,,,
InternetGatewayDevice.DeviceInfo.UpTime,false,,false,,213138,xsd:unsignedInt,,0,,,
InternetGatewayDevice.DeviceInfo.ProvisioningCode,false,,true,,,xsd:string,,,,,
InternetGatewayDevice.ManagementServer,true,,false,,,,,,,,
InternetGatewayDevice.ManagementServer.ParameterKey,false,,false,,boot-key,xsd:string,,,,,
InternetGatewayDevice.ManagementServer.PeriodicInformInterval,false,,true,,300,xsd:unsignedInt,,1,,Subscriber,
InternetGatewayDevice.LANDevice,true,,false,,,,,,,,
InternetGatewayDevice.LANDevice.1,true,,false,,,,,,,,
InternetGatewayDevice.LANDevice.1.Hosts,true,,false,,,,,,,,
InternetGatewayDevice.LANDevice.1.Hosts.HostNumberOfEntries,false,,false,,2,xsd:unsignedInt,,,,,
InternetGatewayDevice.LANDevice.1.Hosts.Host,true,,false,,,,,,,,
InternetGatewayDevice.LANDevice.1.Hosts.Host.1,true,,false,,,,,,,,
InternetGatewayDevice.LANDevice.1.Hosts.Host.1.HostName,false,,false,,android-1,xsd:string,,,,,
InternetGatewayDevice.LANDevice.1.Hosts.Host.1.LeaseTimeRemaining,false,,false,,65444,xsd:int,,,,,
InternetGatewayDevice.LANDevice.1.Hosts.Host.2,true,,false,,,,,,,,
InternetGatewayDevice.LANDevice.1.Hosts.Host.2.HostName,false,,false,,Lena-PC,xsd:string,,,,,
InternetGatewayDevice.LANDevice.1.Hosts.Host.2.LeaseTimeRemaining,false,,false,,,,,,,,
InternetGatewayDevice.LANDevice.1.Hosts.X_HUAWEI_Host,true,,true,,,,,,,,
InternetGatewayDevice.LANDevice.1.LANHostConfigManagement,true,,false,,,,,,,,
InternetGatewayDevice.LANDevice.1.LANHostConfigManagement.DHCPConditionalServingPool,true,,true,,,,,,,,
InternetGatewayDevice.LANDevice.1.LANHostConfigManagement.DHCPConditionalServingPool.1,true,,true,,,,,,,,
InternetGatewayDevice.LANDevice.1.LANHostConfigManagement.DHCPConditionalServingPool.1.Enable,false,,true,,true,xsd:boolean,,,,,
InternetGatewayDevice.LANDevice.1.LANHostConfigManagement.DHCPConditionalServingPool.1.VendorClassID,false,,true,,STB,xsd:string,,,,,
";

#[test]
fn genieacs_csv_loads_objects_tables_instances_types_and_attributes() {
    let profile = Arc::new(Profile::from_genieacs_csv(GENIEACS_CSV, "dm.csv").unwrap());
    assert_eq!(profile.root(), "InternetGatewayDevice");
    let mut model = DataModel::new(profile).with_commands(Arc::new(NoCommands));
    assert_eq!(
        get(&model, "InternetGatewayDevice.DeviceInfo.Manufacturer"),
        Value::from("Huawei Technologies Co., Ltd.")
    );
    assert_eq!(
        get(
            &model,
            "InternetGatewayDevice.LANDevice.1.Hosts.Host.1.LeaseTimeRemaining"
        ),
        Value::Int(65444)
    );
    assert_eq!(
        get(
            &model,
            "InternetGatewayDevice.LANDevice.1.Hosts.Host.2.LeaseTimeRemaining"
        ),
        Value::Int(0)
    );
    assert_eq!(model.parameter_key(), "boot-key");
    assert_eq!(
        get(
            &model,
            "InternetGatewayDevice.LANDevice.1.Hosts.HostNumberOfEntries"
        ),
        Value::UnsignedInt(2)
    );
    assert!(model.value("DeviceID.Manufacturer").is_err());
    assert_eq!(
        names(
            &model,
            "InternetGatewayDevice.LANDevice.1.Hosts.Host.",
            true
        ),
        [
            (
                "InternetGatewayDevice.LANDevice.1.Hosts.Host.1.".to_owned(),
                false
            ),
            (
                "InternetGatewayDevice.LANDevice.1.Hosts.Host.2.".to_owned(),
                false
            ),
        ]
    );
    let pools =
        "InternetGatewayDevice.LANDevice.1.LANHostConfigManagement.DHCPConditionalServingPool.";
    assert_eq!(names(&model, pools, false)[0], (pools.to_owned(), true));
    assert_eq!(model.add_object(pools, Origin::Acs), Ok(2));
    assert_eq!(
        get(&model, &format!("{pools}2.Enable")),
        Value::Boolean(false)
    );
    assert_eq!(
        model.add_object(
            "InternetGatewayDevice.LANDevice.1.Hosts.X_HUAWEI_Host.",
            Origin::Acs
        ),
        Ok(1)
    );
    let attributes = model
        .parameter_attributes("InternetGatewayDevice.ManagementServer.PeriodicInformInterval")
        .unwrap();
    assert_eq!(attributes[0].notification, Notification::Passive);
    assert_eq!(attributes[0].access_list, ["Subscriber"]);
    let version = model
        .parameter_attributes("InternetGatewayDevice.DeviceInfo.SoftwareVersion")
        .unwrap();
    assert_eq!(version[0].notification, Notification::Active);
    let err = set_acs(
        &mut model,
        "InternetGatewayDevice.DeviceInfo.UpTime",
        Value::UnsignedInt(1),
    )
    .unwrap_err();
    assert_eq!(err.errors[0].fault_code(), FaultCode::NonWritableParameter);
}

#[test]
fn genieacs_csv_errors_name_the_line_and_column() {
    let header = "Parameter,Object,Writable,Value,Value type\n";
    let cases = [
        (
            format!("{header}InternetGatewayDevice.A,maybe,false,,\n"),
            2,
            "Object",
        ),
        (
            format!("{header}InternetGatewayDevice.A,false,false,abc,xsd:unsignedInt\n"),
            2,
            "Value",
        ),
        (
            format!("{header}InternetGatewayDevice.A,false,false,1,xsd:float\n"),
            2,
            "Value type",
        ),
        (
            format!(
                "{header}InternetGatewayDevice.T.1.A,false,false,1,xsd:int\nInternetGatewayDevice.T.2.A,false,false,x,xsd:string\n"
            ),
            3,
            "Value type",
        ),
        ("Parameter,Object,Value\n".to_owned(), 1, "CSV header"),
        (
            format!("{header}\"InternetGatewayDevice.A,false\n"),
            2,
            "CSV",
        ),
    ];
    for (text, line, field) in cases {
        let err = Profile::from_genieacs_csv(&text, "dm.csv").unwrap_err();
        assert_eq!(err.line, line, "{err}");
        assert!(err.field.contains(field), "{err}");
        assert!(
            err.to_string().starts_with(&format!("dm.csv:{line}:")),
            "{err}"
        );
    }
}

#[test]
fn a_fresh_device_is_small_and_shares_its_profile() {
    let shared = profile();
    let devices: Vec<DataModel> = (0..1000)
        .map(|_| DataModel::new(Arc::clone(&shared)))
        .collect();
    assert_eq!(Arc::strong_count(&shared), 1001);
    assert!(size_of::<DataModel>() <= 512, "{}", size_of::<DataModel>());
    assert!(devices.iter().all(|d| d.state().values.is_empty()));
}
