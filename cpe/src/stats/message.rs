//! The CPE's outbound message types and what each counter means for it.

use super::MessageType;

/// Every message the CPE starts.
///
/// | Type | Success / Faults | Failed | Inqueue | Dropped |
/// |---|---|---|---|---|
/// | Inform | InformResponse / SOAP Fault (TR-069 A.3.3.1) | no HTTP 200/204 (connect, TLS, timeout, other status) | 1 while events wait for a session | never: undelivered events stay queued (§3.7.1.5) |
/// | TransferComplete, AutonomousTransferComplete | their response / SOAP Fault (A.3.3.2, A.3.3.3) | as Inform | pending, not yet answered | never: kept until answered (A.3.3.2) |
/// | GetRPCMethods | its response / SOAP Fault (A.3.1.1) | as Inform | 0 | never |
/// | Download | the file server's HTTP answer / an error status (A.3.2.8) | connect, TLS, timeout, body cut | transfers not yet started | never |
/// | Upload | as Download (A.4.1.5) | as Download | as Download | never |
/// | TunnelAuth | each CAS step's HTTP answer (steps 1-4) / an error status or an unusable answer | lookup, connect, TLS, write failed, no answer by the step's deadline | 0 | never |
/// | TunnelRegister | step 5's HTTP answer, each link's optType 1 answer / as TunnelAuth, a non-zero retCode | as TunnelAuth, the WebSocket not opened, the link closed before the answer | frames queued | the link went down with it queued |
/// | TunnelKeepalive, TunnelReport, TunnelSubConnection, TunnelUnbind | the answer frame (optType 2, 103, 102, 105) / a non-zero retCode | not written, or the link closed (keepalive expiry too) before the answer | frames queued | as TunnelRegister, or refused by a full buffer or an unregistered link |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// A.3.3.1 Inform, the first message of every session.
    Inform,
    /// A.3.3.2 TransferComplete.
    TransferComplete,
    /// A.3.3.3 AutonomousTransferComplete.
    AutonomousTransferComplete,
    /// A.3.1.1 GetRPCMethods sent by the CPE.
    GetRpcMethods,
    /// Fetching a file for Download / ScheduleDownload (A.3.2.8, A.4.1.8).
    Download,
    /// Sending a file for Upload (A.4.1.5).
    Upload,
    /// The cloud tunnel's authentication: the CAS steps 1-4 (`schemas::tunnel`'s table).
    TunnelAuth,
    /// The tunnel's registration: step 5 (`POST /v3/base/register`) and each link's optType 1.
    TunnelRegister,
    /// optType 2 on the tunnel's main link.
    TunnelKeepalive,
    /// optType 103: the device's settings and CWMP state.
    TunnelReport,
    /// optType 102: the request for the sub-connection list.
    TunnelSubConnection,
    /// optType 105: the unbinding request.
    TunnelUnbind,
}

impl MessageType for Message {
    const ALL: &'static [Self] = &[
        Self::Inform,
        Self::TransferComplete,
        Self::AutonomousTransferComplete,
        Self::GetRpcMethods,
        Self::Download,
        Self::Upload,
        Self::TunnelAuth,
        Self::TunnelRegister,
        Self::TunnelKeepalive,
        Self::TunnelReport,
        Self::TunnelSubConnection,
        Self::TunnelUnbind,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Inform => "Inform",
            Self::TransferComplete => "TransferComplete",
            Self::AutonomousTransferComplete => "AutonomousTransferComplete",
            Self::GetRpcMethods => "GetRPCMethods",
            Self::Download => "Download",
            Self::Upload => "Upload",
            Self::TunnelAuth => "TunnelAuth",
            Self::TunnelRegister => "TunnelRegister",
            Self::TunnelKeepalive => "TunnelKeepalive",
            Self::TunnelReport => "TunnelReport",
            Self::TunnelSubConnection => "TunnelSubConnection",
            Self::TunnelUnbind => "TunnelUnbind",
        }
    }
}

impl Message {
    /// The type of a CWMP request the CPE sends, by its element name (`cwmp:Inform`, ...).
    pub fn from_cwmp(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .filter(|m| m.is_cwmp())
            .find(|m| m.name() == name)
    }

    /// Whether this is a message of the cloud tunnel (counted by its driver).
    pub fn is_tunnel(self) -> bool {
        matches!(
            self,
            Self::TunnelAuth
                | Self::TunnelRegister
                | Self::TunnelKeepalive
                | Self::TunnelReport
                | Self::TunnelSubConnection
                | Self::TunnelUnbind
        )
    }

    /// Whether this is a CWMP request (not a file transfer or a tunnel message).
    fn is_cwmp(self) -> bool {
        matches!(
            self,
            Self::Inform
                | Self::TransferComplete
                | Self::AutonomousTransferComplete
                | Self::GetRpcMethods
        )
    }
}
