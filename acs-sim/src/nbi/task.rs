//! Task request bodies (`POST /devices/{id}/tasks`): GenieACS task JSON, checked per task name
//! before it is queued, so a malformed task is a `400` now rather than a fault at the device's
//! next session. The arguments are kept with GenieACS's field names (what `job::task` reads).
//!
//! Also accepted: the `{"command": "<name>", "params": {...}}` shape some Python clients send;
//! it is normalised to `{"name": "<name>", ...params}`.

use serde_json::{Map, Value};

use crate::store::TaskName;

/// TR-069 parameter and object names are `string(256)` (Amd 6 A.3.2.1).
const MAX_PATH: usize = 256;
/// TR-069 CommandKey is `string(32)` (Amd 6 A.4.1.4).
const MAX_COMMAND_KEY: usize = 32;
/// `ManagementServer.URL` is `string(256)` (TR-181 Device:2).
const MAX_URL: usize = 256;
/// The highest Notification value (Amd 6 Table 40; 3 to 6 are the lightweight variants).
const MAX_NOTIFICATION: u64 = 6;
/// Fields the ACS sets itself; a client's values for them are dropped.
const RESERVED: [&str; 4] = ["_id", "device", "timestamp", "status"];

/// A checked task: its name and its arguments (the task JSON without `name`).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRequest {
    /// The RPC.
    pub name: TaskName,
    /// The arguments, a JSON object.
    pub arguments: Value,
}

/// Why a task body was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// The body is not JSON.
    #[error("task is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The body is not a JSON object.
    #[error("task must be a JSON object")]
    NotObject,
    /// No `name` (nor `command`).
    #[error("task needs a \"name\" string")]
    MissingName,
    /// A name this ACS does not know.
    #[error("unknown task name {0:?}")]
    UnknownName(String),
    /// An argument is missing or has the wrong shape.
    #[error("{field} {problem}")]
    Field {
        /// The argument, e.g. `parameterValues[1]`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

fn field_error(field: impl Into<String>, problem: impl Into<String>) -> TaskError {
    TaskError::Field {
        field: field.into(),
        problem: problem.into(),
    }
}

/// Parses and checks a task body.
pub fn parse(body: &[u8]) -> Result<TaskRequest, TaskError> {
    let Value::Object(mut task) = serde_json::from_slice(body)? else {
        return Err(TaskError::NotObject);
    };
    normalise_command(&mut task)?;
    let name = match task.remove("name") {
        Some(Value::String(name)) => name,
        Some(_) => return Err(field_error("name", "must be a string")),
        None => return Err(TaskError::MissingName),
    };
    let name = TaskName::ALL
        .into_iter()
        .find(|n| n.as_str() == name)
        .ok_or(TaskError::UnknownName(name))?;
    for reserved in RESERVED {
        task.remove(reserved);
    }
    check(name, &task)?;
    Ok(TaskRequest {
        name,
        arguments: Value::Object(task),
    })
}

/// `{"command": c, "params": {...}}` -> `{"name": c, ...}`; a task that has a `name` is left
/// alone.
fn normalise_command(task: &mut Map<String, Value>) -> Result<(), TaskError> {
    if task.contains_key("name") {
        return Ok(());
    }
    let Some(command) = task.remove("command") else {
        return Ok(());
    };
    task.insert("name".into(), command);
    match task.remove("params") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(params)) => {
            task.extend(params);
            Ok(())
        }
        Some(_) => Err(field_error("params", "must be an object")),
    }
}

