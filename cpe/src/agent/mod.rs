//! The agent: the sessions, the data model, events and retries, the Connection Request server
//! and persistence, wired together.
//!
//! One loop decides when a session is due (a boot, a timer, a Connection Request, a local
//! change, the ACS re-pointing itself), runs it through [`driver`], and applies what the session
//! left to do once it is over (TR-069 §3.7.2.4: Reboot, FactoryReset and changes that would cut
//! the connection happen after the session). Everything the ACS is told has happened is on
//! disk before the ACS is told (§3.7.1.5 and ARCHITECTURE "nothing acknowledged is lost").
//!
//! The configuration's `[acs] url`, `username` and `password` are the device's provisioned
//! `ManagementServer.URL`, `Username` and `Password`: they are written into the data model at
//! start, which is where the session reads them (§3.4.4 authentication uses the model's
//! `Username` / `Password`). Values the ACS sets itself win over them across restarts, until
//! the configuration changes: an operator's new choice wins again.
//!
//! DHCP (option 43, TR-069 §3.1, PROTOCOL.md §2.2) reaches the agent through the control
//! socket or, while it is stopped, a file in the state directory (`cpe dhcp hook`); the
//! precedence between DHCP, the ACS, the CLI and the configuration is [`crate::ztp`]'s.

mod cloud;
pub mod driver;
mod handler;
mod health;
mod snapshot;
mod state;
mod stats;
mod stop;
mod transfers;

use std::collections::BTreeSet;
use std::future::Future;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use rand::rngs::{StdRng, SysRng};
use rand::{Rng, SeedableRng};
use schemas::rpc::types::DeviceIdStruct;
use schemas::rpc::{EventCode, Inform};
use schemas::value::{DateTime, Value};
use tokio::sync::Notify;
use tracing::Instrument;

use crate::config::Config;
use crate::connreq::{self, ConnectionRequestServer, CredentialSource, ServerConfig, signal};
use crate::control::{self, Request, Response};
use crate::events::queue::Restart;
use crate::events::{Events, EventsState, Timestamp};
use crate::model::{DataModel, ModelState, Origin, Profile};
use crate::session::SessionConfig;
use crate::transfer::{Due, Executor, Outcome, Step, TransferConfig, TransferQueue};
use crate::transport::{AcsUrl, Client, Credentials, TlsSettings, TransportConfig};
use handler::Handler;
pub use state::{AgentState, CredentialsSource, UrlSource};

