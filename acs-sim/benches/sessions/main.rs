//! `sessions`: complete CWMP sessions per second against acs-sim's endpoint, next to a bare
//! hyper server answering the same HTTP requests with fixed bytes (the ceiling), and the
//! server's memory per connected device. Prints Markdown tables (BENCHMARKS.md, "acs-sim:
//! CWMP sessions").
//!
//! ```sh
//! cargo bench -p acs-sim --bench sessions [-- OPTIONS]
//! ```
//!
//! - **Throughput**: one process, one tokio multi-thread runtime with 2 workers (fresh per
//!   server), the server on `127.0.0.1:0` and `--cpes` CPE tasks, each with its own
//!   keep-alive HTTP/1.1 connection, looping complete sessions (TR-069 Amd 6 §3.7.1): Inform
//!   → `200` InformResponse with a cookie, empty POST with the cookie → `204`. Sessions
//!   completed in `--seconds` after `--warmup` seconds, per server: the bare server, acs-sim
//!   over SQLite (a file in a temporary directory), acs-sim over the in-memory store.
//!   `--rounds` repeats the three; the table gives medians.
//! - **Memory**: the server alone in a child process, the CPEs here: its `VmRSS` and
//!   `RssAnon` after warm-up sessions, with `--cpes` connections open, and with each of them
//!   in an open session (Inform answered, empty POST not sent).
//! - **Store** (acs-sim only): the store calls of one session (register the Inform, read the
//!   device, look for a queued task) in a loop on one thread, for `--seconds` / 5: the most
//!   sessions per second the store lets through, as each call holds the store's lock.
//!
//! Every answer is checked (status, InformResponse, cookie); any error fails the run. Run
//! without `--bench` (as `cargo test --all-targets` does), it makes a short smoke run with
//! 20 CPEs and ignores its arguments.
//!
//! Options: `--seconds S` (10), `--warmup S` (2), `--cpes N` (1000), `--rounds N` (1),
//! `--only throughput,memory,store` (all), `--servers bare,sqlite,memory` (all three, in this order;
//! the share of the ceiling needs `bare`).

/// The allocator `acs-sim` ships with (`src/main.rs`), for the servers and the CPEs alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cpe;
mod memory;
mod servers;
mod store;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use tokio::task::JoinSet;

use cpe::{Cpe, WAIT, serial};
use memory::{Footprint, Status};
use servers::{Kind, Server};

/// acs-sim must reach this share of the bare server's sessions per second.
const BUDGET: f64 = 0.5;

/// The parts `--only` picks from.
const PARTS: [&str; 3] = ["throughput", "memory", "store"];

/// What to run.
#[derive(Clone, Debug)]
struct Options {
    seconds: f64,
    warmup: f64,
    cpes: usize,
    rounds: usize,
    throughput: bool,
    memory: bool,
    store: bool,
    /// The servers to run, in this order; the first is the ceiling when it is the bare one.
    servers: Vec<Kind>,
}

impl Options {
    /// The short run of `cargo test --all-targets`.
    fn smoke() -> Self {
        Self {
            seconds: 0.3,
            warmup: 0.1,
            cpes: 20,
            rounds: 1,
            throughput: true,
            memory: true,
            store: true,
            servers: Kind::ALL.to_vec(),
        }
    }

