//! Where computed and external values come from: the [`Host`] (uptime, clock, firmware
//! version, interface addresses) and [`Commands`] (argv commands with a timeout). Both are
//! injected, so tests fake them and a fleet shares one of each.

use std::fmt;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use schemas::value::DateTime;

/// The host facts behind [`Computed`](super::Computed) parameters.
pub trait Host: Send + Sync {
    /// Seconds since the device booted (`DeviceInfo.UpTime`).
    fn uptime(&self) -> u32;
    /// The current time (`Time.CurrentLocalTime`).
    fn now(&self) -> DateTime;
    /// The running firmware's version, if the host knows it (`DeviceInfo.SoftwareVersion`).
    fn software_version(&self) -> Option<String>;
    /// The IPv4 address of OS interface `interface` (e.g. `eth0`), if it has one.
    fn interface_address(&self, interface: &str) -> Option<String>;
}

/// Runs the commands of [`External`](super::External) parameters.
pub trait Commands: Send + Sync {
    /// Runs `argv` (program first; no shell) and returns its standard output.
    fn run(&self, argv: &[String]) -> Result<String, CommandError>;
}

/// Why a command failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The argv was empty.
    #[error("no command configured")]
    Empty,
    /// The program could not be started.
    #[error("cannot start `{program}`: {reason}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        reason: String,
    },
    /// The program ran longer than allowed and was killed.
    #[error("`{program}` did not finish within {after:?}")]
    TimedOut {
        /// The program.
        program: String,
        /// The limit.
        after: Duration,
    },
    /// The program exited unsuccessfully.
    #[error("`{program}` failed ({status}): {stderr}")]
    Failed {
        /// The program.
        program: String,
        /// The exit status, as the OS describes it.
        status: String,
        /// The start of its standard error.
        stderr: String,
    },
}

/// The real host: uptime from `/proc/uptime` (else since this process started), the system
/// clock, a configured firmware version, and addresses from `ip -4 -o addr show dev <if>`.
#[derive(Debug)]
pub struct SystemHost {
    started: Instant,
    software_version: Option<String>,
    commands: SystemCommands,
}

impl SystemHost {
    /// A host that reports `software_version` (or, if `None`, the profile's value).
    pub fn new(software_version: Option<String>) -> Self {
        Self {
            started: Instant::now(),
            software_version,
            commands: SystemCommands::new(Duration::from_secs(2)),
        }
    }
}

impl Default for SystemHost {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Host for SystemHost {
    fn uptime(&self) -> u32 {
        let from_proc = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|text| {
                let secs = text.split_whitespace().next()?.split('.').next()?;
                secs.parse::<u32>().ok()
            });
        from_proc
            .unwrap_or_else(|| u32::try_from(self.started.elapsed().as_secs()).unwrap_or(u32::MAX))
    }

    fn now(&self) -> DateTime {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since.as_secs())
            .ok()
            .and_then(|secs| DateTime::from_unix(secs, 0))
            .unwrap_or(DateTime::UNKNOWN)
    }

    fn software_version(&self) -> Option<String> {
        self.software_version.clone()
    }

    fn interface_address(&self, interface: &str) -> Option<String> {
        let argv = ["ip", "-4", "-o", "addr", "show", "dev", interface].map(str::to_owned);
        let out = self.commands.run(&argv).ok()?;
        // `2: eth0    inet 192.0.2.7/24 brd ... scope global eth0`
        let mut words = out.split_whitespace();
        words.find(|w| *w == "inet")?;
        let cidr = words.next()?;
        Some(cidr.split('/').next().unwrap_or(cidr).to_owned())
    }
}

/// Runs commands as child processes, killing any that outlives the timeout.
///
/// The call blocks the calling thread for up to the timeout: an async agent runs the RPC
/// handlers of a profile with external parameters on a blocking thread.
#[derive(Clone, Debug)]
pub struct SystemCommands {
    timeout: Duration,
}

impl SystemCommands {
    /// Commands limited to `timeout` each.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl Default for SystemCommands {
    /// Ten seconds per command.
    fn default() -> Self {
        Self::new(Duration::from_secs(10))
    }
}

/// How much of a command's output is kept.
const MAX_OUTPUT: u64 = 64 * 1024;

