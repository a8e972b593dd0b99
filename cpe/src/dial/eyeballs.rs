//! Happy Eyeballs v2 (RFC 8305): the order in which a host's addresses are tried and the race
//! of staggered connection attempts, generic over the connect function so that the timing is
//! tested on tokio's paused clock.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::time::{Instant, sleep_until};

/// Connection Attempt Delay (RFC 8305 §5, recommended value): how long an attempt runs alone
/// before the next address is tried beside it.
pub const CONNECTION_ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Most addresses of one host tried in one connection.
pub const MAX_ADDRESSES: usize = 8;

/// Orders `addresses` as RFC 8305 §4 asks: IPv6 first, then alternating between the families
/// (each family keeping the resolver's order), and keeps the first [`MAX_ADDRESSES`].
pub fn interleave(addresses: impl IntoIterator<Item = SocketAddr>) -> Vec<SocketAddr> {
    let (v6, v4): (Vec<_>, Vec<_>) = addresses.into_iter().partition(SocketAddr::is_ipv6);
    let mut v6 = v6.into_iter();
    let mut v4 = v4.into_iter();
    let mut ordered = Vec::new();
    loop {
        let (a, b) = (v6.next(), v4.next());
        if a.is_none() && b.is_none() {
            break;
        }
        ordered.extend(a);
        ordered.extend(b);
    }
    ordered.dedup();
    ordered.truncate(MAX_ADDRESSES);
    ordered
}

/// Connects to the first of `addresses` that answers (RFC 8305 §5): the first attempt starts
/// at once, each next one when the previous has run for `delay` or as soon as it fails; the
/// first success wins and the attempts still running are dropped. Returns the connection and
/// the address it reached, or the last failure when every attempt failed.
///
/// The caller bounds the whole race with its connect timeout.
pub async fn race<S, F, Fut>(
    addresses: &[SocketAddr],
    delay: Duration,
    mut connect: F,
) -> io::Result<(S, SocketAddr)>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    let mut waiting = addresses.iter().copied();
    let mut running = FuturesUnordered::new();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    let mut next_start = Instant::now();
    loop {
        if running.is_empty() || Instant::now() >= next_start {
            match waiting.next() {
                Some(addr) => {
                    running.push(attempt(addr, connect(addr)));
                    next_start = Instant::now() + delay;
                }
                None if running.is_empty() => return Err(last),
                None => next_start = far_future(),
            }
        }
        tokio::select! {
            Some((addr, result)) = running.next() => match result {
                Ok(stream) => return Ok((stream, addr)),
                Err(error) => {
                    tracing::debug!(%addr, %error, "connection attempt failed");
                    last = error;
                    // The next address starts now rather than after the delay.
                    next_start = Instant::now();
                }
            },
            () = sleep_until(next_start) => {}
        }
    }
}

/// One attempt, tagged with its address.
async fn attempt<S, Fut>(addr: SocketAddr, connecting: Fut) -> (SocketAddr, io::Result<S>)
where
    Fut: Future<Output = io::Result<S>>,
{
    (addr, connecting.await)
}

/// A deadline that never comes in practice (no more addresses to start).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

#[cfg(test)]
mod tests {
    use std::future::pending;

    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    const V6: &str = "[2001:db8::1]:443";
    const V4: &str = "192.0.2.1:443";

    #[test]
    fn interleave_puts_ipv6_first_and_alternates_families() {
        let resolved = addrs(&[
            "192.0.2.1:1",
            "192.0.2.2:1",
            "192.0.2.3:1",
            "[2001:db8::1]:1",
            "[2001:db8::2]:1",
        ]);
        assert_eq!(
            interleave(resolved),
            addrs(&[
                "[2001:db8::1]:1",
                "192.0.2.1:1",
                "[2001:db8::2]:1",
                "192.0.2.2:1",
                "192.0.2.3:1",
            ])
        );
    }

    #[test]
    fn interleave_keeps_at_most_the_cap() {
        let many = (1..=20u8).map(|i| SocketAddr::from(([192, 0, 2, i], 80)));
        let ordered = interleave(many);
        assert_eq!(ordered.len(), MAX_ADDRESSES);
        assert_eq!(ordered[0], SocketAddr::from(([192, 0, 2, 1], 80)));
    }

    /// Runs a race where `behaviour(addr)` decides each attempt; returns the winner and when
    /// it won, measured on the paused clock.
    async fn run(
        list: &[&str],
        behaviour: impl Fn(SocketAddr) -> Option<io::Result<Duration>>,
    ) -> (io::Result<SocketAddr>, Duration) {
        let start = Instant::now();
        let result = race(&addrs(list), CONNECTION_ATTEMPT_DELAY, |addr| {
            let plan = behaviour(addr);
            async move {
                match plan {
                    // Hangs until dropped.
                    None => pending().await,
                    Some(Err(e)) => Err(e),
                    Some(Ok(after)) => {
                        tokio::time::sleep(after).await;
                        Ok(addr)
                    }
                }
            }
        })
        .await;
        (result.map(|(stream, _)| stream), start.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_ipv6_address_lets_ipv4_win_after_the_attempt_delay() {
        let v6: SocketAddr = V6.parse().unwrap();
        let (winner, took) = run(&[V6, V4], |a| (a != v6).then_some(Ok(Duration::ZERO))).await;
        assert_eq!(winner.unwrap(), V4.parse().unwrap());
        assert_eq!(took, CONNECTION_ATTEMPT_DELAY, "not before the delay");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_ipv6_address_starts_ipv4_at_once() {
        let v6: SocketAddr = V6.parse().unwrap();
        let (winner, took) = run(&[V6, V4], |a| {
            Some(if a == v6 {
                Err(io::ErrorKind::ConnectionRefused.into())
            } else {
                Ok(Duration::ZERO)
            })
        })
        .await;
        assert_eq!(winner.unwrap(), V4.parse().unwrap());
        assert_eq!(took, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn when_both_families_answer_ipv6_wins() {
        let (winner, took) = run(&[V6, V4], |_| Some(Ok(Duration::from_millis(10)))).await;
        assert_eq!(winner.unwrap(), V6.parse().unwrap());
        assert_eq!(took, Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_first_attempt_still_wins_if_it_answers_before_the_second() {
        let v6: SocketAddr = V6.parse().unwrap();
        // v6 answers at 300 ms; v4 started at 250 ms needs 100 ms more: v6 wins.
        let (winner, took) = run(&[V6, V4], |a| {
            Some(Ok(Duration::from_millis(if a == v6 { 300 } else { 100 })))
        })
        .await;
        assert_eq!(winner.unwrap(), v6);
        assert_eq!(took, Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn when_every_address_fails_the_last_error_is_returned() {
        let (result, took) = run(&[V6, V4], |a| {
            let kind = if a.is_ipv6() {
                io::ErrorKind::ConnectionRefused
            } else {
                io::ErrorKind::HostUnreachable
            };
            Some(Err(kind.into()))
        })
        .await;
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::HostUnreachable);
        assert_eq!(took, Duration::ZERO);
        let (empty, _) = run(&[], |_| None).await;
        assert_eq!(empty.unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
