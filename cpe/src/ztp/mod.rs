//! Zero-touch provisioning: what DHCP says about the ACS (TR-069 §3.1, PROTOCOL.md §2.2 and
//! §4.2), applied to the agent under the precedence rules of ARCHITECTURE.md ("Zero-touch at
//! boot").
//!
//! The DHCP client itself is the operating system's: busybox udhcpc or ISC dhclient calls
//! `cpe dhcp hook` ([`hook`]), which decodes option 43 with [`schemas::dhcp`] into an
//! [`Intake`] and hands it to the running agent over the control socket, or leaves it in the
//! state directory for the agent's next start. Where no such client cooperates, `cpe dhcp
//! probe` ([`probe`]) asks the DHCP server itself and hands the answer on the same way.
//! [`plan`] is sans-IO: it decides, from an intake and where the current values came from,
//! what changes.
//!
//! # Precedence
//!
//! Each value the intake can change remembers its [`Source`]. From strongest to weakest:
//!
//! | Source | How | Beats DHCP |
//! |---|---|---|
//! | `acs` | SetParameterValues (A.3.2.1) | yes, until a factory reset |
//! | `cli` | `cpe set` over the control socket | yes, until a factory reset |
//! | `config` | `[acs] url` / `username` / `password` (URL and credentials only) | yes, until the configuration changes |
//! | `dhcp` | option 43 via `cpe dhcp hook` | a new DHCP value replaces an older one |
//! | `profile` / `default` | the device profile, or nothing set | no |
//!
//! A DHCP URL that differs from the one in use changes `ManagementServer.URL`, and the new URL
//! gets `0 BOOTSTRAP` (TR-069 §3.7.1.5, PROTOCOL.md §2.2 "Any ACS-URL change causes
//! `0 BOOTSTRAP`"); the same URL again (a lease renewal) changes nothing. The H3C user name and
//! password of sub-option 1 (PROTOCOL.md §4.2) go to `ManagementServer.Username` /
//! `Password`, which the session authenticates with (§3.4.4).

pub mod hook;
pub mod probe;

use std::collections::BTreeMap;
use std::fmt;

use schemas::dhcp::AcsDiscovery;
use schemas::value::Value;
use serde::{Deserialize, Serialize};

use crate::transport::AcsUrl;

/// `Device.ManagementServer.URL`.
pub const URL: &str = "Device.ManagementServer.URL";
/// `Device.ManagementServer.Username`.
pub const USERNAME: &str = "Device.ManagementServer.Username";
/// `Device.ManagementServer.Password`.
pub const PASSWORD: &str = "Device.ManagementServer.Password";
/// `Device.DeviceInfo.ProvisioningCode` (option 43 sub-option 2).
pub const PROVISIONING_CODE: &str = "Device.DeviceInfo.ProvisioningCode";
/// `Device.ManagementServer.CWMPRetryMinimumWaitInterval` (sub-option 3).
pub const RETRY_MIN_WAIT: &str = "Device.ManagementServer.CWMPRetryMinimumWaitInterval";
/// `Device.ManagementServer.CWMPRetryIntervalMultiplier` (sub-option 4).
pub const RETRY_MULTIPLIER: &str = "Device.ManagementServer.CWMPRetryIntervalMultiplier";

/// The parameters of a cloud-management vendor object (ARCHITECTURE.md, "Cloud-management
/// tunnel") that DHCP sub-options 0x81-0x84 set, relative to the object.
pub const CLOUD_PARAMETERS: [&str; 4] = [
    "ServerDomain",
    "ServerPort",
    "KeepaliveInterval",
    "PingInterval",
];

/// Where a value in use came from (see the [module documentation](self) for the order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Nothing set it: empty, or the agent's own default.
    Default,
    /// The device profile's value.
    Profile,
    /// The configuration file or a command-line flag.
    Config,
    /// DHCP option 43 (or DHCPv6 option 17).
    Dhcp,
    /// The local CLI (`cpe set`).
    Cli,
    /// The ACS, by SetParameterValues.
    Acs,
}

