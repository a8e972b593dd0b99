//! What the agent itself keeps across restarts (`agent.json` in the state directory).

use serde::{Deserialize, Serialize};

/// Where the ACS URL in use came from: [`Source`](crate::ztp::Source), whose order of
/// precedence is ACS > CLI > configuration > DHCP; a changed configuration is a new operator
/// choice that wins again, and a factory reset forgets the ACS's and the CLI's choices.
pub type UrlSource = crate::ztp::Source;

/// Where `ManagementServer.Username` / `Password` in use came from (TR-069 §3.4.4), with the
/// URL's precedence ([`UrlSource`]).
pub type CredentialsSource = crate::ztp::Source;

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
    /// The cloud server the configuration gave last time (`[cloud] domain` and `port`), to
    /// tell an operator's change from a restart.
    #[serde(default)]
    pub configured_cloud: Option<String>,
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
    /// When the ACS last accepted an Inform (Unix seconds), as the cloud report mirrors it.
    #[serde(default)]
    pub last_inform: Option<i64>,
    /// The kernel's boot ID at the agent's last start, to tell a device boot from an agent
    /// restart.
    #[serde(default)]
    pub boot_id: Option<String>,
    /// What DHCP said last and where the values it may change came from ([`crate::ztp`]).
    #[serde(default)]
    pub ztp: crate::ztp::Provenance,
    /// Transfer results not yet acknowledged by the ACS.
    #[serde(default)]
    pub pending_messages: Vec<super::transfers::PendingMessage>,
    /// The device's identity at the agent's last start ([`crate::snapshot::state::identity`]),
    /// so that `cpe backup` and `cpe restore` know whose state this is while it is stopped.
    #[serde(default)]
    pub device: std::collections::BTreeMap<String, String>,
}
