//! The tunnel's state machine: the flow of [`schemas::tunnel`]'s module table (steps 1-9,
//! keepalive, ping, configuration, connection request, unbind), sans-IO.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use schemas::tunnel::{
    AuthAnswer, CasInfo, CloudMessage, CloudSettings, ConnectionState, Counted, DeviceFrame,
    DeviceMessage, DeviceState, DownReason, FailureReason, LinkKey, ProcessState, REGISTER_PATH,
    RegisterAnswer, RegisterRequest, ReportFailure, ReportFailureReason, Service, USERAUTH_PATH,
    form_encode, limits,
};

use super::buffer::{Queued, SendBuffer};
use super::status::CloudStatus;
use super::tally::{self, Record, Tally};
use crate::stats::{Delivery, Message};

/// How long an establishment step may wait for its answer before it fails with the step's
/// "Processing ... failed" and "Message not received".
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Most resolved addresses tried in one attempt.
pub const MAX_ADDRESSES: usize = crate::dial::MAX_ADDRESSES;

/// A connection of the tunnel: the main link (`cmtnlmgr`/`base`) or the sub-link of the
/// configured service module at this index of [`TunnelConfig::services`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Link {
    /// The main link.
    Main,
    /// A service module's sub-link.
    Service(usize),
}

/// A local service module that opens its own sub-link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceModule {
    /// `devModName`: the device module.
    pub dev_mod_name: String,
    /// `cloudModName`: the cloud micro-service it talks to.
    pub cloud_mod_name: String,
}

/// Reconnect back-off: attempt `n` waits `min(max, initial * 2^n)`, of which the upper half
/// is scaled by the jitter draw in `[0, 1]` (so two devices that failed together spread out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay (before jitter).
    pub initial: Duration,
    /// The longest delay (before jitter).
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(5),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The delay before attempt `attempt` (from 0) with the jitter draw `jitter` (clamped to
    /// `[0, 1]`; NaN counts as 0).
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let base = self
            .initial
            .saturating_mul(1 << attempt.min(20))
            .min(self.max);
        let jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        base / 2 + (base / 2).mul_f64(jitter)
    }
}

/// What the tunnel is built from.
#[derive(Clone, Debug)]
pub struct TunnelConfig {
    /// Domain, port, keepalive and ping.
    pub settings: CloudSettings,
    /// The device serial number (`devSN`, the CAS user name).
    pub serial: String,
    /// The device's secret (the CAS password).
    pub secret: String,
    /// The service modules that open sub-links, in [`Link::Service`] order.
    pub services: Vec<ServiceModule>,
    /// The send buffer's limit in bytes of frame text.
    pub buffer_limit: usize,
    /// Reconnect back-off.
    pub backoff: Backoff,
}

/// An HTTP step of the establishment (table steps 1-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpStep {
    /// 1: `GET /v3/base/userauth`, answered with the CAS URL.
    CasUrl,
    /// 2: credentials posted to the CAS, answered `201` with the TGT in `Location`.
    CasTgt,
    /// 3: service posted to the TGT, answered with the service ticket.
    CasSt,
    /// 4: `GET /v3/base/userauth?ticket=<ST>`, answered with the session id.
    CloudAuth,
    /// 5: `POST /v3/base/register`, answered with the WebSocket URL.
    Register,
}

impl HttpStep {
    /// The step's row in the call-home statistics.
    fn row(self) -> Message {
        match self {
            Self::CasUrl | Self::CasTgt | Self::CasSt | Self::CloudAuth => Message::TunnelAuth,
            Self::Register => Message::TunnelRegister,
        }
    }

    fn waiting(self) -> DeviceState {
        match self {
            Self::CasUrl => DeviceState::RequestCasUrl,
            Self::CasTgt => DeviceState::RequestCasTgt,
            Self::CasSt => DeviceState::RequestCasSt,
            Self::CloudAuth => DeviceState::RequestCloudAuth,
            Self::Register => DeviceState::Register,
        }
    }

    fn success(self) -> DeviceState {
        match self {
            Self::CasUrl => DeviceState::RequestCasUrlSuccess,
            Self::CasTgt => DeviceState::RequestCasTgtSuccess,
            Self::CasSt => DeviceState::RequestCasStSuccess,
            Self::CloudAuth => DeviceState::RequestCloudAuthSuccess,
            Self::Register => DeviceState::RegisterSuccess,
        }
    }

    fn sending_failed(self) -> FailureReason {
        match self {
            Self::CasUrl => FailureReason::SendingCasUrlFailed,
            Self::CasTgt => FailureReason::SendingCasTgtFailed,
            Self::CasSt => FailureReason::SendingCasStFailed,
            Self::CloudAuth => FailureReason::SendingCloudAuthFailed,
            Self::Register => FailureReason::SendingRegisterFailed,
        }
    }

