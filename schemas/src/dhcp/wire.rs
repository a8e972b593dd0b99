//! Reading helpers shared by the codecs: a bounds-checked cursor and the text and number rules
//! every sub-option follows.

use super::{DecodeError, EncodeError, Field};

/// A cursor over an option payload. Every read is bounds-checked and returns `None` at the end;
/// callers turn that into the [`DecodeError`] that names what was cut short.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes read so far, which is the offset of the next byte.
    pub(super) fn offset(&self) -> usize {
        self.pos
    }

    pub(super) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(super) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next `n` bytes, or `None` (consuming nothing) if fewer are left. Never allocates,
    /// so a lying length costs nothing.
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let bytes = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }

    pub(super) fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    pub(super) fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    pub(super) fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// RFC 2132 §2: "the receiver of such options MUST be prepared to delete trailing nulls if
/// they exist". Applied to every text and number field.
pub(super) fn strip_nuls(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &bytes[..end]
}

/// A text field: UTF-8 once trailing NULs are gone, with no control character.
pub(super) fn text(field: Field, bytes: &[u8]) -> Result<&str, DecodeError> {
    let text =
        std::str::from_utf8(strip_nuls(bytes)).map_err(|_| DecodeError::NotUtf8 { field })?;
    match text.chars().find(|c| c.is_control()) {
        Some(character) => Err(DecodeError::InvalidCharacter { field, character }),
        None => Ok(text),
    }
}

/// A text field that may not be empty or hold spaces (a URL, a domain), at most `max` bytes.
pub(super) fn token(field: Field, bytes: &[u8], max: usize) -> Result<&str, DecodeError> {
    let token = text(field, bytes)?;
    check_token(token, max).map_err(|e| match e {
        TokenProblem::Empty => DecodeError::Empty { field },
        TokenProblem::Space => DecodeError::InvalidCharacter {
            field,
            character: ' ',
        },
        TokenProblem::TooLong => DecodeError::TooLong {
            field,
            len: token.len(),
            max,
        },
    })?;
    Ok(token)
}

/// A text field that may not be empty, at most `max` bytes (spaces allowed).
pub(super) fn text_len(field: Field, bytes: &[u8], max: usize) -> Result<&str, DecodeError> {
    let text = text(field, bytes)?;
    if text.is_empty() {
        Err(DecodeError::Empty { field })
    } else if text.len() > max {
        Err(DecodeError::TooLong {
            field,
            len: text.len(),
            max,
        })
    } else {
        Ok(text)
    }
}

/// An unsigned ASCII decimal number in `min..=max` (TR-069 §3.1 sends the retry parameters as
/// text, e.g. `"5"`). Leading zeros are accepted; signs, spaces and an empty field are not.
pub(super) fn decimal(field: Field, bytes: &[u8], min: u16, max: u16) -> Result<u16, DecodeError> {
    let digits = strip_nuls(bytes);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(DecodeError::NotDecimal { field });
    }
    // Saturates well above u16::MAX, so any number of digits is read in constant space.
    let value = digits.iter().fold(0u32, |acc, d| {
        acc.saturating_mul(10)
            .saturating_add(u32::from(d - b'0'))
            .min(1 << 20)
    });
    match u16::try_from(value) {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(DecodeError::OutOfRange { field, min, max }),
    }
}

/// The same rules as [`text`], checked before encoding.
pub(super) fn check_text(field: Field, text: &str) -> Result<(), EncodeError> {
    match text.chars().find(|c| c.is_control()) {
        Some(character) => Err(EncodeError::InvalidCharacter { field, character }),
        None => Ok(()),
    }
}

/// The same rules as [`text_len`], checked before encoding.
pub(super) fn check_text_len(field: Field, text: &str, max: usize) -> Result<(), EncodeError> {
    check_text(field, text)?;
    if text.is_empty() {
        Err(EncodeError::Empty { field })
    } else if text.len() > max {
        Err(EncodeError::TooLong {
            field,
            len: text.len(),
            max,
        })
    } else {
        Ok(())
    }
}

/// The same rules as [`token`], checked before encoding.
pub(super) fn check_token_for_encode(
    field: Field,
    token: &str,
    max: usize,
) -> Result<(), EncodeError> {
    check_text(field, token)?;
    check_token(token, max).map_err(|e| match e {
        TokenProblem::Empty => EncodeError::Empty { field },
        TokenProblem::Space => EncodeError::InvalidCharacter {
            field,
            character: ' ',
        },
        TokenProblem::TooLong => EncodeError::TooLong {
            field,
            len: token.len(),
            max,
        },
    })
}

/// The same rules as [`decimal`], checked before encoding; returns the text to send.
pub(super) fn encode_decimal(
    field: Field,
    value: u16,
    min: u16,
    max: u16,
) -> Result<Vec<u8>, EncodeError> {
    if (min..=max).contains(&value) {
        Ok(value.to_string().into_bytes())
    } else {
        Err(EncodeError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

enum TokenProblem {
    Empty,
    Space,
    TooLong,
}

fn check_token(token: &str, max: usize) -> Result<(), TokenProblem> {
    if token.is_empty() {
        Err(TokenProblem::Empty)
    } else if token.contains(' ') {
        Err(TokenProblem::Space)
    } else if token.len() > max {
        Err(TokenProblem::TooLong)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_never_reads_past_the_end() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16(), Some(0x0102));
        assert_eq!(r.u16(), None);
        assert_eq!(r.offset(), 2);
        assert_eq!(r.take(usize::MAX), None);
        assert_eq!(r.u8(), Some(3));
        assert!(r.is_empty());
        assert_eq!(r.u32(), None);
    }

    #[test]
    fn trailing_nuls_are_dropped() {
        assert_eq!(strip_nuls(b"ab\0\0"), b"ab");
        assert_eq!(strip_nuls(b"\0\0"), b"");
        assert_eq!(strip_nuls(b"a\0b"), b"a\0b");
    }

    #[test]
    fn decimals() {
        let f = Field::RetryMinimumWaitInterval;
        assert_eq!(decimal(f, b"5", 1, 65535), Ok(5));
        assert_eq!(decimal(f, b"0005\0", 1, 65535), Ok(5));
        assert_eq!(decimal(f, b"65535", 1, 65535), Ok(65535));
        let out = Err(DecodeError::OutOfRange {
            field: f,
            min: 1,
            max: 65535,
        });
        assert_eq!(decimal(f, b"65536", 1, 65535), out);
        assert_eq!(decimal(f, b"0", 1, 65535), out);
        assert_eq!(decimal(f, &[b'9'; 10_000], 1, 65535), out);
        for bad in [&b""[..], b"+5", b" 5", b"5 ", b"0x10", b"-1", b"\0"] {
            assert_eq!(
                decimal(f, bad, 1, 65535),
                Err(DecodeError::NotDecimal { field: f })
            );
        }
    }
}
