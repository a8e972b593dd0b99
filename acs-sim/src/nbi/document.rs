//! Store records as GenieACS NBI documents: devices (with the parameter tree), tasks and
//! faults, their dates, and `?projection=`.

use std::ops::Bound;

use schemas::value::DateTime;
use serde_json::{Map, Value, json};

use super::query::{self, Document, Field, Scalar};
use crate::store::{Device, Fault, ParameterRecord, Task, TaskStatus};

/// Unix seconds as GenieACS writes dates (JavaScript `toISOString`): `2024-05-01T12:00:00.000Z`.
/// Times outside years 1..=9999 are written as the Unknown Time, `0001-01-01T00:00:00.000Z`.
pub(super) fn iso_date(unix_seconds: i64) -> String {
    let time = DateTime::from_unix(unix_seconds, 0).unwrap_or(DateTime::UNKNOWN);
    // Whole seconds display as `...:ssZ`; GenieACS always has milliseconds.
    let text = time.to_string();
    format!("{}.000Z", text.trim_end_matches('Z'))
}

/// A device as `GET /devices/` shows it: `_id`, `_deviceId`, `_lastInform`, `_tags` (only when
/// there are some, as GenieACS) and the parameter tree, each leaf being
/// `{"_value", "_type", "_timestamp"}`. Beyond GenieACS: `_lastEvents`, the event codes of the
/// last Inform (`["1 BOOT", "M Reboot"]`), so a script sees why the device last called.
pub(super) fn device_json(device: &Device) -> Value {
    let mut doc = Map::new();
    doc.insert("_id".into(), device.id.as_str().into());
    doc.insert(
        "_deviceId".into(),
        json!({
            "_Manufacturer": device.manufacturer,
            "_OUI": device.oui,
            "_ProductClass": device.product_class,
            "_SerialNumber": device.serial_number,
        }),
    );
    doc.insert("_lastInform".into(), iso_date(device.last_inform).into());
    doc.insert("_lastEvents".into(), device.last_events.clone().into());
    if !device.tags.is_empty() {
        doc.insert(
            "_tags".into(),
            device
                .tags
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .into(),
        );
    }
    for (name, record) in &device.parameters {
        insert_leaf(&mut doc, name, record);
    }
    Value::Object(doc)
}

/// Puts `{"_value", "_type", "_timestamp"}` at `name`'s place in the tree. A name that would
/// overwrite something that is not an object (a parameter called `_id`, say) is left out.
fn insert_leaf(doc: &mut Map<String, Value>, name: &str, record: &ParameterRecord) {
    let mut node = doc;
    let mut segments = name.split('.').peekable();
    while let Some(segment) = segments.next() {
        let child = node
            .entry(segment)
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(child) = child else { return };
        if segments.peek().is_none() {
            child.insert("_value".into(), value_json(record));
            child.insert("_type".into(), record.xsd_type.clone().into());
            child.insert("_timestamp".into(), iso_date(record.timestamp).into());
            return;
        }
        node = child;
    }
}

/// The typed value of a parameter, as GenieACS keeps it: booleans and integers as JSON
/// booleans and numbers, everything else (dates included) as the text received.
fn value_json(record: &ParameterRecord) -> Value {
    match typed_value(record) {
        Scalar::Bool(b) => b.into(),
        Scalar::Number(_) => serde_json::from_str::<serde_json::Number>(record.value.trim())
            .map_or_else(|_| record.value.clone().into(), Value::Number),
        _ => record.value.clone().into(),
    }
}

/// A parameter's value typed by its xsd type, for queries; the text when it does not parse.
fn typed_value(record: &ParameterRecord) -> Scalar {
    let text = &record.value;
    let typed = match record.xsd_type.trim_start_matches("xsd:") {
        "boolean" => query::parse_bool(text).map(Scalar::Bool),
        "int" | "unsignedInt" | "long" | "unsignedLong" => {
            text.trim().parse::<f64>().ok().map(Scalar::Number)
        }
        "dateTime" => query::parse_date_ms(text).map(Scalar::Date),
        _ => None,
    };
    typed.unwrap_or_else(|| Scalar::String(text.clone()))
}

