//! The snapshot file: a self-describing container whose every byte is covered by a checksum.
//!
//! ```text
//! cwmp-toolkit-snapshot 1\n                      magic and format version
//! {"kind":"cpe-state","identity":{...},"created":"2025-01-02T03:04:05Z",
//!  "length":1234,"content_sha256":"<64 hex>"}\n   one JSON header line
//! <length bytes of content>\n                    opaque to the container, then a newline
//! sha256:<64 lowercase hex>\n                    SHA-256 (FIPS 180-4) of every byte before it
//! ```
//!
//! [`Snapshot::decode`] first recomputes the trailer's checksum and compares it byte for byte
//! with the 64 lowercase hex digits written, so a change to any bit anywhere, the trailer
//! included, is refused before anything else is read. Then it checks the magic, the version
//! (an unknown one is refused, naming it), the header, the content length, the content's own
//! checksum and the kind.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use schemas::value::DateTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The first bytes of every snapshot, before the version number.
const MAGIC: &[u8] = b"cwmp-toolkit-snapshot ";
/// The format version [`Snapshot::encode`] writes and the only one [`Snapshot::decode`] reads.
pub const VERSION: u32 = 1;
/// The largest snapshot [`Snapshot::decode`] accepts, in bytes.
pub const MAX_SNAPSHOT: usize = 256 * 1024 * 1024;
/// The largest header line [`Snapshot::decode`] accepts, in bytes (the newline excluded).
pub const MAX_HEADER: usize = 64 * 1024;
/// `sha256:` and 64 hex digits and a newline.
const TRAILER_LEN: usize = TRAILER_PREFIX.len() + 64 + 1;
const TRAILER_PREFIX: &[u8] = b"sha256:";

/// What a snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A CPE agent's persistent state (`cpe backup`).
    CpeState,
    /// An ACS's store (`acs-sim backup`).
    AcsStore,
}

impl Kind {
    /// The name on the wire: `cpe-state` or `acs-store`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CpeState => "cpe-state",
            Self::AcsStore => "acs-store",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = Corrupt;

    fn from_str(s: &str) -> Result<Self, Corrupt> {
        match s {
            "cpe-state" => Ok(Self::CpeState),
            "acs-store" => Ok(Self::AcsStore),
            other => Err(Corrupt::UnknownKind(other.to_owned())),
        }
    }
}

/// A decoded snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// What it holds.
    pub kind: Kind,
    /// Whose state it is. A CPE's: `oui`, `product_class`, `serial` (TR-069 A.3.3.1, DeviceId).
    pub identity: BTreeMap<String, String>,
    /// When it was taken, RFC 3339 in UTC.
    pub created: String,
    /// The state itself, opaque to the container.
    pub content: Vec<u8>,
}

/// The JSON header line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    kind: String,
    identity: BTreeMap<String, String>,
    created: String,
    length: u64,
    content_sha256: String,
}

/// Why bytes are not a sound snapshot; the Display says why, for a human.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corrupt {
    /// Larger than [`MAX_SNAPSHOT`].
    #[error("{size} bytes is larger than the limit of {MAX_SNAPSHOT} bytes")]
    TooLarge {
        /// The size seen.
        size: usize,
    },
    /// Too short to hold the trailer, or not ending with a `sha256:<hex>` line.
    #[error("no checksum trailer (`sha256:<64 lowercase hex digits>` as the last line)")]
    NoTrailer,
    /// The trailer's checksum does not match the bytes before it.
    #[error("checksum mismatch: the trailer says {written}, the bytes before it hash to {actual}")]
    ChecksumMismatch {
        /// What the trailer holds (as text, lossily).
        written: String,
        /// The SHA-256 of the bytes before the trailer.
        actual: String,
    },
    /// The file does not start with the magic line.
    #[error("not a snapshot: it does not start with `cwmp-toolkit-snapshot <version>`")]
    NoMagic,
    /// A format version this program does not read.
    #[error("unknown snapshot format version {0:?}, this program reads version {VERSION}")]
    UnknownVersion(String),
    /// The header line is missing, too long, or not the expected JSON.
    #[error("bad header: {0}")]
    BadHeader(String),
    /// A kind other than `cpe-state` / `acs-store`.
    #[error("unknown snapshot kind {0:?} (expected cpe-state or acs-store)")]
    UnknownKind(String),
    /// `created` is not an RFC 3339 time.
    #[error("bad creation time {0:?}: not an RFC 3339 time")]
    BadCreated(String),
    /// The content is not as long as the header says.
    #[error("content is {actual} bytes, the header says {declared}")]
    LengthMismatch {
        /// The header's `length`.
        declared: u64,
        /// The bytes between the header and the trailer.
        actual: usize,
    },
    /// The content's checksum differs from the header's `content_sha256`.
    #[error(
        "content checksum mismatch: the header says {declared}, the content hashes to {actual}"
    )]
    ContentMismatch {
        /// The header's `content_sha256`.
        declared: String,
        /// The content's SHA-256.
        actual: String,
    },
}

