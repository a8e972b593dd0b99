//! The table of open CWMP sessions, keyed by cookie, and what one POST does to a session.
//!
//! Everything here is synchronous: the provisioner talks to the store, so the HTTP layer calls
//! in from the blocking pool when the store's calls (or transcript writes) may block, else in
//! place. Locks: the table's, then (with `try_lock` only) a session's; or
//! a session's, then the table's. The reaper never waits for a session, so neither order can
//! deadlock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use rand::rngs::StdRng;
use schemas::{Body, Envelope};

use super::transcript::Transcript;
use crate::acs::{Acs, unix_now};
use crate::provision::Provisioner;
use crate::session::{Reply, Session};

/// The open sessions.
pub(super) struct Sessions {
    acs: Arc<Acs>,
    table: Mutex<HashMap<Arc<str>, Arc<Slot>>>,
    max: usize,
    /// Numbers sessions: their `cwmp:ID` seed, log field and transcript directory.
    seq: AtomicU64,
    rng: Mutex<StdRng>,
}

/// One open session.
pub(super) struct Slot {
    key: Arc<str>,
    /// The CPE authenticated on a connection of this session (§3.4.4): its cookie suffices.
    authenticated: AtomicBool,
    live: Mutex<Live>,
}

struct Live {
    session: Session,
    provisioner: Provisioner,
    transcript: Option<Transcript>,
    span: tracing::Span,
}

/// The answer to one POST.
pub(super) struct Answer {
    /// What to send.
    pub(super) reply: Reply,
    /// The session the POST went to, if it is still open: the connection now runs it.
    pub(super) open: Option<Arc<str>>,
    /// The POST opened this session: send its cookie.
    pub(super) opened: bool,
}

/// The table is full: `503`.
#[derive(Debug, thiserror::Error)]
#[error("too many open CWMP sessions ({0}); retry later")]
pub(super) struct Full(pub(super) usize);

impl Sessions {
    pub(super) fn new(acs: Arc<Acs>, max: usize) -> Self {
        Self {
            acs,
            table: Mutex::new(HashMap::new()),
            max,
            seq: AtomicU64::new(0),
            rng: Mutex::new(rand::make_rng::<StdRng>()),
        }
    }

    /// How many sessions are open.
    pub(super) fn len(&self) -> usize {
        self.table().len()
    }

    /// The open session a POST belongs to: its cookie's, else its connection's.
    pub(super) fn find(&self, cookie: Option<&str>, connection: Option<&str>) -> Option<Arc<Slot>> {
        let table = self.table();
        cookie
            .and_then(|key| table.get(key))
            .or_else(|| connection.and_then(|key| table.get(key)))
            .cloned()
    }

    /// Hands one POST's body to its session (`found`, else a new one) and returns the answer.
    /// An Inform always opens a new session; a session it interrupts fails (the CPE gave it
    /// up). `authenticated` says the CPE proved its credentials on this connection.
    pub(super) fn post(
        &self,
        found: Option<Arc<Slot>>,
        body: &[u8],
        authenticated: bool,
        now: Instant,
    ) -> Result<Answer, Full> {
        let (slot, opened) = match found {
            Some(slot) if !is_inform(body) => (slot, false),
            interrupted => {
                if let Some(old) = interrupted {
                    self.interrupt(&old, body, now);
                }
                (self.open(now)?, true)
            }
        };
        if authenticated {
            slot.authenticated.store(true, Ordering::Relaxed);
        }
        let mut live = slot.lock();
        let reply = live.exchange(body, now, self.acs.config.transcripts.as_ref());
        let closed = live.session.is_closed();
        drop(live);
        if closed {
            self.remove(&slot);
        }
        Ok(Answer {
            reply,
            open: (!closed).then(|| Arc::clone(&slot.key)),
            opened: opened && !closed,
        })
    }

    /// Fails `slot`'s session at once (its POST was refused, e.g. too large) and forgets it.
    pub(super) fn end(&self, slot: &Arc<Slot>, now: Instant) {
        slot.lock().expire(now);
        self.remove(slot);
    }

    /// Fails and forgets the sessions silent past their timeout; returns how many.
    pub(super) fn reap(&self, now: Instant) -> usize {
        let expired: Vec<Arc<Slot>> = {
            let mut table = self.table();
            let mut expired = Vec::new();
            table.retain(|_, slot| {
                // A session busy with a POST is not silent.
                let due = slot.live.try_lock().is_ok_and(|live| {
                    live.session
                        .poll_timeout()
                        .is_some_and(|deadline| deadline <= now)
                });
                if due {
                    expired.push(Arc::clone(slot));
                }
                !due
            });
            expired
        };
        for slot in &expired {
            slot.lock().expire(now);
        }
        expired.len()
    }

    /// Fails and forgets every open session (the endpoint stops); returns how many.
    pub(super) fn end_all(&self, now: Instant) -> usize {
        let all: Vec<Arc<Slot>> = self.table().drain().map(|(_, slot)| slot).collect();
        for slot in &all {
            slot.lock().expire(now);
        }
        all.len()
    }

