//! Every real-world message under `../shared/cwmp-samples/` is read: each yields the message
//! its file holds (checked field by field where the file is known for a quirk), or, for the
//! one that is not SOAP at all, a typed error naming what is wrong.

use std::path::{Path, PathBuf};

/// The workspace's test helpers (the `testing` feature, which this package's own tests cannot
/// switch on); this test uses its capture reader.
#[path = "../src/testing.rs"]
#[allow(dead_code, unreachable_pub)]
mod testing;

use schemas::rpc::types::{Notification, Status};
use schemas::rpc::{EventCode, FaultCode, FaultKind};
use schemas::soap::{CwmpNamespace, CwmpVersion};
use schemas::value::{DateTime, Value};
use schemas::{Body, Envelope, SoapError};

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/cwmp-samples")
}

/// The HTTP body of a capture (`.txt`: start line, headers, blank line, body) or a whole
/// `.xml` file.
fn envelope_bytes(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "xml") {
        return raw;
    }
    testing::http_body(&raw)
}

fn all_samples() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "xml" || e == "txt") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&samples_dir(), &mut out);
    out.sort();
    out
}

/// What each sample must read as: the body's element name and, where the file is known for a
/// quirk, the fields that show the quirk was read right.
fn check(name: &str, env: &Envelope) {
    let b = &env.body;
    match name {
        "clj.tr069/AutonomousTransferComplete.xml" => {
            let Body::AutonomousTransferComplete(m) = b else {
                panic!("{b:?}")
            };
            // FaultCode 9999 is outside the schema; read as a code all the same.
            assert_eq!(m.fault_struct.fault_code, 9999);
        }
        "clj.tr069/GetParameterAttributesResponse.xml" => {
            let Body::GetParameterAttributesResponse(m) = b else {
                panic!("{b:?}")
            };
            // Namespace-qualified `cwmp:ParameterAttributeStruct` items are read too.
            assert_eq!(m.parameter_list.len(), 2);
            assert_eq!(m.parameter_list[1].name, "YouAndMe");
            assert_eq!(m.parameter_list[1].notification, Notification::Active);
            assert_eq!(m.parameter_list[1].access_list, ["Subscriber"]);
            assert_eq!(env.namespace, CwmpNamespace::V1_1);
        }
        "clj.tr069/fault-spv-with-SetParameterValuesFault.xml" => {
            let Body::Fault(f) = b else { panic!("{b:?}") };
            assert_eq!(f.kind, FaultKind::Server);
            let detail = f.detail.as_ref().unwrap();
            assert_eq!(detail.fault_code, FaultCode::InvalidParameterName);
            let spv = &detail.set_parameter_values_fault;
            assert_eq!(spv.len(), 2);
            assert_eq!(
                spv[1].parameter_name,
                "InternetGatewayDevice.DeviceInfo.Bar"
            );
            assert_eq!(spv[1].fault_code, FaultCode::InvalidParameterType);
            assert_eq!(env.namespace, CwmpNamespace::V1_1);
        }
        "clj.tr069/inform-cwmp-1-1-HoldRequest.xml" => {
            let Body::Inform(m) = b else { panic!("{b:?}") };
            assert_eq!(env.namespace, CwmpNamespace::V1_1);
            assert_eq!(env.version(), CwmpVersion::V1_1);
            // `HoldRequest` (sic) is read as HoldRequests.
            assert!(env.header.hold_requests.is_some());
            assert_eq!(m.event[0].event_code, EventCode::Bootstrap);
            assert_eq!(m.current_time.offset_minutes(), Some(8 * 60));
        }
        "cwmp_ex/autonomous_transfer_complete.xml" => {
            let Body::AutonomousTransferComplete(m) = b else {
                panic!("{b:?}")
            };
            assert_eq!(m.fault_struct.fault(), None);
            assert_eq!(env.namespace, CwmpNamespace::V1_0);
        }
        "cwmp_ex/fault.xml" => {
            let Body::Fault(f) = b else { panic!("{b:?}") };
            assert_eq!(
                f.detail.as_ref().unwrap().fault_code,
                FaultCode::InvalidParameterName
            );
        }
        "cwmp_ex/get_parameter_attributes_response.xml" => {
            let Body::GetParameterAttributesResponse(m) = b else {
                panic!("{b:?}")
            };
            assert!(!m.parameter_list.is_empty());
        }
        "cwmp_ex/get_parameter_names_response.xml" | "freeacs/GetParameterNamesResponse.xml" => {
            let Body::GetParameterNamesResponse(m) = b else {
                panic!("{b:?}")
            };
            assert!(!m.parameter_list.is_empty());
            assert!(m.parameter_list.iter().all(|p| !p.name.is_empty()));
        }
        "cwmp_ex/get_parameter_values_response.xml" | "freeacs/GetParameterValuesResponse.xml" => {
            // `xsi:type="SOAP-ENC:Array"` on the list is tolerated.
            let Body::GetParameterValuesResponse(m) = b else {
                panic!("{b:?}")
            };
            assert!(!m.parameter_list.is_empty());
            assert!(m.parameter_list.iter().all(|p| !p.name.is_empty()));
        }
        "cwmp_ex/get_rpc_methods_response.xml" => {
            let Body::GetRPCMethodsResponse(m) = b else {
                panic!("{b:?}")
            };
            assert_eq!(m.method_list.len(), 14);
            assert!(m.method_list.iter().any(|n| n == "GetParameterValues"));
        }
        "cwmp_ex/inform-cytco-invalid-CurrentTime.xml" => {
            let Body::Inform(m) = b else { panic!("{b:?}") };
            // `2019-03-05T11:54::14` is tolerated as the Unknown Time.
            assert!(m.current_time.is_unknown());
        }
        "cwmp_ex/inform-motorola-VAP2404E.xml" => {
            let Body::Inform(m) = b else { panic!("{b:?}") };
            assert_eq!(m.current_time.offset_minutes(), Some(-7 * 60));
            assert!(!m.device_id.serial_number.is_empty());
        }
        "cwmp_ex/inform-sagemcom-tr181.xml" => {
            let Body::Inform(m) = b else { panic!("{b:?}") };
            assert!(
                m.parameter_list
                    .iter()
                    .any(|p| p.name.starts_with("Device."))
            );
        }
        "cwmp_ex/inform-zyxel-P-2601HN-F1-tr098.xml" => {
            let Body::Inform(m) = b else { panic!("{b:?}") };
            // A local time with no zone.
            assert_eq!(m.current_time.offset_minutes(), None);
            assert_eq!(m.current_time.to_string(), "2015-01-19T23:08:24");
            assert!(
                m.parameter_list
                    .iter()
                    .any(|p| p.name.starts_with("InternetGatewayDevice."))
            );
        }
        "cwmp_ex/inform-zyxel-VMG8924-B10A-connreq.xml" => {
            let Body::Inform(m) = b else { panic!("{b:?}") };
            assert!(
                m.event
                    .iter()
                    .any(|e| e.event_code == EventCode::ConnectionRequest)
            );
            assert_eq!(m.current_time.offset_minutes(), Some(60));
        }
        "cwmp_ex/kicked.xml" => {
            let Body::Kicked(m) = b else { panic!("{b:?}") };
            assert_eq!(
                (m.command.as_str(), m.next.as_str()),
                ("cmd", "http://example.com/next")
            );
        }
        "cwmp_ex/request_download.xml" => {
            let Body::RequestDownload(m) = b else {
                panic!("{b:?}")
            };
            assert_eq!(m.file_type, "2 Web Content");
            assert_eq!(m.file_type_arg[0].value, "v2.0");
        }
        "cwmp_ex/transfer_complete.xml" => {
            let Body::TransferComplete(m) = b else {
                panic!("{b:?}")
            };
            assert_eq!(m.command_key.as_str(), "AutoconfFirmwareUpgrade");
            assert_eq!(m.fault_struct.fault(), None);
            assert_eq!(
                m.complete_time.unix_seconds() - m.start_time.unix_seconds(),
                77
            );
        }
        "freeacs/GetRPCMethods.xml" => assert!(matches!(b, Body::GetRPCMethods(_)), "{b:?}"),
        "freeacs/inform-cwmp-1-2-bootstrap-boot-valuechange.xml" => {
            let Body::Inform(m) = b else { panic!("{b:?}") };
            assert_eq!(env.namespace, CwmpNamespace::V1_2);
            let codes: Vec<_> = m.event.iter().map(|e| e.event_code.clone()).collect();
            assert_eq!(
                codes,
                [
                    EventCode::Bootstrap,
                    EventCode::Boot,
                    EventCode::ValueChange
                ]
            );
            // A 34-character CommandKey: read, and known not to fit the schema.
            assert_eq!(m.event[0].command_key.as_str().len(), 34);
            assert!(!m.event[0].command_key.is_conformant());
            assert!(m.current_time.unix_seconds() < 86_400 * 365);
        }
        "malformed/acs-GPV-non-cwmp-prefix-crashes-genieacs-sim.txt" => {
            // The RPC element uses prefix `c:` bound on itself: matched by namespace.
            let Body::GetParameterValues(m) = b else {
                panic!("{b:?}")
            };
            assert_eq!(
                m.parameter_names,
                ["InternetGatewayDevice.DeviceInfo.UpTime"]
            );
        }
        "malformed/acs-GPV-partial-path-crashes-genieacs-sim.txt" => {
            let Body::GetParameterValues(m) = b else {
                panic!("{b:?}")
            };
            assert!(m.parameter_names[0].ends_with('.'));
        }
        "malformed/acs-GPV-unknown-param-crashes-genieacs-sim.txt" => {
            assert!(matches!(b, Body::GetParameterValues(_)), "{b:?}");
        }
        "peers/acsrs-acs/02-acs-SPV-bootstrap-ConnectionRequest-credentials.txt" => {
            let Body::SetParameterValues(m) = b else {
                panic!("{b:?}")
            };
            assert_eq!(m.parameter_key.as_str(), "1");
            assert!(
                m.parameter_list
                    .iter()
                    .any(|p| p.name.ends_with("ConnectionRequestUsername"))
            );
        }
        "peers/genieacs-acs/01-cpe-Inform.txt"
        | "peers/genieacs-sim-cpe/01-cpe-Inform-2PERIODIC.txt" => {
            let Body::Inform(m) = b else { panic!("{b:?}") };
            assert!(m.event.iter().any(|e| e.event_code == EventCode::Periodic));
            // arrayType says 16; what follows is read, whatever the count claims.
            assert!(!m.parameter_list.is_empty());
            assert!(matches!(m.parameter_list[0].value, Value::String(_)));
        }
        "peers/genieacs-acs/08-acs-SetParameterValues.txt" => {
            let Body::SetParameterValues(m) = b else {
                panic!("{b:?}")
            };
            assert_eq!(m.parameter_key.as_str(), "");
            assert!(!m.parameter_list.is_empty());
        }
        "peers/genieacs-acs/09-acs-AddObject.txt"
        | "peers/genieacs-sim-cpe/10-acs-AddObject.txt" => {
            let Body::AddObject(m) = b else {
                panic!("{b:?}")
            };
            assert!(m.object_name.ends_with('.'));
        }
        "peers/genieacs-acs/10-acs-DeleteObject.txt"
        | "peers/genieacs-sim-cpe/12-acs-DeleteObject.txt" => {
            let Body::DeleteObject(m) = b else {
                panic!("{b:?}")
            };
            assert!(m.object_name.ends_with('.'));
        }
        "peers/genieacs-acs/12-acs-Download.txt" | "peers/genieacs-sim-cpe/16-acs-Download.txt" => {
            let Body::Download(m) = b else {
                panic!("{b:?}")
            };
            assert!(m.url.starts_with("http"));
            assert!(!m.file_type.is_empty());
        }
        "peers/genieacs-acs/13-cpe-TransferComplete.txt"
        | "peers/genieacs-sim-cpe/20-cpe-TransferComplete.txt" => {
            assert!(matches!(b, Body::TransferComplete(_)), "{b:?}");
        }
        "peers/genieacs-sim-cpe/11-cpe-AddObjectResponse.txt" => {
            let Body::AddObjectResponse(m) = b else {
                panic!("{b:?}")
            };
            assert!(m.instance_number > 0);
        }
        "peers/genieacs-sim-cpe/15-cpe-Fault-9000-to-Reboot.txt" => {
            let Body::Fault(f) = b else { panic!("{b:?}") };
            assert_eq!(
                f.detail.as_ref().unwrap().fault_code,
                FaultCode::MethodNotSupported
            );
        }
        "peers/genieacs-sim-cpe/17-cpe-DownloadResponse.txt" => {
            let Body::DownloadResponse(m) = b else {
                panic!("{b:?}")
            };
            assert_eq!(m.status, Status::Pending);
        }
        "peers/genieacs-sim-cpe/19-cpe-Inform-6CONNECTION_REQUEST.txt" => {
            let Body::Inform(m) = b else { panic!("{b:?}") };
            assert!(
                m.event
                    .iter()
                    .any(|e| e.event_code == EventCode::ConnectionRequest)
            );
        }
        other => {
            // The rest are named after their message: `NN-side-<Message>[-note].txt`.
            let stem = other.rsplit('/').next().unwrap().trim_end_matches(".txt");
            let message = stem.split('-').nth(2).unwrap();
            assert_eq!(b.name(), message, "{other}");
        }
    }
}

