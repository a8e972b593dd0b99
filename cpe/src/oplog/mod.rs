//! Operational log lines with stable mnemonic codes, after routers' `FACILITY-SEVERITY-MNEMONIC`
//! (e.g. `CWMP-3-SESSION_FAILED`), with the syslog severities of RFC 5424 §6.2.1.
//!
//! - [`oplog!`](crate::oplog!) emits a `tracing` event at the level of the code's severity,
//!   carrying the field `code`: text output starts the line with it
//!   (`CWMP-3-SESSION_FAILED: CWMP session failed error=...`), JSON output has `"code"`.
//! - [`Throttle`]: at most N lines of one code per minute; the rest are counted and reported by
//!   one `LOG-4-THROTTLED` line once the window is over, either before the next line of any
//!   code or by the periodic [`flush`] that [`init`] starts.
//! - [`SyslogLayer`]: the coded lines also go to the local syslog socket (RFC 3164).
//!
//! Both programs (`cpe`, `acs-sim`) install the same subscriber with [`init`]; every code of
//! both is in the one table [`CODES`].

mod codes;
mod config;
mod format;
mod syslog;
#[cfg(test)]
mod tests;
mod throttle;

use std::time::{Duration, Instant};

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer as _};

pub use codes::*;
pub use config::{DEFAULT_SYSLOG_SOCKET, DEFAULT_THROTTLE, LogConfig, MAX_THROTTLE, SyslogSetting};
pub use format::{CodeFirst, CodeFirstVisitor};
pub use syslog::{MAX_DATAGRAM, SyslogLayer};
pub use throttle::{Suppressed, Throttle, ThrottleLayer, WINDOW};

/// The `tracing` crate, for [`oplog!`](crate::oplog!) expanded in other crates.
#[doc(hidden)]
pub use tracing as __tracing;

/// How often [`init`]'s task reports throttled lines whose window is over.
pub const FLUSH_PERIOD: Duration = Duration::from_secs(10);

/// One log code: `FACILITY-SEVERITY-MNEMONIC` and what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code {
    /// The whole code, e.g. `CWMP-3-SESSION_FAILED`.
    pub id: &'static str,
    /// What the line is about, e.g. `CWMP`.
    pub facility: &'static str,
    /// RFC 5424 §6.2.1 severity: 0 emergency ... 7 debug.
    pub severity: u8,
    /// The event, e.g. `SESSION_FAILED`.
    pub mnemonic: &'static str,
    /// One line saying what happened.
    pub meaning: &'static str,
}

impl Code {
    /// The `tracing` level of the severity: 0-3 error, 4 warn, 5-6 info, 7 debug.
    pub const fn level(&self) -> tracing::Level {
        match self.severity {
            0..=3 => tracing::Level::ERROR,
            4 => tracing::Level::WARN,
            5 | 6 => tracing::Level::INFO,
            _ => tracing::Level::DEBUG,
        }
    }

    /// The severity's keyword (RFC 5424 §6.2.1, Table 2).
    pub const fn severity_name(&self) -> &'static str {
        match self.severity {
            0 => "emergency",
            1 => "alert",
            2 => "critical",
            3 => "error",
            4 => "warning",
            5 => "notice",
            6 => "informational",
            _ => "debug",
        }
    }

    /// The code whose id is `id`, if it is one of [`CODES`].
    pub fn find(id: &str) -> Option<&'static Self> {
        CODES.iter().find(|code| code.id == id)
    }
}

/// Emits an operational log line with a code of [`crate::oplog`]:
/// `oplog!(CWMP_SESSION_FAILED, error = %e, "CWMP session failed")`. The fields and message are
/// those of `tracing::event!`; the level is the code's, and the field `code` carries it.
/// Reports throttled lines whose window is over first ([`flush`]).
#[macro_export]
macro_rules! oplog {
    ($code:ident, $($rest:tt)+) => {{
        $crate::oplog::flush();
        $crate::oplog::__tracing::event!(
            { $crate::oplog::$code.level() },
            code = $crate::oplog::$code.id,
            $($rest)+
        )
    }};
}

/// Writes one `LOG-4-THROTTLED` line for each code whose throttle window is over with lines
/// suppressed. Does nothing when the current subscriber has no [`ThrottleLayer`].
pub fn flush() {
    let due = tracing::dispatcher::get_default(|dispatch| {
        dispatch
            .downcast_ref::<ThrottleLayer>()
            .map(|layer| layer.take_due(now()))
            .unwrap_or_default()
    });
    for suppressed in due {
        tracing::event!(
            { LOG_THROTTLED.level() },
            code = LOG_THROTTLED.id,
            throttled = suppressed.code.id,
            suppressed = suppressed.count,
            "{}: {} similar lines suppressed in the last {} s",
            suppressed.code.id,
            suppressed.count,
            suppressed.window.as_secs()
        );
    }
}

/// The throttle's clock: tokio's, so paused-time tests drive it (the system clock outside a
/// runtime).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The syslog socket of `[log] syslog` refused.
    #[error("log.syslog: cannot send to {path}: {source}")]
    Syslog {
        /// The socket.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another logger was installed first.
    #[error("a logger is already installed: {0}")]
    Installed(#[from] tracing_subscriber::util::TryInitError),
}

/// The subscriber of both programs: `filter`, then the [`ThrottleLayer`], then text
/// ([`CodeFirst`]) or JSON lines to `writer`, and the coded lines to syslog when configured.
pub fn subscriber<W>(
    config: &LogConfig,
    program: &str,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Result<impl Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static, LogError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let syslog = match &config.syslog {
        Some(path) => {
            Some(
                SyslogLayer::connect(path, program).map_err(|source| LogError::Syslog {
                    path: path.clone(),
                    source,
                })?,
            )
        }
        None => None,
    };
    let output = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi);
    let output = match config.format {
        crate::config::LogFormat::Text => output.fmt_fields(CodeFirst).boxed(),
        crate::config::LogFormat::Json => output.json().boxed(),
    };
    Ok(tracing_subscriber::registry()
        .with(filter)
        .with(ThrottleLayer::new(Throttle::new(config.throttle, WINDOW)))
        .with(output)
        .with(syslog))
}

/// Installs [`subscriber`] for the process, writing to stderr (colours when it is a terminal),
/// filtered by `RUST_LOG` or else `default_filter`; inside a Tokio runtime, also starts the
/// task that calls [`flush`] every [`FLUSH_PERIOD`].
pub fn init(config: &LogConfig, program: &str, default_filter: &str) -> Result<(), LogError> {
    use std::io::IsTerminal;

    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let ansi = std::io::stderr().is_terminal();
    subscriber(config, program, filter, std::io::stderr, ansi)?.try_init()?;
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async {
            let mut tick = tokio::time::interval(FLUSH_PERIOD);
            loop {
                tick.tick().await;
                flush();
            }
        });
    }
    Ok(())
}