impl Document for Device {
    /// The fields of `device_json`, with dates as dates and parameter values typed. A
    /// parameter path may name the value with or without `._value` (GenieACS adds it); an object
    /// path exists when some parameter lies under it.
    fn field(&self, path: &str) -> Field {
        let one = |s: Scalar| Field::Present(vec![s]);
        let text = |s: &str| one(Scalar::String(s.to_owned()));
        match path {
            "_id" => return text(self.id.as_str()),
            "_deviceId" => return Field::Present(Vec::new()),
            "_deviceId._Manufacturer" => return text(&self.manufacturer),
            "_deviceId._OUI" => return text(&self.oui),
            "_deviceId._ProductClass" => return text(&self.product_class),
            "_deviceId._SerialNumber" => return text(&self.serial_number),
            "_lastInform" => return one(Scalar::Date(self.last_inform.saturating_mul(1000))),
            "_lastEvents" => {
                return Field::Present(
                    self.last_events
                        .iter()
                        .map(|e| Scalar::String(e.clone()))
                        .collect(),
                );
            }
            "_tags" if self.tags.is_empty() => return Field::Missing,
            "_tags" => {
                return Field::Present(
                    self.tags
                        .iter()
                        .map(|t| Scalar::String(t.clone()))
                        .collect(),
                );
            }
            _ => {}
        }
        let (name, attribute) = match path.rsplit_once('.') {
            Some((name, attr @ ("_value" | "_type" | "_timestamp"))) => (name, Some(attr)),
            _ => (path, None),
        };
        if let Some(record) = self.parameters.get(name) {
            return one(match attribute {
                Some("_type") => Scalar::String(record.xsd_type.clone()),
                Some("_timestamp") => Scalar::Date(record.timestamp.saturating_mul(1000)),
                _ => typed_value(record),
            });
        }
        if attribute.is_none() && has_parameters_under(self, name) {
            Field::Present(Vec::new())
        } else {
            Field::Missing
        }
    }
}

/// Whether some parameter of `device` lies under the object path `name` (with or without its
/// final `.`).
fn has_parameters_under(device: &Device, name: &str) -> bool {
    let prefix = if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    };
    device
        .parameters
        .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
        .next()
        .is_some_and(|(next, _)| next.starts_with(&prefix))
}

/// A task as GenieACS shows it: its arguments, `_id`, `device`, `name`, `timestamp`, plus our
/// `status` (`queued`, `in_progress`, `faulted`, or `done` once answered).
pub(super) fn task_json(task: &Task, status: TaskStatus) -> Value {
    let mut doc = match &task.arguments {
        Value::Object(arguments) => arguments.clone(),
        _ => Map::new(),
    };
    doc.insert("_id".into(), task.id.as_str().into());
    doc.insert("device".into(), task.device.as_str().into());
    doc.insert("name".into(), task.name.as_str().into());
    doc.insert("timestamp".into(), iso_date(task.timestamp).into());
    doc.insert("status".into(), status.as_str().into());
    Value::Object(doc)
}

/// A fault as GenieACS shows it; the channel of a task's fault is `task_<task id>`.
pub(super) fn fault_json(fault: &Fault) -> Value {
    json!({
        "_id": fault.id,
        "device": fault.device.as_str(),
        "channel": format!("task_{}", fault.task),
        "code": fault.code,
        "message": fault.message,
        "detail": fault.detail,
        "timestamp": iso_date(fault.timestamp),
        "retries": fault.retries,
    })
}

/// `?projection=a.b,c`: the sub-trees to keep (GenieACS: comma-separated dotted paths; `_id` is
/// always kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Projection(Vec<Vec<String>>);

impl Projection {
    /// Parses the parameter; `None` when it names nothing (everything is shown). A trailing `.`
    /// (a TR-069 partial path) is ignored.
    pub(super) fn parse(text: &str) -> Option<Self> {
        let paths: Vec<Vec<String>> = text
            .split(',')
            .map(|p| p.trim().trim_end_matches('.'))
            .filter(|p| !p.is_empty())
            .map(|p| p.split('.').map(str::to_owned).collect())
            .collect();
        (!paths.is_empty()).then_some(Self(paths))
    }

    /// The parts of `doc` the projection selects.
    pub(super) fn apply(&self, doc: &Value) -> Value {
        let Value::Object(source) = doc else {
            return doc.clone();
        };
        let mut out = Map::new();
        if let Some(id) = source.get("_id") {
            out.insert("_id".into(), id.clone());
        }
        for path in &self.0 {
            copy_path(source, &mut out, path);
        }
        Value::Object(out)
    }
}

