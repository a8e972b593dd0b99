//! `cpe dhcp hook`: the operating system's DHCP client tells the agent what a lease said
//! (TR-069 §3.1, PROTOCOL.md §2.2).
//!
//! | Client | Event | Option 43 |
//! |---|---|---|
//! | busybox udhcpc (`udhcpc -O 43 -s udhcpc-hook.sh`) | `$1`: `bound`, `renew` (also `deconfig`, `leasefail`, `nak`: nothing to do) | `$opt43`, compact hex (udhcpc exports options it has no name for as `optNN`) |
//! | ISC dhclient (`request vendor-encapsulated-options;`, hook in `dhclient-exit-hooks.d`) | `$reason`: `BOUND`, `RENEW`, `REBIND`, `REBOOT` (others: nothing to do) | `$new_vendor_encapsulated_options`, colon-separated hex |
//!
//! The option is decoded with [`schemas::dhcp::AcsDiscovery::decode_option43`] and checked
//! ([`Intake::from_discovery`]) before anything is handed on: a bad option is refused whole.
//! A running agent gets it over the control socket ([`crate::control::Request::Dhcp`]); with
//! no agent running it is saved (atomically) as [`PENDING_FILE`] in the state directory,
//! which the agent applies when it starts.

use std::path::Path;

use schemas::dhcp::{AcsDiscovery, hex};

use super::{Intake, IntakeError};
use crate::control::{self, ControlError, Request, Response};

/// The file in the state directory that holds an intake for the agent's next start.
pub const PENDING_FILE: &str = "dhcp-intake.json";

/// Which DHCP client called the hook, and where it put option 43.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// busybox udhcpc: event in `$1`, option 43 in `$opt43`.
    Udhcpc,
    /// ISC dhclient: event in `$reason`, option 43 in `$new_vendor_encapsulated_options`.
    Dhclient,
}

impl Client {
    /// The environment variable option 43 arrives in.
    pub fn option43_variable(self) -> &'static str {
        match self {
            Self::Udhcpc => "opt43",
            Self::Dhclient => "new_vendor_encapsulated_options",
        }
    }
}

/// What the DHCP client's call says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The client.
    pub client: Client,
    /// The event, as the client named it.
    pub event: String,
    /// Whether the event brings a lease (bound or renewed) whose options count.
    pub lease: bool,
    /// Option 43 as hex text, if the lease carried it.
    pub option43: Option<String>,
}

/// Why the hook could not do its work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookError {
    /// Neither `$1` (udhcpc) nor `$reason` (dhclient) says what happened.
    #[error("no DHCP event: expected udhcpc's event as the first argument or dhclient's $reason")]
    NoEvent,
    /// Option 43 is not hex, or not a valid option 43.
    #[error("option 43 (${variable}) refused, nothing applied: {reason}")]
    Option43 {
        /// The environment variable it came in.
        variable: &'static str,
        /// Why.
        reason: String,
    },
    /// The option decoded but holds a value the agent cannot use.
    #[error("option 43 refused, nothing applied: {0}")]
    Intake(#[from] IntakeError),
    /// The running agent refused it.
    #[error("the agent refused the DHCP intake: {0}")]
    Refused(String),
    /// The control socket failed for another reason than no agent running.
    #[error(transparent)]
    Control(ControlError),
    /// No agent runs and the intake could not be saved for it.
    #[error("saving the DHCP intake for the agent's next start: {0}")]
    Save(#[from] crate::persist::PersistError),
}

/// Reads the DHCP client's call: `event` is the hook's first argument (udhcpc's), `env` reads
/// the environment.
pub fn read_call(
    event: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Call, HookError> {
    let (client, event, lease) = if let Some(reason) = env("reason").filter(|r| !r.is_empty()) {
        let lease = matches!(reason.as_str(), "BOUND" | "RENEW" | "REBIND" | "REBOOT");
        (Client::Dhclient, reason, lease)
    } else if let Some(event) = event.filter(|e| !e.is_empty()) {
        let lease = matches!(event, "bound" | "renew");
        (Client::Udhcpc, event.to_owned(), lease)
    } else {
        return Err(HookError::NoEvent);
    };
    let option43 = lease
        .then(|| env(client.option43_variable()))
        .flatten()
        .filter(|hex| !hex.trim().is_empty());
    Ok(Call {
        client,
        event,
        lease,
        option43,
    })
}

/// Decodes the call's option 43: `None` when the lease carried none.
pub fn decode(call: &Call) -> Result<Option<Intake>, HookError> {
    let Some(text) = &call.option43 else {
        return Ok(None);
    };
    let variable = call.client.option43_variable();
    let bytes = hex::parse(text).map_err(|e| HookError::Option43 {
        variable,
        reason: format!("not hex: {e}"),
    })?;
    let discovery = AcsDiscovery::decode_option43(&bytes).map_err(|e| HookError::Option43 {
        variable,
        reason: e.to_string(),
    })?;
    Ok(Some(Intake::from_discovery(discovery)?))
}

/// How an intake reached the agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The running agent applied it; its summary.
    Applied(String),
    /// No agent runs: saved for its next start.
    Saved,
}

/// Hands `intake` to the agent of `state_dir`: over the control socket if it runs, else into
/// [`PENDING_FILE`] (written atomically).
pub async fn deliver(state_dir: &Path, intake: &Intake) -> Result<Delivery, HookError> {
    let request = Request::Dhcp {
        intake: intake.clone(),
    };
    match control::request(state_dir, &request).await {
        Ok(Response::Error { message }) => Err(HookError::Refused(message)),
        Ok(Response::Dhcp { summary }) => Ok(Delivery::Applied(summary)),
        Ok(other) => Err(HookError::Refused(format!("unexpected answer {other:?}"))),
        Err(ControlError::NotRunning { .. }) => {
            std::fs::create_dir_all(state_dir).map_err(|source| {
                crate::persist::PersistError::Io {
                    path: state_dir.to_owned(),
                    action: "create the directory of",
                    source,
                }
            })?;
            crate::persist::save(&state_dir.join(PENDING_FILE), intake)?;
            Ok(Delivery::Saved)
        }
        Err(e) => Err(HookError::Control(e)),
    }
}
