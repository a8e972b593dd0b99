//! One named network namespace (`ip netns`), and running code inside it.

use std::ffi::OsStr;
use std::fs::File;
use std::process::Command;
use std::thread::JoinHandle;

use nix::sched::{CloneFlags, setns};

use crate::Error;

/// Where `ip netns` keeps its namespaces.
pub(crate) const NETNS_DIR: &str = "/run/netns";

/// A named network namespace, created and deleted by its [`Testbed`](crate::Testbed).
#[derive(Debug)]
pub struct Namespace {
    name: String,
}

impl Namespace {
    pub(crate) fn new(name: String) -> Self {
        Self { name }
    }

    /// Its name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command that runs `program` inside the namespace (`ip netns exec`).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// Runs `f` on a new thread inside the namespace: every socket it opens belongs to the
    /// namespace. A tokio runtime built on that thread (current-thread flavour) keeps all its
    /// I/O there.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<NsThread<T>, Error> {
        let path = format!("{NETNS_DIR}/{}", self.name);
        let file = File::open(&path).map_err(Error::io(format!("opening {path}")))?;
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name(format!("netns {}", self.name))
            .spawn(move || {
                let entered = setns(&file, CloneFlags::CLONE_NEWNET);
                let ok = entered.is_ok();
                let _ = entered_tx.send(entered);
                // Never run `f` in the wrong namespace.
                ok.then(f)
            })
            .map_err(Error::io("spawning a thread"))?;
        match entered_rx.recv() {
            Ok(Ok(())) => Ok(NsThread(handle)),
            Ok(Err(errno)) => Err(Error::Io {
                action: format!("entering network namespace {}", self.name),
                source: errno.into(),
            }),
            Err(_) => Err(Error::Unavailable(format!(
                "the thread for namespace {} ended before entering it",
                self.name
            ))),
        }
    }

    /// Runs `f` inside the namespace and waits for its answer, e.g. to bind a listener there.
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        self.spawn(f)?.join().map_err(|_| Error::Io {
            action: format!("running code inside namespace {}", self.name),
            source: std::io::Error::other("it panicked"),
        })
    }
}

/// A thread running inside a namespace ([`Namespace::spawn`]).
#[derive(Debug)]
pub struct NsThread<T>(JoinHandle<Option<T>>);

impl<T> NsThread<T> {
    /// Waits for the thread's answer; `Err` holds its panic.
    pub fn join(self) -> std::thread::Result<T> {
        self.0
            .join()?
            .ok_or_else(|| Box::new("the thread never entered its namespace") as _)
    }

    /// Whether the thread has finished.
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}
