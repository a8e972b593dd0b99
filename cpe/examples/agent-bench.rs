//! `agent-bench`: measures the budgets of the `cpe` agent as a process, against a loopback ACS,
//! and prints them as Markdown tables (recorded in BENCHMARKS.md, "Agent").
//!
//! ```sh
//! cargo build --release -p cpe
//! cargo run --release -p cpe --example agent-bench -- [OPTIONS] [CPE_BINARY]
//! ```
//!
//! `CPE_BINARY` defaults to the `cpe` next to this example's own `examples/` directory (the
//! same target directory and profile: `target/release/cpe`), else `target/release/cpe`.
//!
//! What it measures (`--only` picks some of `startup,cr,phases,size`; default all):
//!
//! - **start-up to first Inform** (`startup`): from just before `spawn()` of `cpe run` (fresh
//!   state directory each run) to the ACS having read the whole Inform POST (headers and
//!   body). A second figure restarts the same agent on its now existing state directory (a
//!   reboot: `1 BOOT`, no `0 BOOTSTRAP`).
//! - **idle RSS** (`startup`, `cr`): `VmRSS`, `VmHWM`, `RssAnon` and `RssFile` from
//!   `/proc/<pid>/status` once the last session is over (the ACS answered the empty POST with
//!   204 and `cpe status` reports the session as done), after `--settle`.
//! - **Connection Request to Inform** (`cr`): with the agent idle after its boot session and
//!   its Connection Request credentials set over the control socket, a Digest Connection
//!   Request (GET, 401, GET with the answer, as TR-069 §3.2.2), timed from writing the
//!   authenticated GET and from reading its 200, to the ACS having read the Inform carrying
//!   `6 CONNECTION REQUEST`. The agent accepts 5 requests a minute, so the samples come from
//!   several agents in turn, `--per-agent` each.
//! - **start-up phases** (`phases`): what `Agent::start` does, step by step through the `cpe`
//!   library, each run in a fresh process of this program (so each step is as cold as in a
//!   real start): time and growth of `RssAnon` / `RssFile` (the latter of this program's
//!   pages, built from the same code); plus `cpe --version`, spawn to exit (exec, dynamic
//!   linking, argument parsing).
//! - **binary size** (`size`): of `CPE_BINARY`, and of a copy passed through `strip` when it
//!   is there.
//!
//! A warm-up agent runs first and is not counted. Every wait is bounded (10 s); the agents are
//! killed when the bench ends, fails or gets Ctrl-C.
//!
//! Options: `--runs N` (start-up runs and phase runs, default 20), `--cr N` (Connection
//! Request samples, default 20), `--per-agent N` (requests per agent, default 5, the rate
//! limit), `--settle MS` (pause before reading RSS, default 500), `--work-dir DIR` (where the
//! state directories go, default the system temp directory), `--keep` (keep them, with each
//! agent's log), `--agent-log FILTER` (`RUST_LOG` for the agents, default theirs: `info`).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use cpe::control::{self, Request, Response};
use http_auth::{PasswordClient, PasswordParams};
use schemas::rpc::{EventCode, InformResponse};
use schemas::{Body, Envelope};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// How long any single wait may take before the bench gives up.
const WAIT: Duration = Duration::from_secs(10);

/// The Connection Request credentials the bench sets on each agent.
const CR_USER: &str = "bench";
/// See [`CR_USER`].
const CR_PASSWORD: &str = "bench-s3cret";

/// Idle `VmRSS` budget, MiB (every agent measured).
const BUDGET_RSS_MIB: f64 = 8.0;
/// Start-up to first Inform, median.
const BUDGET_STARTUP_MS: f64 = 50.0;
/// Connection Request to Inform, p50.
const BUDGET_CR_MS: f64 = 5.0;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some(PHASES_CHILD) {
        let dir = args.nth(1).map(PathBuf::from).unwrap_or_default();
        return match phases_child(&dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("agent-bench {PHASES_CHILD}: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let options = match Options::parse(args) {
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Some(options)) => options,
        Err(e) => {
            eprintln!("agent-bench: {e:#}\n\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    // One thread: the ACS, the Connection Request client and the control-socket client are
    // all I/O, and the agent under test gets the machine's other cores.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("agent-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = bench(&options) => outcome,
            _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
        }
    });
    // Whatever happened, the agents were dropped (and killed) with the bench future.
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agent-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: agent-bench [--runs N] [--cr N] [--per-agent N] [--settle MS] \
                     [--work-dir DIR] [--keep] [--agent-log FILTER] [--only startup,cr,phases,size] \
                     [CPE_BINARY]";

/// The parts of the bench, for `--only`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Startup,
    ConnectionRequest,
    Phases,
    Size,
}

impl Section {
    const ALL: [Self; 4] = [
        Self::Startup,
        Self::ConnectionRequest,
        Self::Phases,
        Self::Size,
    ];

    fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(match text {
            "startup" => Self::Startup,
            "cr" => Self::ConnectionRequest,
            "phases" => Self::Phases,
            "size" => Self::Size,
            _ => bail!("--only: `{text}` is none of startup, cr, phases, size"),
        })
    }
}

