//! Which proxy, if any, each outbound connection uses: the `[proxy]` configuration, else the
//! usual environment variables, and the `no_proxy` exceptions with curl's semantics. Sans-IO.

use std::net::IpAddr;
use std::sync::Arc;

use super::proxy::Proxy;
use crate::transport::{Credentials, ProxyConfig, TransportError};

/// Most `no_proxy` entries accepted.
pub const MAX_NO_PROXY_ENTRIES: usize = 256;

/// Longest `no_proxy` entry (a DNS name is at most 253 characters).
const MAX_ENTRY_LEN: usize = 253;

/// The proxy settings as configured (`[proxy]`); what is left out comes from the
/// environment ([`ProxySettings::from_options`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyOptions {
    /// `url`: `http://host:port` of the proxy for every outbound connection.
    pub url: Option<String>,
    /// `no_proxy`: hosts reached directly.
    pub no_proxy: Option<Vec<String>>,
    /// `username` / `password` for `Proxy-Authorization: Basic`.
    pub credentials: Option<Credentials>,
}

/// Which proxy serves which targets: what [`ProxyPolicy::new`] parses.
#[derive(Clone, Debug, Default)]
pub struct ProxySettings {
    /// The proxy for `http://` targets (absolute-form requests).
    pub http: Option<ProxyConfig>,
    /// The proxy for `https://` and `wss://` targets (`CONNECT` tunnels).
    pub https: Option<ProxyConfig>,
    /// Targets reached directly: host names, domain suffixes, IP addresses, CIDR blocks or
    /// `*`; each entry may hold several separated by commas ([`NoProxy`]).
    pub no_proxy: Vec<String>,
}

impl ProxySettings {
    /// One proxy for every target.
    pub fn all(proxy: ProxyConfig) -> Self {
        Self {
            http: Some(proxy.clone()),
            https: Some(proxy),
            no_proxy: Vec::new(),
        }
    }

    /// The settings from `options`, completed from the environment (read through `env`):
    ///
    /// - a configured `url` serves every target and the environment's proxies are ignored;
    /// - otherwise `https` targets use `https_proxy` / `HTTPS_PROXY`, `http` targets
    ///   `http_proxy` / `HTTP_PROXY`, and both fall back to `all_proxy` / `ALL_PROXY`
    ///   (lowercase first, as curl reads them; an empty value counts as unset);
    /// - a configured `no_proxy` wins over `no_proxy` / `NO_PROXY`;
    /// - configured credentials go to whichever proxy is used (user information in the URL
    ///   serves when none are configured).
    pub fn from_options(options: &ProxyOptions, env: impl Fn(&str) -> Option<String>) -> Self {
        let var = |names: &[&str]| {
            names
                .iter()
                .find_map(|name| env(name).filter(|v| !v.trim().is_empty()))
        };
        let proxy = |url: String| ProxyConfig {
            url,
            credentials: options.credentials.clone(),
        };
        let all = || var(&["all_proxy", "ALL_PROXY"]);
        let (http, https) = match &options.url {
            Some(url) => (Some(url.clone()), Some(url.clone())),
            None => (
                var(&["http_proxy", "HTTP_PROXY"]).or_else(all),
                var(&["https_proxy", "HTTPS_PROXY"]).or_else(all),
            ),
        };
        let no_proxy = match &options.no_proxy {
            Some(list) => list.clone(),
            None => var(&["no_proxy", "NO_PROXY"]).into_iter().collect(),
        };
        Self {
            http: http.map(proxy),
            https: https.map(proxy),
            no_proxy,
        }
    }
}

/// The parsed [`ProxySettings`]: cheap to clone, shared by the CWMP transport, the file
/// transfers and the cloud tunnel.
#[derive(Clone, Debug, Default)]
pub struct ProxyPolicy {
    http: Option<Arc<Proxy>>,
    https: Option<Arc<Proxy>>,
    no_proxy: NoProxy,
}

impl ProxyPolicy {
    /// Parses the proxies and the `no_proxy` list.
    pub fn new(settings: &ProxySettings) -> Result<Self, TransportError> {
        let parse = |config: &Option<ProxyConfig>| {
            config
                .as_ref()
                .map(|c| Proxy::from_config(c).map(Arc::new))
                .transpose()
        };
        let no_proxy = NoProxy::parse(settings.no_proxy.iter().map(String::as_str)).map_err(
            |InvalidNoProxy { entry, reason }| TransportError::InvalidUrl { url: entry, reason },
        )?;
        Ok(Self {
            http: parse(&settings.http)?,
            https: parse(&settings.https)?,
            no_proxy,
        })
    }

    /// The proxy for a connection to `host` over a secure (`https`, `wss`) or plain scheme,
    /// or `None` to connect directly.
    pub fn proxy_for(&self, secure: bool, host: &str) -> Option<&Proxy> {
        let proxy = if secure { &self.https } else { &self.http };
        let proxy = proxy.as_deref()?;
        (!self.no_proxy.matches(host)).then_some(proxy)
    }
}

