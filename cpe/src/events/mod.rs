//! The event queue, session retry back-off, periodic and scheduled informs (TR-069 Amd 6
//! §3.2.1, §3.2.1.1, §3.7.1.5; `ManagementServer.PeriodicInform*`,
//! `DefaultActiveNotificationThrottle`).
//!
//! Everything here is sans-IO: time comes in as a [`Timestamp`], randomness as a
//! [`rand::Rng`], and the state goes out as plain serde types for [`crate::persist`].
//!
//! - [`queue`]: the events waiting for an Inform, with the per-code rules of §3.7.1.5
//!   (single or cumulative, retried after a failed session or not, kept across a reboot or not).
//! - [`retry`]: the §3.2.1.1 back-off between failed sessions, and the Inform's `RetryCount`.
//! - [`schedule`]: the timers that open sessions: periodic inform, ScheduleInform, the active
//!   notification throttle, the pending retry.
//! - [`Events`]: the three together, so that one transition (a ScheduleInform timer firing
//!   and queueing `3 SCHEDULED` + `M ScheduleInform`) is one change of one [`EventsState`].
//!
//! # Time
//!
//! Timers are kept on the wall clock, as [`Timestamp`]s (milliseconds since the Unix epoch):
//! `PeriodicInformTime` is a wall-clock phase (§2.7 of PROTOCOL.md: "every UTC midnight"), and a
//! ScheduleInform must still fire at the right time after a restart, which a monotonic
//! `Instant` cannot express. The driver passes `now` from `SystemTime` and sleeps until
//! [`Events::poll_timeout`]. When it notices the wall clock jump (a CPE that boots in 1970 and
//! then gets NTP), it calls [`schedule::Scheduler::clock_stepped`], which moves the relative
//! timers (ScheduleInform, retry, throttle) by the step and re-aligns the periodic inform.
//!
//! # Persistence and the exactly-once rule
//!
//! [`Events::state`] is the whole persisted form, written with [`crate::persist::save`] as one
//! file, so the queue, the timers and the retry counter always change together. The agent
//! follows two rules:
//!
//! 1. **Persist before acknowledging.** Whatever the ACS will take as "done" is recorded and
//!    saved first, then acknowledged: [`Events::reboot_requested`] is saved before the
//!    RebootResponse is sent; [`Events::schedule_inform`] before the ScheduleInformResponse;
//!    [`queue::EventQueue::complete_method`] (`M Download`, `M Upload`, ...) before the transfer
//!    engine marks its own job done. A crash before the save means the ACS never got the
//!    acknowledgement (it sees a failed session and may ask again); a crash after it means the
//!    event is on disk. Nothing acknowledged is lost.
//! 2. **Persist right after InformResponse.** [`Events::delivered`] removes exactly the events
//!    of the Inform that was answered (by their ids: events added since stay), and the state is
//!    saved before the session sends anything else. Until then the events are still on disk
//!    and go in the next Inform.
//!
//! What makes each event go out once and only once:
//!
//! - A completion that is reported twice (the transfer engine crashed after the event was saved
//!   but before it marked its job done, and reports it again on restart) carries the same
//!   *completion token*; the queue remembers the last [`queue::MAX_COMPLETION_TOKENS`] tokens
//!   and ignores the repeat.
//! - `M Reboot` is queued *held* when the Reboot RPC arrives and released by
//!   [`Events::restart`] with [`Restart::Boot`], so it cannot be sent before the reboot, and
//!   it cannot be forgotten across it.
//! - A ScheduleInform timer and the events it turns into are in the same file, so the timer
//!   is either still pending or already an `M ScheduleInform`, never both or neither.
//! - The one window TR-069 itself leaves open: the CPE dies after the ACS has processed the
//!   Inform but before the state saved after InformResponse reaches the disk. The InformResponse
//!   is the protocol's only acknowledgement (§3.7.1.5: events are retried until it arrives), so
//!   the events go out again rather than being lost. Saving immediately on InformResponse shrinks
//!   that window to the time one save takes; the crash tests in this module show every other crash point
//!   delivers each `M Reboot` / `M Download` exactly once.

pub mod queue;
pub mod retry;
pub mod schedule;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use schemas::rpc::types::EventStruct;
use schemas::rpc::{CommandKey, EventCode};
use serde::{Deserialize, Serialize};

use self::queue::{EventQueue, QueueState, Restart};
use self::retry::{RetryPolicy, RetryState};
use self::schedule::{Scheduler, SchedulerState, Wake};