const MS: &str = "Device.ManagementServer.";

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The state directory could not be created.
    #[error("state directory {dir}: {source}")]
    StateDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The device profile could not be loaded.
    #[error(transparent)]
    Profile(#[from] crate::model::ProfileError),
    /// The transport could not be set up (TLS files, proxy).
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    /// The Connection Request server could not start.
    #[error("connection request server: {0}")]
    ConnectionRequest(#[from] connreq::Error),
    /// The cloud tunnel's TLS settings could not be loaded.
    #[error("cloud-management tunnel: {0}")]
    Cloud(#[from] crate::cloud::DriverError),
    /// The `/metrics` endpoint could not listen.
    #[error(transparent)]
    Metrics(#[from] crate::stats::server::BindError),
}

/// Files of the state directory.
struct Files {
    model: PathBuf,
    events: PathBuf,
    agent: PathBuf,
    transfers: PathBuf,
}

/// What the session loop and the control socket share.
struct Core {
    model: DataModel,
    events: Events,
    transfers: TransferQueue,
    /// The transfer each CPE request of the session in progress reports, by position.
    in_flight: Vec<u64>,
    state: AgentState,
    files: Files,
    /// A session should open as soon as possible.
    session_due: bool,
    /// A Reboot / FactoryReset was accepted and waits for the session's end.
    reboot_after_session: bool,
    factory_reset_after_session: bool,
    in_session: bool,
    /// The Inform in flight carries `0 BOOTSTRAP`.
    bootstrap_in_flight: bool,
    /// The URL of the session in progress (the URL in use may change during it).
    session_url: Option<String>,
    /// Parameters whose change must be reported in the next Inform.
    changed: BTreeSet<String>,
    rng: StdRng,
    /// What the Connection Request server checks requests against, kept current with the
    /// model's `ConnectionRequestUsername` / `ConnectionRequestPassword`.
    connreq_credentials: Arc<Mutex<Option<connreq::Credentials>>>,
    /// The call-home statistics ([`crate::stats`]).
    stats: crate::stats::Stats<crate::stats::Message>,
    /// What runs and what happened, for `cpe status` and `cpe stop`.
    activity: health::Activity,
}

/// A running CPE agent.
pub struct Agent {
    core: Arc<Mutex<Core>>,
    config: Config,
    client: Client,
    wake: Arc<Notify>,
    connreq: Option<ConnectionRequestServer>,
    /// Where the Connection Request server listens, and its path.
    connreq_at: (SocketAddr, String),
    connreq_waiter: signal::Waiter,
    executor: Arc<Executor<transfers::Hooks>>,
    outcomes: (
        tokio::sync::mpsc::UnboundedSender<Outcome>,
        tokio::sync::mpsc::UnboundedReceiver<Outcome>,
    ),
    cloud: cloud::Cloud,
    /// The `/metrics` endpoint, when configured.
    metrics: Option<crate::stats::server::MetricsServer>,
    /// Set once a stop is decided (`cpe stop`, a signal): the loop, a session and the
    /// transfers end.
    stop: Arc<tokio::sync::watch::Sender<bool>>,
}

/// What woke the agent's loop.
enum Wake {
    Shutdown,
    Timer,
    Outcome(Outcome),
    ConnectionRequest(Option<signal::Wakeup>),
    Cloud(crate::cloud::Event),
}

impl Agent {
    /// Loads the state, boots the device model and binds the Connection Request server.
    ///
    /// The state files are saved here, unless a session opens as soon as the agent runs (one
    /// is due and the ACS URL is usable): that session saves them just before its Inform.
    pub async fn start(config: Config) -> Result<Self, AgentError> {
        std::fs::create_dir_all(&config.state_dir).map_err(|source| AgentError::StateDir {
            dir: config.state_dir.clone(),
            source,
        })?;
        let files = Files {
            model: config.state_dir.join("model.json"),
            events: config.state_dir.join("events.json"),
            agent: config.state_dir.join("agent.json"),
            transfers: config.state_dir.join("transfers.json"),
        };
        let _ = crate::persist::clean_temp_files(&config.state_dir);
        // A restore a crash interrupted is completed before any state file is read.
        match crate::snapshot::state::complete_journal(&config.state_dir) {
            Ok(Some(snapshot)) => crate::oplog!(
                STATE_RESTORE_COMPLETED,
                snapshot = %crate::snapshot::state::summary(&snapshot),
                "completed an interrupted restore"
            ),
            Ok(None) => {}
            Err(e) => {
                crate::oplog!(STATE_RESTORE_FAILED, %e, "an interrupted restore could not be completed")
            }
        }
        let profile = Arc::new(match &config.profile {
            Some(path) => Profile::load(path)?,
            None => Profile::default_gateway(),
        });
        let now = Timestamp::from_system_time(SystemTime::now());
        let model = match load::<ModelState>(&files.model) {
            Some(state) => DataModel::restore(profile, &state),
            None => DataModel::new(profile),
        };
        let first_boot = !files.events.exists();
        let events = match load::<EventsState>(&files.events) {
            Some(state) => Events::from_state(state, now),
            None => Events::new(now),
        };
        let state = load::<AgentState>(&files.agent).unwrap_or_default();
        let transfers = load::<TransferQueue>(&files.transfers).unwrap_or_default();
        let mut core = Core {
            model,
            events,
            transfers,
            in_flight: Vec::new(),
            state,
            files,
            session_due: true,
            reboot_after_session: false,
            factory_reset_after_session: false,
            in_session: false,
            bootstrap_in_flight: false,
            session_url: None,
            changed: BTreeSet::new(),
            rng: seeded_rng(),
            connreq_credentials: Arc::new(Mutex::new(None)),
            stats: crate::stats::Stats::new(),
            activity: health::Activity::new(),
        };
        if let Some(serial) = &config.serial {
            let _ = core.model.set_value(
                "Device.DeviceInfo.SerialNumber",
                &Value::String(serial.clone()),
                Origin::Local,
            );
        }
        core.choose_acs_url(&config);
        core.choose_acs_credentials(&config);
        core.choose_cloud(&config);
        core.restarted(&config, now);
        let pending_dhcp = config.state_dir.join(crate::ztp::hook::PENDING_FILE);
        let had_pending_dhcp = match load::<crate::ztp::Intake>(&pending_dhcp) {
            Some(intake) => {
                let applied = core.apply_dhcp(&intake);
                core.activity.dhcp(&applied);
                match applied {
                    Ok(summary) => {
                        crate::oplog!(
                            ZTP_PENDING_APPLIED,
                            summary,
                            "applied the DHCP intake saved while stopped"
                        )
                    }
                    Err(e) => {
                        crate::oplog!(ZTP_PENDING_REFUSED, %e, "the DHCP intake saved while stopped was refused")
                    }
                }
                true
            }
            None => false,
        };
        if first_boot {
            crate::oplog!(CWMP_BOOTSTRAP, "first start: 0 BOOTSTRAP");
        }
        core.bootstrap_if_new_url();
        core.sync_from_model();
        core.state.device = core.identity();
        // Transfers whose completion was recorded just before the stop: over, not run again.
        // Those cut short: restarted, or reported if their file was applied.
        core.drop_reported_transfers(unix_seconds());
        for completion in core.transfers.recover(unix_seconds()) {
            core.transfer_finished(completion);
        }

        let client = Client::new(transport_config(&config))?;
        let source = {
            let shared = core.connreq_credentials.clone();
            CredentialSource::from_fn(move || lock(&shared).clone())
        };
        let (notifier, connreq_waiter) = signal::channel();
        let server_config = ServerConfig {
            listen: config.connreq_listen,
            path: core.state.connreq_path.clone(),
            ..ServerConfig::default()
        };
        let cloud = cloud::Cloud::new(
            core.cloud_object(),
            crate::cloud::cloud_tls(config.cloud.ca_file.as_deref())?,
            client.proxies().clone(),
            config.cloud.secret.clone(),
            notifier.clone(),
            server_config.rate_limit,
            core.stats.clone(),
        );
        let server = ConnectionRequestServer::builder(server_config)
            .bind(source, notifier)
            .await?;
        core.state.connreq_path = Some(server.path().to_owned());
        core.activity
            .connreq(Some(format!("{}{}", server.local_addr(), server.path())));
        core.publish_connreq_url(server.local_addr(), server.path());
        core.save_all();
        if had_pending_dhcp && let Err(e) = std::fs::remove_file(&pending_dhcp) {
            crate::oplog!(ZTP_PENDING_NOT_REMOVED, %e, "could not remove the applied DHCP intake");
        }
        let metrics = match config.metrics_listen {
            Some(addr) => Some(crate::stats::server::MetricsServer::bind(addr).await?),
            None => None,
        };
        let transfer_config = TransferConfig {
            stats: Some(core.stats.clone()),
            ..TransferConfig::new(
                config.state_dir.join("downloads"),
                config.state_dir.join("files"),
            )
        };
        let core = Arc::new(Mutex::new(core));
        let executor = Executor::new(
            client.clone(),
            transfer_config,
            transfers::Hooks {
                core: core.clone(),
                commands: config.commands.clone(),
            },
        );
        if let Err(e) = executor.remove_stale_downloads().await {
            crate::oplog!(XFER_CLEANUP_FAILED, %e, "could not clean the download directory");
        }
        Ok(Self {
            core,
            config,
            client,
            wake: Arc::new(Notify::new()),
            connreq_at: (server.local_addr(), server.path().to_owned()),
            connreq: Some(server),
            connreq_waiter,
            executor: Arc::new(executor),
            outcomes: tokio::sync::mpsc::unbounded_channel(),
            cloud,
            metrics,
            stop: Arc::new(tokio::sync::watch::channel(false).0),
        })
    }

    /// Where the `/metrics` endpoint listens, if it is on.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|m| m.local_addr())
    }

    /// Runs until SIGINT or SIGTERM, which stop it as `cpe stop --force` does.
    pub async fn run_until_signal(self) -> std::io::Result<()> {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let shutdown = async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        };
        self.run_until(shutdown).await;
        Ok(())
    }

    /// Runs until `shutdown` completes or `cpe stop` is accepted. Either way a session in
    /// progress is dropped and the transfers running end ([`stop`]), then the whole state is
    /// saved, then the control socket closes.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        if let Some(server) = self.connreq.take() {
            let mut stop = stop_rx.clone();
            tokio::spawn(server.serve(async move {
                let _ = stop.wait_for(|s| *s).await;
            }));
        }
        if let Some(metrics) = self.metrics.take() {
            let core = self.core.clone();
            let render: crate::stats::server::Render = Arc::new(move || lock(&core).metrics_page());
            let mut stop = stop_rx.clone();
            tokio::spawn(metrics.serve(render, async move {
                let _ = stop.wait_for(|s| *s).await;
            }));
        }
        let control = {
            let (core, wake) = (self.core.clone(), self.wake.clone());
            let tunnel = self.cloud.control_handle();
            let dir = self.config.state_dir.clone();
            let stop = self.stop.clone();
            let mut closed = stop_rx.clone();
            tokio::spawn(async move {
                let handler = move |request| {
                    let (core, wake, tunnel) = (core.clone(), wake.clone(), tunnel.clone());
                    let stop = stop.clone();
                    async move {
                        match request {
                            Request::CloudStatus
                            | Request::CloudReset
                            | Request::CloudUnbind { .. } => {
                                cloud::Cloud::control(&tunnel, &core, request).await
                            }
                            Request::Stop { force } => stop::request(&core, &stop, force),
                            Request::Status => {
                                let cloud = cloud::Cloud::component(&tunnel, &core).await;
                                health::with_cloud(control_request(&core, &wake, request), cloud)
                            }
                            request => control_request(&core, &wake, request),
                        }
                    }
                };
                let serve = control::serve(&dir, handler, async move {
                    let _ = closed.wait_for(|s| *s).await;
                });
                if let Err(e) = serve.await {
                    crate::oplog!(CTRL_STOPPED, %e, "control socket stopped");
                }
            })
        };
        tokio::pin!(shutdown);
        let mut stop = self.stop.subscribe();
        // Cleared if the Connection Request server ever stops, so its closed signal cannot
        // wake the loop over and over.
        let mut connreq_alive = true;
        loop {
            if *stop.borrow() {
                break;
            }
            self.cloud.sync(&self.core).await;
            let next = {
                let mut core = lock(&self.core);
                // Transfers that ended during the last session are recorded before the next one,
                // which reports them, even when sessions follow each other without a pause.
                while let Ok(outcome) = self.outcomes.1.try_recv() {
                    core.transfer_ended(outcome);
                }
                let now = Timestamp::from_system_time(SystemTime::now());
                if !core.events.handle_timeout(now).is_empty() {
                    core.session_due = true;
                }
                self.start_due_transfers(&mut core);
                if core.session_due && core.state.acs_url.is_some() {
                    None
                } else {
                    let events = core.events.poll_timeout().map(|t| t.duration_since(now));
                    let transfer = core.transfers.poll_timeout().map(|at| {
                        Duration::from_secs(u64::try_from(at - unix_seconds()).unwrap_or(0))
                    });
                    Some(events.into_iter().chain(transfer).min())
                }
            };
            match next {
                None => {
                    let stopped = tokio::select! {
                        () = self.session() => false,
                        () = &mut shutdown => true,
                        _ = stop.wait_for(|s| *s) => true,
                    };
                    if stopped {
                        break;
                    }
                }
                Some(wait) => {
                    let sleep = tokio::time::sleep(wait.unwrap_or(Duration::from_secs(3600)));
                    let woken = tokio::select! {
                        () = &mut shutdown => Wake::Shutdown,
                        _ = stop.wait_for(|s| *s) => Wake::Shutdown,
                        () = sleep => Wake::Timer,
                        () = self.wake.notified() => Wake::Timer,
                        Some(outcome) = self.outcomes.1.recv() => Wake::Outcome(outcome),
                        wakeup = self.connreq_waiter.wait(), if connreq_alive => {
                            Wake::ConnectionRequest(wakeup)
                        }
                        event = self.cloud.next_event() => Wake::Cloud(event),
                    };
                    match woken {
                        Wake::Shutdown => break,
                        Wake::Timer => {}
                        Wake::Outcome(outcome) => lock(&self.core).transfer_ended(outcome),
                        Wake::ConnectionRequest(Some(_)) => {
                            let mut core = lock(&self.core);
                            core.events.queue_mut().add(EventCode::ConnectionRequest);
                            core.session_due = true;
                        }
                        Wake::ConnectionRequest(None) => {
                            crate::oplog!(
                                CONNREQ_SERVER_DOWN,
                                "the Connection Request server stopped"
                            );
                            lock(&self.core).activity.connreq(None);
                            connreq_alive = false;
                        }
                        Wake::Cloud(event) => self.cloud.handle(event, &self.core).await,
                    }
                }
            }
        }
        self.stop.send_replace(true);
        stop::save_at_exit(&self.core);
        let _ = stop_tx.send(true);
        let _ = control.await;
    }

    /// Starts every transfer that is due, each in its own task: a long download does not hold
    /// up sessions or Connection Requests.
    fn start_due_transfers(&self, core: &mut Core) {
        while let Some(due) = core.transfers.poll_due(unix_seconds()) {
            match due {
                Due::Start(job) => {
                    core.save_transfers();
                    let (executor, done) = (self.executor.clone(), self.outcomes.0.clone());
                    let shared = self.core.clone();
                    let mut stop = self.stop.subscribe();
                    let transfer = async move {
                        let outcome = match executor.transfer(&job).await {
                            Step::Finished(outcome) => outcome,
                            Step::Received(received) => {
                                // State 3 (A.4.1.1) is on disk before the file is applied, so
                                // a stop during or after the hook reports the transfer instead
                                // of fetching and applying the file a second time.
                                {
                                    let mut core = lock(&shared);
                                    core.transfers.mark_completed(job.id);
                                    core.save_transfers();
                                }
                                executor.install(received).await
                            }
                        };
                        let _ = done.send(outcome);
                    };
                    // A stop cuts it short; the queue takes it up again at the next start.
                    tokio::spawn(async move {
                        tokio::select! {
                            () = transfer => {}
                            _ = stop.wait_for(|s| *s) => {}
                        }
                    });
                }
                Due::Missed(completion) => core.transfer_finished(completion),
            }
        }
    }

    /// Runs one session to its end, then what it left to do.
    async fn session(&mut self) {
        let (url, credentials, config) = {
            let mut core = lock(&self.core);
            // A Connection Request that arrived while this session was being decided rides along.
            if self.connreq_waiter.try_take().is_some() {
                core.events.queue_mut().add(EventCode::ConnectionRequest);
            }
            let Some(url) = core.state.acs_url.clone() else {
                return;
            };
            let Ok(parsed) = url.parse::<AcsUrl>() else {
                // Not due again until something changes (a new URL, a timer, a request).
                core.session_due = false;
                crate::oplog!(
                    CWMP_URL_UNUSABLE,
                    url,
                    "the ACS URL is not usable; waiting for a new one"
                );
                return;
            };
            // A stop decided under this lock wins over the session (see `stop`).
            if *self.stop.borrow() {
                return;
            }
            let (listen, path) = &self.connreq_at;
            core.publish_connreq_url(*listen, path);
            core.in_session = true;
            core.session_url = Some(url);
            let url = parsed;
            let credentials = core.acs_credentials();
            let config = core.session_config(&self.config);
            // Whatever made the session due, including changes found while building the
            // Inform, is in this session now.
            core.session_due = false;
            if config.inform.event.is_empty() {
                // An Inform carries at least one event (§3.7.1.5): nothing to say, no session.
                core.in_session = false;
                return;
            }
            (url, credentials, config)
        };
        let span = {
            let mut core = lock(&self.core);
            let number = core.state.sessions_ok + core.state.sessions_failed + 1;
            core.activity
                .session_opened(number, &url.to_string(), &config.inform.event);
            tracing::info_span!("cwmp", session = number, acs = %url)
        };
        let mut handler = Handler::new(&self.core);
        let report = driver::run(&self.client, url, credentials, config, &mut handler)
            .instrument(span.clone())
            .await;
        let _entered = span.enter();
        let mut core = lock(&self.core);
        core.in_session = false;
        core.activity.session = None;
        core.activity.peer = self.client.last_peer();
        core.after_session(&report, &self.config);
    }
}

