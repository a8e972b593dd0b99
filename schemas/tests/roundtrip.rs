//! Property tests of the envelope codec: every CWMP message survives `write` then `parse`, and
//! reads the same whatever surface syntax carries it (prefixes, default namespaces, whitespace,
//! where and in which order the namespaces are declared).
//!
//! The generators only build values the canonical writer can represent faithfully; each
//! restriction is noted where it is made.

use std::collections::BTreeSet;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::strategy::{Union, ValueTree};
use proptest::test_runner::{Config, TestRunner};

use schemas::rpc::du::{
    AutonOpResultStruct, DeploymentUnitFaultStruct, DeploymentUnitState, InstallOpStruct,
    OpResultStruct, Operation, UninstallOpStruct, UpdateOpStruct,
};
use schemas::rpc::types::{
    AllQueuedTransferStruct, ArgStruct, DeviceIdStruct, EventStruct, Notification, OptionStruct,
    ParameterAttributeStruct, ParameterInfoStruct, ParameterValueStruct, QueuedTransferStruct,
    SetParameterAttributesStruct, Status, TimeWindowStruct, TransferCompleteFaultStruct,
    TransferState, Voucher,
};
use schemas::rpc::*;
use schemas::soap::{CwmpNamespace, CwmpVersion, Header};
use schemas::value::{DateTime, Value};
use schemas::{Body, Envelope};

// ---------------------------------------------------------------------------------------------
// Scalars
// ---------------------------------------------------------------------------------------------

/// XML 1.0 `Char` (§2.2).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

/// One character of text: mostly ASCII, with markup characters, whitespace (`\r` included: the
/// writer escapes it), non-ASCII of every UTF-8 width, and any other XML character.
fn xml_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => prop::char::range('a', 'z'),
        2 => prop::char::range('A', 'Z'),
        2 => prop::char::range('0', '9'),
        4 => prop::sample::select(vec![
            ' ', ' ', '\t', '\n', '\r', '<', '>', '&', '"', '\'', ';', '#', ']', '.', ':', '/',
            '=', '-', '_', 'é', 'ß', '日', '本', '€', '🎉', '\u{7f}', '\u{85}', '\u{a0}',
            '\u{2028}', '\u{feff}', '\u{fffd}',
        ]),
        1 => any::<char>().prop_map(|c| if is_xml_char(c) { c } else { '?' }),
    ]
}

/// A piece of text: a character, or a sequence that looks like markup or a QName (which the
/// surface transformations below must leave alone in text).
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        10 => xml_char().prop_map(String::from),
        1 => prop::sample::select(vec![
            "cwmp:", "xsd:string", "\"xsi:type\"", "\"cwmp:X\"", "soap-env:", "xmlns:a=\"b\"",
            "&amp;", "&#13;", "]]>", "<!-- -->", "<![CDATA[", "<a/>", "\r\n", "日本", "  ",
        ])
        .prop_map(str::to_owned),
    ]
}

/// Cuts `s` to at most `max` bytes, on a character boundary.
fn truncate(mut s: String, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s
}

/// A string of at most `max` bytes (the XSD `maxLength` of its field), so it is written as is.
fn text(max: usize) -> BoxedStrategy<String> {
    vec(fragment(), 0..=12)
        .prop_map(move |parts| truncate(parts.concat(), max))
        .boxed()
}

fn opt_text(max: usize) -> impl Strategy<Value = Option<String>> {
    option::of(text(max))
}

/// At most 32 characters (`string(32)`).
fn key_text() -> impl Strategy<Value = String> {
    vec(fragment(), 0..=10).prop_map(|parts| parts.concat().chars().take(32).collect())
}

fn command_key() -> impl Strategy<Value = CommandKey> {
    key_text().prop_map(|s| s.parse().expect("at most 32 characters"))
}

fn parameter_key() -> impl Strategy<Value = ParameterKey> {
    key_text().prop_map(|s| s.parse().expect("at most 32 characters"))
}

fn days_in_month(year: u16, month: u8) -> u8 {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Any valid `DateTime`: leap seconds, any fraction, no zone or any offset up to ±14:00.
fn date_time() -> impl Strategy<Value = DateTime> {
    let nanos = prop_oneof![
        Just(0u32),
        0..1_000_000_000u32,
        (0..1000u32).prop_map(|ms| ms * 1_000_000),
        Just(999_999_999u32),
    ];
    let offset = prop_oneof![
        Just(None),
        Just(Some(0i16)),
        (-14 * 60..=14 * 60i16).prop_map(Some),
        prop::sample::select(vec![-14 * 60, 14 * 60, -1, 1, 330, -570]).prop_map(Some),
    ];
    let date = (1u16..=9999, 1u8..=12, 1u8..=31);
    let time = (0u8..24, 0u8..60, 0u8..=60);
    prop_oneof![
        1 => Just(DateTime::UNKNOWN),
        9 => (date, time, nanos, offset).prop_map(|((y, mo, d), (h, mi, s), n, o)| {
            let d = d.min(days_in_month(y, mo));
            DateTime::new(y, mo, d, h, mi, s, n, o).expect("valid fields")
        }),
    ]
}

/// `Value::Other` with a real XML Schema type that is not one of Table 12's, and matching text.
fn other_value() -> impl Strategy<Value = Value> {
    let typed = prop_oneof![
        any::<f32>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| ("float", f.to_string())),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| ("double", format!("{f:e}"))),
        (any::<i32>(), 0u32..100).prop_map(|(i, f)| ("decimal", format!("{i}.{f:02}"))),
        any::<i16>().prop_map(|n| ("short", n.to_string())),
        any::<u16>().prop_map(|n| ("unsignedShort", n.to_string())),
        any::<i8>().prop_map(|n| ("byte", n.to_string())),
        any::<u8>().prop_map(|n| ("unsignedByte", n.to_string())),
        any::<i128>().prop_map(|n| ("integer", n.to_string())),
        (1u32..400, 0u32..24).prop_map(|(d, h)| ("duration", format!("P{d}DT{h}H"))),
        "[a-z]{1,8}(/[a-z0-9]{0,6}){0,3}"
            .prop_map(|p| ("anyURI", format!("http://acs.example.com/{p}?a=1&b=2"))),
        "[A-Za-z0-9]{1,6}( [A-Za-z0-9]{1,6}){0,2}".prop_map(|t| ("token", t)),
        (1u32..10000, 1u32..13, 1u32..29)
            .prop_map(|(y, m, d)| ("date", format!("{y:04}-{m:02}-{d:02}"))),
    ];
    typed.prop_map(|(type_name, text)| Value::Other {
        type_name: type_name.to_owned(),
        text,
    })
}

/// Every `Value` but `Invalid` (written as the `xsd:string` it is, by design).
fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => text(256).prop_map(Value::String),
        1 => any::<i32>().prop_map(Value::Int),
        1 => any::<u32>().prop_map(Value::UnsignedInt),
        1 => any::<i64>().prop_map(Value::Long),
        1 => any::<u64>().prop_map(Value::UnsignedLong),
        1 => any::<bool>().prop_map(Value::Boolean),
        1 => date_time().prop_map(Value::DateTime),
        1 => vec(any::<u8>(), 0..24).prop_map(Value::Base64),
        1 => vec(any::<u8>(), 0..24).prop_map(Value::HexBinary),
        1 => other_value(),
    ]
}

