//! The answer to a GET or HEAD of a stored file, shared by the file server and the REST route:
//! entity tag, conditional 304, single-range 206 / 416, streamed body.

use std::io::{self, SeekFrom};

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_NONE_MATCH, IF_RANGE,
    RANGE,
};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Empty, Full};
use tokio::io::AsyncSeekExt as _;

use super::OpenFile;
use super::body::FileBody;
use super::conditional::{Extent, entity_tag, extent, none_match};

/// The body type of every file-server response.
pub(super) type ResponseBody = BoxBody<Bytes, io::Error>;

/// An empty body.
fn empty() -> ResponseBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A body held in memory.
pub(super) fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// Answers a GET (or, with `head`, a HEAD) of `open` under the request's `If-None-Match`,
/// `Range` and `If-Range` (RFC 9110 §13, §14).
pub(super) async fn file_response(
    open: OpenFile,
    request: &HeaderMap,
    head: bool,
) -> io::Result<Response<ResponseBody>> {
    let OpenFile {
        meta,
        len,
        mut file,
        ..
    } = open;
    let etag = entity_tag(&meta.path, len);
    let mut response = Response::new(empty());
    let headers = response.headers_mut();
    headers.insert(ETAG, header(&etag));
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if none_match(request.get(IF_NONE_MATCH), &etag) {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(response);
    }
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    let (status, first, count) = match extent(request.get(RANGE), request.get(IF_RANGE), &etag, len)
    {
        Extent::Full => (StatusCode::OK, 0, len),
        Extent::Part { first, last } => {
            headers.insert(
                CONTENT_RANGE,
                header(&format!("bytes {first}-{last}/{len}")),
            );
            (StatusCode::PARTIAL_CONTENT, first, last - first + 1)
        }
        Extent::Unsatisfiable => {
            headers.insert(CONTENT_RANGE, header(&format!("bytes */{len}")));
            (StatusCode::RANGE_NOT_SATISFIABLE, 0, 0)
        }
    };
    headers.insert(CONTENT_LENGTH, HeaderValue::from(count));
    *response.status_mut() = status;
    if !head && count > 0 {
        file.seek(SeekFrom::Start(first)).await?;
        *response.body_mut() = FileBody::new(file, count).boxed();
    }
    Ok(response)
}

/// A header value from text this module formats (digits, hex, quotes, `bytes`, `/`, `-`, `*`).
fn header(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}