impl Core {
    /// The URL to call: one the ACS set beats the configuration, unless the configuration
    /// itself changed since (an operator's new choice).
    fn choose_acs_url(&mut self, config: &Config) {
        let configured_changed = self.state.configured_url != config.acs_url;
        if configured_changed {
            self.state.configured_url.clone_from(&config.acs_url);
        }
        let keep_acs_set = matches!(
            self.state.acs_url_source,
            Some(UrlSource::Acs | UrlSource::Cli)
        ) && !configured_changed;
        if !keep_acs_set && config.acs_url.is_some() {
            self.state.acs_url.clone_from(&config.acs_url);
            self.state.acs_url_source = Some(UrlSource::Config);
        }
        if let Some(url) = &self.state.acs_url {
            let _ = self.model.set_value(
                &format!("{MS}URL"),
                &Value::String(url.clone()),
                Origin::Local,
            );
        }
    }

    /// The credentials to authenticate to the ACS with (`ManagementServer.Username` /
    /// `Password`, TR-069 §3.4.4), by the URL's rule: ones the ACS set beat the configuration,
    /// unless the configuration itself changed since (an operator's new choice). Configured
    /// ones are written into the model, where sessions read them.
    fn choose_acs_credentials(&mut self, config: &Config) {
        let configured = config.acs_credentials();
        let fingerprint = configured.as_ref().map(fingerprint);
        let configured_changed = self.state.configured_credentials != fingerprint;
        if configured_changed {
            self.state.configured_credentials = fingerprint;
        }
        let keep_acs_set = matches!(
            self.state.acs_credentials_source,
            Some(CredentialsSource::Acs | CredentialsSource::Cli)
        ) && !configured_changed;
        if keep_acs_set {
            return;
        }
        let Some(credentials) = configured else {
            return;
        };
        for (name, value) in [
            ("Username", credentials.username),
            ("Password", credentials.password),
        ] {
            if let Err(e) =
                self.model
                    .set_value(&format!("{MS}{name}"), &Value::String(value), Origin::Local)
            {
                crate::oplog!(CWMP_CREDENTIALS_NOT_APPLIED, %e, parameter = name, "could not apply the configured ACS credentials");
                return;
            }
        }
        self.state.acs_credentials_source = Some(CredentialsSource::Config);
    }

