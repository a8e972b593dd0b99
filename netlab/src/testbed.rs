//! Two namespaces joined by a veth pair, and their cleanup.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, geteuid};

use crate::namespace::NETNS_DIR;
use crate::{Error, Namespace};

/// The server side's interface.
pub const SERVER_IF: &str = "srv0";
/// The CPE side's interface.
pub const CPE_IF: &str = "cpe0";
/// The server's IPv4 address (prefix 24): dnsmasq and the ACS listen here.
pub const SERVER_V4: Ipv4Addr = Ipv4Addr::new(10, 231, 0, 1);
/// The address [`Testbed::add_cpe_address`] gives the CPE side (prefix 24).
pub const CPE_V4: Ipv4Addr = Ipv4Addr::new(10, 231, 0, 2);
/// The server's IPv6 address (prefix 64).
pub const SERVER_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xcafe, 0, 0, 0, 0, 0, 1);

/// Names of this crate's namespaces start with this, then the owning process id.
const PREFIX: &str = "cwmp-lab-";

/// Two fresh network namespaces joined by a veth pair (see the [crate documentation](crate)).
#[derive(Debug)]
pub struct Testbed {
    server: Namespace,
    cpe: Namespace,
}

impl Testbed {
    /// Creates the namespaces, the veth pair and the addresses, after sweeping testbeds whose
    /// process is gone.
    pub fn create() -> Result<Self, Error> {
        if !geteuid().is_root() {
            return Err(Error::Unavailable(
                "not running as root (network namespaces need CAP_SYS_ADMIN)".into(),
            ));
        }
        sweep_stale();
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let server = Namespace::new(format!("{id}-srv"));
        ip(&["netns", "add", server.name()]).map_err(unavailable_if_denied)?;
        // From here on, dropping the testbed deletes what was made.
        let mut testbed = Self {
            server,
            cpe: Namespace::new(String::new()),
        };
        let cpe = Namespace::new(format!("{id}-cpe"));
        ip(&["netns", "add", cpe.name()])?;
        testbed.cpe = cpe;
        testbed.setup()?;
        Ok(testbed)
    }

    /// [`Testbed::create`] for a test: `None` when the machine cannot make namespaces, after
    /// printing `SKIPPED: <test>: <reason>`; a panic instead when the `CI` environment variable
    /// is set (CI must run these tests), or when the testbed itself fails.
    pub fn for_test(test: &str) -> Option<Self> {
        Self::for_test_with(test, &[])
    }

    /// [`Testbed::for_test`] for a test that also runs `programs` (see [`installed`]): a
    /// missing one is a reason to skip, like missing namespaces.
    pub fn for_test_with(test: &str, programs: &[&'static str]) -> Option<Self> {
        let ready = programs
            .iter()
            .try_for_each(|program| installed(program))
            .and_then(|()| Self::create());
        match ready {
            Ok(testbed) => Some(testbed),
            Err(e) if e.is_unavailable() && std::env::var_os("CI").is_none() => {
                eprintln!("SKIPPED: {test}: {e}");
                None
            }
            Err(e) => panic!("{test}: cannot set up the network testbed: {e}"),
        }
    }

    fn setup(&self) -> Result<(), Error> {
        let (srv, cpe) = (self.server.name(), self.cpe.name());
        for ns in [&self.server, &self.cpe] {
            // Addresses are usable at once: no duplicate address detection on a private link.
            ns.run(|| {
                for scope in ["all", "default"] {
                    // Absent when the kernel has no IPv6: nothing to turn off then.
                    let _ =
                        std::fs::write(format!("/proc/sys/net/ipv6/conf/{scope}/accept_dad"), "0");
                }
            })?;
        }
        ip(&[
            "-n", srv, "link", "add", SERVER_IF, "type", "veth", "peer", "name", CPE_IF, "netns",
            cpe,
        ])?;
        ip(&[
            "-n",
            srv,
            "addr",
            "add",
            &format!("{SERVER_V4}/24"),
            "dev",
            SERVER_IF,
        ])?;
        // Absent IPv6 leaves the IPv4 testbed whole.
        let _ = ip(&[
            "-n",
            srv,
            "addr",
            "add",
            &format!("{SERVER_V6}/64"),
            "dev",
            SERVER_IF,
            "nodad",
        ]);
        for (ns, interface) in [(srv, SERVER_IF), (cpe, CPE_IF)] {
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "link", "set", interface, "up"])?;
        }
        Ok(())
    }

    /// The server side.
    pub fn server(&self) -> &Namespace {
        &self.server
    }

    /// The CPE side.
    pub fn cpe(&self) -> &Namespace {
        &self.cpe
    }

    /// Gives the CPE side's interface [`CPE_V4`]/24, as a DHCP client would have after a lease
    /// (for DHCPINFORM).
    pub fn add_cpe_address(&self) -> Result<Ipv4Addr, Error> {
        ip(&[
            "-n",
            self.cpe.name(),
            "addr",
            "add",
            &format!("{CPE_V4}/24"),
            "dev",
            CPE_IF,
        ])?;
        Ok(CPE_V4)
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        for ns in [&self.cpe, &self.server] {
            if !ns.name().is_empty() {
                remove(ns.name());
            }
        }
    }
}

/// Whether `program` is installed: on `PATH` or in the `sbin` directories (which a non-login
/// root shell may lack from its `PATH`). The error names its Debian package.
pub fn installed(program: &'static str) -> Result<(), Error> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|dir| dir.join(program).is_file());
    if found {
        return Ok(());
    }
    let package = match program {
        "ip" => "iproute2",
        "dnsmasq" => "dnsmasq-base",
        "kea-dhcp4" => "kea-dhcp4-server",
        "dhcpd" => "isc-dhcp-server",
        _ => program,
    };
    Err(Error::MissingTool { program, package })
}

/// Kills what runs in namespace `name` and deletes it; best effort (this is cleanup).
fn remove(name: &str) {
    if let Ok(output) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&output.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse() {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
    let _ = Command::new("ip").args(["netns", "del", name]).output();
}

/// Removes testbeds whose owning process no longer runs (killed before it could clean up).
fn sweep_stale() {
    let Ok(entries) = std::fs::read_dir(NETNS_DIR) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !alive(owner) {
            remove(&name);
        }
    }
}

/// Whether process `pid` runs: it exists and is not a zombie waiting to be reaped (as a
/// killed test process is until its parent reaps it).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // `pid (comm) state ...`; the command may hold spaces and parentheses.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| !matches!(state, "Z" | "X"))
    })
}

/// Runs `ip` with `args`.
pub(crate) fn ip(args: &[&str]) -> Result<Output, Error> {
    let command = || format!("ip {}", args.join(" "));
    let output = Command::new("ip").args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::MissingTool {
                program: "ip",
                package: "iproute2",
            }
        } else {
            Error::Io {
                action: command(),
                source: e,
            }
        }
    })?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(Error::Command {
            command: command(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// A refused `ip netns add` means this machine cannot make namespaces.
fn unavailable_if_denied(error: Error) -> Error {
    match error {
        Error::Command { stderr, .. }
            if stderr.contains("Operation not permitted")
                || stderr.contains("Permission denied") =>
        {
            Error::Unavailable(stderr)
        }
        other => other,
    }
}
