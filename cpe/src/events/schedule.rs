//! The timers that open sessions: periodic inform (`ManagementServer.PeriodicInformEnable`,
//! `PeriodicInformInterval`, `PeriodicInformTime`), ScheduleInform (TR-069 Amd 6 A.4.1.2), the
//! active notification throttle (`DefaultActiveNotificationThrottle`) and the pending session
//! retry (§3.2.1.1).
//!
//! Sans-IO on the wall clock ([`Timestamp`], see the [module docs](super) on time): the driver
//! sleeps until [`Scheduler::poll_timeout`], then calls [`Scheduler::handle_timeout`], which
//! returns the [`Wake`]s due, each a reason to open a session.
//!
//! - **Periodic inform.** `PeriodicInformTime` T only sets the phase: informs happen at
//!   T ± n·`PeriodicInformInterval`, the first one the next such instant after now, whether T is
//!   in the past or the future. With T unset or the Unknown Time (`0001-01-01T00:00:00Z`,
//!   TR-106 §3.2) the CPE uses its own phase: the time of its first start, kept in the state
//!   file. A change of any of the three parameters takes effect at once. Missed instants (the
//!   agent was down or busy) give one wake, not a burst.
//! - **ScheduleInform.** Each call is its own timer, due `DelaySeconds` after the call, carrying
//!   its CommandKey; several can be pending. Due timers give [`Wake::Scheduled`], in due order.
//! - **Active notification throttle.** A session opened *only* for an active notification
//!   waits until `DefaultActiveNotificationThrottle` seconds after the end of the last session.
//!   Any session that opens for another reason carries the `4 VALUE CHANGE` along and
//!   satisfies the request; other sessions are never delayed.
//! - **Retry.** After a failed session, [`Wake::Retry`] comes at the time the back-off chose.
//!   A session that opens earlier for another reason is that retry.

use std::time::Duration;

use schemas::rpc::CommandKey;
use schemas::value::DateTime;
use serde::{Deserialize, Serialize};

use super::{Timestamp, command_key_from_stored};

/// A reason to open a session.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Wake {
    /// The periodic inform is due: `2 PERIODIC`.
    Periodic,
    /// A ScheduleInform is due: `3 SCHEDULED` and `M ScheduleInform` with this CommandKey.
    Scheduled(CommandKey),
    /// An active notification may now open a session (its `4 VALUE CHANGE` is queued).
    ActiveNotification,
    /// A failed session is to be retried (§3.2.1.1).
    Retry,
}

/// The periodic inform parameters (`Device.ManagementServer.PeriodicInform*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeriodicConfig {
    /// `PeriodicInformEnable`.
    pub enable: bool,
    /// `PeriodicInformInterval`, seconds (at least 1; 0 is taken as disabled).
    pub interval: u32,
    /// `PeriodicInformTime`: the phase; `None` or the Unknown Time lets the CPE choose.
    pub time: Option<DateTime>,
}

impl Default for PeriodicConfig {
    /// Disabled, every 24 hours, no phase.
    fn default() -> Self {
        Self {
            enable: false,
            interval: 86_400,
            time: None,
        }
    }
}

/// The session-opening timers of one CPE.
#[derive(Clone, Debug)]
pub struct Scheduler {
    periodic: PeriodicConfig,
    /// The phase used when `PeriodicInformTime` is unset or unknown.
    own_phase: Timestamp,
    next_periodic: Option<Timestamp>,
    /// Pending ScheduleInforms, in the order requested.
    scheduled: Vec<(Timestamp, CommandKey)>,
    throttle: u32,
    last_session_end: Option<Timestamp>,
    in_session: bool,
    /// An active notification waiting for a session.
    active_pending: bool,
    retry_at: Option<Timestamp>,
}

