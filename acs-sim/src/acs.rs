//! What one acs-sim process shares between its listeners: the store, the configuration, the
//! provisioning scenario, the file area, and a change signal the REST API waits on.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, watch};

use crate::cloud::Cloud;
use crate::files::FileStore;
use crate::health::Components;
use crate::scenario::Scenario;
use crate::session::SessionConfig;
use crate::store::{Credentials, DeviceId, Store};

/// The ACS state shared by the CWMP endpoint, the REST API and the file server.
pub struct Acs {
    /// Devices, tasks, faults, file metadata.
    pub store: Arc<dyn Store>,
    /// How the ACS behaves.
    pub config: AcsConfig,
    /// What to provision on each Inform.
    pub scenario: Scenario,
    /// The files served for Download and received from Upload.
    pub files: FileStore,
    changes: watch::Sender<u64>,
    events: broadcast::Sender<AcsEvent>,
    cloud: OnceLock<Cloud>,
    components: Components,
    /// The call-home statistics of what the ACS sends ([`crate::stats`]).
    pub stats: crate::stats::AcsStats,
}

impl Acs {
    /// Puts the parts together.
    pub fn new(
        store: Arc<dyn Store>,
        config: AcsConfig,
        scenario: Scenario,
        files: FileStore,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            config,
            scenario,
            files,
            changes: watch::Sender::new(0),
            events: broadcast::Sender::new(EVENT_BACKLOG),
            cloud: OnceLock::new(),
            components: Components::default(),
            stats: crate::stats::AcsStats::new(),
        })
    }

    /// Attaches the cloud-management server whose tunnels carry Connection Requests the
    /// device's ConnectionRequestURL cannot (issue 6, the NAT case); `false` if one already is.
    /// The cloud's pushes are then counted in [`Self::stats`] (unless another ACS counts
    /// them already).
    pub fn attach_cloud(&self, cloud: Cloud) -> bool {
        if self.cloud.set(cloud.clone()).is_err() {
            return false;
        }
        let _counted_elsewhere = cloud.count_in(self.stats.clone());
        true
    }

    /// The attached cloud-management server, if any.
    pub fn cloud(&self) -> Option<&Cloud> {
        self.cloud.get()
    }

    /// The listeners serving this ACS and their state, for `/health`.
    pub fn components(&self) -> &Components {
        &self.components
    }

    /// A receiver that wakes whenever a session changed the store (a task done or faulted, a
    /// device informed). The REST API waits on it for `?timeout=` (GenieACS's 200 vs 202).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// A receiver of what happens in sessions, for timelines and tests. A receiver that falls
    /// more than [`EVENT_BACKLOG`] events behind loses the oldest.
    pub fn events(&self) -> broadcast::Receiver<AcsEvent> {
        self.events.subscribe()
    }

    /// Tells [`Acs::events`] receivers what happened and wakes [`Acs::subscribe`] receivers.
    pub fn publish(&self, event: AcsEvent) {
        // No receiver is not an error: nobody is watching.
        let _ = self.events.send(event);
        self.changes
            .send_modify(|generation| *generation = generation.wrapping_add(1));
    }
}

/// How many [`AcsEvent`]s a slow receiver may fall behind.
pub const EVENT_BACKLOG: usize = 4096;

/// Something that happened in a session.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcsEvent {
    /// A CPE informed (TR-069 A.3.3.1).
    Informed {
        /// The device.
        device: DeviceId,
        /// Its event codes, e.g. `0 BOOTSTRAP`.
        events: Vec<String>,
    },
    /// A job (scenario step or task) finished.
    JobDone {
        /// The device.
        device: DeviceId,
        /// The job's label, e.g. `setParameterValues`.
        label: String,
        /// `None` on success, else the fault code and message.
        fault: Option<String>,
    },
    /// The CPE reported a transfer's end (TransferComplete, AutonomousTransferComplete).
    TransferComplete {
        /// The device.
        device: DeviceId,
        /// The transfer's CommandKey.
        command_key: String,
        /// `None` on success, else the fault code and text.
        fault: Option<String>,
    },
    /// A session ended.
    SessionEnded {
        /// The device, if the Inform was read.
        device: Option<DeviceId>,
        /// `None` when it completed, else why it failed.
        error: Option<String>,
    },
}

/// The wall clock as the store keeps it: unix seconds.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// How the ACS behaves (the `[acs]` part of `acs-sim serve --config`).
#[derive(Clone, Debug)]
pub struct AcsConfig {
    /// Session machine settings: highest CWMP version, session timeout, RPC methods.
    pub session: SessionConfig,
    /// How CPEs authenticate to the CWMP endpoint.
    pub auth: CpeAuth,
    /// The largest request body the CWMP endpoint reads; larger gets `413`.
    pub body_limit: usize,
    /// The file server's base URL, e.g. `http://127.0.0.1:7567`: Download URLs are
    /// `<files_url>/<name>`.
    pub files_url: String,
    /// Connection Request client settings.
    pub connreq: ConnReqConfig,
    /// Send partial paths (ending in `.`) in GetParameterValues as they are. Off by default:
    /// a partial path is expanded with GetParameterNames first, since not every CPE accepts it.
    pub partial_path_gpv: bool,
    /// Where session transcripts go, if anywhere.
    pub transcripts: Option<TranscriptConfig>,
}

impl Default for AcsConfig {
    fn default() -> Self {
        Self {
            session: SessionConfig::default(),
            auth: CpeAuth::None,
            body_limit: schemas::Limits::DEFAULT.max_body_bytes,
            files_url: "http://127.0.0.1:7567".to_owned(),
            connreq: ConnReqConfig::default(),
            partial_path_gpv: false,
            transcripts: None,
        }
    }
}

/// How CPEs authenticate to the ACS (TR-069 §3.4.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpeAuth {
    /// No authentication.
    None,
    /// HTTP Basic with these credentials (only sensible over TLS).
    Basic(Credentials),
    /// HTTP Digest (RFC 7616, `qop=auth`, MD5) with these credentials.
    Digest(Credentials),
}

/// How the ACS makes Connection Requests (TR-069 §3.2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnReqConfig {
    /// Provision random ConnectionRequestUsername / Password on a device's first session and
    /// use them from then on (as acsrs does).
    pub provision: bool,
    /// Credentials to use for devices the ACS provisioned none for.
    pub fallback: Option<Credentials>,
    /// Answer a Basic challenge (Digest is always answered).
    pub allow_basic: bool,
    /// How long to wait for the device's HTTP answer.
    pub timeout: Duration,
}

impl Default for ConnReqConfig {
    fn default() -> Self {
        Self {
            provision: true,
            fallback: None,
            allow_basic: false,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Where and for whom session transcripts are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranscriptConfig {
    /// The directory; each session gets a sub-directory.
    pub dir: PathBuf,
    /// Device ids to record; empty records every device.
    pub devices: Vec<String>,
}
