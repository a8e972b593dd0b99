//! Data-model metadata: the type, access and notification rules of every standard `Device:2`
//! parameter and object (BBF TR-181 Issue 2, Device:2.17), from a table generated from the BBF
//! XML and committed here; the build never reads the XML.
//!
//! Names are *templates*: instance numbers are written `{i}`
//! (`Device.WiFi.SSID.{i}.SSID`); [`template_of`] turns a path into its template.
//!
//! ```
//! use schemas::model::{self, ActiveNotify};
//! use schemas::value::XsdType;
//!
//! let interval = model::parameter("Device.ManagementServer.PeriodicInformInterval").unwrap();
//! assert_eq!((interval.ty, interval.writable), (XsdType::UnsignedInt, true));
//! assert_eq!(interval.range, Some((1, u32::MAX.into())));
//!
//! let template = model::template_of("Device.WiFi.SSID.2.SSID");
//! assert!(model::parameter(&template).is_some());
//! assert!(model::object("Device.WiFi.SSID.{i}.").unwrap().multi_instance);
//! ```
//!
//! The table (`tr181.tsv`, written by `cargo run -p schemas --example gen-tr181`, format
//! described in `examples/gen-tr181/convert.rs`) is embedded in the library and read once, on
//! first use; after that a lookup is one hash-map probe. What it keeps of the XML:
//!
//! - every `Device.` object and parameter of the `Device:2.17` model; `status="deleted"` items
//!   are left out, deprecated and obsoleted ones kept (devices still use them);
//! - the base type, through the model's named data types (`IPAddress` is a string of at most
//!   45 characters, `StatsCounter64` an `unsignedLong`); a list is a string;
//! - `decimal` (39 `IPLayerCapacityMetrics` results): [`XsdType`] has no decimal, so these are
//!   strings here.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use crate::value::XsdType;

/// The data model the table describes (`Device.RootDataModelVersion` is its `2.17`).
pub const DATA_MODEL: &str = "Device:2.17";

/// How a parameter takes part in active notification (TR-106 `activeNotify`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ActiveNotify {
    /// Active notification may be turned on and off.
    #[default]
    Normal,
    /// Always active; cannot be turned off (e.g. `SoftwareVersion`).
    ForceEnabled,
    /// Active by default; may be turned off (e.g. `ConnectionRequestURL`).
    ForceDefaultEnabled,
    /// The CPE may refuse active notification with 9009 (e.g. `UpTime`).
    CanDeny,
}

/// Metadata of one parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParameterInfo {
    /// The template name, e.g. `Device.WiFi.SSID.{i}.SSID`.
    pub name: &'static str,
    /// The value type on the wire.
    pub ty: XsdType,
    /// Whether SetParameterValues may change it (TR-181 `readWrite`, and `writeOnceReadOnly`:
    /// mostly `Alias` parameters, which the ACS may set once).
    pub writable: bool,
    /// Always sent in every Inform.
    pub forced_inform: bool,
    /// Active-notification rule.
    pub active_notify: ActiveNotify,
    /// Reads back as an empty string (passwords and keys, TR-181 `hidden`/`secured`).
    pub hidden: bool,
    /// Inclusive range of a numeric type, if the model bounds it (a bound the model leaves
    /// open is the type's; an `unsignedLong` maximum is capped at `i64::MAX`). For a list of
    /// numbers, the range of each item.
    pub range: Option<(i64, i64)>,
    /// Longest string (or binary length), if the model bounds it. For a list, the length of
    /// the whole comma-separated value.
    pub max_length: Option<u32>,
    /// The allowed values of an enumerated string, in model order; empty if any value is
    /// allowed (or the model takes the values from another parameter). For a list,
    /// the allowed values of each item.
    pub enumeration: &'static [&'static str],
    /// The default value the model gives, if any: the value on creation of the object
    /// (`<default type="object">`) or after a factory reset (`type="factory"`).
    pub default: Option<&'static str>,
}

impl ParameterInfo {
    /// Whether the value is an integer (`int`, `unsignedInt`, `long`, `unsignedLong`).
    pub fn is_numeric(&self) -> bool {
        matches!(
            self.ty,
            XsdType::Int | XsdType::UnsignedInt | XsdType::Long | XsdType::UnsignedLong
        )
    }

