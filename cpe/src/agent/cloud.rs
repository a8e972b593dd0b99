//! The cloud-management tunnel inside the agent (ARCHITECTURE.md, "Cloud-management tunnel";
//! the wire format is [`schemas::tunnel`]).
//!
//! The tunnel's configuration is the profile's vendor object
//! (`Device.X_<vendor>_CloudManagement.`): it runs while `Enable` is true and `ServerDomain`
//! is set, with `ServerPort`, `KeepaliveInterval` and `PingInterval`. Whoever changes those
//! values (the ACS with SetParameterValues, `cpe set`, DHCP option 43 sub-options 0x81-0x84,
//! the configuration, or the cloud's own configuration message) changes the running tunnel:
//! a new domain or port drops it with "Configuration changed" and connects to the new place.
//! Setting the write-only `UnbindingCode` sends it to the cloud (optType 105).
//!
//! Mirroring: after establishment and whenever they change, the device reports its cloud
//! parameters and its CWMP state (ACS URL and source, last Inform, ProvisioningCode) on the
//! main link (optType 103). The cloud's configuration message (optType 3) lands in the same
//! data model with SetParameterValues' validation and faults (TR-069 A.3.2.1), and its
//! connection-request message (optType 104) opens a CWMP session with `6 CONNECTION REQUEST`
//! through the same latch and the same rate limit as the HTTP one (TR-069 §3.2.2). The
//! read-only `Status.` parameters follow the tunnel's status table.

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use schemas::tunnel::{
    CloudSettings, Configuration, ConfigurationAnswer, ConnectionState, CwmpState, DeviceMessage,
    Report, RetCode,
};
use schemas::value::{DateTime, Value};
use tokio::sync::mpsc::UnboundedReceiver;

use super::{Core, lock};
use crate::cloud::{
    CloudClient, CloudStatus, DriverConfig, Event, Link, ServiceModule, StatusTable, TunnelConfig,
};
use crate::connreq::{RateLimit, RateLimiter, signal};
use crate::control::Response;
use crate::dial::ProxyPolicy;
use crate::health::Component;
use crate::model::Origin;
use crate::stats::{Message, Stats};

/// The local service modules that open their own sub-links: `(devModName, cloudModName)`.
pub(super) const SERVICES: [(&str, &str); 3] = [
    ("confmgr", "confmgr"),
    ("stamgr", "stamgr"),
    ("devmgr", "devmgr"),
];

/// The send buffer's limit, in bytes of frame text.
const BUFFER_LIMIT: usize = 256 * 1024;

/// The running tunnel, if any, shared with the control socket.
type Shared = Arc<Mutex<Option<CloudClient>>>;

/// The control socket's view of the tunnel: the running client and the object's name.
#[derive(Clone)]
pub(super) struct Control {
    client: Shared,
    object: Option<String>,
}

/// The agent's side of the tunnel: starts, reconfigures and stops the driver as the data
/// model says, mirrors, and answers the cloud.
pub(super) struct Cloud {
    /// `Device.X_<vendor>_CloudManagement.`, when the profile has one.
    object: Option<String>,
    tls: Arc<rustls::ClientConfig>,
    /// The HTTP proxies the tunnel's connections go through (the CWMP transport's).
    proxy: ProxyPolicy,
    /// The configured CAS secret; the serial number when `None`.
    secret: Option<String>,
    client: Shared,
    events: Option<UnboundedReceiver<Event>>,
    /// The settings the running tunnel was given.
    running: Option<CloudSettings>,
    established: bool,
    /// The tunnel went down since the agent started: establishing it again is a restoration.
    went_down: bool,
    /// The last report sent; a new one goes out when it differs.
    reported: Option<Report>,
    /// Connection requests through the tunnel: the HTTP server's latch and limit.
    notifier: signal::Notifier,
    limiter: RateLimiter,
    /// The agent's call-home statistics, where the tunnel counts its messages.
    stats: Stats<Message>,
}