/// A sound snapshot of another kind or device than expected ([`Snapshot::check_owner`]).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Foreign {
    /// The snapshot holds another kind of state.
    #[error("the snapshot holds {found}, expected {expected}")]
    Kind {
        /// The expected kind.
        expected: Kind,
        /// The snapshot's kind.
        found: Kind,
    },
    /// The snapshot belongs to another device or server.
    #[error(
        "the snapshot belongs to {}, not to {}",
        describe(found),
        describe(expected)
    )]
    Identity {
        /// The expected identity.
        expected: BTreeMap<String, String>,
        /// The snapshot's identity.
        found: BTreeMap<String, String>,
    },
}

/// `key=value key=value` (or `(no identity)`).
pub fn describe(identity: &BTreeMap<String, String>) -> String {
    if identity.is_empty() {
        return "(no identity)".to_owned();
    }
    let parts: Vec<String> = identity.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join(" ")
}

impl Snapshot {
    /// A snapshot taken now.
    pub fn now(kind: Kind, identity: BTreeMap<String, String>, content: Vec<u8>) -> Self {
        let secs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let created = i64::try_from(secs)
            .ok()
            .and_then(|s| DateTime::from_unix(s, 0))
            .unwrap_or_default()
            .to_string();
        Self {
            kind,
            identity,
            created,
            content,
        }
    }

    /// The snapshot file's bytes (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let header = Header {
            kind: self.kind.as_str().to_owned(),
            identity: self.identity.clone(),
            created: self.created.clone(),
            length: self.content.len() as u64,
            content_sha256: sha256_hex(&self.content),
        };
        let mut out = Vec::with_capacity(self.content.len() + 512);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(VERSION.to_string().as_bytes());
        out.push(b'\n');
        // A map of strings always serialises; serde_json escapes newlines inside strings, so
        // the header stays on one line.
        out.extend_from_slice(&serde_json::to_vec(&header).unwrap_or_default());
        out.push(b'\n');
        out.extend_from_slice(&self.content);
        out.push(b'\n');
        let trailer = sha256_hex(&out);
        out.extend_from_slice(TRAILER_PREFIX);
        out.extend_from_slice(trailer.as_bytes());
        out.push(b'\n');
        out
    }

    /// Reads a snapshot file, refusing any that is not byte for byte as [`encode`] wrote it
    /// (see the module docs for the order of the checks).
    ///
    /// [`encode`]: Self::encode
    pub fn decode(bytes: &[u8]) -> Result<Self, Corrupt> {
        let body = check_trailer(bytes)?;
        let (header, content) = split_header(body)?;
        let header: Header =
            serde_json::from_slice(header).map_err(|e| Corrupt::BadHeader(e.to_string()))?;
        if header.length != content.len() as u64 {
            return Err(Corrupt::LengthMismatch {
                declared: header.length,
                actual: content.len(),
            });
        }
        let actual = sha256_hex(content);
        if header.content_sha256 != actual {
            return Err(Corrupt::ContentMismatch {
                declared: header.content_sha256,
                actual,
            });
        }
        let kind = header.kind.parse()?;
        if header.created.parse::<DateTime>().is_err() {
            return Err(Corrupt::BadCreated(header.created));
        }
        Ok(Self {
            kind,
            identity: header.identity,
            created: header.created,
            content: content.to_vec(),
        })
    }

    /// Whether this snapshot is of `kind` and belongs to `identity`: every key of `identity`
    /// must be in the snapshot with the same value, and the snapshot must have no other key.
    pub fn check_owner(
        &self,
        kind: Kind,
        identity: &BTreeMap<String, String>,
    ) -> Result<(), Foreign> {
        if self.kind != kind {
            return Err(Foreign::Kind {
                expected: kind,
                found: self.kind,
            });
        }
        if &self.identity != identity {
            return Err(Foreign::Identity {
                expected: identity.clone(),
                found: self.identity.clone(),
            });
        }
        Ok(())
    }
}

