//! `acs-sim lab`: the zero-touch flow on one machine.
//!
//! Two ACS instances and a file server on loopback, each ACS with its own temporary SQLite
//! store, and N CPE agents of the `cpe` crate in this process, each with its own state
//! directory. Each CPE starts with nothing but its serial number and the option-43 bytes a DHCP
//! server would give it (TR-069 §3.1). Then, per device:
//!
//! 1. first contact with ACS 1 (`0 BOOTSTRAP` Inform), and the cloud-management tunnel to the
//!    lab's cloud server ([`crate::cloud`]) with its three sub-connections;
//! 2. ACS 1 provisions it (Connection Request credentials, the scenario's values);
//! 3. ACS 1 re-points it to ACS 2 (`ManagementServer.URL`);
//! 4. first contact with ACS 2 (`0 BOOTSTRAP` again: a new ACS URL is a new bootstrap);
//! 5. a GenieACS-style task through ACS 2's REST API with a Connection Request;
//! 6. a firmware Download of a file uploaded through the REST API;
//! 7. the device's TransferComplete;
//! 8. a Reboot, and the device's `M Reboot` Inform.
//!
//! The run prints a timeline and a summary table, then the first device's `cpe cloud status`
//! and `cpe stats`; it succeeds only if every step happened for every device.
//!
//! Each agent starts with no ACS URL and gets option 43 the way `cpe dhcp hook` hands it over
//! (saved in its state directory, applied at start, source `dhcp`). With `--dhcp` the bytes
//! come from a real dnsmasq in network namespaces ([`dhcp`]); otherwise the lab encodes them
//! itself.

mod dhcp;
pub(crate) mod http;
mod report;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::{broadcast, watch};

use cpe::ztp::Intake;
use schemas::dhcp::{AcsDiscovery, Dialect};

use crate::acs::{Acs, AcsConfig, AcsEvent, ConnReqConfig, TranscriptConfig};
use crate::cloud::{CloudConfig, CloudEvent, CloudEventKind, CloudServer};
use crate::files::FileStore;
use crate::scenario::Scenario;
use crate::store::{DeviceId, SqliteStore};

use report::Timeline;
pub use report::{LabReport, Step};

/// Most CPEs one lab run boots.
pub const MAX_CPES: usize = 500;

/// The firmware image the lab uploads and downloads.
const FIRMWARE: &str = "lab-firmware-2.0.bin";

/// How the lab runs.
#[derive(Clone, Debug)]
pub struct LabOptions {
    /// How many CPEs to boot (1 to [`MAX_CPES`]).
    pub cpes: usize,
    /// How long the whole flow may take before the lab gives up.
    pub deadline: Duration,
    /// Print every step of every device (otherwise the first device's steps and progress).
    pub verbose: bool,
    /// Write every session's messages under this directory (`acs1/` and `acs2/`).
    pub transcripts: Option<PathBuf>,
    /// Learn option 43 from a real DHCP server in network namespaces (needs root; the lab
    /// says why when it falls back to handing the bytes over).
    pub dhcp: bool,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            cpes: 3,
            deadline: Duration::from_secs(60),
            verbose: false,
            transcripts: None,
            dhcp: false,
        }
    }
}

/// Why the lab could not run (a step that did not happen is not an error: it is in the report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// A bad option.
    #[error("{0}")]
    Options(String),
    /// Setting up the lab failed.
    #[error("cannot set up the lab: {0}")]
    Setup(String),
}

fn setup(what: &str) -> impl FnOnce(String) -> LabError + '_ {
    move |e| LabError::Setup(format!("{what}: {e}"))
}

/// One ACS instance of the lab.
struct Instance {
    acs: Arc<Acs>,
    cwmp: SocketAddr,
    nbi: SocketAddr,
}

