//! Safe stop (`cpe stop`, SIGTERM, SIGINT; ARCHITECTURE.md "Snapshot and restore").
//!
//! A plain stop is refused while a CWMP session or a file transfer is in progress, naming
//! them. A forced stop (and a signal) stops anyway: the loop drops the session, the transfer
//! tasks end, and the whole state is saved before the agent exits. Nothing the ACS did not
//! acknowledge is lost: events without an InformResponse are still queued (TR-069 §3.7.1.5),
//! TransferCompletes without a response are still owed (Amd 6 A.3.3.2), and the transfers cut
//! short are taken up again by [`TransferQueue::recover`] at the next start.
//!
//! The request and the session's start are decided under the core's lock, so a plain stop
//! either sees the session and refuses, or the session sees the stop and does not open.
//!
//! [`TransferQueue::recover`]: crate::transfer::TransferQueue::recover

use std::sync::Mutex;

use tokio::sync::watch;

use super::health::transfer_name;
use super::{Core, lock};
use crate::control::Response;
use crate::transfer::EntryState;

impl Core {
    /// What a stop would cut short, one line each: the session in progress, then the
    /// transfers running.
    fn in_progress(&self) -> Vec<String> {
        let session = self.activity.session.as_ref().map(|s| s.describe());
        let transfers = self
            .transfers
            .iter()
            .filter(|t| t.state() != EntryState::NotYetStarted)
            .map(|t| format!("{} running", transfer_name(t)));
        session.into_iter().chain(transfers).collect()
    }
}

/// Answers `cpe stop`: refuses while something runs unless `force`, else asks the loop to stop
/// (through `stop`) and says what is cut short.
pub(super) fn request(core: &Mutex<Core>, stop: &watch::Sender<bool>, force: bool) -> Response {
    let core = lock(core);
    let running = core.in_progress();
    if !force && !running.is_empty() {
        crate::oplog!(
            CTRL_STOP_REFUSED,
            running = running.join("; "),
            "stop refused: work in progress"
        );
        return Response::StopRefused { running };
    }
    crate::oplog!(
        CTRL_STOP_REQUESTED,
        force,
        cut_short = running.join("; "),
        "stop requested"
    );
    stop.send_replace(true);
    Response::Stopping { cut_short: running }
}

/// The loop has ended: a session it dropped is over, and the whole state is saved.
pub(super) fn save_at_exit(core: &Mutex<Core>) {
    let mut core = lock(core);
    if let Some(session) = core.activity.session.take() {
        crate::oplog!(
            CWMP_SESSION_CUT,
            session = session.number,
            "CWMP session cut short by the stop; its unacknowledged events stay queued"
        );
    }
    core.in_session = false;
    core.save_all();
    crate::oplog!(STATE_SAVED_AT_STOP, "state saved; the agent stops");
}
