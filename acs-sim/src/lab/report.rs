//! The lab's timeline (printed as steps happen) and its summary table.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::Instance;

/// The steps every device must go through, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// First contact with ACS 1: the `0 BOOTSTRAP` Inform.
    Bootstrap,
    /// The cloud-management tunnel is up with its three sub-connections.
    CloudTunnel,
    /// ACS 1 set values on the device.
    Provisioned,
    /// ACS 1 moved the device to ACS 2.
    Repointed,
    /// First contact with ACS 2.
    SecondBootstrap,
    /// A REST task with a Connection Request, answered at once.
    Task,
    /// The device accepted a firmware Download.
    Download,
    /// The device reported the Download done.
    TransferComplete,
    /// A Reboot task with a Connection Request.
    RebootTask,
    /// The device came back with `M Reboot`.
    Rebooted,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Self; 10] = [
        Self::Bootstrap,
        Self::CloudTunnel,
        Self::Provisioned,
        Self::Repointed,
        Self::SecondBootstrap,
        Self::Task,
        Self::Download,
        Self::TransferComplete,
        Self::RebootTask,
        Self::Rebooted,
    ];

    /// A short title for the summary table.
    pub fn title(self) -> &'static str {
        match self {
            Self::Bootstrap => "first contact with ACS 1 (0 BOOTSTRAP)",
            Self::CloudTunnel => "cloud tunnel up (3 sub-connections)",
            Self::Provisioned => "provisioned by ACS 1",
            Self::Repointed => "moved to ACS 2 (ManagementServer.URL)",
            Self::SecondBootstrap => "first contact with ACS 2 (0 BOOTSTRAP)",
            Self::Task => "REST task + connection request",
            Self::Download => "firmware download accepted",
            Self::TransferComplete => "firmware installed (TransferComplete)",
            Self::RebootTask => "reboot requested",
            Self::Rebooted => "back after reboot (M Reboot)",
        }
    }

    /// What happened, in words for someone who has never seen TR-069.
    fn story(self) -> &'static str {
        match self {
            Self::Bootstrap => {
                "called ACS 1 for the first time (its DHCP server told it where): \"0 BOOTSTRAP\""
            }
            Self::CloudTunnel => {
                "opened its cloud-management tunnel (WebSocket over TLS; DHCP named the cloud too) and one sub-connection per service"
            }
            Self::Provisioned => "ACS 1 wrote settings into it",
            Self::Repointed => "ACS 1 told it to use ACS 2 from now on",
            Self::SecondBootstrap => {
                "called ACS 2 for the first time: \"0 BOOTSTRAP\" again, since its ACS changed"
            }
            Self::Task => {
                "an operator's REST call read its software version: ACS 2 woke it (connection request) and got the answer at once"
            }
            Self::Download => "ACS 2 told it to download new firmware from the file server",
            Self::TransferComplete => {
                "it reported the firmware downloaded and installed (TransferComplete)"
            }
            Self::RebootTask => "an operator's REST call rebooted it",
            Self::Rebooted => "it came back after the reboot and told ACS 2 so (\"M Reboot\")",
        }
    }
}

/// What the lab achieved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabReport {
    /// How many devices took part.
    pub devices: usize,
    /// For each step, how many devices reached it.
    pub reached: BTreeMap<Step, usize>,
    /// Failures, per device serial.
    pub failures: Vec<(String, String)>,
    /// How long the run took.
    pub elapsed: Duration,
}

impl LabReport {
    /// Whether every device went through every step.
    pub fn success(&self) -> bool {
        self.failures.is_empty()
            && Step::ALL
                .iter()
                .all(|s| self.reached.get(s) == Some(&self.devices))
    }
}

/// The shared timeline; cloning shares it.
#[derive(Clone)]
pub(super) struct Timeline(Arc<Mutex<Inner>>);

struct Inner {
    out: Box<dyn Write + Send>,
    started: Instant,
    verbose: bool,
    /// The serial whose every step is printed when not verbose.
    shown: String,
    report: LabReport,
}

