//! The sans-IO ACS session state machine (TR-069 Amd 6 §3.7, ACS side): the mirror of
//! `cpe::session`.
//!
//! One [`Session`] is one CWMP session as the ACS sees it. The driver feeds it the body of each
//! HTTP POST from the CPE ([`Session::handle_request`]; an empty body is the empty POST) and
//! sends back the one HTTP answer [`Session::poll_transmit`] hands out: a SOAP envelope
//! (`200`, `text/xml`) or `204 No Content`, which ends the session (§3.4.6). The application
//! learns what happened from [`Session::poll_event`] and queues its own requests with
//! [`Session::request`]. The machine owns no socket and reads no clock.
//!
//! ```text
//!  CPE                                          ACS
//!   |-- Inform [SupportedCWMPVersions] ---------->|  Informed: the application registers it
//!   |<-- InformResponse [UseCWMPVersion] ---------|  version negotiation §3.7.4
//!   |-- TransferComplete ... -------------------->|  CpeRequest, answered by the session
//!   |<-- TransferCompleteResponse ----------------|
//!   |-- (empty POST) ----------------------------->|  the CPE has no more requests
//!   |<-- GetParameterValues (queued by request()) -|
//!   |-- GetParameterValuesResponse --------------->|  Response { id, request_name, body }
//!   |<-- 204 No Content ---------------------------|  after finish(): Completed
//! ```
//!
//! # The application's contract
//!
//! - Call [`Session::request`] at any time, before or after the events, to queue an ACS
//!   request; it returns the request's `cwmp:ID`, which the matching
//!   [`SessionEvent::Response`] or [`SessionEvent::Fault`] carries back.
//! - Call [`Session::finish`] once nothing more will be queued.
//! - When the CPE is ready for an ACS request (its empty POST, or its response to the last
//!   one), the session sends the next queued request; if the queue is empty and
//!   [`Session::finish`] was called it answers 204 and the session completes; otherwise it waits
//!   for the application, which must then call [`Session::request`] or [`Session::finish`]
//!   (the answer to the pending POST then appears in [`Session::poll_transmit`]). While it waits
//!   for the application there is no deadline.
//!
//! # Faults and failures
//!
//! - The first message must be an Inform (§3.7.1.1). A readable CPE request of another kind is
//!   answered with fault 8003, an empty POST or a response with 204, and the session fails with
//!   [`SessionError::NotInform`] or [`SessionError::EmptyBeforeInform`]. An unknown method
//!   gets fault 8000 and fails the session as an unreadable message.
//! - No common CWMP version: fault 8006 and [`SessionError::VersionIncompatible`] (§3.7.4).
//! - An unknown CPE method after the Inform: fault 8000 and the session goes on (Annex A.5).
//! - An unreadable message (codec error): fault 8003 (8004 if too large), echoing the ID when
//!   the header can be read, and [`SessionError::Malformed`]; the session is over.
//! - A message out of turn (a response to nothing, a second Inform): 204 or fault 8003, and
//!   [`SessionError::UnexpectedMessage`].
//! - Silence past the session timeout ([`Session::poll_timeout`]): [`SessionError::Timeout`].
//!
//! A closed session answers any further POST with 204 and emits nothing.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use schemas::rpc::{
    AutonomousDUStateChangeCompleteResponse, AutonomousTransferCompleteResponse,
    DUStateChangeCompleteResponse, FaultCode, GetRPCMethodsResponse, Inform, InformResponse,
    KickedResponse, RequestDownloadResponse, SoapFault, TransferCompleteResponse,
};
use schemas::soap::{CwmpNamespace, CwmpVersion, Header, peek_header};
use schemas::{Body, Envelope, SoapError};

/// The session timeout when the CPE sends no `SessionTimeout` header (TR-069 §3.7.1.5;
/// the CWMP 1.3 header, PROTOCOL.md §2.4: 30 s of silence and the session has failed).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The methods an ACS supports (TR-069 Amd 6 Annex A.4.1, Table 4: the ACS methods), answered
/// to the CPE's GetRPCMethods unless configured otherwise.
pub const ACS_METHODS: [&str; 8] = [
    "Inform",
    "GetRPCMethods",
    "TransferComplete",
    "AutonomousTransferComplete",
    "DUStateChangeComplete",
    "AutonomousDUStateChangeComplete",
    "Kicked",
    "RequestDownload",
];