/// Command-line options.
struct Options {
    cpe: PathBuf,
    runs: usize,
    cr_samples: usize,
    per_agent: usize,
    settle: Duration,
    work_dir: Option<PathBuf>,
    keep: bool,
    agent_log: Option<String>,
    sections: Vec<Section>,
}

impl Options {
    /// The options, or `None` for `--help`.
    fn parse(mut args: impl Iterator<Item = String>) -> anyhow::Result<Option<Self>> {
        let mut options = Self {
            cpe: default_binary(),
            runs: 20,
            cr_samples: 20,
            per_agent: 5,
            settle: Duration::from_millis(500),
            work_dir: None,
            keep: false,
            agent_log: None,
            sections: Section::ALL.to_vec(),
        };
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| anyhow!("{name} needs a value"));
            let number = |name: &str, text: String| {
                text.parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| anyhow!("{name}: `{text}` is not a positive number"))
            };
            match arg.as_str() {
                "--runs" => options.runs = number("--runs", value("--runs")?)?,
                "--cr" => options.cr_samples = number("--cr", value("--cr")?)?,
                "--per-agent" => {
                    options.per_agent = number("--per-agent", value("--per-agent")?)?;
                }
                "--settle" => {
                    let ms = number("--settle", value("--settle")?)?;
                    options.settle = Duration::from_millis(ms as u64);
                }
                "--work-dir" => options.work_dir = Some(value("--work-dir")?.into()),
                "--keep" => options.keep = true,
                "--agent-log" => options.agent_log = Some(value("--agent-log")?),
                "--only" => {
                    options.sections = value("--only")?
                        .split(',')
                        .map(Section::parse)
                        .collect::<anyhow::Result<_>>()?;
                }
                "-h" | "--help" => return Ok(None),
                flag if flag.starts_with('-') => bail!("unknown option {flag}"),
                path => options.cpe = path.into(),
            }
        }
        Ok(Some(options))
    }
}

/// `<target>/<profile>/cpe` next to `<target>/<profile>/examples/agent-bench`.
fn default_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("cpe")))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from("target/release/cpe"))
}

async fn bench(options: &Options) -> anyhow::Result<()> {
    let cpe = options.cpe.canonicalize().with_context(|| {
        format!(
            "{}: build it first (cargo build --release -p cpe)",
            options.cpe.display()
        )
    })?;
    let work = match &options.work_dir {
        Some(dir) => tempfile::Builder::new()
            .prefix("agent-bench-")
            .tempdir_in(dir),
        None => tempfile::Builder::new().prefix("agent-bench-").tempdir(),
    }
    .context("creating the work directory")?;
    let mut acs = Acs::start().await?;
    let launcher = Launcher {
        cpe: cpe.clone(),
        acs_url: acs.url.clone(),
        log_filter: options.agent_log.clone(),
    };
    let mut report = Report {
        load_before: load_average(),
        ..Report::default()
    };
    eprintln!("cpe binary: {}", cpe.display());
    eprintln!("work dir:   {}", work.path().display());
    let wanted = |section| options.sections.contains(&section);

    if wanted(Section::Startup) || wanted(Section::ConnectionRequest) {
        // Warm-up: page cache, first-run effects. Not counted.
        let dir = work.path().join("warm-up");
        let mut agent = launcher.spawn(&dir, "BENCH-WARM")?;
        acs.next_inform("BENCH-WARM").await?;
        acs.session_end("BENCH-WARM").await?;
        agent.wait_idle(1).await?;
    }
    if wanted(Section::Startup) {
        startup(&launcher, options, &mut acs, work.path(), &mut report).await?;
    }
    if wanted(Section::ConnectionRequest) {
        connection_requests(&launcher, options, &mut acs, work.path(), &mut report).await?;
    }
    if wanted(Section::Phases) {
        eprintln!("start-up phases: {} runs", options.runs);
        report.phases = phases(&cpe, options.runs, work.path())?;
    }
    if wanted(Section::Size) {
        report.size = Some(binary_size(&cpe, work.path())?);
    }
    report.load_after = load_average();
    println!("{}", report.render(&cpe, options, work.path()));
    if options.keep {
        let kept = work.keep();
        eprintln!("kept {} (agent logs: *.log)", kept.display());
    }
    Ok(())
}

/// Start-up to the first Inform, fresh and restarted, and the idle memory after the boot
/// session.
async fn startup(
    launcher: &Launcher,
    options: &Options,
    acs: &mut Acs,
    work: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    eprintln!("start-up: {} runs", options.runs);
    for run in 0..options.runs {
        let serial = format!("BENCH-START-{run}");
        let dir = work.join(format!("start-{run}"));
        let mut agent = launcher.spawn(&dir, &serial)?;
        let inform = acs.next_inform(&serial).await?;
        ensure!(
            inform.events.contains(&EventCode::Bootstrap),
            "a fresh agent sent no 0 BOOTSTRAP: {:?}",
            inform.events
        );
        report
            .startup_fresh
            .push(ms(inform.received.duration_since(agent.spawned)));
        acs.session_end(&serial).await?;
        agent.wait_idle(1).await?;
        tokio::time::sleep(options.settle).await;
        report.idle_boot.push(agent.memory()?);
        drop(agent);

        // The same state directory again: a restart, 1 BOOT only.
        let mut agent = launcher.spawn(&dir, &serial)?;
        let inform = acs.next_inform(&serial).await?;
        ensure!(
            !inform.events.contains(&EventCode::Bootstrap),
            "a restarted agent sent 0 BOOTSTRAP again: {:?}",
            inform.events
        );
        report
            .startup_restart
            .push(ms(inform.received.duration_since(agent.spawned)));
        acs.session_end(&serial).await?;
        agent.wait_idle(2).await?;
    }
    Ok(())
}

