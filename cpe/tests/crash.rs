//! Crash safety of the real `cpe` binary: `kill -9` at chosen points of 50 CWMP sessions and of
//! the file transfers they start loses no CommandKey the ACS was told about, and repeats one
//! only where TR-069 itself leaves a window (ARCHITECTURE.md "Nothing acknowledged is lost";
//! PROTOCOL.md §2.8; the exactly-once rule in `cpe::events`).
//!
//! The test runs `cpe run` as a child process with a temporary state directory against a
//! scripted ACS on loopback, which also serves the files. In each of the first [`SESSIONS`]
//! sessions the ACS issues `Reboot`, `ScheduleInform` (one second, so `3 SCHEDULED` +
//! `M ScheduleInform` follow) and/or `Download` (a small `1 Firmware Upgrade Image` at
//! `/files/<CommandKey>.bin` on the ACS itself; no `firmware_apply` command is configured, so
//! the agent accepts the image without rebooting, and `7 TRANSFER COMPLETE` + `M Download` and
//! a TransferComplete follow), each with a CommandKey never used before. In most sessions it
//! SIGKILLs the agent at one chosen point (see [`KillPoint`]): in the session (right after a
//! POST arrived and before it is answered, right after the answer was written, or a random few
//! milliseconds after an answer), or at the next file request or TransferComplete, whichever
//! session it comes in (the GET unanswered, right after or a few milliseconds after the file was
//! served; a TransferComplete unanswered, or right after its response). The kinds of points take
//! turns, and a kill that another one pre-empted is planned again, so every kind is hit whatever
//! the seed. The agent is then started again with the same arguments and state directory. Every
//! kill is a power cut to the agent, so its next session carries `1 BOOT`.
//!
//! The ACS counts an Inform's events, and a TransferComplete, as delivered only if it answered
//! them. At the end (the agent killed once more and its state files read, so what it would
//! still send is counted too):
//!
//! - every CommandKey whose `RebootResponse` / `ScheduleInformResponse` / `DownloadResponse`
//!   reached the ACS was reported as `M Reboot` / `M ScheduleInform` / `M Download` (with
//!   `1 BOOT` / `3 SCHEDULED` / `7 TRANSFER COMPLETE`) in an answered Inform, and every such
//!   Download also by an answered TransferComplete reporting success, neither before its file
//!   was served: no loss;
//! - no CommandKey is reported more than once by an `M` event, nor by a TransferComplete, except
//!   once more for each kill that landed after the ACS answered the Inform (the TransferComplete)
//!   carrying it and before the ACS got the agent's next POST, which proves the agent saved the
//!   delivery: the one duplicate window `cpe::events` documents, and the same window for a
//!   TransferComplete, which the agent keeps sending until it has saved its response
//!   (TR-069 Amd 6 A.3.3.2). Those duplicates are counted and printed;
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

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cpe::agent::AgentState;
use cpe::events::EventsState;
use cpe::transfer::TransferQueue;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use schemas::rpc::*;
use schemas::soap::CwmpNamespace;
use schemas::value::DateTime;
use schemas::{Body, Envelope};
use tokio::sync::mpsc;

use support::acs::{HttpRequest, HttpResponse, ScriptedAcs};

/// Sessions in which the ACS issues commands and may kill the agent; after them it only
/// answers (and finishes the kills it still owes), until every acknowledged CommandKey has come
/// back.
const SESSIONS: usize = 50;

/// The seed used unless `CRASH_SEED` says otherwise.
const DEFAULT_SEED: u64 = 0x00C0_FFEE_D00D;

/// The share of sessions (out of 10) in which the agent is killed.
const KILL_IN_TENTHS: u32 = 6;

/// The ScheduleInform delay: the smallest the protocol allows (A.4.1.2 `DelaySeconds` ≥ 1).
const SCHEDULE_DELAY_SECONDS: u32 = 1;

/// The longest delay of a [`KillPoint::Timed`] or [`KillPoint::FileServedLater`] kill, in
/// milliseconds.
const MAX_TIMED_KILL_MS: u64 = 20;

/// The firmware image the ACS serves for every Download.
const FIRMWARE: &[u8] = b"\x7fELF crash-test firmware image, not a real one";

/// The Download `FileType`.
const FIRMWARE_FILE_TYPE: &str = "1 Firmware Upgrade Image";

/// How long the whole run may take before it is declared stuck.
const DEADLINE: Duration = Duration::from_secs(40);

/// A method the ACS calls whose completion the agent reports with an `M <Method>` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    /// Reboot: `1 BOOT` + `M Reboot` after the (agent's own) reboot.
    Reboot,
    /// ScheduleInform: `3 SCHEDULED` + `M ScheduleInform` after `DelaySeconds`.
    ScheduleInform,
    /// Download: `7 TRANSFER COMPLETE` + `M Download`, and a TransferComplete, once the file
    /// is in.
    Download,
}