/// How the ACS runs its sessions.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// The highest CWMP version the ACS speaks (§3.7.4); 1.4 by default.
    pub max_version: CwmpVersion,
    /// The session timeout when the CPE sends no `SessionTimeout` header (CWMP 1.3).
    pub timeout: Duration,
    /// The method list answered to the CPE's GetRPCMethods (A.3.1.1); shared, so a session's
    /// copy of the configuration costs no allocation.
    pub rpc_methods: Arc<[String]>,
    /// Makes this session's `cwmp:ID`s unique (e.g. a counter or random number).
    pub id_seed: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            max_version: CwmpVersion::V1_4,
            timeout: DEFAULT_TIMEOUT,
            rpc_methods: ACS_METHODS.iter().map(|m| (*m).to_owned()).collect(),
            id_seed: 0,
        }
    }
}

/// The HTTP answer to one POST of the CPE (TR-069 §3.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `200 OK` with a SOAP envelope (`Content-Type: text/xml; charset="utf-8"`).
    Envelope(Vec<u8>),
    /// `204 No Content`: the ACS has no more requests (§3.4.6); the session is over.
    NoContent,
}

/// The CPE's Inform as the session accepted it (A.3.3.1, §3.7.4).
#[derive(Clone, Debug, PartialEq)]
pub struct Informed {
    /// The Inform: device, events, parameters.
    pub inform: Inform,
    /// The namespace the session speaks from now on.
    pub namespace: CwmpNamespace,
    /// The negotiated CWMP version.
    pub version: CwmpVersion,
    /// The session timeout in force (the CPE's `SessionTimeout`, else the configured one).
    pub timeout: Duration,
}

/// What the application learns from the session.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionEvent {
    /// The CPE opened the session with an Inform, now answered (§3.7.1.1): register the
    /// device and queue requests with [`Session::request`].
    Informed(Box<Informed>),
    /// The CPE made a request after the Inform (TransferComplete, AutonomousTransferComplete,
    /// GetRPCMethods, Kicked, RequestDownload, DUStateChangeComplete,
    /// AutonomousDUStateChangeComplete; A.3.3, A.4.2); the session already answered it.
    CpeRequest {
        /// The request's `cwmp:ID`, if it had one.
        id: Option<String>,
        /// The request.
        request: Body,
    },
    /// The CPE answered the ACS request `id` (as returned by [`Session::request`]).
    Response {
        /// The request's `cwmp:ID`.
        id: String,
        /// The request's element name, e.g. `GetParameterValues`.
        request_name: &'static str,
        /// The response (not necessarily of the matching type: it is passed on as read).
        body: Body,
    },
    /// The CPE refused the ACS request `id` with a fault (A.5).
    Fault {
        /// The request's `cwmp:ID`.
        id: String,
        /// The request's element name.
        request_name: &'static str,
        /// The CPE's fault.
        fault: SoapFault,
    },
    /// Both sides had no more requests and the ACS answered 204: the session succeeded.
    Completed,
    /// The session failed. Queued requests not sent are lost with it.
    Failed(SessionError),
}

/// Why a session failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// Nothing was heard from the CPE within the session timeout.
    #[error("no message from the CPE within {0:?}")]
    Timeout(Duration),
    /// The CPE's message could not be read.
    #[error("unreadable message from the CPE: {0}")]
    Malformed(SoapError),
    /// The session opened with an empty POST instead of an Inform.
    #[error("the CPE opened the session with an empty POST instead of an Inform")]
    EmptyBeforeInform,
    /// The session opened with another message than an Inform (§3.7.1.1).
    #[error("the CPE opened the session with {0} instead of an Inform")]
    NotInform(&'static str),
    /// The CPE offered no CWMP version the ACS speaks (§3.7.4, fault 8006).
    #[error("no common CWMP version: the CPE offered {offered:?}, the ACS speaks up to {max}")]
    VersionIncompatible {
        /// What the CPE offered.
        offered: Vec<CwmpVersion>,
        /// The ACS's highest version.
        max: CwmpVersion,
    },
    /// The CPE sent a message the session did not expect at this point.
    #[error("expected {expected}, the CPE sent {got}")]
    UnexpectedMessage {
        /// What the session waited for.
        expected: &'static str,
        /// The element name of what came, or `an empty POST`.
        got: &'static str,
    },
}

