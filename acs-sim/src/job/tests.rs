use std::sync::Arc;

use schemas::Body;
use schemas::rpc::types::{ParameterInfoStruct, ParameterValueStruct};
use schemas::rpc::{
    FaultCode, GetParameterNamesResponse, GetParameterValuesResponse, SetParameterValuesResponse,
    SoapFault,
};
use schemas::soap::CwmpNamespace;
use serde_json::json;

use super::task::build;
use super::{Answer, Discovery, Effects, GPV_BATCH, Job, Step};
use crate::acs::{Acs, AcsConfig};
use crate::files::FileStore;
use crate::scenario::Scenario;
use crate::store::{DeviceId, FileMeta, MemoryStore, Store, Task, TaskId, TaskName, TaskStatus};

fn acs(dir: &tempfile::TempDir) -> Arc<Acs> {
    let store = Arc::new(MemoryStore::new());
    store
        .put_file(&FileMeta {
            name: "fw 1.bin".to_owned(),
            file_type: "1 Firmware Upgrade Image".to_owned(),
            oui: String::new(),
            product_class: String::new(),
            version: "2.0".to_owned(),
            size: 1234,
            path: "fw".to_owned(),
        })
        .unwrap();
    Acs::new(
        store,
        AcsConfig::default(),
        Scenario::default(),
        FileStore::new(dir.path()).unwrap(),
    )
}

fn task(name: TaskName, arguments: serde_json::Value) -> Task {
    Task {
        id: "0123456789abcdef01234567".parse::<TaskId>().unwrap(),
        device: DeviceId::new("000000", "Box", "S1"),
        name,
        arguments,
        timestamp: 0,
        status: TaskStatus::InProgress,
        retries: 0,
        attempts: 0,
    }
}

/// The first request of `job`, written as an envelope.
fn first(job: &mut dyn Job) -> Body {
    match job.step(None, &mut Effects::default()) {
        Step::Send(body) => body,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn envelope(body: Body) -> Vec<u8> {
    schemas::Envelope::new(CwmpNamespace::V1_2, body)
        .with_id("1")
        .write()
}

#[test]
fn every_task_name_builds_a_valid_request() {
    let dir = tempfile::tempdir().unwrap();
    let acs = acs(&dir);
    let cases = [
        (
            TaskName::GetParameterValues,
            json!({"parameterNames": ["Device.DeviceInfo.SoftwareVersion"]}),
            "GetParameterValues",
        ),
        (
            TaskName::RefreshObject,
            json!({"objectName": "Device.DeviceInfo."}),
            "GetParameterNames",
        ),
        (
            TaskName::SetParameterValues,
            json!({"parameterValues": [["Device.X", "a"], ["Device.Y", 5, "xsd:unsignedInt"], ["Device.Z", true]]}),
            "SetParameterValues",
        ),
        (
            TaskName::SetAcsUrl,
            json!({"url": "http://acs2/"}),
            "SetParameterValues",
        ),
        (
            TaskName::AddObject,
            json!({"objectName": "Device.IP.Interface"}),
            "AddObject",
        ),
        (
            TaskName::DeleteObject,
            json!({"objectName": "Device.IP.Interface.2."}),
            "DeleteObject",
        ),
        (TaskName::Reboot, json!({}), "Reboot"),
        (TaskName::FactoryReset, json!({}), "FactoryReset"),
        (TaskName::Download, json!({"file": "fw 1.bin"}), "Download"),
        (
            TaskName::Upload,
            json!({"fileType": "1 Vendor Configuration File"}),
            "Upload",
        ),
        (
            TaskName::GetParameterAttributes,
            json!({"parameterNames": ["Device.X"]}),
            "GetParameterAttributes",
        ),
        (
            TaskName::SetParameterAttributes,
            json!({"parameterAttributes": [{"name": "Device.X", "notification": 2}]}),
            "SetParameterAttributes",
        ),
        (
            TaskName::ScheduleInform,
            json!({"delaySeconds": 5}),
            "ScheduleInform",
        ),
    ];
    assert_eq!(cases.len(), TaskName::ALL.len());
    let mut envelopes = Vec::new();
    for (name, args, request) in cases {
        let mut job = build(&task(name, args), &acs, "Device.", false).unwrap();
        let body = first(job.as_mut());
        assert_eq!(body.name(), request, "{name}");
        envelopes.push(envelope(body));
    }
    schemas::testing::validate_envelopes(&envelopes);
}

#[test]
fn download_is_filled_from_the_file_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let acs = acs(&dir);
    let mut job = build(
        &task(TaskName::Download, json!({"file": "fw 1.bin"})),
        &acs,
        "Device.",
        false,
    )
    .unwrap();
    let Body::Download(download) = first(job.as_mut()) else {
        panic!("not a Download")
    };
    assert_eq!(download.url, "http://127.0.0.1:7567/fw%201.bin");
    assert_eq!(download.file_size, 1234);
    assert_eq!(download.file_type, "1 Firmware Upgrade Image");
    assert_eq!(download.command_key.as_str(), "0123456789abcdef01234567");
}

#[test]
fn bad_arguments_fault_the_task_and_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let acs = acs(&dir);
    let cases = [
        (
            TaskName::GetParameterValues,
            json!({"parameterNames": "Device."}),
            "\"parameterNames\" must be an array of strings",
        ),
        (
            TaskName::SetParameterValues,
            json!({"parameterValues": [["Device.X"]]}),
            "parameterValues[0] must be [name, value] or [name, value, type]",
        ),
        (
            TaskName::Download,
            json!({"file": "missing"}),
            "no file named \"missing\" on the ACS",
        ),
        (
            TaskName::Download,
            json!({}),
            "download needs a file name (\"file\")",
        ),
        (TaskName::SetAcsUrl, json!({}), "missing \"url\""),
        (
            TaskName::ScheduleInform,
            json!({"delaySeconds": 5_000_000_000u64}),
            "delaySeconds must be 0..=4294967295, got 5000000000",
        ),
        (
            TaskName::SetParameterAttributes,
            json!({"parameterAttributes": [{"name": "X", "notification": 9}]}),
            "parameterAttributes[0].notification must be 0..=6",
        ),
    ];
    for (name, args, message) in cases {
        let fault = build(&task(name, args), &acs, "Device.", false)
            .err()
            .unwrap();
        assert_eq!(
            (fault.code.as_str(), fault.message.as_str()),
            ("invalid_arguments", message)
        );
    }
}

