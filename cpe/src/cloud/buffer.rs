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
use crate::stats::Message;

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

/// A frame waiting in the buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    /// The link it goes on.
    pub link: Link,
    /// Its row in the call-home statistics, if it is counted.
    pub row: Option<Message>,
    /// The frame.
    pub text: String,
}

/// Frames waiting to be written, at most `limit` bytes of text in all.
#[derive(Debug)]
pub struct SendBuffer {
    limit: usize,
    bytes: usize,
    full: bool,
    queued: VecDeque<Queued>,
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

    /// Queues `frame`, or drops it (and counts it) when it does not fit.
    pub fn push(&mut self, frame: Queued, now: Instant) -> Result<(), BufferFull> {
        if self.bytes + frame.text.len() > self.limit {
            if !self.full {
                self.full = true;
                self.counters.buffer_full_count += 1;
                self.counters.dropped_after_limit = 0;
            }
            self.counters.dropped_after_limit += 1;
            self.drop_one(ReportFailureReason::SendBufferIsFull, now);
            return Err(BufferFull { limit: self.limit });
        }
        self.bytes += frame.text.len();
        self.queued.push_back(frame);
        Ok(())
    }

    /// Takes the oldest frame whose link `ready` accepts.
    pub fn pop(&mut self, ready: impl Fn(Link) -> bool) -> Option<Queued> {
        let at = self.queued.iter().position(|q| ready(q.link))?;
        let frame = self.queued.remove(at)?;
        self.bytes -= frame.text.len();
        if self.bytes < self.limit {
            self.full = false;
        }
        Some(frame)
    }

    /// Drops every frame queued for a link `gone` selects (the link went down), counting
    /// each as dropped with "Tunnel socket is invalid"; returns the rows of the counted ones.
    pub fn discard(&mut self, gone: impl Fn(Link) -> bool, now: Instant) -> Vec<Message> {
        let (lost, kept): (VecDeque<_>, VecDeque<_>) =
            self.queued.drain(..).partition(|q| gone(q.link));
        self.queued = kept;
        self.bytes = self.queued.iter().map(|q| q.text.len()).sum();
        self.full = self.bytes >= self.limit;
        for _ in &lost {
            self.drop_one(ReportFailureReason::TunnelSocketIsInvalid, now);
        }
        lost.into_iter().filter_map(|q| q.row).collect()
    }

    /// Frames of the statistics row `row` queued.
    pub fn queued(&self, row: Message) -> u64 {
        self.queued.iter().filter(|q| q.row == Some(row)).count() as u64
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

    fn frame(link: Link, text: &str) -> Queued {
        Queued {
            link,
            row: None,
            text: text.to_owned(),
        }
    }

    #[test]
    fn full_buffer_drops_and_counts_each_episode() {
        let now = Instant::now();
        let mut buffer = SendBuffer::new(10);
        buffer.push(frame(Link::Main, "12345"), now).unwrap();
        buffer.push(frame(Link::Main, "12345"), now).unwrap();
        assert_eq!(
            buffer.push(frame(Link::Main, "x"), now),
            Err(BufferFull { limit: 10 })
        );
        assert!(buffer.push(frame(Link::Main, "y"), now).is_err());
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
        assert_eq!(buffer.pop(|_| true), Some(frame(Link::Main, "12345")));
        buffer.push(frame(Link::Main, "12345"), now).unwrap();
        assert!(buffer.push(frame(Link::Main, "z"), now).is_err());
        let c = buffer.counters();
        assert_eq!(
            (c.dropped_after_limit, c.total_dropped, c.buffer_full_count),
            (1, 3, 2)
        );
    }

    #[test]
    fn pop_skips_busy_links_and_discard_counts_and_returns_dropped_frames() {
        let now = Instant::now();
        let mut buffer = SendBuffer::new(100);
        buffer.push(frame(Link::Main, "a"), now).unwrap();
        buffer.push(frame(Link::Service(0), "b"), now).unwrap();
        buffer.push(frame(Link::Service(1), "c"), now).unwrap();
        let keepalive = Queued {
            row: Some(Message::TunnelKeepalive),
            ..frame(Link::Main, "k")
        };
        buffer.push(keepalive, now).unwrap();
        assert_eq!(buffer.queued(Message::TunnelKeepalive), 1);
        assert_eq!(
            buffer.pop(|link| link != Link::Main),
            Some(frame(Link::Service(0), "b"))
        );
        assert_eq!(
            buffer.discard(|link| link == Link::Main, now),
            vec![Message::TunnelKeepalive]
        );
        assert_eq!(buffer.queued(Message::TunnelKeepalive), 0);
        assert_eq!(buffer.len_bytes(), 1);
        assert_eq!(buffer.counters().total_dropped, 2);
        assert_eq!(buffer.counters().dropped_after_limit, 0);
        assert_eq!(
            buffer.counters().last_incomplete,
            Some((ReportFailureReason::TunnelSocketIsInvalid.into(), now))
        );
    }
}
