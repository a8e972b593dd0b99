//! The cloud-management tunnel end to end: the driver of `cpe::cloud` against the real
//! `acs_sim::cloud::CloudServer`, over TLS on loopback with certificates made at test start
//! (a CA, and a server certificate for `localhost` and `127.0.0.1`).
//!
//! Tests that measure time pause tokio's clock once the tunnel is up and move it on
//! themselves ([`run_paused`]): server and driver share the test's runtime, so the server's
//! events and the driver's timers read the same clock.

mod establish;
mod keepalive;
mod links;
mod malformed;
mod stats;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use acs_sim::cloud::{
    Cloud, CloudConfig, CloudEvent, CloudEventKind, CloudServer, LabCertificate, lab_certificate,
};
use cpe::cloud::{
    Backoff, CloudClient, CloudStatus, DriverConfig, Event, Link, ServiceModule, TunnelConfig,
    cloud_tls,
};
use schemas::tunnel::{CloudSettings, DeviceMessage, RetCode};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

/// The device's serial number and CAS secret.
const SERIAL: &str = "210235A1BSC123000050";
const SECRET: &str = "device-secret";
/// The longest a real-time wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(10);
/// Keepalive and ping periods of the tests, in seconds (both at their minimum).
const KEEPALIVE: u16 = 10;
const PING: u16 = 10;
/// A short back-off, so that a dropped tunnel comes back within a fraction of a second.
const BACKOFF: Backoff = Backoff {
    initial: Duration::from_millis(200),
    max: Duration::from_secs(1),
};

/// A CA and the server certificate it signed, and the CA's PEM file for `cloud_tls`.
struct Pki {
    cert: LabCertificate,
    ca_file: tempfile::NamedTempFile,
}

impl Pki {
    fn new() -> Self {
        let names = ["localhost".to_owned(), "127.0.0.1".to_owned()];
        let cert = lab_certificate(&names).expect("lab certificate");
        let ca_file = tempfile::NamedTempFile::new().expect("temporary file");
        std::fs::write(ca_file.path(), &cert.ca_pem).expect("CA file");
        Self { cert, ca_file }
    }

    /// A client configuration trusting this CA, through `cloud_tls` (`--cloud-ca`).
    fn client_tls(&self) -> Arc<rustls::ClientConfig> {
        cloud_tls(Some(self.ca_file.path())).expect("client TLS configuration")
    }
}

