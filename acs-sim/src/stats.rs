//! acs-sim's call-home statistics ([`cpe::stats`]): per outbound message type, Success
//! (answered at the transport level), Failed, Faults, Inqueue, Dropped and Last-sent, and the
//! CWMP sessions' count and duration. Served as `GET /api/stats` (JSON) and `GET /metrics`
//! (Prometheus text) on the REST listener ([`crate::nbi`]).
//!
//! | Type | Success / Faults | Failed |
//! |---|---|---|
//! | each ACS method (A.3.2, A.4.1) | the CPE's response / a CWMP Fault (A.5) in its next POST | the session ended (timeout, error, a new Inform) before the answer |
//! | ConnectionRequest (§3.2.2) | any HTTP answer / a refusal (401 after the credentials, 503, another status, an unusable challenge) | no connection, no answer in time, a broken exchange |
//! | TunnelConnectionRequest, TunnelConfiguration (optType 104, 3, pushed by the attached cloud server, [`crate::cloud::Cloud::count_in`]) | the device's answer frame / a non-zero retCode | the tunnel did not carry it, or no answer in time |
//!
//! Inqueue stays 0: a request is queued only when its session awaits it, and the tasks not
//! yet sent wait in the store (the NBI's `/tasks`), not in a send queue. Dropped counts the
//! tunnel pushes a device's limit of waiting requests refused.

use cpe::stats::{Delivery, MessageType, Stats};

use crate::connreq::ConnReqError;

/// Every message acs-sim starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum AcsMessage {
    GetRpcMethods,
    SetParameterValues,
    GetParameterValues,
    GetParameterNames,
    SetParameterAttributes,
    GetParameterAttributes,
    AddObject,
    DeleteObject,
    Reboot,
    Download,
    Upload,
    FactoryReset,
    GetQueuedTransfers,
    GetAllQueuedTransfers,
    ScheduleInform,
    SetVouchers,
    GetOptions,
    ScheduleDownload,
    CancelTransfer,
    ChangeDuState,
    /// The HTTP Connection Request (TR-069 Amd 6 §3.2.2).
    ConnectionRequest,
    /// The Connection Request carried by the cloud tunnel (optType 104).
    TunnelConnectionRequest,
    /// Parameters pushed through the cloud tunnel (optType 3).
    TunnelConfiguration,
}

impl MessageType for AcsMessage {
    const ALL: &'static [Self] = &[
        Self::GetRpcMethods,
        Self::SetParameterValues,
        Self::GetParameterValues,
        Self::GetParameterNames,
        Self::SetParameterAttributes,
        Self::GetParameterAttributes,
        Self::AddObject,
        Self::DeleteObject,
        Self::Reboot,
        Self::Download,
        Self::Upload,
        Self::FactoryReset,
        Self::GetQueuedTransfers,
        Self::GetAllQueuedTransfers,
        Self::ScheduleInform,
        Self::SetVouchers,
        Self::GetOptions,
        Self::ScheduleDownload,
        Self::CancelTransfer,
        Self::ChangeDuState,
        Self::ConnectionRequest,
        Self::TunnelConnectionRequest,
        Self::TunnelConfiguration,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::GetRpcMethods => "GetRPCMethods",
            Self::SetParameterValues => "SetParameterValues",
            Self::GetParameterValues => "GetParameterValues",
            Self::GetParameterNames => "GetParameterNames",
            Self::SetParameterAttributes => "SetParameterAttributes",
            Self::GetParameterAttributes => "GetParameterAttributes",
            Self::AddObject => "AddObject",
            Self::DeleteObject => "DeleteObject",
            Self::Reboot => "Reboot",
            Self::Download => "Download",
            Self::Upload => "Upload",
            Self::FactoryReset => "FactoryReset",
            Self::GetQueuedTransfers => "GetQueuedTransfers",
            Self::GetAllQueuedTransfers => "GetAllQueuedTransfers",
            Self::ScheduleInform => "ScheduleInform",
            Self::SetVouchers => "SetVouchers",
            Self::GetOptions => "GetOptions",
            Self::ScheduleDownload => "ScheduleDownload",
            Self::CancelTransfer => "CancelTransfer",
            Self::ChangeDuState => "ChangeDUState",
            Self::ConnectionRequest => "ConnectionRequest",
            Self::TunnelConnectionRequest => "TunnelConnectionRequest",
            Self::TunnelConfiguration => "TunnelConfiguration",
        }
    }
}

impl AcsMessage {
    /// The type of an ACS request, by its element name.
    pub fn from_rpc(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.name() == name)
    }
}

/// acs-sim's statistics.
pub type AcsStats = Stats<AcsMessage>;

/// What an HTTP Connection Request attempt counts as, or `None` when none was sent (no such
/// device, no URL, a store failure).
pub fn connection_request(result: &Result<(), ConnReqError>) -> Option<Delivery> {
    match result {
        Ok(()) => Some(Delivery::Answered),
        Err(
            ConnReqError::NoCredentials { .. }
            | ConnReqError::BasicRefused { .. }
            | ConnReqError::BadChallenge { .. }
            | ConnReqError::CredentialsRefused { .. }
            | ConnReqError::Rejected { .. },
        ) => Some(Delivery::Fault),
        Err(
            ConnReqError::Unreachable { .. }
            | ConnReqError::Timeout { .. }
            | ConnReqError::Http { .. },
        ) => Some(Delivery::Failed),
        Err(_) => None,
    }
}

/// The `/metrics` page: the statistics as `cwmp_*` families.
pub fn metrics_page(stats: &AcsStats) -> String {
    let mut page = cpe::stats::prometheus::Exposition::new();
    stats.snapshot(|_| 0).write_prometheus("cwmp", &mut page);
    page.finish()
}