    /// The configured cloud server (`[cloud] domain` / `port`, `--cloud-domain` /
    /// `--cloud-port`) into the cloud-management object, by the URL's rule: values the ACS or
    /// the CLI set beat the configuration, unless the configuration itself changed since; the
    /// configuration beats DHCP ([`crate::ztp`]).
    fn choose_cloud(&mut self, config: &Config) {
        let Some(object) = self.cloud_object() else {
            return;
        };
        let configured = [
            (
                "ServerDomain",
                config.cloud.domain.clone().map(Value::String),
            ),
            (
                "ServerPort",
                config.cloud.port.map(|p| Value::UnsignedInt(u32::from(p))),
            ),
        ];
        let fingerprint = format!("{:?}", (&config.cloud.domain, config.cloud.port));
        let configured_changed = self.state.configured_cloud.as_ref() != Some(&fingerprint);
        if configured_changed {
            self.state.configured_cloud = Some(fingerprint);
        }
        for (parameter, value) in configured {
            let Some(value) = value else {
                continue;
            };
            let name = format!("{object}{parameter}");
            let source = self.state.ztp.values.get(&name).copied();
            let held = matches!(
                source,
                Some(crate::ztp::Source::Acs | crate::ztp::Source::Cli)
            ) && !configured_changed;
            if held {
                continue;
            }
            match self.model.set_value(&name, &value, Origin::Local) {
                Ok(_) => {
                    self.state
                        .ztp
                        .values
                        .insert(name, crate::ztp::Source::Config);
                }
                Err(e) => {
                    crate::oplog!(CLOUD_CONFIG_NOT_APPLIED, %e, "could not apply the configured cloud server")
                }
            }
        }
    }

    /// The ACS set `ManagementServer.Username` or `Password` (SetParameterValues): from now on
    /// they win over the configuration, across restarts. Saved before the model, so a stop in
    /// between cannot leave the ACS's values on disk marked as the configuration's.
    fn acs_set_credentials(&mut self) {
        if self.state.acs_credentials_source != Some(CredentialsSource::Acs) {
            crate::oplog!(
                CWMP_ACS_CREDENTIALS,
                "the ACS set its own credentials; they now take precedence over the configuration"
            );
        }
        self.state.acs_credentials_source = Some(CredentialsSource::Acs);
        save(&self.files.agent, &self.state);
    }

