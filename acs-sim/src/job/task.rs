//! GenieACS task JSON to jobs: what each queued task sends to the CPE (TR-069 A.3.2, A.4.1)
//! and what it keeps.
//!
//! `Task::arguments` holds the task JSON without its `name`, in GenieACS's field names
//! (`parameterNames`, `parameterValues`, `objectName`, `file`, ...); the REST API checked its
//! shape, but a task in the store may predate that check, so every field is read again here
//! and a bad one faults the task instead of panicking.

use schemas::Body;
use schemas::rpc::types::{ParameterValueStruct, SetParameterAttributesStruct};
use schemas::rpc::{
    AddObject, CommandKey, DeleteObject, Download, FactoryReset, GetParameterAttributes,
    ParameterKey, Reboot, ScheduleInform, SetParameterAttributes, Upload,
};
use schemas::value::{Value, XsdType};
use serde_json::Value as Json;

use super::{Answer, Discovery, Effects, Job, JobFault, SetValues, Step, expect_response};
use crate::acs::Acs;
use crate::files::{download_source, file_url};
use crate::store::{Task, TaskName};

/// The job that carries out `task` on a device whose data model root is `root`
/// (`Device.` or `InternetGatewayDevice.`) and that takes partial paths in GetParameterValues
/// if `partial_paths`, or the fault that explains why its arguments are unusable.
pub fn build(
    task: &Task,
    acs: &Acs,
    root: &str,
    partial_paths: bool,
) -> Result<Box<dyn Job>, JobFault> {
    let args = &task.arguments;
    let label = task.name.as_str();
    // The task id is the CommandKey: TransferComplete and M Reboot then name the task.
    let command_key = || CommandKey::from_wire(task.id.as_str().to_owned());
    let parameter_key = || ParameterKey::from_wire(task.id.as_str().to_owned());
    let single = |request: Body| -> Result<Box<dyn Job>, JobFault> {
        Ok(Box::new(Single::new(label, request)))
    };
    match task.name {
        TaskName::GetParameterValues => {
            let names = strings(args, "parameterNames")?;
            Ok(Box::new(Discovery::new(label, names, partial_paths)))
        }
        TaskName::RefreshObject => {
            let object = optional_str(args, "objectName")?.unwrap_or(root);
            Ok(Box::new(Discovery::new(
                label,
                [object.to_owned()],
                partial_paths,
            )))
        }
        TaskName::SetParameterValues => {
            let values = parameter_values(args)?;
            Ok(Box::new(SetValues::new(label, values, parameter_key())))
        }
        TaskName::SetAcsUrl => {
            let url = string(args, "url")?;
            let values = vec![ParameterValueStruct::new(
                format!("{root}ManagementServer.URL"),
                url,
            )];
            Ok(Box::new(SetValues::new(label, values, parameter_key())))
        }
        TaskName::AddObject => {
            let object_name = object_path(args)?;
            single(
                AddObject {
                    object_name,
                    parameter_key: parameter_key(),
                }
                .into(),
            )
        }
        TaskName::DeleteObject => {
            let object_name = object_path(args)?;
            single(
                DeleteObject {
                    object_name,
                    parameter_key: parameter_key(),
                }
                .into(),
            )
        }
        TaskName::Reboot => single(
            Reboot {
                command_key: command_key(),
            }
            .into(),
        ),
        TaskName::FactoryReset => single(FactoryReset {}.into()),
        TaskName::Download => {
            let name = optional_str(args, "file")?
                .or(optional_str(args, "fileName")?)
                .ok_or_else(|| JobFault::invalid("download needs a file name (\"file\")"))?;
            let source = download_source(acs, name)
                .map_err(|_| JobFault::invalid(format!("no file named {name:?} on the ACS")))?;
            let file_type = optional_str(args, "fileType")?.unwrap_or(&source.file_type);
            let request = Download {
                command_key: command_key(),
                file_type: file_type.to_owned(),
                url: source.url,
                // FileSize is an unsignedInt; 0 means "unknown" (A.3.2.8).
                file_size: u32::try_from(source.file_size).unwrap_or(0),
                target_file_name: optional_str(args, "targetFileName")?
                    .unwrap_or("")
                    .to_owned(),
                ..Download::default()
            };
            single(request.into())
        }
        TaskName::Upload => {
            let file_type = string(args, "fileType")?;
            let default_name = format!("{}-{}", task.device, task.id);
            let name = optional_str(args, "fileName")?.unwrap_or(&default_name);
            let request = Upload {
                command_key: command_key(),
                file_type: file_type.to_owned(),
                url: file_url(&acs.config.files_url, name),
                ..Upload::default()
            };
            single(request.into())
        }
        TaskName::GetParameterAttributes => {
            let parameter_names = strings(args, "parameterNames")?;
            single(GetParameterAttributes { parameter_names }.into())
        }
        TaskName::SetParameterAttributes => {
            let parameter_list = parameter_attributes(args)?;
            single(SetParameterAttributes { parameter_list }.into())
        }
        TaskName::ScheduleInform => {
            let delay = args.get("delaySeconds").and_then(Json::as_u64).unwrap_or(0);
            let delay_seconds = u32::try_from(delay).map_err(|_| {
                JobFault::invalid(format!(
                    "delaySeconds must be 0..={}, got {delay}",
                    u32::MAX
                ))
            })?;
            let key = optional_str(args, "commandKey")?.unwrap_or(task.id.as_str());
            let request = ScheduleInform {
                delay_seconds,
                command_key: CommandKey::from_wire(key.to_owned()),
            };
            single(request.into())
        }
    }
}

