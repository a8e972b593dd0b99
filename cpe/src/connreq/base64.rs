//! Standard base64 decoding (RFC 4648 §4) for `Authorization: Basic` (RFC 7617), the only
//! place this module needs it; padding is required, as RFC 7617 sends it.

/// Most input accepted: Basic credentials longer than this are refused.
const MAX_INPUT: usize = 4096;

/// Decodes padded standard base64, or `None` if `input` is not exactly that.
pub(super) fn decode(input: &str) -> Option<Vec<u8>> {
    let bytes = input.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) || bytes.len() > MAX_INPUT {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let chunks = bytes.chunks_exact(4);
    let last = chunks.len() - 1;
    for (i, chunk) in chunks.enumerate() {
        let pad = chunk.iter().rev().take_while(|&&b| b == b'=').count();
        if pad > 2 || (pad > 0 && i != last) {
            return None;
        }
        let mut n: u32 = 0;
        for &b in &chunk[..4 - pad] {
            n = (n << 6) | u32::from(value(b)?);
        }
        n <<= 6 * pad as u32;
        let [_, a, b, c] = n.to_be_bytes();
        out.extend_from_slice(&[a, b, c][..3 - pad]);
    }
    Some(out)
}

fn value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn rfc4648_vectors() {
        let cases: [(&str, &[u8]); 6] = [
            ("Zg==", b"f"),
            ("Zm8=", b"fo"),
            ("Zm9v", b"foo"),
            ("Zm9vYg==", b"foob"),
            ("Zm9vYmE=", b"fooba"),
            ("Zm9vYmFy", b"foobar"),
        ];
        for (text, bytes) in cases {
            assert_eq!(decode(text).as_deref(), Some(bytes), "{text}");
        }
        // RFC 7617 §2 example.
        assert_eq!(
            decode("QWxhZGRpbjpvcGVuIHNlc2FtZQ==").as_deref(),
            Some(&b"Aladdin:open sesame"[..])
        );
    }

    #[test]
    fn refuses_bad_input() {
        for text in ["", "Zg", "Zg=", "Z===", "Zg==Zg==", "Zm9v!", "Zm 9", "é==="] {
            assert_eq!(decode(text), None, "{text}");
        }
        assert_eq!(decode(&"A".repeat(8192)), None);
    }
}