    /// Whether the model makes the value a comma-separated list (TR-106 `list`); its `ty` is
    /// then [`XsdType::String`], while `range` and `enumeration` apply to each item. False for
    /// a parameter not in the standard table.
    pub fn is_list(&self) -> bool {
        table().lists.contains(self.name)
    }
}

/// Metadata of one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The template name, ending in a dot, e.g. `Device.WiFi.SSID.{i}.`.
    pub name: &'static str,
    /// A multi-instance table (name ends in `{i}.`).
    pub multi_instance: bool,
    /// For a table: whether AddObject/DeleteObject may create and delete instances.
    pub writable: bool,
}

/// The metadata of parameter `template`, if the standard model has it.
pub fn parameter(template: &str) -> Option<&'static ParameterInfo> {
    let table = table();
    table
        .parameter_index
        .get(template)
        .map(|&i| &table.parameters[i])
}

/// The metadata of object `template` (ending in a dot), if the standard model has it.
pub fn object(template: &str) -> Option<&'static ObjectInfo> {
    let table = table();
    table.object_index.get(template).map(|&i| &table.objects[i])
}

/// Every parameter of the standard model, in model order (each after its object).
pub fn parameters() -> &'static [ParameterInfo] {
    &table().parameters
}

/// Every object of the standard model, in model order (`Device.` first).
pub fn objects() -> &'static [ObjectInfo] {
    &table().objects
}

/// The template of a path: every all-digit segment becomes `{i}`
/// (`Device.WiFi.SSID.2.SSID` gives `Device.WiFi.SSID.{i}.SSID`).
pub fn template_of(path: &str) -> String {
    path.split('.')
        .map(|s| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                "{i}"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The generated table (see the module docs).
static TABLE_TEXT: &str = include_str!("tr181.tsv");

/// The table, parsed.
struct Table {
    parameters: Vec<ParameterInfo>,
    objects: Vec<ObjectInfo>,
    parameter_index: HashMap<&'static str, usize>,
    object_index: HashMap<&'static str, usize>,
    /// Names of the list-valued parameters.
    lists: HashSet<&'static str>,
}

/// The table, parsed on first use.
fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| parse_table(TABLE_TEXT, enumerations()))
}

/// The table's enumerations (its `E` lines), which the parameters borrow.
fn enumerations() -> &'static [Vec<&'static str>] {
    static ENUMERATIONS: OnceLock<Vec<Vec<&'static str>>> = OnceLock::new();
    ENUMERATIONS.get_or_init(|| {
        records(TABLE_TEXT)
            .take_while(|(_, fields)| fields.first() == Some(&"E"))
            .map(|(_, fields)| fields[1..].to_vec())
            .collect()
    })
}

/// The records of `text`: line number and tab-separated fields, comments left out.
fn records(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.starts_with('#'))
        .map(|(n, line)| (n + 1, line.split('\t').collect()))
}