/// Event codes that read back as themselves: the standard ones, `M <Method>` without spaces,
/// `X <OUI> <event>`, and `Other` text that [`EventCode::lenient`] keeps as `Other` (trimmed,
/// not standard, not `M ...` or `X ...`).
fn event_code() -> impl Strategy<Value = EventCode> {
    let standard = prop::sample::select(vec![
        EventCode::Bootstrap,
        EventCode::Boot,
        EventCode::Periodic,
        EventCode::Scheduled,
        EventCode::ValueChange,
        EventCode::Kicked,
        EventCode::ConnectionRequest,
        EventCode::TransferComplete,
        EventCode::DiagnosticsComplete,
        EventCode::RequestDownload,
        EventCode::AutonomousTransferComplete,
        EventCode::DuStateChangeComplete,
        EventCode::AutonomousDuStateChangeComplete,
        EventCode::Wakeup,
        EventCode::Heartbeat,
    ]);
    let method = "[A-Za-z][A-Za-z0-9<&>\"é]{0,24}".prop_map(EventCode::Method);
    let vendor = ("[0-9A-F]{6}", "[A-Z0-9_]{1,10}( [A-Za-z0-9&<]{1,8}){0,2}")
        .prop_map(|(oui, event)| EventCode::Vendor(format!("X {oui} {event}")));
    let other = prop_oneof![
        Just(String::new()),
        "[0-9]{1,3} [A-Z]{1,10}( [A-Z]{1,8}){0,2}",
        "[A-Za-z<&>]{1,12}( [A-Za-z]{1,6}){0,2}",
    ]
    .prop_filter_map("kept as Other by lenient reading", |s| {
        let code = EventCode::Other(s.clone());
        (EventCode::lenient(&s) == code).then_some(code)
    });
    prop_oneof![6 => standard, 2 => method, 1 => vendor, 1 => other]
}

fn fault_code() -> impl Strategy<Value = FaultCode> {
    prop_oneof![8000u32..=8006, 9000u32..=9032, 9800u32..=9899].prop_map(FaultCode::from_code)
}

fn status() -> impl Strategy<Value = Status> {
    prop::sample::select(vec![Status::Applied, Status::Pending])
}

fn notification() -> impl Strategy<Value = Notification> {
    (0..=6i32).prop_map(|n| Notification::from_number(n).expect("0 to 6"))
}

fn transfer_state() -> impl Strategy<Value = TransferState> {
    (1..=3i32).prop_map(|n| TransferState::from_number(n).expect("1 to 3"))
}

// ---------------------------------------------------------------------------------------------
// Structures
// ---------------------------------------------------------------------------------------------

fn parameter_value() -> impl Strategy<Value = ParameterValueStruct> {
    (text(256), value()).prop_map(|(name, value)| ParameterValueStruct { name, value })
}

fn device_id() -> impl Strategy<Value = DeviceIdStruct> {
    (text(64), text(6), text(64), text(64)).prop_map(
        |(manufacturer, oui, product_class, serial_number)| DeviceIdStruct {
            manufacturer,
            oui,
            product_class,
            serial_number,
        },
    )
}

fn event_struct() -> impl Strategy<Value = EventStruct> {
    (event_code(), command_key()).prop_map(|(event_code, command_key)| EventStruct {
        event_code,
        command_key,
    })
}

fn transfer_fault() -> impl Strategy<Value = TransferCompleteFaultStruct> {
    let code = prop_oneof![Just(0u32), 9000u32..=9899, any::<u32>()];
    (code, text(256)).prop_map(|(fault_code, fault_string)| TransferCompleteFaultStruct {
        fault_code,
        fault_string,
    })
}

fn set_parameter_attributes_struct() -> impl Strategy<Value = SetParameterAttributesStruct> {
    (
        text(256),
        any::<bool>(),
        notification(),
        any::<bool>(),
        vec(text(64), 0..3),
    )
        .prop_map(
            |(name, notification_change, notification, access_list_change, access_list)| {
                SetParameterAttributesStruct {
                    name,
                    notification_change,
                    notification,
                    access_list_change,
                    access_list,
                }
            },
        )
}

fn parameter_attribute_struct() -> impl Strategy<Value = ParameterAttributeStruct> {
    (text(256), notification(), vec(text(64), 0..3)).prop_map(
        |(name, notification, access_list)| ParameterAttributeStruct {
            name,
            notification,
            access_list,
        },
    )
}

fn time_window() -> impl Strategy<Value = TimeWindowStruct> {
    (
        any::<u32>(),
        any::<u32>(),
        text(64),
        text(256),
        any::<i32>(),
    )
        .prop_map(
            |(window_start, window_end, window_mode, user_message, max_retries)| TimeWindowStruct {
                window_start,
                window_end,
                window_mode,
                user_message,
                max_retries,
            },
        )
}

fn option_struct() -> impl Strategy<Value = OptionStruct> {
    (
        text(64),
        any::<u32>(),
        any::<u32>(),
        any::<i32>(),
        date_time(),
        option::of(date_time()),
        any::<i32>(),
    )
        .prop_map(
            |(
                option_name,
                voucher_sn,
                state,
                mode,
                start_date,
                expiration_date,
                is_transferable,
            )| OptionStruct {
                option_name,
                voucher_sn,
                state,
                mode,
                start_date,
                expiration_date,
                is_transferable,
            },
        )
}

fn operation() -> impl Strategy<Value = Operation> {
    let install = (
        text(1024),
        opt_text(36),
        opt_text(256),
        opt_text(256),
        opt_text(256),
    )
        .prop_map(|(url, uuid, username, password, execution_env_ref)| {
            Operation::Install(InstallOpStruct {
                url,
                uuid,
                username,
                password,
                execution_env_ref,
            })
        });
    let update = (
        opt_text(36),
        opt_text(32),
        opt_text(1024),
        opt_text(256),
        opt_text(256),
    )
        .prop_map(|(uuid, version, url, username, password)| {
            Operation::Update(UpdateOpStruct {
                uuid,
                version,
                url,
                username,
                password,
            })
        });
    let uninstall =
        (text(36), opt_text(32), opt_text(256)).prop_map(|(uuid, version, execution_env_ref)| {
            Operation::Uninstall(UninstallOpStruct {
                uuid,
                version,
                execution_env_ref,
            })
        });
    prop_oneof![install, update, uninstall]
}

fn op_result() -> impl Strategy<Value = OpResultStruct> {
    let state = prop::sample::select(vec![
        DeploymentUnitState::Installed,
        DeploymentUnitState::Uninstalled,
        DeploymentUnitState::Failed,
    ]);
    let fault = (prop_oneof![Just(0u32), any::<u32>()], opt_text(256)).prop_map(
        |(fault_code, fault_string)| DeploymentUnitFaultStruct {
            fault_code,
            fault_string,
        },
    );
    (
        text(36),
        text(256),
        text(32),
        state,
        any::<bool>(),
        text(256),
        date_time(),
        date_time(),
        fault,
    )
        .prop_map(
            |(
                uuid,
                deployment_unit_ref,
                version,
                current_state,
                resolved,
                execution_unit_ref_list,
                start_time,
                complete_time,
                fault,
            )| OpResultStruct {
                uuid,
                deployment_unit_ref,
                version,
                current_state,
                resolved,
                execution_unit_ref_list,
                start_time,
                complete_time,
                fault,
            },
        )
}

