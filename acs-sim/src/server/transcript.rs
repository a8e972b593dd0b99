//! Session transcripts: every message of a session, one file each, in
//! `<dir>/<device-id>/<yyyymmddThhmmss>-<session-seq>/NN-<cpe|acs>-<Name>.txt`, named like the
//! captures in `cwmp-samples/peers/` (`01-cpe-Inform.txt`, `02-acs-InformResponse.txt`,
//! `03-cpe-empty-POST.txt`, `NN-acs-204-NoContent.txt`). Each file holds the HTTP body.
//!
//! The device is known only once the Inform is registered, so the first exchange is held back
//! until then. Writes run with the session's work, on the blocking pool; a failed write is logged once and
//! ends the recording, never the session.

use std::path::PathBuf;

use schemas::value::DateTime;
use schemas::{Body, Envelope};

use crate::acs::TranscriptConfig;
use crate::session::Reply;
use crate::store::DeviceId;

/// One session's transcript.
pub(super) struct Transcript {
    /// `<yyyymmddThhmmss>-<session-seq>`: the session's directory under the device's.
    name: String,
    /// Messages written so far.
    count: u32,
    state: State,
}

enum State {
    /// The device is not known yet: the messages so far.
    Waiting(Vec<(Side, Vec<u8>)>),
    /// Writing into this directory.
    Recording(PathBuf),
    /// Not recorded (a device not asked for, no Inform, or a failed write).
    Off,
}

#[derive(Clone, Copy)]
enum Side {
    Cpe,
    Acs,
}

impl Transcript {
    /// The transcript of session number `seq`, opened at `unix` seconds.
    pub(super) fn new(seq: u64, unix: i64) -> Self {
        let stamp = DateTime::from_unix(unix, 0)
            .map(|t| {
                t.to_string()
                    .chars()
                    .filter(|c| c.is_ascii_digit() || *c == 'T')
                    .collect::<String>()
            })
            .unwrap_or_default();
        Self {
            name: format!("{stamp}-{seq}"),
            count: 0,
            state: State::Waiting(Vec::new()),
        }
    }

    /// Records a POST body from the CPE.
    pub(super) fn cpe(&mut self, body: &[u8]) {
        self.push(Side::Cpe, body.to_vec());
    }

    /// Records the ACS's answer.
    pub(super) fn acs(&mut self, reply: &Reply) {
        let body = match reply {
            Reply::Envelope(bytes) => bytes.clone(),
            Reply::NoContent => Vec::new(),
        };
        self.push(Side::Acs, body);
    }

    /// After an exchange: once the device is known, starts recording (if `config` asks for
    /// it) with what was held back; a session whose first exchange named no device is not
    /// recorded.
    pub(super) fn settle(&mut self, device: Option<&DeviceId>, config: &TranscriptConfig) {
        let State::Waiting(held) = &mut self.state else {
            return;
        };
        let held = std::mem::take(held);
        let wanted = device.filter(|d| {
            config.devices.is_empty() || config.devices.iter().any(|w| w == d.as_str())
        });
        self.state = match wanted {
            // A DeviceId holds only `[A-Za-z0-9_%-]`: a safe directory name.
            Some(device) => State::Recording(config.dir.join(device.as_str()).join(&self.name)),
            None => State::Off,
        };
        for (side, body) in held {
            self.push(side, body);
        }
    }

    fn push(&mut self, side: Side, body: Vec<u8>) {
        let dir = match &mut self.state {
            State::Waiting(held) => return held.push((side, body)),
            State::Recording(dir) => dir,
            State::Off => return,
        };
        self.count += 1;
        let side_name = match side {
            Side::Cpe => "cpe",
            Side::Acs => "acs",
        };
        let file = dir.join(format!(
            "{:02}-{side_name}-{}.txt",
            self.count,
            message_name(&body, side)
        ));
        let written = std::fs::create_dir_all(&*dir).and_then(|()| std::fs::write(&file, &body));
        if let Err(error) = written {
            cpe::oplog!(ACS_TRANSCRIPT_STOPPED, %error, file = %file.display(), "cannot write the transcript; recording stops");
            self.state = State::Off;
        }
    }
}

/// What a message is called in its file name: the RPC (`Inform`, `GetParameterValues`), a
/// fault with its code (`Fault-9005`), `empty-POST`, `204-NoContent` or `unreadable`.
fn message_name(body: &[u8], side: Side) -> String {
    if body.iter().all(u8::is_ascii_whitespace) {
        return match side {
            Side::Cpe => "empty-POST",
            Side::Acs => "204-NoContent",
        }
        .to_owned();
    }
    match Envelope::parse(body) {
        Ok(Envelope {
            body: Body::Fault(fault),
            ..
        }) => match fault.detail {
            Some(detail) => format!("Fault-{}", detail.fault_code.code()),
            None => "Fault".to_owned(),
        },
        Ok(envelope) => envelope.body.name().to_owned(),
        Err(_) => "unreadable".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use schemas::rpc::{FaultCode, SoapFault};
    use schemas::soap::CwmpNamespace;

    use super::*;

    #[test]
    fn messages_are_named_by_rpc_fault_code_or_kind() {
        let fault = Envelope::new(
            CwmpNamespace::V1_0,
            SoapFault::from(FaultCode::AcsInvalidArguments),
        )
        .write();
        assert_eq!(message_name(&fault, Side::Acs), "Fault-8003");
        assert_eq!(message_name(b"  \r\n", Side::Cpe), "empty-POST");
        assert_eq!(message_name(b"", Side::Acs), "204-NoContent");
        assert_eq!(message_name(b"<not-soap/>", Side::Cpe), "unreadable");
    }

    #[test]
    fn the_session_directory_is_named_by_utc_time_and_sequence() {
        // 2026-11-22T21:44:10Z
        assert_eq!(Transcript::new(7, 1_795_383_850).name, "20261122T214410-7");
    }
}