impl Source {
    /// The source as `cpe status` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Profile => "profile",
            Self::Config => "config",
            Self::Dhcp => "dhcp",
            Self::Cli => "cli",
            Self::Acs => "acs",
        }
    }

    /// Whether a value from DHCP may replace a value from this source: only the ACS, the CLI
    /// and the configuration hold theirs against it.
    pub fn yields_to_dhcp(source: Option<Self>) -> bool {
        !matches!(source, Some(Self::Acs | Self::Cli | Self::Config))
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The cloud-management server DHCP named (option 43 sub-options 0x81-0x84).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cloud {
    /// Server domain.
    pub domain: Option<String>,
    /// Server port.
    pub port: Option<u16>,
    /// Keepalive period, seconds.
    pub keepalive: Option<u16>,
    /// NAT keep-alive ping period, seconds.
    pub ping: Option<u16>,
}

impl Cloud {
    /// Whether DHCP named nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// `(parameter relative to the cloud object, value)` for what DHCP named.
    fn values(&self) -> Vec<(&'static str, Value)> {
        let mut out = Vec::new();
        if let Some(domain) = &self.domain {
            out.push(("ServerDomain", Value::String(domain.clone())));
        }
        for (name, number) in [
            ("ServerPort", self.port),
            ("KeepaliveInterval", self.keepalive),
            ("PingInterval", self.ping),
        ] {
            if let Some(n) = number {
                out.push((name, Value::UnsignedInt(u32::from(n))));
            }
        }
        out
    }
}

/// What one DHCP lease said about the ACS: the part of [`AcsDiscovery`] the agent applies,
/// checked, in the form the control socket and the state directory carry.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intake {
    /// Sub-option 1: the ACS URL, checked to be one the agent can call.
    pub url: Option<String>,
    /// Sub-option 1, H3C second token.
    pub username: Option<String>,
    /// Sub-option 1, H3C third token.
    pub password: Option<String>,
    /// Sub-option 2.
    pub provisioning_code: Option<String>,
    /// Sub-option 3, seconds.
    pub retry_min_wait: Option<u16>,
    /// Sub-option 4, thousandths.
    pub retry_multiplier: Option<u16>,
    /// Sub-options 0x81-0x84.
    #[serde(default)]
    pub cloud: Cloud,
}

impl fmt::Debug for Intake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Intake")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "(hidden)"))
            .field("provisioning_code", &self.provisioning_code)
            .field("retry_min_wait", &self.retry_min_wait)
            .field("retry_multiplier", &self.retry_multiplier)
            .field("cloud", &self.cloud)
            .finish()
    }
}

/// Why an intake was refused; nothing of it is applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntakeError {
    /// Sub-option 1 holds something the agent cannot call.
    #[error("option 43 sub-option 1 (ACS URL) {url:?} is not a usable ACS URL: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The data model refused a value (type, range or length).
    #[error("{parameter}: {reason}")]
    Value {
        /// The parameter.
        parameter: String,
        /// Why.
        reason: String,
    },
}

impl Intake {
    /// Keeps what the agent applies of a decoded option (the AC addresses and unknown
    /// sub-options are of no use to a CPE) and checks the URL.
    pub fn from_discovery(discovery: AcsDiscovery) -> Result<Self, IntakeError> {
        let intake = Self {
            url: discovery.url,
            username: discovery.username,
            password: discovery.password,
            provisioning_code: discovery.provisioning_code,
            retry_min_wait: discovery.retry_min_wait,
            retry_multiplier: discovery.retry_multiplier,
            cloud: Cloud {
                domain: discovery.cloud.domain,
                port: discovery.cloud.port,
                keepalive: discovery.cloud.keepalive,
                ping: discovery.cloud.ping,
            },
        };
        intake.check()?;
        Ok(intake)
    }

    /// Checks what can be checked without the data model: the URL.
    pub fn check(&self) -> Result<(), IntakeError> {
        if let Some(url) = &self.url
            && let Err(e) = url.parse::<AcsUrl>()
        {
            return Err(IntakeError::Url {
                url: url.clone(),
                reason: e.to_string(),
            });
        }
        Ok(())
    }

    /// Whether the lease said nothing the agent applies.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What the agent knows of DHCP and of the sources of the values DHCP may change, besides the
/// URL's and the credentials' (kept in the agent state since before DHCP intake). Persisted
/// in `agent.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The last URL DHCP gave, applied or not: a renewal with the same URL is no news.
    #[serde(default)]
    pub dhcp_url: Option<String>,
    /// Where the value of each parameter DHCP may change came from, by full name; a
    /// parameter not listed has its profile's value.
    #[serde(default)]
    pub values: BTreeMap<String, Source>,
    /// The cloud-management server DHCP named last, kept even when the profile has no
    /// cloud-management object to put it in.
    #[serde(default)]
    pub cloud: Option<Cloud>,
}

/// What the agent has now, as [`plan`] needs it.
#[derive(Clone, Copy, Debug)]
pub struct Current<'a> {
    /// The URL in use.
    pub url: Option<&'a str>,
    /// Where it came from.
    pub url_source: Option<Source>,
    /// Where `ManagementServer.Username` / `Password` came from.
    pub credentials_source: Option<Source>,
    /// The sources of the other values.
    pub provenance: &'a Provenance,
    /// The cloud-management object of the profile (`Device.X_EXAMPLE_CloudManagement.`), if
    /// it has one.
    pub cloud_object: Option<&'a str>,
}

