//! A response body that streams part of an open file in chunks, so serving a firmware image
//! never holds it in memory.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::fs::File;
use tokio::io::{AsyncRead, ReadBuf};

/// The most bytes read per frame.
const CHUNK: usize = 64 * 1024;

/// Streams the next `remaining` bytes of `file` from its current position.
#[derive(Debug)]
pub(super) struct FileBody {
    file: File,
    remaining: u64,
    buffer: Vec<u8>,
}

impl FileBody {
    /// A body of `len` bytes read from `file`, which is positioned at the first one.
    pub(super) fn new(file: File, len: u64) -> Self {
        let chunk = usize::try_from(len).map_or(CHUNK, |len| len.min(CHUNK));
        Self {
            file,
            remaining: len,
            buffer: vec![0; chunk],
        }
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = usize::try_from(this.remaining).map_or(this.buffer.len(), |remaining| {
            remaining.min(this.buffer.len())
        });
        let mut read = ReadBuf::new(&mut this.buffer[..want]);
        if let Err(e) = ready!(Pin::new(&mut this.file).poll_read(cx, &mut read)) {
            return Poll::Ready(Some(Err(e)));
        }
        let filled = read.filled();
        if filled.is_empty() {
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file ended before its announced length",
            ))));
        }
        // `filled` is at most `remaining` long.
        this.remaining -= filled.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(filled)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
