//! ACS URLs: parsed once at the boundary, then carried as [`AcsUrl`].

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use http::Uri;

use super::TransportError;

/// The scheme of an [`AcsUrl`]: TR-069 Amd 6 §3.4 allows only HTTP and HTTPS (§3.3: TLS).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http`: plain TCP, default port 80.
    Http,
    /// `https`: TLS over TCP (TR-069 Amd 6 §3.3), default port 443.
    Https,
}

impl Scheme {
    /// The port used when the URL names none.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }

    /// The scheme as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// A parsed ACS URL (`ManagementServer.URL`, or a redirect target within a session).
///
/// Only `http` and `https` with a host are accepted; user information in the URL is refused
/// (the ACS credentials are `ManagementServer.Username`/`Password`, TR-069 Amd 6 §3.4.4), and
/// a fragment is dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcsUrl {
    scheme: Scheme,
    /// Host without IPv6 brackets, lowercased.
    host: String,
    port: u16,
    /// Origin-form request target, always starting with `/`.
    path_and_query: String,
}

impl AcsUrl {
    /// The URL's scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host name or IP address, without the brackets of an IPv6 literal.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port (the scheme's default when the URL names none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The origin-form request target (`/path?query`).
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }

    /// Whether the URL uses TLS.
    pub fn is_https(&self) -> bool {
        self.scheme == Scheme::Https
    }

    /// `host:port` as used by `CONNECT` and connection errors (IPv6 literals in brackets).
    pub fn authority(&self) -> String {
        format!("{}:{}", self.bracketed_host(), self.port)
    }

    /// The `Host` header value: the port is left out when it is the scheme's default.
    pub(crate) fn host_header(&self) -> String {
        if self.port == self.scheme.default_port() {
            self.bracketed_host().into_owned()
        } else {
            self.authority()
        }
    }

    /// Whether `other` is reached over the same connection: same scheme, host and port.
    pub(crate) fn same_origin(&self, other: &Self) -> bool {
        self.scheme == other.scheme && self.host == other.host && self.port == other.port
    }

    /// Resolves a `Location` header value against this URL (RFC 9110 §10.2.2 allows a
    /// relative reference).
    pub(crate) fn join(&self, location: &str) -> Result<Self, TransportError> {
        let location = location.trim();
        if location.starts_with("http://") || location.starts_with("https://") {
            return location.parse();
        }
        if location.starts_with("//") {
            return format!("{}:{location}", self.scheme.as_str()).parse();
        }
        let target = if location.starts_with('/') {
            location.to_owned()
        } else {
            // A relative path replaces the last segment of the current path.
            let path = self.path_and_query.split('?').next().unwrap_or("/");
            let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
            format!("{dir}{location}")
        };
        format!("{}://{}{target}", self.scheme.as_str(), self.authority()).parse()
    }

    fn bracketed_host(&self) -> std::borrow::Cow<'_, str> {
        if self.host.contains(':') {
            format!("[{}]", self.host).into()
        } else {
            self.host.as_str().into()
        }
    }
}

impl FromStr for AcsUrl {
    type Err = TransportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &'static str| TransportError::InvalidUrl {
            url: s.to_owned(),
            reason,
        };
        // `http::Uri` does not accept fragments; they mean nothing to the server anyway.
        let without_fragment = s.trim().split('#').next().unwrap_or_default();
        let uri: Uri = without_fragment
            .parse()
            .map_err(|_| invalid("not a valid URI"))?;
        let scheme = match uri.scheme_str() {
            Some(scheme) if scheme.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(scheme) if scheme.eq_ignore_ascii_case("https") => Scheme::Https,
            Some(_) => return Err(invalid("scheme must be http or https")),
            None => return Err(invalid("not an absolute URL")),
        };
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("user information in the URL is not supported"));
        }
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        if host.contains(':') && host.parse::<IpAddr>().is_err() {
            return Err(invalid("bad IPv6 literal"));
        }
        let raw = authority.as_str();
        let host_end = if raw.starts_with('[') {
            raw.find(']').map_or(raw.len(), |i| i + 1)
        } else {
            raw.find(':').unwrap_or(raw.len())
        };
        let port = match raw[host_end..].strip_prefix(':') {
            Some(port) => port.parse::<u16>().map_err(|_| invalid("bad port"))?,
            None => scheme.default_port(),
        };
        if port == 0 {
            return Err(invalid("port 0"));
        }
        let path_and_query = match uri.path_and_query().map(|p| p.as_str()) {
            Some(p) if p.starts_with('/') => p.to_owned(),
            Some(p) if !p.is_empty() => format!("/{p}"),
            _ => "/".to_owned(),
        };
        Ok(Self {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            path_and_query,
        })
    }
}

impl fmt::Display for AcsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.as_str(),
            self.host_header(),
            self.path_and_query
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> AcsUrl {
        s.parse().unwrap()
    }

    #[test]
    fn parses_defaults_and_ports() {
        let u = url("http://ACS.Example.com/cwmp?x=1");
        assert_eq!(u.scheme(), Scheme::Http);
        assert_eq!(u.host(), "acs.example.com");
        assert_eq!(u.port(), 80);
        assert_eq!(u.path_and_query(), "/cwmp?x=1");
        assert_eq!(u.host_header(), "acs.example.com");
        assert_eq!(u.to_string(), "http://acs.example.com/cwmp?x=1");

        let u = url("https://acs:7548");
        assert_eq!(u.port(), 7548);
        assert_eq!(u.path_and_query(), "/");
        assert_eq!(u.host_header(), "acs:7548");
        assert!(u.is_https());
    }

    #[test]
    fn parses_ipv6() {
        let u = url("https://[::1]:8443/acs#frag");
        assert_eq!(u.host(), "::1");
        assert_eq!(u.authority(), "[::1]:8443");
        assert_eq!(u.to_string(), "https://[::1]:8443/acs");
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "",
            "acs.example.com/cwmp",
            "ftp://acs/",
            "http://user:pw@acs/",
            "http://:80/",
            "http://acs:0/",
            "http://acs:99999/",
            "http://[zz::1]/",
        ] {
            let err = bad.parse::<AcsUrl>().unwrap_err();
            assert!(
                matches!(err, TransportError::InvalidUrl { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn joins_locations() {
        let base = url("http://acs:7547/a/b?q");
        assert_eq!(base.join("/c").unwrap().to_string(), "http://acs:7547/c");
        assert_eq!(base.join("c").unwrap().to_string(), "http://acs:7547/a/c");
        assert_eq!(
            base.join("https://other/x").unwrap().to_string(),
            "https://other/x"
        );
        assert_eq!(
            base.join("//h2:81/y").unwrap().to_string(),
            "http://h2:81/y"
        );
        assert!(base.join("http://[bad").is_err());
    }

    #[test]
    fn origin_comparison() {
        let a = url("http://acs:7547/a");
        assert!(a.same_origin(&url("http://ACS:7547/b")));
        assert!(!a.same_origin(&url("https://acs:7547/a")));
        assert!(!a.same_origin(&url("http://acs:7548/a")));
    }
}
