//! What a finished transfer produces: the executor's [`Outcome`], and the [`Completion`] the
//! queue turns it into, i.e. the TransferComplete (TR-069 Amd 6 A.3.3.2) or
//! AutonomousTransferComplete (A.3.3.3) message and the events announcing it (§3.7.1.5).

use std::path::PathBuf;

use schemas::Body;
use schemas::rpc::types::EventStruct;
use schemas::rpc::{AutonomousTransferComplete, EventCode, FaultCode, TransferComplete};
use schemas::value::DateTime;

use super::fault::TransferFault;
use super::queue::{Origin, TransferId};

/// The result of running one transfer ([`Executor::run`](super::Executor::run)), handed back
/// to [`TransferQueue::finish`](super::TransferQueue::finish).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Outcome {
    /// The transfer.
    pub id: TransferId,
    /// When the transfer started (Unix seconds).
    pub start_time: i64,
    /// When it was completed and applied, or failed (Unix seconds).
    pub complete_time: i64,
    /// What was delivered, or why it failed.
    pub result: Result<Delivered, TransferFault>,
}

impl Outcome {
    /// A failed transfer.
    pub fn failed(
        id: TransferId,
        start_time: i64,
        complete_time: i64,
        fault: TransferFault,
    ) -> Self {
        Self {
            id,
            start_time,
            complete_time,
            result: Err(fault),
        }
    }
}

/// What a successful transfer delivered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivered {
    /// Bytes downloaded or uploaded.
    pub bytes: u64,
    /// The firmware or configuration hook asked for a reboot to finish applying the file.
    pub reboot_required: bool,
    /// Where a stored download now lives (web content, tone, ringer and vendor files).
    pub stored_at: Option<PathBuf>,
}

/// A finished transfer, ready for the agent to report: queue [`Completion::events`] for the
/// next Inform and send [`Completion::body`] in that session (TR-069 Amd 6 §3.7.1.5: `7
/// TRANSFER COMPLETE` and `M Download` / `M ScheduleDownload` / `M Upload` with the
/// CommandKey; `10 AUTONOMOUS TRANSFER COMPLETE` for a transfer the ACS did not ask for).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Completion {
    /// The transfer, now gone from the queue.
    pub id: TransferId,
    /// The RPC that queued it.
    pub origin: Origin,
    /// The message reporting it.
    pub message: CompletionMessage,
    /// The agent should reboot once the completion is safely queued (firmware applied).
    pub reboot_required: bool,
    /// Where a stored download now lives.
    pub stored_at: Option<PathBuf>,
}

/// The CPE→ACS message reporting a finished transfer.
#[derive(Clone, Debug, PartialEq)]
pub enum CompletionMessage {
    /// A.3.3.2: for a Download, ScheduleDownload or Upload the ACS requested.
    TransferComplete(TransferComplete),
    /// A.3.3.3: for a transfer the CPE started itself.
    AutonomousTransferComplete(AutonomousTransferComplete),
}

impl Completion {
    /// The events announcing the completion in the next Inform: `7 TRANSFER COMPLETE` plus
    /// `M <Method>` with the CommandKey, or `10 AUTONOMOUS TRANSFER COMPLETE` alone.
    pub fn events(&self) -> Vec<EventStruct> {
        match (&self.message, self.origin.method_name()) {
            (CompletionMessage::TransferComplete(message), Some(method)) => vec![
                EventStruct::new(EventCode::TransferComplete),
                EventStruct {
                    event_code: EventCode::Method(method.to_owned()),
                    command_key: message.command_key.clone(),
                },
            ],
            _ => vec![EventStruct::new(EventCode::AutonomousTransferComplete)],
        }
    }

    /// The message as a SOAP body.
    pub fn body(&self) -> Body {
        match &self.message {
            CompletionMessage::TransferComplete(m) => m.clone().into(),
            CompletionMessage::AutonomousTransferComplete(m) => m.clone().into(),
        }
    }

    /// The reported fault, `None` for success.
    pub fn fault(&self) -> Option<FaultCode> {
        match &self.message {
            CompletionMessage::TransferComplete(m) => m.fault_struct.fault(),
            CompletionMessage::AutonomousTransferComplete(m) => m.fault_struct.fault(),
        }
    }
}

/// A Unix time as a CWMP dateTime (UTC); the Unknown Time when out of the schema's range.
pub(crate) fn date_time(unix: i64) -> DateTime {
    DateTime::from_unix(unix, 0).unwrap_or(DateTime::UNKNOWN)
}
