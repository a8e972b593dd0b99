//! Crash safety of the real `cpe` binary: `kill -9` at chosen steps of 50 CWMP sessions loses no
//! CommandKey the ACS was told about, and repeats one only where TR-069 itself leaves a window
//! (ARCHITECTURE.md "Nothing acknowledged is lost"; PROTOCOL.md §2.8; the exactly-once rule in
//! `cpe::events`).
//!
//! The test runs `cpe run` as a child process with a temporary state directory against a
//! scripted ACS on loopback. In each of the first [`SESSIONS`] sessions the ACS issues `Reboot`
//! and/or `ScheduleInform` (one second, so `3 SCHEDULED` + `M ScheduleInform` follow), each with
//! a CommandKey never used before, and in most of them it SIGKILLs the agent at one chosen point
//! (see [`KillPoint`]): right after a POST arrived and before it is answered, right after the
//! answer was written, or a random few milliseconds after an answer. The kinds of points take
//! turns, so every one is hit whatever the seed. The agent is then started again with the same
//! arguments and state directory. Every kill is a power cut to the agent, so its next session
//! carries `1 BOOT`.
//!
//! The ACS counts an Inform's events as delivered only if it answered that Inform. At the end
//! (the agent killed once more and its `events.json` read, so what it would still send is
//! counted too):
//!
//! - every CommandKey whose `RebootResponse` / `ScheduleInformResponse` reached the ACS was
//!   reported as `M Reboot` / `M ScheduleInform` (with `1 BOOT` / `3 SCHEDULED`) in an answered
//!   Inform: no loss;
//! - no CommandKey is reported more than once, except once more for each kill that landed after
//!   the ACS answered an Inform carrying it and before the ACS got the agent's next POST (which
//!   proves the agent saved the delivery): the one duplicate window `cpe::events` documents.
//!   Those duplicates are counted and printed;
//! - every envelope the agent sent validates against the CWMP schemas.
//!
//! An acknowledged CommandKey that is neither reported nor in the state files once a later session
//! has ended fails the run at once, rather than at the deadline. `CRASH_SEED=<u64>` picks
//! another choice of commands and kill points.

#[path = "agent/support/mod.rs"]
#[allow(
    dead_code,
    reason = "shared with the agent tests; this binary uses part of it"
)]
mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cpe::events::EventsState;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use schemas::rpc::*;
use schemas::soap::CwmpNamespace;
use schemas::value::DateTime;
use schemas::{Body, Envelope};
use tokio::sync::mpsc;

use support::acs::{HttpRequest, HttpResponse, ScriptedAcs};

/// Sessions in which the ACS issues commands and may kill the agent; after them it only
/// answers, until every acknowledged CommandKey has come back.
const SESSIONS: usize = 50;

/// The seed used unless `CRASH_SEED` says otherwise.
const DEFAULT_SEED: u64 = 0x00C0_FFEE_D00D;

/// The share of sessions (out of 10) in which the agent is killed.
const KILL_IN_TENTHS: u32 = 6;

/// The ScheduleInform delay: the smallest the protocol allows (A.4.1.2 `DelaySeconds` ≥ 1).
const SCHEDULE_DELAY_SECONDS: u32 = 1;

/// The longest delay of a [`KillPoint::Timed`] kill, in milliseconds.
const MAX_TIMED_KILL_MS: u64 = 20;

/// How long the whole run may take before it is declared stuck.
const DEADLINE: Duration = Duration::from_secs(30);

/// A method the ACS calls whose completion the agent reports with an `M <Method>` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    /// Reboot: `1 BOOT` + `M Reboot` after the (agent's own) reboot.
    Reboot,
    /// ScheduleInform: `3 SCHEDULED` + `M ScheduleInform` after `DelaySeconds`.
    ScheduleInform,
}

impl Method {
    /// The `M <Method>` event code.
    fn event(self) -> &'static str {
        match self {
            Self::Reboot => "M Reboot",
            Self::ScheduleInform => "M ScheduleInform",
        }
    }

    /// The single event that must come in the same Inform.
    fn companion(self) -> &'static str {
        match self {
            Self::Reboot => "1 BOOT",
            Self::ScheduleInform => "3 SCHEDULED",
        }
    }

    /// The CommandKey prefix of this method's keys.
    fn prefix(self) -> &'static str {
        match self {
            Self::Reboot => "rb",
            Self::ScheduleInform => "si",
        }
    }
}

