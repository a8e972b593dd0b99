//! Conditional and partial GET (RFC 9110 §13, §14): strong entity tags, `If-None-Match`,
//! `Range: bytes=` with one range, and `If-Range`. Pure functions over header values.

use http::HeaderValue;
use md5::{Digest as _, Md5};

/// The strong entity tag (RFC 9110 §8.8.3) of the blob at `path` holding `len` bytes. Blobs are
/// never rewritten in place: a new upload is a new blob with its content hash in its path, so
/// the path and length identify the bytes.
pub(super) fn entity_tag(path: &str, len: u64) -> String {
    let digest = Md5::new()
        .chain_update(path.as_bytes())
        .chain_update(len.to_be_bytes())
        .finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether `If-None-Match` (RFC 9110 §13.1.2) matches `etag`, so the answer is 304: `*`, or a
/// listed tag equal under the weak comparison.
pub(super) fn none_match(if_none_match: Option<&HeaderValue>, etag: &str) -> bool {
    let Some(list) = if_none_match.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    list.split(',').map(str::trim).any(|tag| {
        tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag.trim_start_matches("W/")
    })
}

/// What to send for a GET of a `len`-byte representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Extent {
    /// All of it (200): no `Range`, one this server ignores, or an `If-Range` that no longer
    /// matches.
    Full,
    /// Bytes `first..=last` (206 with `Content-Range`).
    Part {
        /// The first byte.
        first: u64,
        /// The last byte, included.
        last: u64,
    },
    /// The range starts past the end (416 with `Content-Range: bytes */len`).
    Unsatisfiable,
}

/// Reads `Range` (RFC 9110 §14.2) under `If-Range` (§13.1.5). Only one `bytes` range is served;
/// a malformed header or a list of ranges is ignored (the full representation is sent), as
/// §14.2 allows.
pub(super) fn extent(
    range: Option<&HeaderValue>,
    if_range: Option<&HeaderValue>,
    etag: &str,
    len: u64,
) -> Extent {
    let Some(spec) = range
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Extent::Full;
    };
    // An If-Range date, or a tag that is not ours (strong comparison), means the client's
    // copy is stale: send it everything.
    if if_range.is_some_and(|v| v.as_bytes() != etag.as_bytes()) {
        return Extent::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Extent::Full;
    };
    if spec.contains(',') {
        return Extent::Full;
    }
    let number = |text: &str| {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<u64>().ok())
            .flatten()
    };
    match (number(first.trim()), number(last.trim())) {
        // `bytes=-n`: the last n bytes.
        (None, Some(suffix)) if first.trim().is_empty() => match (suffix, len) {
            (0, _) | (_, 0) => Extent::Unsatisfiable,
            _ => Extent::Part {
                first: len.saturating_sub(suffix),
                last: len - 1,
            },
        },
        (Some(first), None) if last.trim().is_empty() => part(first, u64::MAX, len),
        (Some(first), Some(last)) if first <= last => part(first, last, len),
        _ => Extent::Full,
    }
}

fn part(first: u64, last: u64, len: u64) -> Extent {
    if first >= len {
        Extent::Unsatisfiable
    } else {
        Extent::Part {
            first,
            last: last.min(len - 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).unwrap()
    }

    fn range(text: &str, len: u64) -> Extent {
        extent(Some(&value(text)), None, "\"t\"", len)
    }

    #[test]
    fn entity_tags_are_strong_and_differ_by_blob() {
        let tag = entity_tag("/f/a.1", 10);
        assert!(tag.starts_with('"') && tag.ends_with('"') && !tag.starts_with("W/"));
        assert_eq!(tag, entity_tag("/f/a.1", 10));
        assert_ne!(tag, entity_tag("/f/a.2", 10));
        assert_ne!(tag, entity_tag("/f/a.1", 11));
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        let tag = "\"abc\"";
        assert!(none_match(Some(&value("\"abc\"")), tag));
        assert!(none_match(Some(&value("\"x\", W/\"abc\"")), tag));
        assert!(none_match(Some(&value("*")), tag));
        assert!(!none_match(Some(&value("\"abd\"")), tag));
        assert!(!none_match(None, tag));
    }

    #[test]
    fn single_ranges_are_served() {
        assert_eq!(range("bytes=0-3", 10), Extent::Part { first: 0, last: 3 });
        assert_eq!(range("bytes=5-", 10), Extent::Part { first: 5, last: 9 });
        assert_eq!(range("bytes=5-100", 10), Extent::Part { first: 5, last: 9 });
        assert_eq!(range("bytes=-3", 10), Extent::Part { first: 7, last: 9 });
        assert_eq!(range("bytes=-30", 10), Extent::Part { first: 0, last: 9 });
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        assert_eq!(range("bytes=10-", 10), Extent::Unsatisfiable);
        assert_eq!(range("bytes=10-20", 10), Extent::Unsatisfiable);
        assert_eq!(range("bytes=-0", 10), Extent::Unsatisfiable);
        assert_eq!(range("bytes=0-", 0), Extent::Unsatisfiable);
    }

    #[test]
    fn malformed_or_multiple_ranges_are_ignored() {
        for text in [
            "bytes=3-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=1",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=+1-2",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(range(text, 10), Extent::Full, "{text}");
        }
        assert_eq!(extent(None, None, "\"t\"", 10), Extent::Full);
    }

    #[test]
    fn if_range_must_match_the_current_tag() {
        let r = value("bytes=0-0");
        let part = Extent::Part { first: 0, last: 0 };
        assert_eq!(extent(Some(&r), Some(&value("\"t\"")), "\"t\"", 5), part);
        assert_eq!(
            extent(Some(&r), Some(&value("\"old\"")), "\"t\"", 5),
            Extent::Full
        );
        assert_eq!(
            extent(
                Some(&r),
                Some(&value("Sat, 01 Jan 2000 00:00:00 GMT")),
                "\"t\"",
                5
            ),
            Extent::Full
        );
    }
}