    fn processing_failed(self) -> FailureReason {
        match self {
            Self::CasUrl => FailureReason::ProcessingCasUrlFailed,
            Self::CasTgt => FailureReason::ProcessingCasTgtFailed,
            Self::CasSt => FailureReason::ProcessingCasStFailed,
            Self::CloudAuth => FailureReason::ProcessingCloudAuthResponseFailed,
            Self::Register => FailureReason::ProcessingRegisterFailed,
        }
    }
}

/// An HTTP method of the flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMethod {
    /// `GET`, no body.
    Get,
    /// `POST`, with a body.
    Post,
}

/// What the cloud or the CAS answered to an [`Action::Http`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `Location` header, if any.
    pub location: Option<String>,
    /// The body (the driver caps it at [`schemas::tunnel::MAX_FRAME`]).
    pub body: Vec<u8>,
}

/// The domain did not resolve.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot resolve the cloud domain: {0}")]
pub struct ResolveError(pub String);

/// A connection (TCP + TLS, and for WebSocket links the upgrade) could not be opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// TCP connect refused, unreachable or timed out.
    #[error("TCP connection failed: {0}")]
    Refused(String),
    /// The TLS session could not be set up.
    #[error("TLS failed: {0}")]
    Tls(String),
    /// The WebSocket upgrade was refused with this HTTP status.
    #[error("WebSocket upgrade refused with status {0}")]
    Handshake(u16),
}

/// A request or frame could not be written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The TLS layer refused the write.
    #[error("TLS write failed: {0}")]
    Tls(String),
    /// The socket failed.
    #[error("socket write failed: {0}")]
    Io(String),
}

/// How a link closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Close {
    /// The cloud sent a WebSocket close frame.
    Frame,
    /// The cloud reset the TCP connection.
    Reset,
    /// The cloud sent a message larger than [`schemas::tunnel::MAX_FRAME`], which the
    /// WebSocket layer refuses to read ("Memory reached threshold", as
    /// [`FrameError::counted_as`](schemas::tunnel::FrameError::counted_as) counts it).
    TooLarge,
    /// A read or write error.
    Error(String),
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Resolve the cloud domain; answer with [`Tunnel::handle_resolved`].
    Resolve {
        /// The configured domain.
        domain: String,
    },
    /// Open TCP and TLS to the cloud for the HTTP steps (TLS server name `domain`), racing
    /// the addresses in their order (Happy Eyeballs, RFC 8305); answer with
    /// [`Tunnel::handle_connect`].
    Connect {
        /// The resolved addresses (at most [`MAX_ADDRESSES`]) with the configured port.
        addrs: Vec<SocketAddr>,
        /// The name TLS checks.
        domain: String,
    },
    /// Send an HTTP request; answer with [`Tunnel::handle_http`].
    Http {
        /// The step, echoed in the answer.
        step: HttpStep,
        /// The method.
        method: HttpMethod,
        /// The absolute URL.
        url: String,
        /// `application/x-www-form-urlencoded` or `application/json` for a `POST`.
        content_type: Option<&'static str>,
        /// The body (empty for a `GET`).
        body: String,
    },
    /// Open a WebSocket link with this cookie; answer with [`Tunnel::handle_connected`].
    OpenWebSocket {
        /// The link.
        link: Link,
        /// `ws://` or `wss://` URL.
        url: String,
        /// The `Cookie` header value.
        cookie: String,
    },
    /// Write one text frame; answer with [`Tunnel::handle_sent`] once written.
    Send {
        /// The link.
        link: Link,
        /// The frame.
        text: String,
    },
    /// Close this link (no answer expected).
    Close {
        /// The link.
        link: Link,
    },
}

/// What the rest of the agent learns.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The main link is registered (send a report now).
    Established,
    /// An establishment attempt failed.
    Failed(FailureReason),
    /// The established tunnel went down.
    Down(DownReason),
    /// A service module's sub-link is registered.
    ServiceUp(usize),
    /// A service module's sub-link went down (it is reopened after a back-off).
    ServiceDown(usize, DownReason),
    /// The cloud sent parameters to set; answer with [`DeviceMessage::ConfigurationAnswer`]
    /// on the same link.
    Configuration(Link, schemas::tunnel::Configuration),
    /// The cloud asks for a CWMP session; answer with
    /// [`DeviceMessage::ConnectionRequestAnswer`].
    ConnectionRequest {
        /// `seqNumber` to echo.
        seq_number: u32,
    },
    /// The cloud confirmed the unbinding; the tunnel stays idle.
    Unbound,
}

#[derive(Debug)]
enum Phase {
    /// Unbound: nothing to do until reconfigured or reset.
    Idle,
    /// Back-off before the next attempt.
    Waiting {
        until: Instant,
    },
    Resolving,
    Connecting,
    Http(HttpStep),
    /// WebSocket upgrade of the main link.
    Handshake,
    /// optType 1 sent on the main link.
    Registering,
    Up(Up),
}

#[derive(Debug)]
struct Up {
    since: Instant,
    last_answer: Instant,
    next_keepalive: Instant,
    next_ping: Instant,
    subs: Vec<Sub>,
}

