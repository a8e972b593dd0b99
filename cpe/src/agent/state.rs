//! What the agent itself keeps across restarts (`agent.json` in the state directory).

use serde::{Deserialize, Serialize};

/// Where the ACS URL in use came from; the order of precedence is ACS > configuration/CLI >
/// DHCP, and a changed configuration is a new operator choice that wins again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UrlSource {
    /// The configuration file or a command-line flag.
    Config,
    /// DHCP option 43 / DHCPv6 option 17.
    Dhcp,
    /// The ACS, by SetParameterValues on `ManagementServer.URL`.
    Acs,
}

impl UrlSource {
    /// The source as `cpe status` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Dhcp => "dhcp",
            Self::Acs => "acs",
        }
    }
}

/// Where `ManagementServer.Username` / `Password` in use came from (TR-069 §3.4.4); the
/// same precedence as the URL's ([`UrlSource`]): ACS > configuration, and a changed
/// configuration is a new operator choice that wins again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialsSource {
    /// `[acs] username` / `password` of the configuration.
    Config,
    /// The ACS, by SetParameterValues on `ManagementServer.Username` or `Password`.
    Acs,
}

impl CredentialsSource {
    /// The source as logs print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Acs => "acs",
        }
    }
}

/// The agent's own persisted state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentState {
    /// The ACS URL in use.
    pub acs_url: Option<String>,
    /// Where it came from.
    pub acs_url_source: Option<UrlSource>,
    /// The URL the configuration gave last time, to tell an operator's change from a restart.
    pub configured_url: Option<String>,
    /// Where the ACS credentials in the model came from; `None` while they are the profile's
    /// (or were set locally).
    #[serde(default)]
    pub acs_credentials_source: Option<CredentialsSource>,
    /// A fingerprint of the credentials the configuration gave last time, to tell an
    /// operator's change from a restart. Only a fingerprint: the password itself is kept in
    /// the model alone.
    #[serde(default)]
    pub configured_credentials: Option<String>,
    /// The last URL that received a `0 BOOTSTRAP`.
    pub bootstrapped_url: Option<String>,
    /// The Connection Request path, kept so the URL survives restarts.
    pub connreq_path: Option<String>,
    /// Sessions that completed.
    pub sessions_ok: u64,
    /// Sessions that failed.
    pub sessions_failed: u64,
    /// When the last session ended and how.
    pub last_session: Option<(String, String)>,
    /// The kernel's boot ID at the agent's last start, to tell a device boot from an agent
    /// restart.
    #[serde(default)]
    pub boot_id: Option<String>,
    /// Transfer results not yet acknowledged by the ACS.
    #[serde(default)]
    pub pending_messages: Vec<super::transfers::PendingMessage>,
}