impl Timeline {
    pub(super) fn new(
        out: impl Write + Send + 'static,
        started: Instant,
        devices: usize,
        verbose: bool,
    ) -> Self {
        let report = LabReport {
            devices,
            ..LabReport::default()
        };
        let inner = Inner {
            out: Box::new(out),
            started,
            verbose,
            shown: "LAB0001".to_owned(),
            report,
        };
        Self(Arc::new(Mutex::new(inner)))
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub(super) fn setup(&self, first: &Instance, second: &Instance, files: SocketAddr) {
        self.with(|t| {
            let n = t.report.devices;
            let _ = writeln!(t.out, "acs-sim lab: zero-touch provisioning of {n} simulated device(s) on this machine\n");
            let _ = writeln!(t.out, "Two ACSes (auto-configuration servers: what an operator uses to manage devices remotely):");
            let _ = writeln!(t.out, "  ACS 1, first contact   CWMP {}   REST API http://{}/", first.url(), first.nbi);
            let _ = writeln!(t.out, "  ACS 2, production      CWMP {}   REST API http://{}/", second.url(), second.nbi);
            let _ = writeln!(t.out, "  file server            http://{files}/");
        });
    }

    /// The cloud-management server of the lab.
    pub(super) fn cloud(&self, addr: SocketAddr) {
        self.with(|t| {
            let _ = writeln!(t.out, "A cloud-management server (the tunnel devices keep open behind NAT):");
            let _ = writeln!(t.out, "  cloud                  https://{addr}/ (WebSocket tunnel, REST API /api/devices)\n");
        });
    }

    /// A block of text under a heading (the first device's `cpe cloud status`).
    pub(super) fn block(&self, heading: &str, text: &str) {
        self.with(|t| {
            let _ = writeln!(t.out, "\n{heading}");
            for line in text.lines() {
                if line.is_empty() {
                    let _ = writeln!(t.out);
                } else {
                    let _ = writeln!(t.out, "  {line}");
                }
            }
        });
    }

    pub(super) fn option43(&self, bytes: &[u8], url: &str, cloud: SocketAddr) {
        self.note("each device knows only its serial number; its DHCP server hands it option 43:");
        self.note(&format!("  {}", schemas::dhcp::hex::colon_separated(bytes)));
        self.note(&format!("  = sub-option 1, the ACS URL: {url}"));
        self.note(&format!(
            "  + sub-options 0x81-0x82, the cloud-management server: {} port {}",
            cloud.ip(),
            cloud.port()
        ));
        self.with(|t| {
            let _ = writeln!(t.out, "\nTimeline (seconds since start)");
        });
    }

    pub(super) fn note(&self, text: &str) {
        self.with(|t| {
            let _ = writeln!(t.out, "  {text}");
        });
    }

    pub(super) fn step(&self, serial: &str, step: Step) {
        self.with(|t| {
            let reached = t.report.reached.entry(step).or_default();
            *reached += 1;
            let count = *reached;
            let elapsed = t.started.elapsed().as_secs_f64();
            if t.verbose || serial == t.shown {
                let _ = writeln!(t.out, "  {elapsed:6.2}s  {serial}  {}", step.story());
            } else if count == t.report.devices {
                let _ = writeln!(
                    t.out,
                    "  {elapsed:6.2}s  all {count} devices: {}",
                    step.title()
                );
            }
        });
    }

    pub(super) fn failed(&self, serial: &str, why: &str) {
        self.with(|t| {
            let elapsed = t.started.elapsed().as_secs_f64();
            let _ = writeln!(t.out, "  {elapsed:6.2}s  {serial}  FAILED: {why}");
            t.report.failures.push((serial.to_owned(), why.to_owned()));
        });
    }

    /// Prints the summary table and returns the report.
    pub(super) fn finish(&self) -> LabReport {
        self.with(|t| {
            t.report.elapsed = t.started.elapsed();
            let n = t.report.devices;
            let _ = writeln!(t.out, "\nSummary\n  {:<44} {:>9}", "step", "devices");
            for step in Step::ALL {
                let done = t.report.reached.get(&step).copied().unwrap_or(0);
                let mark = if done == n { "ok" } else { "MISSING" };
                let _ = writeln!(t.out, "  {:<44} {:>4}/{:<4} {mark}", step.title(), done, n);
            }
            let seconds = t.report.elapsed.as_secs_f64();
            let verdict = if t.report.success() {
                format!("every step happened for every device ({n} devices, {seconds:.1} s)")
            } else {
                format!(
                    "some steps did not happen ({} failure(s), {seconds:.1} s)",
                    t.report.failures.len()
                )
            };
            let _ = writeln!(t.out, "\nResult: {verdict}");
            let _ = t.out.flush();
            t.report.clone()
        })
    }
}
