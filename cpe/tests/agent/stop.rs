//! Safe stop and health with the real `cpe` binary: `cpe stop` refuses during a CWMP session
//! and names it, `cpe stop --force` and SIGTERM stop the agent with its state saved, and the
//! next start's Inform carries the events the ACS never acknowledged (TR-069 §3.7.1.5);
//! `cpe status --check` exits 0 when healthy, 1 when not, 3 when no agent runs.
//!
//! The session is held open by an ACS front on loopback that accepts the connection and never
//! answers; while it does not hold, it passes the bytes to a scripted ACS.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpe::control::{self, Request, Response, Status};
use schemas::rpc::{Download, EventCode, Reboot};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use crate::support::acs::{HttpRequest, ScriptedAcs};
use crate::support::cwmp::{cpe_binary, events, reply, script, wait_informs};
use crate::support::{Running, agent_config, validate};

/// The CommandKey of the Reboot the ACS asks for in the first session.
const KEY: &str = "rb-stop";

/// An ACS front: while `hold` is set a new connection is held open unanswered until the CPE
/// closes it; otherwise it is spliced to the scripted ACS.
struct Front {
    url: String,
    hold: Arc<AtomicBool>,
}

impl Front {
    async fn start(acs: &ScriptedAcs, hold: Arc<AtomicBool>) -> Self {
        let backend: SocketAddr = acs
            .url
            .trim_start_matches("http://")
            .trim_end_matches("/acs")
            .parse()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/acs", listener.local_addr().unwrap());
        let holding = hold.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let held = holding.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    if held {
                        hold_open(stream).await;
                    } else if let Ok(mut acs) = TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut stream, &mut acs).await;
                    }
                });
            }
        });
        Self { url, hold }
    }
}

/// Holds a connection open without answering, until the peer closes it.
async fn hold_open(mut stream: TcpStream) {
    let mut sink = Vec::new();
    let _ = stream.read_to_end(&mut sink).await;
}

/// A file server that never answers: `http://127.0.0.1:port`, and how many connections it
/// accepted.
async fn holding_file_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(hold_open(stream));
        }
    });
    (base, accepted)
}

/// The `cpe run` child; killed and reaped if the test ends before it exits.
struct Agent(Child);

