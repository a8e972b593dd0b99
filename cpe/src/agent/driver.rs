//! Runs one CWMP session over the transport: the thin async half of [`crate::session`].
//!
//! The loop is the one every sans-IO driver has: take what the session wants sent, POST it,
//! feed the answer back, hand events to the application, and let the session's deadline pass
//! when the ACS says nothing.

use bytes::Bytes;
use schemas::Body;
use schemas::soap::CwmpVersion;

use crate::session::{Session, SessionConfig, SessionError, SessionEvent, Transmit};
use crate::stats::{Delivery, Message, Stats};
use crate::transport::{AcsUrl, Client, Credentials, TransportError};

/// What the application does with a session's events.
pub trait SessionHandler {
    /// Executes an ACS request and returns the response or a SOAP Fault.
    fn request(&mut self, request: Body) -> Body;

    /// Any other event ([`SessionEvent::InformAccepted`], [`SessionEvent::RequestAnswered`],
    /// [`SessionEvent::RequestRefused`]); the end is reported by [`run`]'s result instead.
    fn event(&mut self, event: SessionEvent);

    /// Where the session's CPE requests and its end are counted ([`crate::stats`]), if
    /// anywhere.
    fn stats(&self) -> Option<Stats<Message>> {
        None
    }
}

/// Counts a session's CPE requests (Inform, TransferComplete, ...) as [`crate::stats`]
/// defines the columns: each POST carrying one is an attempt; an HTTP 200 or 204 answers it
/// (Success), a SOAP Fault in that answer is also a Fault, and no answer or another status
/// is a Failure (TR-069 §3.4.1 admits only those two statuses).
struct Tally {
    stats: Option<Stats<Message>>,
    /// The request on the wire, waiting for its HTTP answer.
    sent: Option<Message>,
    /// The request last answered, which a fault in that answer is charged to.
    answered: Option<Message>,
}

impl Tally {
    fn sent(&mut self, request: Option<&str>) {
        self.sent = request.and_then(Message::from_cwmp);
        self.answered = None;
        if let (Some(stats), Some(message)) = (&self.stats, self.sent) {
            stats.attempt(message);
        }
    }

    fn answered(&mut self, status: u16) {
        let Some(message) = self.sent.take() else {
            return;
        };
        let delivery = if matches!(status, 200 | 204) {
            self.answered = Some(message);
            Delivery::Answered
        } else {
            Delivery::Failed
        };
        if let Some(stats) = &self.stats {
            stats.delivered(message, delivery);
        }
    }

    /// The session ended: a request still on the wire got no answer.
    fn ended(&mut self) {
        if let (Some(stats), Some(message)) = (&self.stats, self.sent.take()) {
            stats.delivered(message, Delivery::Failed);
        }
    }

    /// The last answer was a SOAP Fault.
    fn refused(&mut self) {
        if let (Some(stats), Some(message)) = (&self.stats, self.answered.take()) {
            stats.fault(message);
        }
    }
}

/// Why a session did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriveError {
    /// The HTTP exchange failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The CWMP session failed.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// How a session ended.
#[derive(Debug)]
pub struct SessionReport {
    /// `Ok` if the session completed (§3.7.2.4), else why not.
    pub result: Result<(), DriveError>,
    /// Whether the ACS accepted the Inform (its events are delivered even if the session later
    /// failed).
    pub inform_accepted: bool,
    /// The version negotiated (the offer if the Inform was never answered).
    pub version: CwmpVersion,
    /// The ACS URL after any redirects.
    pub url: AcsUrl,
}

/// The current time on tokio's clock, which tests can pause and advance.
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Opens a connection to `url` and runs one session to its end.
pub async fn run(
    client: &Client,
    url: AcsUrl,
    credentials: Option<Credentials>,
    config: SessionConfig,
    handler: &mut impl SessionHandler,
) -> SessionReport {
    let started = tokio::time::Instant::now();
    let mut session = Session::new(config, now());
    let mut inform_accepted = false;
    let mut final_url = url.clone();
    let mut tally = Tally {
        stats: handler.stats(),
        sent: None,
        answered: None,
    };
    let result = async {
        // Connecting is the Inform's first step: a connection that fails fails the Inform.
        tally.sent(session.awaiting());
        let mut http = client.open(url, credentials).await?;
        loop {
            while let Some(event) = session.poll_event() {
                match event {
                    SessionEvent::Request(request) => {
                        let response = handler.request(request);
                        session.respond(response, now());
                    }
                    SessionEvent::Completed => return Ok(()),
                    SessionEvent::Failed(e) => {
                        if matches!(e, SessionError::InformRefused(_)) {
                            tally.refused();
                        }
                        return Err(DriveError::Session(e));
                    }
                    other => {
                        if matches!(other, SessionEvent::RequestRefused { .. }) {
                            tally.refused();
                        }
                        inform_accepted |= matches!(other, SessionEvent::InformAccepted(_));
                        handler.event(other);
                    }
                }
            }
            let Some(transmit) = session.poll_transmit() else {
                // Nothing to send and not closed: only the deadline can move the session on.
                match session.poll_timeout() {
                    Some(deadline) => {
                        tokio::time::sleep_until(deadline.into()).await;
                        session.handle_timeout(now());
                        continue;
                    }
                    None => {
                        return Err(DriveError::Session(SessionError::Timeout(
                            crate::session::DEFAULT_TIMEOUT,
                        )));
                    }
                }
            };
            let body = match transmit {
                Transmit::Envelope(bytes) => Bytes::from(bytes),
                Transmit::Empty => Bytes::new(),
            };
            tally.sent(session.awaiting());
            let deadline = session.poll_timeout();
            let post = http.post(body);
            let response = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline.into(), post).await,
                None => Ok(post.await),
            };
            match response {
                Ok(response) => {
                    let response = response?;
                    tally.answered(response.status.as_u16());
                    final_url = response.url.clone();
                    session.handle_response(response.status.as_u16(), &response.body, now());
                }
                Err(_) => session.handle_timeout(now()),
            }
        }
    }
    .await;
    tally.ended();
    if let Some(stats) = &tally.stats {
        stats.session(result.is_ok(), started.elapsed());
    }
    SessionReport {
        result,
        inform_accepted,
        version: session.version(),
        url: final_url,
    }
}
