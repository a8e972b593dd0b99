//! Server-side HTTP authentication for the Connection Request (TR-069 Amd 6 §3.2.2): Digest
//! (RFC 7616, RFC 2617) with `algorithm=MD5` and `qop=auth`, and Basic (RFC 7617) when enabled.
//!
//! TR-069 Amd 6 §3.2.2 says the CPE MUST authenticate a Connection Request with HTTP Digest
//! before acting on it. No crate verifies Digest on the server side, so this one is written by
//! hand. It is sans-IO: the caller passes the request's method, target and `Authorization`
//! header, the current time and a password lookup, and gets back either the authenticated
//! user or a [`Rejection`] to answer with a fresh [`Challenge`]. Nonces come from a caller-given
//! RNG and are kept in a bounded table ([`DigestConfig::max_nonces`]) that evicts the oldest, so
//! a flood of unauthenticated requests cannot grow memory. Each nonce carries a sliding window
//! of the `nc` values already accepted, so a replayed nonce+nc is refused. The ACS side reuses
//! this type to authenticate CPEs.

use std::collections::{HashMap, VecDeque};
use std::fmt::{self, Write as _};
use std::time::{Duration, Instant};

use md5::{Digest as _, Md5};
use rand::CryptoRng;

use super::base64;

/// The realm used when none is configured (TR-069 Amd 6 §3.2.2.2 leaves the realm to the CPE).
pub const DEFAULT_REALM: &str = "cpe";

/// How long a nonce stays valid by default (TR-069 Amd 6 §3.2.2.2 does not fix a lifetime).
pub const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// How many outstanding nonces are kept by default: the bound on memory that a flood of
/// unauthenticated Connection Requests can take (TR-069 Amd 6 §3.2.2).
pub const DEFAULT_MAX_NONCES: usize = 64;

/// Most auth-params accepted in one `Authorization` header.
const MAX_AUTH_PARAMS: usize = 32;

/// Width, in `nc` values, of the per-nonce replay window.
const REPLAY_WINDOW_BITS: u32 = 1024;

/// Settings of a [`DigestVerifier`] (TR-069 Amd 6 §3.2.2: the CPE MUST use HTTP Digest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestConfig {
    /// The `realm` of the challenge; a response naming another realm is refused.
    pub realm: String,
    /// How long an issued nonce is accepted; a correct response to an older one gets
    /// `stale=true` and a fresh nonce (RFC 7616 §3.3).
    pub nonce_lifetime: Duration,
    /// Most nonces remembered at once; issuing one more evicts the oldest (at least 1).
    pub max_nonces: usize,
    /// Whether `Authorization: Basic` is accepted. Off by default: the Connection Request
    /// travels over plain HTTP, where Basic exposes the password.
    pub allow_basic: bool,
}

impl Default for DigestConfig {
    fn default() -> Self {
        Self {
            realm: DEFAULT_REALM.to_owned(),
            nonce_lifetime: DEFAULT_NONCE_LIFETIME,
            max_nonces: DEFAULT_MAX_NONCES,
            allow_basic: false,
        }
    }
}

/// A sans-IO verifier of HTTP Digest (and optionally Basic) credentials, as TR-069 Amd 6
/// §3.2.2 requires for Connection Requests.
///
/// It owns the table of issued nonces and their replay windows; time and randomness are
/// passed in, so it is deterministic under test.
#[derive(Debug)]
pub struct DigestVerifier {
    config: DigestConfig,
    opaque: String,
    nonces: NonceTable,
}

impl DigestVerifier {
    /// Makes a verifier; its `opaque` value is drawn from `rng`.
    pub fn new<R: CryptoRng + ?Sized>(config: DigestConfig, rng: &mut R) -> Self {
        let opaque = random_hex(rng);
        let capacity = config.max_nonces.max(1);
        Self {
            config,
            opaque,
            nonces: NonceTable::new(capacity),
        }
    }

    /// The settings this verifier was made with.
    pub fn config(&self) -> &DigestConfig {
        &self.config
    }

    /// How many nonces are currently remembered (at most [`DigestConfig::max_nonces`]).
    pub fn nonce_count(&self) -> usize {
        self.nonces.entries.len()
    }

