//! Identifiers: GenieACS-style device ids and 24-hex task ids.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};

/// A device's key, built like GenieACS's `generateDeviceId`: `<OUI>-<ProductClass>-<Serial>`, or
/// `<OUI>-<Serial>` when the ProductClass is empty.
///
/// Each part is percent-encoded as GenieACS does: every byte of the UTF-8 form outside
/// `[A-Za-z0-9_]` becomes `%XX` (upper-case hex). GenieACS also escapes `-`, `.` and `~`, which
/// is what keeps the `-` separator unambiguous. One deliberate difference: GenieACS writes bytes
/// below 0x10 with a single hex digit (`%A` for a line feed, a JavaScript `toString(16)` quirk);
/// this type always writes two digits, so every id parses back. Such bytes do not occur in real
/// OUIs or serial numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeviceId(String);

impl DeviceId {
    /// Builds the id from the Inform's DeviceIdStruct fields (TR-069 Amd 6 Table 35).
    pub fn new(oui: &str, product_class: &str, serial_number: &str) -> Self {
        let mut id = String::new();
        escape_into(&mut id, oui);
        id.push('-');
        if !product_class.is_empty() {
            escape_into(&mut id, product_class);
            id.push('-');
        }
        escape_into(&mut id, serial_number);
        Self(id)
    }

    /// The encoded form, as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The decoded parts: (OUI, ProductClass, SerialNumber); ProductClass is empty for a
    /// two-part id.
    pub fn parts(&self) -> (String, String, String) {
        // The inner string was produced by `new` or validated by `from_str`, so decoding
        // cannot fail; fall back to the raw text rather than panic.
        let decode = |s: &str| unescape(s).unwrap_or_else(|| s.to_owned());
        let parts: Vec<&str> = self.0.split('-').collect();
        match parts.as_slice() {
            [oui, serial] => (decode(oui), String::new(), decode(serial)),
            [oui, class, serial] => (decode(oui), decode(class), decode(serial)),
            _ => (self.0.clone(), String::new(), String::new()),
        }
    }
}

/// Why a text is not a device id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceIdError {
    /// Not two or three `-`-separated parts.
    #[error("device id {id:?} must be <OUI>-<Serial> or <OUI>-<ProductClass>-<Serial>")]
    Shape {
        /// The rejected text.
        id: String,
    },
    /// A part is empty, holds a bad `%XX` escape or does not decode to UTF-8.
    #[error("device id {id:?}: bad part {part:?}")]
    Part {
        /// The rejected text.
        id: String,
        /// The offending part.
        part: String,
    },
}

impl FromStr for DeviceId {
    type Err = DeviceIdError;

    /// Parses an encoded id and returns it in canonical form (upper-case hex escapes).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('-').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(DeviceIdError::Shape { id: s.to_owned() });
        }
        let mut decoded = Vec::with_capacity(3);
        for part in &parts {
            match unescape(part) {
                Some(text) if !text.is_empty() => decoded.push(text),
                _ => {
                    return Err(DeviceIdError::Part {
                        id: s.to_owned(),
                        part: (*part).to_owned(),
                    });
                }
            }
        }
        Ok(match decoded.as_slice() {
            [oui, serial] => Self::new(oui, "", serial),
            [oui, class, serial] => Self::new(oui, class, serial),
            _ => return Err(DeviceIdError::Shape { id: s.to_owned() }),
        })
    }
}

impl TryFrom<String> for DeviceId {
    type Error = DeviceIdError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<DeviceId> for String {
    fn from(id: DeviceId) -> Self {
        id.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn escape_into(out: &mut String, part: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in part.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

/// Decodes `%XX` escapes; `None` on a truncated escape, bad hex or non-UTF-8 result.
fn unescape(part: &str) -> Option<String> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let hex = part.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(byte);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A task's id: 24 lower-case hex digits, the shape of the MongoDB ObjectIds GenieACS uses.
///
/// Layout (12 bytes, as an ObjectId): 4 bytes of the task's timestamp (unix seconds, big
/// endian), 5 bytes drawn at random once per process, 3 bytes of a process-wide counter that
/// starts at a random value. Two ids from one process differ unless more than 2^24 tasks share
/// one second; two processes differ by their random bytes. The stores also enforce uniqueness
/// (a clash is a [`Conflict`](super::StoreError::Conflict), never an overwrite).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaskId(String);

impl TaskId {
    /// A fresh id for a task created at `timestamp` (unix seconds).
    pub fn generate(timestamp: i64) -> Self {
        static PROCESS: OnceLock<(u64, AtomicU32)> = OnceLock::new();
        let (random, counter) = PROCESS.get_or_init(|| {
            let random = RandomState::new().hash_one(std::process::id());
            let start = RandomState::new().hash_one(random);
            (random, AtomicU32::new(start.to_le_bytes()[0].into()))
        });
        let count = counter.fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
        // Seconds past 2106 wrap, as ObjectIds do.
        let seconds = (timestamp & 0xffff_ffff) as u32;
        Self(format!(
            "{seconds:08x}{:010x}{count:06x}",
            random & 0xff_ffff_ffff
        ))
    }

    /// The 24 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a text is not a task id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("task id {0:?} is not 24 hex digits")]
pub struct TaskIdError(pub String);

impl FromStr for TaskId {
    type Err = TaskIdError;

    /// Accepts 24 hex digits in either case and keeps them lower-case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(TaskIdError(s.to_owned()))
        }
    }
}

impl TryFrom<String> for TaskId {
    type Error = TaskIdError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<TaskId> for String {
    fn from(id: TaskId) -> Self {
        id.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn genieacs_examples() {
        let id = DeviceId::new("00236A", "IGD", "SN-0001");
        assert_eq!(id.as_str(), "00236A-IGD-SN%2D0001");
        assert_eq!(
            DeviceId::new("00236A", "", "a.b~c").as_str(),
            "00236A-a%2Eb%7Ec"
        );
        assert_eq!(
            DeviceId::new("A", "Home Gate", "é").as_str(),
            "A-Home%20Gate-%C3%A9"
        );
        assert_eq!(
            id.parts(),
            ("00236A".to_owned(), "IGD".to_owned(), "SN-0001".to_owned())
        );
    }

    #[test]
    fn parse_canonicalises_and_rejects() {
        let id: DeviceId = "00236a-igd-sn%2d1".parse().unwrap();
        assert_eq!(id.as_str(), "00236a-igd-sn%2D1");
        for bad in ["", "A", "A-B-C-D", "A--B", "-B", "A-%4", "A-%ZZ", "A-%FF"] {
            assert!(bad.parse::<DeviceId>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn task_ids_are_unique_and_24_hex() {
        let ids: HashSet<TaskId> = (0..10_000)
            .map(|_| TaskId::generate(1_700_000_000))
            .collect();
        assert_eq!(ids.len(), 10_000);
        for id in &ids {
            assert_eq!(id.as_str().parse::<TaskId>().as_ref(), Ok(id));
            assert!(id.as_str().starts_with("6553f100"));
        }
        assert!("xyz".parse::<TaskId>().is_err());
    }

    proptest! {
        #[test]
        fn device_id_round_trip(
            oui in "\\PC{1,8}",
            class in "\\PC{0,12}",
            serial in "\\PC{1,16}",
        ) {
            let id = DeviceId::new(&oui, &class, &serial);
            let parsed: DeviceId = id.to_string().parse().unwrap();
            prop_assert_eq!(&parsed, &id);
            prop_assert_eq!(parsed.parts(), (oui, class, serial));
            prop_assert!(id.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b"_%-".contains(&b)));
        }
    }
}