impl Agent {
    fn spawn(acs_url: &str, state_dir: &Path) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_cpe"))
            .args([
                "run",
                "--acs-url",
                acs_url,
                "--connreq-listen",
                "127.0.0.1:0",
            ])
            .arg("--state-dir")
            .arg(state_dir)
            .env("RUST_LOG", "info")
            .env_remove("CPE_CONFIG")
            .env_remove("CPE_PROFILE")
            .env_remove("CPE_SERIAL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cpe starts");
        Self(child)
    }

    /// Waits (up to 20 s) for the process to exit; whether it exited with success.
    async fn exited(&mut self) -> bool {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                if let Some(status) = self.0.try_wait().unwrap() {
                    return status.success();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the agent exits")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The agent's status once `done` says so, polled over the control socket (up to 20 s).
async fn status_when(dir: &Path, done: impl Fn(&Status) -> bool) -> Status {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(Response::Status(status)) = control::request(dir, &Request::Status).await
                && done(&status)
            {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the agent reached the expected state")
}

/// An ACS that answers Informs and, in the first session, asks for a Reboot and from then
/// on has the front hold new connections: the agent's own reboot opens a second session
/// (`1 BOOT`, `M Reboot`) that stays in progress.
async fn acs_holding_the_second_session() -> (ScriptedAcs, Front) {
    let hold = Arc::new(AtomicBool::new(false));
    let (holding, reboot_sent) = (hold.clone(), Arc::new(Mutex::new(false)));
    let mut informs = script(None);
    let acs = ScriptedAcs::start(move |request: &HttpRequest| {
        if request.body.is_empty() && !std::mem::replace(&mut *reboot_sent.lock().unwrap(), true) {
            holding.store(true, Ordering::SeqCst);
            return reply(Reboot {
                command_key: KEY.parse().unwrap(),
            });
        }
        informs(request)
    })
    .await;
    let front = Front::start(&acs, hold).await;
    (acs, front)
}

/// Starts the agent against a held second session and waits until it is in it.
async fn agent_in_held_session(state_dir: &Path) -> (ScriptedAcs, Front, Agent) {
    let (acs, front) = acs_holding_the_second_session().await;
    let agent = Agent::spawn(&front.url, state_dir);
    status_when(state_dir, |s| {
        s.in_session && s.sessions_ok == 1 && s.pending_events.iter().any(|e| e == "M Reboot")
    })
    .await;
    (acs, front, agent)
}

/// After a stop in the held session: the next start's first Inform carries `1 BOOT` and the
/// `M Reboot` the ACS never acknowledged, and every envelope validates.
async fn next_start_reports_the_held_events(acs: &ScriptedAcs, front: &Front, state_dir: &Path) {
    front.hold.store(false, Ordering::SeqCst);
    let _agent = Agent::spawn(&front.url, state_dir);
    let informs = wait_informs(acs, 2).await;
    let codes = events(&informs[1]);
    assert!(codes.contains(&EventCode::Boot), "{codes:?}");
    let reboot = informs[1]
        .event
        .iter()
        .find(|e| e.event_code.as_str() == "M Reboot")
        .unwrap_or_else(|| panic!("no M Reboot in {codes:?}"));
    assert_eq!(reboot.command_key.as_str(), KEY);
    let bodies: Vec<Vec<u8>> = acs
        .requests()
        .into_iter()
        .map(|r| r.body)
        .filter(|b| !b.is_empty())
        .collect();
    validate(&bodies);
}

/// Runs `cpe ARGS --state-dir DIR`.
async fn run_cpe(args: &[&str], state_dir: &Path) -> Output {
    let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    args.push("--state-dir".into());
    args.push(state_dir.display().to_string());
    cpe_binary(args, Vec::new()).await
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpe_stop_refuses_during_a_session_naming_it_and_force_keeps_its_events() {
    let state = tempfile::tempdir().unwrap();
    let (acs, front, mut agent) = agent_in_held_session(state.path()).await;

    let refused = run_cpe(&["stop"], state.path()).await;
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    let named = format!(
        "refused: CWMP session 2 with {} in progress since ",
        front.url
    );
    assert!(stderr.contains(&named), "{stderr}");
    assert!(
        stderr.contains("(events 1 BOOT, M Reboot); use --force to stop anyway"),
        "{stderr}"
    );
    let still = status_when(state.path(), |_| true).await;
    assert!(still.in_session, "the refused stop left the session alone");

    let forced = run_cpe(&["stop", "--force"], state.path()).await;
    let stdout = text(&forced.stdout);
    assert!(forced.status.success(), "{stdout}{}", text(&forced.stderr));
    assert!(
        stdout.contains("cut short: CWMP session 2 with"),
        "{stdout}"
    );
    assert!(stdout.contains("the agent has stopped"), "{stdout}");
    assert!(agent.exited().await, "the agent exits with success");
    assert!(
        !control::socket_path(state.path()).exists(),
        "the control socket is gone"
    );
    drop(agent);

    next_start_reports_the_held_events(&acs, &front, state.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpe_stop_refuses_while_a_download_runs_and_the_next_start_takes_it_up_again() {
    let (files, requests) = holding_file_server().await;
    let download = Download {
        command_key: "dl-held".parse().unwrap(),
        file_type: "1 Firmware Upgrade Image".into(),
        url: format!("{files}/fw.bin"),
        ..Download::default()
    };
    let acs = ScriptedAcs::start(script(Some(download.into()))).await;
    let state = tempfile::tempdir().unwrap();
    let config = || agent_config(Default::default(), &acs.url, state.path());
    let running = Running::start(config()).await;
    status_when(state.path(), |s| {
        s.sessions_ok >= 1 && !s.in_session && requests.load(Ordering::SeqCst) == 1
    })
    .await;

    let running_transfer = "transfer 0 (Download of \"1 Firmware Upgrade Image\") running";
    let refused = run_cpe(&["stop"], state.path()).await;
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "refused: {running_transfer}; use --force to stop anyway"
        )),
        "{stderr}"
    );
    let forced = run_cpe(&["stop", "--force"], state.path()).await;
    let stdout = text(&forced.stdout);
    assert!(forced.status.success(), "{stdout}{}", text(&forced.stderr));
    assert!(
        stdout.contains(&format!("cut short: {running_transfer}")),
        "{stdout}"
    );
    running.stop().await;

    // The queue takes the transfer cut short up again.
    let running = Running::start(config()).await;
    status_when(state.path(), |_| requests.load(Ordering::SeqCst) == 2).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_session_stops_the_agent_with_its_events_kept() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    let state = tempfile::tempdir().unwrap();
    let (acs, front, mut agent) = agent_in_held_session(state.path()).await;
    let pid = Pid::from_raw(i32::try_from(agent.0.id()).unwrap());
    kill(pid, Signal::SIGTERM).unwrap();
    assert!(agent.exited().await, "SIGTERM is a clean stop");
    drop(agent);

    next_start_reports_the_held_events(&acs, &front, state.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_check_is_0_when_healthy_and_a_plain_stop_of_an_idle_agent_is_accepted() {
    let acs = ScriptedAcs::start(script(None)).await;
    let state = tempfile::tempdir().unwrap();
    let config = agent_config(Default::default(), &acs.url, state.path());
    let running = Running::start(config).await;
    status_when(state.path(), |s| s.sessions_ok >= 1 && !s.in_session).await;

    let checked = run_cpe(&["status", "--check"], state.path()).await;
    let stdout = text(&checked.stdout);
    assert_eq!(checked.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("health: 6 of 6 healthy"), "{stdout}");
    let port = acs
        .url
        .split(':')
        .nth(2)
        .and_then(|p| p.split('/').next())
        .unwrap();
    assert!(
        stdout.contains(&format!("last connection to 127.0.0.1:{port} (IPv4)")),
        "the address family happy eyeballs chose: {stdout}"
    );
    assert!(
        stdout.contains(&format!("ACS URL:          {}", acs.url)),
        "{stdout}"
    );

    let json = run_cpe(&["status", "--json"], state.path()).await;
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["health"]["healthy"], 6, "{report}");
    assert_eq!(report["health"]["total"], 6, "{report}");
    let names: Vec<&str> = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, cpe::health::COMPONENTS);

    // Idle: a plain stop is accepted, cuts nothing short, and waits for the agent to go.
    let stopped = run_cpe(&["stop"], state.path()).await;
    let stdout = text(&stopped.stdout);
    assert!(
        stopped.status.success(),
        "{stdout}{}",
        text(&stopped.stderr)
    );
    assert_eq!(
        stdout,
        "stopping\nthe agent has stopped; its state is saved\n"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_check_is_1_when_the_acs_is_unreachable() {
    // A port nobody listens on any more.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/acs", closed.local_addr().unwrap());
    drop(closed);
    let state = tempfile::tempdir().unwrap();
    let running = Running::start(agent_config(Default::default(), &url, state.path())).await;
    status_when(state.path(), |s| s.sessions_failed >= 1).await;

    let checked = run_cpe(&["status", "--check"], state.path()).await;
    let stdout = text(&checked.stdout);
    assert_eq!(checked.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("health: 5 of 6 healthy"), "{stdout}");
    let cwmp = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("cwmp "))
        .unwrap_or_else(|| panic!("no cwmp line in {stdout}"));
    assert!(cwmp.contains("UNHEALTHY"), "{cwmp}");
    assert!(
        cwmp.contains("consecutive failures") && !cwmp.contains("; 0 consecutive"),
        "{cwmp}"
    );
    running.stop().await;
}

#[tokio::test]
async fn status_check_is_3_and_says_so_when_no_agent_runs() {
    let state = tempfile::tempdir().unwrap();
    let checked = run_cpe(&["status", "--check"], state.path()).await;
    let stderr = text(&checked.stderr);
    assert_eq!(checked.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("no agent is running"), "{stderr}");
}
