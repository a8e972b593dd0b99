//! `acs-sim lab --dhcp`: the lab's CPEs learn their ACS from a real DHCP server.
//!
//! With root and network namespaces ([`netlab`]), the lab runs in two namespaces joined by a
//! veth pair: the ACSes, their REST APIs, the file server and dnsmasq on the server side
//! (`10.231.0.1`), the CPE agents on the CPE side (`10.231.0.2`). dnsmasq serves option 43
//! for vendor class `dslforum.org` (the README's dnsmasq form); each CPE asks with its own
//! DHCPINFORM ([`cpe::ztp::probe`], option 60 `dslforum.org`, option 55 listing 43) and hands
//! what it learnt to its agent as `cpe dhcp hook` would (TR-069 §3.1). Each side runs on a
//! thread of its own that entered its namespace, so every socket lands on the right side.
//!
//! Without root or namespaces, [`Lan::start`] says why, and the lab hands the option-43 bytes
//! over in the process instead.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use netlab::{CPE_IF, Dnsmasq, Namespace, NsThread, Testbed};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use cpe::ztp::Intake;
use cpe::ztp::probe::{Finding, Limits, driver};

/// The lab's provisioning code, in option 43 sub-option 2.
pub(super) const PROVISIONING_CODE: &str = "ZTP-LAB";

/// One side of the testbed: a thread inside its namespace running a current-thread runtime
/// until dropped.
struct Side {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<NsThread<()>>,
}

impl Side {
    fn start(namespace: &Namespace) -> Result<Self, String> {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = namespace
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = handle_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = handle_tx.send(Ok(runtime.handle().clone()));
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(|e| e.to_string())?;
        let handle = handle_rx
            .recv()
            .map_err(|_| "the namespace thread ended".to_owned())??;
        Ok(Self {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The lab's network: the testbed, its two sides, and dnsmasq once the ACS URL is known.
pub(super) struct Lan {
    // Dropped in this order: dnsmasq, the runtimes, then the namespaces.
    dnsmasq: std::sync::Mutex<Option<Dnsmasq>>,
    server: Side,
    cpe: Side,
    testbed: Arc<Testbed>,
}

impl Lan {
    /// Sets up the testbed, or says why this machine cannot (the lab then falls back).
    pub(super) fn start() -> Result<Self, String> {
        netlab::installed("dnsmasq").map_err(|e| e.to_string())?;
        let testbed = Testbed::create().map_err(|e| e.to_string())?;
        testbed.add_cpe_address().map_err(|e| e.to_string())?;
        Ok(Self {
            dnsmasq: std::sync::Mutex::new(None),
            server: Side::start(testbed.server())?,
            cpe: Side::start(testbed.cpe())?,
            testbed: Arc::new(testbed),
        })
    }

    /// Where the ACSes, the REST APIs and the file server run.
    pub(super) fn server(&self) -> &Handle {
        &self.server.handle
    }

    /// Where the CPE agents run.
    pub(super) fn cpe(&self) -> &Handle {
        &self.cpe.handle
    }

    /// The namespaces, for the timeline.
    pub(super) fn names(&self) -> (&str, &str) {
        (self.testbed.server().name(), self.testbed.cpe().name())
    }

    /// Starts dnsmasq with option 43 naming `acs_url` and the lab's provisioning code.
    pub(super) async fn serve_dhcp(&self, acs_url: &str, cloud: SocketAddr) -> Result<(), String> {
        let lines = [
            format!(r#"dhcp-option=vendor:dslforum.org,1,"{acs_url}""#),
            format!(r#"dhcp-option=vendor:dslforum.org,2,"{PROVISIONING_CODE}""#),
            format!(r#"dhcp-option=vendor:dslforum.org,129,"{}""#, cloud.ip()),
            format!(r#"dhcp-option=vendor:dslforum.org,130,"{}""#, cloud.port()),
        ];
        let testbed = Arc::clone(&self.testbed);
        let dnsmasq = tokio::task::spawn_blocking(move || Dnsmasq::start(&testbed, &lines))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        *self.dnsmasq.lock().unwrap_or_else(|e| e.into_inner()) = Some(dnsmasq);
        Ok(())
    }

    /// One CPE's DHCPINFORM on the CPE side: what it learnt, checked as the hook checks it.
    pub(super) async fn ask(&self) -> Result<(Finding, Intake), String> {
        let limits = Limits {
            attempts: 3,
            timeout: Duration::from_secs(10),
        };
        let finding = self
            .cpe()
            .spawn(driver::probe(CPE_IF, false, limits))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let intake =
            Intake::from_discovery(finding.discovery.clone()).map_err(|e| e.to_string())?;
        Ok((finding, intake))
    }
}