impl Cloud {
    pub(super) fn new(
        object: Option<String>,
        tls: Arc<rustls::ClientConfig>,
        proxy: ProxyPolicy,
        secret: Option<String>,
        notifier: signal::Notifier,
        rate_limit: RateLimit,
        stats: Stats<Message>,
    ) -> Self {
        Self {
            object,
            tls,
            proxy,
            secret,
            client: Arc::default(),
            events: None,
            running: None,
            established: false,
            went_down: false,
            reported: None,
            notifier,
            limiter: RateLimiter::new(rate_limit),
            stats,
        }
    }

    /// What the control socket needs to answer for the tunnel ([`Cloud::control`]).
    pub(super) fn control_handle(&self) -> Control {
        Control {
            client: self.client.clone(),
            object: self.object.clone(),
        }
    }

    /// The next event of the running tunnel; never resolves while none runs.
    pub(super) async fn next_event(&mut self) -> Event {
        match self.events.as_mut() {
            Some(events) => match events.recv().await {
                Some(event) => event,
                None => std::future::pending().await,
            },
            None => std::future::pending().await,
        }
    }

    /// Brings the tunnel in line with the data model: starts, reconfigures or stops it, sends
    /// a pending unbinding code, and reports what changed.
    pub(super) async fn sync(&mut self, core: &Mutex<Core>) {
        let Some(object) = self.object.clone() else {
            return;
        };
        let (wanted, code, cwmp, serial) = {
            let mut core = lock(core);
            let code = core.take_unbinding_code(&object);
            (
                core.cloud_settings(&object),
                code,
                core.cwmp_state(),
                core.device_id().serial_number,
            )
        };
        match (wanted, self.running.clone()) {
            (None, Some(_)) => self.stop(),
            (Some(settings), None) => self.start(settings, serial),
            (Some(settings), Some(running)) if settings != running => {
                crate::oplog!(
                    CLOUD_SETTINGS_CHANGED,
                    domain = settings.domain(),
                    port = settings.port(),
                    "cloud-management settings changed"
                );
                if let Some(client) = self.client() {
                    client.reconfigure(settings.clone());
                }
                self.running = Some(settings);
            }
            _ => {}
        }
        if let Some(code) = code {
            match self.client() {
                Some(client) => {
                    if let Err(e) = client.unbind(code).await {
                        crate::oplog!(CLOUD_UNBIND_NOT_SENT, %e, "could not send the unbinding code");
                    }
                }
                None => crate::oplog!(
                    CLOUD_UNBIND_NO_TUNNEL,
                    "an unbinding code was set but the tunnel does not run"
                ),
            }
        }
        self.report(cwmp, false).await;
    }

    /// Handles one event of the tunnel.
    pub(super) async fn handle(&mut self, event: Event, core: &Mutex<Core>) {
        match &event {
            Event::Established => {
                if self.went_down {
                    crate::oplog!(
                        CLOUD_COMM_RESTORED,
                        "cloud-management tunnel established again"
                    );
                } else {
                    crate::oplog!(CLOUD_COMM_UP, "cloud-management tunnel established");
                }
                self.established = true;
                let cwmp = lock(core).cwmp_state();
                self.report(cwmp, true).await;
            }
            Event::Failed(reason) => {
                crate::oplog!(CLOUD_ESTABLISH_FAILED, %reason, "cloud-management tunnel not established");
            }
            Event::Down(reason) => {
                if *reason == schemas::tunnel::DownReason::KeepaliveExpired {
                    crate::oplog!(CLOUD_KEEPALIVE_EXPIRED, %reason, "cloud-management tunnel down");
                } else {
                    crate::oplog!(CLOUD_COMM_DOWN, %reason, "cloud-management tunnel down");
                }
                self.established = false;
                self.went_down = true;
            }
            Event::ServiceUp(index) => {
                crate::oplog!(
                    CLOUD_SERVICE_UP,
                    service = service_name(*index),
                    "cloud sub-connection up"
                );
            }
            Event::ServiceDown(index, reason) => {
                crate::oplog!(CLOUD_SERVICE_DOWN, service = service_name(*index), %reason, "cloud sub-connection down");
            }
            Event::Configuration(link, configuration) => {
                let answer = lock(core).cloud_configuration(configuration);
                self.send(*link, DeviceMessage::ConfigurationAnswer(answer))
                    .await;
            }
            Event::ConnectionRequest { seq_number } => {
                let ret_code = if self.limiter.try_acquire(Instant::now()) {
                    crate::oplog!(CLOUD_CONNREQ, "connection request through the cloud tunnel");
                    self.notifier.notify();
                    RetCode::OK
                } else {
                    crate::oplog!(
                        CLOUD_CONNREQ_RATE_LIMITED,
                        "connection request through the cloud tunnel refused: rate limit"
                    );
                    RetCode::BUSY
                };
                let answer = DeviceMessage::ConnectionRequestAnswer {
                    seq_number: *seq_number,
                    ret_code,
                };
                self.send(Link::Main, answer).await;
            }
            Event::Unbound => {
                crate::oplog!(CLOUD_UNBOUND, "the cloud unbound the device");
                self.established = false;
            }
        }
        if let Some(status) = self.status().await {
            lock(core).mirror_status(self.object.as_deref(), &status);
        }
    }

