//! Typed parameter values: the `xsd` types TR-069 Amd 6 Table 12 (A.2.1) lets a `Value` carry.
//!
//! The type comes from the `xsi:type` attribute, resolved through the namespace bindings in
//! scope (so `xsd:int`, `xs:int` and `soap-enc:int` all read as [`XsdType::Int`]). Text that does
//! not fit its declared type is kept as [`Value::Invalid`], so a CPE can answer with fault 9006
//! or 9007 for that one parameter instead of rejecting the whole request.

mod datetime;

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

pub use datetime::{DateTime, DateTimeError};

/// The value types of TR-069 Amd 6 Table 12.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XsdType {
    /// `xsd:string`.
    String,
    /// `xsd:int`: 32-bit signed.
    Int,
    /// `xsd:unsignedInt`: 32-bit unsigned.
    UnsignedInt,
    /// `xsd:long`: 64-bit signed.
    Long,
    /// `xsd:unsignedLong`: 64-bit unsigned.
    UnsignedLong,
    /// `xsd:boolean`: `true`, `false`, `1` or `0`.
    Boolean,
    /// `xsd:dateTime`.
    DateTime,
    /// `xsd:base64Binary` (`base64` in TR-069).
    Base64,
    /// `xsd:hexBinary`.
    HexBinary,
}

impl XsdType {
    /// The type's local name in the XML Schema namespace.
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Int => "int",
            Self::UnsignedInt => "unsignedInt",
            Self::Long => "long",
            Self::UnsignedLong => "unsignedLong",
            Self::Boolean => "boolean",
            Self::DateTime => "dateTime",
            Self::Base64 => "base64Binary",
            Self::HexBinary => "hexBinary",
        }
    }

    /// The type with local name `name` (`base64` is accepted for `base64Binary`, as SOAP
    /// encoding names it).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "string" => Self::String,
            "int" => Self::Int,
            "unsignedInt" => Self::UnsignedInt,
            "long" => Self::Long,
            "unsignedLong" => Self::UnsignedLong,
            "boolean" => Self::Boolean,
            "dateTime" => Self::DateTime,
            "base64Binary" | "base64" => Self::Base64,
            "hexBinary" => Self::HexBinary,
            _ => return None,
        })
    }
}

impl fmt::Display for XsdType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parameter value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    /// `xsd:string`, also the reading of a `Value` with no `xsi:type`.
    String(String),
    /// `xsd:int`.
    Int(i32),
    /// `xsd:unsignedInt`.
    UnsignedInt(u32),
    /// `xsd:long`.
    Long(i64),
    /// `xsd:unsignedLong`.
    UnsignedLong(u64),
    /// `xsd:boolean`.
    Boolean(bool),
    /// `xsd:dateTime`.
    DateTime(DateTime),
    /// `xsd:base64Binary`, decoded.
    Base64(Vec<u8>),
    /// `xsd:hexBinary`, decoded.
    HexBinary(Vec<u8>),
    /// Another XML Schema type (`xsd:float`, `xsd:anyURI`, ...), kept as its lexical text.
    Other {
        /// The type's local name in the XML Schema namespace.
        type_name: String,
        /// The text as received.
        text: String,
    },
    /// Text that is not a valid value of the type it was declared with.
    Invalid {
        /// The declared type.
        declared: XsdType,
        /// The text as received.
        text: String,
    },
}

impl Default for Value {
    fn default() -> Self {
        Self::String(String::new())
    }
}

impl Value {
    /// Reads `text` as a value of type `ty`; text that does not fit gives [`Value::Invalid`].
    pub fn parse(ty: XsdType, text: &str) -> Self {
        let t = text.trim();
        let parsed = match ty {
            XsdType::String => Some(Self::String(text.to_owned())),
            XsdType::Int => t.parse().ok().map(Self::Int),
            XsdType::UnsignedInt => t.parse().ok().map(Self::UnsignedInt),
            XsdType::Long => t.parse().ok().map(Self::Long),
            XsdType::UnsignedLong => t.parse().ok().map(Self::UnsignedLong),
            XsdType::Boolean => parse_bool(t).map(Self::Boolean),
            XsdType::DateTime => t.parse().ok().map(Self::DateTime),
            XsdType::Base64 => {
                let compact: String = t.split_ascii_whitespace().collect();
                BASE64.decode(compact).ok().map(Self::Base64)
            }
            XsdType::HexBinary => decode_hex(t).map(Self::HexBinary),
        };
        parsed.unwrap_or_else(|| Self::Invalid {
            declared: ty,
            text: text.to_owned(),
        })
    }