/// Connection Request to Inform, `--per-agent` requests from each of several agents.
async fn connection_requests(
    launcher: &Launcher,
    options: &Options,
    acs: &mut Acs,
    work: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let agents = options.cr_samples.div_ceil(options.per_agent);
    eprintln!(
        "connection requests: {} samples from {agents} agents",
        options.cr_samples
    );
    let mut left = options.cr_samples;
    for n in 0..agents {
        let serial = format!("BENCH-CR-{n}");
        let dir = work.join(format!("cr-{n}"));
        let mut agent = launcher.spawn(&dir, &serial)?;
        acs.next_inform(&serial).await?;
        acs.session_end(&serial).await?;
        agent.wait_idle(1).await?;
        let url = agent.set_up_connection_requests().await?;
        // Setting the credentials must not open a session; give it a chance to, then check.
        tokio::time::sleep(Duration::from_millis(200)).await;
        ensure!(
            acs.pending() == 0,
            "setting the credentials opened a session"
        );
        let mut sessions = 1;
        for _ in 0..options.per_agent.min(left) {
            let timing = connection_request(&url, CR_USER, CR_PASSWORD).await?;
            ensure!(
                timing.status == 200 || timing.status == 204,
                "the Connection Request got {}",
                timing.status
            );
            let inform = acs.next_inform(&serial).await?;
            ensure!(
                inform.events.contains(&EventCode::ConnectionRequest),
                "the Inform after a Connection Request lacks 6 CONNECTION REQUEST: {:?}",
                inform.events
            );
            report
                .cr_from_get
                .push(signed_ms(inform.received, timing.sent_get));
            report
                .cr_from_200
                .push(signed_ms(inform.received, timing.got_answer));
            acs.session_end(&serial).await?;
            sessions += 1;
            agent.wait_idle(sessions).await?;
            left -= 1;
        }
        tokio::time::sleep(options.settle).await;
        report.idle_after_cr.push(agent.memory()?);
    }
    Ok(())
}

/// `/proc/loadavg`'s 1-minute figure: how busy the machine was.
fn load_average() -> Option<f64> {
    fs::read_to_string("/proc/loadavg")
        .ok()?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// `later - earlier` in milliseconds, negative if `later` came first.
fn signed_ms(later: Instant, earlier: Instant) -> f64 {
    match later.checked_duration_since(earlier) {
        Some(d) => ms(d),
        None => -ms(earlier.duration_since(later)),
    }
}

/// A `cpe run` child process, killed when dropped.
struct Agent {
    child: Child,
    state_dir: PathBuf,
    spawned: Instant,
}

/// How to start an agent.
struct Launcher {
    cpe: PathBuf,
    acs_url: String,
    /// `RUST_LOG` for the agents; their default (`info`) when `None`.
    log_filter: Option<String>,
}

impl Launcher {
    /// Starts `cpe run` with its log on `<state_dir>.log`.
    fn spawn(&self, state_dir: &Path, serial: &str) -> anyhow::Result<Agent> {
        let log_path = state_dir.with_extension("log");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("{}", log_path.display()))?;
        let mut command = Command::new(&self.cpe);
        command
            .arg("run")
            .arg("--acs-url")
            .arg(&self.acs_url)
            .arg("--state-dir")
            .arg(state_dir)
            .arg("--connreq-listen")
            .arg("127.0.0.1:0")
            .arg("--serial")
            .arg(serial)
            .env_remove("RUST_LOG")
            .env_remove("CPE_CONFIG")
            .env_remove("CPE_PROFILE")
            .env_remove("CPE_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(filter) = &self.log_filter {
            command.env("RUST_LOG", filter);
        }
        let spawned = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", self.cpe.display()))?;
        Ok(Agent {
            child,
            state_dir: state_dir.to_owned(),
            spawned,
        })
    }
}

