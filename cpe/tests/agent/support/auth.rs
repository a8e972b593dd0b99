//! HTTP authentication of the CPE by the scripted ACS (TR-069 Amd 6 §3.4.4): a wrapper that
//! answers `401` with a Digest (RFC 7616, MD5, `qop=auth`) or Basic (RFC 7617) challenge until
//! a request carries the credentials of one of its accounts, and passes only authenticated
//! requests on to the script. Checked by the agent's own server-side verifier
//! ([`cpe::connreq::digest::DigestVerifier`]), as acs-sim does.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use cpe::connreq::digest::{AuthRequest, DigestConfig, DigestVerifier};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::acs::{HttpRequest, HttpResponse};

/// The scheme the ACS demands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// RFC 7616 Digest (MD5, `qop=auth`).
    Digest,
    /// RFC 7617 Basic: the CPE sends it over TLS only (§3.4.4).
    Basic,
}

const REALM: &str = "scripted-acs";

/// `script` behind authentication: every request without valid credentials for one of
/// `accounts` (user, password) is answered `401` with a fresh challenge; the script sees only
/// the others. `passed` counts the requests that got through.
pub(crate) fn require<S>(
    scheme: Scheme,
    accounts: &[(&str, &str)],
    passed: Arc<Mutex<usize>>,
    mut script: S,
) -> impl FnMut(&HttpRequest) -> HttpResponse + Send + 'static
where
    S: FnMut(&HttpRequest) -> HttpResponse + Send + 'static,
{
    let accounts: Vec<(String, String)> = accounts
        .iter()
        .map(|(u, p)| ((*u).to_owned(), (*p).to_owned()))
        .collect();
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut verifier = DigestVerifier::new(
        DigestConfig {
            realm: REALM.to_owned(),
            // With Basic demanded the verifier issues no nonce, so only Basic can pass.
            allow_basic: scheme == Scheme::Basic,
            ..DigestConfig::default()
        },
        &mut rng,
    );
    move |request| {
        let mut start = request.start.split_whitespace();
        let (method, uri) = (
            start.next().unwrap_or_default(),
            start.next().unwrap_or_default(),
        );
        let auth = AuthRequest {
            method,
            uri,
            authorization: request.header("authorization"),
        };
        let verdict = verifier.verify(&auth, Instant::now(), |user| {
            accounts
                .iter()
                .find(|(u, _)| u == user)
                .map(|(_, p)| p.clone())
        });
        match verdict {
            Ok(_) => {
                *passed.lock().unwrap() += 1;
                script(request)
            }
            Err(rejection) => {
                let challenge = match scheme {
                    Scheme::Digest => verifier
                        .challenge(&mut rng, Instant::now(), rejection.is_stale())
                        .digest_header(),
                    Scheme::Basic => format!("Basic realm=\"{REALM}\""),
                };
                HttpResponse {
                    status: 401,
                    headers: vec![("WWW-Authenticate".into(), challenge)],
                    body: Vec::new(),
                    close: false,
                }
            }
        }
    }
}

/// The `username` a Digest `Authorization` header names.
pub(crate) fn digest_username(authorization: &str) -> Option<&str> {
    let params = authorization.strip_prefix("Digest ")?;
    let start = params.find("username=\"")? + "username=\"".len();
    let end = params[start..].find('"')?;
    Some(&params[start..start + end])
}