impl Instance {
    async fn start(
        dir: &Path,
        name: &str,
        config: AcsConfig,
        scenario: Scenario,
        stop: &watch::Receiver<bool>,
        ip: IpAddr,
    ) -> Result<Self, LabError> {
        let store = SqliteStore::open(dir.join(format!("{name}.db")))
            .map_err(|e| setup("store")(e.to_string()))?;
        let files = FileStore::new(dir.join(format!("{name}-files")))
            .map_err(|e| setup("file area")(e.to_string()))?;
        let acs = Acs::new(Arc::new(store), config, scenario, files);
        let cwmp = bind(ip).await?;
        let nbi = bind(ip).await?;
        let addrs = (local(&cwmp)?, local(&nbi)?);
        tokio::spawn(crate::server::serve(
            cwmp,
            Arc::clone(&acs),
            None,
            stopped(stop),
        ));
        tokio::spawn(crate::nbi::serve(nbi, Arc::clone(&acs), stopped(stop)));
        Ok(Self {
            acs,
            cwmp: addrs.0,
            nbi: addrs.1,
        })
    }

    fn url(&self) -> String {
        format!("http://{}/", self.cwmp)
    }
}

async fn bind(ip: IpAddr) -> Result<TcpListener, LabError> {
    TcpListener::bind((ip, 0))
        .await
        .map_err(|e| setup("listener")(e.to_string()))
}

fn local(listener: &TcpListener) -> Result<SocketAddr, LabError> {
    listener
        .local_addr()
        .map_err(|e| setup("listener")(e.to_string()))
}

fn stopped(stop: &watch::Receiver<bool>) -> impl Future<Output = ()> + Send + 'static {
    let mut stop = stop.clone();
    async move {
        let _ = stop.wait_for(|s| *s).await;
    }
}

/// Where the lab's parts run.
enum Network {
    /// All in this process on loopback; `fallback` says why `--dhcp` could not be honoured.
    Loopback { fallback: Option<String> },
    /// In network namespaces, with a real DHCP server.
    Lan(Arc<dhcp::Lan>),
}

impl Network {
    /// Where the ACSes, REST APIs and the file server listen.
    fn listen_ip(&self) -> IpAddr {
        match self {
            Self::Loopback { .. } => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Self::Lan(_) => IpAddr::V4(netlab::SERVER_V4),
        }
    }

    /// Where the agents listen for Connection Requests.
    fn connreq_listen(&self) -> String {
        let ip = match self {
            Self::Loopback { .. } => Ipv4Addr::LOCALHOST,
            Self::Lan(_) => netlab::CPE_V4,
        };
        format!("{ip}:0")
    }

    /// Where the agents run.
    fn agents(&self) -> Handle {
        match self {
            Self::Loopback { .. } => Handle::current(),
            Self::Lan(lan) => lan.cpe().clone(),
        }
    }
}

/// How the lab's CPEs get option 43.
enum Intakes<'a> {
    /// The lab encoded it; every CPE gets this.
    Handed(Intake),
    /// Each CPE asks the DHCP server of this network.
    Asked(&'a dhcp::Lan),
}

/// Runs the lab and writes its timeline and summary to `out`.
pub async fn run(
    options: LabOptions,
    out: impl std::io::Write + Send + 'static,
) -> Result<LabReport, LabError> {
    if !(1..=MAX_CPES).contains(&options.cpes) {
        return Err(LabError::Options(format!(
            "--cpes must be 1 to {MAX_CPES}, got {}",
            options.cpes
        )));
    }
    if !options.dhcp {
        return flow(options, out, Network::Loopback { fallback: None }).await;
    }
    let lan = match tokio::task::spawn_blocking(dhcp::Lan::start).await {
        Ok(Ok(lan)) => Arc::new(lan),
        Ok(Err(why)) => {
            let fallback = Some(why);
            return flow(options, out, Network::Loopback { fallback }).await;
        }
        Err(e) => return Err(setup("network namespaces")(e.to_string())),
    };
    // The flow runs on the server side, so that its listeners are there.
    let report = lan
        .server()
        .spawn(flow(options, out, Network::Lan(Arc::clone(&lan))))
        .await
        .map_err(|e| setup("the lab")(e.to_string()));
    // The last reference: the sides' threads are joined here, not on one of them.
    let _ = tokio::task::spawn_blocking(move || drop(lan)).await;
    report?
}

