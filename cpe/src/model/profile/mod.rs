//! Profiles: which objects and parameters a device has, their metadata and initial values.
//!
//! A profile is loaded once and shared (`Arc<Profile>`) by every device built from it; see
//! the [model docs](super) for what a device keeps of its own.
//!
//! # Metadata
//!
//! A standard `Device.` parameter takes its type, access, notification rules, bounds and
//! default from the TR-181 table ([`schemas::model::parameter`] of its template) when the table
//! has it; any field the profile gives overrides the table's, except that a TOML profile may
//! not change a standard parameter's type. A parameter the table does not have must declare
//! its `type`. Vendor extensions use TR-106 names, `X_<OUI or vendor>_<Name>`
//! (`Device.X_EXAMPLE_CloudManagement.ServerPort`), and declare `type` and `writable`.
//!
//! # TOML format
//!
//! ```toml
//! [profile]
//! name = "example-gateway"              # for logs
//!
//! # One entry per parameter, named by template (instance numbers written {i}).
//! [[parameter]]
//! name = "Device.X_EXAMPLE_CloudManagement.KeepaliveInterval"
//! type = "unsignedInt"      # string int unsignedInt long unsignedLong boolean dateTime
//!                           # base64 hexBinary (an `xsd:` prefix is accepted)
//! writable = true           # SetParameterValues allowed (default: TR-181's, else false)
//! value = 180               # initial value, and the default of new instances
//! min = 10                  # inclusive bounds of a number (either may be left out)
//! max = 600
//! # max_length = 64         # longest string, in characters
//! # enumeration = ["A", "B"]  # allowed strings (a comma-separated value: each item)
//! # hidden = true           # reads back as "" (passwords)
//! # forced_inform = true    # always in the Inform's ParameterList
//! # active_notify = "canDeny"  # normal | forceEnabled | forceDefaultEnabled | canDeny
//! # notification = 1        # Notification attribute a new device starts with, 0-6
//! # apply = "deferred"      # SetParameterValues answers Status 1; applied after the session
//! # computed = "uptime"     # from the host, read-only: uptime | current_time |
//!                           # software_version | interface_address | number_of_entries
//! # get = ["cat", "/etc/x"] # from a command; set = ["x-set", "{value}"] writes it
//!                           # ({name}, {value}, {1}..{9} = instance numbers in the name)
//!
//! # Objects: a name ending in {i}. is a table. Objects named by parameters need no entry.
//! [[object]]
//! name = "Device.WiFi.SSID.{i}."
//! writable = true           # AddObject/DeleteObject allowed (default: TR-181's, else false)
//! instances = [1, 2]        # at start; nested tables take full paths,
//!                           # e.g. ["Device.IP.Interface.1.IPv4Address.1."]
//! # max_instances = 32      # AddObject beyond answers 9004 (default 1024)
//! # next_instance = 10      # the number AddObject gives first (default: highest + 1)
//!
//! # Initial values by full name. A name with an instance number creates that instance; a
//! # name with {i} sets the default of new instances. A standard name the TR-181 table has
//! # needs no [[parameter]] entry.
//! [values]
//! "Device.WiFi.SSID.1.SSID" = "example-home"
//! ```
//!
//! Every instance of a table with an `Alias` parameter gets `cpe-<n>` unless the profile
//! names it (TR-069 Amd 6 §3.6.1). `<Table>NumberOfEntries` parameters count their table, and
//! `<root>.ManagementServer.ParameterKey` is the device's ParameterKey (A.3.2.1), without any
//! `computed` field.
//!
//! [`Profile::default_gateway`] is `cpe/profiles/default.toml`, a small `Device:2` gateway.
//!
//! # genieacs-sim CSV
//!
//! [`Profile::from_genieacs_csv`] reads the data-model files of genieacs-sim, which have the
//! layout of GenieACS's device export: a header row naming the columns, then one row per
//! parameter or object. The columns used are `Parameter`, `Object`, `Writable`, `Value` and
//! `Value type` (required) and `Notification` and `Access list` (optional); the timestamp
//! columns of a full export are ignored. Object names come without the trailing dot. Rows
//! outside the data model (`DeviceID.*`, `Tags.*`, `Events.*`, ...) are skipped.
//!
//! ```text
//! Parameter,Object,Writable,Value,Value type
//! InternetGatewayDevice.LANDevice,true,false,,
//! InternetGatewayDevice.LANDevice.1,true,false,,
//! InternetGatewayDevice.LANDevice.1.Hosts.HostNumberOfEntries,false,false,6,xsd:unsignedInt
//! ```
//!
//! An object is a table when rows name its instances (`LANDevice.1`), or when it is writable
//! (GenieACS's `writable` on an object means AddObject/DeleteObject) and has no named
//! children. A parameter's type comes from `Value type` (`xsd:` prefix optional); one whose
//! rows never give a type is a string. The file is taken as the device reported it: a type
//! that differs from TR-181's is kept, and vendor names are not checked.
//!
//! # Errors
//!
//! A bad profile gives a [`ProfileError`] naming the file, the line, the entry and field, and
//! what is allowed: `default.toml:212: Device.X_EXAMPLE_CloudManagement.ServerPort `value`: 70000
//! is outside the allowed range 1..=65535`.

