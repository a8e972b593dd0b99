//! `cpe`: a TR-069 (CWMP) CPE agent.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use cpe::config::{Config, DEFAULT_STATE_DIR, Overrides};
use cpe::control::{self, Request, Response};
use cpe::ztp::hook::{self, Delivery};
use cpe::ztp::probe::Limits as ProbeLimits;

/// A TR-069 CPE agent: learns its ACS from DHCP option 43 or its configuration, opens CWMP
/// sessions, answers its ACS, and keeps its state safe across crashes.
#[derive(Debug, Parser)]
#[command(name = "cpe", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent.
    Run(RunArgs),
    /// Print the running agent's status: its ACS, sessions, pending events, and each
    /// component's state and health.
    Status(StatusArgs),
    /// Ask the running agent to stop, and wait until it has. Refused while a CWMP session or
    /// a file transfer is in progress, unless --force.
    Stop(StopArgs),
    /// Print parameter values from the running agent.
    Get {
        #[command(flatten)]
        state: StateDir,
        /// Parameter names or partial paths (ending in `.`).
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Set parameter values on the running agent, as a local change.
    Set {
        #[command(flatten)]
        state: StateDir,
        /// `Name=Value` pairs.
        #[arg(required = true, value_parser = parse_assignment)]
        values: Vec<(String, String)>,
    },
    /// DHCP discovery of the ACS (TR-069 §3.1): through the system's DHCP client, or the
    /// agent's own probe.
    Dhcp {
        #[command(subcommand)]
        command: DhcpCommand,
    },
    /// Print the running agent's call-home statistics: per outbound message type, Success
    /// (answered at the transport level), Failed, Faults (answers that were remote faults),
    /// Inqueue, Dropped and Last-sent; then the sessions.
    Stats {
        #[command(flatten)]
        state: StateDir,
        /// Print JSON: the rows in the same order, then the sessions.
        #[arg(long)]
        json: bool,
    },
    /// The cloud-management tunnel of the running agent.
    Cloud {
        #[command(subcommand)]
        command: CloudCommand,
    },
    /// Write a snapshot of the agent's state to FILE (from the running agent, else from its
    /// state files), or check one with `backup verify FILE`.
    Backup(BackupArgs),
    /// Restore the agent's state from a snapshot. The agent must be stopped; a corrupt
    /// snapshot, or one of another device, is refused.
    Restore {
        #[command(flatten)]
        state: StateDir,
        /// The snapshot file.
        file: PathBuf,
        /// Restore a snapshot of another device.
        #[arg(long)]
        force: bool,
        /// The device's serial number, checked against the snapshot's, instead of the one
        /// recorded in the state directory.
        #[arg(long)]
        serial: Option<String>,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct BackupArgs {
    #[command(subcommand)]
    command: Option<BackupCommand>,
    #[command(flatten)]
    state: StateDir,
    /// The snapshot file to write.
    #[arg(required = true)]
    file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum BackupCommand {
    /// Check a snapshot file: prints `corrupt: false` (exit 0) or `corrupt: true` and why
    /// (exit 1).
    Verify {
        /// The snapshot file.
        file: PathBuf,
        /// Print JSON: `{"corrupt":false,...}` or `{"corrupt":true,"reason":...}`.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CloudCommand {
    /// Print the tunnel's state, as `display cloud-management state` does.
    Status {
        #[command(flatten)]
        state: StateDir,
        /// Print JSON: an object of the same fields, in the same order.
        #[arg(long)]
        json: bool,
    },
    /// Drop the tunnel and establish it again.
    Reset(StateDir),
    /// Send the unbinding code to the cloud, so that another user can register the device.
    Unbind {
        #[command(flatten)]
        state: StateDir,
        /// The unbinding code: 1-64 printable characters without whitespace.
        #[arg(value_parser = parse_unbinding_code)]
        code: String,
    },
}

#[derive(Debug, Subcommand)]
enum DhcpCommand {
    /// Run as the DHCP client's hook: read option 43 from busybox udhcpc (`$1`, `$opt43`) or
    /// ISC dhclient (`$reason`, `$new_vendor_encapsulated_options`) and hand it to the agent
    /// (saved for its next start if it is not running). A bad option is refused whole, with
    /// a non-zero exit.
    Hook {
        #[command(flatten)]
        state: StateDir,
        /// udhcpc's event (`bound`, `renew`, `deconfig`, ...); dhclient gives it in `$reason`.
        event: Option<String>,
    },
    /// Ask the DHCP server on an interface for the ACS, with the agent's own DHCP client:
    /// DHCPINFORM if the interface has an IPv4 address, else DHCPDISCOVER (no lease taken),
    /// or a DHCPv6 Information-request; print what it said and hand it to the agent (saved
    /// for its next start if it is not running).
    Probe(ProbeArgs),
}

#[derive(Debug, Args)]
struct ProbeArgs {
    #[command(flatten)]
    state: StateDir,
    /// The interface to probe on.
    #[arg(long)]
    iface: String,
    /// DHCPv6 (Information-request) instead of DHCPv4.
    #[arg(long)]
    v6: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Seconds to wait for an answer, over all attempts.
    #[arg(long, default_value_t = ProbeLimits::default().timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(ProbeLimits::TIMEOUT_SECS))]
    timeout: u64,
    /// Requests to send at most.
    #[arg(long, default_value_t = ProbeLimits::default().attempts,
          value_parser = clap::value_parser!(u32).range(i64::from(*ProbeLimits::ATTEMPTS.start())..=i64::from(*ProbeLimits::ATTEMPTS.end())))]
    attempts: u32,
    /// Only print what the server said; hand nothing to the agent.
    #[arg(long)]
    print_only: bool,
}

#[derive(Debug, Args)]
struct StatusArgs {
    #[command(flatten)]
    state: StateDir,
    /// Print JSON: the status, its components and the health count.
    #[arg(long)]
    json: bool,
    /// Exit 0 when every component is healthy, 1 when one is not, 3 when no agent runs.
    #[arg(long)]
    check: bool,
}

#[derive(Debug, Args)]
struct StopArgs {
    #[command(flatten)]
    state: StateDir,
    /// Stop even during a session or a transfer (the state is still saved first).
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
struct StateDir {
    /// The agent's state directory (its state files and control socket).
    #[arg(long, env = "CPE_STATE_DIR", default_value = DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Configuration file (TOML).
    #[arg(long, env = "CPE_CONFIG")]
    config: Option<PathBuf>,
    /// ACS URL, overriding the configuration.
    #[arg(long, env = "CPE_ACS_URL")]
    acs_url: Option<String>,
    /// State directory, overriding the configuration.
    #[arg(long, env = "CPE_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Device profile (TOML or genieacs-sim CSV), overriding the configuration.
    #[arg(long, env = "CPE_PROFILE")]
    profile: Option<PathBuf>,
    /// Serial number, overriding the profile.
    #[arg(long, env = "CPE_SERIAL")]
    serial: Option<String>,
    /// Connection Request listen address, e.g. 0.0.0.0:7547.
    #[arg(long, env = "CPE_CONNREQ_LISTEN")]
    connreq_listen: Option<String>,
    /// Log format: text or json.
    #[arg(long, env = "CPE_LOG_FORMAT")]
    log_format: Option<String>,
    /// Cloud-management server domain (1-253 characters), overriding the configuration.
    #[arg(long, env = "CPE_CLOUD_DOMAIN")]
    cloud_domain: Option<String>,
    /// Cloud-management server port (1-65535), overriding the configuration.
    #[arg(long, env = "CPE_CLOUD_PORT")]
    cloud_port: Option<u32>,
    /// PEM file of the CAs trusted for the cloud-management server.
    #[arg(long, env = "CPE_CLOUD_CA")]
    cloud_ca: Option<PathBuf>,
    /// Serve Prometheus metrics at GET /metrics on this address, e.g. 127.0.0.1:9310 (off by
    /// default).
    #[arg(long, env = "CPE_METRICS_LISTEN")]
    metrics_listen: Option<String>,
}

fn parse_assignment(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not Name=Value"))?;
    if name.is_empty() {
        return Err(format!("`{text}` has no parameter name before `=`"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

fn parse_unbinding_code(text: &str) -> Result<String, String> {
    let length = text.chars().count();
    if (1..=64).contains(&length) && text.chars().all(|c| c.is_ascii_graphic()) {
        Ok(text.to_owned())
    } else {
        Err("an unbinding code is 1 to 64 printable ASCII characters without spaces".to_owned())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cpe: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cpe: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run(args) => {
            let overrides = Overrides {
                acs_url: args.acs_url,
                state_dir: args.state_dir,
                profile: args.profile,
                serial: args.serial,
                connreq_listen: args.connreq_listen,
                log_format: args.log_format,
                cloud_domain: args.cloud_domain,
                cloud_port: args.cloud_port,
                cloud_ca: args.cloud_ca,
                metrics_listen: args.metrics_listen,
            };
            let config = Config::load(args.config.as_deref(), overrides)?;
            cpe::oplog::init(&config.log, "cpe", "info")?;
            cpe::agent::Agent::start(config)
                .await
                .context("starting the agent")?
                .run_until_signal()
                .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status(args) => {
            let state = args.state;
            let answer = control::request(&state.state_dir, &Request::Status).await;
            if args.check
                && let Err(e @ control::ControlError::NotRunning { .. }) = &answer
            {
                eprintln!("cpe: unhealthy: {e}");
                return Ok(ExitCode::from(NOT_RUNNING));
            }
            let Response::Status(status) = answer? else {
                anyhow::bail!("the agent answered something other than its status");
            };
            let health = cpe::health::Health::of(&status.components);
            let verdict = if !args.check || health.is_healthy() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
            if args.json {
                let report = cpe::health::Report {
                    status: &status,
                    health,
                };
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(verdict);
            }
            println!(
                "ACS URL:          {}",
                status.acs_url.as_deref().unwrap_or("(none)")
            );
            println!(
                "  from:           {}",
                status.acs_url_source.as_deref().unwrap_or("-")
            );
            if !status.sources.is_empty() {
                println!("Value sources:");
                for (name, source) in &status.sources {
                    println!("  {name:<54} {source}");
                }
            }
            match &status.last_session {
                Some((at, outcome)) => println!("Last session:     {at} ({outcome})"),
                None => println!("Last session:     (none)"),
            }
            println!(
                "Next session:     {}",
                status.next_session.as_deref().unwrap_or("(none)")
            );
            println!(
                "In session:       {}",
                if status.in_session { "yes" } else { "no" }
            );
            println!(
                "Sessions:         {} ok, {} failed",
                status.sessions_ok, status.sessions_failed
            );
            println!("Pending events:   {}", status.pending_events.join(", "));
            println!("Agent version:    {}", status.version);
            print!("{}", cpe::health::render(&status.components));
            Ok(verdict)
        }
        Command::Stop(args) => stop(&args.state.state_dir, args.force).await,
        Command::Get { state, paths } => {
            let Response::Values { values } = ask(&state.state_dir, Request::Get { paths }).await?
            else {
                anyhow::bail!("the agent answered something other than values");
            };
            for (name, value) in values {
                println!("{name} = {value}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Set { state, values } => {
            ask(&state.state_dir, Request::Set { values }).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Dhcp {
            command: DhcpCommand::Hook { state, event },
        } => dhcp_hook(&state.state_dir, event.as_deref()).await,
        Command::Dhcp {
            command: DhcpCommand::Probe(args),
        } => dhcp_probe(args).await,
        Command::Stats { state, json } => {
            let Response::Stats(stats) = ask(&state.state_dir, Request::Stats).await? else {
                anyhow::bail!("the agent answered something other than its statistics");
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                print!("{}", stats.render());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Cloud { command } => cloud(command).await,
        Command::Backup(args) => backup(args).await,
        Command::Restore {
            state,
            file,
            force,
            serial,
        } => {
            use cpe::snapshot::state::{RestoreOptions, restore, summary};
            let bytes = cpe::snapshot::read_file(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let options = RestoreOptions { force, serial };
            let snapshot = restore(&state.state_dir, &bytes, &options)?;
            println!(
                "restored {} into {}",
                summary(&snapshot),
                state.state_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `cpe backup FILE` and `cpe backup verify FILE`.
async fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    use cpe::snapshot::{self, state::summary};
    match (args.command, args.file) {
        (Some(BackupCommand::Verify { file, json }), _) => {
            let bytes = snapshot::read_file(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let verdict = snapshot::verify(&bytes);
            if json {
                println!("{}", serde_json::to_string_pretty(&verdict)?);
            } else {
                println!("corrupt: {}", verdict.corrupt);
                if let Some(reason) = &verdict.reason {
                    println!("reason: {reason}");
                }
                if let Ok(sound) = snapshot::Snapshot::decode(&bytes) {
                    println!("snapshot: {}", summary(&sound));
                    println!("sha256: {}", snapshot::file_checksum(&bytes));
                }
            }
            Ok(if verdict.corrupt {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        (None, Some(file)) => {
            let bytes = snapshot::state::backup(&args.state.state_dir).await?;
            snapshot::write_file(&file, &bytes)?;
            let sound = snapshot::Snapshot::decode(&bytes)?;
            println!("wrote {}: {}", file.display(), summary(&sound));
            println!(
                "{} bytes, sha256 {}",
                bytes.len(),
                snapshot::file_checksum(&bytes)
            );
            Ok(ExitCode::SUCCESS)
        }
        (None, None) => anyhow::bail!("backup: give the FILE to write"),
    }
}

/// `cpe status --check`'s exit code when no agent runs (LSB's "program is not running").
const NOT_RUNNING: u8 = 3;

/// How long `cpe stop` waits for the agent to go.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// `cpe stop`: asks the agent to stop, then waits until its control socket no longer answers.
async fn stop(state_dir: &std::path::Path, force: bool) -> anyhow::Result<ExitCode> {
    match ask(state_dir, Request::Stop { force }).await? {
        Response::StopRefused { running } => {
            eprintln!(
                "cpe: refused: {}; use --force to stop anyway",
                running.join("; ")
            );
            return Ok(ExitCode::FAILURE);
        }
        Response::Stopping { cut_short } if !cut_short.is_empty() => {
            println!("stopping; cut short: {}", cut_short.join("; "));
        }
        Response::Stopping { .. } => println!("stopping"),
        _ => anyhow::bail!("the agent answered something other than a stop"),
    }
    let gone = tokio::time::timeout(STOP_WAIT, async {
        while !matches!(
            control::request(state_dir, &Request::Status).await,
            Err(control::ControlError::NotRunning { .. })
        ) {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    if gone.is_err() {
        anyhow::bail!(
            "the agent accepted to stop but still answers after {} s",
            STOP_WAIT.as_secs()
        );
    }
    println!("the agent has stopped; its state is saved");
    Ok(ExitCode::SUCCESS)
}

/// `cpe cloud status|reset|unbind`.
async fn cloud(command: CloudCommand) -> anyhow::Result<ExitCode> {
    match command {
        CloudCommand::Status { state, json } => {
            let Response::CloudStatus { rows } =
                ask(&state.state_dir, Request::CloudStatus).await?
            else {
                anyhow::bail!("the agent answered something other than the tunnel's status");
            };
            let table = cpe::cloud::StatusTable(rows);
            if json {
                println!("{}", serde_json::to_string_pretty(&table)?);
            } else {
                print!("{}", table.render());
            }
        }
        CloudCommand::Reset(state) => {
            ask(&state.state_dir, Request::CloudReset).await?;
            println!("the cloud-management tunnel is being established again");
        }
        CloudCommand::Unbind { state, code } => {
            ask(&state.state_dir, Request::CloudUnbind { code }).await?;
            println!("unbinding code sent to the cloud");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `cpe dhcp hook`: what the DHCP client's call says, to the agent.
async fn dhcp_hook(state_dir: &std::path::Path, event: Option<&str>) -> anyhow::Result<ExitCode> {
    let call = hook::read_call(event, |name| std::env::var(name).ok())?;
    if !call.lease {
        println!("DHCP event {}: nothing to do", call.event);
        return Ok(ExitCode::SUCCESS);
    }
    let Some(intake) = hook::decode(&call)? else {
        println!("DHCP event {}: the lease carries no option 43", call.event);
        return Ok(ExitCode::SUCCESS);
    };
    println!("{}", deliver(state_dir, &intake).await?);
    Ok(ExitCode::SUCCESS)
}

/// `cpe dhcp probe`: ask the DHCP server, print, and hand the answer to the agent as the hook
/// does.
async fn dhcp_probe(args: ProbeArgs) -> anyhow::Result<ExitCode> {
    use cpe::ztp::{Intake, probe};
    let limits = ProbeLimits {
        attempts: args.attempts,
        timeout: std::time::Duration::from_secs(args.timeout),
    };
    let finding = probe::driver::probe(&args.iface, args.v6, limits).await?;
    let option = finding.transport.acs_option();
    let intake = Intake::from_discovery(finding.discovery.clone()).with_context(|| {
        format!(
            "option {option} from {} refused, nothing applied",
            finding.server
        )
    })?;
    let report = probe::Report::new(&finding, &intake);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    if !args.print_only {
        let delivered = deliver(&args.state.state_dir, &intake).await?;
        // With --json, stdout holds the JSON alone.
        if args.json {
            eprintln!("{delivered}");
        } else {
            println!("{delivered}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Hands an intake to the agent of `state_dir`; says how it went.
async fn deliver(state_dir: &std::path::Path, intake: &cpe::ztp::Intake) -> anyhow::Result<String> {
    Ok(match hook::deliver(state_dir, intake).await? {
        Delivery::Applied(summary) => summary,
        Delivery::Saved => format!(
            "no agent running; saved for its next start in {}",
            state_dir.join(hook::PENDING_FILE).display()
        ),
    })
}

/// Sends a request over the control socket; an error answer becomes an error.
async fn ask(state_dir: &std::path::Path, request: Request) -> anyhow::Result<Response> {
    match control::request(state_dir, &request).await? {
        Response::Error { message } => anyhow::bail!("{message}"),
        response => Ok(response),
    }
}
