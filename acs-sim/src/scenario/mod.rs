//! Declarative provisioning scenarios (TOML): what the ACS does on each Inform.
//!
//! A scenario is a list of `[[rule]]` tables. After each Inform (TR-069 Amd 6 A.3.3.1) the
//! rules that match it run in file order, each as a parameter discovery then one
//! SetParameterValues (A.3.2.1), before the device's queued tasks. A rule's `acs_url` re-points
//! the CPE to another ACS; that SetParameterValues is always the session's last.
//!
//! ```toml
//! [[rule]]
//! name = "bootstrap"              # required, 1 to 32 characters, unique; the ParameterKey
//!                                 # of the rule's SetParameterValues (A.3.2.1)
//! on_event = "0 BOOTSTRAP"        # optional: the Inform must carry this event code, or any
//!                                 # of a list: on_event = ["0 BOOTSTRAP", "1 BOOT"]
//! manufacturer = "Example"        # optional exact matches on the Inform's DeviceId
//! oui = "00D09E"
//! product_class = "HGW"
//! serial = "{serial}"
//! refresh = ["DeviceInfo."]       # optional: read these first (GetParameterNames, then
//!                                 # GetParameterValues in batches of 32; partial paths go
//!                                 # straight into GetParameterValues with acs.partial_path_gpv
//!                                 # or on a device tagged partial-path-gpv)
//! periodic_inform_interval = 300  # 1..=86400 s: sets ManagementServer.PeriodicInformEnable
//!                                 # = true and ManagementServer.PeriodicInformInterval
//! connection_request_credentials = "random"
//!                                 # or { username = "cr", password = "secret" }: sets
//!                                 # ManagementServer.ConnectionRequestUsername / Password
//!                                 # and the ACS uses them for Connection Requests (§3.2.2)
//! acs_url = "{acs2}"              # http:// or https://, at most 256 characters: sets
//!                                 # ManagementServer.URL, last in the session
//!
//! [rule.set]                      # any values, as "path" = value
//! "DeviceInfo.ProvisioningCode" = "LAB"
//! "Device.Time.Enable" = true     # a path starting with Device. or InternetGatewayDevice.
//!                                 # is taken as written
//! ManagementServer.PeriodicInformTime = 2026-01-01T00:00:00Z   # unquoted dotted keys work
//! ```
//!
//! **Paths** are relative to the device's data model root (`Device.` or
//! `InternetGatewayDevice.`, from its Inform) unless they start with one.
//!
//! **Values.** All of a rule's values (`set`, `periodic_inform_interval`,
//! `connection_request_credentials`) go into one SetParameterValues, which the CPE applies
//! all or none of. A parameter of the standard TR-181 model (`schemas::model`) set in a
//! `Device.` tree gets its model type, and the value must fit its range, enumeration and
//! length, and the parameter be writable; a relative path is checked against TR-181 too, even
//! if only TR-098 devices will match. Other parameters are typed from TOML: a boolean is
//! `xsd:boolean`, an integer `xsd:unsignedInt` if not negative, else `xsd:int` (`unsignedLong`
//! and `long` beyond 32 bits), a string `xsd:string`, a date-time with offset `xsd:dateTime`. Floats,
//! arrays and inline tables are refused. A parameter may be set once per rule; the
//! `ManagementServer.URL` and Connection Request credentials only through their fields.
//!
//! **Placeholders.** `{name}` in a string (the match fields, `acs_url`, the credentials, `set`
//! strings) is replaced with the variable given to [`Scenario::from_toml_with`] or
//! [`Scenario::load_with`]; `{{` and `}}` are literal braces. This is how the lab gives the
//! second ACS's URL, which is only known once it listens.
//!
//! **Errors** name the rule (1-based index and name), the field and what is allowed:
//! `rule 2 ("bootstrap"): periodic_inform_interval must be 1..=86400, got 0`. Unknown fields
//! are refused.
//!
//! Sessions record each job's outcome (a CPE fault included) in the lab timeline as
//! `<rule>: refresh`, `<rule>: setParameterValues`, `<rule>: re-point to <url>`.

mod parse;
mod rule;

mod typing;
mod vars;

#[cfg(test)]
mod tests;

use std::io::Read;
use std::path::{Path, PathBuf};

pub use parse::{MAX_REFRESH, MAX_TEXT_BYTES, MAX_VALUES};

use crate::job::Job;
use crate::provision::DeviceContext;
use rule::Rule;

/// A provisioning scenario: rules matched against each Inform.
#[derive(Debug, Default)]
pub struct Scenario {
    rules: Vec<Rule>,
}

/// Why a scenario cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("cannot read scenario {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text is larger than [`MAX_TEXT_BYTES`].
    #[error("scenario is larger than {max} bytes ({len})")]
    TooLarge {
        /// The limit.
        max: usize,
        /// The text's length, or the limit plus one when read from a file.
        len: usize,
    },
    /// The text is not TOML.
    #[error("scenario is not valid TOML: {0}")]
    Syntax(String),
    /// The document has something other than `[[rule]]` tables.
    #[error("{0}")]
    Document(String),
    /// A rule is wrong.
    #[error("rule {index}{}: {message}", name.as_ref().map(|n| format!(" ({n:?})")).unwrap_or_default())]
    Rule {
        /// Its place in the file, from 1.
        index: usize,
        /// Its name, if it has one.
        name: Option<String>,
        /// What is wrong: the field, the allowed values, what was given.
        message: String,
    },
}

impl Scenario {
    /// Reads a scenario (see the module docs); a placeholder is an error.
    pub fn from_toml(text: &str) -> Result<Self, ScenarioError> {
        Self::from_toml_with(text, &[])
    }

    /// Reads a scenario, filling `{name}` placeholders from `vars` (`("acs2", "http://..")`).
    pub fn from_toml_with(text: &str, vars: &[(&str, &str)]) -> Result<Self, ScenarioError> {
        Ok(Self {
            rules: parse::rules(text, vars)?,
        })
    }

    /// Reads a scenario file; a placeholder is an error.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        Self::load_with(path, &[])
    }

    /// Reads a scenario file of at most [`MAX_TEXT_BYTES`], filling placeholders from `vars`.
    pub fn load_with(path: &Path, vars: &[(&str, &str)]) -> Result<Self, ScenarioError> {
        let read = |source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .map_err(read)?
            .take(MAX_TEXT_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(read)?;
        if bytes.len() > MAX_TEXT_BYTES {
            return Err(ScenarioError::TooLarge {
                max: MAX_TEXT_BYTES,
                len: bytes.len(),
            });
        }
        let text = String::from_utf8(bytes)
            .map_err(|e| read(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        Self::from_toml_with(&text, vars)
    }

    /// Whether the scenario has no rule: no Inform gets any job from it.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The jobs to run in this session, in order, before queued tasks: for each matching
    /// rule in file order its discovery and its SetParameterValues, then the re-pointing of
    /// the last matching rule with an `acs_url`.
    pub fn jobs(&self, device: &DeviceContext<'_>) -> Vec<Box<dyn Job>> {
        let matching: Vec<&Rule> = self.rules.iter().filter(|r| r.matches(device)).collect();
        let mut jobs: Vec<Box<dyn Job>> = matching.iter().flat_map(|r| r.jobs(device)).collect();
        jobs.extend(matching.iter().rev().find_map(|r| r.repoint(device)));
        jobs
    }
}
