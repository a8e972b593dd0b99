//! The Connection Request rate limit (TR-069 Amd 6 §3.2.2: the CPE SHOULD restrict the number
//! of Connection Requests it accepts in a given period; when it rejects one for that reason it
//! MUST answer 503 and SHOULD NOT send `Retry-After`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// At most `max_requests` authenticated Connection Requests accepted per sliding `window`
/// (TR-069 Amd 6 §3.2.2). Only authenticated requests count, so a client without the
/// credentials cannot use up the allowance of the real ACS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests accepted per window (at least 1).
    pub max_requests: u32,
    /// Length of the sliding window (more than zero).
    pub window: Duration,
}

impl Default for RateLimit {
    /// 5 requests per 60 s: more than an ACS needs, since requests that arrive while a
    /// session is pending are coalesced anyway.
    fn default() -> Self {
        Self {
            max_requests: 5,
            window: Duration::from_secs(60),
        }
    }
}

/// A sliding-window log of accepted requests: memory is `max_requests` instants.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: RateLimit,
    accepted: VecDeque<Instant>,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            accepted: VecDeque::with_capacity(limit.max_requests.min(1024) as usize),
        }
    }

    /// Takes one slot if the window has one; `false` means answer 503.
    pub(crate) fn try_acquire(&mut self, now: Instant) -> bool {
        while let Some(&oldest) = self.accepted.front() {
            if now.saturating_duration_since(oldest) >= self.limit.window {
                self.accepted.pop_front();
            } else {
                break;
            }
        }
        if self.accepted.len() >= self.limit.max_requests as usize {
            return false;
        }
        self.accepted.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(RateLimit {
            max_requests: 2,
            window: Duration::from_secs(10),
        });
        assert!(r.try_acquire(t0));
        assert!(r.try_acquire(t0 + Duration::from_secs(5)));
        assert!(!r.try_acquire(t0 + Duration::from_secs(6)));
        assert!(!r.try_acquire(t0 + Duration::from_millis(9_999)));
        // The first slot frees at t0 + 10 s, the second at t0 + 15 s.
        assert!(r.try_acquire(t0 + Duration::from_secs(10)));
        assert!(!r.try_acquire(t0 + Duration::from_secs(14)));
        assert!(r.try_acquire(t0 + Duration::from_secs(15)));
        assert_eq!(r.accepted.len(), 2);
    }
}