    fn parse(args: &[String]) -> Result<Self> {
        let mut options = Self {
            seconds: 10.0,
            warmup: 2.0,
            cpes: 1000,
            ..Self::smoke()
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--bench" => {}
                "--seconds" => options.seconds = value()?.parse()?,
                "--warmup" => options.warmup = value()?.parse()?,
                "--cpes" => options.cpes = value()?.parse()?,
                "--rounds" => options.rounds = value()?.parse()?,
                "--only" => {
                    let parts: Vec<&str> = value()?.split(',').collect();
                    options.throughput = parts.contains(&"throughput");
                    options.memory = parts.contains(&"memory");
                    options.store = parts.contains(&"store");
                    if parts.iter().any(|p| !PARTS.contains(p)) {
                        bail!("--only takes some of {}", PARTS.join(","));
                    }
                }
                "--servers" => {
                    options.servers = value()?
                        .split(',')
                        .map(Kind::from_name)
                        .collect::<Result<_>>()?;
                }
                other => bail!("unknown argument {other:?}"),
            }
        }
        if options.cpes == 0
            || options.rounds == 0
            || options.seconds <= 0.0
            || options.servers.is_empty()
        {
            bail!("--cpes, --rounds, --seconds and --servers must be positive or not empty");
        }
        Ok(options)
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sessions bench failed: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, kind] = args.as_slice()
        && flag == "--serve-child"
    {
        return memory::serve_child(Kind::from_name(kind)?);
    }
    let options = if args.iter().any(|a| a == "--bench") {
        Options::parse(&args)?
    } else {
        Options::smoke()
    };
    println!(
        "{} CPEs, 2 worker threads, {} s measured after {} s warm-up, {} round(s); load average {}",
        options.cpes,
        options.seconds,
        options.warmup,
        options.rounds,
        load_average()
    );
    if options.throughput {
        report_throughput(&options, &throughput_rounds(&options)?);
    }
    if options.memory {
        let runtime = runtime()?;
        let mut footprints = Vec::new();
        for &kind in &options.servers {
            footprints.push((kind, runtime.block_on(memory::measure(kind, options.cpes))?));
        }
        report_memory(options.cpes, &footprints);
    }
    if options.store {
        println!("\n| store | one session's store calls per second, one thread |");
        println!("| --- | ---: |");
        for &kind in &options.servers {
            if let Some(rate) = store::rate(kind, options.cpes, options.seconds / 5.0)? {
                println!("| {} | {} |", kind.label(), thousands(rate));
            }
        }
    }
    Ok(())
}

/// The runtime of every server and of the CPEs: multi-thread, 2 workers (the machine's
/// cores), as `acs-sim serve` runs.
fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// One server's throughput run.
#[derive(Clone, Copy, Debug)]
struct Rate {
    sessions_per_s: f64,
    /// Process CPU time over the window, in cores (2.0 = both cores busy).
    cores: f64,
}

fn throughput_rounds(options: &Options) -> Result<Vec<(Kind, Vec<Rate>)>> {
    let mut rates: Vec<(Kind, Vec<Rate>)> =
        options.servers.iter().map(|&k| (k, Vec::new())).collect();
    for round in 1..=options.rounds {
        for (kind, rates) in &mut rates {
            let rate = throughput(*kind, options)
                .with_context(|| format!("{} (round {round})", kind.name()))?;
            eprintln!(
                "round {round}: {:<8} {:>9.0} sessions/s, {:.2} cores",
                kind.name(),
                rate.sessions_per_s,
                rate.cores
            );
            rates.push(rate);
        }
    }
    Ok(rates)
}

/// Runs `options.cpes` CPEs against a fresh `kind` server on a fresh runtime.
fn throughput(kind: Kind, options: &Options) -> Result<Rate> {
    runtime()?.block_on(async {
        let server = Server::start(kind).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let mut cpes = JoinSet::new();
        for index in 0..options.cpes {
            let cpe = Cpe::connect(server.addr, &serial("BENCH", index)).await?;
            cpes.spawn(cpe::cycle(cpe, Arc::clone(&stop), Arc::clone(&done)));
        }
        tokio::time::sleep(Duration::from_secs_f64(options.warmup)).await;
        let (start, start_count, start_cpu) =
            (Instant::now(), done.load(Ordering::Relaxed), cpu_seconds()?);
        tokio::time::sleep(Duration::from_secs_f64(options.seconds)).await;
        let (end, end_count, end_cpu) =
            (Instant::now(), done.load(Ordering::Relaxed), cpu_seconds()?);
        stop.store(true, Ordering::Relaxed);
        while let Some(ended) = tokio::time::timeout(WAIT, cpes.join_next())
            .await
            .context("a CPE did not finish its last session")?
        {
            ended??;
        }
        server.stop(options.cpes).await?;
        let elapsed = (end - start).as_secs_f64();
        #[allow(clippy::cast_precision_loss)] // session counts stay far below 2^52
        let sessions = (end_count - start_count) as f64;
        Ok(Rate {
            sessions_per_s: sessions / elapsed,
            cores: (end_cpu - start_cpu) / elapsed,
        })
    })
}

