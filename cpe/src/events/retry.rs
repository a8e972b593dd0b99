//! Session retry back-off (TR-069 Amd 6 §3.2.1.1; `ManagementServer.CWMPRetryMinimumWaitInterval`
//! and `CWMPRetryIntervalMultiplier`).
//!
//! With m = `CWMPRetryMinimumWaitInterval` (seconds, 1..65535, default 5) and
//! k = `CWMPRetryIntervalMultiplier` (thousandths, 1000..65535, default 2000), the n-th retry
//! after consecutive failures waits a random time in
//!
//! ```text
//! [ m * (k/1000)^(n-1) , m * (k/1000)^n ]  seconds,  n = 1, 2, ... capped at 10
//! ```
//!
//! so with the defaults 5-10 s, 10-20 s, ... 2560-5120 s from the tenth retry on. The bounds
//! are computed exactly, in integers (k/1000 as a reduced fraction), to the millisecond: the
//! lower bound rounded up and the upper one rounded down, so a wait never leaves the interval.
//! The draw maps one `u64` from the RNG linearly onto the interval, so the RNG's extreme
//! outputs give exactly its two ends. The Inform's `RetryCount` is the number of consecutive
//! failed sessions; it goes back to 0 after a successful one.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Default `CWMPRetryMinimumWaitInterval`, seconds.
pub const DEFAULT_MINIMUM_WAIT: u32 = 5;
/// Default `CWMPRetryIntervalMultiplier`, thousandths.
pub const DEFAULT_MULTIPLIER: u32 = 2000;
/// The retry number from which the interval stops growing (§3.2.1.1: "10 and subsequent").
pub const MAX_RETRY_EXPONENT: u32 = 10;
/// The longest wait ever returned, about 8.5 years: reached only with parameter values no
/// deployment uses (m = 65535 with k = 65535 from the third retry). Any interval whose exact
/// integer computation would overflow is longer than this.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(MAX_RETRY_WAIT_SECS as u64);

const MAX_RETRY_WAIT_SECS: u128 = 1 << 28;

/// Out-of-range retry parameters (the data model's ranges, PROTOCOL.md §2.13).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryPolicyError {
    /// `CWMPRetryMinimumWaitInterval` outside 1..=65535.
    #[error("CWMPRetryMinimumWaitInterval {0} is outside 1..=65535")]
    MinimumWait(u32),
    /// `CWMPRetryIntervalMultiplier` outside 1000..=65535.
    #[error("CWMPRetryIntervalMultiplier {0} is outside 1000..=65535")]
    Multiplier(u32),
}

/// The back-off parameters m and k (§3.2.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    minimum_wait: u32,
    multiplier: u32,
}

impl RetryPolicy {
    /// m = `minimum_wait` seconds (1..=65535), k = `multiplier` thousandths (1000..=65535).
    pub fn new(minimum_wait: u32, multiplier: u32) -> Result<Self, RetryPolicyError> {
        if !(1..=65535).contains(&minimum_wait) {
            return Err(RetryPolicyError::MinimumWait(minimum_wait));
        }
        if !(1000..=65535).contains(&multiplier) {
            return Err(RetryPolicyError::Multiplier(multiplier));
        }
        Ok(Self {
            minimum_wait,
            multiplier,
        })
    }

    /// `CWMPRetryMinimumWaitInterval`, seconds.
    pub fn minimum_wait(&self) -> u32 {
        self.minimum_wait
    }

    /// `CWMPRetryIntervalMultiplier`, thousandths.
    pub fn multiplier(&self) -> u32 {
        self.multiplier
    }

    /// The interval of retry number `retry` (1 for the first retry; 0 is taken as 1, anything
    /// past [`MAX_RETRY_EXPONENT`] as that).
    pub fn interval(&self, retry: u32) -> RetryInterval {
        let n = retry.clamp(1, MAX_RETRY_EXPONENT);
        RetryInterval {
            min: Duration::from_millis(self.bound_millis(n - 1, true)),
            max: Duration::from_millis(self.bound_millis(n, false)),
        }
    }

    /// A random wait for retry number `retry`, drawn from `rng`.
    pub fn wait<R: Rng + ?Sized>(&self, retry: u32, rng: &mut R) -> Duration {
        self.interval(retry).sample(rng.next_u64())
    }

