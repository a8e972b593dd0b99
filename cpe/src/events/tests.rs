//! Tests of [`Events`] as a whole: the flows that cross the queue, the timers and the retry
//! counter, persistence, and the exactly-once rule under crashes at every step.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::queue::MethodEvent;
use super::schedule::PeriodicConfig;
use super::*;

const T0: u64 = 1_795_305_600;

fn at(secs: u64) -> Timestamp {
    Timestamp::from_unix_secs(secs)
}

fn key(s: &str) -> CommandKey {
    s.parse().unwrap()
}

fn codes(events: &[EventStruct]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e.command_key.as_str() {
            "" => e.event_code.to_string(),
            k => format!("{}({k})", e.event_code),
        })
        .collect()
}

/// A CommandKey longer than 32 characters, as the codec reads it from a lenient ACS.
fn wire_key(text: &str) -> CommandKey {
    CommandKey::from_wire(text.to_owned())
}

#[test]
fn a_scheduled_inform_queues_scheduled_and_its_method_event() {
    let mut events = Events::new(at(T0));
    events.schedule_inform(30, key("si-1"), at(T0));
    assert_eq!(events.poll_timeout(), Some(at(T0 + 30)));
    assert_eq!(
        events.handle_timeout(at(T0 + 30)),
        [Wake::Scheduled(key("si-1"))]
    );
    let inform = events.take_for_inform();
    assert_eq!(
        codes(&inform.events),
        ["3 SCHEDULED", "M ScheduleInform(si-1)"]
    );
    assert_eq!(inform.retry_count, 0);
    events.delivered();
    events.session_succeeded(at(T0 + 31));
    assert!(events.queue().is_empty());
}

#[test]
fn periodic_wake_queues_periodic() {
    let mut events = Events::new(at(T0));
    events.scheduler_mut().set_periodic(
        PeriodicConfig {
            enable: true,
            interval: 60,
            time: None,
        },
        at(T0),
    );
    assert_eq!(events.handle_timeout(at(T0 + 60)), [Wake::Periodic]);
    assert_eq!(codes(&events.take_for_inform().events), ["2 PERIODIC"]);
}

#[test]
fn bootstrap_cancels_events_schedule_informs_and_the_retry() {
    let mut events = Events::new(at(T0));
    let mut rng = StdRng::seed_from_u64(1);
    events.queue_mut().add(EventCode::Boot);
    events.queue_mut().add(EventCode::Periodic);
    events.schedule_inform(100, key("a"), at(T0));
    events.schedule_inform(200, key("b"), at(T0));
    events.take_for_inform();
    assert!(events.session_failed(at(T0 + 1), &mut rng).is_some());
    let cancelled = events.bootstrap();
    assert_eq!(codes(&cancelled.events), ["2 PERIODIC"]);
    assert_eq!(cancelled.schedule_informs, [key("a"), key("b")]);
    assert_eq!(events.poll_timeout(), None);
    let inform = events.take_for_inform();
    assert_eq!(codes(&inform.events), ["1 BOOT", "0 BOOTSTRAP"]);
    assert_eq!(inform.retry_count, 0);
}

#[test]
fn failed_sessions_back_off_and_count_until_one_succeeds() {
    let mut events = Events::new(at(T0));
    let mut rng = StdRng::seed_from_u64(7);
    events.queue_mut().add(EventCode::Boot);
    let mut now = at(T0);
    for n in 1..=12u32 {
        let inform = events.take_for_inform();
        assert_eq!(inform.retry_count, n - 1);
        assert_eq!(codes(&inform.events), ["1 BOOT"]);
        let wait = events.session_failed(now, &mut rng).unwrap();
        let interval = events.retry_policy().interval(n);
        assert!(wait >= interval.min && wait <= interval.max);
        let due = now.saturating_add(wait);
        assert_eq!(events.poll_timeout(), Some(due));
        assert_eq!(events.handle_timeout(due), [Wake::Retry]);
        now = due;
    }
    let inform = events.take_for_inform();
    assert_eq!(inform.retry_count, 12);
    events.delivered();
    events.session_succeeded(now);
    assert_eq!(events.retry().retry_count(), 0);
    events.queue_mut().add(EventCode::Periodic);
    assert_eq!(events.take_for_inform().retry_count, 0);
}

#[test]
fn a_failed_connection_request_session_is_not_retried() {
    let mut events = Events::new(at(T0));
    let mut rng = StdRng::seed_from_u64(3);
    events.queue_mut().add(EventCode::ConnectionRequest);
    events.take_for_inform();
    assert_eq!(events.session_failed(at(T0), &mut rng), None);
    assert!(events.queue().is_empty());
    assert_eq!(events.poll_timeout(), None);
    // The failure still counts for the next session's RetryCount.
    assert_eq!(events.retry().retry_count(), 1);
}