    /// Issues a fresh nonce and returns the challenge that carries it. Pass `stale = true`
    /// when answering [`Rejection::StaleNonce`], so the client retries without asking its
    /// user again (RFC 7616 §3.3).
    pub fn challenge<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: Instant,
        stale: bool,
    ) -> Challenge {
        let nonce = loop {
            let candidate = random_hex(rng);
            if !self.nonces.entries.contains_key(&candidate) {
                break candidate;
            }
        };
        self.nonces
            .insert(nonce.clone(), now, self.config.nonce_lifetime);
        Challenge {
            realm: self.config.realm.clone(),
            nonce,
            opaque: self.opaque.clone(),
            stale,
            offer_basic: self.config.allow_basic,
        }
    }

    /// Checks the request's credentials.
    ///
    /// `password_for` maps a username to its password, or `None` for an unknown user. The
    /// nonce's replay window is updated only when the response is correct, so a failed
    /// attempt cannot burn a legitimate client's `nc`.
    pub fn verify<F>(
        &mut self,
        request: &AuthRequest<'_>,
        now: Instant,
        password_for: F,
    ) -> Result<Authenticated, Rejection>
    where
        F: FnOnce(&str) -> Option<String>,
    {
        let header = request.authorization.ok_or(Rejection::Missing)?.trim();
        let (scheme, rest) = split_scheme(header);
        if scheme.eq_ignore_ascii_case("Digest") {
            self.verify_digest(request, rest, now, password_for)
        } else if scheme.eq_ignore_ascii_case("Basic") {
            if !self.config.allow_basic {
                return Err(Rejection::BasicDisabled);
            }
            verify_basic(rest, password_for)
        } else {
            Err(Rejection::UnsupportedScheme)
        }
    }

    fn verify_digest<F>(
        &mut self,
        request: &AuthRequest<'_>,
        params: &str,
        now: Instant,
        password_for: F,
    ) -> Result<Authenticated, Rejection>
    where
        F: FnOnce(&str) -> Option<String>,
    {
        let response = DigestResponse::parse(params)?;
        if response.realm != self.config.realm {
            return Err(Rejection::RealmMismatch);
        }
        if !uri_matches(&response.uri, request.uri) {
            return Err(Rejection::UriMismatch);
        }
        if response.opaque.as_deref().is_some_and(|o| o != self.opaque) {
            return Err(Rejection::OpaqueMismatch);
        }
        let Some(entry) = self.nonces.entries.get_mut(response.nonce.as_str()) else {
            return Err(Rejection::UnknownNonce);
        };
        // An unknown user costs the same hashing as a known one, so timing does not tell them
        // apart.
        let password = password_for(&response.username);
        let expected = expected_response(
            &response.username,
            &self.config.realm,
            password.as_deref().unwrap_or_default(),
            request.method,
            &response.uri,
            &response.nonce,
            &response.nc_text,
            &response.cnonce,
        );
        let matches = constant_time_eq(&expected, response.response.as_bytes());
        if password.is_none() {
            return Err(Rejection::UnknownUser);
        }
        if !matches {
            return Err(Rejection::WrongCredentials);
        }
        if now >= entry.expires {
            self.nonces.entries.remove(response.nonce.as_str());
            return Err(Rejection::StaleNonce);
        }
        if !entry.replay.accept(response.nc) {
            return Err(Rejection::Replay);
        }
        Ok(Authenticated {
            username: response.username,
            scheme: Scheme::Digest,
        })
    }

    /// Remembers a nonce chosen by the test, so the RFC examples can be checked verbatim.
    #[cfg(test)]
    pub(crate) fn insert_nonce_for_test(&mut self, nonce: &str, opaque: &str, now: Instant) {
        self.opaque = opaque.to_owned();
        self.nonces
            .insert(nonce.to_owned(), now, self.config.nonce_lifetime);
    }
}

/// The parts of an HTTP request that authentication looks at (TR-069 Amd 6 §3.2.2.2).
#[derive(Clone, Copy, Debug)]
pub struct AuthRequest<'a> {
    /// The request method (`GET` for a Connection Request, TR-069 Amd 6 §3.2.2).
    pub method: &'a str,
    /// The request-target as received (origin form `/path?query`, or absolute form).
    pub uri: &'a str,
    /// The `Authorization` header value, if any.
    pub authorization: Option<&'a str>,
}

/// A request whose credentials were accepted (TR-069 Amd 6 §3.2.2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    /// The user that authenticated.
    pub username: String,
    /// The scheme it used.
    pub scheme: Scheme,
}

/// An HTTP authentication scheme accepted for Connection Requests (TR-069 Amd 6 §3.2.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// RFC 7617 Basic, accepted only when [`DigestConfig::allow_basic`] is set.
    Basic,
    /// RFC 7616 Digest, the scheme TR-069 Amd 6 §3.2.2 requires.
    Digest,
}

/// Why credentials were refused; every case is answered with 401 and a fresh [`Challenge`]
/// (TR-069 Amd 6 §3.2.2: a CPE MUST NOT open a session for an unauthenticated request).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// `Authorization: Basic` while Basic is disabled.
    #[error("Basic authentication is not enabled")]
    BasicDisabled,
    /// The `Authorization` header could not be parsed, or a required parameter is missing.
    #[error("malformed Authorization header")]
    Malformed,
    /// There was no `Authorization` header.
    #[error("no credentials")]
    Missing,
    /// The `opaque` parameter differs from the one issued.
    #[error("opaque does not match")]
    OpaqueMismatch,
    /// The `realm` parameter names another realm.
    #[error("realm does not match")]
    RealmMismatch,
    /// The nonce and `nc` pair was already used.
    #[error("nonce count already used")]
    Replay,
    /// The response was correct but its nonce has expired: re-challenge with `stale=true`.
    #[error("nonce expired")]
    StaleNonce,
    /// The nonce was never issued, was evicted, or was replaced after going stale.
    #[error("unknown nonce")]
    UnknownNonce,
    /// The user is not known.
    #[error("unknown user")]
    UnknownUser,
    /// An algorithm other than MD5 (for example SHA-256, MD5-sess) was asked for.
    #[error("unsupported digest algorithm")]
    UnsupportedAlgorithm,
    /// A `qop` other than `auth` (or none, as in RFC 2069) was used.
    #[error("unsupported qop")]
    UnsupportedQop,
    /// A scheme other than Digest or Basic.
    #[error("unsupported authentication scheme")]
    UnsupportedScheme,
    /// The `uri` parameter does not name the request-target.
    #[error("digest uri does not match the request")]
    UriMismatch,
    /// The response (or the Basic password) is wrong.
    #[error("wrong credentials")]
    WrongCredentials,
}