    /// Applies what a DHCP lease said (TR-069 §3.1) under [`crate::ztp`]'s precedence, all or
    /// nothing; answers a summary of what changed and what held. The agent state is saved
    /// before the model, so a stop in between cannot leave DHCP's values on disk marked as
    /// another source's.
    fn apply_dhcp(
        &mut self,
        intake: &crate::ztp::Intake,
    ) -> Result<String, crate::ztp::IntakeError> {
        use crate::ztp::{self, IntakeError, Source, UrlChange};
        intake.check()?;
        let cloud_object = self.cloud_object();
        // A URL the ACS set in the session in progress is applied only once the session is
        // over, but it already holds against DHCP.
        let model_url = self.text_value("URL").filter(|u| !u.is_empty());
        let url_source = if model_url.is_some() && model_url != self.state.acs_url {
            Some(Source::Acs)
        } else {
            self.state.acs_url_source
        };
        let plan = ztp::plan(
            intake,
            ztp::Current {
                url: self.state.acs_url.as_deref(),
                url_source,
                credentials_source: self.state.acs_credentials_source,
                provenance: &self.state.ztp,
                cloud_object: cloud_object.as_deref(),
            },
        );
        if !plan.values.is_empty() {
            let changes = plan.values.iter().map(|(n, v)| (n.as_str(), v));
            if let Err(e) = self.model.set_values(changes, Origin::Local) {
                let first = e.errors.first();
                return Err(IntakeError::Value {
                    parameter: first.map(|e| e.name().to_owned()).unwrap_or_default(),
                    reason: e
                        .errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                });
            }
        }
        ztp::record(&mut self.state.ztp, intake, &plan);
        let mut summary = Vec::new();
        if let UrlChange::Apply(url) = &plan.url {
            crate::oplog!(ZTP_ACS_URL_LEARNED, url, "DHCP gave a new ACS URL");
            self.state.acs_url = Some(url.clone());
            self.state.acs_url_source = Some(Source::Dhcp);
        }
        if plan.credentials {
            self.state.acs_credentials_source = Some(Source::Dhcp);
        }
        for (name, value) in &plan.values {
            let shown = if name == ztp::PASSWORD {
                "(hidden)".into()
            } else {
                value.lexical()
            };
            summary.push(format!("{name} = {shown} (dhcp)"));
        }
        for (name, source) in &plan.kept {
            crate::oplog!(ZTP_VALUE_KEPT, parameter = name, %source, "DHCP value ignored: a stronger source set it");
            summary.push(format!("{name} kept: set by {source}"));
        }
        if let Some(cloud) = &plan.cloud
            && cloud_object.is_none()
        {
            summary.push(format!("cloud-management server kept in the agent state (the profile has no cloud-management object): {cloud:?}"));
        }
        if summary.is_empty() {
            summary.push("nothing changed".into());
        }
        save(&self.files.agent, &self.state);
        self.bootstrap_if_new_url();
        self.sync_from_model();
        self.save_all();
        Ok(summary.join("\n"))
    }

    /// The profile's cloud-management object (`Device.X_<vendor>_CloudManagement.`), if any.
    fn cloud_object(&self) -> Option<String> {
        let children = self.model.parameter_names("Device.", true).ok()?;
        crate::ztp::cloud_object(children.iter().map(|(n, _)| n.as_str())).map(str::to_owned)
    }

