//! `cpe dhcp probe`: the agent's own DHCP client for ACS discovery (TR-069 §3.1, PROTOCOL.md
//! §2.2), for boxes without a cooperative operating-system client.
//!
//! | Family | Interface has an IPv4 address | Message | Answer taken |
//! |---|---|---|---|
//! | DHCPv4 | yes | DHCPINFORM, `ciaddr` set (RFC 2131 §3.4) | DHCPACK |
//! | DHCPv4 | no | DHCPDISCOVER, broadcast flag (RFC 2131 §3.1, §4.1); no DHCPREQUEST ever follows, so no lease is taken | DHCPOFFER |
//! | DHCPv6 | - | Information-request (RFC 8415 §18.2.6) | Reply |
//!
//! Every request announces the vendor class `dslforum.org` (DHCPv4 option 60, DHCPv6 option 16
//! with enterprise 3561) and asks for the ACS options (DHCPv4 option 55 listing 43, DHCPv6 ORO
//! listing 17, and an option 17 for enterprise 3561), which is what makes a server answer with
//! option 43 or 17 (TR-069 §3.1). The answer is decoded with [`schemas::dhcp`].
//!
//! Building messages and reading answers is sans-IO ([`v4`], [`v6`]); [`driver`] sends, waits
//! and retransmits on [`Backoff`]'s schedule within [`Limits`]. An answer that is not for this
//! probe (another transaction, another client, another message type, undecodable framing) is
//! ignored and the probe keeps waiting; one that is for it but lacks the ACS option, or holds
//! one the codec refuses, ends the probe with that error.

pub mod driver;
pub mod iface;
pub mod v4;
pub mod v6;

use std::fmt;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use schemas::dhcp::{AcsDiscovery, DecodeError};
use serde::Serialize;

use super::{Cloud, Intake};

/// How the answer was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Transport {
    /// DHCPINFORM / DHCPACK.
    #[serde(rename = "dhcpv4-inform")]
    Dhcpv4Inform,
    /// DHCPDISCOVER / DHCPOFFER.
    #[serde(rename = "dhcpv4-discover")]
    Dhcpv4Discover,
    /// Information-request / Reply.
    #[serde(rename = "dhcpv6")]
    Dhcpv6,
}

impl Transport {
    /// The name printed and written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dhcpv4Inform => "dhcpv4-inform",
            Self::Dhcpv4Discover => "dhcpv4-discover",
            Self::Dhcpv6 => "dhcpv6",
        }
    }

    /// The option that carries ACS discovery on this transport: 43 or 17.
    pub fn acs_option(self) -> u16 {
        match self {
            Self::Dhcpv4Inform | Self::Dhcpv4Discover => 43,
            Self::Dhcpv6 => 17,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a server answered: its address and the decoded ACS option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// How.
    pub transport: Transport,
    /// The server: DHCPv4 option 54 (server identifier) when given, else the datagram's source.
    pub server: IpAddr,
    /// Option 43 or 17, decoded.
    pub discovery: AcsDiscovery,
}

/// Why a datagram did not end the probe with a [`Finding`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// Not an answer to this probe: ignored, the probe keeps waiting.
    #[error("not an answer to this probe: {0}")]
    NotOurs(&'static str),
    /// The server answered without the ACS option.
    #[error(
        "the DHCP server {server} answered but sent no option {option} \
         (is it configured for vendor class dslforum.org?)"
    )]
    NoAcsOption {
        /// The server.
        server: IpAddr,
        /// 43 or 17.
        option: u16,
    },
    /// The server's ACS option does not decode.
    #[error("option {option} from the DHCP server {server} refused: {reason}")]
    Refused {
        /// The server.
        server: IpAddr,
        /// 43 or 17.
        option: u16,
        /// The codec's reason.
        reason: DecodeError,
    },
}

impl ReplyError {
    /// Whether the datagram answers this probe (and so ends it).
    pub fn is_ours(&self) -> bool {
        !matches!(self, Self::NotOurs(_))
    }
}

/// Why a probe failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The interface name cannot name an interface.
    #[error("--iface {name:?}: {reason}")]
    InterfaceName {
        /// The name given.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// No interface of that name.
    #[error("no such interface: {0}")]
    NoSuchInterface(String),
    /// The interface is administratively down.
    #[error("interface {0} is down")]
    InterfaceDown(String),
    /// Reading what the system says about the interface failed.
    #[error("reading {what} of interface {name}: {source}")]
    Interface {
        /// The interface.
        name: String,
        /// What was being read.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A socket operation failed.
    #[error("{action}: {source}")]
    Socket {
        /// What was being done, e.g. `bind 0.0.0.0:68 on eth0`.
        action: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The request could not be built.
    #[error("building the {transport} request: {reason}")]
    Build {
        /// The transport.
        transport: Transport,
        /// Why.
        reason: String,
    },
    /// Nobody answered.
    #[error("no DHCP answer after {attempts} attempt(s) in {} s", timeout.as_secs())]
    NoAnswer {
        /// Requests sent.
        attempts: u32,
        /// The overall time allowed.
        timeout: Duration,
    },
    /// A server answered, unusably.
    #[error(transparent)]
    Reply(ReplyError),
}

/// How many times and how long to try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Requests sent at most (the first included).
    pub attempts: u32,
    /// Overall time allowed from the first request.
    pub timeout: Duration,
}

impl Limits {
    /// The allowed `--attempts`.
    pub const ATTEMPTS: RangeInclusive<u32> = 1..=10;
    /// The allowed `--timeout`, seconds.
    pub const TIMEOUT_SECS: RangeInclusive<u64> = 1..=300;
}

impl Default for Limits {
    /// Four attempts in a minute: DHCPv4's 4, 8 and 16 s waits fit with room for the last.
    fn default() -> Self {
        Self {
            attempts: 4,
            timeout: Duration::from_secs(60),
        }
    }
}

/// How much a retransmission delay is randomized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    /// By up to this much either way (RFC 2131 §4.1: ±1 s).
    Fixed(Duration),
    /// By up to this many percent either way (RFC 8415 §15: RAND in ±0.1).
    Percent(u32),
}