    /// Whether `slot`'s CPE has authenticated.
    pub(super) fn authenticated(slot: &Slot) -> bool {
        slot.authenticated.load(Ordering::Relaxed)
    }

    /// A new session, entered in the table under a fresh random key.
    fn open(&self, now: Instant) -> Result<Arc<Slot>, Full> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        let mut config = self.acs.config.session.clone();
        config.id_seed = seq;
        let live = Live {
            session: Session::new(config, now),
            provisioner: Provisioner::new(Arc::clone(&self.acs)),
            transcript: self
                .acs
                .config
                .transcripts
                .as_ref()
                .map(|_| Transcript::new(seq, unix_now())),
            span: tracing::info_span!("cwmp", session = seq, device = tracing::field::Empty),
        };
        let mut table = self.table();
        if table.len() >= self.max {
            return Err(Full(self.max));
        }
        let key: Arc<str> = loop {
            let key = self.random_key();
            if !table.contains_key(key.as_str()) {
                break key.into();
            }
        };
        let slot = Arc::new(Slot {
            key: Arc::clone(&key),
            authenticated: AtomicBool::new(false),
            live: Mutex::new(live),
        });
        table.insert(key, Arc::clone(&slot));
        Ok(slot)
    }

    /// Gives the Inform that interrupts `slot`'s session to it, so it fails as a session that
    /// got a second Inform (§3.7.1.1: one Inform per session), and forgets it.
    fn interrupt(&self, slot: &Arc<Slot>, inform: &[u8], now: Instant) {
        let mut live = slot.lock();
        let span = live.span.clone();
        let _entered = span.enter();
        cpe::oplog!(
            ACS_SESSION_INTERRUPTED,
            "a new Inform interrupts the session"
        );
        live.session.handle_request(inform, now);
        live.drive(now);
        // The fault is for a session the CPE no longer runs: nobody reads it.
        let _ = live.session.poll_transmit();
        drop(live);
        self.remove(slot);
    }

    fn remove(&self, slot: &Arc<Slot>) {
        let mut table = self.table();
        if table.get(&slot.key).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            table.remove(&slot.key);
        }
    }

    /// 128 random bits in hex: a session cookie nobody can guess.
    fn random_key(&self) -> String {
        use rand::Rng as _;
        let mut bytes = [0u8; 16];
        self.rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fill_bytes(&mut bytes);
        hex(&bytes)
    }

    fn table(&self) -> MutexGuard<'_, HashMap<Arc<str>, Arc<Slot>>> {
        // Every update of the table is one call: a panicked holder left it consistent.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, Live> {
        // A session whose driver panicked is closed or times out; either way it is usable.
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Live {
    /// One POST: the session reads it, the provisioner acts, the answer comes out.
    fn exchange(
        &mut self,
        body: &[u8],
        now: Instant,
        transcripts: Option<&crate::acs::TranscriptConfig>,
    ) -> Reply {
        let span = self.span.clone();
        let _entered = span.enter();
        if let Some(transcript) = &mut self.transcript {
            transcript.cpe(body);
        }
        self.session.handle_request(body, now);
        self.drive(now);
        let reply = self.session.poll_transmit().unwrap_or_else(|| {
            // The provisioner always queues a request or finishes when the session waits for
            // it; should it not have, end the session rather than leave the CPE hanging.
            cpe::oplog!(
                ACS_NO_ANSWER,
                "no answer after provisioning; ending the session"
            );
            self.session.finish(now);
            self.drive(now);
            self.session.poll_transmit().unwrap_or(Reply::NoContent)
        });
        let device = self.provisioner.device();
        if let Some(device) = device {
            self.span.record("device", device.as_str());
        }
        if let (Some(transcript), Some(config)) = (&mut self.transcript, transcripts) {
            transcript.acs(&reply);
            transcript.settle(device, config);
        }
        if let Reply::NoContent = reply {
            tracing::debug!("session over");
        }
        reply
    }

    /// Fails the session now (as timed out, §3.7.1.5) and lets the provisioner release what it
    /// claimed.
    fn expire(&mut self, now: Instant) {
        let span = self.span.clone();
        let _entered = span.enter();
        match self.session.poll_timeout() {
            Some(deadline) => self.session.handle_timeout(deadline.max(now)),
            // No deadline: closed, or waiting for the provisioner, which finishes it.
            None => self.session.finish(now),
        }
        self.drive(now);
        cpe::oplog!(ACS_SESSION_ABANDONED, "session ended without the CPE");
    }

    fn drive(&mut self, now: Instant) {
        self.provisioner.drive(&mut self.session, now);
    }
}

/// `bytes` in lowercase hex.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

/// Whether `body` is an Inform. Only POSTs that arrive in an open session are checked, and
/// only those whose bytes name an Inform at all are read in full.
fn is_inform(body: &[u8]) -> bool {
    const NAME: &[u8] = b"Inform";
    body.windows(NAME.len()).any(|w| w == NAME)
        && Envelope::parse(body).is_ok_and(|e| matches!(e.body, Body::Inform(_)))
}

#[cfg(test)]
mod tests {
    use super::hex;

    #[test]
    fn hex_writes_each_byte_as_two_lowercase_digits() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
    }
}
