//! ACS authentication of the CPE (TR-069 Amd 6 §3.4.4, §3.4.5): answer a 401 challenge with
//! HTTP Basic (only over TLS unless explicitly allowed) or Digest (RFC 7616: MD5 or SHA-256,
//! `qop=auth`), then authorize the session's later requests pre-emptively.

use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, HeaderValue};
use http_auth::{PasswordClient, PasswordParams};
use tracing::debug;

use super::config::Credentials;
use super::error::TransportError;

/// The authentication state of one session.
#[derive(Debug, Default)]
pub(crate) struct Authenticator {
    credentials: Option<Credentials>,
    /// The answer to the latest challenge; `Some` means every request is authorized.
    client: Option<PasswordClient>,
}

impl Authenticator {
    pub(crate) fn new(credentials: Option<Credentials>) -> Self {
        Self {
            credentials,
            client: None,
        }
    }

    /// The `Authorization` header for a `method` request to `target` (the request-target
    /// exactly as sent, RFC 7616 §3.4 `uri`), once a challenge was received. Each Digest answer
    /// counts `nc` up by one.
    pub(crate) fn authorization(
        &mut self,
        method: &str,
        target: &str,
        body: &[u8],
    ) -> Result<Option<HeaderValue>, TransportError> {
        let (Some(client), Some(credentials)) = (&mut self.client, &self.credentials) else {
            return Ok(None);
        };
        let params = |body| PasswordParams {
            username: &credentials.username,
            password: &credentials.password,
            uri: target,
            method,
            body,
        };
        // Without the body http-auth can only pick `qop=auth` (what TR-069 ACSes expect);
        // offer the body only to a server that insists on `auth-int`. A failed `respond`
        // does not count `nc` up.
        let value = client
            .respond(&params(None))
            .or_else(|_| client.respond(&params(Some(body))))
            .map_err(|reason| TransportError::BadChallenge { reason })?;
        HeaderValue::from_str(&value)
            .map(Some)
            .map_err(|_| TransportError::BadChallenge {
                reason: "credentials cannot be sent in an HTTP header".into(),
            })
    }

    /// Takes the challenges of a 401 response. Returns whether the server flagged the previous
    /// Digest nonce as merely stale (RFC 7616 §3.3), in which case the credentials were right.
    pub(crate) fn challenge(
        &mut self,
        headers: &HeaderMap,
        basic_allowed: bool,
    ) -> Result<bool, TransportError> {
        if self.credentials.is_none() {
            return Err(TransportError::AuthRequired);
        }
        let mut builder = PasswordClient::builder();
        let mut seen = false;
        for value in headers.get_all(WWW_AUTHENTICATE) {
            if let Ok(value) = value.to_str() {
                builder = builder.challenges(value);
                seen = true;
            }
        }
        if !seen {
            return Err(TransportError::BadChallenge {
                reason: "401 without a WWW-Authenticate header".into(),
            });
        }
        let client = builder
            .build()
            .map_err(|reason| TransportError::BadChallenge { reason })?;
        let stale = match &client {
            PasswordClient::Basic(_) if !basic_allowed => {
                return Err(TransportError::BasicOverPlainHttp);
            }
            PasswordClient::Digest(digest) => {
                debug!(realm = digest.realm(), algorithm = ?digest.algorithm(), "Digest challenge");
                digest.stale()
            }
            _ => false,
        };
        self.client = Some(client);
        Ok(stale)
    }

    /// The realm of the current challenge.
    pub(crate) fn realm(&self) -> Option<String> {
        match self.client.as_ref()? {
            PasswordClient::Basic(basic) => Some(basic.realm().to_owned()),
            PasswordClient::Digest(digest) => Some(digest.realm().to_owned()),
            _ => None,
        }
    }

    /// Forgets the challenge (credentials rejected, or the session moved to another server).
    pub(crate) fn reset(&mut self) {
        self.client = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(WWW_AUTHENTICATE, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn no_challenge_no_header() {
        let mut auth = Authenticator::new(Some(Credentials::new("u", "p")));
        assert_eq!(auth.authorization("POST", "/", b"").unwrap(), None);
    }

    #[test]
    fn prefers_digest_over_basic() {
        let mut auth = Authenticator::new(Some(Credentials::new("u", "p")));
        let stale = auth
            .challenge(
                &headers(&[
                    "Basic realm=\"acs\"",
                    "Digest realm=\"acs\", qop=\"auth\", nonce=\"n1\"",
                ]),
                false,
            )
            .unwrap();
        assert!(!stale);
        let first = auth.authorization("POST", "/acs", b"x").unwrap().unwrap();
        let first = first.to_str().unwrap();
        assert!(first.starts_with("Digest "), "{first}");
        assert!(first.contains("nc=00000001"), "{first}");
        let second = auth.authorization("POST", "/acs", b"").unwrap().unwrap();
        assert!(second.to_str().unwrap().contains("nc=00000002"));
        assert_eq!(auth.realm().as_deref(), Some("acs"));
    }

    #[test]
    fn digest_prefers_qop_auth_and_falls_back_to_auth_int() {
        let mut auth = Authenticator::new(Some(Credentials::new("u", "p")));
        auth.challenge(
            &headers(&["Digest realm=\"r\", qop=\"auth-int, auth\", nonce=\"n\""]),
            false,
        )
        .unwrap();
        let value = auth.authorization("POST", "/", b"<x/>").unwrap().unwrap();
        assert!(value.to_str().unwrap().contains("qop=auth,"), "{value:?}");

        auth.challenge(
            &headers(&["Digest realm=\"r\", qop=\"auth-int\", nonce=\"n\""]),
            false,
        )
        .unwrap();
        let value = auth.authorization("POST", "/", b"<x/>").unwrap().unwrap();
        let value = value.to_str().unwrap();
        assert!(value.contains("qop=auth-int"), "{value}");
        assert!(value.contains("nc=00000001"), "{value}");
    }

    #[test]
    fn basic_needs_permission_on_plain_http() {
        let mut auth = Authenticator::new(Some(Credentials::new("u", "p")));
        let basic = headers(&["Basic realm=\"acs\""]);
        assert!(matches!(
            auth.challenge(&basic, false),
            Err(TransportError::BasicOverPlainHttp)
        ));
        auth.challenge(&basic, true).unwrap();
        assert_eq!(
            auth.authorization("POST", "/", b"").unwrap().unwrap(),
            http_auth::basic::encode_credentials("u", "p")
        );
    }

    #[test]
    fn errors_are_typed() {
        let mut anonymous = Authenticator::new(None);
        assert!(matches!(
            anonymous.challenge(&headers(&["Basic realm=\"x\""]), true),
            Err(TransportError::AuthRequired)
        ));
        let mut auth = Authenticator::new(Some(Credentials::new("u", "p")));
        for bad in [&[][..], &["Negotiate abc"][..], &["Digest realm=\"x\""][..]] {
            assert!(
                matches!(
                    auth.challenge(&headers(bad), true),
                    Err(TransportError::BadChallenge { .. })
                ),
                "{bad:?}"
            );
        }
        let stale = auth
            .challenge(
                &headers(&["Digest realm=\"x\", nonce=\"n2\", qop=\"auth\", stale=true"]),
                false,
            )
            .unwrap();
        assert!(stale);
        auth.reset();
        assert_eq!(auth.authorization("POST", "/", b"").unwrap(), None);
    }
}