/// A retransmission schedule: the wait after each request doubles from `initial` up to `cap`,
/// randomized by `jitter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first request.
    pub initial: Duration,
    /// The longest wait before jitter.
    pub cap: Duration,
    /// The randomization.
    pub jitter: Jitter,
}

impl Backoff {
    /// RFC 2131 §4.1: 4 s, then 8 s, ... up to 64 s, each ±1 s.
    pub const DHCPV4: Self = Self {
        initial: Duration::from_secs(4),
        cap: Duration::from_secs(64),
        jitter: Jitter::Fixed(Duration::from_secs(1)),
    };

    /// RFC 8415 §15 with §7.6's Information-request values: IRT = INF_TIMEOUT = 1 s, doubling,
    /// MRT = INF_MAX_RT = 3600 s, each ±10 %.
    pub const DHCPV6: Self = Self {
        initial: Duration::from_secs(1),
        cap: Duration::from_secs(3600),
        jitter: Jitter::Percent(10),
    };

    /// The wait after request number `attempt` (0 for the first), with `random` in `-1.0..=1.0`
    /// choosing the jitter (clamped; NaN counts as 0).
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let doubled = self
            .initial
            .checked_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX))
            .unwrap_or(self.cap);
        let base = doubled.min(self.cap);
        let random = if random.is_nan() {
            0.0
        } else {
            random.clamp(-1.0, 1.0)
        };
        let spread = match self.jitter {
            Jitter::Fixed(spread) => spread.min(base),
            Jitter::Percent(percent) => base.mul_f64(f64::from(percent.min(100)) / 100.0),
        };
        let offset = spread.mul_f64(random.abs());
        if random < 0.0 {
            base.saturating_sub(offset)
        } else {
            base.saturating_add(offset)
        }
    }
}

/// What a probe prints: the checked intake, with the password hidden.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// How.
    pub transport: Transport,
    /// The server.
    pub server: IpAddr,
    /// Sub-option 1: the ACS URL.
    pub url: Option<String>,
    /// Sub-option 1, H3C user name.
    pub username: Option<String>,
    /// `(hidden)` when the option carried a password.
    pub password: Option<&'static str>,
    /// Sub-option 2.
    pub provisioning_code: Option<String>,
    /// Sub-option 3, seconds.
    pub retry_min_wait: Option<u16>,
    /// Sub-option 4, thousandths.
    pub retry_multiplier: Option<u16>,
    /// Sub-options 0x81-0x84.
    pub cloud: Cloud,
}

impl Report {
    /// What `finding` said, as checked into `intake`.
    pub fn new(finding: &Finding, intake: &Intake) -> Self {
        Self {
            transport: finding.transport,
            server: finding.server,
            url: intake.url.clone(),
            username: intake.username.clone(),
            password: intake.password.as_ref().map(|_| "(hidden)"),
            provisioning_code: intake.provisioning_code.clone(),
            retry_min_wait: intake.retry_min_wait,
            retry_multiplier: intake.retry_multiplier,
            cloud: intake.cloud.clone(),
        }
    }
}

impl fmt::Display for Report {
    /// One `name: value` line per field the server gave.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "transport:          {}", self.transport)?;
        writeln!(f, "server:             {}", self.server)?;
        let texts = [
            ("ACS URL", self.url.as_deref()),
            ("username", self.username.as_deref()),
            ("password", self.password),
            ("provisioning code", self.provisioning_code.as_deref()),
            ("cloud domain", self.cloud.domain.as_deref()),
        ];
        for (name, value) in texts {
            if let Some(value) = value {
                writeln!(f, "{:<20}{value}", format!("{name}:"))?;
            }
        }
        let numbers = [
            ("retry min wait", self.retry_min_wait),
            ("retry multiplier", self.retry_multiplier),
            ("cloud port", self.cloud.port),
            ("cloud keepalive", self.cloud.keepalive),
            ("cloud ping", self.cloud.ping),
        ];
        for (name, value) in numbers {
            if let Some(value) = value {
                writeln!(f, "{:<20}{value}", format!("{name}:"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