impl Scheduler {
    /// A CPE's first start: no timers, the periodic inform disabled, the CPE's own periodic
    /// phase set to `now` (whole seconds).
    pub fn new(now: Timestamp) -> Self {
        Self {
            periodic: PeriodicConfig::default(),
            own_phase: Timestamp::from_unix_secs(now.unix_secs()),
            next_periodic: None,
            scheduled: Vec::new(),
            throttle: 0,
            last_session_end: None,
            in_session: false,
            active_pending: false,
            retry_at: None,
        }
    }

    /// The timers a previous run saved; the periodic inform is re-aligned to `now`.
    pub fn from_state(state: SchedulerState, now: Timestamp) -> Self {
        let periodic = PeriodicConfig {
            enable: state.periodic_enable,
            interval: state.periodic_interval,
            time: state
                .periodic_time
                .and_then(|secs| DateTime::from_unix(secs, 0)),
        };
        let mut scheduler = Self {
            periodic,
            own_phase: state.own_phase,
            next_periodic: None,
            scheduled: state
                .schedule_informs
                .into_iter()
                .map(|s| (s.due, command_key_from_stored(&s.command_key)))
                .collect(),
            throttle: state.active_notification_throttle,
            last_session_end: state.last_session_end,
            in_session: false,
            active_pending: false,
            retry_at: state.retry_at,
        };
        scheduler.restarted(now);
        scheduler
    }

    /// The persisted form. An active notification waiting for its session is not kept: its
    /// `4 VALUE CHANGE` does not survive a reboot either.
    pub fn state(&self) -> SchedulerState {
        SchedulerState {
            periodic_enable: self.periodic.enable,
            periodic_interval: self.periodic.interval,
            periodic_time: self
                .periodic
                .time
                .filter(|t| !t.is_unknown())
                .map(|t| t.unix_seconds()),
            own_phase: self.own_phase,
            schedule_informs: self
                .scheduled
                .iter()
                .map(|(due, key)| StoredScheduleInform {
                    due: *due,
                    command_key: key.as_str().to_owned(),
                })
                .collect(),
            active_notification_throttle: self.throttle,
            last_session_end: self.last_session_end,
            retry_at: self.retry_at,
        }
    }

    /// The agent restarted: no session is in progress, an unsent active notification is
    /// forgotten, the periodic inform is re-aligned to `now`.
    pub fn restarted(&mut self, now: Timestamp) {
        self.in_session = false;
        self.active_pending = false;
        self.next_periodic = self.periodic_after(now);
    }

    /// The periodic inform parameters in use.
    pub fn periodic(&self) -> PeriodicConfig {
        self.periodic
    }

    /// Applies new periodic inform parameters, effective immediately: the next periodic
    /// inform is the first instant of the new schedule after `now`.
    pub fn set_periodic(&mut self, config: PeriodicConfig, now: Timestamp) {
        self.periodic = config;
        self.next_periodic = self.periodic_after(now);
    }

    /// When the next periodic inform is due, if enabled.
    pub fn next_periodic(&self) -> Option<Timestamp> {
        self.next_periodic
    }

    /// The ACS called ScheduleInform(`delay_seconds`, `command_key`) at `now`.
    pub fn schedule_inform(&mut self, delay_seconds: u32, command_key: CommandKey, now: Timestamp) {
        let due = now.saturating_add(Duration::from_secs(u64::from(delay_seconds)));
        self.scheduled.push((due, command_key));
    }

    /// The pending ScheduleInforms: when each is due and its CommandKey, in the order requested.
    pub fn schedule_informs(&self) -> impl Iterator<Item = (Timestamp, &CommandKey)> {
        self.scheduled.iter().map(|(due, key)| (*due, key))
    }

    /// Cancels every pending ScheduleInform (`0 BOOTSTRAP`) and returns their CommandKeys.
    pub fn cancel_schedule_informs(&mut self) -> Vec<CommandKey> {
        std::mem::take(&mut self.scheduled)
            .into_iter()
            .map(|(_, key)| key)
            .collect()
    }

    /// `DefaultActiveNotificationThrottle`, seconds.
    pub fn active_notification_throttle(&self) -> u32 {
        self.throttle
    }