/// The lab itself, on `network`.
async fn flow(
    options: LabOptions,
    out: impl std::io::Write + Send + 'static,
    network: Network,
) -> Result<LabReport, LabError> {
    let started = Instant::now();
    let dir = tempfile::tempdir().map_err(|e| setup("temporary directory")(e.to_string()))?;
    let (stop_tx, stop) = watch::channel(false);
    let ip = network.listen_ip();
    let files = bind(ip).await?;
    let files_addr = local(&files)?;

    let transcripts = |name: &str| {
        let dir = options.transcripts.as_ref()?;
        Some(TranscriptConfig {
            dir: dir.join(name),
            devices: Vec::new(),
        })
    };
    let second = Instance::start(
        dir.path(),
        "acs2",
        AcsConfig {
            files_url: format!("http://{files_addr}"),
            transcripts: transcripts("acs2"),
            ..AcsConfig::default()
        },
        Scenario::default(),
        &stop,
        ip,
    )
    .await?;
    tokio::spawn(crate::files::serve(
        files,
        Arc::clone(&second.acs),
        stopped(&stop),
    ));
    let scenario = Scenario::from_toml_with(LAB_SCENARIO, &[("acs2", &second.url())])
        .map_err(|e| setup("lab scenario")(e.to_string()))?;
    // The scenario provisions the Connection Request credentials at ACS 1 itself.
    let connreq = ConnReqConfig {
        provision: false,
        ..ConnReqConfig::default()
    };
    let first = Instance::start(
        dir.path(),
        "acs1",
        AcsConfig {
            connreq,
            transcripts: transcripts("acs1"),
            ..AcsConfig::default()
        },
        scenario,
        &stop,
        ip,
    )
    .await?;

    let timeline = Timeline::new(out, started, options.cpes, options.verbose);
    timeline.setup(&first, &second, files_addr);
    let names = [ip.to_string(), "localhost".to_owned()];
    let certificate = crate::cloud::lab_certificate(&names)
        .map_err(|e| setup("cloud certificate")(e.to_string()))?;
    let cloud_ca = dir.path().join("cloud-ca.pem");
    std::fs::write(&cloud_ca, &certificate.ca_pem)
        .map_err(|e| setup("cloud certificate")(e.to_string()))?;
    let cloud_server = CloudServer::bind(CloudConfig {
        listen: SocketAddr::new(ip, 0),
        ..CloudConfig::new(certificate.server)
    })
    .await
    .map_err(|e| setup("cloud server")(e.to_string()))?;
    let cloud_addr = cloud_server.local_addr();
    let cloud = cloud_server.handle();
    tokio::spawn(cloud_server.serve(stopped(&stop)));
    // A device ACS 2 cannot reach over HTTP is woken through its tunnel.
    second.acs.attach_cloud(cloud.clone());
    timeline.cloud(cloud_addr);
    let firmware = vec![0x5a; 64 * 1024];
    upload_firmware(second.nbi, firmware.len(), firmware).await?;
    timeline.note(&format!(
        "uploaded firmware {FIRMWARE} (64 KiB) to ACS 2's file store through its REST API"
    ));

    let source = match &network {
        Network::Loopback { fallback } => {
            if let Some(why) = fallback {
                timeline.note(&format!(
                    "--dhcp: {why}; handing the option-43 bytes over in the process instead"
                ));
            }
            let bytes = option43(&first.url(), cloud_addr)?;
            timeline.option43(&bytes, &first.url(), cloud_addr);
            let discovery = AcsDiscovery::decode_option43(&bytes)
                .map_err(|e| setup("option 43")(e.to_string()))?;
            Intakes::Handed(
                Intake::from_discovery(discovery).map_err(|e| setup("option 43")(e.to_string()))?,
            )
        }
        Network::Lan(lan) => {
            lan.serve_dhcp(&first.url(), cloud_addr)
                .await
                .map_err(setup("dnsmasq"))?;
            let (server, cpe) = lan.names();
            timeline.note(&format!(
                "dnsmasq in network namespace {server} ({}) serves option 43 for vendor class \
                 dslforum.org: ACS URL {}, provisioning code {}, cloud server {cloud_addr}; the \
                 CPEs run in {cpe} ({}) and ask with DHCPINFORM",
                netlab::SERVER_V4,
                first.url(),
                dhcp::PROVISIONING_CODE,
                netlab::CPE_V4,
            ));
            Intakes::Asked(lan)
        }
    };

    // The CPEs stop before the ACSes, so that none calls an ACS that is gone.
    let (stop_agents, agents_stop) = watch::channel(false);
    let agents_handle = network.agents();
    let mut agents = Vec::new();
    let mut drivers = Vec::new();
    for n in 1..=options.cpes {
        let serial = format!("LAB{n:04}");
        let state = dir.path().join(&serial);
        let intake = match &source {
            Intakes::Handed(intake) => intake.clone(),
            Intakes::Asked(lan) => {
                let (finding, intake) = lan.ask().await.map_err(setup("DHCPINFORM"))?;
                if n == 1 || options.verbose {
                    timeline.note(&format!(
                        "{serial} asked over {}; {} answered option 43: {}",
                        finding.transport.as_str(),
                        finding.server,
                        intake.url.as_deref().unwrap_or("(no URL)"),
                    ));
                }
                intake
            }
        };
        // As `cpe dhcp hook` does with no agent running: saved for the agent's start.
        cpe::ztp::hook::deliver(&state, &intake)
            .await
            .map_err(|e| setup("DHCP intake")(e.to_string()))?;
        let config = cpe_config(&serial, &state, &network.connreq_listen(), &cloud_ca)
            .map_err(setup("CPE configuration"))?;
        // The agent's CAS secret is its serial number unless configured.
        cloud
            .add_device(&serial, &serial)
            .map_err(|e| setup("cloud registry")(e.to_string()))?;
        // Subscribed before the agent starts, so no event of this device is missed.
        let device = Device {
            serial,
            first: first.acs.events(),
            second: second.acs.events(),
            cloud: cloud.subscribe(),
            nbi: second.nbi,
            timeline: timeline.clone(),
        };
        let agent = agents_handle
            .spawn(cpe::agent::Agent::start(config))
            .await
            .map_err(|e| setup("CPE")(e.to_string()))?
            .map_err(|e| setup("CPE")(e.to_string()))?;
        agents.push(agents_handle.spawn(agent.run_until(stopped(&agents_stop))));
        drivers.push(tokio::spawn(device.drive()));
    }
    let results = tokio::time::timeout(options.deadline, async {
        for driver in drivers {
            let _ = driver.await;
        }
    })
    .await;
    if results.is_err() {
        timeline.note(&format!("gave up after {:?}", options.deadline));
    }
    let report = timeline.finish();
    let first_state = dir.path().join("LAB0001");
    use cpe::control::{Request, Response};
    let table = ask_first(&first_state, Request::CloudStatus, |answer| match answer {
        Response::CloudStatus { rows } => Some(cpe::cloud::StatusTable(rows.clone()).render()),
        _ => None,
    })
    .await;
    timeline.block("LAB0001: cpe cloud status", &table);
    let stats = ask_first(&first_state, Request::Stats, |answer| match answer {
        Response::Stats(snapshot) => Some(snapshot.render()),
        _ => None,
    })
    .await;
    timeline.block("LAB0001: cpe stats", &stats);
    let _ = stop_agents.send(true);
    for agent in agents {
        let _ = tokio::time::timeout(Duration::from_secs(5), agent).await;
    }
    let _ = stop_tx.send(true);
    Ok(report)
}

