//! [`Cloud`]: the server's shared state (registry, tickets, sessions, links), the operations
//! on devices, fault injection and events.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use cpe::stats::Delivery;
use rand::rngs::StdRng;
use schemas::rpc::types::ParameterValueStruct;
use schemas::tunnel::{
    AuthAnswer, CloudMessage, Configuration, ConfigurationAnswer, DeviceFrame, DeviceMessage,
    FrameError, MAIN_CLOUD_MODULE, MAIN_DEVICE_MODULE, RegisterRequest, Report, RetCode, Service,
    limits,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;

use super::CloudLimits;
use super::device::{Command, Device, DeviceView, Faults, LinkHandle, Pending, Session};
use super::tickets::TicketBook;
use crate::stats::{AcsMessage, AcsStats};

/// How many [`CloudEvent`]s a slow receiver may fall behind before it loses the oldest.
const EVENT_BACKLOG: usize = 4096;

/// The shared state of a cloud server: cheap to clone.
#[derive(Clone)]
pub struct Cloud {
    inner: Arc<Inner>,
}

struct Inner {
    services: Vec<String>,
    limits: CloudLimits,
    state: Mutex<State>,
    events: broadcast::Sender<CloudEvent>,
    links: Arc<Semaphore>,
    stop: watch::Sender<bool>,
    rng: Mutex<StdRng>,
    /// Where the pushes are counted ([`Cloud::count_in`]).
    stats: OnceLock<AcsStats>,
}

struct State {
    devices: HashMap<String, Device>,
    /// Session id to serial.
    sessions: HashMap<String, String>,
    tgts: TicketBook,
    service_tickets: TicketBook,
    next_link: u64,
    next_seq: u32,
}

/// Why an operation on the registry or a device failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CloudError {
    /// A serial, secret or unbinding code is empty, too long or holds a forbidden character.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// `serial`, `secret` or `code`.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The serial is not in the registry.
    #[error("unknown device {0:?}")]
    UnknownDevice(String),
    /// The registry is full.
    #[error("the registry is full ({max} devices)")]
    TooManyDevices {
        /// [`CloudLimits::max_devices`].
        max: usize,
    },
    /// The device's main link is not registered.
    #[error("device {0:?} is offline (no main link)")]
    Offline(String),
    /// Too many requests wait on the device already.
    #[error("device {serial:?} has {max} requests waiting already")]
    Busy {
        /// The device.
        serial: String,
        /// [`CloudLimits::max_pending`].
        max: usize,
    },
    /// The device did not answer in time.
    #[error("device {serial:?} did not answer within {after:?}")]
    Timeout {
        /// The device.
        serial: String,
        /// How long it waited.
        after: Duration,
    },
    /// The main link went down before the device answered.
    #[error("device {0:?} disconnected before answering")]
    Disconnected(String),
    /// The message cannot be written (a parameter the frame format refuses).
    #[error("cannot write the message: {0}")]
    Frame(#[from] FrameError),
}

/// Something that happened on the server, for labs and tests.
#[derive(Clone, Debug, PartialEq)]
pub struct CloudEvent {
    /// When (tokio's clock, so paused-time tests see their own time).
    pub at: Instant,
    /// The device's serial.
    pub serial: String,
    /// What.
    pub kind: CloudEventKind,
}

/// What a [`CloudEvent`] reports.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum CloudEventKind {
    /// Step 4 answered a session id.
    Authenticated,
    /// Step 4 refused the device.
    AuthRefused,
    /// The main link registered (optType 1 on `cmtnlmgr`/`base`).
    Registered,
    /// A sub-link registered.
    LinkUp {
        /// Its micro-service.
        cloud_mod_name: String,
    },
    /// A registered sub-link ended.
    LinkDown {
        /// Its micro-service.
        cloud_mod_name: String,
    },
    /// A keepalive (optType 2) arrived.
    Keepalive,
    /// A ping (optType 101) arrived.
    Ping,
    /// A report (optType 103) arrived.
    Report(Report),
    /// The answer to a configuration push (optType 3).
    ConfigurationAnswer(ConfigurationAnswer),
    /// The answer to a connection request (optType 104).
    ConnectionRequestAnswer(RetCode),
    /// An unbinding (optType 105) with the right code.
    Unbound,
    /// The registered main link ended.
    Disconnected,
    /// A frame was refused and counted in [`DeviceView::bad_frames`].
    BadFrame {
        /// Why.
        error: String,
    },
}