    /// `cpe cloud status`, `cpe cloud reset`, `cpe cloud unbind CODE`.
    pub(super) async fn control(
        control: &Control,
        core: &Mutex<Core>,
        request: crate::control::Request,
    ) -> Response {
        use crate::control::Request;
        let running = control.client.lock().ok().and_then(|c| c.clone());
        let not_running = || Response::Error {
            message: "the cloud-management tunnel does not run: set Enable and ServerDomain \
                      of the cloud-management object (DHCP, the ACS, `cpe set` or --cloud-domain)"
                .to_owned(),
        };
        match (request, running) {
            (Request::CloudStatus, Some(client)) => match client.status().await {
                Ok(status) => status_response(&status),
                Err(e) => Response::Error {
                    message: e.to_string(),
                },
            },
            (Request::CloudStatus, None) => {
                let (domain, port) = lock(core).cloud_place(control.object.as_deref());
                status_response(&CloudStatus::unconnected(domain, port))
            }
            (Request::CloudReset, Some(client)) => {
                client.reset();
                Response::Done
            }
            (Request::CloudUnbind { code }, Some(client)) => match client.unbind(code).await {
                Ok(()) => Response::Done,
                Err(e) => Response::Error {
                    message: e.to_string(),
                },
            },
            (Request::CloudReset | Request::CloudUnbind { .. }, None) => not_running(),
            _ => Response::Error {
                message: "not a cloud request".to_owned(),
            },
        }
    }

    /// The tunnel as a component of `cpe status`: healthy when it is not meant to run (no
    /// cloud-management object, `Enable` false, no `ServerDomain`) or is established.
    pub(super) async fn component(control: &Control, core: &Mutex<Core>) -> Component {
        const NAME: &str = "cloud-tunnel";
        let running = control.client.lock().ok().and_then(|c| c.clone());
        let status = match running {
            Some(client) => client.status().await.ok(),
            None => None,
        };
        let core = lock(core);
        let Some(object) = control.object.as_deref() else {
            return Component::new(NAME, "not available (no cloud-management object)", true);
        };
        if core.cloud_value(object, "Enable") != Some(Value::Boolean(true)) {
            return Component::new(NAME, "disabled", true);
        }
        let (domain, port) = core.cloud_place(Some(object));
        if domain.is_empty() {
            return Component::new(NAME, "not configured (no ServerDomain)", true);
        }
        match status {
            Some(status) if status.connection_state == ConnectionState::Established => {
                let reached = status.server_address.map_or_else(String::new, |ip| {
                    format!(" at {ip} ({})", super::health::family(ip))
                });
                Component::new(
                    NAME,
                    format!("established with {domain}:{port}{reached}"),
                    true,
                )
            }
            Some(status) => Component::new(
                NAME,
                format!(
                    "not established with {domain}:{port}: connection state {}, device state {}, \
                     failure reason {}",
                    status.connection_state, status.device_state, status.failure_reason
                ),
                false,
            ),
            None => Component::new(NAME, format!("not running ({domain}:{port})"), false),
        }
    }

