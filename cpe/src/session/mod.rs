//! The sans-IO CPE session state machine (TR-069 Amd 6 §3.7).
//!
//! One [`Session`] is one CWMP session: the Inform first, then the CPE's own requests
//! (TransferComplete, ...), the empty POST that says the CPE has no more, then the ACS's requests
//! until the ACS has no more (HTTP 204 or an empty 200). The machine takes the ACS's responses
//! and the time, and hands out what to POST next ([`Session::poll_transmit`]), what the
//! application must do ([`Session::poll_event`]) and when to wake it ([`Session::poll_timeout`]).
//! It owns no socket and reads no clock, so the agent, every fleet member and the tests drive
//! the same code.
//!
//! ```text
//!  CPE                                          ACS
//!   |-- Inform (events, parameters, RetryCount) -->|
//!   |<-- InformResponse [UseCWMPVersion] ----------|   §3.7.1.1, version negotiation §3.7.4
//!   |-- TransferComplete ... (unless HoldRequests)->|
//!   |<-- TransferCompleteResponse -----------------|
//!   |-- (empty POST) ------------------------------>|  the CPE has no more requests
//!   |<-- GetParameterValues [HoldRequests] --------|
//!   |-- GetParameterValuesResponse --------------->|
//!   |<-- 204 No Content ---------------------------|  the ACS has no more requests
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use schemas::rpc::{FaultCode, Inform, SoapFault};
use schemas::soap::{CwmpNamespace, CwmpVersion, peek_header};
use schemas::{Body, Envelope, SoapError};

/// The session timeout when nothing else is configured (TR-069 §3.7.1.5 / CWMP 1.3
/// `SessionTimeout`: 30 s of silence and the session has failed).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a session is opened with.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// The Inform, with its events, parameters and RetryCount already in place.
    pub inform: Inform,
    /// Requests the CPE makes after the Inform (TransferComplete, AutonomousTransferComplete,
    /// DUStateChangeComplete, GetRPCMethods, ...), in order.
    pub requests: Vec<Body>,
    /// The highest CWMP version offered; 1.4 offers every version through
    /// `SupportedCWMPVersions`, 1.0 and 1.1 send the Inform in their own namespace.
    pub max_version: CwmpVersion,
    /// Silence after which the session fails; sent as `SessionTimeout` (CWMP 1.3+).
    pub timeout: Duration,
    /// Makes this session's `cwmp:ID`s unique (e.g. a counter or random number).
    pub id_seed: u64,
}

impl SessionConfig {
    /// A session that sends `inform` and nothing else, offering CWMP 1.4.
    pub fn new(inform: Inform) -> Self {
        Self {
            inform,
            requests: Vec::new(),
            max_version: CwmpVersion::V1_4,
            timeout: DEFAULT_TIMEOUT,
            id_seed: 0,
        }
    }
}

/// One HTTP POST body for the driver to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transmit {
    /// A SOAP envelope (`Content-Type: text/xml; charset="utf-8"`).
    Envelope(Vec<u8>),
    /// An empty POST (`Content-Length: 0`).
    Empty,
}

/// What the application learns from the session.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionEvent {
    /// The ACS accepted the Inform: its events are delivered and may be dropped from the queue
    /// (§3.7.1.5), and RetryCount resets. Carries the negotiated version.
    InformAccepted(CwmpVersion),
    /// The ACS answered CPE request number `index` (of [`SessionConfig::requests`]) with
    /// `response`, so it need not be sent again.
    RequestAnswered {
        /// Position in [`SessionConfig::requests`].
        index: usize,
        /// The ACS's response.
        response: Body,
    },
    /// The ACS refused CPE request `index` with `fault`; it stays pending for a later session.
    RequestRefused {
        /// Position in [`SessionConfig::requests`].
        index: usize,
        /// The ACS's fault.
        fault: SoapFault,
    },
    /// The ACS asks the CPE to do something: answer with [`Session::respond`].
    Request(Body),
    /// Both sides have no more requests and all are answered: the session succeeded.
    Completed,
    /// The session failed; it is to be retried under §3.2.1.1.
    Failed(SessionError),
}

