//! File transfers in the agent: the host hooks, and how a finished transfer becomes events and
//! a TransferComplete that survive a crash (TR-069 Amd 6 A.3.2.8, A.3.3.2, §3.7.1.5).

use std::path::Path;
use std::sync::{Arc, Mutex};

use schemas::rpc::EventCode;
use schemas::soap::CwmpNamespace;
use schemas::{Body, Envelope};
use serde::{Deserialize, Serialize};

use super::{Core, lock};
use crate::config::Commands;
use crate::events::queue::MethodEvent;
use crate::transfer::{
    Applied, Completion, Delivered, EntryState, HookError, Origin, Outcome, TransferHooks,
};

/// A TransferComplete (or AutonomousTransferComplete) waiting for the ACS's response, kept in
/// its wire form so it is sent exactly as it was decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingMessage {
    /// The transfer it reports.
    pub transfer: u64,
    /// The message as a canonical envelope.
    pub envelope: String,
}

impl PendingMessage {
    /// The message's body, if the stored envelope still reads (it was written by us).
    pub(super) fn body(&self) -> Option<Body> {
        Envelope::parse(self.envelope.as_bytes())
            .ok()
            .map(|e| e.body)
    }
}

impl Core {
    /// Takes the outcome of a transfer the agent ran: its completion is recorded, or the queue
    /// keeps it for a retry.
    pub(super) fn transfer_ended(&mut self, outcome: Outcome) {
        match self.transfers.finish(outcome, super::unix_seconds()) {
            Some(completion) => self.transfer_finished(completion),
            None => self.save_transfers(),
        }
    }

    /// Records a finished transfer: its events and its message first, then the queue without
    /// it, so a crash in between replays the transfer's completion instead of losing it. The
    /// replay is harmless: the token keeps out a second `M` event, and a transfer whose message
    /// was saved is not run again ([`Self::drop_reported_transfers`]).
    pub(super) fn transfer_finished(&mut self, completion: Completion) {
        let id = completion.id.value();
        let token = format!("transfer:{id}");
        match completion.origin {
            Origin::Download | Origin::ScheduleDownload | Origin::Upload => {
                let method = match completion.origin {
                    Origin::Download => MethodEvent::Download,
                    Origin::ScheduleDownload => MethodEvent::ScheduleDownload,
                    _ => MethodEvent::Upload,
                };
                let key = match &completion.message {
                    crate::transfer::CompletionMessage::TransferComplete(m) => {
                        m.command_key.clone()
                    }
                    crate::transfer::CompletionMessage::AutonomousTransferComplete(_) => {
                        Default::default()
                    }
                };
                self.events
                    .queue_mut()
                    .complete_method(method, key, Some(&token));
            }
            Origin::AutonomousDownload => {
                self.events
                    .queue_mut()
                    .add(EventCode::AutonomousTransferComplete);
            }
        }
        if !self.state.pending_messages.iter().any(|p| p.transfer == id) {
            let envelope = Envelope::new(CwmpNamespace::V1_2, completion.body()).write();
            self.state.pending_messages.push(PendingMessage {
                transfer: id,
                envelope: String::from_utf8_lossy(&envelope).into_owned(),
            });
        }
        self.reboot_after_session |= completion.reboot_required;
        self.session_due = true;
        self.save_events();
        super::save(&self.files.agent, &self.state);
        self.save_transfers();
    }

    /// Takes out of the queue, at start, the transfers whose TransferComplete is already
    /// pending: the agent stopped after [`Self::transfer_finished`] saved their completion and
    /// before it saved the queue without them. Such a transfer is over. Run again, it would be
    /// reported a second time once the first TransferComplete is delivered: its token keeps out
    /// a second `M` event, but nothing is left to keep out a second message.
    ///
    /// Only started transfers are concerned: one that is not started (a ScheduleDownload whose
    /// windows all passed) comes out of [`TransferQueue::poll_due`] again before any session,
    /// while its message is still pending.
    ///
    /// [`TransferQueue::poll_due`]: crate::transfer::TransferQueue::poll_due
    pub(super) fn drop_reported_transfers(&mut self, now: i64) {
        let reported: Vec<_> = self
            .transfers
            .iter()
            .filter(|t| t.state() != EntryState::NotYetStarted)
            .filter(|t| {
                let id = t.id().value();
                self.state.pending_messages.iter().any(|p| p.transfer == id)
            })
            .map(|t| t.id())
            .collect();
        for id in reported {
            crate::oplog!(XFER_ALREADY_REPORTED, %id, "transfer completion already recorded; not run again");
            // Its outcome was recorded with its message: this only ends its queue entry.
            let recorded = Outcome {
                id,
                start_time: now,
                complete_time: now,
                result: Ok(Delivered::default()),
            };
            let _ = self.transfers.finish(recorded, now);
        }
    }
}

/// What the agent does with transferred files on this host.
pub(super) struct Hooks {
    pub(super) core: Arc<Mutex<Core>>,
    pub(super) commands: Commands,
}

impl TransferHooks for Hooks {
    async fn firmware_apply(&self, path: &Path) -> Result<Applied, HookError> {
        let Some((program, args)) = self.commands.firmware_apply.split_first() else {
            // No installer configured: a lab device accepts the image as installed.
            crate::oplog!(XFER_FIRMWARE_RECEIVED, path = %path.display(), "firmware image received (no installer configured)");
            return Ok(Applied::Done);
        };
        let file = path.display().to_string();
        let args: Vec<String> = args.iter().map(|a| a.replace("{file}", &file)).collect();
        let status = tokio::process::Command::new(program)
            .args(&args)
            .status()
            .await
            .map_err(|e| HookError::Failed(format!("{program}: {e}")))?;
        if status.success() {
            Ok(Applied::RebootRequired)
        } else {
            Err(HookError::Failed(format!("{program} exited with {status}")))
        }
    }

    /// A snapshot of this device ([`Core::apply_configuration`]).
    async fn config_apply(&self, path: &Path) -> Result<Applied, HookError> {
        use tokio::io::AsyncReadExt as _;
        crate::oplog!(XFER_CONFIG_RECEIVED, path = %path.display(), "vendor configuration file received");
        let mut bytes = Vec::new();
        tokio::fs::File::open(path)
            .await
            .map_err(|e| HookError::Internal(e.to_string()))?
            .take(crate::snapshot::MAX_SNAPSHOT as u64 + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| HookError::Internal(e.to_string()))?;
        lock(&self.core).apply_configuration(&bytes)?;
        Ok(Applied::Done)
    }

    /// The device's snapshot ([`crate::snapshot::state`]), what `cpe backup` writes.
    async fn config_export(&self, _instance: Option<u32>) -> Result<Vec<u8>, HookError> {
        Ok(lock(&self.core).snapshot().encode())
    }

    async fn log_export(&self, _instance: Option<u32>) -> Result<Vec<u8>, HookError> {
        let core = lock(&self.core);
        let summary = format!(
            "sessions ok: {}\nsessions failed: {}\nlast session: {:?}\n",
            core.state.sessions_ok, core.state.sessions_failed, core.state.last_session
        );
        Ok(summary.into_bytes())
    }
}