/// A WebSocket link as its task knows it: fixed at the upgrade.
#[derive(Debug)]
pub(super) struct LinkInfo {
    pub(super) id: u64,
    pub(super) serial: String,
    pub(super) token: String,
    pub(super) cloud_mod_name: String,
    /// The `Host` the device used, for the sub-link URLs.
    pub(super) host: String,
    pub(super) commands: mpsc::Sender<Command>,
}

impl LinkInfo {
    fn is_main(&self) -> bool {
        self.cloud_mod_name == MAIN_CLOUD_MODULE
    }

    fn handle(&self) -> LinkHandle {
        LinkHandle {
            id: self.id,
            commands: self.commands.clone(),
        }
    }
}

/// What a link answers to a frame.
#[derive(Debug, Default)]
pub(super) struct Reply {
    /// The frame to write, if any.
    pub(super) answer: Option<String>,
    /// Wait this long first ([`Faults::delay`]).
    pub(super) delay: Option<Duration>,
}

/// Why step 2 or 3 refused.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum CasRefusal {
    /// The user name is not a serial.
    BadUser,
    /// A registered serial with the wrong password.
    WrongPassword,
    /// The TGT is unknown, spent or expired.
    UnknownTicket,
    /// Too many tickets outstanding.
    Full,
}

/// The outcome of step 5.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Registration {
    /// Give the device the main link's URL.
    Accepted,
    /// [`Faults::malformed_register_answer`] is set.
    Malformed,
    /// Refused, with this retCode and reason.
    Refused(RetCode, &'static str),
}

impl Cloud {
    pub(super) fn new(services: Vec<String>, limits: CloudLimits) -> Self {
        Self {
            inner: Arc::new(Inner {
                services,
                links: Arc::new(Semaphore::new(
                    limits.max_links.clamp(1, Semaphore::MAX_PERMITS),
                )),
                state: Mutex::new(State {
                    devices: HashMap::new(),
                    sessions: HashMap::new(),
                    tgts: TicketBook::new(limits.max_tickets),
                    service_tickets: TicketBook::new(limits.max_tickets),
                    next_link: 0,
                    next_seq: 0,
                }),
                limits,
                events: broadcast::Sender::new(EVENT_BACKLOG),
                stop: watch::Sender::new(false),
                rng: Mutex::new(rand::make_rng::<StdRng>()),
                stats: OnceLock::new(),
            }),
        }
    }

    /// Counts the pushes (configuration, connection request) in `stats` from now on, as
    /// rows TunnelConfiguration and TunnelConnectionRequest: Success when the device's
    /// answer frame came, Faults when it carried a non-zero retCode, Failed when the link
    /// did not carry it or no answer came in time, Dropped when the device's limit of
    /// waiting requests refused it. `false` if they are already counted elsewhere.
    pub fn count_in(&self, stats: AcsStats) -> bool {
        self.inner.stats.set(stats).is_ok()
    }

    // ---- registry ----

    /// Adds `serial` with `secret` (its CAS password), or updates the secret of a known serial
    /// and binds it again. Serials are 1-64 characters without whitespace; secrets 1-256
    /// characters without control characters.
    pub fn add_device(&self, serial: &str, secret: &str) -> Result<(), CloudError> {
        check(
            "serial",
            serial,
            limits::MAX_SERIAL_LEN,
            char::is_whitespace,
        )?;
        check("secret", secret, 256, |_| false)?;
        let mut state = self.state();
        let max = self.inner.limits.max_devices;
        if let Some(device) = state.devices.get_mut(serial) {
            device.secret = secret.to_owned();
            device.bound = true;
        } else if state.devices.len() >= max {
            return Err(CloudError::TooManyDevices { max });
        } else {
            state.devices.insert(serial.to_owned(), Device::new(secret));
        }
        Ok(())
    }

