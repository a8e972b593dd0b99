//! Why a frame (or an HTTP body of the flow) was refused, and which status counter it lands in.

use super::{DownReason, OptType, ReportFailureReason, SettingError};

/// Why a frame or body could not be read, or a value could not be written. Field names are the
/// JSON member names of the [module table](super).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Longer than [`MAX_FRAME`](super::MAX_FRAME) bytes.
    #[error("frame is {len} bytes, more than {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The most allowed.
        max: usize,
    },
    /// Not UTF-8 (RFC 6455 §5.6: a text frame is UTF-8).
    #[error("frame is not UTF-8 (valid up to byte {valid_up_to})")]
    NotUtf8 {
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// Not JSON, or nested deeper than serde_json's limit of 128.
    #[error("frame is not JSON (line {line}, column {column})")]
    NotJson {
        /// Line of the first error, from 1.
        line: usize,
        /// Column of the first error, from 1.
        column: usize,
    },
    /// JSON, but not an object.
    #[error("frame is a JSON {found}, not an object")]
    NotAnObject {
        /// The JSON type found.
        found: &'static str,
    },
    /// A member appears twice in one object.
    #[error("member {field:?} appears twice")]
    DuplicateField {
        /// Its name (at most 64 characters of it).
        field: String,
    },
    /// A member this message does not have.
    #[error("unknown member {field:?}")]
    UnknownField {
        /// Its name (at most 64 characters of it).
        field: String,
    },
    /// A required member is absent.
    #[error("member {field:?} is missing")]
    MissingField {
        /// Its name.
        field: &'static str,
    },
    /// A member has the wrong JSON type (`null` included: optional members are omitted, not
    /// null).
    #[error("member {field:?} is a {found}, expected {expected}")]
    WrongType {
        /// Its name.
        field: &'static str,
        /// The JSON type expected.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// An `optType` no message has.
    #[error("unknown optType {opt_type}")]
    UnknownOptType {
        /// The value.
        opt_type: i128,
    },
    /// An `optType` the sender never sends (a ping from the cloud).
    #[error("optType {} ({opt_type:?}) is never sent by the {sender}", opt_type.code())]
    UnexpectedOptType {
        /// The message type.
        opt_type: OptType,
        /// Who sent it: "cloud" or "device".
        sender: &'static str,
    },
    /// A string member is empty where it may not be.
    #[error("member {field:?} is empty")]
    Empty {
        /// Its name.
        field: &'static str,
    },
    /// A string member is too long.
    #[error("member {field:?} is {len} bytes long, more than {max}")]
    TooLong {
        /// Its name.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The most allowed.
        max: usize,
    },
    /// A string member holds a character its rule refuses (control characters everywhere but
    /// in parameter values; whitespace in identifiers and URLs; anything but `[A-Za-z0-9_-]` in
    /// module names).
    #[error("member {field:?} holds the character {character:?}")]
    InvalidCharacter {
        /// Its name.
        field: &'static str,
        /// The first offending character.
        character: char,
    },
    /// An integer member is outside its range.
    #[error("member {field:?} is {value}, outside {min}..={max}")]
    OutOfRange {
        /// Its name.
        field: &'static str,
        /// The value.
        value: i128,
        /// The least allowed.
        min: i128,
        /// The most allowed.
        max: i128,
    },
    /// A list has more items than allowed.
    #[error("member {field:?} has {len} items, more than {max}")]
    TooMany {
        /// Its name.
        field: &'static str,
        /// The number of items.
        len: usize,
        /// The most allowed.
        max: usize,
    },
    /// A string member is well-formed text but not what the member holds (a URL without a
    /// `ws://`/`wss://` scheme, a dateTime that does not parse, a repeated service name).
    #[error("member {field:?} is not {expected}")]
    Invalid {
        /// Its name.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// The mirrored cloud settings break their ranges.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// An item of a list is refused.
    #[error("{field}[{index}]: {source}")]
    Item {
        /// The list's name.
        field: &'static str,
        /// The item's position, from 0.
        index: usize,
        /// Why.
        source: Box<Self>,
    },
}

/// Where a refused frame is counted in the status table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Counted {
    /// The frame is dropped and the tunnel goes down with this "Last down reason".
    Down(DownReason),
    /// The frame is dropped, the tunnel stays up, and this is the "Last report failure reason".
    ReportFailure(ReportFailureReason),
}

impl FrameError {
    /// How the tunnel counts this error (this project's rule):
    ///
    /// - text that is not a JSON object (not UTF-8, not JSON, not an object, a member twice)
    ///   is "Failed to convert string to json": dropped, the tunnel stays up;
    /// - a frame over [`MAX_FRAME`](super::MAX_FRAME) is "Memory reached threshold": the
    ///   tunnel goes down, since a peer that sends one will send more;
    /// - a JSON object that breaks a message's schema (optType, members, types, ranges) is
    ///   "Packet processing failed": the peers disagree on the protocol, so the tunnel goes
    ///   down and registers again.
    pub fn counted_as(&self) -> Counted {
        match self {
            Self::NotUtf8 { .. }
            | Self::NotJson { .. }
            | Self::NotAnObject { .. }
            | Self::DuplicateField { .. } => {
                Counted::ReportFailure(ReportFailureReason::FailedToConvertStringToJson)
            }
            Self::TooLarge { .. } => Counted::Down(DownReason::MemoryReachedThreshold),
            Self::Item { source, .. } => source.counted_as(),
            _ => Counted::Down(DownReason::PacketProcessingFailed),
        }
    }
}
