//! The `cpe` binary's log: `[log] syslog` sends the coded lines to a real Unix datagram socket
//! (RFC 3164, facility daemon), and stderr carries the same lines with the code first.

use std::io::Read as _;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn the_agent_sends_its_coded_lines_to_the_configured_syslog_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("log");
    let daemon = UnixDatagram::bind(&socket).unwrap();
    daemon
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let config = dir.path().join("cpe.toml");
    std::fs::write(
        &config,
        format!(
            "[log]\nthrottle = 5\nsyslog = \"{}\"\n[state]\ndir = \"{}\"\n",
            socket.display(),
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    let mut agent = Command::new(env!("CARGO_BIN_EXE_cpe"))
        .args(["run", "--config"])
        .arg(&config)
        .args(["--connreq-listen", "127.0.0.1:0"])
        .env_remove("CPE_STATE_DIR")
        .env_remove("CPE_ACS_URL")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let mut buf = [0; 2048];
    let listening = loop {
        let n = daemon.recv(&mut buf).expect("a line within 30 s");
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        if line.contains("CONNREQ-6-LISTENING") {
            break line;
        }
    };
    agent.kill().unwrap();
    agent.wait().unwrap();
    let mut stderr = String::new();
    agent
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();

    // daemon (3) * 8 + informational (6).
    let tag = format!("<30>cpe[{}]: ", agent.id());
    assert!(
        listening.starts_with(&format!(
            "{tag}CONNREQ-6-LISTENING: Connection Request server listening local_addr=127.0.0.1:"
        )),
        "{listening}"
    );
    assert!(
        stderr.contains(
            " INFO cpe::connreq::server: CONNREQ-6-LISTENING: Connection Request server listening"
        ),
        "{stderr}"
    );
}
