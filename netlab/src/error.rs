//! What can go wrong setting up a testbed.

use std::io;

/// Why a testbed or its DHCP server could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// This machine cannot make network namespaces (not root, or no kernel support).
    #[error("network namespaces are unavailable: {0}")]
    Unavailable(String),
    /// A program the testbed runs is not installed.
    #[error("`{program}` is not installed (Debian package {package})")]
    MissingTool {
        /// The program.
        program: &'static str,
        /// The Debian package that has it.
        package: &'static str,
    },
    /// A command failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// How it ended.
        status: String,
        /// What it printed on standard error.
        stderr: String,
    },
    /// dnsmasq did not come up.
    #[error("dnsmasq did not start: {reason}\n--- dnsmasq log ---\n{log}")]
    Dnsmasq {
        /// Why.
        reason: String,
        /// Its log so far.
        log: String,
    },
    /// Another I/O error.
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The error.
        source: io::Error,
    },
}

impl Error {
    /// Whether the machine lacks what testbeds need (root, namespaces, iproute2, dnsmasq),
    /// as opposed to a testbed that failed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::MissingTool { .. })
    }

    pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let action = action.into();
        move |source| Self::Io { action, source }
    }
}