/// What the agent at `state` answers to `request`, as `render` prints it (or why not).
async fn ask_first(
    state: &Path,
    request: cpe::control::Request,
    render: impl FnOnce(&cpe::control::Response) -> Option<String>,
) -> String {
    match cpe::control::request(state, &request).await {
        Ok(answer) => render(&answer).unwrap_or_else(|| format!("unexpected answer: {answer:?}\n")),
        Err(e) => format!("{e}\n"),
    }
}

/// The lab's scenario at ACS 1: on first contact, read the device's identity, set the
/// periodic inform interval and a provisioning code, then re-point the device to ACS 2.
const LAB_SCENARIO: &str = include_str!("../../scenarios/lab.toml");

async fn upload_firmware(nbi: SocketAddr, size: usize, bytes: Vec<u8>) -> Result<(), LabError> {
    let path = format!("/files/{FIRMWARE}");
    let headers = [
        ("fileType", "1 Firmware Upgrade Image"),
        ("version", "2.0"),
        ("content-type", "application/octet-stream"),
    ];
    let (status, body) = http::call(nbi, "PUT", &path, &headers, bytes, Duration::from_secs(10))
        .await
        .map_err(|e| setup("firmware upload")(e.to_string()))?;
    if !(200..300).contains(&status) {
        return Err(setup("firmware upload")(format!(
            "{status} {}",
            String::from_utf8_lossy(&body)
        )));
    }
    tracing::debug!(size, "firmware uploaded");
    Ok(())
}