/// A wall-clock instant: milliseconds since 1970-01-01T00:00:00Z (see the module docs, "Time").
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(u64);

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub const EPOCH: Self = Self(0);

    /// The instant `millis` milliseconds after the epoch.
    pub const fn from_unix_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// The instant `secs` seconds after the epoch (saturating far in the future).
    pub const fn from_unix_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// A `SystemTime`, as the driver reads it; times before the epoch become the epoch.
    pub fn from_system_time(time: SystemTime) -> Self {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        Self(duration_millis(since))
    }

    /// Milliseconds since the epoch.
    pub const fn unix_millis(self) -> u64 {
        self.0
    }

    /// Whole seconds since the epoch.
    pub const fn unix_secs(self) -> u64 {
        self.0 / 1000
    }

    /// `self + duration`, saturating.
    pub fn saturating_add(self, duration: Duration) -> Self {
        Self(self.0.saturating_add(duration_millis(duration)))
    }

    /// The time from `earlier` to `self`; zero if `earlier` is later.
    pub fn duration_since(self, earlier: Self) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// `self` moved by `delta_millis` (a clock step), saturating at both ends.
    pub(crate) fn shifted(self, delta_millis: i64) -> Self {
        Self(self.0.saturating_add_signed(delta_millis))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

/// A duration in whole milliseconds, saturating.
fn duration_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// What goes in the next Inform: its `Event` array and its `RetryCount` (TR-069 Amd 6 Table 37).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InformEvents {
    /// At most [`queue::MAX_INFORM_EVENTS`] events.
    pub events: Vec<EventStruct>,
    /// Consecutive failed sessions before this one (§3.2.1.1); 0 for a first attempt.
    pub retry_count: u32,
}

/// What `0 BOOTSTRAP` cancelled (PROTOCOL.md §2.8: a new ACS does not want the old one's
/// events or scheduled work).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cancelled {
    /// Queued events dropped (their CommandKeys belonged to the previous ACS).
    pub events: Vec<EventStruct>,
    /// ScheduleInform requests that will not fire.
    pub schedule_informs: Vec<CommandKey>,
}

/// The queue, the timers and the retry counter of one CPE, changed together.
///
/// The driver loop: sleep until [`Self::poll_timeout`], call [`Self::handle_timeout`], open a
/// session for any [`Wake`] it returns, fill the Inform from [`Self::take_for_inform`], then
/// report the session's outcome with [`Self::delivered`] (InformResponse),
/// [`Self::session_succeeded`] or [`Self::session_failed`]. Persist [`Self::state`] after each
/// call that changes it (see the module docs for the order).
#[derive(Clone, Debug)]
pub struct Events {
    queue: EventQueue,
    scheduler: Scheduler,
    retry: RetryState,
    policy: RetryPolicy,
}

impl Events {
    /// A CPE's first start: nothing queued, the periodic inform off, its own periodic phase
    /// taken from `now`.
    pub fn new(now: Timestamp) -> Self {
        Self {
            queue: EventQueue::new(),
            scheduler: Scheduler::new(now),
            retry: RetryState::default(),
            policy: RetryPolicy::default(),
        }
    }

    /// The state saved by a previous run. Call [`Self::restart`] next.
    pub fn from_state(state: EventsState, now: Timestamp) -> Self {
        Self {
            queue: EventQueue::from_state(state.queue),
            scheduler: Scheduler::from_state(state.schedule, now),
            retry: state.retry,
            policy: RetryPolicy::default(),
        }
    }

    /// The persisted form of everything (see the module docs).
    pub fn state(&self) -> EventsState {
        EventsState {
            queue: self.queue.state(),
            schedule: self.scheduler.state(),
            retry: self.retry,
        }
    }

    /// The event queue.
    pub fn queue(&self) -> &EventQueue {
        &self.queue
    }

    /// The event queue, to add events (`4 VALUE CHANGE`, `7 TRANSFER COMPLETE` with
    /// `M Download`, ...).
    pub fn queue_mut(&mut self) -> &mut EventQueue {
        &mut self.queue
    }

    /// The timers.
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// The timers, to apply `PeriodicInform*` and `DefaultActiveNotificationThrottle`.
    pub fn scheduler_mut(&mut self) -> &mut Scheduler {
        &mut self.scheduler
    }

    /// The retry counter.
    pub fn retry(&self) -> &RetryState {
        &self.retry
    }

    /// The back-off parameters in use (`CWMPRetryMinimumWaitInterval`,
    /// `CWMPRetryIntervalMultiplier`).
    pub fn retry_policy(&self) -> RetryPolicy {
        self.policy
    }

    /// Applies new back-off parameters; they take effect at the next failure.
    pub fn set_retry_policy(&mut self, policy: RetryPolicy) {
        self.policy = policy;
    }

    /// The agent started again ([`Restart::Boot`] after a power-on or reboot,
    /// [`Restart::Process`] when only the agent's process restarted): drops the events not kept
    /// across a reboot and forgets session-scoped timers. Returns the dropped events.
    pub fn restart(&mut self, kind: Restart, now: Timestamp) -> Vec<EventStruct> {
        self.scheduler.restarted(now);
        self.queue.restart(kind)
    }

