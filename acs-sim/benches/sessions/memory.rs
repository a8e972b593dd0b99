//! Memory per connected device: the server runs alone in a child process (this program with
//! `--serve-child KIND`), so its `/proc/<pid>/status` holds the server and nothing of the
//! CPEs, which run here.

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use crate::cpe::{Cpe, serial};
use crate::servers::{Kind, Server};

/// Sessions run before the baseline, so code pages, lazy statics, the store's first pages
/// and the blocking pool are in place before anything is measured.
const WARM_UP_DEVICES: usize = 50;

/// Pause before each reading, for the server to settle (accepts, connection tasks).
const SETTLE: Duration = Duration::from_millis(300);

/// What one server held, in KiB, from `/proc/<pid>/status`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Status {
    pub(crate) vm_rss: u64,
    pub(crate) rss_anon: u64,
    pub(crate) threads: u64,
}

impl Status {
    fn read(pid: u32) -> Result<Self> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| -> Result<u64> {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
                .with_context(|| format!("no {name} in /proc/{pid}/status"))
        };
        Ok(Self {
            vm_rss: field("VmRSS")?,
            rss_anon: field("RssAnon")?,
            threads: field("Threads")?,
        })
    }
}

/// The server's memory at each step.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Footprint {
    /// After the warm-up sessions, no CPE connected.
    pub(crate) idle: Status,
    /// With every CPE's connection open, nothing sent on it yet.
    pub(crate) connected: Status,
    /// With every CPE in an open session: Inform sent, InformResponse read, empty POST not
    /// sent.
    pub(crate) in_session: Status,
}

/// Measures `kind` with `cpes` CPEs. Connections and Informs go one at a time, so the
/// server's blocking pool does not grow with them and the figures are the steady state of
/// `cpes` open sessions.
pub(crate) async fn measure(kind: Kind, cpes: usize) -> Result<Footprint> {
    let mut child = ServerChild::spawn(kind)?;
    let pid = child.process.id();
    let mut warm = Vec::with_capacity(WARM_UP_DEVICES);
    for index in 0..WARM_UP_DEVICES {
        let mut cpe = Cpe::connect(child.addr, &serial("WARM", index)).await?;
        cpe.session().await?;
        cpe.session().await?;
        warm.push(cpe);
    }
    drop(warm);
    tokio::time::sleep(SETTLE).await;
    let idle = Status::read(pid)?;

    let mut connected = Vec::with_capacity(cpes);
    for index in 0..cpes {
        connected.push(Cpe::connect(child.addr, &serial("MEM", index)).await?);
    }
    tokio::time::sleep(SETTLE).await;
    let after_connect = Status::read(pid)?;

    for cpe in &mut connected {
        cpe.inform().await?;
    }
    tokio::time::sleep(SETTLE).await;
    let in_session = Status::read(pid)?;

    for cpe in &mut connected {
        cpe.finish().await?;
    }
    drop(connected);
    child.stop()?;
    Ok(Footprint {
        idle,
        connected: after_connect,
        in_session,
    })
}

/// The child process side: serves `kind` on loopback, prints `listening <addr>` and runs
/// until its standard input closes.
pub(crate) fn serve_child(kind: Kind) -> Result<()> {
    let runtime = crate::runtime()?;
    runtime.block_on(async {
        let server = Server::start(kind).await?;
        println!("listening {}", server.addr);
        // Blocks a worker of this runtime's two for the pause between readings only.
        tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await??;
        drop(server);
        anyhow::Ok(())
    })
}

/// A server in a child process, killed if dropped before [`ServerChild::stop`].
struct ServerChild {
    process: Child,
    stdin: Option<ChildStdin>,
    addr: SocketAddr,
}

impl ServerChild {
    fn spawn(kind: Kind) -> Result<Self> {
        let mut process = Command::new(std::env::current_exe()?)
            .args(["--serve-child", kind.name()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the server process")?;
        let stdin = process.stdin.take();
        let stdout = process.stdout.take().context("no stdout")?;
        let mut child = Self {
            process,
            stdin,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        child.addr = line
            .trim()
            .strip_prefix("listening ")
            .with_context(|| format!("the server process said {line:?}"))?
            .parse()?;
        Ok(child)
    }

    /// Closes its standard input and waits for it to exit.
    fn stop(&mut self) -> Result<()> {
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.process.try_wait()? {
                if !status.success() {
                    bail!("the server process ended with {status}");
                }
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                bail!("the server process did not stop");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        if matches!(self.process.try_wait(), Ok(None)) {
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
    }
}