impl Rejection {
    /// Whether the challenge answering this rejection carries `stale=true`.
    pub fn is_stale(self) -> bool {
        matches!(self, Self::StaleNonce)
    }
}

/// A `WWW-Authenticate` challenge carrying a freshly issued nonce (RFC 7616 §3.3), sent with
/// the 401 that TR-069 Amd 6 §3.2.2.2 requires for an unauthenticated Connection Request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    realm: String,
    nonce: String,
    opaque: String,
    stale: bool,
    offer_basic: bool,
}

impl Challenge {
    /// The nonce this challenge issued.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// Whether the challenge says `stale=true`.
    pub fn stale(&self) -> bool {
        self.stale
    }

    /// The `WWW-Authenticate` value for Digest:
    /// `Digest realm="…", qop="auth", algorithm=MD5, nonce="…", opaque="…"[, stale=true]`.
    pub fn digest_header(&self) -> String {
        let mut out = String::with_capacity(128);
        out.push_str("Digest realm=");
        push_quoted(&mut out, &self.realm);
        out.push_str(", qop=\"auth\", algorithm=MD5, nonce=\"");
        out.push_str(&self.nonce);
        out.push_str("\", opaque=\"");
        out.push_str(&self.opaque);
        out.push('"');
        if self.stale {
            out.push_str(", stale=true");
        }
        out
    }

    /// The `WWW-Authenticate` value for Basic, sent after the Digest one when Basic is enabled.
    pub fn basic_header(&self) -> Option<String> {
        self.offer_basic.then(|| {
            let mut out = String::from("Basic realm=");
            push_quoted(&mut out, &self.realm);
            out
        })
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.digest_header())
    }
}

/// The bounded table of issued nonces, oldest first.
#[derive(Debug)]
struct NonceTable {
    entries: HashMap<String, NonceEntry>,
    /// Issue order. Holds every key of `entries` (and maybe keys already removed), never more
    /// than `capacity` items.
    order: VecDeque<String>,
    capacity: usize,
}

#[derive(Debug)]
struct NonceEntry {
    expires: Instant,
    replay: ReplayWindow,
}

impl NonceTable {
    fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::with_capacity(capacity),
            order: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    fn insert(&mut self, nonce: String, now: Instant, lifetime: Duration) {
        // Nonces expire in issue order, so expired ones sit at the front.
        while let Some(front) = self.order.front() {
            let expired = self.entries.get(front).is_none_or(|e| now >= e.expires);
            if !expired && self.order.len() < self.capacity {
                break;
            }
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
            }
        }
        let expires = now.checked_add(lifetime).unwrap_or(now);
        self.entries.insert(
            nonce.clone(),
            NonceEntry {
                expires,
                replay: ReplayWindow::default(),
            },
        );
        self.order.push_back(nonce);
    }
}

/// Which `nc` values of one nonce were accepted: the highest one and a bitmap of the
/// [`REPLAY_WINDOW_BITS`] values below it (bit `i` = `highest - i`), as in IPsec anti-replay.
#[derive(Debug, Default)]
struct ReplayWindow {
    highest: u32,
    bits: [u64; (REPLAY_WINDOW_BITS / 64) as usize],
}

impl ReplayWindow {
    /// Records `nc` and says whether it is new. Values at or below `highest - window` are
    /// refused as too old to tell.
    fn accept(&mut self, nc: u32) -> bool {
        if nc == 0 {
            return false;
        }
        if nc > self.highest {
            self.shift(nc - self.highest);
            self.highest = nc;
            self.bits[0] |= 1;
            return true;
        }
        let age = self.highest - nc;
        if age >= REPLAY_WINDOW_BITS {
            return false;
        }
        let (word, bit) = ((age / 64) as usize, age % 64);
        let mask = 1u64 << bit;
        if self.bits[word] & mask != 0 {
            return false;
        }
        self.bits[word] |= mask;
        true
    }