fn set_parameter_values_fault() -> impl Strategy<Value = SetParameterValuesFault> {
    (text(256), fault_code(), text(256)).prop_map(|(parameter_name, fault_code, fault_string)| {
        SetParameterValuesFault {
            parameter_name,
            fault_code,
            fault_string,
        }
    })
}

fn soap_fault() -> impl Strategy<Value = SoapFault> {
    let kind = prop::sample::select(vec![FaultKind::Client, FaultKind::Server]);
    let detail = (
        fault_code(),
        text(256),
        vec(set_parameter_values_fault(), 0..5),
    )
        .prop_map(
            |(fault_code, fault_string, set_parameter_values_fault)| Fault {
                fault_code,
                fault_string,
                set_parameter_values_fault,
            },
        );
    (kind, text(256), option::of(detail)).prop_map(|(kind, fault_string, detail)| SoapFault {
        kind,
        fault_string,
        detail,
    })
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/// `(name, strategy)` for one message; `$name` is both the `Body` variant and its struct.
macro_rules! message {
    ($name:ident, $strategy:expr) => {
        (
            stringify!($name),
            $strategy.prop_map(|m: $name| Body::from(m)).boxed(),
        )
    };
    ($name:ident) => {
        message!($name, Just($name {}))
    };
}

/// One strategy per message of [`Body::NAMES`], named.
fn message_strategies() -> Vec<(&'static str, BoxedStrategy<Body>)> {
    vec![
        message!(
            Inform,
            (
                device_id(),
                vec(event_struct(), 0..5),
                any::<u32>(),
                date_time(),
                any::<u32>(),
                vec(parameter_value(), 0..5),
            )
                .prop_map(
                    |(
                        device_id,
                        event,
                        max_envelopes,
                        current_time,
                        retry_count,
                        parameter_list,
                    )| {
                        Inform {
                            device_id,
                            event,
                            max_envelopes,
                            current_time,
                            retry_count,
                            parameter_list,
                        }
                    }
                )
        ),
        message!(
            InformResponse,
            any::<u32>().prop_map(|max_envelopes| InformResponse { max_envelopes })
        ),
        message!(
            TransferComplete,
            (command_key(), transfer_fault(), date_time(), date_time()).prop_map(
                |(command_key, fault_struct, start_time, complete_time)| TransferComplete {
                    command_key,
                    fault_struct,
                    start_time,
                    complete_time,
                }
            )
        ),
        message!(TransferCompleteResponse),
        message!(
            AutonomousTransferComplete,
            (
                text(1024),
                text(1024),
                any::<bool>(),
                text(64),
                any::<u32>(),
                text(256),
                transfer_fault(),
                date_time(),
                date_time(),
            )
                .prop_map(
                    |(
                        announce_url,
                        transfer_url,
                        is_download,
                        file_type,
                        file_size,
                        target_file_name,
                        fault_struct,
                        start_time,
                        complete_time,
                    )| AutonomousTransferComplete {
                        announce_url,
                        transfer_url,
                        is_download,
                        file_type,
                        file_size,
                        target_file_name,
                        fault_struct,
                        start_time,
                        complete_time,
                    }
                )
        ),
        message!(AutonomousTransferCompleteResponse),
        message!(
            DUStateChangeComplete,
            (vec(op_result(), 0..4), option::of(command_key())).prop_map(
                |(results, command_key)| DUStateChangeComplete {
                    results,
                    command_key,
                }
            )
        ),
        message!(DUStateChangeCompleteResponse),
        message!(
            AutonomousDUStateChangeComplete,
            vec(
                (op_result(), text(64)).prop_map(|(result, operation_performed)| {
                    AutonOpResultStruct {
                        result,
                        operation_performed,
                    }
                }),
                0..4
            )
            .prop_map(|results| AutonomousDUStateChangeComplete { results })
        ),
        message!(AutonomousDUStateChangeCompleteResponse),
        message!(
            Kicked,
            (text(32), text(64), text(256), text(1024)).prop_map(
                |(command, referer, arg, next)| Kicked {
                    command,
                    referer,
                    arg,
                    next,
                }
            )
        ),
        message!(
            KickedResponse,
            text(1024).prop_map(|next_url| KickedResponse { next_url })
        ),
        message!(
            RequestDownload,
            (
                text(64),
                vec(
                    (text(64), text(256)).prop_map(|(name, value)| ArgStruct { name, value }),
                    0..=16
                ),
            )
                .prop_map(|(file_type, file_type_arg)| RequestDownload {
                    file_type,
                    file_type_arg,
                })
        ),
        message!(RequestDownloadResponse),
        message!(GetRPCMethods),
        message!(
            GetRPCMethodsResponse,
            vec(text(64), 0..5).prop_map(|method_list| GetRPCMethodsResponse { method_list })
        ),
        message!(
            SetParameterValues,
            (vec(parameter_value(), 0..5), parameter_key()).prop_map(
                |(parameter_list, parameter_key)| SetParameterValues {
                    parameter_list,
                    parameter_key,
                }
            )
        ),
        message!(
            SetParameterValuesResponse,
            status().prop_map(|status| SetParameterValuesResponse { status })
        ),
        message!(
            GetParameterValues,
            vec(text(256), 0..5).prop_map(|parameter_names| GetParameterValues { parameter_names })
        ),
        message!(
            GetParameterValuesResponse,
            vec(parameter_value(), 0..5)
                .prop_map(|parameter_list| GetParameterValuesResponse { parameter_list })
        ),
        message!(
            GetParameterNames,
            (text(256), any::<bool>()).prop_map(|(parameter_path, next_level)| {
                GetParameterNames {
                    parameter_path,
                    next_level,
                }
            })
        ),
        message!(
            GetParameterNamesResponse,
            vec(
                (text(256), any::<bool>())
                    .prop_map(|(name, writable)| ParameterInfoStruct { name, writable }),
                0..5
            )
            .prop_map(|parameter_list| GetParameterNamesResponse { parameter_list })
        ),
        message!(
            SetParameterAttributes,
            vec(set_parameter_attributes_struct(), 0..5)
                .prop_map(|parameter_list| SetParameterAttributes { parameter_list })
        ),
        message!(SetParameterAttributesResponse),
        message!(
            GetParameterAttributes,
            vec(text(256), 0..5)
                .prop_map(|parameter_names| GetParameterAttributes { parameter_names })
        ),
        message!(
            GetParameterAttributesResponse,
            vec(parameter_attribute_struct(), 0..5)
                .prop_map(|parameter_list| GetParameterAttributesResponse { parameter_list })
        ),
        message!(
            AddObject,
            (text(256), parameter_key()).prop_map(|(object_name, parameter_key)| AddObject {
                object_name,
                parameter_key,
            })
        ),
        message!(
            AddObjectResponse,
            (any::<u32>(), status()).prop_map(|(instance_number, status)| AddObjectResponse {
                instance_number,
                status,
            })
        ),
        message!(
            DeleteObject,
            (text(256), parameter_key()).prop_map(|(object_name, parameter_key)| {
                DeleteObject {
                    object_name,
                    parameter_key,
                }
            })
        ),
        message!(
            DeleteObjectResponse,
            status().prop_map(|status| DeleteObjectResponse { status })
        ),
        message!(
            Download,
            (
                command_key(),
                text(64),
                text(256),
                text(256),
                text(256),
                any::<u32>(),
                text(256),
                any::<u32>(),
                text(256),
                text(256),
            )
                .prop_map(
                    |(
                        command_key,
                        file_type,
                        url,
                        username,
                        password,
                        file_size,
                        target_file_name,
                        delay_seconds,
                        success_url,
                        failure_url,
                    )| Download {
                        command_key,
                        file_type,
                        url,
                        username,
                        password,
                        file_size,
                        target_file_name,
                        delay_seconds,
                        success_url,
                        failure_url,
                    }
                )
        ),
        message!(
            DownloadResponse,
            (status(), date_time(), date_time()).prop_map(|(status, start_time, complete_time)| {
                DownloadResponse {
                    status,
                    start_time,
                    complete_time,
                }
            })
        ),
        message!(
            Reboot,
            command_key().prop_map(|command_key| Reboot { command_key })
        ),
        message!(RebootResponse),
        message!(GetQueuedTransfers),
        message!(
            GetQueuedTransfersResponse,
            vec(
                (command_key(), transfer_state())
                    .prop_map(|(command_key, state)| QueuedTransferStruct { command_key, state }),
                0..=16
            )
            .prop_map(|transfer_list| GetQueuedTransfersResponse { transfer_list })
        ),
        message!(
            ScheduleInform,
            (any::<u32>(), command_key()).prop_map(|(delay_seconds, command_key)| {
                ScheduleInform {
                    delay_seconds,
                    command_key,
                }
            })
        ),
        message!(ScheduleInformResponse),
        message!(
            SetVouchers,
            vec(vec(any::<u8>(), 0..48).prop_map(Voucher), 0..5)
                .prop_map(|voucher_list| SetVouchers { voucher_list })
        ),
        message!(SetVouchersResponse),
        message!(
            GetOptions,
            text(64).prop_map(|option_name| GetOptions { option_name })
        ),
        message!(
            GetOptionsResponse,
            vec(option_struct(), 0..5).prop_map(|option_list| GetOptionsResponse { option_list })
        ),
        message!(
            Upload,
            (
                command_key(),
                text(64),
                text(256),
                text(256),
                text(256),
                any::<u32>(),
            )
                .prop_map(
                    |(command_key, file_type, url, username, password, delay_seconds)| Upload {
                        command_key,
                        file_type,
                        url,
                        username,
                        password,
                        delay_seconds,
                    }
                )
        ),
        message!(
            UploadResponse,
            (status(), date_time(), date_time()).prop_map(|(status, start_time, complete_time)| {
                UploadResponse {
                    status,
                    start_time,
                    complete_time,
                }
            })
        ),
        message!(FactoryReset),
        message!(FactoryResetResponse),
        message!(GetAllQueuedTransfers),
        message!(
            GetAllQueuedTransfersResponse,
            vec(
                (
                    command_key(),
                    transfer_state(),
                    any::<bool>(),
                    text(64),
                    any::<u32>(),
                    text(256),
                )
                    .prop_map(
                        |(command_key, state, is_download, file_type, file_size, target)| {
                            AllQueuedTransferStruct {
                                command_key,
                                state,
                                is_download,
                                file_type,
                                file_size,
                                target_file_name: target,
                            }
                        }
                    ),
                0..=16
            )
            .prop_map(|transfer_list| GetAllQueuedTransfersResponse { transfer_list })
        ),
        message!(
            ScheduleDownload,
            (
                command_key(),
                text(64),
                text(256),
                text(256),
                text(256),
                any::<u32>(),
                text(256),
                vec(time_window(), 0..=2),
            )
                .prop_map(
                    |(
                        command_key,
                        file_type,
                        url,
                        username,
                        password,
                        file_size,
                        target_file_name,
                        time_window_list,
                    )| ScheduleDownload {
                        command_key,
                        file_type,
                        url,
                        username,
                        password,
                        file_size,
                        target_file_name,
                        time_window_list,
                    }
                )
        ),
        message!(ScheduleDownloadResponse),
        message!(
            CancelTransfer,
            command_key().prop_map(|command_key| CancelTransfer { command_key })
        ),
        message!(CancelTransferResponse),
        message!(
            ChangeDUState,
            (vec(operation(), 0..5), option::of(command_key())).prop_map(
                |(operations, command_key)| ChangeDUState {
                    operations,
                    command_key,
                }
            )
        ),
        message!(ChangeDUStateResponse),
        ("Fault", soap_fault().prop_map(Body::from).boxed()),
    ]
}

fn any_body() -> impl Strategy<Value = Body> {
    Union::new(message_strategies().into_iter().map(|(_, s)| s))
}

// ---------------------------------------------------------------------------------------------
// Envelopes
// ---------------------------------------------------------------------------------------------

/// Only the three BBF namespaces: the non-standard 1-3 and 1-4 are written as 1-2 by design.
fn namespace() -> impl Strategy<Value = CwmpNamespace> {
    prop::sample::select(vec![
        CwmpNamespace::V1_0,
        CwmpNamespace::V1_1,
        CwmpNamespace::V1_2,
    ])
}

fn cwmp_version() -> impl Strategy<Value = CwmpVersion> {
    prop::sample::select(CwmpVersion::ALL.to_vec())
}

/// Whether the written envelope has a CWMP header element.
fn writes_cwmp_header(env: &Envelope) -> bool {
    let h = &env.header;
    h.id.is_some()
        || h.hold_requests.is_some()
        || h.session_timeout.is_some()
        || h.supported_cwmp_versions.is_some()
        || h.use_cwmp_version.is_some()
}

/// Envelopes around `body`. `NoMoreRequests` is never set (read, never written, by design);
/// `SessionTimeout`, `SupportedCWMPVersions` and `UseCWMPVersion` only in `cwmp-1-2`, the one
/// namespace that defines them (the writer leaves them out elsewhere, by design).
///
/// A SOAP Fault is not in the CWMP namespace: its `cwmp:Fault` detail or a CWMP header element
/// carries it. A bare fault (no detail) with no CWMP header has no CWMP element at all, so it
/// is given `cwmp-1-0`, what such a message reads as by design.
fn envelope_with(body: impl Strategy<Value = Body>) -> impl Strategy<Value = Envelope> {
    let versions = vec(cwmp_version(), 1..=5);
    let header = (
        option::of(text(256)),
        option::of(any::<bool>()),
        option::of(any::<u32>()),
        option::of(versions),
        option::of(cwmp_version()),
    );
    (namespace(), header, body).prop_map(|(namespace, (id, hold, timeout, sup, usev), body)| {
        let modern = namespace == CwmpNamespace::V1_2;
        let mut env = Envelope {
            namespace,
            header: Header {
                id,
                hold_requests: hold,
                no_more_requests: None,
                session_timeout: timeout.filter(|_| modern),
                supported_cwmp_versions: sup.filter(|_| modern),
                use_cwmp_version: usev.filter(|_| modern),
            },
            body,
        };
        if matches!(&env.body, Body::Fault(f) if f.detail.is_none()) && !writes_cwmp_header(&env) {
            env.namespace = CwmpNamespace::V1_0;
        }
        env
    })
}

fn any_envelope() -> impl Strategy<Value = Envelope> {
    envelope_with(any_body())
}

fn written(env: &Envelope) -> String {
    String::from_utf8(env.write()).expect("the writer writes UTF-8")
}

// ---------------------------------------------------------------------------------------------
// Surface syntax: a token view of the canonical output and transformations of it
// ---------------------------------------------------------------------------------------------

/// One token of the canonical output. The canonical writer escapes `<` and `>` in text and
/// writes attributes as `key="value"` separated by one space, so this is enough to take it
/// apart and put it back together.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// `<?xml ...?>`, whole.
    Decl(String),
    Start {
        name: String,
        attrs: Vec<(String, String)>,
        empty: bool,
    },
    End(String),
    /// Text as written (escaped).
    Text(String),
}