impl Agent {
    /// Waits until the agent reports `sessions` successful sessions and none in progress.
    async fn wait_idle(&mut self, sessions: u64) -> anyhow::Result<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the agent exited: {status}; see {}.log",
                    self.state_dir.display()
                );
            }
            if let Ok(Response::Status(status)) =
                control::request(&self.state_dir, &Request::Status).await
            {
                ensure!(
                    status.sessions_failed == 0,
                    "a session failed: {:?}",
                    status.last_session
                );
                if status.sessions_ok >= sessions && !status.in_session {
                    return Ok(());
                }
            }
            ensure!(
                Instant::now() < deadline,
                "the agent was not idle after {sessions} sessions within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Sets the Connection Request credentials; returns `ConnectionRequestURL`.
    async fn set_up_connection_requests(&self) -> anyhow::Result<String> {
        const MS: &str = "Device.ManagementServer.";
        let set = Request::Set {
            values: vec![
                (format!("{MS}ConnectionRequestUsername"), CR_USER.into()),
                (format!("{MS}ConnectionRequestPassword"), CR_PASSWORD.into()),
            ],
        };
        let answer = control::request(&self.state_dir, &set).await?;
        ensure!(answer == Response::Done, "set: {answer:?}");
        let get = Request::Get {
            paths: vec![format!("{MS}ConnectionRequestURL")],
        };
        match control::request(&self.state_dir, &get).await? {
            Response::Values { values } if values.len() == 1 => Ok(values[0].1.clone()),
            other => bail!("get ConnectionRequestURL: {other:?}"),
        }
    }

    /// The process's memory figures now.
    fn memory(&self) -> anyhow::Result<Memory> {
        let path = format!("/proc/{}/status", self.child.id());
        let text = fs::read_to_string(&path).with_context(|| path.clone())?;
        let field = |name: &str| -> anyhow::Result<u64> {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|rest| rest.trim().strip_suffix("kB")?.trim().parse().ok())
                .ok_or_else(|| anyhow!("{path} has no {name}"))
        };
        Ok(Memory {
            rss_kib: field("VmRSS")?,
            hwm_kib: field("VmHWM")?,
            anon_kib: field("RssAnon")?,
            // A binary run from tmpfs has its pages in RssShmem instead.
            file_kib: field("RssFile")? + field("RssShmem").unwrap_or(0),
            threads: field_plain(&text, "Threads").unwrap_or(0),
            maps: Mappings::of(self.child.id())?,
        })
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `Name:\tvalue` line of `/proc/<pid>/status` without a unit.
fn field_plain(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().parse().ok())
}

/// Memory figures of one process, in KiB.
#[derive(Clone, Copy, Debug)]
struct Memory {
    rss_kib: u64,
    hwm_kib: u64,
    anon_kib: u64,
    file_kib: u64,
    threads: u64,
    /// RSS by mapping, from `/proc/<pid>/smaps`.
    maps: Mappings,
}

/// RSS of one process by kind of mapping, KiB.
#[derive(Clone, Copy, Debug, Default)]
struct Mappings {
    /// The executable's own pages (text, rodata, data).
    binary: u64,
    /// Shared libraries (libc, libm, the dynamic loader...).
    libraries: u64,
    /// `[heap]`: what `brk` holds.
    heap: u64,
    /// Every other mapping: anonymous ones (large allocations, thread arenas and stacks),
    /// `[stack]`, `[vdso]`...
    other: u64,
}

impl Mappings {
    /// Reads `/proc/<pid>/smaps`.
    fn of(pid: u32) -> anyhow::Result<Self> {
        let exe = fs::read_link(format!("/proc/{pid}/exe"))?;
        let text = fs::read_to_string(format!("/proc/{pid}/smaps"))?;
        let mut maps = Self::default();
        let mut current = "";
        for line in text.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if first.contains('-') && !first.ends_with(':') {
                // `start-end perms offset dev inode [path]`
                current = line.split_whitespace().nth(5).unwrap_or("");
            } else if let Some(rest) = line.strip_prefix("Rss:") {
                let kib: u64 = rest.trim().trim_end_matches("kB").trim().parse()?;
                let slot = if Path::new(current) == exe {
                    &mut maps.binary
                } else if current.starts_with('/') {
                    &mut maps.libraries
                } else if current == "[heap]" {
                    &mut maps.heap
                } else {
                    &mut maps.other
                };
                *slot += kib;
            }
        }
        Ok(maps)
    }
}

/// An Inform as the ACS received it.
#[derive(Debug)]
struct Inform {
    serial: String,
    events: Vec<EventCode>,
    /// When the whole request (headers and body) had been read.
    received: Instant,
}

/// What the ACS reports to the bench.
#[derive(Debug)]
enum AcsEvent {
    Inform(Inform),
    /// The CPE's empty POST, answered with 204: the session is over for the ACS.
    SessionEnd {
        serial: String,
    },
}

/// A minimal ACS on loopback: raw HTTP/1.1 (as `cpe/tests/agent/support/acs.rs`), answering
/// an Inform with an InformResponse and anything else with 204.
struct Acs {
    url: String,
    events: mpsc::UnboundedReceiver<AcsEvent>,
    /// Events read from the channel while looking for another serial number.
    stash: Vec<AcsEvent>,
}

impl Acs {
    async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/acs", listener.local_addr()?);
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_acs(stream, tx.clone()));
            }
        });
        Ok(Self {
            url,
            events,
            stash: Vec::new(),
        })
    }

    /// Events waiting to be read.
    fn pending(&mut self) -> usize {
        while let Ok(event) = self.events.try_recv() {
            self.stash.push(event);
        }
        self.stash.len()
    }

    /// The next event matching `pick`, within [`WAIT`].
    async fn next(
        &mut self,
        mut pick: impl FnMut(&AcsEvent) -> bool,
        what: &str,
    ) -> anyhow::Result<AcsEvent> {
        if let Some(i) = self.stash.iter().position(&mut pick) {
            return Ok(self.stash.remove(i));
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .map_err(|_| anyhow!("no {what} within {WAIT:?}"))?
                .ok_or_else(|| anyhow!("the ACS stopped"))?;
            if pick(&event) {
                return Ok(event);
            }
            self.stash.push(event);
        }
    }

    /// The next Inform from the agent with this serial number.
    async fn next_inform(&mut self, serial: &str) -> anyhow::Result<Inform> {
        let pick = |e: &AcsEvent| matches!(e, AcsEvent::Inform(i) if i.serial == serial);
        match self.next(pick, &format!("Inform from {serial}")).await? {
            AcsEvent::Inform(inform) => Ok(inform),
            AcsEvent::SessionEnd { .. } => unreachable!("picked an Inform"),
        }
    }

    /// The end of the current session of the agent with this serial number.
    async fn session_end(&mut self, serial: &str) -> anyhow::Result<()> {
        let pick = |e: &AcsEvent| matches!(e, AcsEvent::SessionEnd { serial: s } if s == serial);
        self.next(pick, &format!("session end from {serial}"))
            .await
            .map(drop)
    }
}

