//! One realistic, canonical envelope per message type, CPE->ACS and ACS->CPE.

use std::path::{Path, PathBuf};

use schemas::rpc::du::*;
use schemas::rpc::types::*;
use schemas::rpc::*;
use schemas::soap::{CwmpNamespace, CwmpVersion};
use schemas::value::{DateTime, Value};
use schemas::{Body, Envelope};

fn key<K: std::str::FromStr>(s: &str) -> K
where
    K::Err: std::fmt::Debug,
{
    s.parse().expect("sample keys fit 32 characters")
}

fn time(secs: i64) -> DateTime {
    DateTime::from_unix(secs, 0).expect("sample times are in range")
}

const T0: i64 = 1_795_000_000;
const UUID: &str = "6f1c2a3e-1b2c-4d5e-8f90-123456789abc";

fn transfer_fault() -> TransferCompleteFaultStruct {
    TransferCompleteFaultStruct::failure(FaultCode::FileServerUnreachable)
}

fn op_result() -> OpResultStruct {
    OpResultStruct {
        uuid: UUID.into(),
        deployment_unit_ref: "Device.SoftwareModules.DeploymentUnit.1.".into(),
        version: "1.2.0".into(),
        current_state: DeploymentUnitState::Installed,
        resolved: true,
        execution_unit_ref_list: "Device.SoftwareModules.ExecutionUnit.1.".into(),
        start_time: time(T0),
        complete_time: time(T0 + 12),
        fault: DeploymentUnitFaultStruct::default(),
    }
}