fn tokenize(xml: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut rest = xml;
    while !rest.is_empty() {
        if rest.starts_with("<?") {
            let end = rest.find("?>").expect("declaration ends") + 2;
            out.push(Tok::Decl(rest[..end].to_owned()));
            rest = &rest[end..];
        } else if let Some(after) = rest.strip_prefix("</") {
            let end = after.find('>').expect("end tag ends");
            out.push(Tok::End(after[..end].to_owned()));
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix('<') {
            let end = after.find('>').expect("start tag ends");
            let tag = &after[..end];
            let (tag, empty) = match tag.strip_suffix('/') {
                Some(tag) => (tag, true),
                None => (tag, false),
            };
            let (name, mut attrs_text) = tag.split_once(' ').unwrap_or((tag, ""));
            let mut attrs = Vec::new();
            while !attrs_text.is_empty() {
                let (key, value_and_rest) = attrs_text.split_once("=\"").expect("key=\"value\"");
                let (value, rest_attrs) = value_and_rest.split_once('"').expect("closing quote");
                attrs.push((key.to_owned(), value.to_owned()));
                attrs_text = rest_attrs.trim_start();
            }
            out.push(Tok::Start {
                name: name.to_owned(),
                attrs,
                empty,
            });
            rest = &after[end + 1..];
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            out.push(Tok::Text(rest[..end].to_owned()));
            rest = &rest[end..];
        }
    }
    out
}

fn render(toks: &[Tok]) -> String {
    let mut out = String::new();
    for tok in toks {
        match tok {
            Tok::Decl(d) => out.push_str(d),
            Tok::Start { name, attrs, empty } => {
                out.push('<');
                out.push_str(name);
                for (k, v) in attrs {
                    out.push_str(&format!(" {k}=\"{v}\""));
                }
                out.push_str(if *empty { "/>" } else { ">" });
            }
            Tok::End(name) => out.push_str(&format!("</{name}>")),
            Tok::Text(t) => out.push_str(t),
        }
    }
    out
}

/// The depth of each token's element (the Envelope is 0); `None` for non-element tokens.
fn depths(toks: &[Tok]) -> Vec<Option<usize>> {
    let mut depth = 0;
    toks.iter()
        .map(|tok| match tok {
            Tok::Start { empty, .. } => {
                let d = depth;
                if !empty {
                    depth += 1;
                }
                Some(d)
            }
            Tok::End(_) => {
                depth -= 1;
                Some(depth)
            }
            _ => None,
        })
        .collect()
}

fn envelope_attrs(toks: &mut [Tok]) -> &mut Vec<(String, String)> {
    toks.iter_mut()
        .find_map(|t| match t {
            Tok::Start { attrs, .. } => Some(attrs),
            _ => None,
        })
        .expect("an Envelope")
}

fn split_prefix(qname: &str) -> (Option<&str>, &str) {
    match qname.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, qname),
    }
}

