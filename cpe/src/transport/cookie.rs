//! The session's cookie jar (TR-069 Amd 6 §3.4.6): the ACS may hold a CWMP session together
//! with cookies only (GenieACS closes the TCP connection between requests), so every
//! `Set-Cookie` is kept and echoed on the session's later requests.
//!
//! CWMP needs only `name=value` echo: attributes (`Path`, `Domain`, `Expires`, `Max-Age`,
//! `Secure`, `HttpOnly`) are ignored and the jar lives exactly as long as one session.

use http::HeaderValue;
use tracing::debug;

/// At most this many distinct cookies per session; later new names are dropped.
pub(crate) const MAX_COOKIES: usize = 32;

/// At most this many bytes of `name=value` per cookie (TR-069 asks for at least 512 bytes of
/// storage in total; RFC 6265 §6.1 suggests 4096 per cookie).
pub(crate) const MAX_COOKIE_LEN: usize = 4096;

/// The `name=value` pairs received in this session, in first-seen order.
#[derive(Debug, Default)]
pub(crate) struct CookieJar {
    cookies: Vec<(String, String)>,
}

impl CookieJar {
    /// Takes one `Set-Cookie` header value: the latest value of a name wins.
    pub(crate) fn store(&mut self, set_cookie: &HeaderValue) {
        let Some((name, value)) = parse_set_cookie(set_cookie.as_bytes()) else {
            debug!(header = ?set_cookie, "ignoring malformed or oversized Set-Cookie");
            return;
        };
        if let Some(slot) = self.cookies.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value;
        } else if self.cookies.len() < MAX_COOKIES {
            self.cookies.push((name, value));
        } else {
            debug!(%name, "cookie jar full, ignoring new cookie");
        }
    }

    /// The `Cookie` header value for the next request, if any cookie is held.
    pub(crate) fn header(&self) -> Option<HeaderValue> {
        if self.cookies.is_empty() {
            return None;
        }
        let joined = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        // Every byte was checked to be visible ASCII or space in `parse_set_cookie`.
        HeaderValue::from_str(&joined).ok()
    }

    /// Forgets every cookie (the session moved to another server).
    pub(crate) fn clear(&mut self) {
        self.cookies.clear();
    }

    /// Number of cookies held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.cookies.len()
    }
}

/// `name=value` of a `Set-Cookie` value (RFC 6265 §5.2, without the attribute processing).
fn parse_set_cookie(raw: &[u8]) -> Option<(String, String)> {
    let pair = raw.split(|&b| b == b';').next()?;
    let pair = std::str::from_utf8(pair).ok()?;
    let (name, value) = pair.split_once('=')?;
    let (name, value) = (name.trim(), value.trim());
    let is_token = |b: u8| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b);
    let is_value = |b: u8| b == b' ' || (b.is_ascii_graphic() && b != b';');
    if name.is_empty()
        || name.len() + value.len() + 1 > MAX_COOKIE_LEN
        || !name.bytes().all(is_token)
        || !value.bytes().all(is_value)
    {
        return None;
    }
    Some((name.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(jar: &mut CookieJar, v: &str) {
        jar.store(&HeaderValue::from_str(v).unwrap());
    }

    #[test]
    fn latest_value_wins_and_attributes_are_ignored() {
        let mut jar = CookieJar::default();
        assert!(jar.header().is_none());
        set(&mut jar, "session=c767b8354b762300");
        set(&mut jar, "lb=node1; Path=/acs; HttpOnly; Max-Age=60");
        set(&mut jar, "session=new; Path=/other; Secure");
        assert_eq!(jar.header().unwrap(), "session=new; lb=node1");
    }

    #[test]
    fn malformed_cookies_are_dropped() {
        let mut jar = CookieJar::default();
        for bad in ["novalue", "=x", "a b=c", "n=\u{7f}x"] {
            if let Ok(v) = HeaderValue::from_bytes(bad.as_bytes()) {
                jar.store(&v);
            }
        }
        jar.store(&HeaderValue::from_bytes(b"utf=\xc3\xa9").unwrap());
        assert_eq!(jar.len(), 0);
        set(&mut jar, "empty=");
        set(&mut jar, "quoted=\"a b\"");
        assert_eq!(jar.header().unwrap(), "empty=; quoted=\"a b\"");
    }

    #[test]
    fn bounded_count_and_size() {
        let mut jar = CookieJar::default();
        for i in 0..MAX_COOKIES + 5 {
            set(&mut jar, &format!("c{i}=v"));
        }
        assert_eq!(jar.len(), MAX_COOKIES);
        // Updating an existing name still works when full.
        set(&mut jar, "c0=w");
        assert!(jar.header().unwrap().to_str().unwrap().starts_with("c0=w;"));

        let mut jar = CookieJar::default();
        set(&mut jar, &format!("big={}", "x".repeat(MAX_COOKIE_LEN)));
        assert_eq!(jar.len(), 0);
        jar.clear();
        assert!(jar.header().is_none());
    }
}