fn check(name: TaskName, task: &Map<String, Value>) -> Result<(), TaskError> {
    let args = Args(task);
    match name {
        TaskName::GetParameterValues | TaskName::GetParameterAttributes => {
            args.paths("parameterNames")
        }
        TaskName::SetParameterValues => args.parameter_values(),
        TaskName::RefreshObject | TaskName::DeleteObject => args.path("objectName"),
        TaskName::AddObject => {
            args.path("objectName")?;
            match args.0.get("parameterValues") {
                Some(_) => args.parameter_values(),
                None => Ok(()),
            }
        }
        TaskName::Reboot | TaskName::FactoryReset => Ok(()),
        TaskName::Download => {
            let file = args.optional_string("file")?;
            let file_name = args.optional_string("fileName")?;
            if file.is_none() && file_name.is_none() {
                return Err(field_error("file", "(or fileName) must be given"));
            }
            args.optional_string("fileType")?;
            args.optional_string("targetFileName")?;
            Ok(())
        }
        TaskName::Upload => {
            args.string("fileType")?;
            args.optional_string("fileName")?;
            Ok(())
        }
        TaskName::SetParameterAttributes => args.parameter_attributes(),
        TaskName::ScheduleInform => {
            let delay = args.0.get("delaySeconds").and_then(Value::as_u64);
            if !delay.is_some_and(|d| (1..=u64::from(u32::MAX)).contains(&d)) {
                return Err(field_error(
                    "delaySeconds",
                    "must be an integer from 1 to 4294967295",
                ));
            }
            let key = args.optional_string("commandKey")?;
            if key.is_some_and(|k| k.chars().count() > MAX_COMMAND_KEY) {
                return Err(field_error(
                    "commandKey",
                    format!("must be at most {MAX_COMMAND_KEY} characters"),
                ));
            }
            Ok(())
        }
        TaskName::SetAcsUrl => {
            let url = args.string("url")?;
            if !(url.starts_with("http://") || url.starts_with("https://"))
                || url.chars().count() > MAX_URL
            {
                return Err(field_error(
                    "url",
                    format!("must be an http:// or https:// URL of at most {MAX_URL} characters"),
                ));
            }
            Ok(())
        }
    }
}

/// Typed access to a task's arguments, with errors naming the field.
struct Args<'a>(&'a Map<String, Value>);

impl Args<'_> {
    fn string(&self, field: &str) -> Result<&str, TaskError> {
        self.optional_string(field)?
            .ok_or_else(|| field_error(field, "must be a string"))
    }

    fn optional_string(&self, field: &str) -> Result<Option<&str>, TaskError> {
        match self.0.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(field_error(field, "must be a string")),
        }
    }

    fn path(&self, field: &str) -> Result<(), TaskError> {
        check_path(field, self.0.get(field))
    }

    fn paths(&self, field: &str) -> Result<(), TaskError> {
        let items = self
            .0
            .get(field)
            .and_then(Value::as_array)
            .ok_or_else(|| field_error(field, "must be an array of parameter names"))?;
        for (i, item) in items.iter().enumerate() {
            check_path(&format!("{field}[{i}]"), Some(item))?;
        }
        Ok(())
    }

    /// `parameterValues`: `[[path, value], [path, value, "xsd:type"], ...]`, the value a
    /// string, number or boolean.
    fn parameter_values(&self) -> Result<(), TaskError> {
        const FIELD: &str = "parameterValues";
        const SHAPE: &str = "must be [name, value] or [name, value, type]";
        let items = self
            .0
            .get(FIELD)
            .and_then(Value::as_array)
            .ok_or_else(|| field_error(FIELD, "must be an array of [name, value, type?]"))?;
        for (i, item) in items.iter().enumerate() {
            let at = format!("{FIELD}[{i}]");
            match item.as_array().map(Vec::as_slice) {
                Some([path, value, rest @ ..]) if rest.len() <= 1 => {
                    check_path(&format!("{at}[0]"), Some(path))?;
                    if !(value.is_string() || value.is_number() || value.is_boolean()) {
                        return Err(field_error(
                            format!("{at}[1]"),
                            "must be a string, number or boolean",
                        ));
                    }
                    if rest.first().is_some_and(|t| !t.is_string()) {
                        return Err(field_error(format!("{at}[2]"), "must be a type string"));
                    }
                }
                _ => return Err(field_error(at, SHAPE)),
            }
        }
        Ok(())
    }

    /// `parameterAttributes`: `[{"name", "notification"?, "accessList"?}, ...]` with at least
    /// one of the two changes (SetParameterAttributesStruct, Amd 6 A.3.2.4).
    fn parameter_attributes(&self) -> Result<(), TaskError> {
        const FIELD: &str = "parameterAttributes";
        let items = self
            .0
            .get(FIELD)
            .and_then(Value::as_array)
            .ok_or_else(|| field_error(FIELD, "must be an array of objects"))?;
        for (i, item) in items.iter().enumerate() {
            let at = format!("{FIELD}[{i}]");
            let attribute = item
                .as_object()
                .ok_or_else(|| field_error(&at, "must be an object"))?;
            check_path(&format!("{at}.name"), attribute.get("name"))?;
            let notification = attribute.get("notification");
            if notification.is_some_and(|n| n.as_u64().is_none_or(|n| n > MAX_NOTIFICATION)) {
                return Err(field_error(
                    format!("{at}.notification"),
                    format!("must be an integer from 0 to {MAX_NOTIFICATION}"),
                ));
            }
            let access_list = attribute.get("accessList");
            if access_list.is_some_and(|list| {
                list.as_array()
                    .is_none_or(|items| !items.iter().all(Value::is_string))
            }) {
                return Err(field_error(
                    format!("{at}.accessList"),
                    "must be an array of strings",
                ));
            }
            if notification.is_none() && access_list.is_none() {
                return Err(field_error(
                    format!("{at}.notification"),
                    "(or accessList) must be given",
                ));
            }
        }
        Ok(())
    }
}