/// Attributes whose value is a QName (or a QName with an array suffix), by canonical name.
fn has_qname_value(key: &str) -> bool {
    key == "xsi:type" || key == "soap-enc:arrayType"
}

/// (b) How to put the CWMP namespace as a default namespace.
#[derive(Clone, Copy, Debug)]
enum DefaultNs {
    /// Each `cwmp:` element (header elements, the RPC, the Fault detail) loses its prefix and
    /// declares `xmlns="urn:..."` itself; `xmlns:cwmp` stays for the QNames in attribute values.
    OnEachElement,
    /// The Envelope declares `xmlns="urn:..."` instead of `xmlns:cwmp`; no element or
    /// attribute value uses the `cwmp` prefix any more.
    OnEnvelope,
}

fn default_cwmp_namespace(toks: &mut [Tok], mode: DefaultNs) {
    let uri = envelope_attrs(toks)
        .iter()
        .find(|(k, _)| k == "xmlns:cwmp")
        .map(|(_, v)| v.clone())
        .expect("xmlns:cwmp on the Envelope");
    for tok in toks.iter_mut() {
        match tok {
            Tok::Start { name, attrs, .. } => {
                if let Some(local) = name.strip_prefix("cwmp:") {
                    *name = local.to_owned();
                    if let DefaultNs::OnEachElement = mode {
                        attrs.insert(0, ("xmlns".to_owned(), uri.clone()));
                    }
                }
                if let DefaultNs::OnEnvelope = mode {
                    for (k, v) in attrs.iter_mut() {
                        if k == "xmlns:cwmp" {
                            *k = "xmlns".to_owned();
                        } else if has_qname_value(k)
                            && let Some(local) = v.strip_prefix("cwmp:")
                        {
                            *v = local.to_owned();
                        }
                    }
                }
            }
            Tok::End(name) => {
                if let Some(local) = name.strip_prefix("cwmp:") {
                    *name = local.to_owned();
                }
            }
            _ => {}
        }
    }
}

/// (e) Moves the declaration of canonical prefix `prefix` (or the default namespace that
/// replaced `cwmp`) from the Envelope onto every element at `depth` (1: Header and Body; 2:
/// the header elements and the Body's message). Nothing above `depth` uses these prefixes.
fn move_declaration(toks: &mut [Tok], prefix: &str, depth: usize) {
    assert!(prefix != "soap-env" && (1..=2).contains(&depth));
    let key = format!("xmlns:{prefix}");
    let env = envelope_attrs(toks);
    let Some(i) = env
        .iter()
        .position(|(k, _)| *k == key || (prefix == "cwmp" && k == "xmlns"))
    else {
        return;
    };
    let decl = env.remove(i);
    let ds = depths(toks);
    for (tok, d) in toks.iter_mut().zip(ds) {
        if let Tok::Start { attrs, .. } = tok
            && d == Some(depth)
        {
            attrs.push(decl.clone());
        }
    }
}

/// (a) Renames prefixes (`from` canonical → `to`) in element names, attribute names, namespace
/// declarations and the QNames in `xsi:type` / `soap-enc:arrayType` values, all at once (so
/// swapping two prefixes works). Text is left alone.
fn rename_prefixes(toks: &mut [Tok], renames: &[(&str, &str)]) {
    let map = |p: &str| -> String {
        renames
            .iter()
            .find(|(from, _)| *from == p)
            .map_or(p, |(_, to)| to)
            .to_owned()
    };
    let map_qname = |q: &str| -> String {
        match split_prefix(q) {
            (Some(p), local) => format!("{}:{local}", map(p)),
            (None, local) => local.to_owned(),
        }
    };
    for tok in toks.iter_mut() {
        match tok {
            Tok::Start { name, attrs, .. } => {
                *name = map_qname(name);
                for (k, v) in attrs.iter_mut() {
                    if has_qname_value(k) {
                        *v = map_qname(v);
                    }
                    *k = match k.strip_prefix("xmlns:") {
                        Some(p) => format!("xmlns:{}", map(p)),
                        None => map_qname(k),
                    };
                }
            }
            Tok::End(name) => *name = map_qname(name),
            _ => {}
        }
    }
}