    /// The value's type name as written in `xsi:type` (without prefix).
    pub fn type_name(&self) -> &str {
        match self {
            Self::String(_) => "string",
            Self::Int(_) => "int",
            Self::UnsignedInt(_) => "unsignedInt",
            Self::Long(_) => "long",
            Self::UnsignedLong(_) => "unsignedLong",
            Self::Boolean(_) => "boolean",
            Self::DateTime(_) => "dateTime",
            Self::Base64(_) => "base64Binary",
            Self::HexBinary(_) => "hexBinary",
            Self::Other { type_name, .. } => type_name,
            Self::Invalid { declared, .. } => declared.name(),
        }
    }

    /// The canonical lexical form.
    pub fn lexical(&self) -> Cow<'_, str> {
        match self {
            Self::String(s) | Self::Other { text: s, .. } | Self::Invalid { text: s, .. } => {
                Cow::Borrowed(s)
            }
            Self::Int(n) => Cow::Owned(n.to_string()),
            Self::UnsignedInt(n) => Cow::Owned(n.to_string()),
            Self::Long(n) => Cow::Owned(n.to_string()),
            Self::UnsignedLong(n) => Cow::Owned(n.to_string()),
            Self::Boolean(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Self::DateTime(t) => Cow::Owned(t.to_string()),
            Self::Base64(b) => Cow::Owned(encode_base64(b)),
            Self::HexBinary(b) => Cow::Owned(encode_hex(b)),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lexical())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Self::UnsignedInt(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Self::Boolean(b)
    }
}

/// `xsd:boolean` as TR-069 allows it: `true`, `false`, `1`, `0`.
pub(crate) fn parse_bool(t: &str) -> Option<bool> {
    match t {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        // Seen from devices; not xsd, but unambiguous.
        _ if t.eq_ignore_ascii_case("true") => Some(true),
        _ if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// `xsd:base64Binary` in canonical form: standard alphabet, padded, no line breaks.
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

fn decode_hex(t: &str) -> Option<Vec<u8>> {
    if !t.len().is_multiple_of(2) {
        return None;
    }
    t.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0F)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_parses_and_bad_text_is_kept_as_invalid() {
        assert_eq!(
            Value::parse(XsdType::UnsignedInt, " 42 "),
            Value::UnsignedInt(42)
        );
        assert_eq!(Value::parse(XsdType::Boolean, "1"), Value::Boolean(true));
        assert_eq!(
            Value::parse(XsdType::Boolean, "false"),
            Value::Boolean(false)
        );
        assert_eq!(Value::parse(XsdType::Int, "-7"), Value::Int(-7));
        assert_eq!(
            Value::parse(XsdType::Base64, "AAEC\n/w=="),
            Value::Base64(vec![0, 1, 2, 255])
        );
        assert_eq!(
            Value::parse(XsdType::HexBinary, "00ff"),
            Value::HexBinary(vec![0, 255])
        );
        assert_eq!(
            Value::parse(XsdType::UnsignedInt, "-1"),
            Value::Invalid {
                declared: XsdType::UnsignedInt,
                text: "-1".into()
            }
        );
        assert!(matches!(
            Value::parse(XsdType::Boolean, "yes"),
            Value::Invalid { .. }
        ));
        assert_eq!(
            Value::parse(XsdType::String, " a "),
            Value::String(" a ".into())
        );
    }

    #[test]
    fn lexical_forms_are_canonical() {
        assert_eq!(Value::Boolean(true).lexical(), "true");
        assert_eq!(Value::HexBinary(vec![0xab, 1]).lexical(), "AB01");
        assert_eq!(Value::Base64(vec![0, 1, 2, 255]).lexical(), "AAEC/w==");
    }
}