    /// m * (k/1000)^exponent seconds, in milliseconds, rounded up or down; saturating at
    /// [`MAX_RETRY_WAIT`].
    fn bound_millis(&self, exponent: u32, round_up: bool) -> u64 {
        const CAP_MILLIS: u64 = (MAX_RETRY_WAIT_SECS as u64) * 1000;
        let k = u128::from(self.multiplier);
        let g = gcd(k, 1000);
        let (p, q) = (k / g, 1000 / g);
        // q <= 1000 and exponent <= 10, so q^exponent <= 10^30 < 2^128.
        let den = q.saturating_pow(exponent);
        // If m * p^exponent overflows, the value exceeds 2^128 / 10^30 s > MAX_RETRY_WAIT.
        let Some(num) = p
            .checked_pow(exponent)
            .and_then(|x| x.checked_mul(u128::from(self.minimum_wait)))
        else {
            return CAP_MILLIS;
        };
        let secs = num / den;
        if secs >= MAX_RETRY_WAIT_SECS {
            return CAP_MILLIS;
        }
        let frac = (num % den) * 1000;
        let mut millis = secs * 1000 + frac / den;
        if round_up && frac % den != 0 {
            millis += 1;
        }
        u64::try_from(millis).map_or(CAP_MILLIS, |m| m.min(CAP_MILLIS))
    }
}

impl Default for RetryPolicy {
    /// m = 5 s, k = 2000.
    fn default() -> Self {
        Self {
            minimum_wait: DEFAULT_MINIMUM_WAIT,
            multiplier: DEFAULT_MULTIPLIER,
        }
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The interval one retry's wait is drawn from, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryInterval {
    /// The shortest wait.
    pub min: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl RetryInterval {
    /// The wait for one random `u64`, mapped linearly onto the interval in milliseconds:
    /// 0 gives [`Self::min`], `u64::MAX` gives [`Self::max`].
    pub fn sample(&self, random: u64) -> Duration {
        let lo = self.min.as_millis();
        // At most 2^64 - 1, so that the product below stays under 2^128.
        let span = (self.max.as_millis().max(lo) - lo).min(u128::from(u64::MAX));
        let offset = (u128::from(random) * (span + 1)) >> 64;
        let millis = u64::try_from(lo + offset).unwrap_or(u64::MAX);
        Duration::from_millis(millis)
    }
}

/// Consecutive failed sessions: the Inform's `RetryCount` (Table 37) and the retry number of
/// the next wait.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryState {
    failures: u32,
}

impl RetryState {
    /// The `RetryCount` for the next Inform: failed attempts since the last successful session.
    pub fn retry_count(&self) -> u32 {
        self.failures
    }

    /// A session failed: counts it and returns how long to wait before the retry.
    pub fn failed<R: Rng + ?Sized>(&mut self, policy: &RetryPolicy, rng: &mut R) -> Duration {
        self.failures = self.failures.saturating_add(1);
        policy.wait(self.failures, rng)
    }

    /// A session succeeded: `RetryCount` goes back to 0.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use rand::rngs::StdRng;
    use rand::{SeedableRng, TryRng};

    use super::*;

    /// An RNG that always returns the same word.
    struct Fixed(u64);

