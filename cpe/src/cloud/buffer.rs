//! The tunnel's bounded send buffer and the counters `display cloud-management state` prints
//! for it (ARCHITECTURE.md, "Cloud-management tunnel": dropped packets after reaching the
//! buffer limit, total dropped packets, last report incomplete reason and time, buffer full
//! count).
//!
//! Frames wait here until their link can take one more write: the driver writes one frame per
//! link at a time and says when it is done, so a slow socket fills the buffer instead of
//! memory.

use std::collections::VecDeque;
use std::time::Instant;

use schemas::tunnel::{ReportFailure, ReportFailureReason};
use serde::Serialize;

use super::Link;

/// The buffer's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BufferCounters {
    /// Frames dropped since the buffer last reached its limit.
    pub dropped_after_limit: u64,
    /// Frames dropped in all: refused by a full buffer, or queued for a link that went down.
    pub total_dropped: u64,
    /// How many times the buffer went from below its limit to full.
    pub buffer_full_count: u64,
    /// Why the last frame was dropped before it was written, and when.
    #[serde(skip)]
    pub last_incomplete: Option<(ReportFailure, Instant)>,
}

/// A frame was refused because the buffer is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("send buffer is full ({limit} bytes)")]
pub struct BufferFull {
    /// The buffer's limit in bytes.
    pub limit: usize,
}

/// Frames waiting to be written, at most `limit` bytes of text in all.
#[derive(Debug)]
pub struct SendBuffer {
    limit: usize,
    bytes: usize,
    full: bool,
    queued: VecDeque<(Link, String)>,
    counters: BufferCounters,
}

impl SendBuffer {
    /// An empty buffer holding at most `limit` bytes of frame text.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            bytes: 0,
            full: false,
            queued: VecDeque::new(),
            counters: BufferCounters::default(),
        }
    }

    /// Queues `text` for `link`, or drops it (and counts it) when it does not fit.
    pub fn push(&mut self, link: Link, text: String, now: Instant) -> Result<(), BufferFull> {
        if self.bytes + text.len() > self.limit {
            if !self.full {
                self.full = true;
                self.counters.buffer_full_count += 1;
                self.counters.dropped_after_limit = 0;
            }
            self.counters.dropped_after_limit += 1;
            self.drop_one(ReportFailureReason::SendBufferIsFull, now);
            return Err(BufferFull { limit: self.limit });
        }
        self.bytes += text.len();
        self.queued.push_back((link, text));
        Ok(())
    }

    /// Takes the oldest frame whose link `ready` accepts.
    pub fn pop(&mut self, ready: impl Fn(Link) -> bool) -> Option<(Link, String)> {
        let at = self.queued.iter().position(|(link, _)| ready(*link))?;
        let (link, text) = self.queued.remove(at)?;
        self.bytes -= text.len();
        if self.bytes < self.limit {
            self.full = false;
        }
        Some((link, text))
    }

    /// Drops every frame queued for a link `gone` selects (the link went down), counting
    /// each as dropped with "Tunnel socket is invalid".
    pub fn discard(&mut self, gone: impl Fn(Link) -> bool, now: Instant) {
        let before = self.queued.len();
        self.queued.retain(|(link, _)| !gone(*link));
        self.bytes = self.queued.iter().map(|(_, text)| text.len()).sum();
        self.full = self.bytes >= self.limit;
        for _ in self.queued.len()..before {
            self.drop_one(ReportFailureReason::TunnelSocketIsInvalid, now);
        }
    }

    /// The counters.
    pub fn counters(&self) -> &BufferCounters {
        &self.counters
    }

    /// Bytes of frame text queued.
    pub fn len_bytes(&self) -> usize {
        self.bytes
    }

    fn drop_one(&mut self, reason: ReportFailureReason, now: Instant) {
        self.counters.total_dropped += 1;
        self.counters.last_incomplete = Some((reason.into(), now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_buffer_drops_and_counts_each_episode() {
        let now = Instant::now();
        let mut buffer = SendBuffer::new(10);
        buffer.push(Link::Main, "12345".into(), now).unwrap();
        buffer.push(Link::Main, "12345".into(), now).unwrap();
        assert_eq!(
            buffer.push(Link::Main, "x".into(), now),
            Err(BufferFull { limit: 10 })
        );
        assert!(buffer.push(Link::Main, "y".into(), now).is_err());
        let c = buffer.counters().clone();
        assert_eq!(
            (c.dropped_after_limit, c.total_dropped, c.buffer_full_count),
            (2, 2, 1)
        );
        assert_eq!(
            c.last_incomplete,
            Some((ReportFailureReason::SendBufferIsFull.into(), now))
        );

        // Draining below the limit ends the episode; the next overflow is a new one.
        assert_eq!(buffer.pop(|_| true), Some((Link::Main, "12345".into())));
        buffer.push(Link::Main, "12345".into(), now).unwrap();
        assert!(buffer.push(Link::Main, "z".into(), now).is_err());
        let c = buffer.counters();
        assert_eq!(
            (c.dropped_after_limit, c.total_dropped, c.buffer_full_count),
            (1, 3, 2)
        );
    }

    #[test]
    fn pop_skips_busy_links_and_discard_counts_dropped_frames() {
        let now = Instant::now();
        let mut buffer = SendBuffer::new(100);
        buffer.push(Link::Main, "a".into(), now).unwrap();
        buffer.push(Link::Service(0), "b".into(), now).unwrap();
        buffer.push(Link::Service(1), "c".into(), now).unwrap();
        assert_eq!(
            buffer.pop(|link| link != Link::Main),
            Some((Link::Service(0), "b".into()))
        );
        buffer.discard(|link| link == Link::Main, now);
        assert_eq!(buffer.len_bytes(), 1);
        assert_eq!(buffer.counters().total_dropped, 1);
        assert_eq!(buffer.counters().dropped_after_limit, 0);
        assert_eq!(
            buffer.counters().last_incomplete,
            Some((ReportFailureReason::TunnelSocketIsInvalid.into(), now))
        );
    }
}
