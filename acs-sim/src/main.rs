//! `acs-sim`: an ACS for labs and test rigs (TR-069 / CWMP).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use acs_sim::acs::Acs;
use acs_sim::config::{Overrides, ServeConfig};
use acs_sim::files::FileStore;
use acs_sim::lab::{LabOptions, MAX_CPES};
use acs_sim::scenario::Scenario;
use acs_sim::store::{SqliteStore, StoreError};
use anyhow::Context;
use clap::{Parser, Subcommand};
use cpe::config::LogFormat;
use cpe::oplog::LogConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

/// mimalloc: thread-local heaps, where glibc's malloc contends on its arena locks when two
/// workers allocate and free each other's request buffers (BENCHMARKS.md, "acs-sim: CWMP
/// sessions").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An ACS for labs and test rigs: speaks CWMP to many CPEs, takes GenieACS-style tasks over
/// REST, serves files, and runs the zero-touch lab.
#[derive(Debug, Parser)]
#[command(name = "acs-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the zero-touch provisioning lab on loopback, with embedded defaults.
    Lab {
        /// How many CPEs to boot (1 to 500).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=MAX_CPES as i64))]
        cpes: u16,
        /// Seconds the whole flow may take (5 to 3600).
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(5..=3600))]
        deadline: u64,
        /// Print every step of every device.
        #[arg(long, short)]
        verbose: bool,
        /// Write every session's messages under this directory.
        #[arg(long)]
        transcripts: Option<PathBuf>,
        /// Learn option 43 from a real dnsmasq in network namespaces (needs root; otherwise
        /// the lab says why and hands the bytes over in the process).
        #[arg(long)]
        dhcp: bool,
    },
    /// Run the ACS: CWMP endpoint, REST API and file server.
    Serve(Box<ServeArgs>),
    /// Run the cloud-management server simulator (the far end of `cpe`'s cloud tunnel).
    Cloud(CloudArgs),
    /// Write a snapshot of the ACS store to FILE, online (a server may be running), or check
    /// one (`backup verify FILE`).
    Backup(BackupArgs),
    /// Replace the ACS store with a snapshot's content; refused while a server uses the store.
    Restore(RestoreArgs),
    /// Print the health of a running acs-sim (its REST API's /health).
    Status(StatusArgs),
}

/// The store `backup` and `restore` work on, found as `serve` finds it.
#[derive(Debug, clap::Args)]
struct StoreArgs {
    /// Configuration file (TOML) whose `[store] db` names the store.
    #[arg(long, env = "ACS_CONFIG")]
    config: Option<PathBuf>,
    /// SQLite database file [default: acs-sim.db].
    #[arg(long, env = "ACS_DB")]
    db: Option<PathBuf>,
}

impl StoreArgs {
    fn db(self) -> anyhow::Result<PathBuf> {
        let overrides = Overrides {
            db: self.db,
            ..Overrides::default()
        };
        Ok(ServeConfig::load(self.config.as_deref(), overrides)?.db)
    }
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct BackupArgs {
    #[command(subcommand)]
    verify: Option<BackupCommand>,
    /// Where to write the snapshot (atomically).
    #[arg(required = true)]
    file: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Subcommand)]
