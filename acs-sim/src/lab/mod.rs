//! `acs-sim lab`: the zero-touch flow on one machine.
//!
//! Two ACS instances and a file server on loopback, each ACS with its own temporary SQLite
//! store, and N CPE agents of the `cpe` crate in this process, each with its own state
//! directory. Each CPE starts with nothing but its serial number and the option-43 bytes a DHCP
//! server would give it (TR-069 §3.1). Then, per device:
//!
//! 1. first contact with ACS 1 (`0 BOOTSTRAP` Inform);
//! 2. ACS 1 provisions it (Connection Request credentials, the scenario's values);
//! 3. ACS 1 re-points it to ACS 2 (`ManagementServer.URL`);
//! 4. first contact with ACS 2 (`0 BOOTSTRAP` again: a new ACS URL is a new bootstrap);
//! 5. a GenieACS-style task through ACS 2's REST API with a Connection Request;
//! 6. a firmware Download of a file uploaded through the REST API;
//! 7. the device's TransferComplete;
//! 8. a Reboot, and the device's `M Reboot` Inform.
//!
//! The run prints a timeline and a summary table; it succeeds only if every step happened for
//! every device.

mod http;
mod report;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

use schemas::dhcp::{AcsDiscovery, Dialect};

use crate::acs::{Acs, AcsConfig, AcsEvent, ConnReqConfig, TranscriptConfig};
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
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            cpes: 3,
            deadline: Duration::from_secs(60),
            verbose: false,
            transcripts: None,
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
    ) -> Result<Self, LabError> {
        let store = SqliteStore::open(dir.join(format!("{name}.db")))
            .map_err(|e| setup("store")(e.to_string()))?;
        let files = FileStore::new(dir.join(format!("{name}-files")))
            .map_err(|e| setup("file area")(e.to_string()))?;
        let acs = Acs::new(Arc::new(store), config, scenario, files);
        let cwmp = bind().await?;
        let nbi = bind().await?;
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

async fn bind() -> Result<TcpListener, LabError> {
    TcpListener::bind("127.0.0.1:0")
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
    let started = Instant::now();
    let dir = tempfile::tempdir().map_err(|e| setup("temporary directory")(e.to_string()))?;
    let (stop_tx, stop) = watch::channel(false);
    let files = bind().await?;
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
    )
    .await?;

    let timeline = Timeline::new(out, started, options.cpes, options.verbose);
    timeline.setup(&first, &second, files_addr);
    let firmware = vec![0x5a; 64 * 1024];
    upload_firmware(second.nbi, firmware.len(), firmware).await?;
    timeline.note(&format!(
        "uploaded firmware {FIRMWARE} (64 KiB) to ACS 2's file store through its REST API"
    ));

    let option43 = option43(&first.url())?;
    timeline.option43(&option43, &first.url());

    // The CPEs stop before the ACSes, so that none calls an ACS that is gone.
    let (stop_agents, agents_stop) = watch::channel(false);
    let mut agents = Vec::new();
    let mut drivers = Vec::new();
    for n in 1..=options.cpes {
        let serial = format!("LAB{n:04}");
        let state = dir.path().join(&serial);
        let config = cpe_config(&option43, &serial, &state).map_err(setup("CPE configuration"))?;
        // Subscribed before the agent starts, so no event of this device is missed.
        let device = Device {
            serial,
            first: first.acs.events(),
            second: second.acs.events(),
            nbi: second.nbi,
            timeline: timeline.clone(),
        };
        let agent = cpe::agent::Agent::start(config)
            .await
            .map_err(|e| setup("CPE")(e.to_string()))?;
        agents.push(tokio::spawn(agent.run_until(stopped(&agents_stop))));
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
    let _ = stop_agents.send(true);
    for agent in agents {
        let _ = tokio::time::timeout(Duration::from_secs(5), agent).await;
    }
    let _ = stop_tx.send(true);
    Ok(report)
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

/// The option-43 payload a DHCP server gives the lab's CPEs: the ACS URL in the Broadband
/// Forum layout (TR-069 §3.1, sub-option 1).
fn option43(acs_url: &str) -> Result<Vec<u8>, LabError> {
    let discovery = AcsDiscovery {
        url: Some(acs_url.to_owned()),
        ..AcsDiscovery::default()
    };
    discovery
        .encode_option43(Dialect::Bbf)
        .map_err(|e| setup("option 43")(e.to_string()))
}

/// A CPE's configuration, learnt from `option43` as its DHCP intake would.
fn cpe_config(option43: &[u8], serial: &str, state: &Path) -> Result<cpe::config::Config, String> {
    let learnt = AcsDiscovery::decode_option43(option43).map_err(|e| format!("option 43: {e}"))?;
    cpe::config::Config::resolve(
        cpe::config::FileConfig::default(),
        cpe::config::Overrides {
            acs_url: learnt.url,
            serial: Some(serial.to_owned()),
            state_dir: Some(state.to_owned()),
            connreq_listen: Some("127.0.0.1:0".to_owned()),
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
async fn next<T>(
    events: &mut broadcast::Receiver<AcsEvent>,
    mut pick: impl FnMut(&AcsEvent) -> Option<T>,
) -> Result<T, ()> {
    loop {
        match events.recv().await {
            Ok(event) => {
                if let Some(found) = pick(&event) {
                    return Ok(found);
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the lab fell behind the ACS events");
            }
            Err(broadcast::error::RecvError::Closed) => return Err(()),
        }
    }
}