/// What the URL of an intake does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlChange {
    /// The lease named no URL, or the one in use.
    Unchanged,
    /// A new URL from DHCP: `ManagementServer.URL` changes and it gets `0 BOOTSTRAP`.
    Apply(String),
    /// A URL that differs from the one in use, which holds because of its source.
    Kept(Source),
}

/// What applying an intake changes: [`plan`]'s answer, applied by the agent all or nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The URL.
    pub url: UrlChange,
    /// Parameter values to set, with source `dhcp` (the URL included when it changes).
    pub values: Vec<(String, Value)>,
    /// Whether `ManagementServer.Username` / `Password` are among `values`.
    pub credentials: bool,
    /// Parameters DHCP named that keep their value, and the source that holds them.
    pub kept: Vec<(String, Source)>,
    /// The cloud-management server to remember, if the lease named one.
    pub cloud: Option<Cloud>,
}

impl Plan {
    /// Whether the URL in use changes.
    pub fn changes_url(&self) -> bool {
        matches!(self.url, UrlChange::Apply(_))
    }
}

/// Decides what an intake changes (see the [module documentation](self) for the rules).
pub fn plan(intake: &Intake, current: Current<'_>) -> Plan {
    let mut plan = Plan {
        url: UrlChange::Unchanged,
        values: Vec::new(),
        credentials: false,
        kept: Vec::new(),
        cloud: (!intake.cloud.is_empty()).then(|| intake.cloud.clone()),
    };
    if let Some(url) = &intake.url
        && current.url != Some(url.as_str())
    {
        if Source::yields_to_dhcp(current.url_source) {
            plan.url = UrlChange::Apply(url.clone());
            plan.values
                .push((URL.to_owned(), Value::String(url.clone())));
        } else if let Some(source) = current.url_source {
            plan.url = UrlChange::Kept(source);
            plan.kept.push((URL.to_owned(), source));
        }
    }
    if let Some(username) = &intake.username {
        if Source::yields_to_dhcp(current.credentials_source) {
            plan.credentials = true;
            plan.values
                .push((USERNAME.to_owned(), Value::String(username.clone())));
            plan.values.push((
                PASSWORD.to_owned(),
                Value::String(intake.password.clone().unwrap_or_default()),
            ));
        } else if let Some(source) = current.credentials_source {
            plan.kept.push((USERNAME.to_owned(), source));
        }
    }
    let mut others: Vec<(String, Value)> = Vec::new();
    if let Some(code) = &intake.provisioning_code {
        others.push((PROVISIONING_CODE.to_owned(), Value::String(code.clone())));
    }
    for (name, number) in [
        (RETRY_MIN_WAIT, intake.retry_min_wait),
        (RETRY_MULTIPLIER, intake.retry_multiplier),
    ] {
        if let Some(n) = number {
            others.push((name.to_owned(), Value::UnsignedInt(u32::from(n))));
        }
    }
    if let Some(object) = current.cloud_object {
        for (name, value) in intake.cloud.values() {
            others.push((format!("{object}{name}"), value));
        }
    }
    for (name, value) in others {
        match current.provenance.values.get(&name).copied() {
            Some(source) if !Source::yields_to_dhcp(Some(source)) => {
                plan.kept.push((name, source));
            }
            _ => plan.values.push((name, value)),
        }
    }
    plan
}

/// Records in `provenance` that `plan` was applied for `intake`.
pub fn record(provenance: &mut Provenance, intake: &Intake, plan: &Plan) {
    if let Some(url) = &intake.url {
        provenance.dhcp_url = Some(url.clone());
    }
    for (name, _) in &plan.values {
        if name != URL && name != USERNAME && name != PASSWORD {
            provenance.values.insert(name.clone(), Source::Dhcp);
        }
    }
    if let Some(cloud) = &plan.cloud {
        provenance.cloud = Some(cloud.clone());
    }
}

/// Whether `name` is a parameter whose source is tracked in [`Provenance::values`]: one DHCP
/// may set, other than the URL and the credentials.
pub fn is_tracked(name: &str) -> bool {
    name == PROVISIONING_CODE
        || name == RETRY_MIN_WAIT
        || name == RETRY_MULTIPLIER
        || cloud_parameter(name)
}

fn cloud_parameter(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("Device.X_") else {
        return false;
    };
    let Some((object, parameter)) = rest.split_once('.') else {
        return false;
    };
    object.ends_with("_CloudManagement") && CLOUD_PARAMETERS.contains(&parameter)
}

/// The cloud-management object among the root's children (`Device.X_<vendor>_CloudManagement.`
/// in TR-106 vendor naming), if the profile has one with a `Domain`.
pub fn cloud_object<'a>(children: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    children
        .into_iter()
        .find(|name| cloud_parameter(&format!("{name}ServerDomain")))
}

#[cfg(test)]
mod tests;
