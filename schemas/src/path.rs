//! Parameter and object names (TR-069 Amd 6 §A.2.4, TR-106 §3.1).
//!
//! A *full* name names one parameter (`Device.DeviceInfo.UpTime`); a *partial path* ends with a
//! dot and names an object and everything below it (`Device.WiFi.`); the empty path names the
//! root. Segments are names (`[A-Za-z_][A-Za-z0-9_-]*`), instance numbers, the instance
//! wildcard `*` (Amd 6 §A.2.4) or an alias in brackets (`[cpe-1]`, §3.6.1).

use std::fmt;
use std::str::FromStr;

/// The longest name the schemas allow (`ParameterValueStruct/Name`, `ObjectNameType`).
pub const MAX_PATH_LEN: usize = 256;

/// A syntactically valid parameter path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParameterPath(String);

/// Why a string is not a parameter path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// Longer than [`MAX_PATH_LEN`].
    #[error("path is {len} characters long, more than {max}")]
    TooLong {
        /// The limit.
        max: usize,
        /// The path's length.
        len: usize,
    },
    /// Two dots in a row, or a leading dot.
    #[error("path has an empty segment at byte {position}")]
    EmptySegment {
        /// Byte offset of the empty segment.
        position: usize,
    },
    /// A segment that is not a name, an instance number, `*` or `[alias]`.
    #[error("`{segment}` is not a name, an instance number, `*` or an [alias]")]
    InvalidSegment {
        /// The segment.
        segment: String,
    },
}

impl ParameterPath {
    /// The empty path: the root of the data model.
    pub fn root() -> Self {
        Self(String::new())
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this names an object (ends with `.`) or the root, rather than one parameter.
    pub fn is_partial(&self) -> bool {
        self.0.is_empty() || self.0.ends_with('.')
    }

    /// Whether any segment is the instance wildcard `*`.
    pub fn has_wildcard(&self) -> bool {
        self.segments().any(|s| s == "*")
    }

    /// The segments, without dots.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('.').filter(|s| !s.is_empty())
    }

    /// The object this path is directly below (`Device.A.B` and `Device.A.B.` give
    /// `Device.A.`), or `None` for the root and top-level names.
    pub fn parent(&self) -> Option<Self> {
        let trimmed = self.0.strip_suffix('.').unwrap_or(&self.0);
        trimmed.rfind('.').map(|i| Self(trimmed[..=i].to_owned()))
    }
}

impl FromStr for ParameterPath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_PATH_LEN {
            return Err(PathError::TooLong {
                max: MAX_PATH_LEN,
                len: s.len(),
            });
        }
        if s.is_empty() {
            return Ok(Self::root());
        }
        let body = s.strip_suffix('.').unwrap_or(s);
        let mut position = 0;
        for segment in body.split('.') {
            if segment.is_empty() {
                return Err(PathError::EmptySegment { position });
            }
            if !valid_segment(segment) {
                return Err(PathError::InvalidSegment {
                    segment: segment.to_owned(),
                });
            }
            position += segment.len() + 1;
        }
        Ok(Self(s.to_owned()))
    }
}

fn valid_segment(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    match bytes {
        [b'*'] => true,
        [b'[', alias @ .., b']'] => {
            !alias.is_empty()
                && alias
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(b))
        }
        [first, ..] if first.is_ascii_digit() => bytes.iter().all(u8::is_ascii_digit),
        [first, rest @ ..] => {
            (first.is_ascii_alphabetic() || *first == b'_')
                && rest
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(b))
        }
        [] => false,
    }
}

impl fmt::Display for ParameterPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ParameterPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_full_partial_root_wildcard_and_alias() {
        for ok in [
            "",
            "Device.",
            "Device.DeviceInfo.UpTime",
            "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.",
            "Device.WiFi.SSID.*.SSID",
            "Device.IP.Interface.[cpe-wan].Enable",
            "Device.X_H3C-Cloud_Mgmt.Port",
        ] {
            assert!(ok.parse::<ParameterPath>().is_ok(), "{ok}");
        }
        assert!(
            "Device.WiFi."
                .parse::<ParameterPath>()
                .unwrap()
                .is_partial()
        );
        assert!(!"Device.A".parse::<ParameterPath>().unwrap().is_partial());
        assert!(
            "Device.A.*.B"
                .parse::<ParameterPath>()
                .unwrap()
                .has_wildcard()
        );
    }

    #[test]
    fn refuses_malformed_paths_with_the_reason() {
        assert_eq!(
            "Device..A".parse::<ParameterPath>(),
            Err(PathError::EmptySegment { position: 7 })
        );
        assert_eq!(
            ".A".parse::<ParameterPath>(),
            Err(PathError::EmptySegment { position: 0 })
        );
        assert!(matches!(
            "Device.1a".parse::<ParameterPath>(),
            Err(PathError::InvalidSegment { .. })
        ));
        assert!(matches!(
            "Device.A B".parse::<ParameterPath>(),
            Err(PathError::InvalidSegment { .. })
        ));
        let long = format!("Device.{}", "a".repeat(300));
        assert!(matches!(
            long.parse::<ParameterPath>(),
            Err(PathError::TooLong { .. })
        ));
    }

    #[test]
    fn parent_walks_up_one_object() {
        let p: ParameterPath = "Device.A.B".parse().unwrap();
        assert_eq!(p.parent().unwrap().as_str(), "Device.A.");
        let p: ParameterPath = "Device.A.".parse().unwrap();
        assert_eq!(p.parent().unwrap().as_str(), "Device.");
        assert_eq!("Device.".parse::<ParameterPath>().unwrap().parent(), None);
    }
}