/// One request, one response of the matching type: every task but the discoveries and the
/// value sets.
struct Single {
    label: &'static str,
    request: Option<Body>,
    /// The response's element name.
    expect: String,
}

impl Single {
    fn new(label: &'static str, request: Body) -> Self {
        let expect = format!("{}Response", request.name());
        Self {
            label,
            request: Some(request),
            expect,
        }
    }
}

impl Job for Single {
    fn label(&self) -> String {
        self.label.to_owned()
    }

    fn step(&mut self, answer: Option<Answer>, _effects: &mut Effects) -> Step {
        if let Some(request) = self.request.take() {
            return Step::Send(request);
        }
        match expect_response(answer) {
            Ok(Some(body)) if body.name() == self.expect => Step::Done,
            Ok(Some(other)) => Step::Failed(JobFault::unexpected(&self.expect, &other)),
            Ok(None) => Step::Failed(JobFault::invalid("the job was stepped without an answer")),
            Err(fault) => Step::Failed(fault),
        }
    }
}

fn field<'a>(args: &'a Json, name: &str) -> Result<&'a Json, JobFault> {
    args.get(name)
        .ok_or_else(|| JobFault::invalid(format!("missing {name:?}")))
}

fn string<'a>(args: &'a Json, name: &str) -> Result<&'a str, JobFault> {
    field(args, name)?
        .as_str()
        .ok_or_else(|| JobFault::invalid(format!("{name:?} must be a string")))
}

fn optional_str<'a>(args: &'a Json, name: &str) -> Result<Option<&'a str>, JobFault> {
    match args.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(_) => string(args, name).map(Some),
    }
}

fn strings(args: &Json, name: &str) -> Result<Vec<String>, JobFault> {
    field(args, name)?
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .ok_or_else(|| JobFault::invalid(format!("{name:?} must be an array of strings")))
}

/// An object path for AddObject / DeleteObject: a partial path, so it ends in `.`.
fn object_path(args: &Json) -> Result<String, JobFault> {
    let name = string(args, "objectName")?;
    Ok(if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    })
}

/// GenieACS `parameterValues`: `[[name, value], [name, value, type], ...]` (type `xsd:int` or
/// `int`); a JSON bool or number without a type gets `xsd:boolean` / `xsd:int` /
/// `xsd:unsignedInt`.
fn parameter_values(args: &Json) -> Result<Vec<ParameterValueStruct>, JobFault> {
    let bad = |i: usize| {
        JobFault::invalid(format!(
            "parameterValues[{i}] must be [name, value] or [name, value, type]"
        ))
    };
    let items = field(args, "parameterValues")?
        .as_array()
        .ok_or_else(|| JobFault::invalid("\"parameterValues\" must be an array"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let parts = item
                .as_array()
                .filter(|p| (2..=3).contains(&p.len()))
                .ok_or_else(|| bad(i))?;
            let name = parts[0].as_str().ok_or_else(|| bad(i))?.to_owned();
            let (value, implied) = match &parts[1] {
                Json::String(s) => (s.clone(), "string"),
                Json::Bool(b) => (b.to_string(), "boolean"),
                Json::Number(n) if n.is_u64() => (n.to_string(), "unsignedInt"),
                Json::Number(n) if n.is_i64() => (n.to_string(), "int"),
                _ => return Err(bad(i)),
            };
            let type_name = match parts.get(2) {
                None => implied,
                Some(Json::String(t)) => t.rsplit(':').next().unwrap_or(t),
                Some(_) => return Err(bad(i)),
            };
            let ty = XsdType::from_name(type_name).ok_or_else(|| {
                JobFault::invalid(format!("parameterValues[{i}]: unknown type {type_name:?}"))
            })?;
            Ok(ParameterValueStruct {
                name,
                value: Value::parse(ty, &value),
            })
        })
        .collect()
}

/// `parameterAttributes`: `[{"name", "notification"?, "accessList"?}, ...]` (A.3.2.4).
fn parameter_attributes(args: &Json) -> Result<Vec<SetParameterAttributesStruct>, JobFault> {
    let items = field(args, "parameterAttributes")?
        .as_array()
        .ok_or_else(|| JobFault::invalid("\"parameterAttributes\" must be an array"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let name = item.get("name").and_then(Json::as_str).ok_or_else(|| {
                JobFault::invalid(format!("parameterAttributes[{i}].name must be a string"))
            })?;
            let notification = match item.get("notification") {
                None => None,
                Some(n) => Some(
                    n.as_i64()
                        .and_then(|n| i32::try_from(n).ok())
                        .and_then(schemas::rpc::types::Notification::from_number)
                        .ok_or_else(|| {
                            JobFault::invalid(format!(
                                "parameterAttributes[{i}].notification must be 0..=6"
                            ))
                        })?,
                ),
            };
            let access_list = match item.get("accessList") {
                None => None,
                Some(list) => Some(
                    list.as_array()
                        .and_then(|l| {
                            l.iter()
                                .map(|v| v.as_str().map(str::to_owned))
                                .collect::<Option<Vec<_>>>()
                        })
                        .ok_or_else(|| {
                            JobFault::invalid(format!(
                                "parameterAttributes[{i}].accessList must be an array of strings"
                            ))
                        })?,
                ),
            };
            Ok(SetParameterAttributesStruct {
                name: name.to_owned(),
                notification_change: notification.is_some(),
                notification: notification.unwrap_or_default(),
                access_list_change: access_list.is_some(),
                access_list: access_list.unwrap_or_default(),
            })
        })
        .collect()
}