    /// Moves every recorded value `by` positions further from `highest`.
    fn shift(&mut self, by: u32) {
        if by >= REPLAY_WINDOW_BITS {
            self.bits = [0; (REPLAY_WINDOW_BITS / 64) as usize];
            return;
        }
        let words = (by / 64) as usize;
        let bits = by % 64;
        for i in (0..self.bits.len()).rev() {
            let value = match i.checked_sub(words) {
                Some(src) => {
                    let low = self.bits[src] << bits;
                    let carry = match src.checked_sub(1) {
                        Some(prev) if bits != 0 => self.bits[prev] >> (64 - bits),
                        _ => 0,
                    };
                    low | carry
                }
                None => 0,
            };
            self.bits[i] = value;
        }
    }
}

/// The parameters of an `Authorization: Digest` header that this verifier uses.
#[derive(Debug)]
struct DigestResponse {
    username: String,
    realm: String,
    nonce: String,
    uri: String,
    response: String,
    cnonce: String,
    nc: u32,
    nc_text: String,
    opaque: Option<String>,
}

impl DigestResponse {
    fn parse(params: &str) -> Result<Self, Rejection> {
        let mut username = None;
        let mut realm = None;
        let mut nonce = None;
        let mut uri = None;
        let mut response = None;
        let mut cnonce = None;
        let mut nc = None;
        let mut opaque = None;
        let mut qop = None;
        let mut algorithm = None;
        let mut userhash = None;
        for (name, value) in parse_auth_params(params)? {
            let slot = match name.to_ascii_lowercase().as_str() {
                "username" => &mut username,
                "realm" => &mut realm,
                "nonce" => &mut nonce,
                "uri" => &mut uri,
                "response" => &mut response,
                "cnonce" => &mut cnonce,
                "nc" => &mut nc,
                "opaque" => &mut opaque,
                "qop" => &mut qop,
                "algorithm" => &mut algorithm,
                "userhash" => &mut userhash,
                // `username*` (RFC 7616 §3.4.4) is not supported: the username is required.
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(Rejection::Malformed);
            }
        }
        if algorithm.is_some_and(|a: String| !a.eq_ignore_ascii_case("MD5")) {
            return Err(Rejection::UnsupportedAlgorithm);
        }
        if userhash.is_some_and(|u: String| !u.eq_ignore_ascii_case("false")) {
            return Err(Rejection::Malformed);
        }
        match qop {
            Some(q) if q.eq_ignore_ascii_case("auth") => {}
            _ => return Err(Rejection::UnsupportedQop),
        }
        let nc_text = nc.ok_or(Rejection::Malformed)?;
        let nc = parse_nc(&nc_text).ok_or(Rejection::Malformed)?;
        let response = response
            .filter(|r| r.len() == 32 && r.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or(Rejection::Malformed)?
            .to_ascii_lowercase();
        let cnonce = cnonce
            .filter(|c| !c.is_empty())
            .ok_or(Rejection::Malformed)?;
        Ok(Self {
            username: username.ok_or(Rejection::Malformed)?,
            realm: realm.ok_or(Rejection::Malformed)?,
            nonce: nonce.ok_or(Rejection::Malformed)?,
            uri: uri.ok_or(Rejection::Malformed)?,
            response,
            cnonce,
            nc,
            nc_text,
            opaque,
        })
    }
}

/// `nc` is exactly 8 hex digits (RFC 7616 §3.4), never zero.
fn parse_nc(text: &str) -> Option<u32> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok().filter(|&n| n != 0)
}

fn verify_basic<F>(credentials: &str, password_for: F) -> Result<Authenticated, Rejection>
where
    F: FnOnce(&str) -> Option<String>,
{
    let decoded = base64::decode(credentials.trim()).ok_or(Rejection::Malformed)?;
    let text = String::from_utf8(decoded).map_err(|_| Rejection::Malformed)?;
    let (username, password) = text.split_once(':').ok_or(Rejection::Malformed)?;
    let expected = password_for(username).ok_or(Rejection::UnknownUser)?;
    if !constant_time_eq(expected.as_bytes(), password.as_bytes()) {
        return Err(Rejection::WrongCredentials);
    }
    Ok(Authenticated {
        username: username.to_owned(),
        scheme: Scheme::Basic,
    })
}

/// Splits `Scheme rest` at the first whitespace.
fn split_scheme(header: &str) -> (&str, &str) {
    match header.find([' ', '\t']) {
        Some(at) => (&header[..at], header[at..].trim_start()),
        None => (header, ""),
    }
}

/// Whether the `uri` auth-param names the request-target: the same text, or the same
/// path and query (one side in absolute form, RFC 7616 §3.4 "effective request URI").
fn uri_matches(digest_uri: &str, request_uri: &str) -> bool {
    if digest_uri == request_uri {
        return true;
    }
    match (
        digest_uri.parse::<http::Uri>(),
        request_uri.parse::<http::Uri>(),
    ) {
        (Ok(a), Ok(b)) => {
            let path = |u: &http::Uri| u.path_and_query().map_or("/", |p| p.as_str()).to_owned();
            path(&a) == path(&b)
        }
        _ => false,
    }
}

