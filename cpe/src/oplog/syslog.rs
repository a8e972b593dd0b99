//! The coded lines to the local syslog socket (`/dev/log`, a Unix datagram socket) in the BSD
//! format of RFC 3164 §4.1: `<PRI>TAG[pid]: CODE: message fields`, facility daemon. TIMESTAMP
//! and HOSTNAME are left out: the local receiver adds them (RFC 3164 §4.3.2), as it does for
//! glibc's `syslog()`.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::format::CodedLine;

/// RFC 3164 §4.1.1: facility 3, "system daemons".
const FACILITY_DAEMON: u8 = 3;

/// RFC 3164 §4.1: a packet is at most 1024 bytes.
pub const MAX_DATAGRAM: usize = 1024;

/// Sends every event with a code of [`super::CODES`] to a syslog socket; other events are not
/// sent. A full socket drops the line rather than stall the program; a socket that went away
/// (the daemon restarted) is connected again once per line.
#[derive(Debug)]
pub struct SyslogLayer {
    path: PathBuf,
    /// `program[pid]`.
    tag: String,
    socket: Mutex<UnixDatagram>,
}

impl SyslogLayer {
    /// Connects to the socket at `path`; lines are tagged `program[pid]`.
    pub fn connect(path: &Path, program: &str) -> io::Result<Self> {
        Ok(Self {
            path: path.to_owned(),
            tag: format!("{program}[{}]", std::process::id()),
            socket: Mutex::new(open(path)?),
        })
    }

    fn send(&self, datagram: &[u8]) {
        let mut socket = self.socket.lock().unwrap_or_else(PoisonError::into_inner);
        match socket.send(datagram) {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => {
                if let Ok(again) = open(&self.path) {
                    *socket = again;
                    let _ = socket.send(datagram);
                }
            }
            _ => {}
        }
    }
}

fn open(path: &Path) -> io::Result<UnixDatagram> {
    let socket = UnixDatagram::unbound()?;
    socket.connect(path)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

impl<S: Subscriber> Layer<S> for SyslogLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut line = CodedLine::default();
        event.record(&mut line);
        if let Some(code) = line.code {
            self.send(&datagram(code.severity, &self.tag, &line.to_string()));
        }
    }
}

/// `<PRI>tag: line` with PRI = facility * 8 + severity (RFC 3164 §4.1.1), on one line, cut to
/// [`MAX_DATAGRAM`] bytes at a character boundary.
pub(super) fn datagram(severity: u8, tag: &str, line: &str) -> Vec<u8> {
    let pri = FACILITY_DAEMON * 8 + severity.min(7);
    let mut text = format!("<{pri}>{tag}: {}", line.replace(['\n', '\r'], " "));
    if text.len() > MAX_DATAGRAM {
        let mut end = MAX_DATAGRAM;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text.into_bytes()
}