/// Where in a session the agent is killed. A session's POSTs are numbered by step: 0 is the
/// Inform, 1 the empty POST, then one per response to the ACS's commands; the ACS answers step
/// `s` (1 ≤ s ≤ commands) with command `s` and the last step with 204.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum KillPoint {
    /// The Inform arrived and is not answered: its events are not delivered and come again.
    InformUnanswered,
    /// InformResponse was written: the window where a repeat is allowed.
    AfterInformResponse,
    /// The empty POST arrived (so the agent saved the delivery) and is not answered.
    EmptyPostUnanswered,
    /// A Reboot / ScheduleInform was written; its response has not been read.
    AfterRequest,
    /// A RebootResponse / ScheduleInformResponse arrived (the command is acknowledged) and is
    /// not answered.
    ResponseUnanswered,
    /// The session's closing 204 was written: the agent is in its after-session work (the
    /// reboot), in its next session, or idle until a ScheduleInform is due.
    AfterSessionEnd,
    /// A random 0–[`MAX_TIMED_KILL_MS`] ms after any answer: wherever the agent then is
    /// (between its saves, sending its next POST, in its next session...). A point in time, not a
    /// step: what the ACS had seen when it landed decides how it counts.
    Timed,
}

impl KillPoint {
    /// Every point, in the order kills cycle through them.
    const ALL: [Self; 7] = [
        Self::InformUnanswered,
        Self::AfterInformResponse,
        Self::EmptyPostUnanswered,
        Self::AfterRequest,
        Self::ResponseUnanswered,
        Self::AfterSessionEnd,
        Self::Timed,
    ];

    /// The step and the side of the answer this point is at, in a session with `commands`
    /// commands (at least one); `rng` picks among several candidate steps.
    fn step(self, commands: usize, rng: &mut StdRng) -> (usize, When) {
        match self {
            Self::InformUnanswered => (0, When::BeforeAnswer),
            Self::AfterInformResponse => (0, When::AfterAnswer),
            Self::EmptyPostUnanswered => (1, When::BeforeAnswer),
            Self::AfterRequest => (rng.random_range(1..=commands), When::AfterAnswer),
            Self::ResponseUnanswered => (rng.random_range(2..=commands + 1), When::BeforeAnswer),
            Self::AfterSessionEnd => (commands + 1, When::AfterAnswer),
            Self::Timed => (
                rng.random_range(0..=commands + 1),
                When::Later(Duration::from_millis(
                    rng.random_range(0..=MAX_TIMED_KILL_MS),
                )),
            ),
        }
    }
}

/// On which side of the ACS's answer a kill happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    /// After the POST arrived, instead of answering it.
    BeforeAnswer,
    /// Right after the answer was written, before the next POST is read.
    AfterAnswer,
    /// This long after the answer was written; the ACS goes on meanwhile.
    Later(Duration),
}

/// A planned kill: the step, the side of the ACS's answer, and the point it stands for.
type KillAt = (usize, When, KillPoint);

/// One session of the live agent, as the ACS runs it.
#[derive(Debug)]
struct Session {
    /// Its number, from 1.
    number: usize,
    /// The commands to issue, in order, with their CommandKeys.
    commands: Vec<(Method, String)>,
    /// Where to kill the agent, if in this session.
    kill: Option<KillAt>,
    /// The step of the POST being handled.
    step: usize,
    /// Its Inform, in [`Lab::informs`].
    inform: usize,
}

/// An Inform the live agent sent.
#[derive(Debug)]
struct InformRecord {
    /// The session it opened.
    session: usize,
    /// When it arrived.
    at: Instant,
    /// `(event code, CommandKey)` pairs.
    events: Vec<(String, String)>,
    /// The ACS answered it: its events count as delivered.
    answered: bool,
    /// The agent was killed after the answer but before the ACS got its next POST.
    in_window: bool,
}