/// This process's user and system CPU time, seconds (`/proc/self/stat`, USER_HZ = 100).
fn cpu_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name, which ends with the last ')': state is field 3, utime
    // and stime are 14 and 15.
    let rest = stat.rsplit_once(')').context("/proc/self/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        Ok(fields
            .get(i - 3)
            .context("/proc/self/stat")?
            .parse::<f64>()?)
    };
    Ok((ticks(14)? + ticks(15)?) / 100.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn median(rates: &[Rate], field: impl Fn(&Rate) -> f64) -> f64 {
    let mut values: Vec<f64> = rates.iter().map(field).collect();
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn report_throughput(options: &Options, rates: &[(Kind, Vec<Rate>)]) {
    let ceiling = rates
        .iter()
        .find(|(kind, _)| *kind == Kind::Bare)
        .map(|(_, rates)| median(rates, |r| r.sessions_per_s));
    println!();
    println!(
        "| server | sessions/s | HTTP requests/s | CPU (cores of 2) | of the ceiling | budget (>= {:.0}%) |",
        BUDGET * 100.0
    );
    println!("| --- | ---: | ---: | ---: | ---: | --- |");
    for (kind, rates) in rates {
        let rate = median(rates, |r| r.sessions_per_s);
        let share = ceiling.map(|ceiling| rate / ceiling);
        let verdict = match (kind, share) {
            (Kind::Bare, _) | (_, None) => "",
            (_, Some(share)) if share >= BUDGET => "PASS",
            _ => "FAIL",
        };
        let share = share.map_or_else(String::new, |s| format!("{:.1}%", s * 100.0));
        println!(
            "| {} | {} | {} | {:.2} | {share} | {verdict} |",
            kind.label(),
            thousands(rate),
            thousands(rate * 2.0),
            median(rates, |r| r.cores),
        );
    }
    if options.rounds > 1 {
        println!("\n(medians of {} rounds)", options.rounds);
    }
}

fn report_memory(cpes: usize, footprints: &[(Kind, Footprint)]) {
    #[allow(clippy::cast_precision_loss)] // KiB and a CPE count
    let per = |field: fn(&Status) -> u64, to: Status, from: Status| {
        (field(&to) as f64 - field(&from) as f64) / cpes as f64
    };
    let rss: fn(&Status) -> u64 = |s| s.vm_rss;
    let anon: fn(&Status) -> u64 = |s| s.rss_anon;
    println!();
    println!(
        "| server (own process), KiB per CPE | idle `VmRSS` (MiB) | connection | session | connection + session | same, `RssAnon` | threads |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (kind, f) in footprints {
        let Footprint {
            idle,
            connected,
            in_session,
        } = *f;
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            kind.label(),
            mib(idle),
            per(rss, connected, idle),
            per(rss, in_session, connected),
            per(rss, in_session, idle),
            per(anon, in_session, idle),
            in_session.threads
        );
    }
}

#[allow(clippy::cast_precision_loss)] // KiB of one process
fn mib(status: Status) -> f64 {
    status.vm_rss as f64 / 1024.0
}

/// `12345.6` as `12,346`.
fn thousands(value: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // a positive rate
    let digits = (value.round() as u64).to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