/// The option-43 payload a DHCP server gives the lab's CPEs: the ACS URL and the provisioning
/// code in the Broadband Forum layout (TR-069 §3.1, sub-options 1 and 2), and the
/// cloud-management server (sub-options 0x81 and 0x82).
fn option43(acs_url: &str, cloud: SocketAddr) -> Result<Vec<u8>, LabError> {
    let discovery = AcsDiscovery {
        url: Some(acs_url.to_owned()),
        provisioning_code: Some(dhcp::PROVISIONING_CODE.to_owned()),
        cloud: schemas::dhcp::CloudParams {
            domain: Some(cloud.ip().to_string()),
            port: Some(cloud.port()),
            ..Default::default()
        },
        ..AcsDiscovery::default()
    };
    discovery
        .encode_option43(Dialect::Bbf)
        .map_err(|e| setup("option 43")(e.to_string()))
}

/// A CPE's configuration: no ACS URL (DHCP gives it), its serial number and state directory,
/// and the lab's cloud CA.
fn cpe_config(
    serial: &str,
    state: &Path,
    connreq_listen: &str,
    cloud_ca: &Path,
) -> Result<cpe::config::Config, String> {
    cpe::config::Config::resolve(
        cpe::config::FileConfig::default(),
        cpe::config::Overrides {
            serial: Some(serial.to_owned()),
            state_dir: Some(state.to_owned()),
            connreq_listen: Some(connreq_listen.to_owned()),
            cloud_ca: Some(cloud_ca.to_owned()),
            ..cpe::config::Overrides::default()
        },
    )
    .map_err(|e| e.to_string())
}

/// One device's walk through the steps, observed on the two ACSes' event streams.
struct Device {
    serial: String,
    first: broadcast::Receiver<AcsEvent>,
    second: broadcast::Receiver<AcsEvent>,
    cloud: broadcast::Receiver<CloudEvent>,
    nbi: SocketAddr,
    timeline: Timeline,
}

impl Device {
    async fn drive(mut self) {
        let _ = self.walk().await;
    }