#[test]
fn set_parameter_values_keeps_the_values_only_once_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let acs = acs(&dir);
    let args = json!({"parameterValues": [["Device.X", "a"]]});
    let mut effects = Effects::default();
    let mut job = build(
        &task(TaskName::SetParameterValues, args.clone()),
        &acs,
        "Device.",
        false,
    )
    .unwrap();
    first(job.as_mut());
    let fault = SoapFault::from(schemas::rpc::Fault::new(FaultCode::from_code(9003)));
    let Step::Failed(failed) = job.step(Some(Answer::Fault(fault)), &mut effects) else {
        panic!()
    };
    assert_eq!(failed.code, "cwmp.9003");
    assert!(effects.parameters.is_empty());

    let mut job = build(
        &task(TaskName::SetParameterValues, args),
        &acs,
        "Device.",
        false,
    )
    .unwrap();
    first(job.as_mut());
    let ok = Body::from(SetParameterValuesResponse::default());
    assert_eq!(
        job.step(Some(Answer::Response(ok)), &mut effects),
        Step::Done
    );
    assert_eq!(effects.parameters[0].name, "Device.X");
}

#[test]
fn discovery_expands_partial_paths_then_reads_in_batches() {
    let mut job = Discovery::new("refresh", ["Device.".to_owned()], false);
    let mut effects = Effects::default();
    let Step::Send(Body::GetParameterNames(gpn)) = job.step(None, &mut effects) else {
        panic!()
    };
    assert_eq!(
        (gpn.parameter_path.as_str(), gpn.next_level),
        ("Device.", false)
    );
    let names: Vec<_> = (0..70).map(|i| format!("Device.P{i}")).collect();
    let mut list: Vec<_> = names
        .iter()
        .map(|n| ParameterInfoStruct {
            name: n.clone(),
            writable: false,
        })
        .collect();
    list.push(ParameterInfoStruct {
        name: "Device.Obj.".to_owned(),
        writable: false,
    });
    let mut answer = Answer::Response(
        GetParameterNamesResponse {
            parameter_list: list,
        }
        .into(),
    );
    let mut batches = Vec::new();
    loop {
        match job.step(Some(answer), &mut effects) {
            Step::Send(Body::GetParameterValues(gpv)) => {
                assert!(gpv.parameter_names.iter().all(|n| !n.ends_with('.')));
                batches.push(gpv.parameter_names.len());
                let values = gpv
                    .parameter_names
                    .iter()
                    .map(|n| ParameterValueStruct::new(n.clone(), "v"))
                    .collect();
                answer = Answer::Response(
                    GetParameterValuesResponse {
                        parameter_list: values,
                    }
                    .into(),
                );
            }
            Step::Done => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(batches, [GPV_BATCH, GPV_BATCH, 70 - 2 * GPV_BATCH]);
    assert_eq!(effects.parameters.len(), 70);
}

#[test]
fn discovery_sends_partial_paths_as_they_are_when_the_device_takes_them() {
    let mut job = Discovery::new("gpv", ["Device.DeviceInfo.".to_owned()], true);
    let Step::Send(Body::GetParameterValues(gpv)) = job.step(None, &mut Effects::default()) else {
        panic!()
    };
    assert_eq!(gpv.parameter_names, ["Device.DeviceInfo."]);
}

#[test]
fn a_wrong_response_type_fails_the_job() {
    let mut job = Discovery::new("gpv", ["Device.X".to_owned()], false);
    let mut effects = Effects::default();
    job.step(None, &mut effects);
    let wrong = Answer::Response(SetParameterValuesResponse::default().into());
    let Step::Failed(fault) = job.step(Some(wrong), &mut effects) else {
        panic!()
    };
    assert_eq!(fault.code, "invalid_response");
}