#[test]
fn active_notification_is_throttled_after_a_session() {
    let mut events = Events::new(at(T0));
    events.scheduler_mut().set_active_notification_throttle(120);
    events.queue_mut().add(EventCode::Boot);
    events.take_for_inform();
    events.delivered();
    events.session_succeeded(at(T0 + 5));
    events.value_changed(true);
    assert_eq!(events.poll_timeout(), Some(at(T0 + 125)));
    assert_eq!(
        events.handle_timeout(at(T0 + 125)),
        [Wake::ActiveNotification]
    );
    assert_eq!(codes(&events.take_for_inform().events), ["4 VALUE CHANGE"]);
    // A passive change only waits for the next session.
    events.delivered();
    events.session_succeeded(at(T0 + 130));
    events.value_changed(false);
    assert_eq!(events.poll_timeout(), None);
}

#[test]
fn the_whole_state_survives_save_and_load_with_long_command_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.json");
    let long = "k".repeat(40) + " <&> \"quoted\"\ttab";
    let mut events = Events::new(at(T0));
    events.scheduler_mut().set_periodic(
        PeriodicConfig {
            enable: true,
            interval: 3600,
            time: Some(schemas::value::DateTime::from_unix(T0 as i64, 0).unwrap()),
        },
        at(T0),
    );
    events.scheduler_mut().set_active_notification_throttle(30);
    events.schedule_inform(600, wire_key(&long), at(T0));
    events.reboot_requested(wire_key(&"r".repeat(64)), Some("reboot:9"));
    events
        .queue_mut()
        .complete_method(MethodEvent::Download, key("dl"), Some("download:1"));
    let mut rng = StdRng::seed_from_u64(5);
    events.take_for_inform();
    events.session_failed(at(T0 + 1), &mut rng);
    let state = events.state();
    crate::persist::save(&path, &state).unwrap();
    let loaded: EventsState = crate::persist::load(&path).unwrap().unwrap();
    assert_eq!(loaded, state);
    let restored = Events::from_state(loaded, at(T0 + 2));
    assert_eq!(restored.state(), state);
    let keys: Vec<String> = restored
        .scheduler()
        .schedule_informs()
        .map(|(_, k)| k.as_str().to_owned())
        .collect();
    assert_eq!(keys, [long]);
    assert!(
        restored
            .queue()
            .iter()
            .any(|e| e.command_key.as_str() == "r".repeat(64))
    );
    assert_eq!(restored.retry().retry_count(), 1);
    assert_eq!(
        restored.scheduler().retry_at(),
        events.scheduler().retry_at()
    );
}

#[test]
fn stored_command_keys_come_back_whole() {
    for text in [
        "",
        "short",
        &"x".repeat(32),
        &"y".repeat(33),
        &"z".repeat(128),
    ] {
        assert_eq!(command_key_from_stored(text).as_str(), text);
    }
    let odd = "a\r\nb&<>\"'".repeat(5);
    assert_eq!(command_key_from_stored(&odd).as_str(), odd);
}

/// One step of an agent's life around a method call; a crash may come before any of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// The ACS calls Reboot: held `M Reboot`.
    RebootRpc,
    /// The ACS calls Download: the transfer engine saves the job in its own file.
    DownloadRpc,
    /// The transfer finishes: `M Download` reported with its completion token.
    TransferDone,
    /// The transfer engine saves that it reported its completion (its own file).
    TransferMarked,
    /// The event state is saved.
    Save,
    /// The CPE sends the RPC's response: from here the ACS counts the call as accepted.
    Acknowledge,
    /// The session ends.
    SessionEnd,
    /// The device reboots (as asked).
    Reboot,
    /// The CPE sends an Inform; the ACS processes it on arrival.
    SendInform,
    /// InformResponse arrives.
    InformResponse,
}

/// A CPE whose memory is lost at a crash and whose "disk" is what it last saved.
struct Agent {
    events: Events,
    disk: String,
    /// The transfer engine's own file: a finished or running transfer whose completion is not
    /// reported yet.
    transfer_owed: bool,
    /// Every `M <Method>` the ACS has processed.
    acs_seen: Vec<String>,
    acknowledged: bool,
    /// The ACS processed an Inform whose delivery the CPE has not saved yet.
    in_window: bool,
}

impl Agent {
    fn new() -> Self {
        let events = Events::new(at(T0));
        let disk = serde_json::to_string(&events.state()).unwrap();
        Self {
            events,
            disk,
            transfer_owed: false,
            acs_seen: Vec::new(),
            acknowledged: false,
            in_window: false,
        }
    }

    fn save(&mut self) {
        self.disk = serde_json::to_string(&self.events.state()).unwrap();
        self.in_window = false;
    }