/// A `no_proxy` entry that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no_proxy entry {entry:?}: {reason}")]
pub struct InvalidNoProxy {
    /// The entry.
    pub entry: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// The hosts reached without the proxy, with curl's `NO_PROXY` semantics:
///
/// - `*` alone matches every host;
/// - a name matches itself and every name under it (`example.net` and `.example.net` both
///   match `example.net` and `acs.example.net`, not `badexample.net`), case-insensitively;
/// - an IP address matches that address given as a literal host (names are not resolved);
/// - a CIDR block (`10.0.0.0/8`, `fd00::/8`) matches literal addresses inside it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoProxy {
    all: bool,
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Name(String),
    Net(IpAddr, u8),
}

impl NoProxy {
    /// Reads `lists`: each item one entry or several separated by commas or blanks.
    pub fn parse<'a>(lists: impl IntoIterator<Item = &'a str>) -> Result<Self, InvalidNoProxy> {
        let mut parsed = Self::default();
        let items = lists
            .into_iter()
            .flat_map(|l| l.split(|c: char| c == ',' || c.is_whitespace()))
            .filter(|e| !e.is_empty());
        for item in items {
            if parsed.entries.len() >= MAX_NO_PROXY_ENTRIES {
                return Err(invalid(item, "more than 256 entries"));
            }
            if item == "*" {
                parsed.all = true;
                continue;
            }
            parsed.entries.push(entry(item)?);
        }
        Ok(parsed)
    }

    /// Whether `host` (a name, or an IP literal with or without brackets) is reached
    /// directly.
    pub fn matches(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|entry| match (entry, ip) {
            (Entry::Net(net, prefix), Some(ip)) => in_block(ip, *net, *prefix),
            (Entry::Name(name), None) => {
                host == *name
                    || host
                        .strip_suffix(name.as_str())
                        .is_some_and(|head| head.ends_with('.'))
            }
            _ => false,
        })
    }
}

fn invalid(entry: &str, reason: &'static str) -> InvalidNoProxy {
    InvalidNoProxy {
        entry: entry.to_owned(),
        reason,
    }
}

fn entry(item: &str) -> Result<Entry, InvalidNoProxy> {
    if item.len() > MAX_ENTRY_LEN {
        return Err(invalid(item, "longer than 253 characters"));
    }
    if let Some((address, prefix)) = item.split_once('/') {
        let block = "a CIDR block is an IP address, '/' and a prefix length";
        let ip: IpAddr = unbracket(address)
            .parse()
            .map_err(|_| invalid(item, block))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| invalid(item, "prefix length beyond the address's bits"))?;
        return Ok(Entry::Net(ip, prefix));
    }
    if let Ok(ip) = unbracket(item).parse::<IpAddr>() {
        return Ok(Entry::Net(ip, if ip.is_ipv4() { 32 } else { 128 }));
    }
    let name = item.trim_start_matches('.').trim_end_matches('.');
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if !valid {
        return Err(invalid(
            item,
            "not a host name, domain suffix, IP address, CIDR block or *",
        ));
    }
    Ok(Entry::Name(name.to_ascii_lowercase()))
}

fn unbracket(text: &str) -> &str {
    text.strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text)
}

