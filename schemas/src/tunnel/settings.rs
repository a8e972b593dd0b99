//! The tunnel's configuration, with the ranges of the H3C cloud-connection command reference
//! (PROTOCOL.md §4.3): `cloud-management server domain` (1-253 characters, case-sensitive, no
//! default), `... server port` (1-65535, default 443), `cloud-management keepalive` (10-600 s,
//! default 180) and `cloud-management ping` (10-600 s, default 60).

use std::fmt;
use std::time::Duration;

/// The allowed range and default of a numeric setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettingRange {
    /// The least value allowed.
    pub min: u16,
    /// The most value allowed.
    pub max: u16,
    /// The value when none is configured.
    pub default: u16,
}

impl SettingRange {
    /// Whether `value` is inside the range.
    pub fn contains(self, value: u16) -> bool {
        (self.min..=self.max).contains(&value)
    }
}

/// `cloud-management server port`: 1-65535, default 443.
pub const PORT: SettingRange = SettingRange {
    min: 1,
    max: 65535,
    default: 443,
};

/// `cloud-management keepalive`, seconds: 10-600, default 180.
pub const KEEPALIVE: SettingRange = SettingRange {
    min: 10,
    max: 600,
    default: 180,
};

/// `cloud-management ping`, seconds: 10-600, default 60.
pub const PING: SettingRange = SettingRange {
    min: 10,
    max: 600,
    default: 60,
};

/// Longest `cloud-management server domain`, in characters (bytes: the domain is ASCII or
/// is refused).
pub const MAX_DOMAIN_LEN: usize = 253;

/// Keepalive periods without an answer after which the tunnel is down ("Keepalive expired")
/// and the device registers again.
pub const KEEPALIVE_MISSES: u32 = 3;

/// A setting, named in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Setting {
    /// The server domain.
    Domain,
    /// The server port.
    Port,
    /// The keepalive period.
    Keepalive,
    /// The ping period.
    Ping,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Domain => "cloud-management server domain",
            Self::Port => "cloud-management server port",
            Self::Keepalive => "cloud-management keepalive",
            Self::Ping => "cloud-management ping",
        })
    }
}

/// Why a setting was refused; the message names the setting and what it allows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingError {
    /// A number outside its range.
    #[error("{setting} {value} is outside {min}-{max}")]
    OutOfRange {
        /// The setting.
        setting: Setting,
        /// The value refused.
        value: u16,
        /// The least allowed.
        min: u16,
        /// The most allowed.
        max: u16,
    },
    /// The domain is empty or longer than [`MAX_DOMAIN_LEN`].
    #[error("{} must be 1-{MAX_DOMAIN_LEN} characters, got {len}", Setting::Domain)]
    DomainLength {
        /// Its length in bytes.
        len: usize,
    },
    /// The domain holds a character a host name cannot (not printable ASCII, a space, `/`,
    /// `:`, `@`, ...).
    #[error("{} holds the character {character:?}", Setting::Domain)]
    DomainCharacter {
        /// The first offending character.
        character: char,
    },
}

/// The tunnel's configuration, valid by construction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CloudSettings {
    domain: String,
    port: u16,
    keepalive: u16,
    ping: u16,
}

impl CloudSettings {
    /// Checks each value against its range. The domain is kept as given (it is
    /// case-sensitive); it may hold letters, digits, `-`, `.` and `_`.
    pub fn new(
        domain: impl Into<String>,
        port: u16,
        keepalive: u16,
        ping: u16,
    ) -> Result<Self, SettingError> {
        let domain = domain.into();
        check_domain(&domain)?;
        check(Setting::Port, PORT, port)?;
        check(Setting::Keepalive, KEEPALIVE, keepalive)?;
        check(Setting::Ping, PING, ping)?;
        Ok(Self {
            domain,
            port,
            keepalive,
            ping,
        })
    }

    /// `domain` with the default port, keepalive and ping.
    pub fn with_defaults(domain: impl Into<String>) -> Result<Self, SettingError> {
        Self::new(domain, PORT.default, KEEPALIVE.default, PING.default)
    }

    /// The server domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The server port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The keepalive period in seconds.
    pub fn keepalive(&self) -> u16 {
        self.keepalive
    }

    /// The ping period in seconds.
    pub fn ping(&self) -> u16 {
        self.ping
    }

    /// The keepalive period.
    pub fn keepalive_period(&self) -> Duration {
        Duration::from_secs(self.keepalive.into())
    }

    /// How long after the last keepalive answer the tunnel counts as down:
    /// [`KEEPALIVE_MISSES`] periods.
    pub fn keepalive_expiry(&self) -> Duration {
        self.keepalive_period() * KEEPALIVE_MISSES
    }

    /// The ping period.
    pub fn ping_period(&self) -> Duration {
        Duration::from_secs(self.ping.into())
    }

    /// Whether moving from `self` to `next` must drop the tunnel ("Configuration changed"):
    /// the domain or the port differ. Keepalive and ping apply on the running tunnel.
    pub fn requires_reconnect(&self, next: &Self) -> bool {
        self.domain != next.domain || self.port != next.port
    }
}

fn check(setting: Setting, range: SettingRange, value: u16) -> Result<(), SettingError> {
    if range.contains(value) {
        Ok(())
    } else {
        Err(SettingError::OutOfRange {
            setting,
            value,
            min: range.min,
            max: range.max,
        })
    }
}

fn check_domain(domain: &str) -> Result<(), SettingError> {
    if domain.is_empty() || domain.len() > MAX_DOMAIN_LEN {
        return Err(SettingError::DomainLength { len: domain.len() });
    }
    match domain
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        Some(character) => Err(SettingError::DomainCharacter { character }),
        None => Ok(()),
    }
}