    /// Records `source` for the tracked parameters among `names` (the URL and the credentials
    /// have their own sources in the agent state).
    fn set_sources<'a>(
        &mut self,
        names: impl IntoIterator<Item = &'a str>,
        source: crate::ztp::Source,
    ) {
        let mut changed = false;
        for name in names.into_iter().filter(|n| crate::ztp::is_tracked(n)) {
            changed |= self.state.ztp.values.insert(name.to_owned(), source) != Some(source);
        }
        if changed {
            save(&self.files.agent, &self.state);
        }
    }

    /// Where each value DHCP may set came from, for `cpe status`.
    fn sources(&self) -> Vec<(String, String)> {
        use crate::ztp::{self, Source};
        let shown = |source: Option<Source>, name: &str| {
            source
                .unwrap_or_else(|| match self.model.value(name) {
                    Ok(v) if !v.lexical().is_empty() => Source::Profile,
                    _ => Source::Default,
                })
                .as_str()
                .to_owned()
        };
        let mut out = vec![
            (
                ztp::URL.to_owned(),
                shown(self.state.acs_url_source, ztp::URL),
            ),
            (
                ztp::USERNAME.to_owned(),
                shown(self.state.acs_credentials_source, ztp::USERNAME),
            ),
        ];
        let mut tracked = vec![
            ztp::PROVISIONING_CODE.to_owned(),
            ztp::RETRY_MIN_WAIT.to_owned(),
            ztp::RETRY_MULTIPLIER.to_owned(),
        ];
        match self.cloud_object() {
            Some(object) => {
                tracked.extend(ztp::CLOUD_PARAMETERS.iter().map(|p| format!("{object}{p}")));
            }
            None => {
                if let Some(cloud) = &self.state.ztp.cloud {
                    for (field, set) in [
                        ("domain", cloud.domain.is_some()),
                        ("port", cloud.port.is_some()),
                        ("keepalive", cloud.keepalive.is_some()),
                        ("ping", cloud.ping.is_some()),
                    ] {
                        let source = if set { Source::Dhcp } else { Source::Default };
                        out.push((format!("cloud.{field}"), source.as_str().to_owned()));
                    }
                }
            }
        }
        for name in tracked {
            if self.model.value(&name).is_ok() {
                let source = shown(self.state.ztp.values.get(&name).copied(), &name);
                out.push((name, source));
            }
        }
        out
    }

    /// Starts the event queue over after a stop. With a host reboot command configured, only a
    /// new kernel boot ID is a device boot (`1 BOOT`, and a held `M Reboot` goes out); the
    /// agent restarting on the same boot is a process restart, and a Reboot the agent
    /// acknowledged but never carried out is carried out now. Without one, the agent's own
    /// restart is the device's reboot (the lab default).
    fn restarted(&mut self, config: &Config, now: Timestamp) {
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|id| id.trim().to_owned());
        let host_rebooted = boot_id.is_none() || boot_id != self.state.boot_id;
        self.state.boot_id = boot_id;
        if config.commands.reboot.is_empty() || host_rebooted {
            self.events.restart(Restart::Boot, now);
            return;
        }
        self.events.restart(Restart::Process, now);
        if self.events.queue().reboot_pending() {
            crate::oplog!(
                HOST_REBOOT_RESUMED,
                "a Reboot was acknowledged but not carried out; rebooting now"
            );
            run_hook("reboot", &config.commands.reboot);
        }
    }

    /// `0 BOOTSTRAP` when the URL in use has never received one (first contact, a new ACS).
    fn bootstrap_if_new_url(&mut self) {
        let pending = self
            .events
            .queue()
            .iter()
            .any(|e| e.event_code == EventCode::Bootstrap);
        if self.state.acs_url.is_some()
            && self.state.bootstrapped_url != self.state.acs_url
            && !pending
        {
            self.events.bootstrap();
            self.session_due = true;
        }
    }

    /// Reads what the agent itself needs from the model after a change.
    fn sync_from_model(&mut self) {
        *lock(&self.connreq_credentials) = self.connreq_credentials_in_model();
        let periodic = crate::events::schedule::PeriodicConfig {
            enable: self.bool_value("PeriodicInformEnable").unwrap_or(false),
            interval: self.u32_value("PeriodicInformInterval").unwrap_or(0),
            time: match self.model.value(&format!("{MS}PeriodicInformTime")) {
                Ok(Value::DateTime(t)) if !t.is_unknown() => Some(t),
                _ => None,
            },
        };
        if periodic != self.events.scheduler().periodic() {
            let now = Timestamp::from_system_time(SystemTime::now());
            self.events.scheduler_mut().set_periodic(periodic, now);
        }
        if let Some(seconds) = self.u32_value("DefaultActiveNotificationThrottle") {
            self.events
                .scheduler_mut()
                .set_active_notification_throttle(seconds);
        }
        let m = self.u32_value("CWMPRetryMinimumWaitInterval");
        let k = self.u32_value("CWMPRetryIntervalMultiplier");
        if let (Some(m), Some(k)) = (m, k)
            && let Ok(policy) = crate::events::retry::RetryPolicy::new(m, k)
        {
            self.events.set_retry_policy(policy);
        }
        for (name, notification) in self.model.take_value_changes() {
            use schemas::rpc::types::Notification as N;
            let active = matches!(notification, N::Active);
            self.events.value_changed(active);
            self.changed.insert(name);
            self.session_due |= active;
        }
    }

    fn text_value(&self, name: &str) -> Option<String> {
        match self.model.value(&format!("{MS}{name}")) {
            Ok(Value::String(s)) => Some(s),
            Ok(other) => Some(other.lexical().into_owned()),
            Err(_) => None,
        }
    }

    fn u32_value(&self, name: &str) -> Option<u32> {
        match self.model.value(&format!("{MS}{name}")) {
            Ok(Value::UnsignedInt(n)) => Some(n),
            Ok(other) => other.lexical().trim().parse().ok(),
            Err(_) => None,
        }
    }

    fn bool_value(&self, name: &str) -> Option<bool> {
        match self.model.value(&format!("{MS}{name}")) {
            Ok(Value::Boolean(b)) => Some(b),
            _ => None,
        }
    }

    /// The credentials of the next session: the model's `ManagementServer.Username` /
    /// `Password` (TR-069 §3.4.4), none while the user name is empty.
    fn acs_credentials(&self) -> Option<Credentials> {
        let user = self.text_value("Username").unwrap_or_default();
        let password = self.text_value("Password").unwrap_or_default();
        (!user.is_empty()).then(|| Credentials::new(user, password))
    }

    fn connreq_credentials_in_model(&self) -> Option<connreq::Credentials> {
        let user = self
            .text_value("ConnectionRequestUsername")
            .unwrap_or_default();
        let password = self
            .text_value("ConnectionRequestPassword")
            .unwrap_or_default();
        let credentials = connreq::Credentials::new(user, password);
        credentials.is_configured().then_some(credentials)
    }

    fn device_id(&self) -> DeviceIdStruct {
        let info = |name: &str| {
            self.model
                .value(&format!("Device.DeviceInfo.{name}"))
                .map(|v| v.lexical().into_owned())
                .unwrap_or_default()
        };
        DeviceIdStruct {
            manufacturer: info("Manufacturer"),
            oui: info("ManufacturerOUI"),
            product_class: info("ProductClass"),
            serial_number: info("SerialNumber"),
        }
    }

    fn session_config(&mut self, config: &Config) -> SessionConfig {
        self.model.check_value_changes();
        self.sync_from_model();
        let taken = self.events.take_for_inform();
        self.bootstrap_in_flight = taken
            .events
            .iter()
            .any(|e| e.event_code == EventCode::Bootstrap);
        let changed: Vec<String> = self.changed.iter().cloned().collect();
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let inform = Inform {
            device_id: self.device_id(),
            event: taken.events,
            max_envelopes: 1,
            current_time: DateTime::from_unix(now.as_secs() as i64, now.subsec_nanos())
                .unwrap_or(DateTime::UNKNOWN),
            retry_count: taken.retry_count,
            parameter_list: self.model.inform_parameters(&changed),
        };
        self.save_events();
        let mut session = SessionConfig::new(inform);
        // TransferComplete and AutonomousTransferComplete still owed to the ACS (A.3.3.2).
        self.in_flight.clear();
        for pending in &self.state.pending_messages {
            if let Some(body) = pending.body() {
                session.requests.push(body);
                self.in_flight.push(pending.transfer);
            }
        }
        session.max_version = config.max_version;
        session.timeout = config.session_timeout;
        session.id_seed = self.rng.next_u64();
        session
    }

    /// Everything a session leaves to do once it is over (§3.7.2.4).
    fn after_session(&mut self, report: &driver::SessionReport, config: &Config) {
        let now = Timestamp::from_system_time(SystemTime::now());
        let outcome = match &report.result {
            Ok(()) => {
                crate::oplog!(CWMP_SESSION_OK, version = %report.version, "CWMP session completed");
                self.events.session_succeeded(now);
                self.state.sessions_ok += 1;
                "ok".to_owned()
            }
            Err(e) => {
                crate::oplog!(CWMP_SESSION_FAILED, error = %e, "CWMP session failed");
                self.log_auth_failure(e);
                let wait = self.events.session_failed(now, &mut self.rng);
                if let Some(wait) = wait {
                    crate::oplog!(CWMP_RETRY_SCHEDULED, ?wait, "retrying the session");
                }
                self.state.sessions_failed += 1;
                e.to_string()
            }
        };
        self.state.last_session = Some((rfc3339(SystemTime::now()), outcome));
        let deferred = self.model.take_deferred();
        for error in self.model.apply_deferred(&deferred) {
            crate::oplog!(CWMP_DEFERRED_FAILED, %error, "a deferred change could not be applied");
        }
        // The ACS re-pointed itself: the next session goes to the new URL with 0 BOOTSTRAP.
        if let Some(url) = self.text_value("URL").filter(|u| !u.is_empty())
            && Some(&url) != self.state.acs_url.as_ref()
        {
            if url.parse::<AcsUrl>().is_ok() {
                crate::oplog!(CWMP_ACS_URL_CHANGED, url, "the ACS set a new ACS URL");
                self.state.acs_url = Some(url);
                self.state.acs_url_source = Some(UrlSource::Acs);
                self.bootstrap_if_new_url();
            } else if let Some(old) = self.state.acs_url.clone() {
                // A URL the agent cannot reach would leave it with no ACS at all.
                crate::oplog!(
                    CWMP_ACS_URL_REFUSED,
                    url,
                    "the ACS set an unusable ACS URL; keeping the old one"
                );
                let name = format!("{MS}URL");
                let _ = self
                    .model
                    .set_value(&name, &Value::String(old), Origin::Local);
            }
        }
        if std::mem::take(&mut self.factory_reset_after_session) {
            run_hook("factory_reset", &config.commands.factory_reset);
            self.model = DataModel::new(self.model.profile().clone());
            self.state.acs_url = config.acs_url.clone();
            self.state.acs_url_source = config.acs_url.as_ref().map(|_| UrlSource::Config);
            self.state.bootstrapped_url = None;
            // DHCP's next word applies again, even the URL it gave before.
            self.state.ztp = crate::ztp::Provenance::default();
            self.choose_acs_url(config);
            // Back to the provisioned credentials, as the URL.
            self.state.acs_credentials_source = None;
            self.choose_acs_credentials(config);
            self.choose_cloud(config);
            self.events.bootstrap();
            self.session_due = true;
        }
        if std::mem::take(&mut self.reboot_after_session) {
            if config.commands.reboot.is_empty() {
                // The default reboot: the agent's own state machine starts over (1 BOOT and the
                // held M Reboot go out next).
                self.events.restart(Restart::Boot, now);
                self.session_due = true;
            } else {
                // The host reboots; the held M Reboot goes out after its next boot.
                self.save_all();
                run_hook("reboot", &config.commands.reboot);
            }
        }
        // A URL that changed during the session (DHCP, the CLI) gets its 0 BOOTSTRAP now.
        self.session_url = None;
        self.bootstrap_if_new_url();
        self.sync_from_model();
        self.save_all();
    }

    /// Publishes the `ConnectionRequestURL` (TR-069 §3.2.2) of the server listening on `listen`
    /// at `path`. One listening on every address names the address facing the ACS in use, so
    /// this runs at the start and again before each session: an ACS URL learned from DHCP (or
    /// set by the ACS) since, or a new lease, changes it.
    fn publish_connreq_url(&mut self, listen: SocketAddr, path: &str) {
        let url = connreq_url(listen, path, self.state.acs_url.as_deref());
        if self.text_value("ConnectionRequestURL").as_deref() != Some(url.as_str()) {
            let _ = self.model.set_value(
                &format!("{MS}ConnectionRequestURL"),
                &Value::String(url),
                Origin::Local,
            );
        }
    }

    /// Says which credentials an ACS refused and where they came from, so the operator knows
    /// what to fix (TR-069 §3.4.4). Never logs the password.
    fn log_auth_failure(&self, error: &driver::DriveError) {
        use crate::transport::TransportError as T;
        let driver::DriveError::Transport(
            e @ (T::AuthRejected { .. } | T::AuthRequired | T::BasicOverPlainHttp),
        ) = error
        else {
            return;
        };
        let username = self.text_value("Username").unwrap_or_default();
        let source = self
            .state
            .acs_credentials_source
            .map_or("profile", CredentialsSource::as_str);
        crate::oplog!(
            CWMP_AUTH_FAILED,
            error = %e,
            username,
            source,
            "authentication to the ACS failed; check ManagementServer.Username/Password \
             (`[acs] username`/`password` in the configuration)"
        );
    }

    fn save_all(&mut self) {
        // Events before the model: a crash between the two must not leave a changed value on
        // disk with its `4 VALUE CHANGE` lost.
        self.save_events();
        self.save_model();
        save(&self.files.agent, &self.state);
        self.save_transfers();
    }

    fn save_model(&self) {
        save(&self.files.model, &self.model.state());
    }

    fn save_events(&self) {
        save(&self.files.events, &self.events.state());
    }

    fn save_transfers(&self) {
        save(&self.files.transfers, &self.transfers);
    }
}