impl InformRecord {
    fn has(&self, code: &str) -> bool {
        self.events.iter().any(|(c, _)| c == code)
    }
}

/// A command the ACS issued.
#[derive(Debug)]
struct Issued {
    method: Method,
    /// When the request was handed to the transport.
    at: Instant,
    /// The agent's response reached the ACS.
    acknowledged: bool,
}

/// What the ACS tells the test's main loop.
#[derive(Debug)]
enum Note {
    /// The agent was killed: start it again.
    Killed,
    /// Kill agent `generation` after `delay` ([`KillPoint::Timed`], planned in `session`).
    KillLater {
        generation: usize,
        delay: Duration,
        session: usize,
    },
    /// Every acknowledged command came back and the last session ended.
    Finished,
    /// The agent did something the script does not allow.
    Failed(String),
}

/// The running `cpe` child; killed (SIGKILL) and reaped when dropped, so no test failure leaves
/// it behind.
struct CpeProcess {
    child: Child,
}

impl CpeProcess {
    /// Starts `cpe run` against `acs_url` with `state_dir`, its log appended to `log`.
    fn spawn(acs_url: &str, state_dir: &Path, log: &Path, generation: usize) -> Self {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("the agent's log file");
        writeln!(file, "===== cpe start #{generation} =====").expect("the agent's log file");
        let child = Command::new(env!("CARGO_BIN_EXE_cpe"))
            .arg("run")
            .arg("--acs-url")
            .arg(acs_url)
            .arg("--state-dir")
            .arg(state_dir)
            .arg("--connreq-listen")
            .arg("127.0.0.1:0")
            .env("RUST_LOG", "info,cpe=debug")
            .env_remove("CPE_CONFIG")
            .env_remove("CPE_PROFILE")
            .env_remove("CPE_SERIAL")
            .env_remove("CPE_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("cpe starts");
        Self { child }
    }
}

impl Drop for CpeProcess {
    fn drop(&mut self) {
        // `Child::kill` is SIGKILL on Unix; `wait` reaps it, so it is gone when this returns.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ACS's and the test's shared record of the run.
struct Lab {
    rng: StdRng,
    /// Live sessions by TCP connection.
    sessions: HashMap<usize, Session>,
    /// Sessions opened by the live agent so far.
    opened: usize,
    /// Connections of killed agents: whatever still arrives on them is ignored.
    dead: HashSet<usize>,
    /// When the last kill was complete (the agent reaped): an Inform built before is a dead
    /// agent's.
    last_kill: SystemTime,
    informs: Vec<InformRecord>,
    /// CommandKeys that came in an answered Inform.
    reported: HashSet<String>,
    issued: BTreeMap<String, Issued>,
    next_key: usize,
    kills: Vec<(usize, KillPoint)>,
    /// Kills planned so far, to cycle through the points.
    planned_kills: usize,
    cpe: Option<CpeProcess>,
    /// How many agents were started before the one running.
    generation: usize,
    notes: mpsc::UnboundedSender<Note>,
    finished: bool,
    /// The agent's state directory.
    state_dir: PathBuf,
}

impl Lab {
    /// Answers one POST (the ACS script).
    fn answer(&mut self, request: &HttpRequest) -> HttpResponse {
        if self.finished || self.dead.contains(&request.connection) {
            return hang_up();
        }
        let body = if request.body.is_empty() {
            None
        } else {
            match Envelope::parse(&request.body) {
                Ok(envelope) => Some(envelope.body),
                Err(e) => return self.fail(format!("an envelope that does not parse: {e}")),
            }
        };
        if let Some(Body::Inform(inform)) = &body {
            if built_before(&inform.current_time, self.last_kill) {
                // A killed agent's Inform that was still on its way: not a session.
                self.dead.insert(request.connection);
                return hang_up();
            }
            return self.open_session(request.connection, inform);
        }
        let Some(session) = self.sessions.get_mut(&request.connection) else {
            return self.fail(format!(
                "a POST on connection {} before any Inform",
                request.connection
            ));
        };
        session.step += 1;
        let step = session.step;
        if step == 1 {
            if body.is_some() {
                return self.fail(format!("expected the empty POST, got {body:?}"));
            }
        } else {
            let Some((method, key)) = session.commands.get(step - 2).cloned() else {
                return self.fail(format!("a POST after the session's end: {body:?}"));
            };
            let expected = matches!(
                (method, &body),
                (Method::Reboot, Some(Body::RebootResponse(_)))
                    | (
                        Method::ScheduleInform,
                        Some(Body::ScheduleInformResponse(_))
                    )
            );
            if !expected {
                return self.fail(format!(
                    "{key}: expected a {method:?}Response, got {body:?}"
                ));
            }
            if let Some(issued) = self.issued.get_mut(&key) {
                issued.acknowledged = true;
            }
        }
        let session = &self.sessions[&request.connection];
        let (number, kill) = (session.number, session.kill);
        let next = session.commands.get(step - 1).cloned();
        if let Some((at, When::BeforeAnswer, point)) = kill
            && at == step
        {
            self.kill(number, point);
            return hang_up();
        }
        let Some((method, key)) = next else {
            return HttpResponse::no_content();
        };
        let request_body: Body = match method {
            Method::Reboot => Reboot {
                command_key: key.parse().expect("a CommandKey"),
            }
            .into(),
            Method::ScheduleInform => ScheduleInform {
                delay_seconds: SCHEDULE_DELAY_SECONDS,
                command_key: key.parse().expect("a CommandKey"),
            }
            .into(),
        };
        self.issued.insert(
            key.clone(),
            Issued {
                method,
                at: Instant::now(),
                acknowledged: false,
            },
        );
        reply(&key, request_body)
    }

    /// A live agent's Inform: a new session, planned here.
    fn open_session(&mut self, connection: usize, inform: &Inform) -> HttpResponse {
        self.opened += 1;
        let number = self.opened;
        let (commands, kill) = if number <= SESSIONS {
            self.plan()
        } else {
            (Vec::new(), None)
        };
        let record = InformRecord {
            session: number,
            at: Instant::now(),
            events: inform
                .event
                .iter()
                .map(|e| {
                    (
                        e.event_code.as_str().into_owned(),
                        e.command_key.as_str().to_owned(),
                    )
                })
                .collect(),
            answered: false,
            in_window: false,
        };
        self.informs.push(record);
        let inform = self.informs.len() - 1;
        self.sessions.insert(
            connection,
            Session {
                number,
                commands,
                kill,
                step: 0,
                inform,
            },
        );
        if let Some((0, When::BeforeAnswer, point)) = kill {
            self.kill(number, point);
            return hang_up();
        }
        let record = &mut self.informs[inform];
        record.answered = true;
        for (code, key) in &record.events {
            if code.starts_with("M ") {
                self.reported.insert(key.clone());
            }
        }
        reply("inform", InformResponse { max_envelopes: 1 })
    }

    /// This session's commands (new CommandKeys) and where, if anywhere, to kill the agent.
    fn plan(&mut self) -> (Vec<(Method, String)>, Option<KillAt>) {
        use Method::{Reboot, ScheduleInform};
        let methods: &[Method] = match self.rng.random_range(0..10) {
            0..=3 => &[Reboot],
            4..=5 => &[ScheduleInform, Reboot],
            6 => &[Reboot, ScheduleInform],
            7..=8 => &[ScheduleInform],
            _ => &[ScheduleInform, ScheduleInform],
        };
        let commands: Vec<(Method, String)> = methods
            .iter()
            .map(|&method| {
                self.next_key += 1;
                (method, format!("{}-{}", method.prefix(), self.next_key))
            })
            .collect();
        let kill = self.rng.random_ratio(KILL_IN_TENTHS, 10).then(|| {
            let point = KillPoint::ALL[self.planned_kills % KillPoint::ALL.len()];
            self.planned_kills += 1;
            let (step, when) = point.step(commands.len(), &mut self.rng);
            (step, when, point)
        });
        (commands, kill)
    }

    /// Runs once an answer was written (the ACS hook): kills planned for right after it, and
    /// the end of the run.
    fn answered(&mut self, request: &HttpRequest, response: &HttpResponse) {
        if self.finished || self.dead.contains(&request.connection) {
            return;
        }
        let Some(session) = self.sessions.get(&request.connection) else {
            return;
        };
        match session.kill {
            Some((at, When::AfterAnswer, point)) if at == session.step => {
                self.kill(session.number, point);
                return;
            }
            Some((at, When::Later(delay), _)) if at == session.step => {
                let note = Note::KillLater {
                    generation: self.generation,
                    delay,
                    session: session.number,
                };
                let _ = self.notes.send(note);
            }
            _ => {}
        }
        if response.status == 204 {
            self.sessions.remove(&request.connection);
            let all_back = self
                .issued
                .iter()
                .filter(|(_, issued)| issued.acknowledged)
                .all(|(key, _)| self.reported.contains(key));
            if self.opened <= SESSIONS {
                return;
            }
            if all_back {
                self.finished = true;
                let _ = self.notes.send(Note::Finished);
                return;
            }
            // An acknowledged key that is neither reported nor on disk will never come: fail
            // now rather than at the deadline. (A key leaves the disk only when an Inform
            // carrying it is answered, which counts it as reported.)
            let on_disk = pending_keys(&self.state_dir).unwrap_or_default();
            let lost: Vec<&String> = self
                .issued
                .iter()
                .filter(|(key, issued)| {
                    issued.acknowledged && !self.reported.contains(*key) && !on_disk.contains(key)
                })
                .map(|(key, _)| key)
                .collect();
            if !lost.is_empty() {
                let message = format!("{lost:?} acknowledged, not reported, not on disk");
                let _ = self.notes.send(Note::Failed(message));
            }
        }
    }

    /// SIGKILLs the agent (reaped before this returns) for the kill `session` planned, ends its
    /// sessions, and asks for a new agent. A session whose Inform was answered and from which
    /// no POST came since had its InformResponse in flight: that Inform is in the window.
    fn kill(&mut self, session: usize, point: KillPoint) {
        drop(self.cpe.take());
        self.last_kill = SystemTime::now();
        for (connection, live) in self.sessions.drain() {
            self.dead.insert(connection);
            let inform = &mut self.informs[live.inform];
            inform.in_window |= live.step == 0 && inform.answered;
        }
        self.kills.push((session, point));
        let _ = self.notes.send(Note::Killed);
    }

    /// Reports a protocol violation to the test and ends the connection.
    fn fail(&mut self, message: String) -> HttpResponse {
        let _ = self.notes.send(Note::Failed(message));
        hang_up()
    }
}

/// Whether an Inform whose `CurrentTime` is `current` was built before `instant` (the agent's
/// clock is this host's; the value has nanoseconds).
fn built_before(current: &DateTime, instant: SystemTime) -> bool {
    let since = instant.duration_since(UNIX_EPOCH).unwrap_or_default();
    let limit = (
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        since.subsec_nanos(),
    );
    (current.unix_seconds(), current.nanosecond()) < limit
}

fn reply(id: &str, body: impl Into<Body>) -> HttpResponse {
    HttpResponse::xml(Envelope::new(CwmpNamespace::V1_2, body).with_id(id).write())
}

/// The answer on a connection whose agent is dead: nobody reads it.
fn hang_up() -> HttpResponse {
    HttpResponse {
        close: true,
        ..HttpResponse::no_content()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Kills the live agent when the test ends, however it ends.
struct Reaper(Arc<Mutex<Lab>>);

impl Drop for Reaper {
    fn drop(&mut self) {
        drop(lock(&self.0).cpe.take());
    }
}

/// The CommandKeys the agent would still report after this run: queued `M` events (held ones
/// included) and pending ScheduleInforms.
fn pending_keys(state_dir: &Path) -> Result<Vec<String>, String> {
    let state = cpe::persist::load::<EventsState>(&state_dir.join("events.json"))
        .map_err(|e| format!("events.json: {e}"))?
        .ok_or("no events.json")?;
    let queued = state
        .queue
        .events
        .into_iter()
        .filter(|e| e.code.starts_with("M "))
        .map(|e| e.command_key);
    let scheduled = state
        .schedule
        .schedule_informs
        .into_iter()
        .map(|s| s.command_key);
    Ok(queued.chain(scheduled).collect())
}

/// The last `lines` lines of the agent's log.
fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// What the run's records say, checked.
struct Verdict {
    problems: Vec<String>,
    duplicates_in_window: usize,
    reported_unacknowledged: usize,
    pending_unacknowledged: usize,
}

/// Checks loss, duplicates, companions and timing over the whole run (see the module docs).
fn judge(lab: &Lab, pending: &[String]) -> Verdict {
    let mut verdict = Verdict {
        problems: Vec::new(),
        duplicates_in_window: 0,
        reported_unacknowledged: 0,
        pending_unacknowledged: 0,
    };
    let answered: Vec<&InformRecord> = lab.informs.iter().filter(|i| i.answered).collect();
    for (key, issued) in &lab.issued {
        let carrying: Vec<&&InformRecord> = answered
            .iter()
            .filter(|i| {
                i.events
                    .iter()
                    .any(|(c, k)| k == key && c.starts_with("M "))
            })
            .collect();
        let seen = carrying.len();
        let windows = carrying.iter().filter(|i| i.in_window).count();
        let later = pending.iter().filter(|k| *k == key).count();
        let sessions: Vec<usize> = carrying.iter().map(|i| i.session).collect();
        if issued.acknowledged && seen == 0 {
            verdict.problems.push(if later == 0 {
                format!(
                    "LOSS: {key} ({:?}) was acknowledged, never reported, and is not on disk",
                    issued.method
                )
            } else {
                format!(
                    "UNDELIVERED: {key} ({:?}) was acknowledged and is still pending on disk \
                     when the run stopped",
                    issued.method
                )
            });
        }
        if seen + later > 1 + windows {
            verdict.problems.push(format!(
                "DUPLICATE: {key} reported in sessions {sessions:?} (+{later} still pending), \
                 only {windows} of them in the window (agent killed after the InformResponse, \
                 before its next POST)"
            ));
        } else {
            verdict.duplicates_in_window += (seen + later).saturating_sub(1);
        }
        if !issued.acknowledged {
            verdict.reported_unacknowledged += usize::from(seen > 0);
            verdict.pending_unacknowledged += usize::from(seen == 0 && later > 0);
        }
        for inform in &carrying {
            if !inform.has(issued.method.event()) {
                verdict.problems.push(format!(
                    "{key} came as another method's event in session {}",
                    inform.session
                ));
            }
            if !inform.has(issued.method.companion()) {
                verdict.problems.push(format!(
                    "{key}: session {} has no {}",
                    inform.session,
                    issued.method.companion()
                ));
            }
        }
        if issued.method == Method::ScheduleInform
            && let Some(first) = carrying.first()
        {
            let after = first.at.duration_since(issued.at);
            if after < Duration::from_millis(u64::from(SCHEDULE_DELAY_SECONDS) * 1000 - 10) {
                verdict.problems.push(format!(
                    "{key} reported {after:?} after the request, before its delay"
                ));
            }
        }
    }
    for inform in &answered {
        for (code, key) in &inform.events {
            if code.starts_with("M ") && !lab.issued.contains_key(key) {
                verdict.problems.push(format!(
                    "session {}: {code} with unknown CommandKey {key:?}",
                    inform.session
                ));
            }
        }
    }
    verdict
}

/// The ACS issues Reboot and ScheduleInform over 50 sessions while the real agent is SIGKILLed
/// at a chosen point of most of them: no acknowledged CommandKey is lost, and none is reported
/// twice except after a kill between an InformResponse and the agent's next POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_50_sessions_loses_no_command_key_and_repeats_one_only_in_the_inform_window() {
    let started = Instant::now();
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let work = tempfile::tempdir().expect("a temporary directory");
    let state_dir = work.path().join("state");
    let log = work.path().join("cpe.log");
    let (notes, mut inbox) = mpsc::unbounded_channel();
    let lab = Arc::new(Mutex::new(Lab {
        rng: StdRng::seed_from_u64(seed),
        sessions: HashMap::new(),
        opened: 0,
        dead: HashSet::new(),
        last_kill: UNIX_EPOCH,
        informs: Vec::new(),
        reported: HashSet::new(),
        issued: BTreeMap::new(),
        next_key: 0,
        kills: Vec::new(),
        planned_kills: 0,
        cpe: None,
        generation: 0,
        notes,
        finished: false,
        state_dir: state_dir.clone(),
    }));
    let _reaper = Reaper(lab.clone());
    let acs = {
        let (script, hook) = (lab.clone(), lab.clone());
        ScriptedAcs::start_with_hook(
            move |request| lock(&script).answer(request),
            move |request, response| lock(&hook).answered(request, response),
        )
        .await
    };

    lock(&lab).cpe = Some(CpeProcess::spawn(&acs.url, &state_dir, &log, 0));
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let failure = loop {
        match tokio::time::timeout_at(deadline, inbox.recv()).await {
            Ok(Some(Note::Killed)) => {
                // Held across the spawn, so the new agent's first POST finds it registered.
                let mut lab = lock(&lab);
                lab.generation += 1;
                let generation = lab.generation;
                lab.cpe = Some(CpeProcess::spawn(&acs.url, &state_dir, &log, generation));
            }
            Ok(Some(Note::KillLater {
                generation,
                delay,
                session,
            })) => {
                // Not a wait for anything: the delay is the kill point.
                tokio::time::sleep(delay).await;
                let mut lab = lock(&lab);
                if lab.generation == generation && !lab.finished {
                    lab.kill(session, KillPoint::Timed);
                }
            }
            Ok(Some(Note::Finished)) => break None,
            Ok(Some(Note::Failed(message))) => break Some(message),
            Ok(None) => break Some("the ACS stopped".to_owned()),
            Err(_) => break Some(format!("not finished within {DEADLINE:?}")),
        }
    };
    let mut lab = lock(&lab);
    lab.finished = true;
    drop(lab.cpe.take());
    let pending = pending_keys(&state_dir);
    let verdict = judge(&lab, pending.as_deref().unwrap_or_default());
    let mut problems = verdict.problems;
    problems.extend(failure);
    if let Err(e) = &pending {
        problems.push(format!("the final state: {e}"));
    }

    let bodies: Vec<Vec<u8>> = acs.requests().into_iter().map(|r| r.body).collect();
    let envelopes = bodies.iter().filter(|b| !b.is_empty()).count();
    if problems.is_empty() {
        support::validate(&bodies);
    }

    let mut by_point: BTreeMap<KillPoint, usize> = BTreeMap::new();
    for (_, point) in &lab.kills {
        *by_point.entry(*point).or_default() += 1;
    }
    let count = |method: Method, acknowledged: bool| {
        lab.issued
            .values()
            .filter(|i| i.method == method && (i.acknowledged || !acknowledged))
            .count()
    };
    let mut summary = format!(
        "crash: seed {seed}, {} sessions, {} kills {by_point:?}; Reboot {} issued / {} \
         acknowledged, ScheduleInform {} / {}; unacknowledged but reported {}, still pending \
         {}; duplicates in the InformResponse window: {} ({} kills in it); {envelopes} \
         envelopes validated; {:.1?}",
        lab.opened,
        lab.kills.len(),
        count(Method::Reboot, false),
        count(Method::Reboot, true),
        count(Method::ScheduleInform, false),
        count(Method::ScheduleInform, true),
        verdict.reported_unacknowledged,
        verdict.pending_unacknowledged,
        verdict.duplicates_in_window,
        lab.informs.iter().filter(|i| i.in_window).count(),
        started.elapsed(),
    );
    if !problems.is_empty() {
        let kept: PathBuf = work.keep();
        let _ = write!(
            summary,
            "\n\nPROBLEMS:\n- {}\n\nkills (session, point): {:?}\nstate and log kept in {}\n\
             last lines of the agent's log:\n{}",
            problems.join("\n- "),
            lab.kills,
            kept.display(),
            log_tail(&kept.join("cpe.log"), 60),
        );
        panic!("{summary}");
    }
    eprintln!("{summary}");
    for point in KillPoint::ALL {
        assert!(by_point.contains_key(&point), "no kill at {point:?}");
    }
}