/// `backup verify`'s answer: `{"corrupt":false,...}` or `{"corrupt":true,"reason":...}`, with
/// the header's fields when they could be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Whether the bytes are not a sound snapshot.
    pub corrupt: bool,
    /// Why, when corrupt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The snapshot's kind, when sound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// Whose state it is, when sound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<BTreeMap<String, String>>,
    /// When it was taken, when sound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The content's length in bytes, when sound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_length: Option<usize>,
    /// The file's size in bytes.
    pub size: usize,
    /// The file's checksum (the trailer's), when sound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Checks `bytes` as [`Snapshot::decode`] does and says what was found.
pub fn verify(bytes: &[u8]) -> Verdict {
    match Snapshot::decode(bytes) {
        Ok(snapshot) => Verdict {
            corrupt: false,
            reason: None,
            kind: Some(snapshot.kind),
            identity: Some(snapshot.identity),
            created: Some(snapshot.created),
            content_length: Some(snapshot.content.len()),
            size: bytes.len(),
            sha256: Some(file_checksum(bytes).to_owned()),
        },
        Err(why) => Verdict {
            corrupt: true,
            reason: Some(why.to_string()),
            kind: None,
            identity: None,
            created: None,
            content_length: None,
            size: bytes.len(),
            sha256: None,
        },
    }
}

/// The hex digits of a sound snapshot's trailer: the file's checksum, for a human to compare.
/// Empty for bytes too short to hold a trailer.
pub fn file_checksum(bytes: &[u8]) -> &str {
    bytes
        .len()
        .checked_sub(TRAILER_LEN - TRAILER_PREFIX.len())
        .and_then(|start| std::str::from_utf8(&bytes[start..bytes.len() - 1]).ok())
        .unwrap_or_default()
}

/// The bytes before the trailer, if the trailer is the lowercase SHA-256 of them.
fn check_trailer(bytes: &[u8]) -> Result<&[u8], Corrupt> {
    if bytes.len() > MAX_SNAPSHOT {
        return Err(Corrupt::TooLarge { size: bytes.len() });
    }
    let start = bytes
        .len()
        .checked_sub(TRAILER_LEN)
        .ok_or(Corrupt::NoTrailer)?;
    let (body, trailer) = bytes.split_at(start);
    let hex = trailer
        .strip_prefix(TRAILER_PREFIX)
        .and_then(|t| t.strip_suffix(b"\n"))
        .ok_or(Corrupt::NoTrailer)?;
    let actual = sha256_hex(body);
    if hex != actual.as_bytes() {
        return Err(Corrupt::ChecksumMismatch {
            written: String::from_utf8_lossy(hex).into_owned(),
            actual,
        });
    }
    Ok(body)
}

/// Checks the magic line and splits the rest into the header line and the content (without
/// the newline that ends it).
fn split_header(body: &[u8]) -> Result<(&[u8], &[u8]), Corrupt> {
    let rest = body.strip_prefix(MAGIC).ok_or(Corrupt::NoMagic)?;
    let (version, rest) = split_line(rest, 16).ok_or(Corrupt::NoMagic)?;
    if version != VERSION.to_string().as_bytes() {
        return Err(Corrupt::UnknownVersion(
            String::from_utf8_lossy(version).into_owned(),
        ));
    }
    let (header, rest) = split_line(rest, MAX_HEADER).ok_or_else(|| {
        Corrupt::BadHeader(format!(
            "no header line of at most {MAX_HEADER} bytes after the magic line"
        ))
    })?;
    let content = rest.strip_suffix(b"\n").ok_or_else(|| {
        Corrupt::BadHeader("no newline between the content and the trailer".to_owned())
    })?;
    Ok((header, content))
}