impl Commands for SystemCommands {
    fn run(&self, argv: &[String]) -> Result<String, CommandError> {
        let Some((program, args)) = argv.split_first() else {
            return Err(CommandError::Empty);
        };
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| CommandError::Spawn {
                program: program.clone(),
                reason: e.to_string(),
            })?;
        // Read both pipes on their own threads so a chatty child cannot block on a full pipe;
        // a pipe a grandchild keeps open must not hold us past the deadline either.
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            let (tx, rx) = mpsc::channel();
            thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(pipe) = pipe {
                    let _ = pipe.take(MAX_OUTPUT).read_to_end(&mut buf);
                }
                let _ = tx.send(buf);
            });
            rx
        };
        let stdout = drain(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let stderr = drain(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let deadline = Instant::now() + self.timeout;
        let timed_out = || CommandError::TimedOut {
            program: program.clone(),
            after: self.timeout,
        };
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                Ok(None) | Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(timed_out());
                }
            }
        };
        // Output already written is collected even at the deadline.
        let left = || {
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(100))
        };
        let out = stdout.recv_timeout(left()).map_err(|_| timed_out())?;
        let err = stderr.recv_timeout(left()).unwrap_or_default();
        if !status.success() {
            let stderr: String = String::from_utf8_lossy(&err).chars().take(200).collect();
            return Err(CommandError::Failed {
                program: program.clone(),
                status: status.to_string(),
                stderr: stderr.trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// A [`Commands`] that runs nothing: every command fails, so external parameters read their
/// stored values and sets only store. For simulated devices (a fleet) that must not touch the
/// host.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoCommands;

impl Commands for NoCommands {
    fn run(&self, argv: &[String]) -> Result<String, CommandError> {
        Err(CommandError::Spawn {
            program: argv.first().cloned().unwrap_or_default(),
            reason: "commands are disabled for this device".to_owned(),
        })
    }
}

/// The host and commands a model reads through, shared by every device of a fleet.
#[derive(Clone)]
pub(crate) struct Backends {
    pub(crate) host: Arc<dyn Host>,
    pub(crate) commands: Arc<dyn Commands>,
}

impl fmt::Debug for Backends {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Backends")
    }
}

/// `argv` with `{name}`, `{value}` and `{1}`..`{9}` replaced (see
/// [`External`](super::External)).
pub(crate) fn substitute(argv: &[String], name: &str, value: Option<&str>) -> Vec<String> {
    let numbers: Vec<&str> = name
        .split('.')
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    argv.iter()
        .map(|arg| {
            let mut out = arg.replace("{name}", name);
            if let Some(value) = value {
                out = out.replace("{value}", value);
            }
            for (i, n) in numbers.iter().enumerate().take(9) {
                out = out.replace(&format!("{{{}}}", i + 1), n);
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_by_name_value_and_instance_numbers() {
        let argv = ["set-ip", "{1}", "{2}", "{value}", "{name}"].map(str::to_owned);
        assert_eq!(
            substitute(
                &argv,
                "Device.IP.Interface.3.IPv4Address.1.IPAddress",
                Some("10.0.0.1")
            ),
            [
                "set-ip",
                "3",
                "1",
                "10.0.0.1",
                "Device.IP.Interface.3.IPv4Address.1.IPAddress"
            ]
        );
    }

    #[test]
    fn system_commands_capture_output_report_failure_and_time_out() {
        let commands = SystemCommands::new(Duration::from_millis(300));
        let echo = ["echo", "hello"].map(str::to_owned);
        assert_eq!(commands.run(&echo).unwrap().trim(), "hello");
        assert_eq!(commands.run(&[]), Err(CommandError::Empty));
        let fail = ["false"].map(str::to_owned);
        assert!(matches!(
            commands.run(&fail),
            Err(CommandError::Failed { .. })
        ));
        let slow = ["sleep", "5"].map(str::to_owned);
        assert!(matches!(
            commands.run(&slow),
            Err(CommandError::TimedOut { .. })
        ));
        let missing = ["/nonexistent/program"].map(str::to_owned);
        assert!(matches!(
            commands.run(&missing),
            Err(CommandError::Spawn { .. })
        ));
    }

    #[test]
    fn system_host_reads_a_clock_and_an_uptime() {
        let host = SystemHost::default();
        assert!(!host.now().is_unknown());
        let _ = host.uptime();
        assert_eq!(host.software_version(), None);
    }
}
