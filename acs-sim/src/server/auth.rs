//! CPE authentication at the CWMP endpoint (TR-069 Amd 6 §3.4.4): HTTP Basic or Digest
//! (RFC 7616, MD5, `qop=auth`), checked by the CPE agent's own server-side verifier
//! ([`cpe::connreq::digest::DigestVerifier`]), which bounds its nonce table.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use cpe::connreq::digest::{AuthRequest, DigestConfig, DigestVerifier};
use http::HeaderValue;
use rand::rngs::StdRng;

use crate::acs::CpeAuth;
use crate::store::Credentials;

/// The realm of the ACS's challenges.
macro_rules! realm {
    () => {
        "acs-sim"
    };
}

/// The Basic challenge (RFC 7617).
const BASIC_CHALLENGE: &str = concat!("Basic realm=\"", realm!(), "\"");

/// How long a Digest nonce is accepted.
const NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// Most outstanding Digest nonces: one per CPE between its 401 and its retry, so enough for a
/// large fleet booting at once; the oldest is evicted beyond it.
const MAX_NONCES: usize = 65_536;

/// Checks the `Authorization` of POSTs against the configured credentials.
pub(super) struct Authenticator {
    mode: Option<Mode>,
}

struct Mode {
    credentials: Credentials,
    /// Digest challenges, else Basic only.
    digest: bool,
    state: Mutex<(DigestVerifier, StdRng)>,
}

/// A refused request: the `WWW-Authenticate` value to answer `401` with.
pub(super) struct Challenge(pub(super) HeaderValue);

impl Authenticator {
    pub(super) fn new(auth: &CpeAuth) -> Self {
        let (credentials, digest) = match auth {
            CpeAuth::None => return Self { mode: None },
            CpeAuth::Basic(credentials) => (credentials.clone(), false),
            CpeAuth::Digest(credentials) => (credentials.clone(), true),
        };
        let mut rng = rand::make_rng::<StdRng>();
        let verifier = DigestVerifier::new(
            DigestConfig {
                realm: realm!().to_owned(),
                nonce_lifetime: NONCE_LIFETIME,
                max_nonces: MAX_NONCES,
                // In Basic mode the verifier issues no nonce, so only Basic can pass.
                allow_basic: !digest,
            },
            &mut rng,
        );
        Self {
            mode: Some(Mode {
                credentials,
                digest,
                state: Mutex::new((verifier, rng)),
            }),
        }
    }

    /// Whether POSTs must authenticate at all.
    pub(super) fn required(&self) -> bool {
        self.mode.is_some()
    }

    /// Checks one request (its method, request-target and `Authorization` header).
    pub(super) fn check(
        &self,
        method: &str,
        target: &str,
        authorization: Option<&str>,
        now: Instant,
    ) -> Result<(), Challenge> {
        let Some(mode) = &self.mode else {
            return Ok(());
        };
        let request = AuthRequest {
            method,
            uri: target,
            authorization,
        };
        // Every update of the verifier is one call, so a panicked holder left it consistent.
        let mut state = mode.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (verifier, rng) = &mut *state;
        let credentials = &mode.credentials;
        let verdict = verifier.verify(&request, now, |user| {
            (user == credentials.username).then(|| credentials.password.clone())
        });
        let Err(rejection) = verdict else {
            return Ok(());
        };
        tracing::debug!(%rejection, "CPE not authenticated");
        if !mode.digest {
            return Err(Challenge(HeaderValue::from_static(BASIC_CHALLENGE)));
        }
        let challenge = verifier.challenge(&mut *rng, now, rejection.is_stale());
        // The realm is ours and nonces are hex, so the value is always a valid header.
        let value = HeaderValue::try_from(challenge.digest_header()).unwrap_or_else(|_| {
            cpe::oplog!(ACS_CHALLENGE_FAILED, "cannot encode the Digest challenge");
            HeaderValue::from_static(concat!("Digest realm=\"", realm!(), "\""))
        });
        Err(Challenge(value))
    }
}
