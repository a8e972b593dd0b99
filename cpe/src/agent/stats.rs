//! The agent's call-home statistics ([`crate::stats`]): the gauges it computes from its state,
//! for `cpe stats` and `/metrics`.

use super::Core;
use crate::stats::{Message, Snapshot};
use crate::transfer::{EntryState, Origin};

impl Core {
    /// The statistics now. Inqueue is, per type: Inform, 1 while events wait for a session
    /// that is not open yet (§3.7.1.5); TransferComplete and AutonomousTransferComplete, those
    /// still owed to the ACS (A.3.3.2); Download and Upload, the transfers not yet started;
    /// the tunnel's types, the frames its driver has queued (its own gauge).
    pub(super) fn stats_snapshot(&self) -> Snapshot {
        let owed = |name: &str| {
            self.state
                .pending_messages
                .iter()
                .filter(|p| p.body().is_some_and(|b| b.name() == name))
                .count() as u64
        };
        let waiting = |upload: bool| {
            self.transfers
                .iter()
                .filter(|t| t.state() == EntryState::NotYetStarted)
                .filter(|t| (t.origin() == Origin::Upload) == upload)
                .count() as u64
        };
        self.stats.snapshot(|message| match message {
            Message::Inform => {
                u64::from(!self.in_session && self.events.queue().iter().next().is_some())
            }
            Message::TransferComplete | Message::AutonomousTransferComplete => {
                owed(crate::stats::MessageType::name(message))
            }
            Message::GetRpcMethods => 0,
            Message::Download => waiting(false),
            Message::Upload => waiting(true),
            Message::TunnelAuth
            | Message::TunnelRegister
            | Message::TunnelKeepalive
            | Message::TunnelReport
            | Message::TunnelSubConnection
            | Message::TunnelUnbind => 0,
        })
    }

    /// The `/metrics` page: the statistics as `cwmp_*` families.
    pub(super) fn metrics_page(&self) -> String {
        let mut page = crate::stats::prometheus::Exposition::new();
        self.stats_snapshot().write_prometheus("cwmp", &mut page);
        page.finish()
    }
}