/// Why [`Session::request`] refused a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The session is over (completed, failed or finished).
    #[error("the session is closed or finished")]
    Closed,
    /// The body is a response, a fault or a CPE-to-ACS method, not an ACS request (A.3.2).
    #[error("{0} is not an ACS request")]
    NotAnAcsRequest(&'static str),
}

/// An ACS-side CWMP session.
#[derive(Debug)]
pub struct Session {
    state: State,
    /// Namespace of everything the ACS sends from now on.
    namespace: CwmpNamespace,
    version: CwmpVersion,
    config: SessionConfig,
    timeout: Duration,
    /// When the session fails for want of a message.
    deadline: Option<Instant>,
    next_id: u64,
    /// ACS requests queued by the application, with their IDs.
    queue: VecDeque<(String, Body)>,
    /// The application has no more requests.
    finished: bool,
    transmit: Option<Reply>,
    events: VecDeque<SessionEvent>,
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Waiting for the Inform.
    ExpectInform,
    /// The InformResponse or a response to a CPE request is out; the CPE may send requests
    /// or its empty POST.
    CpeTurn,
    /// An ACS request is out; waiting for its response.
    Outstanding {
        /// Its `cwmp:ID`.
        id: String,
        /// Its element name.
        name: &'static str,
    },
    /// The CPE waits for an ACS request or the end; the queue is empty and the application
    /// has not called [`Session::finish`].
    ExpectApplication,
    /// Over, successfully or not.
    Closed,
}

impl Session {
    /// Opens a session at `now`, when the CPE's connection arrives; the first POST is expected
    /// within the configured timeout.
    pub fn new(config: SessionConfig, now: Instant) -> Self {
        Self {
            state: State::ExpectInform,
            namespace: CwmpNamespace::for_version(config.max_version),
            version: config.max_version,
            timeout: config.timeout,
            deadline: Some(now + config.timeout),
            config,
            next_id: 0,
            queue: VecDeque::new(),
            finished: false,
            transmit: None,
            events: VecDeque::new(),
        }
    }

    /// The CWMP version in use (the ACS's maximum until the Inform is negotiated).
    pub fn version(&self) -> CwmpVersion {
        self.version
    }

    /// The namespace the ACS answers in.
    pub fn namespace(&self) -> CwmpNamespace {
        self.namespace
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether the CPE waits for the application: the queue is empty and neither
    /// [`Session::request`] nor [`Session::finish`] has been called since.
    pub fn awaits_application(&self) -> bool {
        self.state == State::ExpectApplication
    }

    /// The HTTP answer to the last POST, once it is known.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Reply> {
        self.transmit.take()
    }