    /// Sets the unbinding code optType 105 must carry for `serial` (1-64 characters without
    /// whitespace).
    pub fn set_unbinding_code(&self, serial: &str, code: &str) -> Result<(), CloudError> {
        check(
            "code",
            code,
            limits::MAX_UNBIND_CODE_LEN,
            char::is_whitespace,
        )?;
        let mut state = self.state();
        let device = state
            .devices
            .get_mut(serial)
            .ok_or_else(|| CloudError::UnknownDevice(serial.to_owned()))?;
        device.unbinding_code = Some(code.to_owned());
        Ok(())
    }

    /// Removes `serial`, ends its session and closes its links (close frames); `false` if it
    /// was not registered.
    pub fn remove_device(&self, serial: &str) -> bool {
        let mut state = self.state();
        let Some(device) = state.devices.remove(serial) else {
            return false;
        };
        if let Some(session) = &device.session {
            state.sessions.remove(&session.id);
        }
        for link in device.links() {
            let _ = link.commands.try_send(Command::Close);
        }
        true
    }

    /// Every registered device, by serial.
    pub fn devices(&self) -> Vec<DeviceView> {
        let state = self.state();
        let mut views: Vec<_> = state
            .devices
            .iter()
            .map(|(serial, device)| device.view(serial))
            .collect();
        views.sort_by(|a, b| a.serial.cmp(&b.serial));
        views
    }

    /// One device: registry entry and mirrored state.
    pub fn device(&self, serial: &str) -> Option<DeviceView> {
        self.state().devices.get(serial).map(|d| d.view(serial))
    }

    // ---- operations ----

    /// Pushes a configuration (optType 3) on the main link and waits up to `timeout` for the
    /// device's answer.
    pub async fn push_configuration(
        &self,
        serial: &str,
        parameters: Vec<ParameterValueStruct>,
        timeout: Duration,
    ) -> Result<ConfigurationAnswer, CloudError> {
        let uuid = self.random_hex();
        self.ask(
            serial,
            timeout,
            |seq_number| {
                CloudMessage::Configuration(Configuration {
                    seq_number,
                    uuid,
                    parameters,
                })
            },
            Pending::Configuration,
            (AcsMessage::TunnelConfiguration, |a| a.ret_code),
        )
        .await
    }

    /// Sends a connection request (optType 104) on the main link and waits up to `timeout`
    /// for the device's retCode (0: it opens a CWMP session with `6 CONNECTION REQUEST`).
    pub async fn connection_request(
        &self,
        serial: &str,
        timeout: Duration,
    ) -> Result<RetCode, CloudError> {
        self.ask(
            serial,
            timeout,
            |seq_number| CloudMessage::ConnectionRequest { seq_number },
            Pending::ConnectionRequest,
            (AcsMessage::TunnelConnectionRequest, |r| *r),
        )
        .await
    }