impl Method {
    /// The `M <Method>` event code.
    fn event(self) -> &'static str {
        match self {
            Self::Reboot => "M Reboot",
            Self::ScheduleInform => "M ScheduleInform",
            Self::Download => "M Download",
        }
    }

    /// The single event that must come in the same Inform.
    fn companion(self) -> &'static str {
        match self {
            Self::Reboot => "1 BOOT",
            Self::ScheduleInform => "3 SCHEDULED",
            Self::Download => "7 TRANSFER COMPLETE",
        }
    }

    /// The CommandKey prefix of this method's keys.
    fn prefix(self) -> &'static str {
        match self {
            Self::Reboot => "rb",
            Self::ScheduleInform => "si",
            Self::Download => "dl",
        }
    }

    /// Whether a TransferComplete reports it too.
    fn transfers(self) -> bool {
        self == Self::Download
    }
}

/// Where the agent is killed.
///
/// The first kinds are points of the session they are planned in. A session's POSTs are
/// numbered by step: 0 is the Inform, 1 the empty POST, then one per response to the ACS's
/// commands; the ACS answers step `s` (1 ≤ s ≤ commands) with command `s` and the last step
/// with 204. The TransferCompletes the agent sends between the Inform and the empty POST are
/// not steps.
///
/// The others wait for the next file request or TransferComplete, in whichever session it
/// comes (the session that plans one issues a Download, so one comes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum KillPoint {
    /// The Inform arrived and is not answered: its events are not delivered and come again.
    InformUnanswered,
    /// InformResponse was written: the window where a repeat is allowed.
    AfterInformResponse,
    /// The empty POST arrived (so the agent saved the delivery) and is not answered.
    EmptyPostUnanswered,
    /// A Reboot / ScheduleInform / Download was written; its response has not been read.
    AfterRequest,
    /// A RebootResponse / ScheduleInformResponse / DownloadResponse arrived (the command is
    /// acknowledged) and is not answered.
    ResponseUnanswered,
    /// The session's closing 204 was written: the agent is in its after-session work (the
    /// reboot, starting a download), in its next session, or idle until something is due.
    AfterSessionEnd,
    /// A random 0–[`MAX_TIMED_KILL_MS`] ms after any answer of the session: wherever the agent
    /// then is (between its saves, sending its next POST, in its next session...). A point in
    /// time, not a step: what the ACS had seen when it landed decides how it counts.
    Timed,
    /// The agent asked for a file, which the ACS does not serve: the transfer is cut short.
    FileRequested,
    /// The file was written: the agent is reading, checking, installing it or recording the
    /// completion.
    FileServed,
    /// A random 0–[`MAX_TIMED_KILL_MS`] ms after the file was written: wherever the agent then
    /// is (recording the completion and saving it, in the session that reports it...).
    FileServedLater,
    /// A TransferComplete arrived and is not answered: it is not delivered and comes again.
    TransferCompleteUnanswered,
    /// TransferCompleteResponse was written: the window where a repeat is allowed.
    AfterTransferCompleteResponse,
}

/// What a [`KillPoint`] waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    /// A step of the session that planned it.
    Step,
    /// The next file request.
    File,
    /// The next TransferComplete.
    TransferComplete,
}

impl KillPoint {
    /// Every point, in the order kills cycle through them.
    const ALL: [Self; 12] = [
        Self::InformUnanswered,
        Self::FileRequested,
        Self::AfterInformResponse,
        Self::TransferCompleteUnanswered,
        Self::EmptyPostUnanswered,
        Self::FileServed,
        Self::AfterRequest,
        Self::AfterTransferCompleteResponse,
        Self::ResponseUnanswered,
        Self::FileServedLater,
        Self::AfterSessionEnd,
        Self::Timed,
    ];

    /// What this point waits for.
    fn trigger(self) -> Trigger {
        match self {
            Self::FileRequested | Self::FileServed | Self::FileServedLater => Trigger::File,
            Self::TransferCompleteUnanswered | Self::AfterTransferCompleteResponse => {
                Trigger::TransferComplete
            }
            _ => Trigger::Step,
        }
    }

    /// The side of the answer this point is at; `rng` picks a delay.
    fn when(self, rng: &mut StdRng) -> When {
        match self {
            Self::InformUnanswered
            | Self::EmptyPostUnanswered
            | Self::ResponseUnanswered
            | Self::FileRequested
            | Self::TransferCompleteUnanswered => When::BeforeAnswer,
            Self::AfterInformResponse
            | Self::AfterRequest
            | Self::AfterSessionEnd
            | Self::FileServed
            | Self::AfterTransferCompleteResponse => When::AfterAnswer,
            Self::Timed | Self::FileServedLater => When::Later(Duration::from_millis(
                rng.random_range(0..=MAX_TIMED_KILL_MS),
            )),
        }
    }

