//! Option payloads as hex text, for DHCP server configuration and client hooks.
//!
//! | Consumer | Form | Function |
//! |---|---|---|
//! | dnsmasq `dhcp-option=43,01:27:68:...` | colon-separated | [`colon_separated`] |
//! | ISC dhcpd `option vendor-encapsulated-options 01:27:68:...;` | colon-separated | [`colon_separated`] |
//! | H3C/HPE Comware `option 43 hex 012768...` | compact | [`compact`] |
//! | udhcpc / dhclient hooks (`$opt43`) | either | [`parse`] |

use std::fmt::Write as _;

/// Why hex text could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HexError {
    /// A character that is neither a hex digit nor a separator.
    #[error("{character:?} at byte {offset} is not a hex digit")]
    InvalidDigit {
        /// Byte offset in the text.
        offset: usize,
        /// The character.
        character: char,
    },
    /// Compact hex with an odd number of digits.
    #[error("odd number of hex digits")]
    OddDigits,
    /// A colon-separated group that is empty or longer than two digits.
    #[error("colon-separated group at byte {offset} is not one or two hex digits")]
    BadGroup {
        /// Byte offset of the group in the text.
        offset: usize,
    },
}

/// Lower-case hex bytes joined by colons: `01:27:68`, as dnsmasq and ISC dhcpd take them.
pub fn colon_separated(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Lower-case hex with no separators: `012768`, as the H3C `option 43 hex` command takes it.
pub fn compact(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Reads hex in either form, either case. Text with a colon is colon-separated (groups of one
/// or two digits, as ISC dhcpd allows); otherwise it is compact, and ASCII whitespace between
/// digits is ignored (`0127 68747470`).
pub fn parse(text: &str) -> Result<Vec<u8>, HexError> {
    let digit = |offset: usize, character: char| {
        character
            .to_digit(16)
            .map(|d| d as u8)
            .ok_or(HexError::InvalidDigit { offset, character })
    };
    let text_trimmed = text.trim();
    let start = text.len() - text.trim_start().len();
    let mut out = Vec::with_capacity(text_trimmed.len() / 2);
    if text_trimmed.contains(':') {
        let mut offset = start;
        for group in text_trimmed.split(':') {
            let mut value = 0u8;
            if group.is_empty() || group.len() > 2 {
                return Err(HexError::BadGroup { offset });
            }
            for (i, c) in group.char_indices() {
                value = value << 4 | digit(offset + i, c)?;
            }
            out.push(value);
            offset += group.len() + 1;
        }
    } else {
        let mut high = None;
        for (i, c) in text_trimmed.char_indices() {
            if c.is_ascii_whitespace() {
                continue;
            }
            let d = digit(start + i, c)?;
            match high.take() {
                None => high = Some(d),
                Some(h) => out.push(h << 4 | d),
            }
        }
        if high.is_some() {
            return Err(HexError::OddDigits);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        let bytes = [0x01, 0x27, 0x68, 0xff];
        assert_eq!(colon_separated(&bytes), "01:27:68:ff");
        assert_eq!(compact(&bytes), "012768ff");
        assert_eq!(colon_separated(&[]), "");
        assert_eq!(parse("01:27:68:FF"), Ok(bytes.to_vec()));
        assert_eq!(parse("1:27:68:ff\n"), Ok(bytes.to_vec()));
        assert_eq!(parse(" 0127 68FF "), Ok(bytes.to_vec()));
        assert_eq!(parse(""), Ok(vec![]));
    }

    #[test]
    fn bad_hex() {
        assert_eq!(parse("012"), Err(HexError::OddDigits));
        assert_eq!(
            parse("01g2"),
            Err(HexError::InvalidDigit {
                offset: 2,
                character: 'g'
            })
        );
        assert_eq!(parse("01::02"), Err(HexError::BadGroup { offset: 3 }));
        assert_eq!(parse("01:123"), Err(HexError::BadGroup { offset: 3 }));
        assert_eq!(
            parse("01:x"),
            Err(HexError::InvalidDigit {
                offset: 3,
                character: 'x'
            })
        );
    }
}