#[derive(Debug, PartialEq, Eq)]
enum SubState {
    /// Not offered by the cloud (yet).
    Unlisted,
    Waiting {
        until: Instant,
    },
    Opening,
    Registering,
    Up,
}

#[derive(Debug)]
struct Sub {
    url: String,
    state: SubState,
    failures: u32,
}

/// The sans-IO tunnel client.
pub struct Tunnel {
    config: TunnelConfig,
    jitter: Box<dyn FnMut() -> f64 + Send>,
    phase: Phase,
    /// The current establishment step's deadline.
    deadline: Option<Instant>,
    failures: u32,
    /// The address connected to (while connecting, the first one tried).
    address: Option<IpAddr>,
    session_id: String,
    device_state: DeviceState,
    process_state: ProcessState,
    failure_reason: FailureReason,
    last_down: Option<(DownReason, Instant)>,
    last_report_failure: Option<(ReportFailure, Instant)>,
    /// The links with a frame being written, and that frame's statistics row.
    in_flight: Vec<(Link, Option<Message>)>,
    buffer: SendBuffer,
    tally: Tally,
    actions: std::collections::VecDeque<Action>,
    events: std::collections::VecDeque<Event>,
}

impl std::fmt::Debug for Tunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tunnel")
            .field("phase", &self.phase)
            .field("device_state", &self.device_state)
            .finish_non_exhaustive()
    }
}

impl Tunnel {
    /// A tunnel that starts resolving the domain at once. The last down reason starts as
    /// "Device or process rebooted". `jitter` draws the back-off jitter in `[0, 1]`.
    pub fn new(
        config: TunnelConfig,
        jitter: impl FnMut() -> f64 + Send + 'static,
        now: Instant,
    ) -> Self {
        let mut tunnel = Self {
            buffer: SendBuffer::new(config.buffer_limit),
            config,
            jitter: Box::new(jitter),
            phase: Phase::Idle,
            deadline: None,
            failures: 0,
            address: None,
            session_id: String::new(),
            device_state: DeviceState::Idle,
            process_state: ProcessState::DnsNotParsed,
            failure_reason: FailureReason::NotAvailable,
            last_down: Some((DownReason::DeviceOrProcessRebooted, now)),
            last_report_failure: None,
            in_flight: Vec::new(),
            tally: Tally::default(),
            actions: Default::default(),
            events: Default::default(),
        };
        tunnel.start(now);
        tunnel
    }

    /// The settings in force.
    pub fn settings(&self) -> &CloudSettings {
        &self.config.settings
    }