fn check_path(field: &str, value: Option<&Value>) -> Result<(), TaskError> {
    match value {
        Some(Value::String(path)) if path.len() <= MAX_PATH => Ok(()),
        Some(Value::String(_)) => Err(field_error(
            field,
            format!("must be at most {MAX_PATH} bytes"),
        )),
        _ => Err(field_error(field, "must be a parameter name string")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse_json(task: &Value) -> Result<TaskRequest, TaskError> {
        parse(task.to_string().as_bytes())
    }

    fn refused(task: Value) -> String {
        parse_json(&task).unwrap_err().to_string()
    }

    #[test]
    fn every_task_name_accepts_its_genieacs_arguments() {
        let good = [
            json!({"name": "refreshObject", "objectName": "Device.DeviceInfo."}),
            json!({"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo.UpTime"]}),
            json!({"name": "setParameterValues", "parameterValues": [["A.B", "x"], ["A.C", 1, "xsd:int"], ["A.D", true]]}),
            json!({"name": "addObject", "objectName": "Device.NAT.PortMapping."}),
            json!({"name": "deleteObject", "objectName": "Device.NAT.PortMapping.1."}),
            json!({"name": "reboot"}),
            json!({"name": "factoryReset"}),
            json!({"name": "download", "file": "fw.bin", "fileType": "1 Firmware Upgrade Image"}),
            json!({"name": "upload", "fileType": "3 Vendor Log File", "fileName": "log.txt"}),
            json!({"name": "getParameterAttributes", "parameterNames": ["Device."]}),
            json!({"name": "setParameterAttributes", "parameterAttributes": [{"name": "A.B", "notification": 2, "accessList": ["Subscriber"]}]}),
            json!({"name": "scheduleInform", "delaySeconds": 5, "commandKey": "k"}),
            json!({"name": "setAcsUrl", "url": "https://acs.example:7547/"}),
        ];
        assert_eq!(good.len(), TaskName::ALL.len());
        for (task, name) in good.iter().zip(TaskName::ALL) {
            let parsed = parse_json(task).unwrap_or_else(|e| panic!("{task}: {e}"));
            assert_eq!(parsed.name, name);
            let mut expected = task.clone();
            expected.as_object_mut().unwrap().remove("name");
            assert_eq!(parsed.arguments, expected);
        }
    }

    #[test]
    fn command_shape_is_normalised_and_reserved_fields_dropped() {
        let parsed = parse_json(&json!({
            "command": "getParameterValues",
            "params": {"parameterNames": ["A.B"]},
            "_id": "x", "device": "y", "timestamp": 1, "status": "done",
        }))
        .unwrap();
        assert_eq!(parsed.name, TaskName::GetParameterValues);
        assert_eq!(parsed.arguments, json!({"parameterNames": ["A.B"]}));
        assert_eq!(
            refused(json!({"command": "reboot", "params": [1]})),
            "params must be an object"
        );
    }

    #[test]
    fn refusals_name_the_field() {
        assert!(
            parse(b"{nope")
                .unwrap_err()
                .to_string()
                .starts_with("task is not valid JSON")
        );
        assert_eq!(refused(json!([1])), "task must be a JSON object");
        assert_eq!(refused(json!({})), r#"task needs a "name" string"#);
        assert_eq!(refused(json!({"name": 3})), "name must be a string");
        assert_eq!(
            refused(json!({"name": "explode"})),
            r#"unknown task name "explode""#
        );
        let cases = [
            (
                json!({"name": "getParameterValues", "parameterNames": "A.B"}),
                "parameterNames must be an array of parameter names",
            ),
            (
                json!({"name": "getParameterValues", "parameterNames": ["A", 2]}),
                "parameterNames[1] must be a parameter name string",
            ),
            (
                json!({"name": "getParameterValues", "parameterNames": ["A".repeat(257)]}),
                "parameterNames[0] must be at most 256 bytes",
            ),
            (
                json!({"name": "setParameterValues", "parameterValues": [["A.B"]]}),
                "parameterValues[0] must be [name, value] or [name, value, type]",
            ),
            (
                json!({"name": "setParameterValues", "parameterValues": [["A.B", null]]}),
                "parameterValues[0][1] must be a string, number or boolean",
            ),
            (
                json!({"name": "setParameterValues", "parameterValues": [["A.B", "1", 5]]}),
                "parameterValues[0][2] must be a type string",
            ),
            (
                json!({"name": "addObject", "objectName": "A.", "parameterValues": 1}),
                "parameterValues must be an array of [name, value, type?]",
            ),
            (
                json!({"name": "refreshObject"}),
                "objectName must be a parameter name string",
            ),
            (
                json!({"name": "download", "fileType": "1 Firmware Upgrade Image"}),
                "file (or fileName) must be given",
            ),
            (
                json!({"name": "download", "file": "a", "targetFileName": 1}),
                "targetFileName must be a string",
            ),
            (json!({"name": "upload"}), "fileType must be a string"),
            (
                json!({"name": "setParameterAttributes", "parameterAttributes": [{"name": "A", "notification": 7}]}),
                "parameterAttributes[0].notification must be an integer from 0 to 6",
            ),
            (
                json!({"name": "setParameterAttributes", "parameterAttributes": [{"name": "A"}]}),
                "parameterAttributes[0].notification (or accessList) must be given",
            ),
            (
                json!({"name": "setParameterAttributes", "parameterAttributes": [{"name": "A", "accessList": "x"}]}),
                "parameterAttributes[0].accessList must be an array of strings",
            ),
            (
                json!({"name": "scheduleInform", "delaySeconds": 0}),
                "delaySeconds must be an integer from 1 to 4294967295",
            ),
            (
                json!({"name": "scheduleInform", "delaySeconds": 1, "commandKey": "k".repeat(33)}),
                "commandKey must be at most 32 characters",
            ),
            (
                json!({"name": "setAcsUrl", "url": "ftp://x"}),
                "url must be an http:// or https:// URL of at most 256 characters",
            ),
        ];
        for (task, message) in cases {
            assert_eq!(refused(task.clone()), message, "{task}");
        }
    }
}