    async fn ask<T>(
        &self,
        serial: &str,
        timeout: Duration,
        message: impl FnOnce(u32) -> CloudMessage,
        pending: impl FnOnce(oneshot::Sender<T>) -> Pending,
        (row, ret_code): (AcsMessage, fn(&T) -> RetCode),
    ) -> Result<T, CloudError> {
        let stats = self.inner.stats.get();
        let (tx, rx) = oneshot::channel();
        let (seq, link) = {
            let mut state = self.state();
            let seq = state.next_seq;
            state.next_seq = seq.wrapping_add(1);
            let device = state
                .devices
                .get_mut(serial)
                .ok_or_else(|| CloudError::UnknownDevice(serial.to_owned()))?;
            let link = device
                .main
                .clone()
                .ok_or_else(|| CloudError::Offline(serial.to_owned()))?;
            let max = self.inner.limits.max_pending;
            if device.pending.len() >= max {
                if let Some(stats) = stats {
                    stats.dropped(row, 1);
                }
                return Err(CloudError::Busy {
                    serial: serial.to_owned(),
                    max,
                });
            }
            device.pending.insert(seq, pending(tx));
            (seq, link)
        };
        if let Some(stats) = stats {
            stats.attempt(row);
        }
        let sent = match message(seq).encode() {
            Ok(text) => link
                .commands
                .send(Command::Send(text))
                .await
                .map_err(|_| CloudError::Offline(serial.to_owned())),
            Err(error) => Err(CloudError::Frame(error)),
        };
        let outcome = match sent {
            Ok(()) => match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(answer)) => {
                    if let Some(stats) = stats {
                        let delivery = if ret_code(&answer).is_ok() {
                            Delivery::Answered
                        } else {
                            Delivery::Fault
                        };
                        stats.delivered(row, delivery);
                    }
                    return Ok(answer);
                }
                Ok(Err(_)) => Err(CloudError::Disconnected(serial.to_owned())),
                Err(_) => Err(CloudError::Timeout {
                    serial: serial.to_owned(),
                    after: timeout,
                }),
            },
            Err(error) => Err(error),
        };
        if let Some(device) = self.state().devices.get_mut(serial) {
            device.pending.remove(&seq);
        }
        if let Some(stats) = stats {
            stats.delivered(row, Delivery::Failed);
        }
        outcome
    }

    // ---- fault injection ----

    /// Sets the fault switches of `serial`; `false` if it is not registered.
    pub fn set_faults(&self, serial: &str, faults: Faults) -> bool {
        match self.state().devices.get_mut(serial) {
            Some(device) => {
                device.faults = faults;
                true
            }
            None => false,
        }
    }

    /// Sends a WebSocket close frame on the main link; `false` if it is not up.
    pub async fn close(&self, serial: &str) -> bool {
        self.command(serial, MAIN_CLOUD_MODULE, Command::Close)
            .await
    }

    /// Resets the main link's TCP connection (RST); `false` if it is not up.
    pub async fn reset(&self, serial: &str) -> bool {
        self.command(serial, MAIN_CLOUD_MODULE, Command::Reset)
            .await
    }

    /// Resets the sub-link of `cloud_mod_name` (RST), leaving the others; `false` if it is
    /// not up.
    pub async fn close_service(&self, serial: &str, cloud_mod_name: &str) -> bool {
        if cloud_mod_name == MAIN_CLOUD_MODULE {
            return false;
        }
        self.command(serial, cloud_mod_name, Command::Reset).await
    }

    /// Sends `text` as a text frame on the main link, whatever it holds; `false` if the link
    /// is not up.
    pub async fn send_raw(&self, serial: &str, text: String) -> bool {
        self.command(serial, MAIN_CLOUD_MODULE, Command::Send(text))
            .await
    }

    async fn command(&self, serial: &str, cloud_mod_name: &str, command: Command) -> bool {
        let link = self.state().devices.get(serial).and_then(|device| {
            if cloud_mod_name == MAIN_CLOUD_MODULE {
                device.main.clone()
            } else {
                device.subs.get(cloud_mod_name).cloned()
            }
        });
        match link {
            Some(link) => link.commands.send(command).await.is_ok(),
            None => false,
        }
    }

    // ---- observation ----

    /// A receiver of what happens from now on. One that falls more than 4096 events behind
    /// loses the oldest.
    pub fn subscribe(&self) -> broadcast::Receiver<CloudEvent> {
        self.inner.events.subscribe()
    }

    // ---- for the HTTP steps and the links ----

    pub(super) fn limits(&self) -> &CloudLimits {
        &self.inner.limits
    }

    pub(super) fn offers(&self, cloud_mod_name: &str) -> bool {
        cloud_mod_name == MAIN_CLOUD_MODULE
            || self.inner.services.iter().any(|s| s == cloud_mod_name)
    }

    /// Resolves once the server stops.
    pub(super) fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut stop = self.inner.stop.subscribe();
        async move {
            let _ = stop.wait_for(|stop| *stop).await;
        }
    }

    pub(super) fn stop_links(&self) {
        self.inner.stop.send_replace(true);
    }

    /// Whether the server of this state has stopped serving (its links are closed).
    pub fn has_stopped(&self) -> bool {
        *self.inner.stop.borrow()
    }

    pub(super) fn link_permit(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.inner.links).try_acquire_owned().ok()
    }

    pub(super) fn next_link_id(&self) -> u64 {
        let mut state = self.state();
        state.next_link = state.next_link.wrapping_add(1);
        state.next_link
    }

    /// [`Faults::delay`] of `serial`.
    pub(super) fn delay(&self, serial: &str) -> Option<Duration> {
        self.state()
            .devices
            .get(serial)
            .and_then(|d| d.faults.delay)
    }

    /// Step 2: a TGT for `username` (any serial; a registered one must give its secret).
    pub(super) fn issue_tgt(&self, username: &str, password: &str) -> Result<String, CasRefusal> {
        if check(
            "serial",
            username,
            limits::MAX_SERIAL_LEN,
            char::is_whitespace,
        )
        .is_err()
        {
            return Err(CasRefusal::BadUser);
        }
        let id = format!("TGT-{}", self.random_hex());
        let now = Instant::now();
        let expires = now + self.inner.limits.ticket_ttl;
        let mut state = self.state();
        if state
            .devices
            .get(username)
            .is_some_and(|device| device.secret != password)
        {
            return Err(CasRefusal::WrongPassword);
        }
        if !state.tgts.issue(id.clone(), username, now, expires) {
            return Err(CasRefusal::Full);
        }
        Ok(id)
    }

    /// Step 3: spends `tgt` for a service ticket; the ticket and the serial it names.
    pub(super) fn issue_service_ticket(&self, tgt: &str) -> Result<(String, String), CasRefusal> {
        let id = format!("ST-{}", self.random_hex());
        let now = Instant::now();
        let expires = now + self.inner.limits.ticket_ttl;
        let mut state = self.state();
        let serial = state.tgts.take(tgt, now).ok_or(CasRefusal::UnknownTicket)?;
        if !state
            .service_tickets
            .issue(id.clone(), &serial, now, expires)
        {
            return Err(CasRefusal::Full);
        }
        Ok((id, serial))
    }

    /// Step 4: spends the service ticket; the answer, and the serial it named.
    pub(super) fn authenticate(&self, ticket: &str) -> (AuthAnswer, Option<String>) {
        let session_id = self.random_hex();
        let now = Instant::now();
        let mut state = self.state();
        let Some(serial) = state.service_tickets.take(ticket, now) else {
            return (
                refusal(
                    RetCode::BAD_REQUEST,
                    "unknown, spent or expired service ticket",
                ),
                None,
            );
        };
        let State {
            devices, sessions, ..
        } = &mut *state;
        let answer = match devices.get_mut(&serial) {
            None => refusal(
                RetCode::UNKNOWN_DEVICE,
                "device not registered with the cloud",
            ),
            Some(device) if !device.bound => refusal(RetCode::FAILED, "device is unbound"),
            Some(device) if device.faults.refuse_auth => {
                refusal(RetCode::FAILED, "authentication refused (fault injection)")
            }
            Some(device) => {
                if let Some(old) = device.session.take() {
                    sessions.remove(&old.id);
                }
                device.session = Some(Session {
                    id: session_id.clone(),
                    issued: now,
                });
                sessions.insert(session_id.clone(), serial.clone());
                AuthAnswer::Session { session_id }
            }
        };
        drop(state);
        let kind = match answer {
            AuthAnswer::Session { .. } => CloudEventKind::Authenticated,
            AuthAnswer::Refused { .. } => CloudEventKind::AuthRefused,
        };
        self.publish(&serial, kind);
        (answer, Some(serial))
    }

    /// Step 5: checks the device's session.
    pub(super) fn register(&self, request: &RegisterRequest) -> Registration {
        let now = Instant::now();
        let state = self.state();
        let Some(device) = state.devices.get(&request.dev_sn) else {
            return Registration::Refused(RetCode::UNKNOWN_DEVICE, "device not registered");
        };
        if !live(
            device,
            &request.token_id,
            now,
            self.inner.limits.session_ttl,
        ) {
            return Registration::Refused(RetCode::BAD_REQUEST, "no such session");
        }
        if device.faults.malformed_register_answer {
            return Registration::Malformed;
        }
        Registration::Accepted
    }

    /// The serial whose live session is `session_id` (a WebSocket upgrade's cookie).
    pub(super) fn session_serial(&self, session_id: &str) -> Option<String> {
        let now = Instant::now();
        let state = self.state();
        let serial = state.sessions.get(session_id)?;
        let device = state.devices.get(serial)?;
        live(device, session_id, now, self.inner.limits.session_ttl).then(|| serial.clone())
    }

    /// A text frame arrived on `link` (`registered`: whether it has registered, updated).
    pub(super) fn on_text(&self, link: &LinkInfo, registered: &mut bool, text: &[u8]) -> Reply {
        let frame = match DeviceFrame::decode(text) {
            Ok(frame) => frame,
            Err(error) => {
                self.bad_frame(&link.serial, error.to_string());
                return Reply::default();
            }
        };
        let key = &frame.link;
        let main_module_ok = !link.is_main() || key.dev_mod_name == MAIN_DEVICE_MODULE;
        if key.dev_sn != link.serial
            || key.token_id != link.token
            || key.cloud_mod_name != link.cloud_mod_name
            || !main_module_ok
        {
            self.bad_frame(&link.serial, "link key is not this link's".to_owned());
            return Reply::default();
        }
        if !*registered && frame.message != DeviceMessage::Register {
            self.bad_frame(&link.serial, "message before registration".to_owned());
            return Reply::default();
        }
        let mut events = Vec::new();
        let mut state = self.state();
        let Some(device) = state.devices.get_mut(&link.serial) else {
            return Reply::default();
        };
        let session = device.session.as_ref().map(|s| s.id.clone());
        let answer = self.handle(device, link, registered, frame.message, &mut events);
        let delay = device.faults.delay;
        if device.session.is_none()
            && let Some(ended) = session
        {
            state.sessions.remove(&ended);
        }
        drop(state);
        for kind in events {
            self.publish(&link.serial, kind);
        }
        Reply {
            answer: answer.and_then(|message| message.encode().ok()),
            delay,
        }
    }

    fn handle(
        &self,
        device: &mut Device,
        link: &LinkInfo,
        registered: &mut bool,
        message: DeviceMessage,
        events: &mut Vec<CloudEventKind>,
    ) -> Option<CloudMessage> {
        let ok = RetCode::OK;
        match message {
            DeviceMessage::Register => {
                let ret_code = self.register_link(device, link, registered, events);
                Some(CloudMessage::RegisterAnswer { ret_code })
            }
            DeviceMessage::Keepalive => {
                device.keepalives += 1;
                events.push(CloudEventKind::Keepalive);
                (!device.faults.stop_keepalive_answers)
                    .then_some(CloudMessage::KeepaliveAnswer { ret_code: ok })
            }
            DeviceMessage::Ping => {
                device.pings += 1;
                events.push(CloudEventKind::Ping);
                None
            }
            DeviceMessage::SubConnectionRequest => Some(CloudMessage::SubConnectionAnswer {
                ret_code: ok,
                services: self
                    .inner
                    .services
                    .iter()
                    .map(|name| Service {
                        cloud_mod_name: name.clone(),
                        url: super::http::link_url(&link.host, name),
                    })
                    .collect(),
            }),
            DeviceMessage::Report(report) => {
                device.report = Some(report.clone());
                events.push(CloudEventKind::Report(report));
                Some(CloudMessage::ReportAnswer { ret_code: ok })
            }
            DeviceMessage::ConfigurationAnswer(answer) => {
                if let Some(Pending::Configuration(tx)) = device.pending.remove(&answer.seq_number)
                {
                    let _ = tx.send(answer.clone());
                }
                events.push(CloudEventKind::ConfigurationAnswer(answer));
                None
            }
            DeviceMessage::ConnectionRequestAnswer {
                seq_number,
                ret_code,
            } => {
                if let Some(Pending::ConnectionRequest(tx)) = device.pending.remove(&seq_number) {
                    let _ = tx.send(ret_code);
                }
                events.push(CloudEventKind::ConnectionRequestAnswer(ret_code));
                None
            }
            DeviceMessage::Unbind { code } => {
                if device.unbinding_code.as_deref() != Some(code.as_str()) {
                    return Some(CloudMessage::UnbindAnswer {
                        ret_code: RetCode::FAILED,
                    });
                }
                device.bound = false;
                device.session = None;
                // The links end too; the answer goes out before the close.
                for handle in device.links() {
                    let _ = handle.commands.try_send(Command::Close);
                }
                events.push(CloudEventKind::Unbound);
                Some(CloudMessage::UnbindAnswer { ret_code: ok })
            }
        }
    }

    /// optType 1 on `link`: the main link needs the device's current session, a sub-link a
    /// registered main link too. A link registering again is answered as before.
    fn register_link(
        &self,
        device: &mut Device,
        link: &LinkInfo,
        registered: &mut bool,
        events: &mut Vec<CloudEventKind>,
    ) -> RetCode {
        if *registered {
            return RetCode::OK;
        }
        if device.session.as_ref().is_none_or(|s| s.id != link.token) {
            return RetCode::BAD_REQUEST;
        }
        let previous = if link.is_main() {
            device.registrations += 1;
            events.push(CloudEventKind::Registered);
            device.main.replace(link.handle())
        } else {
            if device.main.is_none() {
                return RetCode::NO_MAIN_CONNECTION;
            }
            events.push(CloudEventKind::LinkUp {
                cloud_mod_name: link.cloud_mod_name.clone(),
            });
            device
                .subs
                .insert(link.cloud_mod_name.clone(), link.handle())
        };
        if let Some(previous) = previous {
            let _ = previous.commands.try_send(Command::Close);
        }
        *registered = true;
        RetCode::OK
    }

    /// A frame the link cannot take (not text, or not a device frame).
    pub(super) fn bad_frame(&self, serial: &str, error: String) {
        if let Some(device) = self.state().devices.get_mut(serial) {
            device.bad_frames += 1;
        }
        self.publish(serial, CloudEventKind::BadFrame { error });
    }

    /// `link`'s task ended.
    pub(super) fn link_ended(&self, link: &LinkInfo) {
        let mut state = self.state();
        let Some(device) = state.devices.get_mut(&link.serial) else {
            return;
        };
        let kind = if link.is_main() {
            if device.main.as_ref().is_none_or(|h| h.id != link.id) {
                return;
            }
            device.main = None;
            // Waiters learn that no answer comes.
            device.pending.clear();
            CloudEventKind::Disconnected
        } else {
            if device
                .subs
                .get(&link.cloud_mod_name)
                .is_none_or(|h| h.id != link.id)
            {
                return;
            }
            device.subs.remove(&link.cloud_mod_name);
            CloudEventKind::LinkDown {
                cloud_mod_name: link.cloud_mod_name.clone(),
            }
        };
        drop(state);
        self.publish(&link.serial, kind);
    }

    fn publish(&self, serial: &str, kind: CloudEventKind) {
        // No receiver is not an error: nobody is watching.
        let _ = self.inner.events.send(CloudEvent {
            at: Instant::now(),
            serial: serial.to_owned(),
            kind,
        });
    }

    /// 128 random bits in hex.
    fn random_hex(&self) -> String {
        use rand::Rng as _;
        let mut bytes = [0u8; 16];
        self.inner
            .rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fill_bytes(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update is one call under the lock: a panicked holder left it consistent.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cloud")
            .field("services", &self.inner.services)
            .field("devices", &self.state().devices.len())
            .finish_non_exhaustive()
    }
}

/// Whether `session_id` is `device`'s session and still usable at `now`: while its main link
/// is up, else for `ttl` after it was issued.
fn live(device: &Device, session_id: &str, now: Instant, ttl: Duration) -> bool {
    device
        .session
        .as_ref()
        .is_some_and(|s| s.id == session_id && (device.main.is_some() || now < s.issued + ttl))
}

fn refusal(ret_code: RetCode, reason: &str) -> AuthAnswer {
    AuthAnswer::Refused {
        ret_code,
        reason: reason.to_owned(),
    }
}

/// Checks a registry text: 1 to `max` bytes, no control characters, none `forbidden`.
fn check(
    field: &'static str,
    value: &str,
    max: usize,
    forbidden: fn(char) -> bool,
) -> Result<(), CloudError> {
    let reason = if value.is_empty() {
        "empty"
    } else if value.len() > max {
        "too long"
    } else if value.chars().any(|c| c.is_control() || forbidden(c)) {
        "holds a control or whitespace character"
    } else {
        return Ok(());
    };
    Err(CloudError::Invalid { field, reason })
}
