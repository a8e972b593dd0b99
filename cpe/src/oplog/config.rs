//! The checked `[log]` section, shared by `cpe` and `acs-sim`.
//!
//! ```toml
//! [log]
//! format = "text"          # or "json"
//! throttle = 5             # lines per code per minute, 0 (no limit) to 10000
//! syslog = true            # also to /dev/log; or a socket path; default false
//! ```

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::{ConfigError, LogFormat, LogSection};

/// Lines of one code per minute when `[log] throttle` is not set.
pub const DEFAULT_THROTTLE: u32 = 5;

/// The highest `[log] throttle`.
pub const MAX_THROTTLE: u32 = 10_000;

/// The socket of `[log] syslog = true`.
pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";

/// The longest socket path: `sun_path` holds 108 bytes with the terminating NUL (unix(7)).
const MAX_SOCKET_PATH: usize = 107;

/// `[log] syslog`: `true` for [`DEFAULT_SYSLOG_SOCKET`], `false`, or a socket path.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum SyslogSetting {
    /// On (the system's socket) or off.
    Enabled(bool),
    /// On, to this socket.
    Socket(PathBuf),
}

/// How a program logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// Text or JSON lines.
    pub format: LogFormat,
    /// Lines of one code per minute; 0 means no limit.
    pub throttle: u32,
    /// The syslog socket the coded lines also go to.
    pub syslog: Option<PathBuf>,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            throttle: DEFAULT_THROTTLE,
            syslog: None,
        }
    }
}

impl LogConfig {
    /// Checks `section`, with `format` (a flag or variable) over `section.format`.
    pub fn resolve(section: LogSection, format: Option<String>) -> Result<Self, ConfigError> {
        let format = match format.or(section.format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    field: "log.format",
                    value: other.into(),
                    allowed: "text or json",
                });
            }
        };
        let throttle = section.throttle.unwrap_or(DEFAULT_THROTTLE);
        if throttle > MAX_THROTTLE {
            return Err(ConfigError::Invalid {
                field: "log.throttle",
                value: throttle.to_string(),
                allowed: "lines per code per minute, 0 (no limit) to 10000",
            });
        }
        let syslog = match section.syslog {
            None | Some(SyslogSetting::Enabled(false)) => None,
            Some(SyslogSetting::Enabled(true)) => Some(PathBuf::from(DEFAULT_SYSLOG_SOCKET)),
            Some(SyslogSetting::Socket(path)) => {
                let length = path.as_os_str().len();
                if !(1..=MAX_SOCKET_PATH).contains(&length) {
                    return Err(ConfigError::Invalid {
                        field: "log.syslog",
                        value: path.display().to_string(),
                        allowed: "true, false, or a socket path of 1 to 107 bytes",
                    });
                }
                Some(path)
            }
        };
        Ok(Self {
            format,
            throttle,
            syslog,
        })
    }
}
