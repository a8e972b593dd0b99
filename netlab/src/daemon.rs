//! A DHCP server process on the server side of a testbed, with its files in a directory of its
//! own, killed when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Error;

/// How long a server gets to start, or to re-read its configuration.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A running server and its directory.
#[derive(Debug)]
pub(crate) struct Daemon {
    /// `ip netns exec` replaces itself with the server: this is the server.
    pub(crate) child: Child,
    pub(crate) dir: tempfile::TempDir,
    program: &'static str,
    package: &'static str,
    /// The files, in `dir`, that make up its log.
    logs: &'static [&'static str],
}

impl Daemon {
    /// A directory for a server's files.
    pub(crate) fn directory(program: &str) -> Result<tempfile::TempDir, Error> {
        tempfile::Builder::new()
            .prefix(&format!("netlab-{program}-"))
            .tempdir()
            .map_err(Error::io(format!("creating {program}'s directory")))
    }

    /// Starts `command` (made with [`Namespace::command`](crate::Namespace::command)), its
    /// standard output and error going to `stdout` in `dir`, and waits until `ready` shows
    /// in its log.
    pub(crate) fn start(
        mut command: Command,
        dir: tempfile::TempDir,
        (program, package): (&'static str, &'static str),
        logs: &'static [&'static str],
        ready: &str,
    ) -> Result<Self, Error> {
        let output = std::fs::File::create(dir.path().join("stdout"))
            .map_err(Error::io(format!("creating {program}'s output file")))?;
        let stderr = output
            .try_clone()
            .map_err(Error::io(format!("creating {program}'s output file")))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(stderr)
            .spawn()
            .map_err(Error::io(format!("starting `ip netns exec ... {program}`")))?;
        let mut daemon = Self {
            child,
            dir,
            program,
            package,
            logs,
        };
        daemon.wait_for_log(ready, 1)?;
        Ok(daemon)
    }

    /// Its output and log files, for assertion messages.
    pub(crate) fn log(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        std::iter::once("stdout")
            .chain(self.logs.iter().copied())
            .map(read)
            .collect()
    }

    /// A file in its directory.
    pub(crate) fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Waits until `needle` shows `count` times in its log.
    pub(crate) fn wait_for_log(&mut self, needle: &str, count: usize) -> Result<(), Error> {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let log = self.log();
            if log.matches(needle).count() >= count {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // `ip netns exec` says so when it cannot find the program.
                return Err(
                    if log.contains(&format!("exec of \"{}\" failed", self.program)) {
                        Error::MissingTool {
                            program: self.program,
                            package: self.package,
                        }
                    } else {
                        Error::Server {
                            program: self.program,
                            reason: format!("it exited ({status})"),
                            log,
                        }
                    },
                );
            }
            if Instant::now() >= deadline {
                return Err(Error::Server {
                    program: self.program,
                    reason: format!("no {needle:?} in its log within {READY_WITHIN:?}"),
                    log,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `text` to `path`, replacing it whole (a server never reads half a file).
pub(crate) fn write(path: &Path, text: &str) -> Result<(), Error> {
    let staged = path.with_extension("new");
    std::fs::write(&staged, format!("{text}\n"))
        .and_then(|()| std::fs::rename(&staged, path))
        .map_err(Error::io(format!("writing {}", path.display())))
}