mod build;
mod csv;
mod error;
mod toml_file;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use schemas::value::Value;

pub use error::{ProfileError, ProfileErrorKind};

use super::Attributes;
use super::meta::ParameterMeta;
use super::schema::{NodeId, Schema};
use super::state::TableState;

/// A loaded profile: the data model's shape and metadata, and the initial values, instances
/// and attributes of a device.
#[derive(Clone)]
pub struct Profile {
    name: String,
    file: String,
    root: String,
    pub(crate) schema: Schema,
    /// Initial values by full name (stored parameters; for the others, the fallback value).
    pub(crate) values: HashMap<Box<str>, Value>,
    /// Initial tables by table name (`Device.WiFi.SSID.`).
    pub(crate) tables: HashMap<Box<str>, TableState>,
    /// Initial attributes by full name, where they differ from the metadata's.
    pub(crate) attributes: HashMap<Box<str>, Attributes>,
    /// Forced-inform parameter templates.
    pub(crate) forced: Vec<NodeId>,
    /// Parameter templates whose values change without SetParameterValues.
    pub(crate) dynamic: Vec<NodeId>,
    /// The initial ParameterKey.
    pub(crate) parameter_key: String,
}

impl Profile {
    /// Reads a TOML profile; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Self, ProfileError> {
        toml_file::read(text, file)?.finish()
    }

    /// Reads a genieacs-sim data-model CSV file as a profile; `file` names it in errors.
    pub fn from_genieacs_csv(text: &str, file: &str) -> Result<Self, ProfileError> {
        csv::read(text, file)?.finish()
    }

    /// Loads a profile file: genieacs-sim CSV if its name ends in `.csv`, TOML otherwise.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ProfileError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError {
            file: file.clone(),
            line: 0,
            field: "file".into(),
            kind: ProfileErrorKind::Io(e),
        })?;
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        {
            Self::from_genieacs_csv(&text, &file)
        } else {
            Self::from_toml(&text, &file)
        }
    }

    /// The example `Device:2` gateway of `cpe/profiles/default.toml`, built into the binary.
    pub fn default_gateway() -> Self {
        Self::from_toml(DEFAULT_GATEWAY, "profiles/default.toml")
            // The embedded file is loaded by the tests of this module.
            .expect("the embedded default profile loads")
    }

    /// The profile's name (`[profile] name`), or empty.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file the profile was loaded from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The root object's name: `Device` (TR-181) or `InternetGatewayDevice` (TR-098).
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The metadata of parameter `template` (`Device.WiFi.SSID.{i}.SSID`).
    pub fn parameter(&self, template: &str) -> Option<&ParameterMeta> {
        self.schema
            .lookup(template)
            .and_then(|id| self.schema.parameter(id))
    }

    /// How many parameter templates the profile has.
    pub fn parameter_count(&self) -> usize {
        self.schema.parameters().count()
    }
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("file", &self.file)
            .field("root", &self.root)
            .field("parameters", &self.parameter_count())
            .finish_non_exhaustive()
    }
}

/// `cpe/profiles/default.toml`.
const DEFAULT_GATEWAY: &str = include_str!("../../../profiles/default.toml");