/// A running cloud server; it stops when dropped.
struct Server {
    cloud: Cloud,
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl Server {
    /// A server offering the default micro-services, with [`SERIAL`] registered.
    async fn start(pki: &Pki) -> Self {
        let mut config = CloudConfig::new(pki.cert.server.clone());
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let server = CloudServer::bind(config)
            .await
            .expect("bind the cloud server");
        let (stop, stopped) = oneshot::channel::<()>();
        let cloud = server.handle();
        let addr = server.local_addr();
        tokio::spawn(server.serve(async move {
            let _ = stopped.await;
        }));
        cloud
            .add_device(SERIAL, SECRET)
            .expect("register the serial");
        Self {
            cloud,
            addr,
            _stop: stop,
        }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn watch(&self) -> Watch {
        Watch(self.cloud.subscribe())
    }
}

/// The server's events, from the moment of [`Server::watch`].
struct Watch(broadcast::Receiver<CloudEvent>);

impl Watch {
    /// Waits (in real time) for an event of [`SERIAL`] that `matches`.
    async fn expect(
        &mut self,
        what: &str,
        matches: impl Fn(&CloudEventKind) -> bool,
    ) -> CloudEvent {
        let wait = async {
            loop {
                match self.0.recv().await {
                    Ok(event) if event.serial == SERIAL && matches(&event.kind) => return event,
                    Ok(_) => {}
                    Err(e) => panic!("server events ended while waiting for {what}: {e}"),
                }
            }
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .unwrap_or_else(|_| panic!("no server event {what} within {WAIT:?}"))
    }

    /// The events of [`SERIAL`] received so far, without waiting.
    fn drain(&mut self) -> Vec<CloudEvent> {
        std::iter::from_fn(|| self.0.try_recv().ok())
            .filter(|event| event.serial == SERIAL)
            .collect()
    }
}

/// The tunnel's configuration: [`SERIAL`] to `domain:port`, the test periods, the short
/// back-off, and a sub-link for each of `services` (`devModName` = `agent-<service>`).
fn config(pki: &Pki, domain: &str, port: u16, services: &[&str]) -> DriverConfig {
    let services = services
        .iter()
        .map(|name| ServiceModule {
            dev_mod_name: format!("agent-{name}"),
            cloud_mod_name: (*name).to_owned(),
        })
        .collect();
    DriverConfig {
        tunnel: TunnelConfig {
            settings: CloudSettings::new(domain, port, KEEPALIVE, PING).expect("settings"),
            serial: SERIAL.to_owned(),
            secret: SECRET.to_owned(),
            services,
            buffer_limit: 64 * 1024,
            backoff: BACKOFF,
        },
        tls: pki.client_tls(),
        proxy: Default::default(),
        stats: Default::default(),
    }
}

/// The driver and the events it reports.
struct Device {
    client: CloudClient,
    events: mpsc::UnboundedReceiver<Event>,
}

impl Device {
    fn spawn(config: DriverConfig) -> Self {
        let (client, events) = CloudClient::spawn(config);
        Self { client, events }
    }

    /// Waits (in real time) for the first event that `matches`; returns every event received
    /// up to it, it last. Panics with what was seen if none comes.
    async fn until(&mut self, matches: impl Fn(&Event) -> bool) -> Vec<Event> {
        let mut seen = Vec::new();
        let wait = async {
            while let Some(event) = self.events.recv().await {
                let done = matches(&event);
                seen.push(event);
                if done {
                    return true;
                }
            }
            false
        };
        match tokio::time::timeout(WAIT, wait).await {
            Ok(true) => seen,
            Ok(false) => panic!("the driver stopped; events seen: {seen:?}"),
            Err(_) => panic!("no matching event within {WAIT:?}; events seen: {seen:?}"),
        }
    }

    /// Waits for the first event that `matches`, skipping the others.
    async fn expect(&mut self, matches: impl Fn(&Event) -> bool) -> Event {
        let mut seen = self.until(matches).await;
        seen.pop().expect("`until` returns the matching event last")
    }

    /// Waits for `expected` exactly, skipping the others.
    async fn expect_event(&mut self, expected: Event) {
        self.expect(|event| *event == expected).await;
    }

    /// The events received so far, without waiting.
    fn drain(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.events.try_recv().ok()).collect()
    }

    async fn status(&self) -> CloudStatus {
        self.client.status().await.expect("the driver runs")
    }
}

/// A server, and a device with `services` connected to it as `127.0.0.1`, established.
async fn established(services: &[&str]) -> (Pki, Server, Device) {
    let pki = Pki::new();
    let server = Server::start(&pki).await;
    let mut device = Device::spawn(config(&pki, "127.0.0.1", server.port(), services));
    device.expect_event(Event::Established).await;
    (pki, server, device)
}

/// Proves the main link carries frames both ways: the cloud sends a connection request
/// (optType 104), the device answers it, and the cloud gets the answer. No other event comes
/// from the driver meanwhile.
async fn main_link_answers(server: &Server, device: &mut Device) {
    let cloud = server.cloud.clone();
    let request = tokio::spawn(async move { cloud.connection_request(SERIAL, WAIT).await });
    let events = device
        .until(|e| matches!(e, Event::ConnectionRequest { .. }))
        .await;
    let [Event::ConnectionRequest { seq_number }] = events[..] else {
        panic!("unexpected events before the connection request: {events:?}");
    };
    let answer = DeviceMessage::ConnectionRequestAnswer {
        seq_number,
        ret_code: RetCode::OK,
    };
    device
        .client
        .send(Link::Main, answer)
        .await
        .expect("answer queued");
    let ret_code = request
        .await
        .expect("request task")
        .expect("the cloud got the answer");
    assert_eq!(ret_code, RetCode::OK);
}

/// Step of [`run_paused`]: the resolution of the times it observes.
const STEP: Duration = Duration::from_millis(50);
/// Scheduler rounds after each step: enough for a frame to cross TLS and WebSocket on
/// loopback and be answered.
const SETTLE_ROUNDS: usize = 40;

/// Moves tokio's paused clock on by `total` in [`STEP`]s. After each step it yields
/// [`SETTLE_ROUNDS`] times, which keeps the runtime busy (a yielding task stops the clock from
/// jumping ahead by itself while loopback I/O is in flight) and lets that I/O finish. Returns
/// the driver's events, each with the instant it was seen at.
async fn run_paused(device: &mut Device, total: Duration) -> Vec<(Instant, Event)> {
    run_paused_until(device, total, |_| false).await
}

/// [`run_paused`], stopping after the step in which an event that `stop` accepts came.
async fn run_paused_until(
    device: &mut Device,
    total: Duration,
    stop: impl Fn(&Event) -> bool,
) -> Vec<(Instant, Event)> {
    let end = Instant::now() + total;
    let mut seen = Vec::new();
    while Instant::now() < end {
        tokio::time::advance(STEP).await;
        for _ in 0..SETTLE_ROUNDS {
            tokio::task::yield_now().await;
        }
        let now = Instant::now();
        seen.extend(device.drain().into_iter().map(|event| (now, event)));
        if seen.iter().any(|(_, event)| stop(event)) {
            break;
        }
    }
    seen
}