    fn send_inform(&mut self) {
        let inform = self.events.take_for_inform();
        for e in &inform.events {
            if matches!(e.event_code, EventCode::Method(_)) {
                self.acs_seen
                    .push(format!("{}({})", e.event_code, e.command_key));
            }
        }
        if !inform.events.is_empty() {
            self.in_window = true;
        }
    }

    fn step(&mut self, step: Step) {
        match step {
            Step::RebootRpc => {
                self.events
                    .reboot_requested(key("reboot-1"), Some("reboot:1"));
            }
            Step::DownloadRpc => self.transfer_owed = true,
            Step::TransferDone => self.report_transfer(),
            Step::TransferMarked => self.transfer_owed = false,
            Step::Save => self.save(),
            Step::Acknowledge => self.acknowledged = true,
            Step::SessionEnd => self.events.session_succeeded(at(T0 + 10)),
            Step::Reboot => self.restart_from_disk(),
            Step::SendInform => self.send_inform(),
            Step::InformResponse => self.events.delivered(),
        }
    }

    fn report_transfer(&mut self) {
        self.events.queue_mut().complete_method(
            MethodEvent::Download,
            key("download-1"),
            Some("download:1"),
        );
    }

    /// Power loss or reboot: memory is gone, the agent starts from its files.
    fn restart_from_disk(&mut self) {
        let state = serde_json::from_str(&self.disk).unwrap();
        self.events = Events::from_state(state, at(T0 + 20));
        self.events.restart(Restart::Boot, at(T0 + 20));
        self.save();
        if self.transfer_owed {
            // The transfer engine (re)does the transfer and reports it, queue first, then its
            // own mark: if the report had already been saved, the token makes it a no-op.
            self.report_transfer();
            self.save();
            self.transfer_owed = false;
        }
    }

    /// Normal life after the flow: sessions until nothing is left to deliver.
    fn settle(&mut self) {
        for _ in 0..4 {
            if !self.events.queue().has_deliverable() {
                break;
            }
            self.send_inform();
            self.events.delivered();
            self.save();
            self.events.session_succeeded(at(T0 + 30));
            self.save();
        }
        assert!(!self.events.queue().has_deliverable());
    }
}

/// Runs `flow` with a crash before step `crash` (none if past the end), then normal life, and
/// returns how often the ACS saw `expected`, whether the call was acknowledged, and whether the
/// crash fell in the window between the ACS processing an Inform and the save after it.
fn run(flow: &[Step], crash: usize, expected: &str) -> (usize, bool, bool) {
    let mut agent = Agent::new();
    let mut window = false;
    for (i, step) in flow.iter().enumerate() {
        if i == crash {
            window = agent.in_window;
            agent.restart_from_disk();
            break;
        }
        agent.step(*step);
    }
    agent.settle();
    let seen = agent.acs_seen.iter().filter(|s| *s == expected).count();
    (seen, agent.acknowledged, window)
}

/// Crashes before every step in turn; returns at how many crash points the ACS had processed
/// an Inform whose delivery was not saved yet (the window the module docs describe).
fn assert_exactly_once(flow: &[Step], expected: &str) -> usize {
    let mut windows = 0;
    for crash in 0..=flow.len() {
        let (seen, acknowledged, window) = run(flow, crash, expected);
        let before = flow
            .get(crash)
            .map_or_else(|| "the end".to_owned(), |s| format!("{s:?}"));
        if window {
            // The one window TR-069 leaves: redelivered, never lost.
            assert_eq!(seen, 2, "crash before {before}");
            windows += 1;
        } else if acknowledged {
            assert_eq!(seen, 1, "crash before {before}");
        } else {
            assert!(seen <= 1, "crash before {before}: seen {seen}");
        }
    }
    windows
}

#[test]
fn m_reboot_reaches_the_acs_exactly_once_whatever_step_crashes() {
    use Step::*;
    let flow = [
        RebootRpc,
        Save,
        Acknowledge,
        SessionEnd,
        Save,
        Reboot,
        SendInform,
        InformResponse,
        Save,
        SessionEnd,
        Save,
    ];
    // Only crashing before InformResponse or before the save right after it repeats it.
    assert_eq!(assert_exactly_once(&flow, "M Reboot(reboot-1)"), 2);
    // Without a crash: once, and the window is never hit.
    assert_eq!(
        run(&flow, usize::MAX, "M Reboot(reboot-1)"),
        (1, true, false)
    );
}

#[test]
fn m_download_reaches_the_acs_exactly_once_whatever_step_crashes() {
    use Step::*;
    let flow = [
        DownloadRpc,
        Acknowledge,
        TransferDone,
        Save,
        TransferMarked,
        SendInform,
        InformResponse,
        Save,
        SessionEnd,
        Save,
    ];
    assert_eq!(assert_exactly_once(&flow, "M Download(download-1)"), 2);
    assert_eq!(
        run(&flow, usize::MAX, "M Download(download-1)"),
        (1, true, false)
    );
}