/// Answers one control-socket request.
fn control_request(core: &Mutex<Core>, wake: &Notify, request: Request) -> Response {
    let mut core = lock(core);
    match request {
        Request::Status => Response::Status(control::Status {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            acs_url: core.state.acs_url.clone(),
            acs_url_source: core.state.acs_url_source.map(|s| s.as_str().to_owned()),
            sources: core.sources(),
            last_session: core.state.last_session.clone(),
            next_session: core
                .events
                .poll_timeout()
                .map(|t| rfc3339(SystemTime::UNIX_EPOCH + Duration::from_millis(t.unix_millis()))),
            sessions_ok: core.state.sessions_ok,
            sessions_failed: core.state.sessions_failed,
            pending_events: core
                .events
                .queue()
                .iter()
                .map(|e| e.event_code.to_string())
                .collect(),
            in_session: core.in_session,
            components: core.components().into(),
        }),
        Request::Stats => Response::Stats(core.stats_snapshot()),
        Request::Get { paths } => {
            let mut values = Vec::new();
            for path in paths {
                match core.model.parameter_values(&path) {
                    Ok(found) => {
                        values.extend(
                            found
                                .into_iter()
                                .map(|(n, v)| (n, v.lexical().into_owned())),
                        );
                    }
                    Err(e) => {
                        return Response::Error {
                            message: format!("{path}: {e}"),
                        };
                    }
                }
            }
            Response::Values { values }
        }
        Request::Set { values } => {
            let url = format!("{MS}URL");
            for (name, text) in &values {
                if *name == url
                    && !text.is_empty()
                    && let Err(e) = text.parse::<AcsUrl>()
                {
                    return Response::Error {
                        message: format!("{name}: not a usable ACS URL: {e}"),
                    };
                }
            }
            for (name, text) in &values {
                if let Err(e) =
                    core.model
                        .set_value(name, &Value::String(text.clone()), Origin::Local)
                {
                    return Response::Error {
                        message: format!("{name}: {e}"),
                    };
                }
            }
            // A local choice: it holds against DHCP until a factory reset (crate::ztp).
            if let Some((_, text)) = values.iter().rev().find(|(n, _)| *n == url)
                && !text.is_empty()
                && core.state.acs_url.as_ref() != Some(text)
            {
                crate::oplog!(
                    CWMP_CLI_URL_SET,
                    url = text,
                    "the local CLI set a new ACS URL"
                );
                core.state.acs_url = Some(text.clone());
                core.state.acs_url_source = Some(UrlSource::Cli);
                core.bootstrap_if_new_url();
            }
            if values.iter().any(|(n, _)| {
                n.strip_prefix(MS)
                    .is_some_and(|n| n == "Username" || n == "Password")
            }) {
                core.state.acs_credentials_source = Some(CredentialsSource::Cli);
            }
            core.set_sources(
                values.iter().map(|(n, _)| n.as_str()),
                crate::ztp::Source::Cli,
            );
            core.sync_from_model();
            core.save_all();
            wake.notify_one();
            Response::Done
        }
        // Answered by the tunnel's side (`cloud::Cloud::control`), which awaits the driver.
        Request::CloudStatus | Request::CloudReset | Request::CloudUnbind { .. } => {
            Response::Error {
                message: "the cloud tunnel's requests are not answered here".to_owned(),
            }
        }
        Request::Backup => core.backup_response(),
        Request::Dhcp { intake } => {
            let applied = core.apply_dhcp(&intake);
            core.activity.dhcp(&applied);
            match applied {
                Ok(summary) => {
                    wake.notify_one();
                    Response::Dhcp { summary }
                }
                Err(e) => Response::Error {
                    message: e.to_string(),
                },
            }
        }
        // Answered by the loop's side (`stop::request`), which holds the stop signal.
        Request::Stop { .. } => Response::Error {
            message: "stop requests are not answered here".to_owned(),
        },
    }
}

