//! The latch between the Connection Request server and the agent (TR-069 Amd 6 §3.2.2).
//!
//! The server calls [`Notifier::notify`] once per accepted request, after its 200 response
//! has been written. The agent holds the one [`Waiter`]: [`Waiter::wait`] resolves when at
//! least one request arrived since the last call, and reports how many were coalesced. So if a
//! session is pending or in progress, any number of requests yields exactly one follow-up
//! session, whose Inform carries `6 CONNECTION REQUEST` ([`Wakeup::event_code`]).

use std::sync::Arc;

use schemas::rpc::EventCode;
use tokio::sync::watch;

/// Makes a connected [`Notifier`] / [`Waiter`] pair (TR-069 Amd 6 §3.2.2).
pub fn channel() -> (Notifier, Waiter) {
    let (tx, rx) = watch::channel(0u64);
    (Notifier { tx: Arc::new(tx) }, Waiter { rx, seen: 0 })
}

/// The sending side: counts accepted Connection Requests (TR-069 Amd 6 §3.2.2). Cheap to
/// clone, so other triggers (e.g. a UDP Connection Request, Annex G) can share the latch.
#[derive(Clone, Debug)]
pub struct Notifier {
    tx: Arc<watch::Sender<u64>>,
}

impl Notifier {
    /// Records one accepted Connection Request and wakes the [`Waiter`].
    pub fn notify(&self) {
        self.tx.send_modify(|count| *count = count.wrapping_add(1));
    }

    /// How many Connection Requests were recorded since the channel was made.
    pub fn total(&self) -> u64 {
        *self.tx.borrow()
    }
}

/// The agent's side: waits for the next Connection Request (TR-069 Amd 6 §3.2.2). Requests
/// that arrive while nobody waits are not lost; they are coalesced into the next [`Wakeup`].
#[derive(Debug)]
pub struct Waiter {
    rx: watch::Receiver<u64>,
    seen: u64,
}

impl Waiter {
    /// Waits until at least one Connection Request was recorded since the last [`Wakeup`],
    /// then returns it. Returns `None` once every [`Notifier`] is dropped and nothing is
    /// pending (the server stopped).
    ///
    /// Cancel safe: dropping the future loses nothing.
    pub async fn wait(&mut self) -> Option<Wakeup> {
        loop {
            if let Some(wakeup) = self.try_take() {
                return Some(wakeup);
            }
            if self.rx.changed().await.is_err() {
                return self.try_take();
            }
        }
    }

    /// Takes the pending [`Wakeup`] without waiting, if there is one. The agent calls this
    /// when it opens a session for another reason, so that Inform also carries
    /// `6 CONNECTION REQUEST` and no extra session follows.
    pub fn try_take(&mut self) -> Option<Wakeup> {
        let current = *self.rx.borrow_and_update();
        let requests = current.wrapping_sub(self.seen);
        self.seen = current;
        (requests != 0).then_some(Wakeup { requests })
    }
}

/// One or more accepted Connection Requests, coalesced: the agent opens one session for it
/// (TR-069 Amd 6 §3.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wakeup {
    requests: u64,
}

impl Wakeup {
    /// How many accepted requests this wakeup stands for (at least 1).
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// The event the session's Inform carries: `6 CONNECTION REQUEST` (TR-069 Amd 6 §3.7.1.5,
    /// Table 7).
    pub fn event_code(&self) -> EventCode {
        EventCode::ConnectionRequest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn coalesces_and_reports_counts() {
        let (n, mut w) = channel();
        assert_eq!(w.try_take(), None);
        for _ in 0..10 {
            n.notify();
        }
        let wakeup = w.wait().await.unwrap();
        assert_eq!(wakeup.requests(), 10);
        assert_eq!(wakeup.event_code().as_str(), "6 CONNECTION REQUEST");
        assert_eq!(w.try_take(), None);
        n.notify();
        assert_eq!(w.try_take().map(|w| w.requests()), Some(1));
        assert_eq!(n.total(), 11);
    }

    #[tokio::test]
    async fn wait_wakes_on_notify_and_ends_when_notifiers_drop() {
        let (n, mut w) = channel();
        let n2 = n.clone();
        let task = tokio::spawn(async move { w.wait().await.map(|got| got.requests()) });
        tokio::task::yield_now().await;
        n2.notify();
        assert_eq!(task.await.unwrap(), Some(1));

        let (n, mut w) = channel();
        n.notify();
        drop(n);
        assert_eq!(w.wait().await.map(|w| w.requests()), Some(1));
        assert_eq!(w.wait().await, None);
    }
}