    /// The next thing the application must know or do.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] must be called, if the session waits for the CPE.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Lets time pass: at or after the deadline the session fails (§3.7.1.5 / SessionTimeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| now >= d) {
            self.fail(SessionError::Timeout(self.timeout));
        }
    }

    /// Queues an ACS request (A.3.2) and returns its `cwmp:ID`. It goes out in answer to the
    /// CPE's next empty POST or response; at once if the CPE is already waiting.
    pub fn request(&mut self, body: impl Into<Body>, now: Instant) -> Result<String, RequestError> {
        let body = body.into();
        if self.state == State::Closed || self.finished {
            return Err(RequestError::Closed);
        }
        if body.is_response() || is_cpe_method(&body) {
            return Err(RequestError::NotAnAcsRequest(body.name()));
        }
        self.next_id += 1;
        let id = format!("{:x}.{}", self.config.id_seed, self.next_id);
        self.queue.push_back((id.clone(), body));
        if self.state == State::ExpectApplication {
            self.acs_turn(now);
        }
        Ok(id)
    }

    /// The application has no more requests: once the queue is drained and the CPE waits, the
    /// session answers 204 and completes (§3.4.6, §3.7.2.4).
    pub fn finish(&mut self, now: Instant) {
        self.finished = true;
        if self.state == State::ExpectApplication {
            self.acs_turn(now);
        }
    }

    /// Takes the body of one HTTP POST from the CPE (empty or whitespace only = the empty
    /// POST, §3.7.2.3).
    pub fn handle_request(&mut self, body: &[u8], now: Instant) {
        if self.state == State::Closed {
            self.transmit = Some(Reply::NoContent);
            return;
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return self.empty_post(now);
        }
        match Envelope::parse(body) {
            Ok(envelope) => self.message(envelope, now),
            Err(e) => self.unreadable(body, e, now),
        }
    }

    fn empty_post(&mut self, now: Instant) {
        match self.state {
            State::ExpectInform => {
                self.transmit = Some(Reply::NoContent);
                self.fail(SessionError::EmptyBeforeInform);
            }
            State::CpeTurn => self.acs_turn(now),
            State::Outstanding { name, .. } => {
                tracing::debug!("empty POST while {name} is outstanding");
                self.end(SessionError::UnexpectedMessage {
                    expected: "a response to the ACS's request",
                    got: "an empty POST",
                });
            }
            State::ExpectApplication | State::Closed => self.out_of_turn("an empty POST"),
        }
    }

    fn message(&mut self, envelope: Envelope, now: Instant) {
        let Envelope {
            namespace,
            header,
            body,
        } = envelope;
        let id = header.id.clone();
        match (&self.state, body) {
            (State::ExpectInform, Body::Inform(inform)) => {
                self.inform(namespace, &header, inform, now);
            }
            (State::ExpectInform, other) => {
                let name = other.name();
                if other.is_response() {
                    self.transmit = Some(Reply::NoContent);
                } else {
                    self.namespace = namespace;
                    self.send(id, SoapFault::from(FaultCode::AcsInvalidArguments), now);
                }
                self.fail(SessionError::NotInform(name));
            }
            (State::ExpectApplication | State::Closed, other) => self.out_of_turn(other.name()),
            (_, Body::Inform(_)) => {
                self.send(id, SoapFault::from(FaultCode::AcsInvalidArguments), now);
                self.fail(SessionError::UnexpectedMessage {
                    expected: "one Inform per session",
                    got: "Inform",
                });
            }
            (State::Outstanding { .. }, body) if body.is_response() => self.answered(id, body, now),
            (_, body) if body.is_response() => self.end(SessionError::UnexpectedMessage {
                expected: "a CPE request or an empty POST",
                got: body.name(),
            }),
            (_, request) => self.cpe_request(id, request, now),
        }
    }

    /// The Inform: negotiates the version (§3.7.4), answers InformResponse, emits `Informed`.
    fn inform(&mut self, namespace: CwmpNamespace, header: &Header, inform: Inform, now: Instant) {
        let supported = header
            .supported_cwmp_versions
            .as_ref()
            .filter(|v| !v.is_empty());
        let offered: Vec<CwmpVersion> = match supported {
            Some(list) => list.clone(),
            None => {
                // A CPE of CWMP 1.3 or older: its namespace (raised to 1.3 by SessionTimeout)
                // and, in cwmp-1-2, the versions that share it.
                let base = namespace.base_version();
                let top = if base >= CwmpVersion::V1_2 && header.session_timeout.is_some() {
                    base.max(CwmpVersion::V1_3)
                } else {
                    base
                };
                CwmpVersion::ALL
                    .iter()
                    .copied()
                    .filter(|v| {
                        *v <= top && CwmpNamespace::for_version(*v).uri() == namespace.uri()
                    })
                    .collect()
            }
        };
        let chosen = offered
            .iter()
            .copied()
            .filter(|v| *v <= self.config.max_version)
            .max();
        let Some(version) = chosen else {
            self.namespace = namespace;
            self.send(
                header.id.clone(),
                SoapFault::from(FaultCode::AcsVersionIncompatible),
                now,
            );
            return self.fail(SessionError::VersionIncompatible {
                offered,
                max: self.config.max_version,
            });
        };
        self.version = version;
        self.namespace = CwmpNamespace::for_version(version);
        if let Some(secs) = header.session_timeout.filter(|s| *s > 0) {
            self.timeout = Duration::from_secs(u64::from(secs));
        }
        let mut answer = Envelope::new(self.namespace, InformResponse { max_envelopes: 1 });
        answer.header.id = header.id.clone();
        answer.header.use_cwmp_version = supported.map(|_| version);
        self.transmit = Some(Reply::Envelope(answer.write()));
        self.state = State::CpeTurn;
        self.deadline = Some(now + self.timeout);
        self.events
            .push_back(SessionEvent::Informed(Box::new(Informed {
                inform,
                namespace: self.namespace,
                version,
                timeout: self.timeout,
            })));
    }

    /// A CPE request after the Inform (A.3.3, A.4.2): answered here, passed on as an event.
    fn cpe_request(&mut self, id: Option<String>, request: Body, now: Instant) {
        let response: Body = match &request {
            Body::TransferComplete(_) => TransferCompleteResponse {}.into(),
            Body::AutonomousTransferComplete(_) => AutonomousTransferCompleteResponse {}.into(),
            Body::DUStateChangeComplete(_) => DUStateChangeCompleteResponse {}.into(),
            Body::AutonomousDUStateChangeComplete(_) => {
                AutonomousDUStateChangeCompleteResponse {}.into()
            }
            Body::GetRPCMethods(_) => GetRPCMethodsResponse {
                method_list: self.config.rpc_methods.to_vec(),
            }
            .into(),
            Body::Kicked(kicked) => KickedResponse {
                next_url: kicked.next.clone(),
            }
            .into(),
            Body::RequestDownload(_) => RequestDownloadResponse {}.into(),
            other => {
                // A method of the CPE's side, or one the ACS does not implement (A.5: 8000).
                tracing::debug!("CPE sent {}, answering fault 8000", other.name());
                return self.send(id, SoapFault::from(FaultCode::AcsMethodNotSupported), now);
            }
        };
        // A CPE that speaks an older version in this session but uses a newer method (the
        // deviation of AutonomousTransferComplete in a cwmp-1-0 envelope, cwmp-samples README)
        // gets the response in the first namespace that defines it, so it stays valid.
        let namespace = self.namespace.max(introduced_in(&request));
        self.send_in(namespace, id.clone(), response, now);
        self.events
            .push_back(SessionEvent::CpeRequest { id, request });
    }

    /// The CPE's response or fault to the outstanding request. A response with a missing or
    /// different `cwmp:ID` still answers it: with MaxEnvelopes 1 only one can be outstanding.
    fn answered(&mut self, got: Option<String>, body: Body, now: Instant) {
        let State::Outstanding { id, name } = std::mem::replace(&mut self.state, State::CpeTurn)
        else {
            return self.end(SessionError::UnexpectedMessage {
                expected: "a CPE request or an empty POST",
                got: body.name(),
            });
        };
        if got.as_deref().is_some_and(|g| g != id) {
            tracing::debug!(expected = %id, got = ?got, "response carries another cwmp:ID");
        }
        let request_name = name;
        self.events.push_back(match body {
            Body::Fault(fault) => SessionEvent::Fault {
                id,
                request_name,
                fault,
            },
            body => SessionEvent::Response {
                id,
                request_name,
                body,
            },
        });
        self.acs_turn(now);
    }

    /// The CPE waits for the ACS: the next queued request, 204, or the application.
    fn acs_turn(&mut self, now: Instant) {
        if let Some((id, body)) = self.queue.pop_front() {
            let name = body.name();
            let envelope = Envelope::new(self.namespace, body).with_id(id.clone());
            self.transmit = Some(Reply::Envelope(envelope.write()));
            self.state = State::Outstanding { id, name };
            self.deadline = Some(now + self.timeout);
        } else if self.finished {
            self.transmit = Some(Reply::NoContent);
            self.close(SessionEvent::Completed);
        } else {
            self.state = State::ExpectApplication;
            self.deadline = None;
        }
    }

    /// An unreadable message: fault 8000 for an unknown method after the Inform (the session
    /// goes on); otherwise fault 8003 (8004 if too large) and the session fails.
    fn unreadable(&mut self, body: &[u8], error: SoapError, now: Instant) {
        let peeked = peek_header(body);
        let id = peeked.as_ref().and_then(|(_, h)| h.id.clone());
        if self.state == State::ExpectInform
            && let Some((ns, _)) = &peeked
        {
            self.namespace = *ns;
        }
        let code = match &error {
            SoapError::UnknownMessage { .. } if self.state == State::CpeTurn => {
                tracing::debug!(%error, "unknown CPE method, answering fault 8000");
                return self.send(id, SoapFault::from(FaultCode::AcsMethodNotSupported), now);
            }
            SoapError::UnknownMessage { .. } => FaultCode::AcsMethodNotSupported,
            SoapError::TooLarge { .. } => FaultCode::AcsResourcesExceeded,
            _ => FaultCode::AcsInvalidArguments,
        };
        if matches!(self.state, State::ExpectApplication | State::Closed) {
            return self.out_of_turn("an unreadable message");
        }
        self.send(id, SoapFault::from(code), now);
        self.fail(SessionError::Malformed(error));
    }

    /// A POST while the ACS still owes the CPE an answer: the driver let two through.
    fn out_of_turn(&mut self, got: &'static str) {
        self.end(SessionError::UnexpectedMessage {
            expected: "no message before the ACS answers",
            got,
        });
    }

    /// Ends the session with 204 and `error`.
    fn end(&mut self, error: SessionError) {
        self.transmit = Some(Reply::NoContent);
        self.fail(error);
    }

    fn send(&mut self, id: Option<String>, body: impl Into<Body>, now: Instant) {
        self.send_in(self.namespace, id, body, now);
    }

    fn send_in(
        &mut self,
        namespace: CwmpNamespace,
        id: Option<String>,
        body: impl Into<Body>,
        now: Instant,
    ) {
        let mut envelope = Envelope::new(namespace, body);
        envelope.header.id = id;
        self.transmit = Some(Reply::Envelope(envelope.write()));
        self.deadline = Some(now + self.timeout);
    }

    fn fail(&mut self, error: SessionError) {
        tracing::debug!(%error, "CWMP session failed");
        self.close(SessionEvent::Failed(error));
    }

    /// Closes the session; a reply already set stays for the driver to send.
    fn close(&mut self, event: SessionEvent) {
        self.state = State::Closed;
        self.deadline = None;
        self.queue.clear();
        self.events.push_back(event);
    }
}

/// The first namespace whose schema defines a CPE request (cwmp-1-1 added
/// AutonomousTransferComplete, cwmp-1-2 the software-module methods, TR-069 Amd 2 and Amd 3).
fn introduced_in(request: &Body) -> CwmpNamespace {
    match request {
        Body::AutonomousTransferComplete(_) => CwmpNamespace::V1_1,
        Body::DUStateChangeComplete(_) | Body::AutonomousDUStateChangeComplete(_) => {
            CwmpNamespace::V1_2
        }
        _ => CwmpNamespace::V1_0,
    }
}

/// Whether `body` is a CPE-to-ACS method (A.3.3, A.4.2), which the ACS must not send.
fn is_cpe_method(body: &Body) -> bool {
    matches!(
        body,
        Body::Inform(_)
            | Body::TransferComplete(_)
            | Body::AutonomousTransferComplete(_)
            | Body::DUStateChangeComplete(_)
            | Body::AutonomousDUStateChangeComplete(_)
            | Body::Kicked(_)
            | Body::RequestDownload(_)
    )
}

#[cfg(test)]
mod tests;