    /// The next thing to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        if let Some(action) = self.actions.pop_front() {
            return Some(action);
        }
        let in_flight = &self.in_flight;
        let Queued { link, row, text } = self
            .buffer
            .pop(|link| in_flight.iter().all(|(busy, _)| *busy != link))?;
        self.in_flight.push((link, row));
        if let Some(row) = row {
            self.tally.writing(link, row);
        }
        Some(Action::Send { link, text })
    }

    /// The next fact for the call-home statistics ([`crate::stats`]).
    pub fn poll_record(&mut self) -> Option<Record> {
        self.tally.poll()
    }

    /// The frames of the statistics row `row` waiting to be written (its Inqueue).
    pub fn queued(&self, row: Message) -> u64 {
        self.buffer.queued(row)
    }

    /// Stops for good: closes every link, drops what waits to be sent and gives up what
    /// waits for an answer.
    pub fn stop(&mut self, now: Instant) {
        self.tear_down(now);
        self.phase = Phase::Idle;
        self.device_state = DeviceState::Idle;
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Idle => None,
            Phase::Waiting { until } => Some(*until),
            Phase::Up(up) => {
                let expiry = up.last_answer + self.config.settings.keepalive_expiry();
                let subs = up.subs.iter().filter_map(|sub| match sub.state {
                    SubState::Waiting { until } => Some(until),
                    _ => None,
                });
                [up.next_keepalive, up.next_ping, expiry]
                    .into_iter()
                    .chain(subs)
                    .min()
            }
            _ => self.deadline,
        }
    }

    /// Fires what is due at `now`: the next attempt, a step's deadline, keepalive expiry,
    /// keepalive and ping frames, sub-link reopening.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.phase {
            Phase::Idle => {}
            Phase::Waiting { until } => {
                if now >= *until {
                    self.start(now);
                }
            }
            Phase::Up(_) => self.tick_up(now),
            Phase::Http(step) => {
                let step = *step;
                self.expire_step(now, step.processing_failed());
            }
            Phase::Resolving => self.expire_step(now, FailureReason::DnsParseFailed),
            Phase::Connecting => self.expire_step(now, FailureReason::SocketConnectionFailed),
            Phase::Handshake => self.expire_step(now, FailureReason::ProcessingHandshakeFailed),
            Phase::Registering => {
                self.expire_step(now, FailureReason::ProcessingWebsocketRegisterFailed);
            }
        }
    }

    /// The answer to [`Action::Resolve`].
    pub fn handle_resolved(&mut self, result: Result<Vec<IpAddr>, ResolveError>, now: Instant) {
        if !matches!(self.phase, Phase::Resolving) {
            return;
        }
        let port = self.config.settings.port();
        let addrs: Vec<_> = result
            .unwrap_or_default()
            .into_iter()
            .take(MAX_ADDRESSES)
            .map(|ip| SocketAddr::new(ip, port))
            .collect();
        let Some(first) = addrs.first() else {
            return self.fail(FailureReason::DnsParseFailed, now);
        };
        self.address = Some(first.ip());
        self.process_state = ProcessState::DnsParsed;
        self.phase = Phase::Connecting;
        self.deadline = Some(now + STEP_TIMEOUT);
        self.actions.push_back(Action::Connect {
            addrs,
            domain: self.config.settings.domain().to_owned(),
        });
    }

    /// The answer to [`Action::Connect`]: the address that won the race, or why every one
    /// failed (all refused is "Socket connection failed").
    pub fn handle_connect(&mut self, result: Result<SocketAddr, ConnectError>, now: Instant) {
        if !matches!(self.phase, Phase::Connecting) {
            return;
        }
        match result {
            Ok(addr) => {
                self.address = Some(addr.ip());
                self.request_cas_url(now);
            }
            Err(e) => self.fail(connect_failure(&e), now),
        }
    }

    /// The answer to [`Action::OpenWebSocket`].
    pub fn handle_connected(&mut self, link: Link, result: Result<(), ConnectError>, now: Instant) {
        match (link, &mut self.phase) {
            (Link::Main, Phase::Handshake) => match result {
                Ok(()) => {
                    self.tally.step_done();
                    self.device_state = DeviceState::Request;
                    self.phase = Phase::Registering;
                    self.deadline = Some(now + STEP_TIMEOUT);
                    self.queue(Link::Main, DeviceMessage::Register, now);
                }
                Err(e) => self.fail(connect_failure(&e), now),
            },
            (Link::Service(index), Phase::Up(up)) => {
                let Some(sub) = up.subs.get_mut(index) else {
                    return;
                };
                if sub.state != SubState::Opening {
                    return;
                }
                match result {
                    Ok(()) => {
                        sub.state = SubState::Registering;
                        self.queue(link, DeviceMessage::Register, now);
                    }
                    Err(_) => {
                        self.tally
                            .delivered(Message::TunnelRegister, Delivery::Failed);
                        self.sub_down(index, DownReason::SocketConnectionError, now);
                    }
                }
            }
            _ => {}
        }
    }

    /// The answer to [`Action::Http`].
    pub fn handle_http(
        &mut self,
        step: HttpStep,
        result: Result<HttpResponse, SendError>,
        now: Instant,
    ) {
        if !matches!(self.phase, Phase::Http(current) if current == step) {
            return;
        }
        let Ok(response) = result else {
            self.process_state = ProcessState::MessageNotSent;
            return self.fail(step.sending_failed(), now);
        };
        self.process_state = ProcessState::MessageReceived;
        self.tally.step_done();
        let usable = self.advance(step, &response, now).is_some();
        let delivery = if usable {
            Delivery::Answered
        } else {
            Delivery::Fault
        };
        self.tally.delivered(step.row(), delivery);
        if !usable {
            self.fail(step.processing_failed(), now);
        }
    }

    /// Writing the last [`Action::Send`] on `link` finished.
    pub fn handle_sent(&mut self, link: Link, result: Result<(), SendError>, now: Instant) {
        let row = self
            .in_flight
            .iter()
            .find(|(l, _)| *l == link)
            .and_then(|(_, row)| *row);
        self.in_flight.retain(|(l, _)| *l != link);
        match result {
            Ok(()) => {}
            Err(SendError::Tls(detail)) => {
                if let Some(row) = row {
                    self.tally.not_written(link, row);
                }
                self.last_report_failure = Some((ReportFailure::ssl_sending_failure(detail), now));
            }
            Err(SendError::Io(_)) => self.link_down(link, DownReason::SocketConnectionError, now),
        }
    }

    /// A text frame arrived on `link`.
    pub fn handle_frame(&mut self, link: Link, frame: &[u8], now: Instant) {
        let message = match CloudMessage::decode(frame) {
            Ok(message) => message,
            Err(e) => {
                return match e.counted_as() {
                    Counted::ReportFailure(reason) => {
                        self.last_report_failure = Some((reason.into(), now));
                    }
                    Counted::Down(reason) => self.link_down(link, reason, now),
                };
            }
        };
        self.tally.answer(link, &message);
        match (link, message) {
            (Link::Main, CloudMessage::RegisterAnswer { ret_code }) => {
                if matches!(self.phase, Phase::Registering) {
                    if ret_code.is_ok() {
                        self.established(now);
                    } else {
                        self.fail(FailureReason::ProcessingWebsocketRegisterFailed, now);
                    }
                }
            }
            (Link::Service(index), CloudMessage::RegisterAnswer { ret_code }) => {
                self.sub_registered(index, ret_code.is_ok(), now);
            }
            (Link::Main, CloudMessage::KeepaliveAnswer { .. }) => {
                if let Phase::Up(up) = &mut self.phase {
                    up.last_answer = now;
                }
            }
            (Link::Main, CloudMessage::SubConnectionAnswer { ret_code, services }) => {
                if ret_code.is_ok() {
                    self.open_services(&services, now);
                } else {
                    self.failure_reason = FailureReason::ProcessingWebsocketSubConnectionFailed;
                }
            }
            (_, CloudMessage::Configuration(configuration)) => {
                self.events
                    .push_back(Event::Configuration(link, configuration));
            }
            (Link::Main, CloudMessage::ConnectionRequest { seq_number }) => {
                self.events
                    .push_back(Event::ConnectionRequest { seq_number });
            }
            (Link::Main, CloudMessage::UnbindAnswer { ret_code }) if ret_code.is_ok() => {
                self.tear_down(now);
                self.phase = Phase::Idle;
                self.device_state = DeviceState::Idle;
                self.events.push_back(Event::Unbound);
            }
            // Report acknowledgements, refused unbinding and answers on the wrong link need
            // nothing.
            _ => {}
        }
    }

    /// `link` closed.
    pub fn handle_closed(&mut self, link: Link, close: Close, now: Instant) {
        let reason = match close {
            Close::Frame => DownReason::ReceivedWebsocketClosePacketFromCloud,
            Close::Reset => DownReason::CloudResetConnection,
            Close::TooLarge => DownReason::MemoryReachedThreshold,
            Close::Error(_) => DownReason::SocketConnectionError,
        };
        self.in_flight.retain(|(l, _)| *l != link);
        self.link_down(link, reason, now);
    }

    /// New settings. A different domain or port drops the tunnel ("Configuration changed")
    /// and connects to the new place at once; keepalive and ping apply to the running tunnel
    /// from their next frame.
    pub fn reconfigure(&mut self, settings: CloudSettings, now: Instant) {
        let reconnect = self.config.settings.requires_reconnect(&settings);
        self.config.settings = settings;
        if reconnect {
            self.restart(DownReason::ConfigurationChanged, now);
        } else if let Phase::Up(up) = &mut self.phase {
            up.next_keepalive = up
                .next_keepalive
                .min(now + self.config.settings.keepalive_period());
            up.next_ping = up.next_ping.min(now + self.config.settings.ping_period());
        }
    }

    /// `cpe cloud reset`: drop everything ("Cloud reset connection") and connect again now.
    pub fn reset(&mut self, now: Instant) {
        self.restart(DownReason::CloudResetConnection, now);
    }

    /// Queues `message` on `link` (configuration and connection-request answers, reports).
    /// Refused with "Tunnel socket is invalid" when the link is not registered, or when the
    /// buffer is full.
    pub fn send(
        &mut self,
        link: Link,
        message: DeviceMessage,
        now: Instant,
    ) -> Result<(), ReportFailure> {
        if !self.is_registered(link) {
            let failure = ReportFailure::from(ReportFailureReason::TunnelSocketIsInvalid);
            self.last_report_failure = Some((failure.clone(), now));
            if let Some(row) = tally::row(&message) {
                self.tally.dropped(row);
            }
            return Err(failure);
        }
        self.push(link, message, now)
    }

    /// Asks the cloud to unbind the device with `code` (optType 105).
    pub fn unbind(&mut self, code: String, now: Instant) -> Result<(), ReportFailure> {
        self.send(Link::Main, DeviceMessage::Unbind { code }, now)
    }

    /// The status table's values at `now` (`wall` is the wall-clock time of `now`).
    pub fn status(&self, now: Instant, wall: SystemTime) -> CloudStatus {
        let at = |instant: Instant| wall.checked_sub(now.saturating_duration_since(instant));
        let connection_state = match &self.phase {
            Phase::Up(_) => ConnectionState::Established,
            Phase::Idle | Phase::Waiting { .. } => ConnectionState::Unconnected,
            _ => ConnectionState::Request,
        };
        let counters = self.buffer.counters();
        CloudStatus {
            connection_state,
            device_state: self.device_state,
            server_address: self.address,
            domain: self.config.settings.domain().to_owned(),
            port: self.config.settings.port(),
            connected_at: match &self.phase {
                Phase::Up(up) => at(up.since),
                _ => None,
            },
            duration: match &self.phase {
                Phase::Up(up) => Some(now.saturating_duration_since(up.since)),
                _ => None,
            },
            process_state: self.process_state,
            failure_reason: self.failure_reason,
            last_down: self.last_down.and_then(|(r, i)| Some((r, at(i)?))),
            last_report_failure: self
                .last_report_failure
                .as_ref()
                .and_then(|(r, i)| Some((r.clone(), at(*i)?))),
            dropped_after_limit: counters.dropped_after_limit,
            total_dropped: counters.total_dropped,
            last_report_incomplete: counters
                .last_incomplete
                .as_ref()
                .and_then(|(r, i)| Some((r.clone(), at(*i)?))),
            buffer_full_count: counters.buffer_full_count,
        }
    }

    fn is_registered(&self, link: Link) -> bool {
        match (&self.phase, link) {
            (Phase::Up(_), Link::Main) => true,
            (Phase::Up(up), Link::Service(i)) => {
                up.subs.get(i).is_some_and(|s| s.state == SubState::Up)
            }
            _ => false,
        }
    }

    fn key(&self, link: Link) -> LinkKey {
        let main = LinkKey::main(&self.config.serial, &self.session_id);
        match link {
            Link::Main => main,
            Link::Service(i) => {
                let module = &self.config.services[i];
                main.sub(&module.dev_mod_name, &module.cloud_mod_name)
            }
        }
    }

    fn push(
        &mut self,
        link: Link,
        message: DeviceMessage,
        now: Instant,
    ) -> Result<(), ReportFailure> {
        let row = tally::row(&message);
        let frame = DeviceFrame {
            link: self.key(link),
            message,
        };
        let pushed = match frame.encode() {
            Ok(text) => self
                .buffer
                .push(Queued { link, row, text }, now)
                .map_err(|_| ReportFailureReason::SendBufferIsFull.into()),
            Err(_) => {
                let failure = ReportFailure::from(ReportFailureReason::FailedToConvertStringToJson);
                self.last_report_failure = Some((failure.clone(), now));
                Err(failure)
            }
        };
        if let (Err(_), Some(row)) = (&pushed, row) {
            self.tally.dropped(row);
        }
        pushed
    }

    /// Queues a frame of the machine's own (registration, keepalive, ping, sub-connection
    /// request). A refusal is already counted by [`Self::push`]; a lost keepalive shows up as
    /// expiry, a lost registration as the step's deadline.
    fn queue(&mut self, link: Link, message: DeviceMessage, now: Instant) {
        let _counted = self.push(link, message, now);
    }

    fn origin(&self) -> String {
        let settings = &self.config.settings;
        match settings.port() {
            443 => format!("https://{}", settings.domain()),
            port => format!("https://{}:{port}", settings.domain()),
        }
    }

    fn start(&mut self, now: Instant) {
        self.tally.step(Message::TunnelAuth);
        self.phase = Phase::Resolving;
        self.device_state = DeviceState::Connecting;
        self.process_state = ProcessState::DnsNotParsed;
        self.deadline = Some(now + STEP_TIMEOUT);
        self.address = None;
        self.actions.push_back(Action::Resolve {
            domain: self.config.settings.domain().to_owned(),
        });
    }

    fn http(
        &mut self,
        step: HttpStep,
        method: HttpMethod,
        url: String,
        body: Option<(&'static str, String)>,
        now: Instant,
    ) {
        self.tally.step(step.row());
        self.phase = Phase::Http(step);
        self.device_state = step.waiting();
        self.process_state = ProcessState::MessageSent;
        self.deadline = Some(now + STEP_TIMEOUT);
        let (content_type, body) = match body {
            Some((content_type, body)) => (Some(content_type), body),
            None => (None, String::new()),
        };
        self.actions.push_back(Action::Http {
            step,
            method,
            url,
            content_type,
            body,
        });
    }

    fn request_cas_url(&mut self, now: Instant) {
        let url = format!("{}{USERAUTH_PATH}", self.origin());
        self.http(HttpStep::CasUrl, HttpMethod::Get, url, None, now);
    }

    /// Reads `response` to `step` and takes the next step; `None` when the answer is not
    /// usable.
    fn advance(&mut self, step: HttpStep, response: &HttpResponse, now: Instant) -> Option<()> {
        const FORM: &str = "application/x-www-form-urlencoded";
        match step {
            HttpStep::CasUrl => {
                let info = ok_body(response, 200).and_then(|b| CasInfo::decode(b).ok())?;
                let body = form_encode([
                    ("username", self.config.serial.as_str()),
                    ("password", self.config.secret.as_str()),
                ]);
                self.device_state = step.success();
                self.http(
                    HttpStep::CasTgt,
                    HttpMethod::Post,
                    info.cas_url,
                    Some((FORM, body)),
                    now,
                );
            }
            HttpStep::CasTgt => {
                let tgt = response
                    .location
                    .as_deref()
                    .filter(|url| response.status == 201 && is_http_url(url))?
                    .to_owned();
                let service = format!("{}{USERAUTH_PATH}", self.origin());
                let body = form_encode([("service", service.as_str())]);
                self.device_state = step.success();
                self.http(
                    HttpStep::CasSt,
                    HttpMethod::Post,
                    tgt,
                    Some((FORM, body)),
                    now,
                );
            }
            HttpStep::CasSt => {
                let ticket = ok_body(response, 200)
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .map(str::trim)
                    .filter(|t| is_token(t, limits::MAX_TOKEN_LEN))?;
                let url = format!(
                    "{}{USERAUTH_PATH}?{}",
                    self.origin(),
                    form_encode([("ticket", ticket)])
                );
                self.device_state = step.success();
                self.http(HttpStep::CloudAuth, HttpMethod::Get, url, None, now);
            }
            HttpStep::CloudAuth => {
                let answer = ok_body(response, 200).and_then(|b| AuthAnswer::decode(b).ok())?;
                let AuthAnswer::Session { session_id } = answer else {
                    return None;
                };
                let body = RegisterRequest {
                    dev_sn: self.config.serial.clone(),
                    token_id: session_id.clone(),
                    dev_model: None,
                    sw_version: None,
                }
                .encode()
                .ok()?;
                self.session_id = session_id;
                let url = format!("{}{REGISTER_PATH}", self.origin());
                self.device_state = step.success();
                let body = Some(("application/json", body));
                self.http(HttpStep::Register, HttpMethod::Post, url, body, now);
            }
            HttpStep::Register => {
                let answer = ok_body(response, 200).and_then(|b| RegisterAnswer::decode(b).ok())?;
                let RegisterAnswer::Accepted { ws_url } = answer else {
                    return None;
                };
                self.device_state = step.success();
                self.tally.step(Message::TunnelRegister);
                self.phase = Phase::Handshake;
                self.process_state = ProcessState::MessageSent;
                self.deadline = Some(now + STEP_TIMEOUT);
                self.actions.push_back(Action::OpenWebSocket {
                    link: Link::Main,
                    url: ws_url,
                    cookie: self.cookie(),
                });
            }
        }
        Some(())
    }

    fn cookie(&self) -> String {
        format!("JSESSIONID={}", self.session_id)
    }

    fn established(&mut self, now: Instant) {
        let settings = &self.config.settings;
        let subs = (0..self.config.services.len())
            .map(|_| Sub {
                url: String::new(),
                state: SubState::Unlisted,
                failures: 0,
            })
            .collect();
        self.phase = Phase::Up(Up {
            since: now,
            last_answer: now,
            next_keepalive: now + settings.keepalive_period(),
            next_ping: now + settings.ping_period(),
            subs,
        });
        self.deadline = None;
        self.failures = 0;
        self.device_state = DeviceState::RequestSuccess;
        self.process_state = ProcessState::MessageReceived;
        self.failure_reason = FailureReason::NotAvailable;
        self.events.push_back(Event::Established);
        if !self.config.services.is_empty() {
            self.queue(Link::Main, DeviceMessage::SubConnectionRequest, now);
        }
    }

    fn open_services(&mut self, services: &[Service], now: Instant) {
        let Phase::Up(up) = &mut self.phase else {
            return;
        };
        for (index, module) in self.config.services.iter().enumerate() {
            let Some(service) = services
                .iter()
                .find(|s| s.cloud_mod_name == module.cloud_mod_name)
            else {
                continue;
            };
            let sub = &mut up.subs[index];
            sub.url.clone_from(&service.url);
            if matches!(sub.state, SubState::Unlisted | SubState::Waiting { .. }) {
                sub.state = SubState::Waiting { until: now };
            }
        }
        self.tick_up(now);
    }

    fn sub_registered(&mut self, index: usize, ok: bool, now: Instant) {
        let Phase::Up(up) = &mut self.phase else {
            return;
        };
        let Some(sub) = up.subs.get_mut(index) else {
            return;
        };
        if sub.state != SubState::Registering {
            return;
        }
        if ok {
            sub.state = SubState::Up;
            sub.failures = 0;
            self.events.push_back(Event::ServiceUp(index));
        } else {
            self.sub_down(index, DownReason::PacketProcessingFailed, now);
        }
    }

    fn tick_up(&mut self, now: Instant) {
        let Phase::Up(up) = &mut self.phase else {
            return;
        };
        let settings = &self.config.settings;
        if now >= up.last_answer + settings.keepalive_expiry() {
            return self.link_down(Link::Main, DownReason::KeepaliveExpired, now);
        }
        let mut frames = Vec::new();
        if now >= up.next_keepalive {
            up.next_keepalive = now + settings.keepalive_period();
            frames.push(DeviceMessage::Keepalive);
        }
        if now >= up.next_ping {
            up.next_ping = now + settings.ping_period();
            frames.push(DeviceMessage::Ping);
        }
        let cookie = format!("JSESSIONID={}", self.session_id);
        for (index, sub) in up.subs.iter_mut().enumerate() {
            if matches!(sub.state, SubState::Waiting { until } if now >= until) {
                sub.state = SubState::Opening;
                self.actions.push_back(Action::OpenWebSocket {
                    link: Link::Service(index),
                    url: sub.url.clone(),
                    cookie: cookie.clone(),
                });
            }
        }
        for frame in frames {
            self.queue(Link::Main, frame, now);
        }
    }

    fn expire_step(&mut self, now: Instant, reason: FailureReason) {
        if self.deadline.is_some_and(|deadline| now >= deadline) {
            self.process_state = match self.phase {
                Phase::Resolving => ProcessState::DnsNotParsed,
                _ => ProcessState::MessageNotReceived,
            };
            self.fail(reason, now);
        }
    }

    /// An establishment attempt failed: close what is open and wait out the back-off.
    fn fail(&mut self, reason: FailureReason, now: Instant) {
        self.failure_reason = reason;
        self.events.push_back(Event::Failed(reason));
        if matches!(self.phase, Phase::Handshake | Phase::Registering) {
            self.actions.push_back(Action::Close { link: Link::Main });
        }
        self.tally.step_failed();
        self.forget(|_| true, now);
        let delay = self.config.backoff.delay(self.failures, (self.jitter)());
        self.failures = self.failures.saturating_add(1);
        self.deadline = None;
        self.phase = Phase::Waiting { until: now + delay };
    }

    /// `link` went down for `reason`: a sub-link alone, or the whole tunnel with the main one.
    fn link_down(&mut self, link: Link, reason: DownReason, now: Instant) {
        match (link, &self.phase) {
            (Link::Service(index), Phase::Up(_)) => self.sub_down(index, reason, now),
            (Link::Main, Phase::Up(_)) => {
                self.down(reason, now);
                let delay = self.config.backoff.delay(0, (self.jitter)());
                self.phase = Phase::Waiting { until: now + delay };
            }
            (Link::Main, Phase::Handshake | Phase::Registering) => {
                self.fail(FailureReason::ProcessingWebsocketRegisterFailed, now);
            }
            _ => {}
        }
    }

    fn sub_down(&mut self, index: usize, reason: DownReason, now: Instant) {
        let Phase::Up(up) = &mut self.phase else {
            return;
        };
        let Some(sub) = up.subs.get_mut(index) else {
            return;
        };
        if matches!(sub.state, SubState::Unlisted | SubState::Waiting { .. }) {
            return;
        }
        let link = Link::Service(index);
        let delay = self.config.backoff.delay(sub.failures, (self.jitter)());
        sub.failures = sub.failures.saturating_add(1);
        sub.state = SubState::Waiting { until: now + delay };
        self.actions.push_back(Action::Close { link });
        self.forget(|l| l == link, now);
        self.events.push_back(Event::ServiceDown(index, reason));
    }

    /// The established tunnel goes down: record why, close every link.
    fn down(&mut self, reason: DownReason, now: Instant) {
        self.last_down = Some((reason, now));
        self.events.push_back(Event::Down(reason));
        if let Phase::Up(up) = &self.phase {
            for (index, sub) in up.subs.iter().enumerate() {
                if !matches!(sub.state, SubState::Unlisted | SubState::Waiting { .. }) {
                    self.events.push_back(Event::ServiceDown(
                        index,
                        DownReason::MainConnectionWentDown,
                    ));
                }
            }
        }
        self.tear_down(now);
        self.device_state = DeviceState::Idle;
    }

    /// Closes every open link and drops what waits to be sent.
    fn tear_down(&mut self, now: Instant) {
        if let Phase::Up(up) = &self.phase {
            for (index, sub) in up.subs.iter().enumerate() {
                if matches!(
                    sub.state,
                    SubState::Opening | SubState::Registering | SubState::Up
                ) {
                    self.actions.push_back(Action::Close {
                        link: Link::Service(index),
                    });
                }
            }
        }
        if matches!(
            self.phase,
            Phase::Up(_) | Phase::Handshake | Phase::Registering
        ) {
            self.actions.push_back(Action::Close { link: Link::Main });
        }
        self.tally.step_failed();
        self.forget(|_| true, now);
    }

    /// The links `gone` selects went away: what was queued for them is dropped, what was
    /// being written or waited for its answer was not answered.
    fn forget(&mut self, gone: impl Fn(Link) -> bool + Copy, now: Instant) {
        for row in self.buffer.discard(gone, now) {
            self.tally.dropped(row);
        }
        self.in_flight.retain(|(link, _)| !gone(*link));
        self.tally.gone(gone);
    }

    /// Drops whatever runs (a down reason only if it was established) and starts over now.
    fn restart(&mut self, reason: DownReason, now: Instant) {
        if matches!(self.phase, Phase::Up(_)) {
            self.down(reason, now);
        } else {
            self.tear_down(now);
        }
        self.actions.retain(|a| matches!(a, Action::Close { .. }));
        self.failures = 0;
        self.start(now);
    }
}

fn connect_failure(error: &ConnectError) -> FailureReason {
    match error {
        ConnectError::Refused(_) => FailureReason::SocketConnectionFailed,
        ConnectError::Tls(_) => FailureReason::SslCreationFailed,
        ConnectError::Handshake(_) => FailureReason::ProcessingHandshakeFailed,
    }
}

fn ok_body(response: &HttpResponse, status: u16) -> Option<&[u8]> {
    (response.status == status).then_some(response.body.as_slice())
}

fn is_token(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && text.chars().all(|c| c.is_ascii_graphic())
}

fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    is_token(url, limits::MAX_URL_LEN)
        && rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
}