/// What [`AgentState::configured_credentials`] keeps of configured credentials: enough to see
/// that they changed, not the password.
fn fingerprint(credentials: &Credentials) -> String {
    use md5::{Digest as _, Md5};
    let mut hasher = Md5::new();
    // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
    hasher.update((credentials.username.len() as u64).to_be_bytes());
    hasher.update(credentials.username.as_bytes());
    hasher.update(credentials.password.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn transport_config(config: &Config) -> TransportConfig {
    TransportConfig {
        tls: TlsSettings {
            ca_file: config.ca_file.clone(),
            client_certificate: config.client_identity.as_ref().map(|(cert, key)| {
                crate::transport::ClientCertificate {
                    cert_file: cert.clone(),
                    key_file: key.clone(),
                }
            }),
            insecure: config.insecure,
            ..TlsSettings::default()
        },
        proxy: crate::dial::ProxySettings::from_options(&config.proxy, |name| {
            std::env::var(name).ok()
        }),
        response_timeout: config.session_timeout,
        ..TransportConfig::default()
    }
}

/// `http://host:port/path` for the Connection Request server: the listen address if it is a
/// specific one, else the address this host uses to reach the ACS (no packet is sent).
fn connreq_url(local: SocketAddr, path: &str, acs_url: Option<&str>) -> String {
    let ip = if local.ip().is_unspecified() {
        acs_url
            .and_then(|u| u.parse::<AcsUrl>().ok())
            .and_then(|u| {
                let socket = UdpSocket::bind(("0.0.0.0", 0)).ok()?;
                socket.connect((u.host(), u.port())).ok()?;
                socket.local_addr().ok().map(|a| a.ip())
            })
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
    } else {
        local.ip()
    };
    match ip {
        IpAddr::V6(v6) => format!("http://[{v6}]:{}{path}", local.port()),
        IpAddr::V4(v4) => format!("http://{v4}:{}{path}", local.port()),
    }
}

fn run_hook(what: &str, argv: &[String]) {
    let Some((program, args)) = argv.split_first() else {
        return;
    };
    match std::process::Command::new(program).args(args).status() {
        Ok(status) if status.success() => {
            crate::oplog!(HOST_COMMAND_DONE, what, "host command done")
        }
        Ok(status) => crate::oplog!(HOST_COMMAND_FAILED, what, %status, "host command failed"),
        Err(e) => crate::oplog!(HOST_COMMAND_NOT_RUN, what, %e, "host command could not run"),
    }
}

fn load<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Option<T> {
    match crate::persist::load(path) {
        Ok(found) => found,
        Err(e) => {
            crate::oplog!(STATE_FILE_DAMAGED, %e, "state file damaged; starting from defaults for it");
            None
        }
    }
}

fn save<T: serde::Serialize>(path: &std::path::Path, value: &T) {
    if let Err(e) = crate::persist::save(path, value) {
        crate::oplog!(STATE_SAVE_FAILED, %e, "could not save state");
    }
}

/// Locks shared state. A poisoned lock (a panic while held) still holds consistent data
/// here: every mutation is completed before the guard drops.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Seconds since 1970 on the wall clock: the transfer queue's time.
fn unix_seconds() -> i64 {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

/// A generator seeded by the operating system, or by the clock if it has no entropy to give
/// (IDs and retry jitter need to differ between devices, not to be secret).
fn seeded_rng() -> StdRng {
    StdRng::try_from_rng(&mut SysRng).unwrap_or_else(|_| {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        StdRng::seed_from_u64(now.as_nanos() as u64 ^ u64::from(std::process::id()))
    })
}

fn rfc3339(time: SystemTime) -> String {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    DateTime::from_unix(since.as_secs() as i64, 0)
        .map(|t| t.to_string())
        .unwrap_or_default()
}