    /// `0 BOOTSTRAP`: first contact, a new ACS URL, or a factory reset (§3.7.1.5). Clears the
    /// other events (keeping `1 BOOT`), cancels pending ScheduleInforms and the pending retry,
    /// and resets RetryCount. The caller also cancels ScheduleDownload and Upload jobs.
    pub fn bootstrap(&mut self) -> Cancelled {
        self.retry.succeeded();
        self.scheduler.clear_retry();
        Cancelled {
            events: self.queue.bootstrap(),
            schedule_informs: self.scheduler.cancel_schedule_informs(),
        }
    }

    /// The ACS called Reboot with `command_key`: `M Reboot` is held until the next
    /// [`Restart::Boot`]. Save the state before sending RebootResponse. `false` if `token` was
    /// seen before (see [`queue::EventQueue::complete_method`]).
    pub fn reboot_requested(&mut self, command_key: CommandKey, token: Option<&str>) -> bool {
        self.queue.reboot_requested(command_key, token)
    }

    /// The ACS called ScheduleInform (A.4.1.2): in `delay_seconds`, `3 SCHEDULED` and
    /// `M ScheduleInform` with `command_key` are queued and a session opens. Save the state
    /// before sending ScheduleInformResponse.
    pub fn schedule_inform(&mut self, delay_seconds: u32, command_key: CommandKey, now: Timestamp) {
        self.scheduler
            .schedule_inform(delay_seconds, command_key, now);
    }

    /// A parameter with notification on changed: queues `4 VALUE CHANGE`; for active
    /// notification also asks for a session, throttled by `DefaultActiveNotificationThrottle`.
    pub fn value_changed(&mut self, active: bool) {
        self.queue.add(EventCode::ValueChange);
        if active {
            self.scheduler.active_notification();
        }
    }

    /// A session is opening: the events for its Inform (snapshotted until [`Self::delivered`]
    /// or [`Self::session_failed`]) and its RetryCount. A pending retry or active notification
    /// is satisfied by this session.
    pub fn take_for_inform(&mut self) -> InformEvents {
        self.scheduler.session_started();
        InformEvents {
            events: self.queue.take_for_inform(),
            retry_count: self.retry.retry_count(),
        }
    }

    /// InformResponse received: the Inform's events are delivered. Save the state now.
    pub fn delivered(&mut self) {
        self.queue.delivered();
    }

    /// The session completed: RetryCount goes back to 0 and the throttle counts from `now`.
    pub fn session_succeeded(&mut self, now: Timestamp) {
        self.retry.succeeded();
        self.scheduler.session_ended(now);
    }

    /// The session failed (no connection, timeout, fault 8005, ...): events that are not
    /// retried are dropped (`6 CONNECTION REQUEST`), and if anything is left to deliver a
    /// retry is scheduled after the §3.2.1.1 wait, which is returned.
    pub fn session_failed<R: Rng + ?Sized>(
        &mut self,
        now: Timestamp,
        rng: &mut R,
    ) -> Option<Duration> {
        self.queue.session_failed();
        self.scheduler.session_ended(now);
        let wait = self.retry.failed(&self.policy, rng);
        if self.queue.has_deliverable() {
            self.scheduler.set_retry(now.saturating_add(wait));
            Some(wait)
        } else {
            self.scheduler.clear_retry();
            None
        }
    }

    /// When [`Self::handle_timeout`] next has something to do.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.scheduler.poll_timeout()
    }

    /// Fires the timers due at `now`, queues their events (`2 PERIODIC`; `3 SCHEDULED` +
    /// `M ScheduleInform`) and returns why a session should open.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Vec<Wake> {
        let wakes = self.scheduler.handle_timeout(now);
        for wake in &wakes {
            match wake {
                Wake::Periodic => {
                    self.queue.add(EventCode::Periodic);
                }
                Wake::Scheduled(key) => {
                    self.queue.complete_method(
                        queue::MethodEvent::ScheduleInform,
                        key.clone(),
                        None,
                    );
                }
                Wake::ActiveNotification | Wake::Retry => {}
            }
        }
        wakes
    }
}

/// The persisted form of [`Events`], one file (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventsState {
    /// The event queue.
    pub queue: QueueState,
    /// The timers.
    pub schedule: SchedulerState,
    /// Consecutive failed sessions.
    pub retry: RetryState,
}

/// A CommandKey read back from a state file, whole whatever its length: the codec accepts keys
/// longer than 32 characters from real ACSes, and they must come back as they were.
pub(crate) fn command_key_from_stored(text: &str) -> CommandKey {
    CommandKey::from_wire(text.to_owned())
}

#[cfg(test)]
mod tests;