/// Every message, with the values a real session would carry.
pub(crate) fn all() -> Vec<Body> {
    let inform = Inform {
        device_id: DeviceIdStruct {
            manufacturer: "Example Networks".into(),
            oui: "00D09E".into(),
            product_class: "HGW-1000".into(),
            serial_number: "EX0123456789".into(),
        },
        event: vec![
            EventStruct::new(EventCode::Bootstrap),
            EventStruct::new(EventCode::Boot),
            EventStruct {
                event_code: EventCode::Method("Reboot".into()),
                command_key: key("reboot-42"),
            },
        ],
        max_envelopes: 1,
        current_time: "2026-11-22T21:37:08.695+01:00".parse().expect("valid time"),
        retry_count: 0,
        parameter_list: vec![
            ParameterValueStruct::new("Device.RootDataModelVersion", "2.17"),
            ParameterValueStruct::new("Device.DeviceInfo.HardwareVersion", "rev-B"),
            ParameterValueStruct::new("Device.DeviceInfo.SoftwareVersion", "4.2.1 <beta & co>"),
            ParameterValueStruct::new("Device.DeviceInfo.UpTime", Value::UnsignedInt(3600)),
            ParameterValueStruct::new("Device.ManagementServer.ParameterKey", ""),
            ParameterValueStruct::new(
                "Device.ManagementServer.ConnectionRequestURL",
                "http://192.0.2.10:7547/cr-5f3a",
            ),
            ParameterValueStruct::new("Device.ManagementServer.AliasBasedAddressing", false),
        ],
    };
    let spv = SetParameterValues {
        parameter_list: vec![
            ParameterValueStruct::new("Device.ManagementServer.PeriodicInformEnable", true),
            ParameterValueStruct::new("Device.ManagementServer.PeriodicInformInterval", 300u32),
            ParameterValueStruct::new("Device.Time.LocalTimeZone", "CET-1CEST,M3.5.0,M10.5.0/3"),
            ParameterValueStruct::new("Device.X_00D09E_Offset", Value::Int(-5)),
            ParameterValueStruct::new("Device.X_00D09E_Bytes", Value::Long(-9_000_000_000)),
            ParameterValueStruct::new("Device.X_00D09E_Total", Value::UnsignedLong(u64::MAX)),
            ParameterValueStruct::new("Device.X_00D09E_Key", Value::Base64(vec![0, 1, 2, 254])),
            ParameterValueStruct::new("Device.X_00D09E_Mac", Value::HexBinary(vec![0xAB, 0x01])),
            ParameterValueStruct::new("Device.X_00D09E_Since", Value::DateTime(DateTime::UNKNOWN)),
        ],
        parameter_key: key("provisioning-7"),
    };
    let window = TimeWindowStruct {
        window_start: 0,
        window_end: 3600,
        window_mode: "1 At Any Time".into(),
        user_message: String::new(),
        max_retries: -1,
    };
    let acl = vec!["Subscriber".to_owned()];
    vec![
        inform.into(),
        InformResponse { max_envelopes: 1 }.into(),
        TransferComplete {
            command_key: key("fw-2026-11"),
            fault_struct: transfer_fault(),
            start_time: time(T0),
            complete_time: time(T0 + 30),
        }
        .into(),
        TransferCompleteResponse {}.into(),
        AutonomousTransferComplete {
            announce_url: String::new(),
            transfer_url: "http://files.example.net/fw/hgw-4.3.0.bin".into(),
            is_download: true,
            file_type: "1 Firmware Upgrade Image".into(),
            file_size: 8_388_608,
            target_file_name: "hgw-4.3.0.bin".into(),
            fault_struct: TransferCompleteFaultStruct::success(),
            start_time: time(T0),
            complete_time: time(T0 + 95),
        }
        .into(),
        AutonomousTransferCompleteResponse {}.into(),
        DUStateChangeComplete {
            results: vec![op_result()],
            command_key: Some(key("du-1")),
        }
        .into(),
        DUStateChangeCompleteResponse {}.into(),
        AutonomousDUStateChangeComplete {
            results: vec![AutonOpResultStruct {
                result: op_result(),
                operation_performed: "Install".into(),
            }],
        }
        .into(),
        AutonomousDUStateChangeCompleteResponse {}.into(),
        Kicked {
            command: "setup".into(),
            referer: "http://192.0.2.1/".into(),
            arg: "step=2".into(),
            next: "http://192.0.2.1/done".into(),
        }
        .into(),
        KickedResponse {
            next_url: "http://192.0.2.1/welcome".into(),
        }
        .into(),
        RequestDownload {
            file_type: "2 Web Content".into(),
            file_type_arg: vec![ArgStruct {
                name: "Version".into(),
                value: "v2.0".into(),
            }],
        }
        .into(),
        RequestDownloadResponse {}.into(),
        GetRPCMethods {}.into(),
        GetRPCMethodsResponse {
            method_list: Body::NAMES
                .iter()
                .filter(|n| !n.ends_with("Response") && **n != "Fault")
                .map(|n| (*n).to_owned())
                .collect(),
        }
        .into(),
        spv.into(),
        SetParameterValuesResponse {
            status: Status::Applied,
        }
        .into(),
        GetParameterValues {
            parameter_names: vec![
                "Device.DeviceInfo.".into(),
                "Device.WiFi.SSID.*.SSID".into(),
            ],
        }
        .into(),
        GetParameterValuesResponse {
            parameter_list: vec![
                ParameterValueStruct::new("Device.DeviceInfo.UpTime", Value::UnsignedInt(3601)),
                ParameterValueStruct::new("Device.WiFi.SSID.1.SSID", "home-2.4"),
            ],
        }
        .into(),
        GetParameterNames {
            parameter_path: "Device.ManagementServer.".into(),
            next_level: true,
        }
        .into(),
        GetParameterNamesResponse {
            parameter_list: vec![
                ParameterInfoStruct {
                    name: "Device.ManagementServer.URL".into(),
                    writable: true,
                },
                ParameterInfoStruct {
                    name: "Device.ManagementServer.ManageableDevice.".into(),
                    writable: false,
                },
            ],
        }
        .into(),
        SetParameterAttributes {
            parameter_list: vec![SetParameterAttributesStruct {
                name: "Device.DeviceInfo.SoftwareVersion".into(),
                notification_change: true,
                notification: Notification::Active,
                access_list_change: true,
                access_list: acl.clone(),
            }],
        }
        .into(),
        SetParameterAttributesResponse {}.into(),
        GetParameterAttributes {
            parameter_names: vec!["Device.DeviceInfo.".into()],
        }
        .into(),
        GetParameterAttributesResponse {
            parameter_list: vec![ParameterAttributeStruct {
                name: "Device.DeviceInfo.SoftwareVersion".into(),
                notification: Notification::PassiveAndActiveLightweight,
                access_list: acl,
            }],
        }
        .into(),
        AddObject {
            object_name: "Device.NAT.PortMapping.".into(),
            parameter_key: key("pk-8"),
        }
        .into(),
        AddObjectResponse {
            instance_number: 3,
            status: Status::Applied,
        }
        .into(),
        DeleteObject {
            object_name: "Device.NAT.PortMapping.3.".into(),
            parameter_key: key("pk-9"),
        }
        .into(),
        DeleteObjectResponse {
            status: Status::Pending,
        }
        .into(),
        Download {
            command_key: key("fw-2026-11"),
            file_type: "1 Firmware Upgrade Image".into(),
            url: "https://files.example.net/fw/hgw-4.3.0.bin".into(),
            username: "cpe".into(),
            password: "s3cret".into(),
            file_size: 8_388_608,
            target_file_name: "hgw-4.3.0.bin".into(),
            delay_seconds: 0,
            success_url: String::new(),
            failure_url: String::new(),
        }
        .into(),
        DownloadResponse {
            status: Status::Pending,
            ..DownloadResponse::default()
        }
        .into(),
        Reboot {
            command_key: key("reboot-42"),
        }
        .into(),
        RebootResponse {}.into(),
        GetQueuedTransfers {}.into(),
        GetQueuedTransfersResponse {
            transfer_list: vec![QueuedTransferStruct {
                command_key: key("fw-2026-11"),
                state: TransferState::InProgress,
            }],
        }
        .into(),
        ScheduleInform {
            delay_seconds: 60,
            command_key: key("check-in"),
        }
        .into(),
        ScheduleInformResponse {}.into(),
        SetVouchers {
            voucher_list: vec![Voucher(b"signed voucher bytes".to_vec())],
        }
        .into(),
        SetVouchersResponse {}.into(),
        GetOptions {
            option_name: String::new(),
        }
        .into(),
        GetOptionsResponse {
            option_list: vec![OptionStruct {
                option_name: "X_00D09E_VoIP".into(),
                voucher_sn: 17,
                state: 1,
                mode: 1,
                start_date: time(T0),
                expiration_date: Some(time(T0 + 31_536_000)),
                is_transferable: 0,
            }],
        }
        .into(),
        Upload {
            command_key: key("cfg-backup"),
            file_type: "1 Vendor Configuration File".into(),
            url: "https://files.example.net/upload/EX0123456789.cfg".into(),
            username: "cpe".into(),
            password: "s3cret".into(),
            delay_seconds: 5,
        }
        .into(),
        UploadResponse {
            status: Status::Applied,
            start_time: time(T0),
            complete_time: time(T0 + 2),
        }
        .into(),
        FactoryReset {}.into(),
        FactoryResetResponse {}.into(),
        GetAllQueuedTransfers {}.into(),
        GetAllQueuedTransfersResponse {
            transfer_list: vec![AllQueuedTransferStruct {
                command_key: key("fw-2026-11"),
                state: TransferState::NotYetStarted,
                is_download: true,
                file_type: "1 Firmware Upgrade Image".into(),
                file_size: 8_388_608,
                target_file_name: "hgw-4.3.0.bin".into(),
            }],
        }
        .into(),
        ScheduleDownload {
            command_key: key("fw-window"),
            file_type: "1 Firmware Upgrade Image".into(),
            url: "https://files.example.net/fw/hgw-4.3.0.bin".into(),
            username: String::new(),
            password: String::new(),
            file_size: 0,
            target_file_name: String::new(),
            time_window_list: vec![
                window.clone(),
                TimeWindowStruct {
                    window_start: 7200,
                    window_end: 10_800,
                    ..window
                },
            ],
        }
        .into(),
        ScheduleDownloadResponse {}.into(),
        CancelTransfer {
            command_key: key("fw-window"),
        }
        .into(),
        CancelTransferResponse {}.into(),
        ChangeDUState {
            operations: vec![
                Operation::Install(InstallOpStruct {
                    url: "https://apps.example.net/app-1.2.0.ipk".into(),
                    uuid: Some(UUID.into()),
                    execution_env_ref: Some("Device.SoftwareModules.ExecEnv.1.".into()),
                    ..InstallOpStruct::default()
                }),
                Operation::Update(UpdateOpStruct {
                    uuid: Some(UUID.into()),
                    version: Some("1.2.1".into()),
                    ..UpdateOpStruct::default()
                }),
                Operation::Uninstall(UninstallOpStruct {
                    uuid: UUID.into(),
                    ..Default::default()
                }),
            ],
            command_key: Some(key("du-1")),
        }
        .into(),
        ChangeDUStateResponse {}.into(),
        SoapFault::from(Fault {
            fault_code: FaultCode::InvalidArguments,
            fault_string: FaultCode::InvalidArguments.message().into(),
            set_parameter_values_fault: vec![
                SetParameterValuesFault {
                    parameter_name: "Device.DeviceInfo.UpTime".into(),
                    fault_code: FaultCode::NonWritableParameter,
                    fault_string: FaultCode::NonWritableParameter.message().into(),
                },
                SetParameterValuesFault {
                    parameter_name: "Device.ManagementServer.PeriodicInformInterval".into(),
                    fault_code: FaultCode::InvalidParameterType,
                    fault_string: "expected unsignedInt".into(),
                },
            ],
        })
        .into(),
    ]
}

/// Each message in a canonical CWMP 1.4 envelope; the Inform carries SupportedCWMPVersions and
/// SessionTimeout, the InformResponse UseCWMPVersion and HoldRequests.
pub(crate) fn envelopes() -> Vec<Envelope> {
    all()
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let mut env = Envelope::new(CwmpNamespace::V1_2, body).with_id(format!("sample-{i}"));
            match env.body {
                Body::Inform(_) => {
                    env.header.supported_cwmp_versions = Some(CwmpVersion::ALL.to_vec());
                    env.header.session_timeout = Some(30);
                }
                Body::InformResponse(_) => {
                    env.header.use_cwmp_version = Some(CwmpVersion::V1_4);
                    env.header.hold_requests = Some(false);
                }
                _ => {}
            }
            env
        })
        .collect()
}

/// Writes every envelope to `dir/<Element>.xml` and returns the files written.
pub(crate) fn write_all(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    envelopes()
        .into_iter()
        .map(|env| {
            let path = dir.join(format!("{}.xml", env.body.name()));
            std::fs::write(&path, env.write())?;
            Ok(path)
        })
        .collect()
}
