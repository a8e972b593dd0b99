//! A real DHCP server for a testbed: dnsmasq on the server side, DHCP only (no DNS).

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::{Error, SERVER_IF, Testbed};

/// How long dnsmasq gets to start or to re-read its options.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// dnsmasq serving DHCPv4 (pool 10.231.0.100-150) and DHCPv6 (fd00:cafe::100-1ff) on the
/// server side of a [`Testbed`]. Dropping it kills it.
#[derive(Debug)]
pub struct Dnsmasq {
    child: Child,
    dir: tempfile::TempDir,
}

impl Dnsmasq {
    /// Starts dnsmasq with `lines` added to its configuration, as in a `dnsmasq.conf` (e.g.
    /// `dhcp-option=vendor:dslforum.org,1,"http://10.231.0.1:7547/"`). `dhcp-option=` lines go
    /// to its `dhcp-optsfile`, which [`Dnsmasq::set_options`] replaces; returns once dnsmasq
    /// serves DHCP.
    pub fn start(testbed: &Testbed, lines: &[String]) -> Result<Self, Error> {
        let dir = tempfile::Builder::new()
            .prefix("netlab-dnsmasq-")
            .tempdir()
            .map_err(Error::io("creating dnsmasq's directory"))?;
        let path = |name: &str| dir.path().join(name).display().to_string();
        let (options, others): (Vec<&String>, Vec<&String>) =
            lines.iter().partition(|line| option_line(line).is_some());
        let mut conf = vec![
            "port=0".to_owned(),
            format!("interface={SERVER_IF}"),
            "bind-interfaces".to_owned(),
            "dhcp-authoritative".to_owned(),
            "dhcp-range=10.231.0.100,10.231.0.150,255.255.255.0,2m".to_owned(),
            "dhcp-range=fd00:cafe::100,fd00:cafe::1ff,64,2m".to_owned(),
            format!("dhcp-leasefile={}", path("leases")),
            format!("dhcp-optsfile={}", path("options")),
            format!("pid-file={}", path("pid")),
            format!("log-facility={}", path("log")),
            "log-dhcp".to_owned(),
            "user=root".to_owned(),
        ];
        conf.extend(others.into_iter().cloned());
        write(&dir.path().join("dnsmasq.conf"), &conf.join("\n"))?;
        write_options(dir.path(), options.into_iter())?;
        let stderr = std::fs::File::create(dir.path().join("stderr"))
            .map_err(Error::io("creating dnsmasq's stderr file"))?;
        let child = testbed
            .server()
            .command("dnsmasq")
            .arg("--keep-in-foreground")
            .arg(format!("--conf-file={}", path("dnsmasq.conf")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(Error::io("starting `ip netns exec ... dnsmasq`"))?;
        let mut dnsmasq = Self { child, dir };
        dnsmasq.wait_for_log("DHCP, IP range", 1)?;
        Ok(dnsmasq)
    }

    /// Replaces the `dhcp-option=` lines and has dnsmasq re-read them (SIGHUP): the next
    /// exchange (a renewal, say) gets the new options. Returns once dnsmasq has read them.
    pub fn set_options(&mut self, lines: &[String]) -> Result<(), Error> {
        let before = self.log().matches(&self.options_read_line()).count();
        write_options(self.dir.path(), lines.iter())?;
        let pid = Pid::from_raw(self.child.id() as i32);
        // `ip netns exec` replaces itself with dnsmasq: the child is dnsmasq.
        kill(pid, Signal::SIGHUP).map_err(|e| Error::Io {
            action: "signalling dnsmasq".into(),
            source: e.into(),
        })?;
        let line = self.options_read_line();
        self.wait_for_log(&line, before + 1)
    }

    /// dnsmasq's own log (with `log-dhcp`), for assertion messages.
    pub fn log(&self) -> String {
        let read = |name| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("stderr"), read("log"))
    }

    fn options_read_line(&self) -> String {
        format!("read {}", self.dir.path().join("options").display())
    }

    fn wait_for_log(&mut self, needle: &str, count: usize) -> Result<(), Error> {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if self.log().matches(needle).count() >= count {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // `ip netns exec` says so when it cannot find the program.
                let missing = self.log().contains("exec of \"dnsmasq\" failed");
                return Err(if missing {
                    Error::MissingTool {
                        program: "dnsmasq",
                        package: "dnsmasq-base",
                    }
                } else {
                    Error::Dnsmasq {
                        reason: format!("it exited ({status})"),
                        log: self.log(),
                    }
                });
            }
            if Instant::now() >= deadline {
                return Err(Error::Dnsmasq {
                    reason: format!("no {needle:?} in its log within {READY_WITHIN:?}"),
                    log: self.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The option part of a `dhcp-option=` line, as a `dhcp-optsfile` takes it.
fn option_line(line: &str) -> Option<&str> {
    line.trim().strip_prefix("dhcp-option=")
}

fn write_options<'a>(dir: &Path, lines: impl Iterator<Item = &'a String>) -> Result<(), Error> {
    let text: Vec<&str> = lines
        .map(|line| option_line(line).unwrap_or_else(|| line.trim()))
        .collect();
    // Replaced whole, so dnsmasq never reads half a file.
    let staged: PathBuf = dir.join("options.new");
    write(&staged, &text.join("\n"))?;
    std::fs::rename(&staged, dir.join("options")).map_err(Error::io("replacing dnsmasq's options"))
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, format!("{text}\n"))
        .map_err(Error::io(format!("writing {}", path.display())))
}
