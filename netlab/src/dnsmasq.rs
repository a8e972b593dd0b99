//! dnsmasq on the server side of a testbed, DHCP only (no DNS).

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::daemon::{Daemon, write};
use crate::{Error, SERVER_IF, Testbed};

/// dnsmasq serving DHCPv4 (pool 10.231.0.100-150) and DHCPv6 (fd00:cafe::100-1ff) on the
/// server side of a [`Testbed`]. Dropping it kills it.
#[derive(Debug)]
pub struct Dnsmasq(Daemon);

impl Dnsmasq {
    /// Starts dnsmasq with `lines` added to its configuration, as in a `dnsmasq.conf` (e.g.
    /// `dhcp-option=vendor:dslforum.org,1,"http://10.231.0.1:7547/"`). `dhcp-option=` lines go
    /// to its `dhcp-optsfile`, which [`Dnsmasq::set_options`] replaces; returns once dnsmasq
    /// serves DHCP.
    pub fn start(testbed: &Testbed, lines: &[String]) -> Result<Self, Error> {
        let dir = Daemon::directory("dnsmasq")?;
        let path = |name: &str| dir.path().join(name).display().to_string();
        let (options, others): (Vec<&String>, Vec<&String>) =
            lines.iter().partition(|line| option_line(line).is_some());
        let mut conf = vec![
            "port=0".to_owned(),
            format!("interface={SERVER_IF}"),
            "bind-interfaces".to_owned(),
            "dhcp-authoritative".to_owned(),
            // Nothing else is on the link: offer at once, without pinging the address first.
            "no-ping".to_owned(),
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
        let mut command = testbed.server().command("dnsmasq");
        command
            .arg("--keep-in-foreground")
            .arg(format!("--conf-file={}", path("dnsmasq.conf")));
        Daemon::start(
            command,
            dir,
            ("dnsmasq", "dnsmasq-base"),
            &["log"],
            "DHCP, IP range",
        )
        .map(Self)
    }

    /// Replaces the `dhcp-option=` lines and has dnsmasq re-read them (SIGHUP): the next
    /// exchange (a renewal, say) gets the new options. Returns once dnsmasq has read them.
    pub fn set_options(&mut self, lines: &[String]) -> Result<(), Error> {
        let read = format!("read {}", self.0.path("options"));
        let before = self.log().matches(&read).count();
        write_options(self.0.dir.path(), lines.iter())?;
        kill(Pid::from_raw(self.0.child.id() as i32), Signal::SIGHUP).map_err(|e| Error::Io {
            action: "signalling dnsmasq".into(),
            source: e.into(),
        })?;
        self.0.wait_for_log(&read, before + 1)
    }

    /// dnsmasq's own log (with `log-dhcp`), for assertion messages.
    pub fn log(&self) -> String {
        self.0.log()
    }
}

/// The option part of a `dhcp-option=` line, as a `dhcp-optsfile` takes it.
fn option_line(line: &str) -> Option<&str> {
    line.trim().strip_prefix("dhcp-option=")
}

fn write_options<'a>(
    dir: &std::path::Path,
    lines: impl Iterator<Item = &'a String>,
) -> Result<(), Error> {
    let text: Vec<&str> = lines
        .map(|line| option_line(line).unwrap_or_else(|| line.trim()))
        .collect();
    write(&dir.join("options"), &text.join("\n"))
}