/// (d) Reorders the Envelope's namespace declarations by `keys` (stable for ties).
fn reorder_declarations(toks: &mut [Tok], keys: &[u8]) {
    let attrs = envelope_attrs(toks);
    let mut keyed: Vec<_> = attrs
        .drain(..)
        .enumerate()
        .map(|(i, a)| ((keys.get(i).copied().unwrap_or(0), i), a))
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    attrs.extend(keyed.into_iter().map(|(_, a)| a));
}

/// (c) How to lay out whitespace between elements.
#[derive(Clone, Debug)]
enum Layout {
    /// A newline and two spaces per level before every tag.
    Indented,
    /// Whitespace picked from a few kinds (spaces, tabs, CR LF, ...) by these choices, in turn.
    Mixed(Vec<u8>),
}

/// (c) Inserts whitespace between every two adjacent tags (and after the declaration), never
/// inside an element that has text: the canonical writer writes a leaf with no text as `<x/>`,
/// so two adjacent tags never enclose a text-only element's content.
fn add_whitespace(toks: &[Tok], layout: &Layout) -> Vec<Tok> {
    const KINDS: [&str; 7] = [" ", "\n", "\t", "\r\n", "\n    ", "  \n\t ", "\r"];
    let ds = depths(toks);
    let mut out = Vec::with_capacity(toks.len() * 2);
    let mut n = 0;
    for (i, tok) in toks.iter().enumerate() {
        let prev_is_tag = i > 0 && !matches!(toks[i - 1], Tok::Text(_));
        if prev_is_tag && !matches!(tok, Tok::Text(_)) {
            let ws = match layout {
                Layout::Indented => format!("\n{}", "  ".repeat(ds[i].unwrap_or(0))),
                Layout::Mixed(choices) => {
                    let c = choices.get(n % choices.len().max(1)).copied().unwrap_or(0);
                    n += 1;
                    KINDS[usize::from(c) % KINDS.len()].to_owned()
                }
            };
            out.push(Tok::Text(ws));
        }
        out.push(tok.clone());
    }
    out
}

/// A combination of surface changes, applied in the order of the fields.
#[derive(Clone, Debug, Default)]
struct Surface {
    default_ns: Option<DefaultNs>,
    moves: Vec<(&'static str, usize)>,
    renames: Vec<(&'static str, &'static str)>,
    order: Option<Vec<u8>>,
    layout: Option<Layout>,
}

impl Surface {
    fn apply(&self, xml: &str) -> String {
        let mut toks = tokenize(xml);
        assert_eq!(
            render(&toks),
            xml,
            "the tokenizer reproduces the canonical output"
        );
        if let Some(mode) = self.default_ns {
            default_cwmp_namespace(&mut toks, mode);
        }
        for &(prefix, depth) in &self.moves {
            move_declaration(&mut toks, prefix, depth);
        }
        rename_prefixes(&mut toks, &self.renames);
        if let Some(keys) = &self.order {
            reorder_declarations(&mut toks, keys);
        }
        if let Some(layout) = &self.layout {
            toks = add_whitespace(&toks, layout);
        }
        render(&toks)
    }
}

fn default_ns() -> impl Strategy<Value = DefaultNs> {
    prop::sample::select(vec![DefaultNs::OnEachElement, DefaultNs::OnEnvelope])
}

/// Declarations to move down, each prefix at most once.
fn moves() -> impl Strategy<Value = Vec<(&'static str, usize)>> {
    let prefixes = vec!["soap-enc", "xsd", "xsi", "cwmp"];
    (
        prop::sample::subsequence(prefixes, 1..=4),
        vec(1..=2usize, 4),
    )
        .prop_map(|(ps, ds)| ps.into_iter().zip(ds).collect())
}

/// New prefixes, one choice per canonical prefix (possibly the same); the choices for the
/// five prefixes never collide, except `xsd`/`xsi` which may swap.
fn renames() -> impl Strategy<Value = Vec<(&'static str, &'static str)>> {
    (
        prop::sample::select(vec!["soap-env", "SOAP-ENV", "s", "soapenv", "env"]),
        prop::sample::select(vec!["soap-enc", "SOAP-ENC", "enc", "soapenc"]),
        prop::sample::select(vec![
            ("xsd", "xsi"),
            ("xs", "i"),
            ("xsi", "xsd"),
            ("xsd", "xsi2"),
        ]),
        prop::sample::select(vec!["cwmp", "c", "ns1", "CWMP", "cwmp12"]),
    )
        .prop_map(|(env, enc, (xsd, xsi), cwmp)| {
            vec![
                ("soap-env", env),
                ("soap-enc", enc),
                ("xsd", xsd),
                ("xsi", xsi),
                ("cwmp", cwmp),
            ]
        })
}

fn order() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 5)
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        Just(Layout::Indented),
        vec(any::<u8>(), 1..8).prop_map(Layout::Mixed)
    ]
}

fn any_surface() -> impl Strategy<Value = Surface> {
    (
        option::of(default_ns()),
        prop_oneof![Just(Vec::new()), moves()],
        renames(),
        option::of(order()),
        option::of(layout()),
    )
        .prop_map(|(default_ns, moves, renames, order, layout)| Surface {
            default_ns,
            moves,
            renames,
            order,
            layout,
        })
}

// ---------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------

/// `default` cases, or `PROPTEST_CASES` when set (for longer runs).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn check_round_trip(env: &Envelope) -> Result<(), TestCaseError> {
    let xml = written(env);
    let read = Envelope::parse(xml.as_bytes());
    prop_assert_eq!(read.as_ref(), Ok(env), "written as:\n{}", xml);
    Ok(())
}

fn check_surface(env: &Envelope, surface: &Surface) -> Result<(), TestCaseError> {
    let xml = surface.apply(&written(env));
    let read = Envelope::parse(xml.as_bytes());
    prop_assert_eq!(read.as_ref(), Ok(env), "read from:\n{}", xml);
    Ok(())
}

proptest! {
    #![proptest_config(Config::with_cases(cases(1024)))]

    /// 1. Every message, in every namespace, with any header: `parse(write(m)) == m`.
    #[test]
    fn every_message_round_trips(env in any_envelope()) {
        check_round_trip(&env)?;
    }
}

proptest! {
    #![proptest_config(Config::with_cases(cases(256)))]

    /// 2a. Other prefixes for all five namespaces, in names and in QName attribute values.
    #[test]
    fn renamed_prefixes_read_the_same(env in any_envelope(), renames in renames()) {
        check_surface(&env, &Surface { renames, ..Surface::default() })?;
    }

    /// 2b. The CWMP namespace as a default namespace, with unprefixed CWMP element names.
    #[test]
    fn default_cwmp_namespace_reads_the_same(env in any_envelope(), mode in default_ns()) {
        check_surface(&env, &Surface { default_ns: Some(mode), ..Surface::default() })?;
    }

    /// 2c. Whitespace, newlines and indentation between elements.
    #[test]
    fn whitespace_between_elements_reads_the_same(env in any_envelope(), layout in layout()) {
        check_surface(&env, &Surface { layout: Some(layout), ..Surface::default() })?;
    }

    /// 2d. The Envelope's namespace declarations in another order.
    #[test]
    fn reordered_declarations_read_the_same(env in any_envelope(), order in order()) {
        check_surface(&env, &Surface { order: Some(order), ..Surface::default() })?;
    }

    /// 2e. Namespace declarations moved from the Envelope down to the Body (and Header), or to
    /// the message and header elements.
    #[test]
    fn declarations_moved_down_read_the_same(env in any_envelope(), moves in moves()) {
        check_surface(&env, &Surface { moves, ..Surface::default() })?;
    }

    /// 2a-e together.
    #[test]
    fn combined_surface_changes_read_the_same(env in any_envelope(), surface in any_surface()) {
        check_surface(&env, &surface)?;
    }
}