/// Serves one connection: reads requests, timestamps them, answers.
async fn serve_acs(stream: TcpStream, events: mpsc::UnboundedSender<AcsEvent>) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    // The serial number of the last Inform on this connection (the session's CPE).
    let mut serial = String::new();
    loop {
        let Ok(Some(body)) = read_request(&mut read).await else {
            return;
        };
        let received = Instant::now();
        let (status, reply) = if body.is_empty() {
            let _ = events.send(AcsEvent::SessionEnd {
                serial: serial.clone(),
            });
            (204, Vec::new())
        } else {
            match Envelope::parse(&body) {
                Ok(Envelope {
                    namespace,
                    header,
                    body: Body::Inform(inform),
                }) => {
                    serial.clone_from(&inform.device_id.serial_number);
                    let _ = events.send(AcsEvent::Inform(Inform {
                        serial: serial.clone(),
                        events: inform.event.into_iter().map(|e| e.event_code).collect(),
                        received,
                    }));
                    let mut reply = Envelope::new(namespace, InformResponse { max_envelopes: 1 });
                    reply.header.id = header.id;
                    (200, reply.write())
                }
                _ => (204, Vec::new()),
            }
        };
        let mut head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\n",
            if status == 200 { "OK" } else { "No Content" },
            reply.len()
        );
        if !reply.is_empty() {
            head.push_str("Content-Type: text/xml; charset=\"utf-8\"\r\n");
        }
        head.push_str("\r\n");
        if write.write_all(head.as_bytes()).await.is_err() || write.write_all(&reply).await.is_err()
        {
            return;
        }
    }
}

/// Reads one request; its body, or `None` at the end of the connection. Bounded by [`WAIT`]
/// per request (an idle keep-alive connection is dropped after that).
async fn read_request(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> anyhow::Result<Option<Vec<u8>>> {
    let work = async {
        let mut start = String::new();
        if read.read_line(&mut start).await? == 0 {
            return Ok(None);
        }
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if read.read_line(&mut line).await? == 0 {
                return Ok(None);
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.trim().eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().context("Content-Length")?;
            }
        }
        ensure!(length <= 1 << 20, "a {length}-byte request");
        let mut body = vec![0; length];
        read.read_exact(&mut body).await?;
        Ok(Some(body))
    };
    tokio::time::timeout(WAIT * 6, work)
        .await
        .unwrap_or(Ok(None))
}

/// When the parts of one Connection Request happened.
struct CrTiming {
    status: u16,
    /// Just before the authenticated GET was written.
    sent_get: Instant,
    /// Just after its response (status line, headers, body) was read.
    got_answer: Instant,
}

/// Sends a Connection Request as an ACS does: GET, 401 with a Digest challenge, GET with the
/// answer on the same connection (as `cpe/tests/agent/support/cr.rs`).
async fn connection_request(url: &str, user: &str, password: &str) -> anyhow::Result<CrTiming> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("not an http URL: {url}"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = format!("/{path}");
    let work = async {
        let stream = TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        let mut stream = BufReader::new(stream);
        let (status, challenge) = cr_exchange(&mut stream, &path, None).await?;
        let challenge = challenge
            .filter(|_| status == 401)
            .ok_or_else(|| anyhow!("the first GET got {status} without a Digest challenge"))?;
        let mut client = PasswordClient::try_from(challenge.as_str()).map_err(|e| anyhow!(e))?;
        let answer = client
            .respond(&PasswordParams {
                username: user,
                password,
                uri: &path,
                method: "GET",
                body: None,
            })
            .map_err(|e| anyhow!(e))?;
        let sent_get = Instant::now();
        let (status, _) = cr_exchange(&mut stream, &path, Some(&answer)).await?;
        Ok(CrTiming {
            status,
            sent_get,
            got_answer: Instant::now(),
        })
    };
    tokio::time::timeout(WAIT, work)
        .await
        .map_err(|_| anyhow!("the Connection Request took over {WAIT:?}"))?
}

/// One GET and its response: the status and any Digest challenge.
async fn cr_exchange(
    stream: &mut BufReader<TcpStream>,
    path: &str,
    authorization: Option<&str>,
) -> anyhow::Result<(u16, Option<String>)> {
    let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: cpe\r\n{auth}\r\n");
    stream.get_mut().write_all(request.as_bytes()).await?;
    let mut status_line = String::new();
    stream.read_line(&mut status_line).await?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("bad status line {status_line:?}"))?;
    let (mut challenge, mut length) = (None, 0usize);
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "www-authenticate" if value.trim().starts_with("Digest") => {
                    challenge = Some(value.trim().to_owned());
                }
                "content-length" => length = value.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    ensure!(length <= 1 << 16, "a {length}-byte response");
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    Ok((status, challenge))
}