    /// The step of a [`Trigger::Step`] point in a session with `commands` commands (at least
    /// one); `rng` picks among several candidate steps.
    fn step(self, commands: usize, rng: &mut StdRng) -> usize {
        match self {
            Self::InformUnanswered | Self::AfterInformResponse => 0,
            Self::EmptyPostUnanswered => 1,
            Self::AfterRequest => rng.random_range(1..=commands),
            Self::ResponseUnanswered => rng.random_range(2..=commands + 1),
            Self::AfterSessionEnd => commands + 1,
            _ => rng.random_range(0..=commands + 1),
        }
    }
}

/// On which side of the ACS's answer a kill happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    /// After the request arrived, instead of answering it.
    BeforeAnswer,
    /// Right after the answer was written, before the next request on its connection is read.
    AfterAnswer,
    /// This long after the answer was written; the ACS goes on meanwhile.
    Later(Duration),
}

/// A planned kill at a step of its session: the step, the side of the ACS's answer, the point
/// it stands for.
type KillAt = (usize, When, KillPoint);

/// A planned kill waiting for its moment outside a session's steps: a file request or
/// TransferComplete to come, or its delay to pass.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// The session that planned it.
    session: usize,
    point: KillPoint,
    when: When,
}

/// What the ACS answered last in a session, until the agent's next POST proves it saved that.
#[derive(Clone, Copy, Debug)]
enum Delivery {
    /// The session's Inform, in [`Lab::informs`].
    Inform(usize),
    /// A TransferComplete, in [`Lab::transfer_completes`].
    TransferComplete(usize),
}