fn copy_path(source: &Map<String, Value>, out: &mut Map<String, Value>, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Some(value) = source.get(first) else {
        return;
    };
    match value {
        _ if rest.is_empty() => {
            out.insert(first.clone(), value.clone());
        }
        Value::Object(inner) => {
            let entry = out
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(entry) = entry {
                copy_path(inner, entry, rest);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::nbi::query::Query;
    use crate::store::DeviceId;

    fn record(value: &str, xsd_type: &str) -> ParameterRecord {
        ParameterRecord {
            value: value.into(),
            xsd_type: xsd_type.into(),
            timestamp: 1_700_000_000,
        }
    }

    fn device() -> Device {
        let parameters = BTreeMap::from([
            (
                "Device.DeviceInfo.SoftwareVersion".to_owned(),
                record("1.2.3", "xsd:string"),
            ),
            (
                "Device.DeviceInfo.UpTime".to_owned(),
                record("42", "xsd:unsignedInt"),
            ),
            (
                "Device.ManagementServer.PeriodicInformEnable".to_owned(),
                record("1", "xsd:boolean"),
            ),
            (
                "Device.Time.CurrentLocalTime".to_owned(),
                record("2024-05-01T12:00:00Z", "xsd:dateTime"),
            ),
            ("_id".to_owned(), record("clash", "xsd:string")),
        ]);
        Device {
            id: DeviceId::new("00236A", "IGD", "SN-1"),
            manufacturer: "Acme".into(),
            oui: "00236A".into(),
            product_class: "IGD".into(),
            serial_number: "SN-1".into(),
            last_inform: 1_714_564_800,
            last_events: vec![],
            parameters,
            tags: BTreeSet::from(["lab".to_owned()]),
            cwmp_version: "1.4".into(),
            connection_request_url: None,
            credentials: None,
        }
    }

    #[test]
    fn dates_look_like_javascript_iso_strings() {
        assert_eq!(iso_date(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_date(1_714_564_800), "2024-05-01T12:00:00.000Z");
        assert_eq!(iso_date(i64::MAX), "0001-01-01T00:00:00.000Z");
    }

    #[test]
    fn device_document_has_genieacs_shape() {
        let doc = device_json(&device());
        assert_eq!(doc["_id"], "00236A-IGD-SN%2D1");
        assert_eq!(doc["_deviceId"]["_SerialNumber"], "SN-1");
        assert_eq!(doc["_lastInform"], "2024-05-01T12:00:00.000Z");
        assert_eq!(doc["_tags"], json!(["lab"]));
        assert_eq!(
            doc["Device"]["DeviceInfo"]["SoftwareVersion"],
            json!({"_value": "1.2.3", "_type": "xsd:string", "_timestamp": "2023-11-14T22:13:20.000Z"})
        );
        assert_eq!(doc["Device"]["DeviceInfo"]["UpTime"]["_value"], 42);
        assert_eq!(
            doc["Device"]["ManagementServer"]["PeriodicInformEnable"]["_value"],
            true
        );
        let mut untagged = device();
        untagged.tags.clear();
        assert!(device_json(&untagged).get("_tags").is_none());
    }

    #[test]
    fn device_fields_for_queries() {
        let d = device();
        let matches = |text: &str| Query::parse(text).unwrap().matches(&d);
        assert!(matches(r#"{"Device.DeviceInfo.SoftwareVersion": "1.2.3"}"#));
        assert!(matches(
            r#"{"Device.DeviceInfo.SoftwareVersion._value": "1.2.3"}"#
        ));
        assert!(matches(r#"{"Device.DeviceInfo.UpTime": {"$gte": 42}}"#));
        assert!(matches(
            r#"{"Device.ManagementServer.PeriodicInformEnable": true}"#
        ));
        assert!(matches(
            r#"{"Device.Time.CurrentLocalTime": {"$gt": "2024-01-01T00:00:00Z"}}"#
        ));
        assert!(matches(
            r#"{"Device.DeviceInfo.UpTime._type": "xsd:unsignedInt"}"#
        ));
        assert!(matches(
            r#"{"_lastInform": {"$gte": "2024-05-01T12:00:00.000Z"}}"#
        ));
        assert!(matches(
            r#"{"_deviceId._Manufacturer": "Acme", "_tags": "lab"}"#
        ));
        assert!(matches(r#"{"Device.DeviceInfo": {"$exists": true}}"#));
        assert!(matches(r#"{"Device.DeviceInf": {"$exists": false}}"#));
        assert!(matches(r#"{"Device.DeviceInfo.": {"$exists": true}}"#));
        assert!(matches(
            r#"{"Device.DeviceInfo._value": {"$exists": false}}"#
        ));
        assert!(matches(r#"{"Device.Missing": null}"#));
    }

    #[test]
    fn projection_keeps_id_and_selected_subtrees() {
        let doc = device_json(&device());
        let projection = Projection::parse("_deviceId._SerialNumber, Device.DeviceInfo.").unwrap();
        let projected = projection.apply(&doc);
        assert_eq!(
            projected,
            json!({
                "_id": "00236A-IGD-SN%2D1",
                "_deviceId": {"_SerialNumber": "SN-1"},
                "Device": {"DeviceInfo": doc["Device"]["DeviceInfo"].clone()},
            })
        );
        assert_eq!(Projection::parse(" , "), None);
        let nothing = Projection::parse("Nope.Nothing").unwrap().apply(&doc);
        assert_eq!(nothing, json!({"_id": "00236A-IGD-SN%2D1"}));
    }
}