/// Why a session failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// Nothing was heard within the session timeout.
    #[error("no answer from the ACS within {0:?}")]
    Timeout(Duration),
    /// The ACS answered with an HTTP status that is not part of CWMP.
    #[error("the ACS answered HTTP {0}")]
    HttpStatus(u16),
    /// The ACS's message could not be read.
    #[error("unreadable message from the ACS: {0}")]
    Malformed(SoapError),
    /// The ACS sent a message the session did not expect at this point.
    #[error("expected {expected}, the ACS sent {got}")]
    UnexpectedMessage {
        /// What the session waited for.
        expected: &'static str,
        /// The element name of what came.
        got: &'static str,
    },
    /// The ACS answered the Inform with a fault (8005 asks for a retry, 8006 means no common
    /// CWMP version).
    #[error("the ACS refused the Inform: {0}")]
    InformRefused(FaultCode),
    /// The ACS chose a version this CPE did not offer.
    #[error("the ACS chose CWMP {0}, which was not offered")]
    VersionNotOffered(CwmpVersion),
}

/// A CPE-side CWMP session.
#[derive(Debug)]
pub struct Session {
    state: State,
    /// Namespace of everything the CPE sends from now on.
    namespace: CwmpNamespace,
    version: CwmpVersion,
    max_version: CwmpVersion,
    timeout: Duration,
    /// When the session fails for want of an answer.
    deadline: Option<Instant>,
    id_seed: u64,
    next_id: u64,
    /// CPE requests not yet answered, with their index in the configuration.
    requests: VecDeque<(usize, Body)>,
    /// The ACS's last message asked the CPE to hold its requests.
    hold: bool,
    /// The CPE has sent its empty POST since it last sent a request.
    cpe_done: bool,
    transmit: Option<Transmit>,
    events: VecDeque<SessionEvent>,
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// The Inform is out; waiting for InformResponse.
    ExpectInformResponse,
    /// A CPE request is out; waiting for its response.
    ExpectRequestResponse,
    /// The empty POST or a response is out; waiting for an ACS request or the end.
    ExpectAcsMessage,
    /// An ACS request was handed to the application; waiting for [`Session::respond`].
    ExpectApplication {
        /// The request's `cwmp:ID`, echoed in the response.
        id: Option<String>,
    },
    /// Over, successfully or not.
    Closed,
}

impl Session {
    /// Opens a session at `now`: the Inform is the first thing to transmit.
    pub fn new(config: SessionConfig, now: Instant) -> Self {
        let namespace = CwmpNamespace::for_version(config.max_version);
        let mut session = Self {
            state: State::ExpectInformResponse,
            namespace,
            version: config.max_version,
            max_version: config.max_version,
            timeout: config.timeout,
            deadline: Some(now + config.timeout),
            id_seed: config.id_seed,
            next_id: 0,
            requests: config.requests.into_iter().enumerate().collect(),
            hold: false,
            cpe_done: false,
            transmit: None,
            events: VecDeque::new(),
        };
        let mut envelope = session.envelope(config.inform);
        if session.namespace == CwmpNamespace::V1_2 {
            let offered = CwmpVersion::ALL
                .iter()
                .copied()
                .filter(|v| *v <= config.max_version);
            envelope.header.supported_cwmp_versions =
                (config.max_version >= CwmpVersion::V1_4).then(|| offered.collect());
            envelope.header.session_timeout = (config.max_version >= CwmpVersion::V1_3)
                .then(|| u32::try_from(config.timeout.as_secs()).unwrap_or(u32::MAX));
        }
        session.transmit = Some(Transmit::Envelope(envelope.write()));
        session
    }