    impl TryRng for Fixed {
        type Error = Infallible;

        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            Ok(self.0 as u32)
        }

        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            Ok(self.0)
        }

        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            dst.fill(self.0 as u8);
            Ok(())
        }
    }

    /// The default table of PROTOCOL.md §2.6, seconds, for retries 1..=10.
    const DEFAULT_TABLE: [(u64, u64); 10] = [
        (5, 10),
        (10, 20),
        (20, 40),
        (40, 80),
        (80, 160),
        (160, 320),
        (320, 640),
        (640, 1280),
        (1280, 2560),
        (2560, 5120),
    ];

    /// Whether `wait` lies in [m (k/1000)^(n-1), m (k/1000)^n] s, checked exactly.
    fn in_range(m: u32, k: u32, n: u32, wait: Duration) -> bool {
        let e = n.clamp(1, 10) - 1;
        let (m, k, w) = (u128::from(m), u128::from(k), wait.as_millis());
        // w ms >= m * 1000 * k^e / 1000^e   and   w ms <= m * 1000 * k^(e+1) / 1000^(e+1)
        w * 1000u128.pow(e) >= m * 1000 * k.pow(e)
            && w * 1000u128.pow(e + 1) <= m * 1000 * k.pow(e + 1)
    }

    #[test]
    fn policy_ranges_are_the_data_model_ranges() {
        assert!(RetryPolicy::new(1, 1000).is_ok());
        assert!(RetryPolicy::new(65535, 65535).is_ok());
        assert_eq!(
            RetryPolicy::new(0, 2000),
            Err(RetryPolicyError::MinimumWait(0))
        );
        assert_eq!(
            RetryPolicy::new(65536, 2000),
            Err(RetryPolicyError::MinimumWait(65536))
        );
        assert_eq!(
            RetryPolicy::new(5, 999),
            Err(RetryPolicyError::Multiplier(999))
        );
        assert_eq!(RetryPolicy::default(), RetryPolicy::new(5, 2000).unwrap());
    }

    #[test]
    fn default_intervals_are_the_protocol_table() {
        let policy = RetryPolicy::default();
        for (i, (lo, hi)) in DEFAULT_TABLE.into_iter().enumerate() {
            let interval = policy.interval(i as u32 + 1);
            assert_eq!(interval.min, Duration::from_secs(lo), "retry {}", i + 1);
            assert_eq!(interval.max, Duration::from_secs(hi), "retry {}", i + 1);
        }
        assert_eq!(policy.interval(11), policy.interval(10));
        assert_eq!(policy.interval(u32::MAX), policy.interval(10));
        assert_eq!(policy.interval(0), policy.interval(1));
    }

    #[test]
    fn twelve_failures_fall_in_the_protocol_ranges_for_many_seeds() {
        for (m, k) in [(5, 2000), (30, 1500)] {
            let policy = RetryPolicy::new(m, k).unwrap();
            for seed in 0..500 {
                let mut rng = StdRng::seed_from_u64(seed);
                let mut state = RetryState::default();
                for n in 1..=12 {
                    let wait = state.failed(&policy, &mut rng);
                    assert_eq!(state.retry_count(), n);
                    assert!(in_range(m, k, n, wait), "m={m} k={k} n={n} wait={wait:?}");
                    if (m, k) == (5, 2000) {
                        let (lo, hi) = DEFAULT_TABLE[(n.min(10) - 1) as usize];
                        assert!(wait >= Duration::from_secs(lo) && wait <= Duration::from_secs(hi));
                    }
                }
                state.succeeded();
                assert_eq!(state.retry_count(), 0);
                let first = state.failed(&policy, &mut rng);
                assert!(in_range(m, k, 1, first), "after success: {first:?}");
            }
        }
    }

    #[test]
    fn extreme_rng_outputs_hit_both_ends() {
        for (m, k) in [(5, 2000), (30, 1500)] {
            let policy = RetryPolicy::new(m, k).unwrap();
            for n in 1..=12 {
                let low = policy.wait(n, &mut Fixed(0));
                let high = policy.wait(n, &mut Fixed(u64::MAX));
                let interval = policy.interval(n);
                assert_eq!(low, interval.min);
                assert_eq!(high, interval.max);
                assert!(in_range(m, k, n, low) && in_range(m, k, n, high));
            }
        }
        // (30, 1500), 10th retry: 30 * 1.5^9 = 1153.30078125 s .. 30 * 1.5^10 = 1729.951171875 s.
        let interval = RetryPolicy::new(30, 1500).unwrap().interval(10);
        assert_eq!(interval.min, Duration::from_millis(1_153_301));
        assert_eq!(interval.max, Duration::from_millis(1_729_951));
        // The default's ends are whole seconds.
        let default = RetryPolicy::default();
        assert_eq!(default.wait(1, &mut Fixed(0)), Duration::from_secs(5));
        assert_eq!(
            default.wait(1, &mut Fixed(u64::MAX)),
            Duration::from_secs(10)
        );
        assert_eq!(
            default.wait(12, &mut Fixed(u64::MAX)),
            Duration::from_secs(5120)
        );
    }

    #[test]
    fn edges_of_the_parameter_ranges_neither_panic_nor_overflow() {
        let flat = RetryPolicy::new(1, 1000).unwrap();
        for n in 1..=12 {
            assert_eq!(flat.wait(n, &mut Fixed(u64::MAX)), Duration::from_secs(1));
        }
        let huge = RetryPolicy::new(65535, 65535).unwrap();
        assert_eq!(
            huge.interval(1),
            RetryInterval {
                min: Duration::from_secs(65535),
                max: Duration::from_millis(65535 * 65535),
            }
        );
        for n in 1..=12 {
            let interval = huge.interval(n);
            assert!(interval.min <= interval.max && interval.max <= MAX_RETRY_WAIT);
        }
        assert_eq!(huge.interval(10).max, MAX_RETRY_WAIT);
        // A multiplier that is not a round fraction: 1.001^9 rounds up, 1.001^10 down.
        let odd = RetryPolicy::new(1, 1001).unwrap();
        for n in 1..=10 {
            let interval = odd.interval(n);
            assert!(in_range(1, 1001, n, interval.min) && in_range(1, 1001, n, interval.max));
        }
    }

    #[test]
    fn sampling_any_interval_stays_inside_it() {
        let whole = RetryInterval {
            min: Duration::ZERO,
            max: Duration::MAX,
        };
        assert_eq!(whole.sample(0), Duration::ZERO);
        assert_eq!(whole.sample(u64::MAX), Duration::from_millis(u64::MAX));
        let inverted = RetryInterval {
            min: Duration::from_secs(9),
            max: Duration::from_secs(1),
        };
        assert_eq!(inverted.sample(u64::MAX), Duration::from_secs(9));
    }

    #[test]
    fn retry_count_saturates() {
        let mut state = RetryState {
            failures: u32::MAX - 1,
        };
        let policy = RetryPolicy::default();
        state.failed(&policy, &mut Fixed(0));
        state.failed(&policy, &mut Fixed(0));
        assert_eq!(state.retry_count(), u32::MAX);
    }
}
