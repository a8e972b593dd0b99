//! File names: what a name may contain (it becomes a URL path segment and part of a blob's file
//! name), and the percent-encoding between the two (RFC 3986 §2.1).

use super::FileError;

/// The longest file name, in bytes: with the 33-byte content-hash suffix of a blob it stays
/// under the usual 255-byte file-name limit.
pub const MAX_NAME_LEN: usize = 200;

/// Checks that `name` can name a file: 1 to [`MAX_NAME_LEN`] bytes, no `/`, `\`, control
/// character or NUL, not starting with `.` (which also rules out `.` and `..`, and keeps names
/// apart from temporary upload files).
pub fn validate_name(name: &str) -> Result<(), FileError> {
    let invalid = |reason| {
        Err(FileError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return invalid("empty");
    }
    if name.len() > MAX_NAME_LEN {
        return invalid("longer than 200 bytes");
    }
    if name.starts_with('.') {
        return invalid("starts with `.`");
    }
    if name
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return invalid("contains `/`, `\\` or a control character");
    }
    Ok(())
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so `name` is one path segment.
pub fn encode_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes percent-escapes (and `+` as a space when `plus_is_space`, as in a query string).
/// `None` when an escape is malformed or the result is not UTF-8.
pub(super) fn decode(text: &str, plus_is_space: bool) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(byte) = bytes.next() {
        match byte {
            b'%' => {
                let high = char::from(bytes.next()?).to_digit(16)?;
                let low = char::from(bytes.next()?).to_digit(16)?;
                out.push(u8::try_from(high * 16 + low).ok()?);
            }
            b'+' if plus_is_space => out.push(b' '),
            _ => out.push(byte),
        }
    }
    String::from_utf8(out).ok()
}

/// The value of `key` in a query string (`a=1&b=2`), decoded.
pub(super) fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k, true)? == key).then(|| decode(v, true))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_escape_the_directory_are_refused() {
        for bad in [
            "", ".", "..", "../x", "a/b", "a\\b", ".hidden", "a\0b", "a\nb",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_name(&"x".repeat(MAX_NAME_LEN + 1)).is_err());
        for good in [
            "fw.bin",
            "a..b",
            "Firmware 1.2 (beta).img",
            "ü",
            &"x".repeat(200),
        ] {
            validate_name(good).unwrap();
        }
    }

    #[test]
    fn encoding_round_trips_and_keeps_unreserved() {
        for name in ["fw-1.2_3~x.bin", "a b/c%d?e#f", "ü+ö", ""] {
            assert_eq!(decode(&encode_segment(name), false).as_deref(), Some(name));
        }
        assert_eq!(encode_segment("fw-1.2_x~.bin"), "fw-1.2_x~.bin");
        assert_eq!(encode_segment("a b+ü"), "a%20b%2B%C3%BC");
    }

    #[test]
    fn malformed_escapes_do_not_decode() {
        for bad in ["%", "%4", "%zz", "%C3", "%FF"] {
            assert_eq!(decode(bad, false), None, "{bad:?}");
        }
        assert_eq!(decode("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(decode("a+b", true).as_deref(), Some("a b"));
    }

    #[test]
    fn query_param_finds_the_decoded_value() {
        let query = Some("x=1&fileType=1+Firmware%20Upgrade+Image&flag");
        assert_eq!(
            query_param(query, "fileType").as_deref(),
            Some("1 Firmware Upgrade Image")
        );
        assert_eq!(query_param(query, "flag").as_deref(), Some(""));
        assert_eq!(query_param(query, "y"), None);
        assert_eq!(query_param(None, "x"), None);
    }
}