/// The hidden argument that makes this program time the start-up phases in-process.
const PHASES_CHILD: &str = "--phases-child";

/// Times the agent's start-up phases, each in a fresh process (so each is cold, as at a real
/// start), `runs` times; also `cpe --version`, spawn to exit (exec, dynamic linking, argument
/// parsing). Returns each phase's samples in the order run.
fn phases(cpe: &Path, runs: usize, work: &Path) -> anyhow::Result<Vec<(String, Vec<Phase>)>> {
    let exe = std::env::current_exe()?;
    let mut phases: Vec<(String, Vec<Phase>)> = Vec::new();
    let mut record = |name: &str, value: Phase| match phases.iter_mut().find(|(n, _)| n == name) {
        Some((_, samples)) => samples.push(value),
        None => phases.push((name.to_owned(), vec![value])),
    };
    for run in 0..runs {
        let started = Instant::now();
        let status = run_bounded(Command::new(cpe).arg("--version").stdout(Stdio::null()))?;
        ensure!(status.success(), "cpe --version: {status}");
        let time = ms(started.elapsed());
        record(
            "`cpe --version`: spawn to exit (another process)",
            Phase {
                ms: time,
                anon_kib: None,
                file_kib: None,
            },
        );
        let dir = work.join(format!("phases-{run}"));
        fs::create_dir_all(&dir)?;
        let out = work.join(format!("phases-{run}.txt"));
        let status = run_bounded(
            Command::new(&exe)
                .arg(PHASES_CHILD)
                .arg(&dir)
                .stdout(fs::File::create(&out)?),
        )?;
        ensure!(status.success(), "{PHASES_CHILD}: {status}");
        for line in fs::read_to_string(&out)?.lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            let [name, time, anon, file] = fields[..] else {
                bail!("{PHASES_CHILD} printed {line:?}");
            };
            record(name, Phase::new(time, anon, file)?);
        }
    }
    Ok(phases)
}

/// One run of one start-up phase.
struct Phase {
    ms: f64,
    /// Growth of `RssAnon` over the phase, KiB.
    anon_kib: Option<f64>,
    /// Growth of `RssFile` over the phase, KiB.
    file_kib: Option<f64>,
}

impl Phase {
    fn new(ms: &str, anon_kib: &str, file_kib: &str) -> anyhow::Result<Self> {
        Ok(Self {
            ms: ms.parse()?,
            anon_kib: Some(anon_kib.parse()?),
            file_kib: Some(file_kib.parse()?),
        })
    }
}

/// Runs `command` to its end, killing it after [`WAIT`].
fn run_bounded(command: &mut Command) -> anyhow::Result<std::process::ExitStatus> {
    let mut child = command.stdin(Stdio::null()).spawn()?;
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{command:?} took over {WAIT:?}");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The child of [`phases`]: runs what `Agent::start` does, step by step, in its order, and
/// prints `name<TAB>milliseconds` per step. State files go to `dir`.
fn phases_child(dir: &Path) -> anyhow::Result<()> {
    use cpe::agent::AgentState;
    use cpe::connreq::{ConnectionRequestServer, CredentialSource, ServerConfig, signal};
    use cpe::events::{Events, Timestamp};
    use cpe::model::{DataModel, Profile};
    use cpe::transport::{Client, TlsSettings, TransportConfig};
    use std::sync::Arc;

    let mut lines = String::new();
    let mut memory = own_memory();
    let mut lap = |name: &str, started: Instant| {
        let elapsed = ms(started.elapsed());
        let now = own_memory();
        let _ = writeln!(
            lines,
            "{name}\t{elapsed:.4}\t{}\t{}",
            now.0 as i64 - memory.0 as i64,
            now.1 as i64 - memory.1 as i64
        );
        memory = own_memory();
    };

    let t = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    lap("tokio runtime (multi-thread, 2 workers here)", t);

    let t = Instant::now();
    let _ = schemas::model::parameter("Device.DeviceInfo.Manufacturer");
    lap("TR-181 table parse (first lookup)", t);

    let t = Instant::now();
    let profile = Arc::new(Profile::default_gateway());
    lap("default profile (TOML, table parsed)", t);

    let t = Instant::now();
    let model = DataModel::new(profile);
    lap("data model from the profile", t);

    let t = Instant::now();
    let events = Events::new(Timestamp::from_system_time(std::time::SystemTime::now()));
    lap("events state", t);

    let t = Instant::now();
    let client = Client::new(TransportConfig::default())?;
    lap("TLS client config + system CA bundle", t);
    drop(client);

    let t = Instant::now();
    let no_bundle = TransportConfig {
        tls: TlsSettings {
            system_ca_file: dir.join("no-such-bundle.pem"),
            ..TlsSettings::default()
        },
        ..TransportConfig::default()
    };
    let client = Client::new(no_bundle)?;
    lap("TLS client config, no CA bundle", t);
    drop(client);

    let t = Instant::now();
    let (notifier, _waiter) = signal::channel();
    let server = runtime.block_on(
        ConnectionRequestServer::builder(ServerConfig {
            listen: "127.0.0.1:0".parse()?,
            ..ServerConfig::default()
        })
        .bind(CredentialSource::from_fn(|| None), notifier),
    )?;
    lap("Connection Request server bind", t);
    drop(server);

    let model_state = model.state();
    let events_state = events.state();
    let agent_state = AgentState::default();
    let t = Instant::now();
    cpe::persist::save(&dir.join("model.json"), &model_state)?;
    cpe::persist::save(&dir.join("events.json"), &events_state)?;
    cpe::persist::save(&dir.join("agent.json"), &agent_state)?;
    lap("3 state files saved (fsync file + dir each)", t);

    let t = Instant::now();
    cpe::persist::save(&dir.join("events.json"), &events_state)?;
    lap("1 state file saved (fsync file + dir)", t);

    let t = Instant::now();
    for (name, bytes) in [
        ("model.json", serde_json::to_vec_pretty(&model_state)?),
        ("events.json", serde_json::to_vec_pretty(&events_state)?),
        ("agent.json", serde_json::to_vec_pretty(&agent_state)?),
    ] {
        let temp = dir.join(format!(".{name}.tmp"));
        fs::write(&temp, bytes)?;
        fs::rename(&temp, dir.join(name))?;
    }
    lap("3 state files written, no fsync", t);

    drop(runtime);
    print!("{lines}");
    Ok(())
}

/// This process's `RssAnon` and `RssFile` (KiB).
fn own_memory() -> (u64, u64) {
    let text = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |name| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().strip_suffix("kB")?.trim().parse().ok())
            .unwrap_or(0)
    };
    (kib("RssAnon"), kib("RssFile"))
}