/// Whether `ip` lies in `net/prefix` (families never match each other).
fn in_block(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let (ip, net, bits) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(a.to_bits()), u128::from(b.to_bits()), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.to_bits(), b.to_bits(), 128),
        _ => return false,
    };
    let shift = bits - u32::from(prefix);
    shift >= bits || ip >> shift == net >> shift
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn no_proxy(list: &str) -> NoProxy {
        NoProxy::parse([list]).unwrap()
    }

    #[test]
    fn names_match_themselves_and_their_subdomains_only() {
        for list in ["example.net", ".example.net", "EXAMPLE.net."] {
            let np = no_proxy(list);
            assert!(np.matches("example.net"), "{list}");
            assert!(np.matches("acs.Example.NET"), "{list}");
            assert!(np.matches("a.b.example.net."), "{list}");
            assert!(!np.matches("badexample.net"), "{list}");
            assert!(!np.matches("example.net.evil"), "{list}");
            assert!(!np.matches("192.0.2.1"), "{list}");
        }
    }

    #[test]
    fn addresses_and_blocks_match_literal_hosts() {
        let np = no_proxy("192.0.2.7, 10.0.0.0/8 [fd00::1] 2001:db8::/32");
        assert!(np.matches("192.0.2.7"));
        assert!(!np.matches("192.0.2.8"));
        assert!(np.matches("10.255.0.1"));
        assert!(!np.matches("11.0.0.1"));
        assert!(np.matches("[fd00::1]"));
        assert!(np.matches("fd00::1"));
        assert!(np.matches("2001:db8:ffff::9"));
        assert!(!np.matches("2001:db9::1"));
        // Names are not resolved.
        assert!(!np.matches("localhost"));
        let everything = no_proxy("0.0.0.0/0");
        assert!(everything.matches("198.51.100.1") && !everything.matches("::1"));
    }

    #[test]
    fn a_star_matches_every_host_and_an_empty_list_none() {
        assert!(no_proxy("*").matches("anything.example"));
        assert!(no_proxy("*").matches("::1"));
        assert!(!no_proxy("").matches("anything.example"));
        assert!(!no_proxy(" , ").matches("127.0.0.1"));
    }

    #[test]
    fn bad_entries_are_refused_with_the_entry_named() {
        for bad in [
            "10.0.0.0/33",
            "fd00::/129",
            "host/8",
            "bad host!",
            "10.0.0.0/x",
            ".",
        ] {
            let error = NoProxy::parse([bad]).unwrap_err();
            assert!(bad.contains(error.entry.as_str()), "{bad}: {error}");
        }
        let long = "a".repeat(254);
        assert!(NoProxy::parse([long.as_str()]).is_err());
        let many = vec!["h"; MAX_NO_PROXY_ENTRIES + 1];
        assert!(NoProxy::parse(many).is_err());
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    fn urls(settings: &ProxySettings) -> (Option<&str>, Option<&str>) {
        (
            settings.http.as_ref().map(|p| p.url.as_str()),
            settings.https.as_ref().map(|p| p.url.as_str()),
        )
    }

    #[test]
    fn the_environment_picks_a_proxy_per_scheme_with_all_proxy_as_fallback() {
        let vars = env(&[
            ("HTTPS_PROXY", "http://secure:3128"),
            ("ALL_PROXY", "http://any:3128"),
            ("NO_PROXY", "internal.example,10.0.0.0/8"),
        ]);
        let settings = ProxySettings::from_options(&ProxyOptions::default(), vars);
        assert_eq!(
            urls(&settings),
            (Some("http://any:3128"), Some("http://secure:3128"))
        );
        assert_eq!(settings.no_proxy, ["internal.example,10.0.0.0/8"]);

        // Lowercase first; empty counts as unset.
        let vars = env(&[
            ("http_proxy", "http://lower:1"),
            ("HTTP_PROXY", "http://upper:1"),
            ("https_proxy", " "),
        ]);
        let settings = ProxySettings::from_options(&ProxyOptions::default(), vars);
        assert_eq!(urls(&settings), (Some("http://lower:1"), None));
    }

    #[test]
    fn the_configuration_beats_the_environment() {
        let vars = env(&[
            ("https_proxy", "http://env:3128"),
            ("no_proxy", "env.example"),
        ]);
        let options = ProxyOptions {
            url: Some("http://configured:8080".into()),
            no_proxy: Some(vec!["cfg.example".into()]),
            credentials: Some(Credentials::new("u", "p")),
        };
        let settings = ProxySettings::from_options(&options, vars);
        assert_eq!(
            urls(&settings),
            (
                Some("http://configured:8080"),
                Some("http://configured:8080")
            )
        );
        assert_eq!(settings.no_proxy, ["cfg.example"]);
        assert_eq!(
            settings.https.unwrap().credentials,
            Some(Credentials::new("u", "p"))
        );
        // Configured credentials also go to a proxy from the environment.
        let options = ProxyOptions {
            credentials: Some(Credentials::new("u", "p")),
            ..ProxyOptions::default()
        };
        let settings = ProxySettings::from_options(&options, env(&[("ALL_PROXY", "p:1")]));
        assert!(settings.http.unwrap().credentials.is_some());
    }

    #[test]
    fn the_policy_sends_each_target_to_its_proxy_unless_excepted() {
        let settings = ProxySettings {
            http: Some(ProxyConfig {
                url: "http://plain.proxy:3128".into(),
                credentials: None,
            }),
            https: Some(ProxyConfig {
                url: "http://tls.proxy:3128".into(),
                credentials: None,
            }),
            no_proxy: vec!["lan.example".into(), "192.168.0.0/16".into()],
        };
        let policy = ProxyPolicy::new(&settings).unwrap();
        let via = |secure, host| policy.proxy_for(secure, host).map(Proxy::authority);
        assert_eq!(via(true, "acs.example"), Some("tls.proxy:3128".into()));
        assert_eq!(via(false, "acs.example"), Some("plain.proxy:3128".into()));
        assert_eq!(via(true, "acs.lan.example"), None);
        assert_eq!(via(false, "192.168.1.1"), None);
        assert!(
            ProxyPolicy::default()
                .proxy_for(true, "acs.example")
                .is_none()
        );

        let bad = ProxySettings {
            no_proxy: vec!["10.0.0.0/99".into()],
            ..settings
        };
        assert!(matches!(
            ProxyPolicy::new(&bad),
            Err(TransportError::InvalidUrl { .. })
        ));
    }
}