#[test]
fn every_sample_reads_as_its_message_or_a_typed_error() {
    let root = samples_dir();
    let files = all_samples();
    assert!(
        files.len() >= 50,
        "found only {} samples under {}",
        files.len(),
        root.display()
    );
    let (mut messages, mut empty) = (0, 0);
    for path in &files {
        let name = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = envelope_bytes(path);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            // An empty POST or a 204: no envelope to read.
            let raw = std::fs::read(path).unwrap();
            let no_content = raw.starts_with(b"HTTP/1.1 204") || raw.starts_with(b"POST ");
            assert!(
                no_content,
                "{name} has an empty body but is neither a 204 nor a POST"
            );
            empty += 1;
            continue;
        }
        let result = Envelope::parse(&bytes);
        if name == "malformed/cwmpclient-0.0.1b0-Inform-no-soap-ns.txt" {
            let err = result.expect_err("an Envelope in no namespace is not SOAP");
            assert_eq!(
                err,
                SoapError::NotSoapEnvelope {
                    name: "Envelope".into(),
                    namespace: "none".into()
                }
            );
            assert!(err.to_string().contains("not a SOAP 1.1 Envelope"), "{err}");
            continue;
        }
        let env = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        check(&name, &env);
        messages += 1;
    }
    assert_eq!(messages + empty + 1, files.len());
}

#[test]
fn every_sample_written_back_reads_the_same() {
    for path in all_samples() {
        let Ok(env) = Envelope::parse(&envelope_bytes(&path)) else {
            continue;
        };
        let again = Envelope::parse(&env.write()).unwrap();
        // The written form is a fixed point of read-then-write.
        assert_eq!(again.write(), env.write(), "{}", path.display());
        // Values survive unless they were read leniently into a different shape.
        if !format!("{env:?}").contains("Invalid") {
            assert_eq!(again.body, env.body, "{}", path.display());
        }
    }
}

#[test]
fn the_unknown_time_reads_as_itself() {
    assert!(
        "0001-01-01T00:00:00Z"
            .parse::<DateTime>()
            .unwrap()
            .is_unknown()
    );
}