    /// Applies `DefaultActiveNotificationThrottle`, effective for a waiting notification too.
    pub fn set_active_notification_throttle(&mut self, seconds: u32) {
        self.throttle = seconds;
    }

    /// An active notification asks for a session (its `4 VALUE CHANGE` is queued).
    pub fn active_notification(&mut self) {
        self.active_pending = true;
    }

    /// A retry is due at `at`.
    pub fn set_retry(&mut self, at: Timestamp) {
        self.retry_at = Some(at);
    }

    /// No retry is pending any more.
    pub fn clear_retry(&mut self) {
        self.retry_at = None;
    }

    /// When the pending retry is due.
    pub fn retry_at(&self) -> Option<Timestamp> {
        self.retry_at
    }

    /// A session opened: it satisfies a waiting active notification and the pending
    /// retry.
    pub fn session_started(&mut self) {
        self.in_session = true;
        self.active_pending = false;
        self.retry_at = None;
    }

    /// The session ended at `now` (successfully or not): the throttle counts from here.
    pub fn session_ended(&mut self, now: Timestamp) {
        self.in_session = false;
        self.last_session_end = Some(now);
    }

    /// The wall clock jumped by `delta_millis` (new minus old) and it is now `now`: timers
    /// set relative to the old clock (ScheduleInform, retry, the last session's end) move with
    /// it; the periodic inform keeps its wall-clock phase and is re-aligned.
    pub fn clock_stepped(&mut self, delta_millis: i64, now: Timestamp) {
        for (due, _) in &mut self.scheduled {
            *due = due.shifted(delta_millis);
        }
        self.retry_at = self.retry_at.map(|t| t.shifted(delta_millis));
        self.last_session_end = self.last_session_end.map(|t| t.shifted(delta_millis));
        self.next_periodic = self.periodic_after(now);
    }

    /// When [`Self::handle_timeout`] next has something to do; `None` when no timer runs.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        [
            self.next_periodic,
            self.retry_at,
            self.active_due(),
            self.scheduled.iter().map(|(due, _)| *due).min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The wakes due at `now`, in this order: retry, periodic, ScheduleInforms (by due time,
    /// then in the order requested), active notification. Each fires once.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Vec<Wake> {
        let mut wakes = Vec::new();
        if self.retry_at.is_some_and(|t| t <= now) {
            self.retry_at = None;
            wakes.push(Wake::Retry);
        }
        if self.next_periodic.is_some_and(|t| t <= now) {
            self.next_periodic = self.periodic_after(now);
            wakes.push(Wake::Periodic);
        }
        let (mut due, pending): (Vec<_>, Vec<_>) = std::mem::take(&mut self.scheduled)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.scheduled = pending;
        due.sort_by_key(|(at, _)| *at);
        wakes.extend(due.into_iter().map(|(_, key)| Wake::Scheduled(key)));
        if self.active_due().is_some_and(|t| t <= now) {
            self.active_pending = false;
            wakes.push(Wake::ActiveNotification);
        }
        wakes
    }

    /// When a waiting active notification may open its session: not during a session, and not
    /// before the throttle after the last session's end.
    fn active_due(&self) -> Option<Timestamp> {
        if !self.active_pending || self.in_session {
            return None;
        }
        let earliest = self.last_session_end.map_or(Timestamp::EPOCH, |end| {
            end.saturating_add(Duration::from_secs(u64::from(self.throttle)))
        });
        Some(earliest)
    }

    /// The first periodic instant strictly after `now`, if the periodic inform is on.
    fn periodic_after(&self, now: Timestamp) -> Option<Timestamp> {
        if !self.periodic.enable || self.periodic.interval == 0 {
            return None;
        }
        let phase_millis = match self.periodic.time {
            Some(t) if !t.is_unknown() => i128::from(t.unix_seconds()) * 1000,
            _ => i128::from(self.own_phase.unix_millis()),
        };
        let interval = i128::from(self.periodic.interval) * 1000;
        let now = i128::from(now.unix_millis());
        let next = phase_millis + ((now - phase_millis).div_euclid(interval) + 1) * interval;
        u64::try_from(next).ok().map(Timestamp::from_unix_millis)
    }
}