/// Parses `name=value, name="quoted value", …` (RFC 9110 §11.2 auth-param list).
fn parse_auth_params(input: &str) -> Result<Vec<(String, String)>, Rejection> {
    let bytes = input.as_bytes();
    let mut params = Vec::new();
    let mut at = 0;
    let skip_ws = |at: &mut usize| {
        while *at < bytes.len() && matches!(bytes[*at], b' ' | b'\t') {
            *at += 1;
        }
    };
    loop {
        // Leading and repeated commas are allowed (RFC 9110 §5.6.1 list rules).
        while at < bytes.len() && matches!(bytes[at], b' ' | b'\t' | b',') {
            at += 1;
        }
        if at >= bytes.len() {
            break;
        }
        let start = at;
        while at < bytes.len() && is_tchar(bytes[at]) {
            at += 1;
        }
        if at == start {
            return Err(Rejection::Malformed);
        }
        let name = &input[start..at];
        skip_ws(&mut at);
        if bytes.get(at) != Some(&b'=') {
            return Err(Rejection::Malformed);
        }
        at += 1;
        skip_ws(&mut at);
        let value = if bytes.get(at) == Some(&b'"') {
            at += 1;
            let mut value = String::new();
            loop {
                match bytes.get(at) {
                    None => return Err(Rejection::Malformed),
                    Some(b'"') => {
                        at += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let escaped = input.get(at + 1..).and_then(|s| s.chars().next());
                        let c = escaped.ok_or(Rejection::Malformed)?;
                        value.push(c);
                        at += 1 + c.len_utf8();
                    }
                    Some(_) => {
                        // `at` is always on a char boundary: it only moves past whole chars.
                        let c = input[at..].chars().next().ok_or(Rejection::Malformed)?;
                        value.push(c);
                        at += c.len_utf8();
                    }
                }
            }
            value
        } else {
            let start = at;
            while at < bytes.len() && is_tchar(bytes[at]) {
                at += 1;
            }
            if at == start {
                return Err(Rejection::Malformed);
            }
            input[start..at].to_owned()
        };
        params.push((name.to_owned(), value));
        if params.len() > MAX_AUTH_PARAMS {
            return Err(Rejection::Malformed);
        }
        skip_ws(&mut at);
        match bytes.get(at) {
            None => break,
            Some(b',') => at += 1,
            Some(_) => return Err(Rejection::Malformed),
        }
    }
    Ok(params)
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Appends `value` as an RFC 9110 quoted-string.
fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// `KD(H(A1), nonce:nc:cnonce:qop:H(A2))` for MD5 and `qop=auth` (RFC 7616 §3.4.1, RFC 2617
/// §3.2.2.1), as lowercase hex.
#[allow(clippy::too_many_arguments)] // The digest really has this many inputs.
fn expected_response(
    username: &str,
    realm: &str,
    password: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    nc: &str,
    cnonce: &str,
) -> [u8; 32] {
    let ha1 = md5_hex(&[username, ":", realm, ":", password]);
    let ha2 = md5_hex(&[method, ":", uri]);
    let ha1 = std::str::from_utf8(&ha1).unwrap_or_default();
    let ha2 = std::str::from_utf8(&ha2).unwrap_or_default();
    md5_hex(&[ha1, ":", nonce, ":", nc, ":", cnonce, ":auth:", ha2])
}

fn md5_hex(parts: &[&str]) -> [u8; 32] {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut out = [0u8; 32];
    for (i, byte) in digest.iter().enumerate() {
        out[2 * i] = HEX[usize::from(byte >> 4)];
        out[2 * i + 1] = HEX[usize::from(byte & 0x0f)];
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// 128 random bits as 32 lowercase hex digits.
fn random_hex<R: CryptoRng + ?Sized>(rng: &mut R) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    let mut out = String::with_capacity(32);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Compares without an early exit, so the time taken does not tell how many bytes matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn verifier(config: DigestConfig) -> (DigestVerifier, StdRng) {
        let mut rng = StdRng::seed_from_u64(7);
        (DigestVerifier::new(config, &mut rng), rng)
    }

    fn lookup(user: &'static str, pass: &'static str) -> impl FnOnce(&str) -> Option<String> {
        move |u| (u == user).then(|| pass.to_owned())
    }

    /// The parameters every made-up header below shares.
    const SHAPE: &str = r#"username="u", realm="cpe", nonce="n", uri="/""#;
    const ZEROS: &str = "00000000000000000000000000000000";

    const RFC2617_HEADER: &str = r#"Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41""#;

    const RFC7616_HEADER: &str = r#"Digest username="Mufasa",
       realm="http-auth@example.org",
       uri="/dir/index.html",
       algorithm=MD5,
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       nc=00000001,
       cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
       qop=auth,
       response="8ca523f5e9506fed4657c9700eebdbec",
       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;

    /// RFC 2617 §3.5: the header folds over lines; on the wire it is one line.
    fn one_line(h: &str) -> String {
        h.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn rfc2617_section_3_5_vector() {
        let got = expected_response(
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            "00000001",
            "0a4f113b",
        );
        assert_eq!(&got, b"6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc7616_section_3_9_1_md5_vector() {
        let got = expected_response(
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            "00000001",
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        );
        assert_eq!(&got, b"8ca523f5e9506fed4657c9700eebdbec");
    }

    fn rfc_verifier(realm: &str, nonce: &str, opaque: &str, now: Instant) -> DigestVerifier {
        let (mut v, _) = verifier(DigestConfig {
            realm: realm.to_owned(),
            ..DigestConfig::default()
        });
        v.insert_nonce_for_test(nonce, opaque, now);
        v
    }

    #[test]
    fn rfc2617_header_verifies_end_to_end_then_replay_is_refused() {
        let now = Instant::now();
        let mut v = rfc_verifier(
            "testrealm@host.com",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            "5ccc069c403ebaf9f0171e9517f40e41",
            now,
        );
        let header = one_line(RFC2617_HEADER);
        let req = AuthRequest {
            method: "GET",
            uri: "/dir/index.html",
            authorization: Some(&header),
        };
        let ok = v.verify(&req, now, lookup("Mufasa", "Circle Of Life"));
        assert_eq!(
            ok,
            Ok(Authenticated {
                username: "Mufasa".into(),
                scheme: Scheme::Digest
            })
        );
        let again = v.verify(&req, now, lookup("Mufasa", "Circle Of Life"));
        assert_eq!(again, Err(Rejection::Replay));
    }

    #[test]
    fn rfc7616_header_verifies_end_to_end() {
        let now = Instant::now();
        let mut v = rfc_verifier(
            "http-auth@example.org",
            "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
            now,
        );
        let header = one_line(RFC7616_HEADER);
        let req = AuthRequest {
            method: "GET",
            uri: "/dir/index.html",
            authorization: Some(&header),
        };
        assert!(
            v.verify(&req, now, lookup("Mufasa", "Circle of Life"))
                .is_ok()
        );
    }

    #[test]
    fn wrong_password_method_uri_realm_opaque_are_refused() {
        let now = Instant::now();
        let make = || {
            rfc_verifier(
                "testrealm@host.com",
                "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                "5ccc069c403ebaf9f0171e9517f40e41",
                now,
            )
        };
        let header = one_line(RFC2617_HEADER);
        let req = |method, uri, auth| AuthRequest {
            method,
            uri,
            authorization: Some(auth),
        };
        let good = lookup("Mufasa", "Circle Of Life");
        assert_eq!(
            make().verify(
                &req("GET", "/dir/index.html", &header),
                now,
                lookup("Mufasa", "x")
            ),
            Err(Rejection::WrongCredentials)
        );
        assert_eq!(
            make().verify(
                &req("GET", "/dir/index.html", &header),
                now,
                lookup("Bob", "x")
            ),
            Err(Rejection::UnknownUser)
        );
        assert_eq!(
            make().verify(&req("POST", "/dir/index.html", &header), now, good),
            Err(Rejection::WrongCredentials)
        );
        assert_eq!(
            make().verify(&req("GET", "/other", &header), now, lookup("Mufasa", "x")),
            Err(Rejection::UriMismatch)
        );
        let other_realm = header.replace("testrealm@host.com", "evil");
        assert_eq!(
            make().verify(
                &req("GET", "/dir/index.html", &other_realm),
                now,
                lookup("a", "b")
            ),
            Err(Rejection::RealmMismatch)
        );
        let other_opaque = header.replace("5ccc069c", "00000000");
        assert_eq!(
            make().verify(
                &req("GET", "/dir/index.html", &other_opaque),
                now,
                lookup("a", "b")
            ),
            Err(Rejection::OpaqueMismatch)
        );
        // An absolute-form digest uri naming the same path is the same resource.
        let absolute = header.replace("/dir/index.html", "http://host:7547/dir/index.html");
        assert!(
            make()
                .verify(
                    &req("GET", "/dir/index.html", &absolute),
                    now,
                    lookup("Mufasa", "Circle Of Life")
                )
                .is_err_and(|r| r == Rejection::WrongCredentials),
            "uri accepted, but the digest covers the text of the uri, so it must differ"
        );
    }

    #[test]
    fn unsupported_algorithm_qop_and_scheme() {
        let now = Instant::now();
        let (mut v, _) = verifier(DigestConfig::default());
        let req = |auth| AuthRequest {
            method: "GET",
            uri: "/",
            authorization: Some(auth),
        };
        let base = format!("Digest {SHAPE}, nc=00000001, cnonce=\"c\", response=\"{ZEROS}\"");
        let sha = format!("{base}, qop=auth, algorithm=SHA-256");
        let sess = format!("{base}, qop=auth, algorithm=MD5-sess");
        let no_qop = base.clone();
        let auth_int = format!("{base}, qop=auth-int");
        let f = || lookup("u", "p");
        assert_eq!(
            v.verify(&req(&sha), now, f()),
            Err(Rejection::UnsupportedAlgorithm)
        );
        assert_eq!(
            v.verify(&req(&sess), now, f()),
            Err(Rejection::UnsupportedAlgorithm)
        );
        assert_eq!(
            v.verify(&req(&no_qop), now, f()),
            Err(Rejection::UnsupportedQop)
        );
        assert_eq!(
            v.verify(&req(&auth_int), now, f()),
            Err(Rejection::UnsupportedQop)
        );
        let ok_shape = format!("{base}, qop=auth");
        assert_eq!(
            v.verify(&req(&ok_shape), now, f()),
            Err(Rejection::UnknownNonce)
        );
        assert_eq!(
            v.verify(&req("Bearer x"), now, f()),
            Err(Rejection::UnsupportedScheme)
        );
        assert_eq!(
            v.verify(&req("Basic dTpw"), now, f()),
            Err(Rejection::BasicDisabled)
        );
        let missing = AuthRequest {
            method: "GET",
            uri: "/",
            authorization: None,
        };
        assert_eq!(v.verify(&missing, now, f()), Err(Rejection::Missing));
    }

    #[test]
    fn malformed_headers_are_refused_without_panic() {
        let now = Instant::now();
        let (mut v, _) = verifier(DigestConfig::default());
        let cases = [
            "Digest".to_owned(),
            "Digest ,,,".to_owned(),
            "Digest username".to_owned(),
            "Digest username=".to_owned(),
            "Digest username=\"unterminated".to_owned(),
            "Digest username=\"a\\".to_owned(),
            "Digest username=\"é\\é\", realm=\"cpe\"".to_owned(),
            "Digest username=\"a\" realm=\"cpe\"".to_owned(),
            "Digest =x".to_owned(),
            "Digest username=\"a\", username=\"b\", qop=auth".to_owned(),
            format!("Digest qop=auth, nc=1, {SHAPE}, cnonce=\"c\", response=\"{ZEROS}\""),
            format!("Digest qop=auth, nc=00000000, {SHAPE}, cnonce=\"c\", response=\"{ZEROS}\""),
            format!("Digest qop=auth, nc=00000001, {SHAPE}, cnonce=\"c\", response=\"short\""),
            format!("Digest qop=auth, nc=00000001, {SHAPE}, cnonce=\"\", response=\"{ZEROS}\""),
            format!(
                "Digest qop=auth, nc=00000001, userhash=true, {SHAPE}, cnonce=\"c\", response=\"{ZEROS}\""
            ),
        ];
        for case in &cases {
            let req = AuthRequest {
                method: "GET",
                uri: "/",
                authorization: Some(case),
            };
            let got = v.verify(&req, now, lookup("u", "p"));
            assert!(got.is_err(), "{case}: {got:?}");
        }
        let many = format!("Digest {}", "a=b, ".repeat(MAX_AUTH_PARAMS + 1));
        assert_eq!(parse_auth_params(&many[7..]), Err(Rejection::Malformed));
    }

    #[test]
    fn auth_params_handle_escapes_and_list_rules() {
        let params = parse_auth_params(r#" , a="x\"y\\z" ,b=tok,, c = "" "#).unwrap();
        assert_eq!(
            params,
            vec![
                ("a".into(), r#"x"y\z"#.into()),
                ("b".into(), "tok".into()),
                ("c".into(), String::new())
            ]
        );
    }

    #[test]
    fn challenge_header_shape_and_quoting() {
        let (mut v, mut rng) = verifier(DigestConfig {
            realm: r#"a"b\c"#.into(),
            allow_basic: true,
            ..DigestConfig::default()
        });
        let c = v.challenge(&mut rng, Instant::now(), true);
        let h = c.digest_header();
        assert!(h.starts_with(r#"Digest realm="a\"b\\c", qop="auth", algorithm=MD5, nonce=""#));
        assert!(h.ends_with(", stale=true"), "{h}");
        assert_eq!(c.nonce().len(), 32);
        assert_eq!(
            c.basic_header().as_deref(),
            Some(r#"Basic realm="a\"b\\c""#)
        );
        // The client library this crate uses elsewhere reads it back.
        let client = http_auth::PasswordClient::try_from(h.as_str()).unwrap();
        assert!(matches!(client, http_auth::PasswordClient::Digest(_)));
    }

    /// Answers `challenge` the way an ACS would, through the `http-auth` client.
    fn respond(challenge: &Challenge, uri: &str, user: &str, pass: &str) -> String {
        let mut client = http_auth::PasswordClient::try_from(challenge.digest_header().as_str())
            .expect("our challenge parses");
        client
            .respond(&http_auth::PasswordParams {
                username: user,
                password: pass,
                uri,
                method: "GET",
                body: None,
            })
            .expect("digest response")
    }

    #[test]
    fn issued_nonce_round_trip_expiry_and_stale() {
        let start = Instant::now();
        let (mut v, mut rng) = verifier(DigestConfig::default());
        let c = v.challenge(&mut rng, start, false);
        assert!(!c.stale());
        let auth = respond(&c, "/cr", "acs", "secret");
        let req = AuthRequest {
            method: "GET",
            uri: "/cr",
            authorization: Some(&auth),
        };
        assert!(v.verify(&req, start, lookup("acs", "secret")).is_ok());

        let late = start + DEFAULT_NONCE_LIFETIME;
        let c2 = v.challenge(&mut rng, start, false);
        let auth2 = respond(&c2, "/cr", "acs", "secret");
        let req2 = AuthRequest {
            authorization: Some(&auth2),
            ..req
        };
        // A wrong password on an expired nonce is a plain failure, not `stale`.
        assert_eq!(
            v.verify(&req2, late, lookup("acs", "wrong")),
            Err(Rejection::WrongCredentials)
        );
        let stale = v.verify(&req2, late, lookup("acs", "secret"));
        assert_eq!(stale, Err(Rejection::StaleNonce));
        assert!(stale.unwrap_err().is_stale());
        // The stale nonce is forgotten.
        assert_eq!(
            v.verify(&req2, late, lookup("acs", "secret")),
            Err(Rejection::UnknownNonce)
        );
    }

    #[test]
    fn nonce_table_is_bounded_and_evicts_oldest() {
        let now = Instant::now();
        let (mut v, mut rng) = verifier(DigestConfig {
            max_nonces: 4,
            ..DigestConfig::default()
        });
        let first = v.challenge(&mut rng, now, false);
        for _ in 0..1000 {
            let _ = v.challenge(&mut rng, now, false);
            assert!(v.nonce_count() <= 4);
        }
        assert!(v.nonces.order.len() <= 4);
        let auth = respond(&first, "/cr", "acs", "secret");
        let req = AuthRequest {
            method: "GET",
            uri: "/cr",
            authorization: Some(&auth),
        };
        assert_eq!(
            v.verify(&req, now, lookup("acs", "secret")),
            Err(Rejection::UnknownNonce)
        );
    }

    #[test]
    fn expired_nonces_are_dropped_first() {
        let start = Instant::now();
        let (mut v, mut rng) = verifier(DigestConfig {
            max_nonces: 8,
            nonce_lifetime: Duration::from_secs(10),
            ..DigestConfig::default()
        });
        for _ in 0..8 {
            let _ = v.challenge(&mut rng, start, false);
        }
        let _ = v.challenge(&mut rng, start + Duration::from_secs(11), false);
        assert_eq!(v.nonce_count(), 1);
    }

    #[test]
    fn replay_window_accepts_each_nc_once_in_any_order() {
        let mut w = ReplayWindow::default();
        assert!(!w.accept(0));
        assert!(w.accept(5));
        assert!(!w.accept(5));
        assert!(w.accept(3));
        assert!(!w.accept(3));
        assert!(w.accept(70));
        assert!(w.accept(4));
        assert!(!w.accept(3));
        assert!(!w.accept(70));
        assert!(w.accept(2000));
        assert!(!w.accept(5));
        assert!(w.accept(2000 - 1023));
        assert!(!w.accept(2000 - 1023));
        assert!(!w.accept(2000 - 1024));
        assert!(w.accept(u32::MAX));
        assert!(!w.accept(2000));
        assert!(!w.accept(u32::MAX));
        // Out-of-order use within the window, like concurrent requests on one nonce.
        let mut w = ReplayWindow::default();
        let mut order: Vec<u32> = (1..=1000).collect();
        order.reverse();
        order.swap(0, 500);
        for &nc in &order {
            assert!(w.accept(nc), "{nc}");
        }
        for &nc in &order {
            assert!(!w.accept(nc), "{nc}");
        }
    }

    #[test]
    fn basic_when_enabled() {
        let now = Instant::now();
        let (mut v, _) = verifier(DigestConfig {
            allow_basic: true,
            ..DigestConfig::default()
        });
        let req = |auth| AuthRequest {
            method: "GET",
            uri: "/",
            authorization: Some(auth),
        };
        // "acs:secret"
        let good = "Basic YWNzOnNlY3JldA==";
        assert_eq!(
            v.verify(&req(good), now, lookup("acs", "secret")),
            Ok(Authenticated {
                username: "acs".into(),
                scheme: Scheme::Basic
            })
        );
        assert_eq!(
            v.verify(&req(good), now, lookup("acs", "other")),
            Err(Rejection::WrongCredentials)
        );
        assert_eq!(
            v.verify(&req("Basic !!!!"), now, lookup("acs", "secret")),
            Err(Rejection::Malformed)
        );
        // "nocolon"
        assert_eq!(
            v.verify(&req("Basic bm9jb2xvbg=="), now, lookup("acs", "secret")),
            Err(Rejection::Malformed)
        );
    }

    #[test]
    fn uri_matching() {
        assert!(uri_matches("/cr-1", "/cr-1"));
        assert!(uri_matches("http://10.0.0.1:7547/cr-1", "/cr-1"));
        assert!(uri_matches("/cr-1?a=b", "http://h/cr-1?a=b"));
        assert!(!uri_matches("/cr-2", "/cr-1"));
        assert!(!uri_matches("/cr-1?a=c", "/cr-1?a=b"));
        assert!(!uri_matches("not a uri", "/cr-1"));
    }
}
