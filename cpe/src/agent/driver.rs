//! Runs one CWMP session over the transport: the thin async half of [`crate::session`].
//!
//! The loop is the one every sans-IO driver has: take what the session wants sent, POST it,
//! feed the answer back, hand events to the application, and let the session's deadline pass
//! when the ACS says nothing.

use bytes::Bytes;
use schemas::Body;
use schemas::soap::CwmpVersion;

use crate::session::{Session, SessionConfig, SessionError, SessionEvent, Transmit};
use crate::transport::{AcsUrl, Client, Credentials, TransportError};

/// What the application does with a session's events.
pub trait SessionHandler {
    /// Executes an ACS request and returns the response or a SOAP Fault.
    fn request(&mut self, request: Body) -> Body;

    /// Any other event ([`SessionEvent::InformAccepted`], [`SessionEvent::RequestAnswered`],
    /// [`SessionEvent::RequestRefused`]); the end is reported by [`run`]'s result instead.
    fn event(&mut self, event: SessionEvent);
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
    let mut session = Session::new(config, now());
    let mut inform_accepted = false;
    let mut final_url = url.clone();
    let result = async {
        let mut http = client.open(url, credentials).await?;
        loop {
            while let Some(event) = session.poll_event() {
                match event {
                    SessionEvent::Request(request) => {
                        let response = handler.request(request);
                        session.respond(response, now());
                    }
                    SessionEvent::Completed => return Ok(()),
                    SessionEvent::Failed(e) => return Err(DriveError::Session(e)),
                    other => {
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
            let deadline = session.poll_timeout();
            let post = http.post(body);
            let response = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline.into(), post).await,
                None => Ok(post.await),
            };
            match response {
                Ok(response) => {
                    let response = response?;
                    final_url = response.url.clone();
                    session.handle_response(response.status.as_u16(), &response.body, now());
                }
                Err(_) => session.handle_timeout(now()),
            }
        }
    }
    .await;
    SessionReport {
        result,
        inform_accepted,
        version: session.version(),
        url: final_url,
    }
}
