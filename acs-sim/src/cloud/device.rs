//! A registered device: its credentials, fault switches, session, links and the state it
//! mirrors (this project's bookkeeping; the wire format is [`schemas::tunnel`]).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use schemas::tunnel::{ConfigurationAnswer, MAIN_CLOUD_MODULE, Report, RetCode};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Misbehaviour injected for one serial (tests and labs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Read keepalives (optType 2) but never answer them: the device's keepalive expires.
    pub stop_keepalive_answers: bool,
    /// Refuse cloud authentication (step 4) as for an unknown serial.
    pub refuse_auth: bool,
    /// Answer the registration (step 5) with a body the device cannot read.
    pub malformed_register_answer: bool,
    /// Hold every answer (HTTP steps 2-5 and answered frames) this long; JSON `delay_ms`.
    #[serde(rename = "delay_ms", with = "millis")]
    pub delay: Option<Duration>,
}

/// What the registry knows of a device, and what it mirrors: the REST API's device JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceView {
    /// The serial number (`devSN`).
    pub serial: String,
    /// Whether the main link is registered.
    pub online: bool,
    /// The cloud modules with a registered link: `base` first, then the sub-links by name.
    pub links: Vec<String>,
    /// Keepalives (optType 2) received.
    pub keepalives: u64,
    /// Pings (optType 101) received.
    pub pings: u64,
    /// Main-link registrations (optType 1 accepted on `cmtnlmgr`/`base`).
    pub registrations: u64,
    /// Frames refused: not a valid device frame, a link key that is not the link's, a
    /// message before the link registered, or a binary frame.
    pub bad_frames: u64,
    /// The last report (optType 103): the mirrored settings and CWMP state.
    #[serde(serialize_with = "report_json")]
    pub report: Option<Report>,
    /// `false` once the device unbound itself (optType 105): authentication is refused until
    /// it is added again.
    pub bound: bool,
    /// The fault switches in force.
    pub faults: Faults,
}

/// A command for a link's task.
#[derive(Debug)]
pub(super) enum Command {
    /// Write this text frame.
    Send(String),
    /// Send a close frame, then end.
    Close,
    /// End with a TCP reset.
    Reset,
}

/// The sending end of a link's task.
#[derive(Clone, Debug)]
pub(super) struct LinkHandle {
    pub(super) id: u64,
    pub(super) commands: mpsc::Sender<Command>,
}

/// A waiter for the device's answer to a cloud request, by `seqNumber`.
#[derive(Debug)]
pub(super) enum Pending {
    Configuration(oneshot::Sender<ConfigurationAnswer>),
    ConnectionRequest(oneshot::Sender<RetCode>),
}

/// The authenticated session of a device (step 4).
#[derive(Debug)]
pub(super) struct Session {
    pub(super) id: String,
    pub(super) issued: Instant,
}

/// A registered serial.
#[derive(Debug)]
pub(super) struct Device {
    pub(super) secret: String,
    pub(super) unbinding_code: Option<String>,
    pub(super) bound: bool,
    pub(super) faults: Faults,
    pub(super) session: Option<Session>,
    pub(super) main: Option<LinkHandle>,
    pub(super) subs: BTreeMap<String, LinkHandle>,
    pub(super) keepalives: u64,
    pub(super) pings: u64,
    pub(super) registrations: u64,
    pub(super) bad_frames: u64,
    pub(super) report: Option<Report>,
    pub(super) pending: HashMap<u32, Pending>,
}

impl Device {
    pub(super) fn new(secret: &str) -> Self {
        Self {
            secret: secret.to_owned(),
            unbinding_code: None,
            bound: true,
            faults: Faults::default(),
            session: None,
            main: None,
            subs: BTreeMap::new(),
            keepalives: 0,
            pings: 0,
            registrations: 0,
            bad_frames: 0,
            report: None,
            pending: HashMap::new(),
        }
    }

    pub(super) fn view(&self, serial: &str) -> DeviceView {
        let main = self.main.as_ref().map(|_| MAIN_CLOUD_MODULE.to_owned());
        DeviceView {
            serial: serial.to_owned(),
            online: self.main.is_some(),
            links: main.into_iter().chain(self.subs.keys().cloned()).collect(),
            keepalives: self.keepalives,
            pings: self.pings,
            registrations: self.registrations,
            bad_frames: self.bad_frames,
            report: self.report.clone(),
            bound: self.bound,
            faults: self.faults,
        }
    }

    /// Every link's handle, main first.
    pub(super) fn links(&self) -> impl Iterator<Item = &LinkHandle> {
        self.main.iter().chain(self.subs.values())
    }
}

/// A report as the JSON members of optType 103 (`cloud`, `cwmp`), or `null`.
fn report_json<S: Serializer>(report: &Option<Report>, serializer: S) -> Result<S::Ok, S::Error> {
    let value = report.as_ref().map(|report| {
        json!({
            "cloud": {
                "domain": report.cloud.domain(),
                "port": report.cloud.port(),
                "keepalive": report.cloud.keepalive(),
                "ping": report.cloud.ping(),
            },
            "cwmp": {
                "acsUrl": report.cwmp.acs_url,
                "acsUrlSource": report.cwmp.acs_url_source,
                "lastInform": report.cwmp.last_inform.map(|t| t.to_string()),
                "provisioningCode": report.cwmp.provisioning_code,
            },
        })
    });
    value.serialize(serializer)
}

/// `Option<Duration>` as whole milliseconds.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// The longest delay accepted: an hour.
    const MAX_MS: u64 = 3_600_000;

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        match Option::<u64>::deserialize(deserializer)? {
            Some(ms) if ms > MAX_MS => Err(serde::de::Error::custom(format!(
                "delay_ms must be at most {MAX_MS}"
            ))),
            ms => Ok(ms.map(Duration::from_millis)),
        }
    }
}