    fn client(&self) -> Option<CloudClient> {
        self.client.lock().ok().and_then(|c| c.clone())
    }

    async fn status(&self) -> Option<CloudStatus> {
        self.client()?.status().await.ok()
    }

    fn start(&mut self, settings: CloudSettings, serial: String) {
        crate::oplog!(
            CLOUD_STARTING,
            domain = settings.domain(),
            port = settings.port(),
            "starting the cloud-management tunnel"
        );
        let config = DriverConfig {
            tunnel: TunnelConfig {
                settings: settings.clone(),
                secret: self.secret.clone().unwrap_or_else(|| serial.clone()),
                serial,
                services: SERVICES
                    .iter()
                    .map(|(dev, cloud)| ServiceModule {
                        dev_mod_name: (*dev).to_owned(),
                        cloud_mod_name: (*cloud).to_owned(),
                    })
                    .collect(),
                buffer_limit: BUFFER_LIMIT,
                backoff: Default::default(),
            },
            tls: self.tls.clone(),
            proxy: self.proxy.clone(),
            stats: self.stats.clone(),
        };
        let (client, events) = CloudClient::spawn(config);
        if let Ok(mut shared) = self.client.lock() {
            *shared = Some(client);
        }
        self.events = Some(events);
        self.running = Some(settings);
        self.established = false;
        self.reported = None;
    }

    fn stop(&mut self) {
        crate::oplog!(CLOUD_STOPPING, "stopping the cloud-management tunnel");
        if let Some(client) = self.client.lock().ok().and_then(|mut c| c.take()) {
            client.stop();
        }
        self.events = None;
        self.running = None;
        self.established = false;
    }

    /// Reports the running settings and `cwmp` when the tunnel is up and the report differs
    /// from the last one (or `force`).
    async fn report(&mut self, cwmp: CwmpState, force: bool) {
        let Some(cloud) = self.running.clone() else {
            return;
        };
        let report = Report { cloud, cwmp };
        if !self.established || (!force && self.reported.as_ref() == Some(&report)) {
            return;
        }
        self.reported = Some(report.clone());
        self.send(Link::Main, DeviceMessage::Report(report)).await;
    }

    async fn send(&self, link: Link, message: DeviceMessage) {
        if let Some(client) = self.client()
            && let Err(e) = client.send(link, message).await
        {
            crate::oplog!(CLOUD_SEND_FAILED, %e, "could not send to the cloud");
        }
    }
}

fn status_response(status: &CloudStatus) -> Response {
    Response::CloudStatus {
        rows: StatusTable::from(status).0,
    }
}

fn service_name(index: usize) -> &'static str {
    SERVICES.get(index).map_or("?", |(_, cloud)| cloud)
}

impl Core {
    /// The tunnel's settings as the model holds them; `None` when it should not run
    /// (disabled, no domain, or a value out of range).
    fn cloud_settings(&self, object: &str) -> Option<CloudSettings> {
        if self.cloud_value(object, "Enable") != Some(Value::Boolean(true)) {
            return None;
        }
        let domain = self.cloud_text(object, "ServerDomain")?;
        if domain.is_empty() {
            return None;
        }
        match CloudSettings::new(
            domain,
            self.cloud_u16(object, "ServerPort")?,
            self.cloud_u16(object, "KeepaliveInterval")?,
            self.cloud_u16(object, "PingInterval")?,
        ) {
            Ok(settings) => Some(settings),
            Err(e) => {
                crate::oplog!(CLOUD_SETTINGS_UNUSABLE, %e, "the cloud-management settings are not usable");
                None
            }
        }
    }

    /// The configured domain and port, for the table of a tunnel that does not run.
    fn cloud_place(&self, object: Option<&str>) -> (String, u16) {
        let domain = object.and_then(|o| self.cloud_text(o, "ServerDomain"));
        let port = object.and_then(|o| self.cloud_u16(o, "ServerPort"));
        (
            domain.unwrap_or_default(),
            port.unwrap_or(schemas::tunnel::PORT.default),
        )
    }