/// One session of the live agent, as the ACS runs it.
#[derive(Debug)]
struct Session {
    /// Its number, from 1.
    number: usize,
    /// The commands to issue, in order, with their CommandKeys.
    commands: Vec<(Method, String)>,
    /// Where to kill the agent in this session; taken when it fires.
    kill: Option<KillAt>,
    /// The step of the POST being handled.
    step: usize,
    /// The last delivery the ACS answered, while no POST has come since.
    unconfirmed: Option<Delivery>,
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

/// A TransferComplete the live agent sent.
#[derive(Debug)]
struct TransferCompleteRecord {
    /// The session it came in.
    session: usize,
    /// When it arrived.
    at: Instant,
    /// Its CommandKey.
    key: String,
    /// The fault it reports; `None` for success.
    fault: Option<FaultCode>,
    /// The ACS answered it: it counts as delivered.
    answered: bool,
    /// The agent was killed after the answer but before the ACS got its next POST.
    in_window: bool,
}

/// A command the ACS issued.
#[derive(Debug)]
struct Issued {
    method: Method,
    /// When the request was handed to the transport.
    at: Instant,
    /// The agent's response reached the ACS.
    acknowledged: bool,
    /// When the ACS first served its file (Downloads).
    served: Option<Instant>,
}

/// What the ACS tells the test's main loop.
#[derive(Debug)]
enum Note {
    /// The agent was killed: start it again.
    Killed,
    /// Run [`Lab::kill_later`] with `id` after `delay`.
    KillLater { id: u64, delay: Duration },
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
    /// Connections found to be a killed agent's after the kill: whatever still arrives on them
    /// is ignored, like everything on a connection accepted before the kill.
    dead: HashSet<usize>,
    /// When the last kill was complete (the agent reaped): an Inform built before is a dead
    /// agent's.
    last_kill: SystemTime,
    /// The same on the monotonic clock: a connection accepted before is a dead agent's.
    last_kill_at: Instant,
    informs: Vec<InformRecord>,
    transfer_completes: Vec<TransferCompleteRecord>,
    /// CommandKeys that came in an answered Inform.
    reported: HashSet<String>,
    /// CommandKeys that came in an answered TransferComplete.
    reported_transfers: HashSet<String>,
    issued: BTreeMap<String, Issued>,
    next_key: usize,
    /// `http://127.0.0.1:<port>/files`: where the ACS serves the files.
    files_url: String,
    /// File requests the ACS got from the live agent, and how many it served.
    files_requested: usize,
    files_served: usize,
    kills: Vec<(usize, KillPoint)>,
    /// Kills planned so far from the cycle, to cycle through the points.
    planned_kills: usize,
    /// Step kills another kill pre-empted: the next sessions that kill take these first.
    owed: VecDeque<KillPoint>,
    /// Kills waiting for the next file request or TransferComplete, oldest first.
    armed: VecDeque<Pending>,
    /// Kills to fire once the answer on a connection is written, by connection.
    claimed: BTreeMap<usize, Pending>,
    /// Kills waiting for their delay, by id.
    later: BTreeMap<u64, Pending>,
    next_later: u64,
    cpe: Option<CpeProcess>,
    /// How many agents were started before the one running.
    generation: usize,
    notes: mpsc::UnboundedSender<Note>,
    finished: bool,
    /// The agent's state directory.
    state_dir: PathBuf,
}

impl Lab {
    /// Answers one request (the ACS script).
    fn answer(&mut self, request: &HttpRequest) -> HttpResponse {
        if self.is_stale(request) {
            return hang_up();
        }
        if request.start.starts_with("GET ") {
            return self.serve_file(request);
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
        // The agent sends its next POST only once it has saved what the last answer told it.
        session.unconfirmed = None;
        if let Some(Body::TransferComplete(complete)) = &body {
            return self.transfer_complete(request.connection, complete);
        }
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
                    | (Method::Download, Some(Body::DownloadResponse(_)))
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
        let session = self
            .sessions
            .get_mut(&request.connection)
            .expect("the session");
        let number = session.number;
        let next = session.commands.get(step - 1).cloned();
        if let Some((at, When::BeforeAnswer, point)) = session.kill
            && at == step
        {
            session.kill = None;
            self.kill(number, point);
            return hang_up();
        }
        let Some((method, key)) = next else {
            return HttpResponse::no_content();
        };
        let command_key: CommandKey = key.parse().expect("a CommandKey");
        let request_body: Body = match method {
            Method::Reboot => Reboot { command_key }.into(),
            Method::ScheduleInform => ScheduleInform {
                delay_seconds: SCHEDULE_DELAY_SECONDS,
                command_key,
            }
            .into(),
            Method::Download => Download {
                command_key,
                file_type: FIRMWARE_FILE_TYPE.to_owned(),
                url: format!("{}/{key}.bin", self.files_url),
                file_size: u32::try_from(FIRMWARE.len()).expect("a small file"),
                ..Download::default()
            }
            .into(),
        };
        self.issued.insert(
            key.clone(),
            Issued {
                method,
                at: Instant::now(),
                acknowledged: false,
                served: None,
            },
        );
        reply(&key, request_body)
    }

    /// Whether `request` is a killed agent's, or comes after the end: nobody reads the answer.
    fn is_stale(&self, request: &HttpRequest) -> bool {
        self.finished
            || self.dead.contains(&request.connection)
            || request.accepted < self.last_kill_at
    }

    /// A live agent's Inform: a new session, planned here.
    fn open_session(&mut self, connection: usize, inform: &Inform) -> HttpResponse {
        self.opened += 1;
        let number = self.opened;
        let (commands, kill) = if self.plans(number) {
            self.plan(number)
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
        let unanswered = matches!(kill, Some((0, When::BeforeAnswer, _)));
        self.sessions.insert(
            connection,
            Session {
                number,
                commands,
                kill: kill.filter(|_| !unanswered),
                step: 0,
                unconfirmed: None,
            },
        );
        if let Some((_, _, point)) = kill.filter(|_| unanswered) {
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
        if let Some(session) = self.sessions.get_mut(&connection) {
            session.unconfirmed = Some(Delivery::Inform(inform));
        }
        reply("inform", InformResponse { max_envelopes: 1 })
    }

    /// Whether session `number` gets commands: the first [`SESSIONS`], and later ones while a
    /// kill is still owed or armed.
    fn plans(&self, number: usize) -> bool {
        number <= SESSIONS || !self.owed.is_empty() || !self.armed.is_empty()
    }

    /// Session `number`'s commands (new CommandKeys) and where, if anywhere in it, to kill the
    /// agent. A kill at a file request or TransferComplete is armed, and the session issues a
    /// Download so that one comes; so do the sessions after the first [`SESSIONS`] while one
    /// is armed.
    fn plan(&mut self, number: usize) -> (Vec<(Method, String)>, Option<KillAt>) {
        use Method::{Download, Reboot, ScheduleInform};
        let extra = number > SESSIONS;
        let mut methods: Vec<Method> = if extra {
            vec![Download]
        } else {
            match self.rng.random_range(0..12) {
                0..=1 => vec![Reboot],
                2 => vec![ScheduleInform, Reboot],
                3 => vec![Reboot, ScheduleInform],
                4..=5 => vec![ScheduleInform],
                6 => vec![ScheduleInform, ScheduleInform],
                7..=8 => vec![Download],
                9 => vec![Download, Reboot],
                10 => vec![ScheduleInform, Download],
                _ => vec![Download, Download],
            }
        };
        let kills = if extra {
            !self.owed.is_empty()
        } else {
            self.rng.random_ratio(KILL_IN_TENTHS, 10)
        };
        let point = kills.then(|| {
            self.owed.pop_front().unwrap_or_else(|| {
                let point = KillPoint::ALL[self.planned_kills % KillPoint::ALL.len()];
                self.planned_kills += 1;
                point
            })
        });
        let mut at_step = None;
        if let Some(point) = point {
            let when = point.when(&mut self.rng);
            if point.trigger() == Trigger::Step {
                at_step = Some((when, point));
            } else {
                self.armed.push_back(Pending {
                    session: number,
                    point,
                    when,
                });
                if !methods.contains(&Download) {
                    methods.push(Download);
                }
            }
        }
        let commands: Vec<(Method, String)> = methods
            .iter()
            .map(|&method| {
                self.next_key += 1;
                (method, format!("{}-{}", method.prefix(), self.next_key))
            })
            .collect();
        let kill =
            at_step.map(|(when, point)| (point.step(commands.len(), &mut self.rng), when, point));
        (commands, kill)
    }

    /// A file request: the file of a Download, unless an armed kill is for this request.
    fn serve_file(&mut self, request: &HttpRequest) -> HttpResponse {
        let key = request
            .start
            .split(' ')
            .nth(1)
            .and_then(|path| path.strip_prefix("/files/"))
            .and_then(|file| file.strip_suffix(".bin"));
        let Some(key) = key.filter(|k| {
            self.issued
                .get(*k)
                .is_some_and(|issued| issued.method.transfers())
        }) else {
            return self.fail(format!(
                "a request for no Download's file: {}",
                request.start
            ));
        };
        let key = key.to_owned();
        self.files_requested += 1;
        if let Some(pending) = self.take_armed(Trigger::File) {
            if pending.when == When::BeforeAnswer {
                self.kill(pending.session, pending.point);
                return hang_up();
            }
            self.claimed.insert(request.connection, pending);
        }
        self.files_served += 1;
        if let Some(issued) = self.issued.get_mut(&key) {
            issued.served.get_or_insert_with(Instant::now);
        }
        HttpResponse {
            status: 200,
            headers: Vec::new(),
            body: FIRMWARE.to_vec(),
            close: false,
        }
    }

    /// A TransferComplete in the session on `connection`: answered, unless an armed kill is for
    /// this one.
    fn transfer_complete(
        &mut self,
        connection: usize,
        complete: &TransferComplete,
    ) -> HttpResponse {
        let session = &self.sessions[&connection];
        let number = session.number;
        if session.step != 0 {
            return self.fail(format!(
                "session {number}: a TransferComplete after the empty POST"
            ));
        }
        let key = complete.command_key.as_str().to_owned();
        self.transfer_completes.push(TransferCompleteRecord {
            session: number,
            at: Instant::now(),
            key: key.clone(),
            fault: complete.fault_struct.fault(),
            answered: false,
            in_window: false,
        });
        let index = self.transfer_completes.len() - 1;
        if let Some(pending) = self.take_armed(Trigger::TransferComplete) {
            if pending.when == When::BeforeAnswer {
                self.kill(pending.session, pending.point);
                return hang_up();
            }
            self.claimed.insert(connection, pending);
        }
        self.transfer_completes[index].answered = true;
        self.reported_transfers.insert(key);
        if let Some(session) = self.sessions.get_mut(&connection) {
            session.unconfirmed = Some(Delivery::TransferComplete(index));
        }
        reply("transfer-complete", TransferCompleteResponse {})
    }

    /// The oldest armed kill waiting for `trigger`.
    fn take_armed(&mut self, trigger: Trigger) -> Option<Pending> {
        let index = self
            .armed
            .iter()
            .position(|p| p.point.trigger() == trigger)?;
        self.armed.remove(index)
    }

    /// Runs once an answer was written (the ACS hook): kills planned for right after it, and
    /// the end of the run.
    fn answered(&mut self, request: &HttpRequest, response: &HttpResponse) {
        if self.is_stale(request) {
            return;
        }
        if let Some(pending) = self.claimed.remove(&request.connection) {
            match pending.when {
                When::Later(delay) => self.kill_after(pending, delay),
                _ => {
                    self.kill(pending.session, pending.point);
                    return;
                }
            }
        }
        let Some(session) = self.sessions.get_mut(&request.connection) else {
            return;
        };
        let number = session.number;
        match session.kill {
            Some((at, When::AfterAnswer, point)) if at == session.step => {
                session.kill = None;
                self.kill(number, point);
                return;
            }
            Some((at, when @ When::Later(delay), point)) if at == session.step => {
                session.kill = None;
                let pending = Pending {
                    session: number,
                    point,
                    when,
                };
                self.kill_after(pending, delay);
            }
            _ => {}
        }
        if response.status == 204 {
            self.sessions.remove(&request.connection);
            let owing = !self.owed.is_empty() || !self.armed.is_empty() || !self.later.is_empty();
            if self.opened <= SESSIONS || owing {
                return;
            }
            let all_back = self
                .issued
                .iter()
                .filter(|(_, issued)| issued.acknowledged)
                .all(|(key, issued)| {
                    self.reported.contains(key)
                        && (!issued.method.transfers() || self.reported_transfers.contains(key))
                });
            if all_back {
                self.finished = true;
                let _ = self.notes.send(Note::Finished);
                return;
            }
            // An acknowledged key that is neither reported nor on disk will never come: fail
            // now rather than at the deadline. (A key leaves the disk only when the Inform or
            // TransferComplete carrying it is answered, which counts it as reported.)
            let Ok(disk) = OnDisk::read(&self.state_dir) else {
                return;
            };
            let lost: Vec<String> = self
                .issued
                .iter()
                .filter(|(_, issued)| issued.acknowledged)
                .flat_map(|(key, issued)| {
                    let event = !self.reported.contains(key) && !disk.events.contains(key);
                    let transfer = issued.method.transfers()
                        && !self.reported_transfers.contains(key)
                        && !disk.transfer_completes.contains(key);
                    let event = event.then(|| format!("{key} ({})", issued.method.event()));
                    let transfer = transfer.then(|| format!("{key} (TransferComplete)"));
                    event.into_iter().chain(transfer)
                })
                .collect();
            if !lost.is_empty() {
                let message = format!("{lost:?} acknowledged, not reported, not on disk");
                let _ = self.notes.send(Note::Failed(message));
            }
        }
    }

    /// Has the main loop call [`Self::kill_later`] after `delay`.
    fn kill_after(&mut self, pending: Pending, delay: Duration) {
        let id = self.next_later;
        self.next_later += 1;
        self.later.insert(id, pending);
        let _ = self.notes.send(Note::KillLater { id, delay });
    }

    /// The delay of kill `id` passed: the agent is killed, unless another kill came first (and
    /// planned this one again).
    fn kill_later(&mut self, id: u64) {
        if self.finished {
            return;
        }
        if let Some(pending) = self.later.remove(&id) {
            self.kill(pending.session, pending.point);
        }
    }

    /// SIGKILLs the agent (reaped before this returns) for the kill `session` planned at
    /// `point`, ends its sessions, and asks for a new agent. A delivery the ACS answered in a
    /// session from which no POST came since had its answer in flight: it is in the window.
    /// Kills still planned (in those sessions, on connections, or waiting for a delay) are
    /// planned again: a step kill in a later session, the others armed again.
    fn kill(&mut self, session: usize, point: KillPoint) {
        drop(self.cpe.take());
        self.last_kill = SystemTime::now();
        self.last_kill_at = Instant::now();
        let mut live: Vec<(usize, Session)> = self.sessions.drain().collect();
        live.sort_by_key(|(_, s)| s.number);
        for (_, live) in live {
            match live.unconfirmed {
                Some(Delivery::Inform(i)) => self.informs[i].in_window = true,
                Some(Delivery::TransferComplete(i)) => {
                    self.transfer_completes[i].in_window = true;
                }
                None => {}
            }
            if let Some((_, _, planned)) = live.kill {
                self.owed.push_back(planned);
            }
        }
        let pre_empted: Vec<Pending> = std::mem::take(&mut self.claimed)
            .into_values()
            .chain(std::mem::take(&mut self.later).into_values())
            .collect();
        for pending in pre_empted.into_iter().rev() {
            match pending.point.trigger() {
                Trigger::Step => self.owed.push_back(pending.point),
                _ => self.armed.push_front(pending),
            }
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

/// The CommandKeys the agent would still report after this run, from its state files, once per
/// report to come.
#[derive(Debug, Default)]
struct OnDisk {
    /// By `M` events: queued ones (held ones included), pending ScheduleInforms, and queued
    /// transfers whose completion the event queue has not seen (their token).
    events: Vec<String>,
    /// By TransferComplete: the pending ones in `agent.json`, and queued transfers that have
    /// none there.
    transfer_completes: Vec<String>,
}

impl OnDisk {
    /// Reads the state files in the reverse order of the agent's saves of a finished transfer
    /// (events, then `agent.json`, then the queue), so that one recorded while they are read
    /// is seen in the later file rather than in neither.
    fn read(state_dir: &Path) -> Result<Self, String> {
        let queue = cpe::persist::load::<TransferQueue>(&state_dir.join("transfers.json"))
            .map_err(|e| format!("transfers.json: {e}"))?
            .unwrap_or_default();
        let agent = cpe::persist::load::<AgentState>(&state_dir.join("agent.json"))
            .map_err(|e| format!("agent.json: {e}"))?
            .ok_or("no agent.json")?;
        let state = cpe::persist::load::<EventsState>(&state_dir.join("events.json"))
            .map_err(|e| format!("events.json: {e}"))?
            .ok_or("no events.json")?;
        let mut pending = Vec::new();
        for message in &agent.pending_messages {
            match Envelope::parse(message.envelope.as_bytes()).map(|e| e.body) {
                Ok(Body::TransferComplete(complete)) => {
                    pending.push((message.transfer, complete.command_key.as_str().to_owned()));
                }
                other => return Err(format!("agent.json: a pending {other:?}")),
            }
        }
        let tokens = &state.queue.completion_tokens;
        let transfers: Vec<(u64, String)> = queue
            .iter()
            .filter(|t| t.origin().is_acs_requested())
            .map(|t| (t.id().value(), t.command_key().as_str().to_owned()))
            .collect();
        let events = state
            .queue
            .events
            .iter()
            .filter(|e| e.code.starts_with("M "))
            .map(|e| e.command_key.clone())
            .chain(
                state
                    .schedule
                    .schedule_informs
                    .iter()
                    .map(|s| s.command_key.clone()),
            )
            .chain(
                transfers
                    .iter()
                    .filter(|(id, _)| !tokens.contains(&format!("transfer:{id}")))
                    .map(|(_, key)| key.clone()),
            )
            .collect();
        let transfer_completes = pending
            .iter()
            .map(|(_, key)| key.clone())
            .chain(
                transfers
                    .iter()
                    .filter(|(id, _)| !pending.iter().any(|(p, _)| p == id))
                    .map(|(_, key)| key.clone()),
            )
            .collect();
        Ok(Self {
            events,
            transfer_completes,
        })
    }
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
    /// Repeats of an `M` event in the window.
    event_repeats: usize,
    /// Repeats of a TransferComplete in the window.
    transfer_complete_repeats: usize,
    /// Each key repeated in a window, with what repeated and in which sessions.
    repeats: Vec<String>,
    reported_unacknowledged: usize,
    pending_unacknowledged: usize,
}

/// One CommandKey's reports of one kind (`M` events or TransferCompletes), checked for loss
/// and duplicates; returns the repeats inside the window.
fn count_reports(
    verdict: &mut Verdict,
    key: &str,
    issued: &Issued,
    what: &str,
    sessions: &[usize],
    windows: usize,
    later: usize,
) -> usize {
    let seen = sessions.len();
    if issued.acknowledged && seen == 0 {
        verdict.problems.push(if later == 0 {
            format!(
                "LOSS: {key} ({:?}) was acknowledged, its {what} never came, and it is not on disk",
                issued.method
            )
        } else {
            format!(
                "UNDELIVERED: {key} ({:?}) was acknowledged and its {what} is still pending on \
                 disk when the run stopped",
                issued.method
            )
        });
    }
    if seen + later > 1 + windows {
        verdict.problems.push(format!(
            "DUPLICATE: {key} reported by {what} in sessions {sessions:?} (+{later} still \
             pending), only {windows} of them in the window (agent killed after the answer, \
             before its next POST)"
        ));
        return 0;
    }
    let repeats = (seen + later).saturating_sub(1);
    if repeats > 0 {
        verdict.repeats.push(format!(
            "{key} {what} in sessions {sessions:?} (+{later} pending)"
        ));
    }
    repeats
}

/// Checks loss, duplicates, companions and timing over the whole run (see the module docs).
fn judge(lab: &Lab, disk: &OnDisk) -> Verdict {
    let mut verdict = Verdict {
        problems: Vec::new(),
        event_repeats: 0,
        transfer_complete_repeats: 0,
        repeats: Vec::new(),
        reported_unacknowledged: 0,
        pending_unacknowledged: 0,
    };
    let answered: Vec<&InformRecord> = lab.informs.iter().filter(|i| i.answered).collect();
    let completes: Vec<&TransferCompleteRecord> = lab
        .transfer_completes
        .iter()
        .filter(|t| t.answered)
        .collect();
    for (key, issued) in &lab.issued {
        let carrying: Vec<&&InformRecord> = answered
            .iter()
            .filter(|i| {
                i.events
                    .iter()
                    .any(|(c, k)| k == key && c.starts_with("M "))
            })
            .collect();
        let sessions: Vec<usize> = carrying.iter().map(|i| i.session).collect();
        let windows = carrying.iter().filter(|i| i.in_window).count();
        let later = disk.events.iter().filter(|k| *k == key).count();
        verdict.event_repeats += count_reports(
            &mut verdict,
            key,
            issued,
            issued.method.event(),
            &sessions,
            windows,
            later,
        );
        let mut seen_any = !carrying.is_empty();
        let mut later_any = later > 0;
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
        if issued.method.transfers() {
            let reports: Vec<&&TransferCompleteRecord> =
                completes.iter().filter(|t| t.key == *key).collect();
            let sessions: Vec<usize> = reports.iter().map(|t| t.session).collect();
            let windows = reports.iter().filter(|t| t.in_window).count();
            let later = disk.transfer_completes.iter().filter(|k| *k == key).count();
            verdict.transfer_complete_repeats += count_reports(
                &mut verdict,
                key,
                issued,
                "TransferComplete",
                &sessions,
                windows,
                later,
            );
            seen_any |= !reports.is_empty();
            later_any |= later > 0;
            for report in &reports {
                if let Some(fault) = report.fault {
                    verdict.problems.push(format!(
                        "{key}: the TransferComplete of session {} reports {fault:?}",
                        report.session
                    ));
                }
            }
            let first_report = carrying
                .iter()
                .map(|i| i.at)
                .chain(reports.iter().map(|t| t.at))
                .min();
            if let Some(first) = first_report
                && issued.served.is_none_or(|served| first < served)
            {
                verdict.problems.push(format!(
                    "{key} reported complete before its file was served"
                ));
            }
        }
        if !issued.acknowledged {
            verdict.reported_unacknowledged += usize::from(seen_any);
            verdict.pending_unacknowledged += usize::from(!seen_any && later_any);
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
    for complete in &completes {
        if lab
            .issued
            .get(&complete.key)
            .is_none_or(|issued| !issued.method.transfers())
        {
            verdict.problems.push(format!(
                "session {}: a TransferComplete with CommandKey {:?}, no Download's",
                complete.session, complete.key
            ));
        }
    }
    verdict
}

/// The ACS issues Reboot, ScheduleInform and Download over 50 sessions while the real agent is
/// SIGKILLed at a chosen point of most of them or of the transfers they start: no acknowledged
/// CommandKey is lost, and none is reported twice (by an event or a TransferComplete) except
/// after a kill between the ACS's answer to the report and the agent's next POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_sessions_and_downloads_loses_no_command_key_and_repeats_one_only_in_a_window() {
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
        last_kill_at: Instant::now(),
        informs: Vec::new(),
        transfer_completes: Vec::new(),
        reported: HashSet::new(),
        reported_transfers: HashSet::new(),
        issued: BTreeMap::new(),
        next_key: 0,
        files_url: String::new(),
        files_requested: 0,
        files_served: 0,
        kills: Vec::new(),
        planned_kills: 0,
        owed: VecDeque::new(),
        armed: VecDeque::new(),
        claimed: BTreeMap::new(),
        later: BTreeMap::new(),
        next_later: 0,
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

    {
        let mut lab = lock(&lab);
        lab.files_url = format!("{}/files", acs.url.trim_end_matches("/acs"));
        lab.cpe = Some(CpeProcess::spawn(&acs.url, &state_dir, &log, 0));
    }
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
            Ok(Some(Note::KillLater { id, delay })) => {
                let lab = lab.clone();
                tokio::spawn(async move {
                    // Not a wait for anything: the delay is the kill point.
                    tokio::time::sleep(delay).await;
                    lock(&lab).kill_later(id);
                });
            }
            Ok(Some(Note::Finished)) => break None,
            Ok(Some(Note::Failed(message))) => break Some(message),
            Ok(None) => break Some("the ACS stopped".to_owned()),
            Err(_) => {
                let lab = lock(&lab);
                break Some(format!(
                    "not finished within {DEADLINE:?} (kills still owed {:?}, armed {:?}, \
                     timed {:?})",
                    lab.owed, lab.armed, lab.later
                ));
            }
        }
    };
    let mut lab = lock(&lab);
    lab.finished = true;
    drop(lab.cpe.take());
    let disk = OnDisk::read(&state_dir);
    let nothing = OnDisk::default();
    let verdict = judge(&lab, disk.as_ref().unwrap_or(&nothing));
    let mut problems = verdict.problems;
    problems.extend(failure);
    if let Err(e) = &disk {
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
        "crash: seed {seed}, {} sessions, {} kills {by_point:?}; issued / acknowledged: \
         Reboot {} / {}, ScheduleInform {} / {}, Download {} / {} ({} file requests, {} served, \
         {} TransferCompletes); unacknowledged but reported {}, still pending {}; repeats in \
         the InformResponse window: {} ({} kills in it), in the TransferCompleteResponse \
         window: {} ({} kills in it){}; {envelopes} envelopes validated; {:.1?}",
        lab.opened,
        lab.kills.len(),
        count(Method::Reboot, false),
        count(Method::Reboot, true),
        count(Method::ScheduleInform, false),
        count(Method::ScheduleInform, true),
        count(Method::Download, false),
        count(Method::Download, true),
        lab.files_requested,
        lab.files_served,
        lab.transfer_completes.len(),
        verdict.reported_unacknowledged,
        verdict.pending_unacknowledged,
        verdict.event_repeats,
        lab.informs.iter().filter(|i| i.in_window).count(),
        verdict.transfer_complete_repeats,
        lab.transfer_completes
            .iter()
            .filter(|t| t.in_window)
            .count(),
        if verdict.repeats.is_empty() {
            String::new()
        } else {
            format!(" [{}]", verdict.repeats.join("; "))
        },
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