enum BackupCommand {
    /// Check a snapshot: prints `corrupt: false` or `corrupt: true` and why; exits 1 unless
    /// `acs-sim restore` would take it.
    Verify {
        /// The snapshot file.
        file: PathBuf,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
struct RestoreArgs {
    /// The snapshot file (from `acs-sim backup`).
    file: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, clap::Args)]
struct StatusArgs {
    /// The running acs-sim's REST API.
    #[arg(long, default_value = "http://127.0.0.1:7557")]
    nbi: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Exit 1 unless every component is healthy.
    #[arg(long)]
    check: bool,
}

#[derive(Debug, clap::Args)]
struct CloudArgs {
    /// Listen address.
    #[arg(long, default_value = acs_sim::cloud::DEFAULT_LISTEN)]
    listen: std::net::SocketAddr,
    /// Certificate chain (PEM); without it a lab certificate is made at start.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Write the CA of the made lab certificate here (PEM), for `cpe run --cloud-ca`.
    #[arg(long, conflicts_with = "cert")]
    write_ca: Option<PathBuf>,
    /// A name of the made lab certificate (repeatable) [default: localhost, 127.0.0.1].
    #[arg(long = "name", conflicts_with = "cert")]
    names: Vec<String>,
    /// A device the cloud knows, `SERIAL:SECRET` (repeatable).
    #[arg(long = "device", value_name = "SERIAL:SECRET", value_parser = parse_device)]
    devices: Vec<(String, String)>,
    /// A micro-service offered for sub-connections (repeatable) [default: confmgr, stamgr,
    /// devmgr].
    #[arg(long = "service")]
    services: Vec<String>,
    /// Log as JSON lines.
    #[arg(long)]
    log_json: bool,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Configuration file (TOML); flags and ACS_* variables override it.
    #[arg(long, env = "ACS_CONFIG")]
    config: Option<PathBuf>,
    /// CWMP listen address [default: 127.0.0.1:7547].
    #[arg(long, env = "ACS_CWMP")]
    cwmp: Option<String>,
    /// CWMP over HTTPS listen address (needs [tls] in the configuration).
    #[arg(long, env = "ACS_CWMPS")]
    cwmps: Option<String>,
    /// REST API listen address [default: 127.0.0.1:7557].
    #[arg(long, env = "ACS_NBI")]
    nbi: Option<String>,
    /// File server listen address [default: 127.0.0.1:7567].
    #[arg(long, env = "ACS_FILES")]
    files: Option<String>,
    /// File server over HTTPS listen address (needs [tls] in the configuration).
    #[arg(long, env = "ACS_FILES_TLS")]
    files_tls: Option<String>,
    /// SQLite database file [default: acs-sim.db].
    #[arg(long, env = "ACS_DB")]
    db: Option<PathBuf>,
    /// Provisioning scenario (TOML).
    #[arg(long, env = "ACS_SCENARIO")]
    scenario: Option<PathBuf>,
    /// A value for a `{NAME}` placeholder of the scenario, e.g. `--var acs2=http://10.0.0.2:7547/`
    /// (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    vars: Vec<(String, String)>,
    /// Write every session's messages under this directory.
    #[arg(long, env = "ACS_TRANSCRIPTS")]
    transcripts: Option<PathBuf>,
    /// Log as JSON lines.
    #[arg(long, env = "ACS_LOG_JSON")]
    log_json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("acs-sim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Lab {
                cpes,
                deadline,
                verbose,
                transcripts,
                dhcp,
            } => {
                let options = LabOptions {
                    cpes: usize::from(cpes),
                    deadline: Duration::from_secs(deadline),
                    verbose,
                    transcripts,
                    dhcp,
                };
                lab(options).await
            }
            Command::Serve(args) => serve(*args).await.map(|()| ExitCode::SUCCESS),
            Command::Cloud(args) => cloud(args).await.map(|()| ExitCode::SUCCESS),
            Command::Backup(args) => backup(args),
            Command::Restore(args) => restore(args),
            Command::Status(args) => status(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("acs-sim: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn lab(options: LabOptions) -> anyhow::Result<ExitCode> {
    init_logging(&flag_log(false), "warn")?;
    let report = acs_sim::lab::run(options, std::io::stdout()).await?;
    Ok(if report.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        cwmp: args.cwmp,
        cwmps: args.cwmps,
        files_tls: args.files_tls,
        nbi: args.nbi,
        files: args.files,
        db: args.db,
        scenario: args.scenario,
        transcripts: args.transcripts,
    };
    let mut config = ServeConfig::load(args.config.as_deref(), overrides)?;
    if args.log_json {
        config.log.format = LogFormat::Json;
    }
    init_logging(&config.log, "info")?;
    // A store in use names itself and its lock; other failures get the store's path here.
    let store = SqliteStore::open(&config.db).map_err(|e| match e {
        StoreError::Lock(_) => anyhow::Error::from(e),
        e => anyhow::Error::from(e).context(format!("store {}", config.db.display())),
    })?;
    let files = FileStore::new(&config.files_dir)
        .with_context(|| format!("file area {}", config.files_dir.display()))?;
    let vars: Vec<(&str, &str)> = args
        .vars
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let scenario = match &config.scenario {
        Some(path) => Scenario::load_with(path, &vars)?,
        None => Scenario::default(),
    };
    let acs = Acs::new(Arc::new(store), config.acs.clone(), scenario, files);
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let stopped = || {
        let mut stop = stop.clone();
        async move {
            let _ = stop.wait_for(|s| *s).await;
        }
    };
    let bind = |addr| async move {
        TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))
    };
    let mut servers = tokio::task::JoinSet::new();
    servers.spawn(acs_sim::server::serve(
        bind(config.cwmp).await?,
        Arc::clone(&acs),
        None,
        stopped(),
    ));
    if let Some((addr, cert, key)) = &config.cwmps {
        let tls = tls_config(cert, key)?;
        servers.spawn(acs_sim::server::serve(
            bind(*addr).await?,
            Arc::clone(&acs),
            Some(tls),
            stopped(),
        ));
    }
    servers.spawn(acs_sim::nbi::serve(
        bind(config.nbi).await?,
        Arc::clone(&acs),
        stopped(),
    ));
    servers.spawn(acs_sim::files::serve(
        bind(config.files).await?,
        Arc::clone(&acs),
        stopped(),
    ));
    if let Some((addr, cert, key)) = &config.files_tls {
        servers.spawn(acs_sim::files::serve_tls(
            bind(*addr).await?,
            Arc::clone(&acs),
            tls_config(cert, key)?,
            stopped(),
        ));
    }
    cpe::oplog!(ACS_STARTED, cwmp = %config.cwmp, nbi = %config.nbi, files = %config.files, db = %config.db.display(), "acs-sim serving");
    tokio::select! {
        () = shutdown_signal() => cpe::oplog!(ACS_STOPPING, "stopping"),
        Some(ended) = servers.join_next() => {
            ended.context("a listener crashed")?.context("a listener failed")?;
        }
    }
    let _ = stop_tx.send(true);
    while let Some(ended) = servers.join_next().await {
        ended
            .context("a listener crashed")?
            .context("a listener failed")?;
    }
    Ok(())
}

async fn cloud(args: CloudArgs) -> anyhow::Result<()> {
    use acs_sim::cloud::{CloudConfig, CloudServer, lab_certificate, load_tls};

    init_logging(&flag_log(args.log_json), "info")?;
    let tls = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => load_tls(cert, key)?,
        _ => {
            let names = if args.names.is_empty() {
                vec!["localhost".to_owned(), "127.0.0.1".to_owned()]
            } else {
                args.names.clone()
            };
            let lab = lab_certificate(&names)?;
            match &args.write_ca {
                Some(path) => std::fs::write(path, &lab.ca_pem)
                    .with_context(|| format!("cannot write the CA to {}", path.display()))?,
                None => {
                    cpe::oplog!(
                        CLOUDSRV_LAB_CERTIFICATE,
                        "lab certificate made; pass --write-ca to give devices its CA"
                    )
                }
            }
            lab.server
        }
    };
    let mut config = CloudConfig::new(tls);
    config.listen = args.listen;
    if !args.services.is_empty() {
        config.services = args.services;
    }
    let server = CloudServer::bind(config)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let cloud = server.handle();
    for (serial, secret) in &args.devices {
        cloud
            .add_device(serial, secret)
            .with_context(|| format!("--device {serial}"))?;
    }
    cpe::oplog!(CLOUDSRV_STARTED, listen = %server.local_addr(), devices = args.devices.len(), "cloud server serving");
    server.serve(shutdown_signal()).await;
    Ok(())
}

fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    init_logging(&flag_log(false), "warn")?;
    if let Some(BackupCommand::Verify { file, json }) = args.verify {
        let bytes = acs_sim::backup::read_snapshot(&file)?;
        let verdict = acs_sim::backup::verify(&bytes);
        if json {
            println!("{}", serde_json::to_string_pretty(&verdict)?);
        } else {
            println!("{verdict}");
        }
        return Ok(if verdict.usable() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let file = args.file.context("FILE is required")?;
    let db = args.store.db()?;
    let verdict = acs_sim::backup::backup(&db, &file)?;
    println!(
        "wrote {} ({} bytes, sha256 {}) from store {}",
        file.display(),
        verdict.snapshot.size,
        verdict.snapshot.sha256.as_deref().unwrap_or_default(),
        db.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    init_logging(&flag_log(false), "warn")?;
    let db = args.store.db()?;
    let restored = acs_sim::backup::restore(&args.file, &db)?;
    println!(
        "restored store {} from {} (taken {}, schema {})",
        restored.store.display(),
        args.file.display(),
        restored.created,
        restored.schema_version
    );
    Ok(ExitCode::SUCCESS)
}

async fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let report = acs_sim::health::fetch(&args.nbi, STATUS_TIMEOUT).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(if args.check && !report.healthy() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// How long `acs-sim status` waits for `/health`.
const STATUS_TIMEOUT: Duration = Duration::from_secs(10);

/// `SERIAL:SECRET` of `--device`.
fn parse_device(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((serial, secret)) if !serial.is_empty() && !secret.is_empty() => {
            Ok((serial.to_owned(), secret.to_owned()))
        }
        _ => Err(format!("expected SERIAL:SECRET, got {text:?}")),
    }
}

/// `NAME=VALUE` of `--var`.
fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("expected NAME=VALUE, got {text:?}")),
    }
}

fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("tls.cert {}", cert.display()))?;
    let key =
        PrivateKeyDer::from_pem_file(key).with_context(|| format!("tls.key {}", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS versions")?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .context("TLS certificate and key")?;
    Ok(Arc::new(config))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = ctrl_c.await;
            return;
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Logging as the CPE's ([`cpe::oplog`]): `RUST_LOG`, else `default`.
fn init_logging(config: &LogConfig, default: &str) -> anyhow::Result<()> {
    Ok(cpe::oplog::init(config, "acs-sim", default)?)
}

/// The log configuration of the subcommands without a configuration file.
fn flag_log(json: bool) -> LogConfig {
    LogConfig {
        format: if json {
            LogFormat::Json
        } else {
            LogFormat::Text
        },
        ..LogConfig::default()
    }
}