/// Sizes of the binary, in bytes.
struct Size {
    bytes: u64,
    stripped: Option<u64>,
}

/// The binary's size, and that of a stripped copy if `strip` runs.
fn binary_size(cpe: &Path, work: &Path) -> anyhow::Result<Size> {
    let bytes = fs::metadata(cpe)?.len();
    let copy = work.join("cpe.stripped");
    fs::copy(cpe, &copy)?;
    let stripped = Command::new("strip")
        .arg(&copy)
        .status()
        .ok()
        .filter(|s| s.success())
        .and_then(|_| fs::metadata(&copy).ok())
        .map(|m| m.len());
    Ok(Size { bytes, stripped })
}

/// Everything measured.
#[derive(Default)]
struct Report {
    startup_fresh: Vec<f64>,
    startup_restart: Vec<f64>,
    idle_boot: Vec<Memory>,
    idle_after_cr: Vec<Memory>,
    cr_from_get: Vec<f64>,
    cr_from_200: Vec<f64>,
    size: Option<Size>,
    phases: Vec<(String, Vec<Phase>)>,
    load_before: Option<f64>,
    load_after: Option<f64>,
}

/// Summary of a sample: nearest-rank percentiles.
struct Summary {
    n: usize,
    min: f64,
    p50: f64,
    p90: f64,
    max: f64,
}

/// `None` for an empty sample.
fn summarize(samples: &[f64]) -> Option<Summary> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let rank = |q: f64| sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
    (n > 0).then(|| Summary {
        n,
        min: sorted[0],
        p50: rank(0.5),
        p90: rank(0.9),
        max: sorted[n - 1],
    })
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "**MISS**" }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

impl Report {
    fn render(&self, cpe: &Path, options: &Options, work: &Path) -> String {
        let mut out = String::new();
        let load = |l: Option<f64>| l.map_or_else(|| "?".to_owned(), |l| format!("{l:.2}"));
        let _ = writeln!(out, "\n## agent-bench\n");
        let _ = writeln!(out, "- binary: `{}`", cpe.display());
        let _ = writeln!(out, "- machine: {}", machine());
        let _ = writeln!(
            out,
            "- load average (1 min) before / after: {} / {}",
            load(self.load_before),
            load(self.load_after)
        );
        let _ = writeln!(
            out,
            "- state directories under `{}` ({})",
            work.display(),
            filesystem(work)
        );
        let _ = writeln!(
            out,
            "- {} start-up runs, {} Connection Requests ({} per agent), RSS read {} ms after \
             the last session",
            self.startup_fresh.len(),
            self.cr_from_get.len(),
            options.per_agent,
            options.settle.as_millis()
        );
        self.render_times(&mut out);
        self.render_memory(&mut out);
        self.render_phases(&mut out);
        if let Some(size) = &self.size {
            let _ = writeln!(
                out,
                "\n| binary | bytes | MiB |\n| --- | ---: | ---: |\n| `cpe` | {} | {:.2} |",
                size.bytes,
                mib(size.bytes)
            );
            let _ = match size.stripped {
                Some(bytes) => writeln!(out, "| `cpe`, stripped | {bytes} | {:.2} |", mib(bytes)),
                None => writeln!(out, "| `cpe`, stripped | (strip not found) | |"),
            };
        }
        out
    }