    /// Each step waits for the previous; a step that fails ends the walk (the report shows
    /// which steps are missing).
    async fn walk(&mut self) -> Result<(), ()> {
        let serial = self.serial.clone();
        let id = next(&mut self.first, |e| match e {
            AcsEvent::Informed { device, events }
                if device.parts().2 == serial && has(events, "0 BOOTSTRAP") =>
            {
                Some(device.clone())
            }
            _ => None,
        })
        .await?;
        self.timeline.step(&self.serial, Step::Bootstrap);
        let mut links = 0;
        next(&mut self.cloud, |e| {
            if e.serial != serial {
                return None;
            }
            links += usize::from(matches!(e.kind, CloudEventKind::LinkUp { .. }));
            (links == crate::cloud::DEFAULT_SERVICES.len()).then_some(())
        })
        .await?;
        self.timeline.step(&self.serial, Step::CloudTunnel);
        loop {
            let (label, fault) = next(&mut self.first, |e| match e {
                AcsEvent::JobDone {
                    device,
                    label,
                    fault,
                } if *device == id => Some((label.clone(), fault.clone())),
                _ => None,
            })
            .await?;
            if let Some(fault) = fault {
                self.timeline
                    .failed(&self.serial, &format!("{label}: {fault}"));
                return Err(());
            }
            if label.contains(": re-point to ") {
                break;
            }
        }
        self.timeline.step(&self.serial, Step::Provisioned);
        self.timeline.step(&self.serial, Step::Repointed);
        next(&mut self.second, |e| match e {
            AcsEvent::Informed { device, events }
                if *device == id && has(events, "0 BOOTSTRAP") =>
            {
                Some(())
            }
            _ => None,
        })
        .await?;
        self.timeline.step(&self.serial, Step::SecondBootstrap);
        self.session_ended(&id).await?;

        let gpv = r#"{"name":"getParameterValues","parameterNames":["Device.DeviceInfo.SoftwareVersion","Device.DeviceInfo.UpTime"]}"#;
        self.task(&id, gpv, Step::Task).await?;
        self.session_ended(&id).await?;

        let download = format!(r#"{{"name":"download","file":"{FIRMWARE}"}}"#);
        self.task(&id, &download, Step::Download).await?;
        let fault = next(&mut self.second, |e| match e {
            AcsEvent::TransferComplete { device, fault, .. } if *device == id => {
                Some(fault.clone())
            }
            _ => None,
        })
        .await?;
        if let Some(fault) = fault {
            self.timeline
                .failed(&self.serial, &format!("download failed: {fault}"));
            return Err(());
        }
        self.timeline.step(&self.serial, Step::TransferComplete);
        self.session_ended(&id).await?;

        self.task(&id, r#"{"name":"reboot"}"#, Step::RebootTask)
            .await?;
        next(&mut self.second, |e| match e {
            AcsEvent::Informed { device, events } if *device == id && has(events, "M Reboot") => {
                Some(())
            }
            _ => None,
        })
        .await?;
        self.timeline.step(&self.serial, Step::Rebooted);
        Ok(())
    }

    async fn session_ended(&mut self, id: &DeviceId) -> Result<(), ()> {
        next(&mut self.second, |e| match e {
            AcsEvent::SessionEnded {
                device: Some(device),
                ..
            } if device == id => Some(()),
            _ => None,
        })
        .await
    }

    /// Posts a task with a Connection Request, as a GenieACS user would, and waits for 200.
    async fn task(&mut self, id: &DeviceId, json: &str, step: Step) -> Result<(), ()> {
        let path = format!(
            "/devices/{}/tasks?connection_request&timeout=10000",
            crate::files::encode_segment(id.as_str())
        );
        let headers = [("content-type", "application/json")];
        match http::call(
            self.nbi,
            "POST",
            &path,
            &headers,
            json.as_bytes().to_vec(),
            Duration::from_secs(20),
        )
        .await
        {
            Ok((200, _)) => {
                self.timeline.step(&self.serial, step);
                Ok(())
            }
            Ok((status, body)) => {
                let body = String::from_utf8_lossy(&body);
                self.timeline.failed(
                    &self.serial,
                    &format!("{}: HTTP {status} {body}", step.title()),
                );
                Err(())
            }
            Err(error) => {
                self.timeline.failed(&self.serial, &error.to_string());
                Err(())
            }
        }
    }
}

fn has(events: &[String], code: &str) -> bool {
    events.iter().any(|e| e == code)
}

/// Waits for the first event `pick` accepts.
async fn next<E: Clone, T>(
    events: &mut broadcast::Receiver<E>,
    mut pick: impl FnMut(&E) -> Option<T>,
) -> Result<T, ()> {
    loop {
        match events.recv().await {
            Ok(event) => {
                if let Some(found) = pick(&event) {
                    return Ok(found);
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                cpe::oplog!(
                    LAB_EVENTS_MISSED,
                    missed,
                    "the lab fell behind the ACS or cloud events"
                );
            }
            Err(broadcast::error::RecvError::Closed) => return Err(()),
        }
    }
}
