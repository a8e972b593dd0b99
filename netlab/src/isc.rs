//! ISC's DHCP servers on the server side of a testbed: Kea and the older dhcpd. Both serve
//! DHCPv4 from the pool 10.231.0.100-150.

use crate::daemon::{Daemon, write};
use crate::{Error, SERVER_IF, Testbed};

/// `kea-dhcp4` on the server side of a [`Testbed`]. Dropping it kills it.
#[derive(Debug)]
pub struct Kea(Daemon);

impl Kea {
    /// Starts Kea with `members` (lines of JSON members of the `Dhcp4` object, such as
    /// `"option-def"` and `"client-classes"`) after the testbed's interface, subnet and lease
    /// settings; returns once it serves.
    pub fn start(testbed: &Testbed, members: &[String]) -> Result<Self, Error> {
        let dir = Daemon::directory("kea")?;
        let path = |name: &str| dir.path().join(name).display().to_string();
        let conf = format!(
            r#"{{ "Dhcp4": {{
  "interfaces-config": {{ "interfaces": ["{SERVER_IF}"] }},
  "lease-database": {{ "type": "memfile", "persist": false }},
  "valid-lifetime": 120,
  "subnet4": [{{ "id": 1, "subnet": "10.231.0.0/24",
                "pools": [{{ "pool": "10.231.0.100 - 10.231.0.150" }}] }}],
  "loggers": [{{ "name": "kea-dhcp4", "severity": "INFO",
                "output_options": [{{ "output": "{log}" }}] }}],
{members}
}} }}"#,
            log = path("log"),
            members = members.join("\n"),
        );
        write(&dir.path().join("kea-dhcp4.conf"), &conf)?;
        let mut command = testbed.server().command("kea-dhcp4");
        command
            .arg("-c")
            .arg(path("kea-dhcp4.conf"))
            .env("KEA_PIDFILE_DIR", dir.path())
            .env("KEA_LOCKFILE_DIR", dir.path());
        Daemon::start(
            command,
            dir,
            ("kea-dhcp4", "kea-dhcp4-server"),
            &["log"],
            "DHCP4_STARTED",
        )
        .map(Self)
    }

    /// Kea's output and log, for assertion messages.
    pub fn log(&self) -> String {
        self.0.log()
    }
}

/// ISC `dhcpd` on the server side of a [`Testbed`]. Dropping it kills it.
#[derive(Debug)]
pub struct Dhcpd(Daemon);

impl Dhcpd {
    /// Starts dhcpd with `lines` (global `dhcpd.conf` statements: option spaces, classes)
    /// before the testbed's subnet; returns once it serves.
    pub fn start(testbed: &Testbed, lines: &[String]) -> Result<Self, Error> {
        let dir = Daemon::directory("dhcpd")?;
        let path = |name: &str| dir.path().join(name).display().to_string();
        let conf = format!(
            "{}\nsubnet 10.231.0.0 netmask 255.255.255.0 {{ range 10.231.0.100 10.231.0.150; }}",
            lines.join("\n")
        );
        write(&dir.path().join("dhcpd.conf"), &conf)?;
        write(&dir.path().join("leases"), "")?;
        let mut command = testbed.server().command("dhcpd");
        command
            .args(["-4", "-f", "-d", "-cf"])
            .arg(path("dhcpd.conf"))
            .arg("-lf")
            .arg(path("leases"))
            .arg("-pf")
            .arg(path("pid"))
            .arg(SERVER_IF);
        Daemon::start(
            command,
            dir,
            ("dhcpd", "isc-dhcp-server"),
            &[],
            "Server starting service.",
        )
        .map(Self)
    }

    /// dhcpd's output, for assertion messages.
    pub fn log(&self) -> String {
        self.0.log()
    }
}