    /// `name` of the cloud-management object, as the agent sees it (hidden values too).
    fn cloud_value(&self, object: &str, name: &str) -> Option<Value> {
        self.model.value(&format!("{object}{name}")).ok()
    }

    fn cloud_text(&self, object: &str, name: &str) -> Option<String> {
        match self.cloud_value(object, name)? {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    fn cloud_u16(&self, object: &str, name: &str) -> Option<u16> {
        match self.cloud_value(object, name)? {
            Value::UnsignedInt(n) => u16::try_from(n).ok(),
            _ => None,
        }
    }

    /// Takes the write-only `UnbindingCode` if one was set, leaving it empty.
    fn take_unbinding_code(&mut self, object: &str) -> Option<String> {
        let code = self
            .cloud_text(object, "UnbindingCode")
            .filter(|c| !c.is_empty())?;
        let name = format!("{object}UnbindingCode");
        let _ = self
            .model
            .set_value(&name, &Value::String(String::new()), Origin::Local);
        self.save_model();
        Some(code)
    }

    /// The CWMP part of what the device mirrors (optType 103).
    fn cwmp_state(&self) -> CwmpState {
        let provisioning_code = self
            .model
            .value(crate::ztp::PROVISIONING_CODE)
            .map(|v| v.lexical().into_owned())
            .unwrap_or_default();
        CwmpState {
            acs_url: self.text_value("URL").unwrap_or_default(),
            acs_url_source: self
                .state
                .acs_url_source
                .map_or("default", |s| s.as_str())
                .to_owned(),
            last_inform: self
                .state
                .last_inform
                .and_then(|secs| DateTime::from_unix(secs, 0)),
            provisioning_code,
        }
    }

    /// The cloud's configuration message (optType 3), applied as SetParameterValues would
    /// apply it (TR-069 A.3.2.1: all or nothing, the same faults), without touching the
    /// ParameterKey, which belongs to the ACS.
    fn cloud_configuration(&mut self, configuration: &Configuration) -> ConfigurationAnswer {
        let changes = configuration
            .parameters
            .iter()
            .map(|p| (p.name.as_str(), &p.value));
        let fault = match self.model.set_values(changes, Origin::Acs) {
            Ok(_) => {
                crate::oplog!(
                    CLOUD_PARAMETERS_SET,
                    parameters = configuration.parameters.len(),
                    "the cloud set parameters"
                );
                self.sync_from_model();
                self.save_all();
                None
            }
            Err(error) => Some(crate::rpc::set_values_fault(&error)),
        };
        ConfigurationAnswer {
            seq_number: configuration.seq_number,
            uuid: configuration.uuid.clone(),
            ret_code: if fault.is_none() {
                RetCode::OK
            } else {
                RetCode::FAILED
            },
            fault,
        }
    }

    /// Writes the status table into the object's read-only `Status.` parameters.
    fn mirror_status(&mut self, object: Option<&str>, status: &CloudStatus) {
        let Some(object) = object else {
            return;
        };
        let since = status
            .connected_at
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .and_then(|d| DateTime::from_unix(i64::try_from(d.as_secs()).ok()?, 0))
            .unwrap_or(DateTime::UNKNOWN);
        let values = [
            (
                "ConnectionState",
                Value::String(status.connection_state.to_string()),
            ),
            (
                "DeviceState",
                Value::String(status.device_state.to_string()),
            ),
            (
                "ServerAddress",
                Value::String(
                    status
                        .server_address
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                ),
            ),
            (
                "ProcessState",
                Value::String(status.process_state.to_string()),
            ),
            (
                "FailureReason",
                Value::String(status.failure_reason.to_string()),
            ),
            (
                "LastDownReason",
                Value::String(status.last_down.map_or_else(
                    || schemas::tunnel::NOT_AVAILABLE.to_owned(),
                    |(r, _)| r.to_string(),
                )),
            ),
            ("ConnectedSince", Value::DateTime(since)),
        ];
        for (name, value) in values {
            let name = format!("{object}Status.{name}");
            if self.model.value(&name).ok().as_ref() != Some(&value) {
                let _ = self.model.set_value(&name, &value, Origin::Local);
            }
        }
        self.sync_from_model();
    }
}