fn parse_table(text: &'static str, enumerations: &'static [Vec<&'static str>]) -> Table {
    let mut table = Table {
        parameters: Vec::new(),
        objects: Vec::new(),
        parameter_index: HashMap::new(),
        object_index: HashMap::new(),
        lists: HashSet::new(),
    };
    for (line, fields) in records(text) {
        // The table is written by `gen-tr181` and `tests/model.rs` checks both that it is
        // what the generator writes and that every line reads here: a malformed line is a
        // build defect, not input.
        let parsed = match *fields.as_slice() {
            ["E", ..] => Some(()),
            ["O", name, flags] => {
                let index = table.objects.len();
                table.objects.push(ObjectInfo {
                    name,
                    multi_instance: name.ends_with("{i}."),
                    writable: flags.contains('w'),
                });
                table
                    .object_index
                    .insert(name, index)
                    .is_none()
                    .then_some(())
            }
            ["P", ref fields @ ..] => <[&'static str; 8]>::try_from(fields)
                .ok()
                .and_then(|fields| parse_parameter(fields, enumerations))
                .and_then(|(parameter, list)| {
                    let (name, index) = (parameter.name, table.parameters.len());
                    if list {
                        table.lists.insert(name);
                    }
                    table.parameters.push(parameter);
                    table
                        .parameter_index
                        .insert(name, index)
                        .is_none()
                        .then_some(())
                }),
            _ => None,
        };
        if parsed.is_none() {
            panic!("schemas::model: line {line} of the generated tr181.tsv is malformed");
        }
    }
    table
}

/// A `P` record's fields after the kind: the parameter, and whether it is a list.
fn parse_parameter(
    [name, ty, flags, min, max, max_length, enumeration, default]: [&'static str; 8],
    enumerations: &'static [Vec<&'static str>],
) -> Option<(ParameterInfo, bool)> {
    let ty = match ty {
        // No decimal in XsdType: sent as a string.
        "decimal" => XsdType::String,
        name => XsdType::from_name(name)?,
    };
    let active_notify = if flags.contains('E') {
        ActiveNotify::ForceEnabled
    } else if flags.contains('D') {
        ActiveNotify::ForceDefaultEnabled
    } else if flags.contains('C') {
        ActiveNotify::CanDeny
    } else {
        ActiveNotify::Normal
    };
    let range = match (min.is_empty(), max.is_empty()) {
        (true, true) => None,
        (false, false) => Some((min.parse().ok()?, max.parse().ok()?)),
        _ => return None,
    };
    let max_length = if max_length.is_empty() {
        None
    } else {
        Some(max_length.parse().ok()?)
    };
    let enumeration = if enumeration.is_empty() {
        &[][..]
    } else {
        enumerations
            .get(enumeration.parse::<usize>().ok()?)?
            .as_slice()
    };
    // Empty: none; `=` and the value otherwise (`=` alone: an empty default).
    let default = if default.is_empty() {
        None
    } else {
        Some(default.strip_prefix('=')?)
    };
    let parameter = ParameterInfo {
        name,
        ty,
        writable: flags.contains('w'),
        forced_inform: flags.contains('f'),
        active_notify,
        hidden: flags.contains('h'),
        range,
        max_length,
        enumeration,
        default,
    };
    Some((parameter, flags.contains('l')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enumerations() -> &'static [Vec<&'static str>] {
        Vec::leak(vec![vec!["A", "B"]])
    }

    #[test]
    fn reads_records() {
        let table = parse_table(
            "# comment\n\
             E\tA\tB\n\
             O\tDevice.T.{i}.\tw\n\
             P\tDevice.T.{i}.N\tunsignedInt\twlC\t1\t9\t\t\t=\n\
             P\tDevice.T.{i}.D\tdecimal\tfhE\t\t\t64\t0\t\n",
            enumerations(),
        );
        assert_eq!(
            table.objects,
            [ObjectInfo {
                name: "Device.T.{i}.",
                multi_instance: true,
                writable: true
            }]
        );
        let n = &table.parameters[0];
        assert_eq!(
            (n.ty, n.writable, n.forced_inform),
            (XsdType::UnsignedInt, true, false)
        );
        assert_eq!(
            (n.active_notify, n.range, n.default),
            (ActiveNotify::CanDeny, Some((1, 9)), Some(""))
        );
        assert!(table.lists.contains(n.name) && n.is_numeric());
        let d = &table.parameters[1];
        assert_eq!(
            (d.ty, d.forced_inform, d.hidden),
            (XsdType::String, true, true)
        );
        assert_eq!(
            (d.active_notify, d.max_length, d.default),
            (ActiveNotify::ForceEnabled, Some(64), None)
        );
        assert_eq!(d.enumeration, ["A", "B"]);
        assert_eq!(table.parameter_index["Device.T.{i}.D"], 1);
    }

    #[test]
    #[should_panic(expected = "line 2 of the generated tr181.tsv is malformed")]
    fn malformed_record_is_a_build_defect() {
        parse_table(
            "O\tDevice.\t\nP\tDevice.X\tfloat\t\t\t\t\t\t\n",
            enumerations(),
        );
    }

    #[test]
    #[should_panic(expected = "line 2")]
    fn a_name_appears_once() {
        parse_table("O\tDevice.\t\nO\tDevice.\t\n", enumerations());
    }

    #[test]
    fn embedded_table_reads() {
        assert!(parameters().len() > 6000);
        assert_eq!(
            parameter("Device.DeviceInfo.UpTime").map(|p| p.ty),
            Some(XsdType::UnsignedInt)
        );
    }
}