    /// The CWMP version in use (the offer until the ACS answers the Inform).
    pub fn version(&self) -> CwmpVersion {
        self.version
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The element name of the CPE request whose answer the session waits for: `"Inform"`
    /// until the InformResponse, then each of [`SessionConfig::requests`] in turn; `None`
    /// while the turn is the ACS's. Drivers count their statistics by it ([`crate::stats`]).
    pub fn awaiting(&self) -> Option<&'static str> {
        match self.state {
            State::ExpectInformResponse => Some("Inform"),
            State::ExpectRequestResponse => self.requests.front().map(|(_, body)| body.name()),
            _ => None,
        }
    }

    /// The next POST body to send, if any.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmit.take()
    }

    /// The next thing the application must know or do.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] must be called, if the session waits for the ACS.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Lets time pass: at or after the deadline the session fails.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| now >= d) {
            self.fail(SessionError::Timeout(self.timeout));
        }
    }

    /// Takes the ACS's HTTP answer to the last POST: its status and body.
    pub fn handle_response(&mut self, status: u16, body: &[u8], now: Instant) {
        if self.state == State::Closed {
            return;
        }
        self.deadline = Some(now + self.timeout);
        let empty = body.iter().all(u8::is_ascii_whitespace);
        match status {
            204 => return self.acs_done(),
            200 if empty => return self.acs_done(),
            200 => {}
            other => return self.fail(SessionError::HttpStatus(other)),
        }
        match Envelope::parse(body) {
            Ok(envelope) => self.message(envelope),
            Err(e) => self.unreadable(body, e, now),
        }
    }

    /// Answers the ACS request last handed out as [`SessionEvent::Request`], with its
    /// response or a fault.
    pub fn respond(&mut self, response: impl Into<Body>, now: Instant) {
        let State::ExpectApplication { id } = &mut self.state else {
            // Nothing to answer: a mistake of the caller, not of the peer.
            crate::oplog!(
                CWMP_NO_REQUEST_PENDING,
                "respond() called with no ACS request pending"
            );
            return;
        };
        let id = id.take();
        self.send_reply(id, response.into(), now);
    }

    fn send_reply(&mut self, id: Option<String>, body: Body, now: Instant) {
        let mut envelope = Envelope::new(self.namespace, body);
        envelope.header.id = id;
        self.transmit = Some(Transmit::Envelope(envelope.write()));
        self.state = State::ExpectAcsMessage;
        self.deadline = Some(now + self.timeout);
    }

    fn envelope(&mut self, body: impl Into<Body>) -> Envelope {
        self.next_id += 1;
        Envelope::new(self.namespace, body).with_id(format!("{:x}.{}", self.id_seed, self.next_id))
    }

    fn message(&mut self, envelope: Envelope) {
        if let Some(hold) = envelope.header.hold_requests {
            self.hold = hold;
        }
        match (&self.state, envelope.body) {
            (State::ExpectInformResponse, Body::InformResponse(_)) => {
                if let Err(e) = self.negotiate(envelope.namespace, envelope.header.use_cwmp_version)
                {
                    return self.fail(e);
                }
                self.events
                    .push_back(SessionEvent::InformAccepted(self.version));
                self.next_cpe_message();
            }
            (State::ExpectInformResponse, Body::Fault(fault)) => {
                let code = fault
                    .detail
                    .map_or(FaultCode::AcsInternalError, |d| d.fault_code);
                self.fail(SessionError::InformRefused(code));
            }
            (State::ExpectRequestResponse, Body::Fault(fault)) => {
                if let Some((index, _)) = self.requests.pop_front() {
                    self.events
                        .push_back(SessionEvent::RequestRefused { index, fault });
                }
                // A refused request stays with the application; the session goes on without it.
                self.next_cpe_message();
            }
            (State::ExpectRequestResponse, response) if response.is_response() => {
                if let Some((index, _)) = self.requests.pop_front() {
                    self.events
                        .push_back(SessionEvent::RequestAnswered { index, response });
                }
                self.next_cpe_message();
            }
            (State::ExpectAcsMessage, request) if !request.is_response() => {
                self.state = State::ExpectApplication {
                    id: envelope.header.id,
                };
                self.deadline = None;
                self.events.push_back(SessionEvent::Request(request));
            }
            (state, got) => {
                let expected = match state {
                    State::ExpectInformResponse => "InformResponse",
                    State::ExpectRequestResponse => "a response to the CPE's request",
                    _ => "an ACS request or the end of the session",
                };
                self.fail(SessionError::UnexpectedMessage {
                    expected,
                    got: got.name(),
                });
            }
        }
    }

    /// Settles the version from the InformResponse (§3.7.4): `UseCWMPVersion` if the ACS sent
    /// it, else the namespace the ACS answered in (an ACS of CWMP 1.3 or older).
    fn negotiate(
        &mut self,
        namespace: CwmpNamespace,
        chosen: Option<CwmpVersion>,
    ) -> Result<(), SessionError> {
        let version = chosen.unwrap_or_else(|| namespace.base_version().min(self.max_version));
        if version > self.max_version {
            return Err(SessionError::VersionNotOffered(version));
        }
        self.version = version;
        self.namespace = CwmpNamespace::for_version(version);
        Ok(())
    }

    /// After the Inform or a CPE request is answered: the next CPE request, or the empty POST.
    fn next_cpe_message(&mut self) {
        match self.requests.front() {
            Some((_, request)) if !self.hold => {
                let envelope = self.envelope(request.clone());
                self.transmit = Some(Transmit::Envelope(envelope.write()));
                self.state = State::ExpectRequestResponse;
                self.cpe_done = false;
            }
            _ => {
                self.transmit = Some(Transmit::Empty);
                self.state = State::ExpectAcsMessage;
                self.cpe_done = true;
            }
        }
    }

    /// The ACS has no more requests (204 or an empty 200).
    fn acs_done(&mut self) {
        match self.state {
            State::ExpectAcsMessage if self.requests.is_empty() && self.cpe_done => {
                self.close(SessionEvent::Completed);
            }
            // Requests held back by HoldRequests go out now the ACS is done (§3.7.2.2).
            State::ExpectAcsMessage => {
                self.hold = false;
                self.next_cpe_message();
            }
            State::ExpectInformResponse => self.fail(SessionError::UnexpectedMessage {
                expected: "InformResponse",
                got: "an empty response",
            }),
            _ => self.fail(SessionError::UnexpectedMessage {
                expected: "a response to the CPE's request",
                got: "an empty response",
            }),
        }
    }

    /// An ACS message that could not be read: an unreadable *request* is answered with a fault
    /// (9000 for a method the CPE does not know, 9003 for bad arguments) and the session goes on;
    /// anything else fails the session.
    fn unreadable(&mut self, body: &[u8], error: SoapError, now: Instant) {
        let code = match &error {
            SoapError::UnknownMessage { .. } => FaultCode::MethodNotSupported,
            SoapError::TooLong { .. }
            | SoapError::TooMany { .. }
            | SoapError::InvalidValue { .. }
            | SoapError::UnexpectedElement { .. } => FaultCode::InvalidArguments,
            _ => return self.fail(SessionError::Malformed(error)),
        };
        let header = peek_header(body);
        if self.state != State::ExpectAcsMessage || header.is_none() {
            return self.fail(SessionError::Malformed(error));
        }
        let id = header.and_then(|(_, h)| h.id);
        tracing::debug!(%error, "answering an unreadable ACS request with fault {}", code.code());
        self.send_reply(id, SoapFault::from(code).into(), now);
    }

    fn fail(&mut self, error: SessionError) {
        tracing::debug!(%error, "CWMP session failed");
        self.close(SessionEvent::Failed(error));
    }

    fn close(&mut self, event: SessionEvent) {
        self.state = State::Closed;
        self.deadline = None;
        self.transmit = None;
        self.events.push_back(event);
    }
}

#[cfg(test)]
mod tests;