    fn render_times(&self, out: &mut String) {
        if self.startup_fresh.is_empty() && self.cr_from_get.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\nTimes in ms; p50 and p90 are nearest-rank.\n\n\
             | measure | n | min | p50 | p90 | max | budget | verdict |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"
        );
        /// A row: its name, its samples, and its budget (text, limit on p50) if it has one.
        type Row<'a> = (&'a str, &'a [f64], Option<(&'a str, f64)>);
        let rows: [Row<'_>; 4] = [
            (
                "start-up to first Inform, fresh state",
                &self.startup_fresh,
                Some(("p50 <= 50 ms", BUDGET_STARTUP_MS)),
            ),
            (
                "start-up to first Inform, restart",
                &self.startup_restart,
                None,
            ),
            (
                "CR (authenticated GET written) to Inform",
                &self.cr_from_get,
                Some(("p50 <= 5 ms", BUDGET_CR_MS)),
            ),
            ("CR (its 200 read) to Inform", &self.cr_from_200, None),
        ];
        for (name, samples, budget) in rows {
            let Some(s) = summarize(samples) else {
                continue;
            };
            let (budget, pass) = match budget {
                Some((text, limit)) => (text, verdict(s.p50 <= limit)),
                None => ("-", ""),
            };
            let _ = writeln!(
                out,
                "| {name} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {budget} | {pass} |",
                s.n, s.min, s.p50, s.p90, s.max
            );
        }
    }

    fn render_memory(&self, out: &mut String) {
        if self.idle_boot.is_empty() && self.idle_after_cr.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\nMemory in MiB from `/proc/<pid>/status`: medians over the agents (max).\n\n\
             | when | n | VmRSS | VmHWM | RssAnon | RssFile | threads | budget | verdict |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
        );
        let rows: [(&str, &[Memory], bool); 2] = [
            ("idle after the boot session", &self.idle_boot, true),
            (
                "idle after the boot and CR sessions",
                &self.idle_after_cr,
                false,
            ),
        ];
        for (name, samples, budget) in rows {
            let field = |f: fn(&Memory) -> u64| {
                let kib: Vec<f64> = samples.iter().map(|m| f(m) as f64 / 1024.0).collect();
                summarize(&kib)
            };
            let (Some(rss), Some(hwm), Some(anon), Some(file)) = (
                field(|m| m.rss_kib),
                field(|m| m.hwm_kib),
                field(|m| m.anon_kib),
                field(|m| m.file_kib),
            ) else {
                continue;
            };
            let (budget, pass) = if budget {
                ("VmRSS <= 8 MiB", verdict(rss.max <= BUDGET_RSS_MIB))
            } else {
                ("-", "")
            };
            let threads = samples.iter().map(|m| m.threads).max().unwrap_or(0);
            let _ = writeln!(
                out,
                "| {name} | {} | {:.2} ({:.2}) | {:.2} ({:.2}) | {:.2} ({:.2}) | {:.2} ({:.2}) \
                 | {threads} | {budget} | {pass} |",
                rss.n, rss.p50, rss.max, hwm.p50, hwm.max, anon.p50, anon.max, file.p50, file.max,
            );
        }
        let _ = writeln!(
            out,
            "\nRSS by mapping (`/proc/<pid>/smaps`), MiB, medians (max).\n\n\
             | when | `cpe` binary | shared libraries | `[heap]` | other anonymous, stacks |\n\
             | --- | ---: | ---: | ---: | ---: |"
        );
        for (name, samples, _) in rows {
            let part = |f: fn(&Mappings) -> u64| {
                let mib: Vec<f64> = samples.iter().map(|m| f(&m.maps) as f64 / 1024.0).collect();
                summarize(&mib).map_or_else(String::new, |s| format!("{:.2} ({:.2})", s.p50, s.max))
            };
            if samples.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} |",
                part(|m| m.binary),
                part(|m| m.libraries),
                part(|m| m.heap),
                part(|m| m.other)
            );
        }
    }

    fn render_phases(&self, out: &mut String) {
        if self.phases.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\nStart-up phases, each run in a fresh process, in the agent's order: time (ms) and \
             growth of RssAnon / RssFile (KiB, medians).\n\n\
             | phase | n | min ms | p50 ms | p90 ms | RssAnon KiB | RssFile KiB |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for (name, samples) in &self.phases {
            let times: Vec<f64> = samples.iter().map(|p| p.ms).collect();
            let kib = |f: fn(&Phase) -> Option<f64>| {
                let values: Vec<f64> = samples.iter().filter_map(f).collect();
                summarize(&values).map_or_else(|| "-".to_owned(), |s| format!("{:.0}", s.p50))
            };
            if let Some(s) = summarize(&times) {
                let _ = writeln!(
                    out,
                    "| {name} | {} | {:.3} | {:.3} | {:.3} | {} | {} |",
                    s.n,
                    s.min,
                    s.p50,
                    s.p90,
                    kib(|p| p.anon_kib),
                    kib(|p| p.file_kib)
                );
            }
        }
    }
}

/// `nproc`, CPU model and kernel, from `/proc`.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, m)| m.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_default();
    format!("{cpus} CPUs, {model}, Linux {kernel}")
}

/// The file system type holding `path`, from `/proc/self/mounts` (longest mount point).
fn filesystem(path: &Path) -> String {
    let Ok(mounts) = fs::read_to_string("/proc/self/mounts") else {
        return "file system unknown".into();
    };
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let (_, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(point)
                .then(|| (point.len(), kind.to_owned()))
        })
        .max()
        .map_or_else(|| "file system unknown".into(), |(_, kind)| kind)
}