/// Every message on its own, so that each gets many cases whatever the union's spread.
#[test]
fn each_message_round_trips_on_its_own() {
    for (name, strategy) in message_strategies() {
        let mut runner = TestRunner::new(Config {
            cases: cases(32),
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = (envelope_with(strategy), any_surface());
        if let Err(e) = runner.run(&strategy, |(env, surface)| {
            check_round_trip(&env)?;
            check_surface(&env, &surface)
        }) {
            panic!("{name}: {e}");
        }
    }
}

/// The strategies cover exactly [`Body::NAMES`]: one deterministic example per message, each
/// of the message it is listed as, and each round-tripping.
#[test]
fn strategies_cover_every_message() {
    let mut runner = TestRunner::deterministic();
    let mut names = BTreeSet::new();
    for (name, strategy) in message_strategies() {
        let body = strategy.new_tree(&mut runner).expect("a value").current();
        assert_eq!(body.name(), name);
        assert!(names.insert(name), "{name} is listed twice");
        let env = Envelope::new(CwmpNamespace::V1_2, body).with_id("cover");
        assert_eq!(Envelope::parse(&env.write()), Ok(env));
    }
    let expected: BTreeSet<&str> = Body::NAMES.iter().copied().collect();
    assert_eq!(names, expected);
    assert_eq!(names.len(), Body::NAMES.len());

    // And the union the properties draw from reaches every one of them.
    let union = any_body();
    let drawn: BTreeSet<&str> = (0..3000)
        .map(|_| {
            union
                .new_tree(&mut runner)
                .expect("a value")
                .current()
                .name()
        })
        .collect();
    assert_eq!(drawn, expected);
}

// ---------------------------------------------------------------------------------------------
// Fixed examples: the branches the brief singles out, and checks that the transformations
// really change the text (so the surface properties cannot pass vacuously)
// ---------------------------------------------------------------------------------------------

fn dt(s: &str) -> DateTime {
    s.parse().expect("a dateTime")
}

fn rich_examples() -> Vec<Envelope> {
    let change_du_state = ChangeDUState {
        operations: vec![
            Operation::Install(InstallOpStruct {
                url: "http://du.example.com/a.ipk?x=1&y=<2>".into(),
                uuid: Some("6ba7b810-9dad-11d1-80b4-00c04fd430c8".into()),
                username: Some(" user ".into()),
                password: None,
                execution_env_ref: Some("Device.SoftwareModules.ExecEnv.1.".into()),
            }),
            Operation::Install(InstallOpStruct::default()),
            Operation::Update(UpdateOpStruct {
                uuid: None,
                version: Some("2.0".into()),
                url: Some(String::new()),
                username: None,
                password: Some("p\"w'd".into()),
            }),
            Operation::Update(UpdateOpStruct::default()),
            Operation::Uninstall(UninstallOpStruct {
                uuid: "u".into(),
                version: None,
                execution_env_ref: Some("日本".into()),
            }),
        ],
        command_key: Some("cdu".parse().expect("short key")),
    };
    let result = OpResultStruct {
        uuid: "6ba7b810-9dad-11d1-80b4-00c04fd430c8".into(),
        deployment_unit_ref: "Device.SoftwareModules.DeploymentUnit.1.".into(),
        version: "1.0".into(),
        current_state: DeploymentUnitState::Failed,
        resolved: true,
        execution_unit_ref_list: "Device.SoftwareModules.ExecutionUnit.1.,Device.X.2.".into(),
        start_time: dt("2024-02-29T23:59:60.5-09:30"),
        complete_time: dt("2024-03-01T00:00:00"),
        fault: DeploymentUnitFaultStruct {
            fault_code: 9018,
            fault_string: Some("File transfer failure: file corrupted".into()),
        },
    };
    let fault = SoapFault {
        kind: FaultKind::Client,
        fault_string: "CWMP fault".into(),
        detail: Some(Fault {
            fault_code: FaultCode::InvalidArguments,
            fault_string: "Invalid arguments".into(),
            set_parameter_values_fault: vec![
                SetParameterValuesFault {
                    parameter_name: "Device.A.B".into(),
                    fault_code: FaultCode::InvalidParameterType,
                    fault_string: "bad <type> & \"value\"".into(),
                },
                SetParameterValuesFault {
                    parameter_name: "Device.A.C".into(),
                    fault_code: FaultCode::from_code(9850),
                    fault_string: String::new(),
                },
            ],
        }),
    };
    let inform = Inform {
        device_id: DeviceIdStruct {
            manufacturer: "Ünïcode & <Co>".into(),
            oui: "00D09E".into(),
            product_class: "cwmp:IGD".into(),
            serial_number: " \r\n\t ".into(),
        },
        event: vec![
            EventStruct::new(EventCode::Bootstrap),
            EventStruct {
                event_code: EventCode::Method("Reboot".into()),
                command_key: "reboot-1".parse().expect("short key"),
            },
            EventStruct::new(EventCode::Vendor("X 00D09E SOMETHING".into())),
            EventStruct::new(EventCode::Other("15 LATER EVENT".into())),
        ],
        max_envelopes: 1,
        current_time: dt("2026-11-22T21:37:08.695+14:00"),
        retry_count: 3,
        parameter_list: vec![
            ParameterValueStruct::new("S", Value::String("  xsd:int  ".into())),
            ParameterValueStruct::new("I", Value::Int(i32::MIN)),
            ParameterValueStruct::new("U", Value::UnsignedLong(u64::MAX)),
            ParameterValueStruct::new("B", Value::Base64(vec![0, 1, 2, 255])),
            ParameterValueStruct::new("H", Value::HexBinary(vec![])),
            ParameterValueStruct::new(
                "F",
                Value::Other {
                    type_name: "float".into(),
                    text: "1.5E3".into(),
                },
            ),
            ParameterValueStruct::new("D", Value::DateTime(DateTime::UNKNOWN)),
        ],
    };
    let autonomous = AutonomousDUStateChangeComplete {
        results: vec![AutonOpResultStruct {
            result: result.clone(),
            operation_performed: "Install".into(),
        }],
    };
    let header = Header {
        id: Some("id &<>".into()),
        hold_requests: Some(false),
        no_more_requests: None,
        session_timeout: Some(30),
        supported_cwmp_versions: Some(vec![CwmpVersion::V1_0, CwmpVersion::V1_4]),
        use_cwmp_version: Some(CwmpVersion::V1_3),
    };
    let with_header = |ns, body: Body| Envelope {
        namespace: ns,
        header: header.clone(),
        body,
    };
    vec![
        with_header(CwmpNamespace::V1_2, change_du_state.into()),
        Envelope::new(CwmpNamespace::V1_1, ChangeDUState::default()),
        Envelope::new(
            CwmpNamespace::V1_0,
            DUStateChangeComplete {
                results: vec![result.clone(), OpResultStruct::default()],
                command_key: None,
            },
        ),
        Envelope::new(CwmpNamespace::V1_2, autonomous),
        with_header(CwmpNamespace::V1_2, fault.clone().into()),
        Envelope::new(CwmpNamespace::V1_1, fault).with_id("1"),
        Envelope::new(CwmpNamespace::V1_0, SoapFault::default()),
        with_header(CwmpNamespace::V1_2, inform.into()),
        Envelope::new(
            CwmpNamespace::V1_1,
            SetVouchers {
                voucher_list: vec![Voucher(vec![]), Voucher(b"signed".to_vec())],
            },
        ),
    ]
}

#[test]
fn rich_examples_round_trip_in_every_surface() {
    let surfaces = [
        Surface::default(),
        Surface {
            default_ns: Some(DefaultNs::OnEnvelope),
            moves: vec![("cwmp", 2), ("xsd", 1), ("xsi", 2), ("soap-enc", 1)],
            renames: vec![
                ("soap-env", "SOAP-ENV"),
                ("soap-enc", "enc"),
                ("xsd", "xsi"),
                ("xsi", "xsd"),
            ],
            order: Some(vec![4, 3, 2, 1, 0]),
            layout: Some(Layout::Indented),
        },
        Surface {
            default_ns: Some(DefaultNs::OnEachElement),
            moves: vec![("cwmp", 1)],
            renames: vec![
                ("cwmp", "ns1"),
                ("xsd", "xs"),
                ("xsi", "i"),
                ("soap-env", "s"),
            ],
            order: Some(vec![1, 0, 0, 0, 0]),
            layout: Some(Layout::Mixed(vec![0, 1, 2, 3, 4, 5, 6])),
        },
    ];
    for env in rich_examples() {
        for surface in &surfaces {
            let xml = surface.apply(&written(&env));
            assert_eq!(
                Envelope::parse(xml.as_bytes()).as_ref(),
                Ok(&env),
                "read from:\n{xml}"
            );
        }
    }
}

#[test]
fn supported_versions_header_with_no_entry_round_trips() {
    let mut env = Envelope::new(CwmpNamespace::V1_2, Reboot::default());
    env.header.supported_cwmp_versions = Some(Vec::new());
    let xml = written(&env);
    assert!(xml.contains("<cwmp:SupportedCWMPVersions/>"), "{xml}");
    assert_eq!(Envelope::parse(xml.as_bytes()), Ok(env));
}

#[test]
fn transformations_change_what_they_claim_to() {
    let env = &rich_examples()[0];
    let xml = written(env);
    assert!(xml.contains(r#"xsi:type="cwmp:InstallOpStruct""#), "{xml}");
    let inform = rich_examples()
        .into_iter()
        .find(|e| e.body.name() == "Inform")
        .expect("an Inform");
    let inform_xml = written(&inform);
    assert!(
        inform_xml.contains(r#"soap-enc:arrayType="cwmp:EventStruct[4]""#),
        "{inform_xml}"
    );

    let renamed = Surface {
        renames: vec![
            ("soap-env", "s"),
            ("soap-enc", "enc"),
            ("xsd", "xs"),
            ("xsi", "i"),
            ("cwmp", "c"),
        ],
        ..Surface::default()
    }
    .apply(&xml);
    for gone in ["soap-env:", "cwmp:", "xsi:", "xmlns:xsd"] {
        assert!(!renamed.contains(gone), "{gone} left in:\n{renamed}");
    }
    for present in [
        "<s:Envelope",
        "</s:Body>",
        "<c:ChangeDUState>",
        r#"i:type="c:UninstallOpStruct""#,
        r#"s:mustUnderstand="1""#,
        "xmlns:enc=",
    ] {
        assert!(renamed.contains(present), "no {present} in:\n{renamed}");
    }
    let swapped = Surface {
        renames: vec![
            ("soap-enc", "enc"),
            ("xsd", "xsi"),
            ("xsi", "xsd"),
            ("cwmp", "c"),
        ],
        ..Surface::default()
    }
    .apply(&inform_xml);
    for present in [
        r#"enc:arrayType="c:EventStruct[4]""#,
        r#"<Value xsd:type="xsi:float">"#,
        r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema""#,
        // Text that looks like a QName is left alone.
        "<ProductClass>cwmp:IGD</ProductClass>",
        "<Value xsd:type=\"xsi:string\">  xsd:int  </Value>",
    ] {
        assert!(swapped.contains(present), "no {present} in:\n{swapped}");
    }

    let defaulted = Surface {
        default_ns: Some(DefaultNs::OnEnvelope),
        ..Surface::default()
    }
    .apply(&xml);
    assert!(!defaulted.contains("cwmp:"), "{defaulted}");
    assert!(
        defaulted.contains(r#"<ChangeDUState>"#) && defaulted.contains(r#"xmlns="urn:"#),
        "{defaulted}"
    );
    let each = Surface {
        default_ns: Some(DefaultNs::OnEachElement),
        ..Surface::default()
    }
    .apply(&xml);
    assert!(
        each.contains(r#"<ChangeDUState xmlns="urn:dslforum-org:cwmp-1-2">"#),
        "{each}"
    );

    let moved = Surface {
        moves: vec![("xsd", 1), ("cwmp", 2)],
        ..Surface::default()
    }
    .apply(&xml);
    assert!(
        moved.contains(r#"<soap-env:Body xmlns:xsd="http://www.w3.org/2001/XMLSchema">"#),
        "{moved}"
    );
    assert!(
        moved.contains(r#"<cwmp:ChangeDUState xmlns:cwmp="urn:dslforum-org:cwmp-1-2">"#),
        "{moved}"
    );
    let envelope_tag = moved.split_inclusive('>').nth(1).expect("the Envelope tag");
    assert!(!envelope_tag.contains("xmlns:cwmp"), "{envelope_tag}");

    let reordered = Surface {
        order: Some(vec![4, 3, 2, 1, 0]),
        ..Surface::default()
    }
    .apply(&xml);
    let tag = reordered
        .split_inclusive('>')
        .nth(1)
        .expect("the Envelope tag");
    assert!(
        tag.find("xmlns:cwmp").expect("cwmp") < tag.find("xmlns:soap-env").expect("soap-env"),
        "{tag}"
    );

    let spaced = Surface {
        layout: Some(Layout::Indented),
        ..Surface::default()
    }
    .apply(&xml);
    assert!(spaced.contains("\n  <soap-env:Header>"), "{spaced}");
    // Text content is untouched.
    assert!(spaced.contains("<URL>http://du.example.com/a.ipk?x=1&amp;y=&lt;2&gt;</URL>"));
    assert!(spaced.contains("<Username> user </Username>"));
}

/// A SOAP Fault with no CWMP header: its `cwmp:Fault` detail alone carries the namespace.
#[test]
fn fault_detail_alone_carries_the_namespace() {
    let env = Envelope::new(
        CwmpNamespace::V1_1,
        SoapFault::from(FaultCode::InternalError),
    );
    assert_eq!(Envelope::parse(&env.write()), Ok(env));
}
