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
}

impl MessageType for Message {
    const ALL: &'static [Self] = &[
        Self::Inform,
        Self::TransferComplete,
        Self::AutonomousTransferComplete,
        Self::GetRpcMethods,
        Self::Download,
        Self::Upload,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Inform => "Inform",
            Self::TransferComplete => "TransferComplete",
            Self::AutonomousTransferComplete => "AutonomousTransferComplete",
            Self::GetRpcMethods => "GetRPCMethods",
            Self::Download => "Download",
            Self::Upload => "Upload",
        }
    }
}

impl Message {
    /// The type of a CWMP request the CPE sends, by its element name (`cwmp:Inform`, ...).
    pub fn from_cwmp(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .filter(|m| !matches!(m, Self::Download | Self::Upload))
            .find(|m| m.name() == name)
    }
}
