//! Data-model metadata: the type, access and notification rules of every standard `Device:2`
//! parameter and object (BBF TR-181 Issue 2, Device:2.17), from a table generated from the BBF
//! XML and committed here; the build never reads the XML.
//!
//! Names are *templates*: instance numbers are written `{i}`
//! (`Device.WiFi.SSID.{i}.SSID`); [`template_of`] turns a path into its template.

use crate::value::XsdType;

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
    /// Whether SetParameterValues may change it.
    pub writable: bool,
    /// Always sent in every Inform.
    pub forced_inform: bool,
    /// Active-notification rule.
    pub active_notify: ActiveNotify,
    /// Reads back as an empty string (passwords and keys, TR-181 `hidden`/`secured`).
    pub hidden: bool,
    /// Inclusive range of a numeric type, if the model bounds it.
    pub range: Option<(i64, i64)>,
    /// Longest string (or binary length), if the model bounds it.
    pub max_length: Option<u32>,
    /// The allowed values of an enumerated string, in model order; empty if any.
    pub enumeration: &'static [&'static str],
    /// The default value the model gives, if any.
    pub default: Option<&'static str>,
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
    table::PARAMETERS.iter().find(|p| p.name == template)
}

/// The metadata of object `template` (ending in a dot), if the standard model has it.
pub fn object(template: &str) -> Option<&'static ObjectInfo> {
    table::OBJECTS.iter().find(|o| o.name == template)
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

mod table {
    //! Generated; empty until the generator lands.
    use super::{ObjectInfo, ParameterInfo};

    pub(super) static PARAMETERS: &[ParameterInfo] = &[];
    pub(super) static OBJECTS: &[ObjectInfo] = &[];
}