/// The persisted form of a [`Scheduler`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedulerState {
    /// `PeriodicInformEnable`.
    pub periodic_enable: bool,
    /// `PeriodicInformInterval`, seconds.
    pub periodic_interval: u32,
    /// `PeriodicInformTime`, seconds since the epoch; `None` when unset or unknown.
    pub periodic_time: Option<i64>,
    /// The CPE's own periodic phase.
    pub own_phase: Timestamp,
    /// Pending ScheduleInforms, in the order requested.
    pub schedule_informs: Vec<StoredScheduleInform>,
    /// `DefaultActiveNotificationThrottle`, seconds.
    pub active_notification_throttle: u32,
    /// When the last session ended.
    pub last_session_end: Option<Timestamp>,
    /// When the pending retry is due.
    pub retry_at: Option<Timestamp>,
}

/// One pending ScheduleInform as persisted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredScheduleInform {
    /// When it fires.
    pub due: Timestamp,
    /// The CommandKey for `M ScheduleInform`.
    pub command_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3600;
    const DAY: u64 = 86_400;
    /// 2026-11-22T00:00:00Z.
    const MIDNIGHT: u64 = 1_795_305_600;

    fn at(secs: u64) -> Timestamp {
        Timestamp::from_unix_secs(secs)
    }

    fn key(s: &str) -> CommandKey {
        s.parse().unwrap()
    }

    fn utc(secs: u64) -> DateTime {
        DateTime::from_unix(secs as i64, 0).unwrap()
    }

    #[test]
    fn midnight_fixture_is_a_utc_midnight() {
        assert_eq!(utc(MIDNIGHT).to_string(), "2026-11-22T00:00:00Z");
    }

    #[test]
    fn periodic_inform_follows_the_phase_of_periodic_inform_time() {
        let mut s = Scheduler::new(at(MIDNIGHT + 5 * HOUR));
        assert_eq!(s.poll_timeout(), None);
        // Any past UTC midnight with 86400 s: every midnight, starting with the next one.
        let config = PeriodicConfig {
            enable: true,
            interval: DAY as u32,
            time: Some(utc(MIDNIGHT - 30 * DAY)),
        };
        s.set_periodic(config, at(MIDNIGHT + 5 * HOUR));
        assert_eq!(s.poll_timeout(), Some(at(MIDNIGHT + DAY)));
        // A phase in the future works the same way.
        s.set_periodic(
            PeriodicConfig {
                time: Some(utc(MIDNIGHT + 10 * DAY + 7)),
                ..config
            },
            at(MIDNIGHT + 5 * HOUR),
        );
        assert_eq!(s.next_periodic(), Some(at(MIDNIGHT + DAY + 7)));
        // Exactly on an instant: the next one is an interval later.
        s.set_periodic(config, at(MIDNIGHT));
        assert_eq!(s.next_periodic(), Some(at(MIDNIGHT + DAY)));
    }

    #[test]
    fn unknown_or_unset_time_uses_the_cpe_s_own_phase() {
        let first_start = at(MIDNIGHT + 123);
        let mut s = Scheduler::new(first_start);
        for time in [None, Some(DateTime::UNKNOWN)] {
            let config = PeriodicConfig {
                enable: true,
                interval: 600,
                time,
            };
            s.set_periodic(config, at(MIDNIGHT + 5000));
            // 123 + 9 * 600 = 5523 is the first instant of the phase after 5000.
            assert_eq!(s.next_periodic(), Some(at(MIDNIGHT + 5523)));
        }
        // The phase survives a restart.
        let restored = Scheduler::from_state(s.state(), at(MIDNIGHT + 6000));
        assert_eq!(restored.next_periodic(), Some(at(MIDNIGHT + 6123)));
    }

    #[test]
    fn periodic_changes_take_effect_immediately() {
        let mut s = Scheduler::new(at(MIDNIGHT));
        let mut config = PeriodicConfig {
            enable: true,
            interval: DAY as u32,
            time: Some(utc(MIDNIGHT)),
        };
        s.set_periodic(config, at(MIDNIGHT + 10));
        assert_eq!(s.poll_timeout(), Some(at(MIDNIGHT + DAY)));
        config.interval = 60;
        s.set_periodic(config, at(MIDNIGHT + 10));
        assert_eq!(s.poll_timeout(), Some(at(MIDNIGHT + 60)));
        config.enable = false;
        s.set_periodic(config, at(MIDNIGHT + 20));
        assert_eq!(s.poll_timeout(), None);
        assert!(s.handle_timeout(at(MIDNIGHT + DAY * 2)).is_empty());
        config.enable = true;
        config.interval = 0;
        s.set_periodic(config, at(MIDNIGHT + 20));
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn a_late_periodic_wake_fires_once_and_stays_aligned() {
        let mut s = Scheduler::new(at(MIDNIGHT));
        s.set_periodic(
            PeriodicConfig {
                enable: true,
                interval: 300,
                time: Some(utc(MIDNIGHT)),
            },
            at(MIDNIGHT),
        );
        assert!(s.handle_timeout(at(MIDNIGHT + 299)).is_empty());
        assert_eq!(s.handle_timeout(at(MIDNIGHT + 300)), [Wake::Periodic]);
        assert_eq!(s.poll_timeout(), Some(at(MIDNIGHT + 600)));
        // Three instants missed: one wake, then back on the phase.
        assert_eq!(s.handle_timeout(at(MIDNIGHT + 1510)), [Wake::Periodic]);
        assert_eq!(s.poll_timeout(), Some(at(MIDNIGHT + 1800)));
    }

    #[test]
    fn several_schedule_informs_fire_in_due_order_with_their_keys() {
        let mut s = Scheduler::new(at(MIDNIGHT));
        s.schedule_inform(60, key("late"), at(MIDNIGHT));
        s.schedule_inform(30, key("early"), at(MIDNIGHT));
        s.schedule_inform(30, key("early-too"), at(MIDNIGHT));
        assert_eq!(s.poll_timeout(), Some(at(MIDNIGHT + 30)));
        assert!(s.handle_timeout(at(MIDNIGHT + 29)).is_empty());
        assert_eq!(
            s.handle_timeout(at(MIDNIGHT + 30)),
            [
                Wake::Scheduled(key("early")),
                Wake::Scheduled(key("early-too"))
            ]
        );
        assert_eq!(s.poll_timeout(), Some(at(MIDNIGHT + 60)));
        assert_eq!(
            s.handle_timeout(at(MIDNIGHT + 1000)),
            [Wake::Scheduled(key("late"))]
        );
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn schedule_informs_survive_a_restart() {
        let mut s = Scheduler::new(at(MIDNIGHT));
        s.schedule_inform(3600, key("keep-me"), at(MIDNIGHT));
        let json = serde_json::to_string(&s.state()).unwrap();
        let mut restored =
            Scheduler::from_state(serde_json::from_str(&json).unwrap(), at(MIDNIGHT + 100));
        assert_eq!(restored.poll_timeout(), Some(at(MIDNIGHT + 3600)));
        // Overdue after a long downtime: fires at once.
        assert_eq!(
            restored.handle_timeout(at(MIDNIGHT + 7200)),
            [Wake::Scheduled(key("keep-me"))]
        );
        assert_eq!(s.cancel_schedule_informs(), [key("keep-me")]);
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn active_notification_waits_for_the_throttle_after_the_last_session() {
        let mut s = Scheduler::new(at(MIDNIGHT));
        s.set_active_notification_throttle(60);
        s.session_started();
        s.session_ended(at(MIDNIGHT + 10));
        s.active_notification();
        assert_eq!(s.poll_timeout(), Some(at(MIDNIGHT + 70)));
        assert!(s.handle_timeout(at(MIDNIGHT + 69)).is_empty());
        assert_eq!(
            s.handle_timeout(at(MIDNIGHT + 70)),
            [Wake::ActiveNotification]
        );
        assert_eq!(s.poll_timeout(), None);
        // Long after the last session: immediately.
        s.active_notification();
        assert_eq!(s.poll_timeout(), Some(at(MIDNIGHT + 70)));
        assert_eq!(
            s.handle_timeout(at(MIDNIGHT + 1000)),
            [Wake::ActiveNotification]
        );
    }

    #[test]
    fn another_session_carries_the_active_notification() {
        let mut s = Scheduler::new(at(MIDNIGHT));
        s.set_active_notification_throttle(600);
        s.session_ended(at(MIDNIGHT));
        s.active_notification();
        assert_eq!(s.poll_timeout(), Some(at(MIDNIGHT + 600)));
        // A periodic or scheduled session opens first: not delayed, and it takes the change.
        s.session_started();
        assert_eq!(s.poll_timeout(), None);
        // A change during a session waits for its end, then for the throttle.
        s.active_notification();
        assert_eq!(s.poll_timeout(), None);
        s.session_ended(at(MIDNIGHT + 8));
        assert_eq!(s.poll_timeout(), Some(at(MIDNIGHT + 608)));
        // No throttle: right after the session.
        s.set_active_notification_throttle(0);
        assert_eq!(s.poll_timeout(), Some(at(MIDNIGHT + 8)));
    }

    #[test]
    fn retry_wakes_once_and_a_session_in_between_is_the_retry() {
        let mut s = Scheduler::new(at(MIDNIGHT));
        s.set_retry(at(MIDNIGHT + 7));
        assert_eq!(s.poll_timeout(), Some(at(MIDNIGHT + 7)));
        assert_eq!(s.handle_timeout(at(MIDNIGHT + 7)), [Wake::Retry]);
        assert!(s.handle_timeout(at(MIDNIGHT + 8)).is_empty());
        s.set_retry(at(MIDNIGHT + 20));
        s.session_started();
        assert_eq!(s.retry_at(), None);
    }

    #[test]
    fn due_wakes_come_together_in_a_fixed_order() {
        let mut s = Scheduler::new(at(MIDNIGHT));
        s.set_periodic(
            PeriodicConfig {
                enable: true,
                interval: 100,
                time: Some(utc(MIDNIGHT)),
            },
            at(MIDNIGHT),
        );
        s.schedule_inform(50, key("k"), at(MIDNIGHT));
        s.set_retry(at(MIDNIGHT + 90));
        s.active_notification();
        assert_eq!(
            s.handle_timeout(at(MIDNIGHT + 100)),
            [
                Wake::Retry,
                Wake::Periodic,
                Wake::Scheduled(key("k")),
                Wake::ActiveNotification
            ]
        );
    }

    #[test]
    fn a_clock_step_moves_relative_timers_and_realigns_the_periodic_inform() {
        // Booted with the clock at the epoch, then NTP sets it to the real time.
        let boot = at(100);
        let mut s = Scheduler::new(boot);
        s.set_periodic(
            PeriodicConfig {
                enable: true,
                interval: DAY as u32,
                time: Some(utc(MIDNIGHT)),
            },
            boot,
        );
        s.schedule_inform(600, key("k"), boot);
        s.set_retry(at(130));
        let step = (MIDNIGHT + 5 * HOUR - 200) as i64 * 1000;
        let now = at(MIDNIGHT + 5 * HOUR);
        s.clock_stepped(step, now);
        assert_eq!(s.retry_at(), Some(at(MIDNIGHT + 5 * HOUR - 70)));
        assert_eq!(
            s.schedule_informs().next().map(|(due, _)| due),
            Some(at(MIDNIGHT + 5 * HOUR + 500))
        );
        assert_eq!(s.next_periodic(), Some(at(MIDNIGHT + DAY)));
        // A step back never underflows.
        s.clock_stepped(i64::MIN, at(0));
        assert_eq!(s.retry_at(), Some(Timestamp::EPOCH));
    }
}