/// The line (without its newline) and what follows, if a newline is within `max + 1` bytes.
fn split_line(bytes: &[u8], max: usize) -> Option<(&[u8], &[u8])> {
    let end = bytes.iter().take(max + 1).position(|&b| b == b'\n')?;
    Some((&bytes[..end], &bytes[end + 1..]))
}

/// The SHA-256 of `bytes` in lowercase hex.
fn sha256_hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn small() -> Snapshot {
        Snapshot {
            kind: Kind::CpeState,
            identity: BTreeMap::from([
                ("oui".to_owned(), "00D09E".to_owned()),
                ("product_class".to_owned(), "HGW".to_owned()),
                ("serial".to_owned(), "S1".to_owned()),
            ]),
            created: "2025-01-02T03:04:05Z".to_owned(),
            content: br#"{"model":{"a":"1"}}"#.to_vec(),
        }
    }

    /// Re-seals `body` with a correct trailer, to reach the checks after the checksum.
    fn sealed(body: &[u8]) -> Vec<u8> {
        let mut out = body.to_vec();
        out.extend_from_slice(TRAILER_PREFIX);
        out.extend_from_slice(sha256_hex(body).as_bytes());
        out.push(b'\n');
        out
    }

    #[test]
    fn the_format_is_as_documented() {
        let bytes = small().encode();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        assert_eq!(lines[0], "cwmp-toolkit-snapshot 1\n");
        let header: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(header["kind"], "cpe-state");
        assert_eq!(header["identity"]["serial"], "S1");
        assert_eq!(header["created"], "2025-01-02T03:04:05Z");
        assert_eq!(header["length"], 19);
        assert_eq!(
            header["content_sha256"],
            sha256_hex(br#"{"model":{"a":"1"}}"#)
        );
        let trailer = lines.last().unwrap();
        assert_eq!(
            *trailer,
            format!("sha256:{}\n", sha256_hex(&bytes[..bytes.len() - 72]))
        );
        assert_eq!(file_checksum(&bytes), &trailer[7..71]);
        assert_eq!(Snapshot::decode(&bytes).unwrap(), small());
    }

    #[test]
    fn every_single_byte_change_is_detected_and_refused() {
        let bytes = small().encode();
        assert!(!verify(&bytes).corrupt);
        let mut checked = 0;
        for position in 0..bytes.len() {
            for mask in [0x01u8, 0x20, 0x80, 0xFF] {
                let mut flipped = bytes.clone();
                flipped[position] ^= mask;
                let verdict = verify(&flipped);
                assert!(
                    verdict.corrupt,
                    "byte {position} ^ {mask:#04x} not detected"
                );
                assert!(verdict.reason.is_some());
                assert!(
                    Snapshot::decode(&flipped).is_err(),
                    "byte {position} ^ {mask:#04x} decoded"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, bytes.len() * 4);
    }

    #[test]
    fn truncation_and_extension_are_refused() {
        let bytes = small().encode();
        for len in 0..bytes.len() {
            assert!(Snapshot::decode(&bytes[..len]).is_err(), "cut at {len}");
        }
        let mut longer = bytes.clone();
        longer.push(b'\n');
        assert!(Snapshot::decode(&longer).is_err());
    }

    #[test]
    fn each_check_names_what_is_wrong() {
        let good = small().encode();
        let body = &good[..good.len() - TRAILER_LEN];
        let text = std::str::from_utf8(body).unwrap();
        let cases: Vec<(Vec<u8>, Corrupt)> = vec![
            (b"short".to_vec(), Corrupt::NoTrailer),
            (sealed(b"hello\n"), Corrupt::NoMagic),
            (
                sealed(text.replacen(" 1\n", " 2\n", 1).as_bytes()),
                Corrupt::UnknownVersion("2".to_owned()),
            ),
            (
                sealed(
                    text.replacen("\"length\":19", "\"length\":18", 1)
                        .as_bytes(),
                ),
                Corrupt::LengthMismatch {
                    declared: 18,
                    actual: 19,
                },
            ),
            (
                sealed(text.replacen("cpe-state", "xyz-state", 1).as_bytes()),
                Corrupt::UnknownKind("xyz-state".to_owned()),
            ),
            (
                sealed(text.replacen("2025-01-02T", "2025-13-02T", 1).as_bytes()),
                Corrupt::BadCreated("2025-13-02T03:04:05Z".to_owned()),
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(Snapshot::decode(&bytes).unwrap_err(), expected);
        }
        let content_changed = sealed(text.replacen("\"1\"", "\"2\"", 1).as_bytes());
        assert!(matches!(
            Snapshot::decode(&content_changed),
            Err(Corrupt::ContentMismatch { .. })
        ));
        let mut upper = good.clone();
        let last_hex = upper.len() - 2;
        upper[last_hex..].copy_from_slice(b"A\n");
        let err = Snapshot::decode(&upper).unwrap_err();
        assert!(matches!(err, Corrupt::ChecksumMismatch { .. }), "{err:?}");
        assert!(err.to_string().contains("checksum mismatch"));
        let no_header = sealed(b"cwmp-toolkit-snapshot 1\nno newline");
        let no_separator = sealed(&body[..body.len() - 1]);
        assert!(matches!(
            Snapshot::decode(&no_separator),
            Err(Corrupt::BadHeader(_))
        ));
        assert!(matches!(
            Snapshot::decode(&no_header),
            Err(Corrupt::BadHeader(_))
        ));
    }

    #[test]
    fn a_snapshot_over_the_limit_is_refused_unread() {
        let bytes = vec![0u8; MAX_SNAPSHOT + 1];
        assert_eq!(
            Snapshot::decode(&bytes).unwrap_err(),
            Corrupt::TooLarge {
                size: MAX_SNAPSHOT + 1
            }
        );
    }

    #[test]
    fn verdicts_serialise_as_documented() {
        let bytes = small().encode();
        let sound = serde_json::to_value(verify(&bytes)).unwrap();
        assert_eq!(sound["corrupt"], false);
        assert!(sound.get("reason").is_none());
        assert_eq!(sound["kind"], "cpe-state");
        assert_eq!(sound["identity"]["oui"], "00D09E");
        assert_eq!(sound["size"], bytes.len());
        assert_eq!(sound["sha256"], file_checksum(&bytes));
        let corrupt = serde_json::to_value(verify(b"garbage")).unwrap();
        assert_eq!(corrupt["corrupt"], true);
        assert!(corrupt["reason"].as_str().unwrap().contains("trailer"));
        assert!(corrupt.get("kind").is_none());
    }

    #[test]
    fn the_owner_check_names_both_devices() {
        let snapshot = small();
        snapshot
            .check_owner(Kind::CpeState, &snapshot.identity)
            .unwrap();
        let mut other = snapshot.identity.clone();
        other.insert("serial".to_owned(), "S2".to_owned());
        let err = snapshot.check_owner(Kind::CpeState, &other).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("serial=S1"), "{message}");
        assert!(message.contains("serial=S2"), "{message}");
        assert_eq!(
            snapshot
                .check_owner(Kind::AcsStore, &snapshot.identity)
                .unwrap_err(),
            Foreign::Kind {
                expected: Kind::AcsStore,
                found: Kind::CpeState
            }
        );
    }

    #[test]
    fn now_writes_a_utc_rfc3339_time() {
        let snapshot = Snapshot::now(Kind::AcsStore, BTreeMap::new(), Vec::new());
        assert!(snapshot.created.ends_with('Z'), "{}", snapshot.created);
        assert_eq!(Snapshot::decode(&snapshot.encode()).unwrap(), snapshot);
    }

    proptest! {
        #[test]
        fn round_trip(
            acs in any::<bool>(),
            identity in proptest::collection::btree_map(".{0,12}", ".{0,24}", 0..4),
            secs in 0i64..4_000_000_000,
            content in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let snapshot = Snapshot {
                kind: if acs { Kind::AcsStore } else { Kind::CpeState },
                identity,
                created: DateTime::from_unix(secs, 0).unwrap().to_string(),
                content,
            };
            let bytes = snapshot.encode();
            prop_assert!(!verify(&bytes).corrupt);
            prop_assert_eq!(Snapshot::decode(&bytes).unwrap(), snapshot);
        }
    }
}
