//! Call-home statistics: per outbound message type, the counters of `show call-home
//! smart-licensing statistics` (ARCHITECTURE.md, "Call-home statistics and proxy"), plus the
//! CWMP sessions' count and duration.
//!
//! The columns, for one message type:
//!
//! - **Success**: sent and answered at the transport level. For HTTP that is a response with a
//!   status the protocol expects (CWMP: 200 or 204, TR-069 §3.4.1; a file server: any status,
//!   see Faults); for a tunnel frame, the cloud's answer frame. It does NOT mean the remote
//!   operation succeeded: see Faults.
//! - **Faults**: the answers (counted in Success) that were remote refusals: a SOAP Fault
//!   (TR-069 A.3.1 / §3.4.5), an HTTP error status from a file server, an error answer in the
//!   tunnel.
//! - **Failed**: sent, or attempted, and no answer at the transport level came: the connection
//!   or TLS handshake failed, the exchange timed out, the link closed, or an HTTP status the
//!   protocol has no use for (CWMP: anything but 200 / 204).
//! - **Inqueue**: waiting to be sent now (a gauge, computed from the owner's state when a
//!   snapshot is taken, or set with [`Stats::set_inqueue`] by a sender whose queue lives in
//!   another task, as the cloud tunnel's driver does).
//! - **Dropped**: given up without being sent (a queue limit, a link that went down with the
//!   message still queued).
//! - **Last-sent**: when the last send attempt began (Unix seconds).
//!
//! Recording takes one small mutex and never changes what the protocol does. [`Stats`] is
//! generic over the message types ([`MessageType`]): the CPE's are [`Message`], acs-sim has its
//! own. [`Snapshot`] prints the router-style table, serialises to JSON in the same order, and
//! writes the Prometheus text exposition ([`prometheus`]).

mod message;
pub mod prometheus;
pub mod server;

#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

pub use message::Message;

/// A closed set of outbound message types, one table row each, in [`MessageType::ALL`]'s order.
pub trait MessageType: Copy + Eq + Send + Sync + 'static {
    /// Every type, in the table's order.
    const ALL: &'static [Self];

    /// The type's name in the table, the JSON and the `type` label.
    fn name(self) -> &'static str;

    /// The row of this type: its position in [`MessageType::ALL`].
    fn index(self) -> usize {
        Self::ALL.iter().position(|m| *m == self).unwrap_or(0)
    }
}

/// The upper bounds, in seconds, of the session duration histogram's buckets (`le` labels;
/// `+Inf` is implied).
pub const DURATION_BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// The counters of one message type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Sent and answered at the transport level.
    pub success: u64,
    /// Sent (or attempted) and not answered at the transport level.
    pub failed: u64,
    /// Answers (counted in `success`) that were remote faults.
    pub faults: u64,
    /// Waiting to be sent now.
    pub inqueue: u64,
    /// Given up without being sent.
    pub dropped: u64,
    /// When the last send attempt began, Unix seconds.
    pub last_sent: Option<i64>,
}

/// How many sessions ended each way, and how long they took.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sessions {
    /// Sessions that completed.
    pub ok: u64,
    /// Sessions that failed.
    pub failed: u64,
    /// Sum of all durations, in microseconds.
    pub duration_sum_us: u64,
    /// Per bucket of [`DURATION_BUCKETS`], the sessions that took at most that long (not
    /// cumulative: each session is in the first bucket that holds it, or in none past the last).
    pub duration_buckets: Vec<u64>,
}

impl Sessions {
    /// Every session, ok or failed.
    pub fn count(&self) -> u64 {
        self.ok + self.failed
    }
}

/// One table row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// The message type.
    #[serde(rename = "type")]
    pub message: String,
    /// Its counters.
    #[serde(flatten)]
    pub counters: Counters,
}

/// A copy of the figures at one moment, with the gauges filled in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// One row per message type, in the table's order.
    pub rows: Vec<Row>,
    /// The sessions.
    pub sessions: Sessions,
}

/// What came of one send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Answered at the transport level (Success).
    Answered,
    /// Answered with a remote fault (Success and Faults).
    Fault,
    /// Not answered at the transport level (Failed).
    Failed,
}

#[derive(Debug)]
struct Table {
    rows: Vec<Counters>,
    /// The Inqueue gauges set with [`Stats::set_inqueue`].
    queued: Vec<u64>,
    sessions: Sessions,
}

/// The statistics of one program: cheap to clone (one `Arc`), safe to record from any task.
#[derive(Debug)]
pub struct Stats<M> {
    table: Arc<Mutex<Table>>,
    clock: fn() -> SystemTime,
    types: PhantomData<M>,
}

impl<M> Clone for Stats<M> {
    fn clone(&self) -> Self {
        Self {
            table: Arc::clone(&self.table),
            clock: self.clock,
            types: PhantomData,
        }
    }
}

impl<M: MessageType> Default for Stats<M> {
    fn default() -> Self {
        Self::with_clock(SystemTime::now)
    }
}

impl<M: MessageType> Stats<M> {
    /// Empty statistics whose Last-sent times come from the system clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empty statistics whose Last-sent times come from `clock` (tests inject a fixed one).
    pub fn with_clock(clock: fn() -> SystemTime) -> Self {
        Self {
            table: Arc::new(Mutex::new(Table {
                rows: vec![Counters::default(); M::ALL.len()],
                queued: vec![0; M::ALL.len()],
                sessions: Sessions {
                    duration_buckets: vec![0; DURATION_BUCKETS.len()],
                    ..Sessions::default()
                },
            })),
            clock,
            types: PhantomData,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Table) -> T) -> T {
        f(&mut self.table.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A message of type `message` is being sent now: its Last-sent.
    pub fn attempt(&self, message: M) {
        let at = unix_seconds((self.clock)());
        self.with(|t| t.rows[message.index()].last_sent = Some(at));
    }

    /// What came of a message of type `message` that was sent.
    pub fn delivered(&self, message: M, delivery: Delivery) {
        self.with(|t| {
            let row = &mut t.rows[message.index()];
            match delivery {
                Delivery::Answered => row.success += 1,
                Delivery::Fault => {
                    row.success += 1;
                    row.faults += 1;
                }
                Delivery::Failed => row.failed += 1,
            }
        });
    }

    /// An answer already counted in Success turned out to be a remote fault.
    pub fn fault(&self, message: M) {
        self.with(|t| t.rows[message.index()].faults += 1);
    }

    /// `count` messages of type `message` were given up without being sent.
    pub fn dropped(&self, message: M, count: u64) {
        self.with(|t| t.rows[message.index()].dropped += count);
    }

    /// `count` messages of type `message` wait in a queue the snapshot cannot see (another
    /// task's); the figure holds until set again.
    pub fn set_inqueue(&self, message: M, count: u64) {
        self.with(|t| t.queued[message.index()] = count);
    }

    /// A session ended, `ok` or not, after `duration`.
    pub fn session(&self, ok: bool, duration: Duration) {
        self.with(|t| {
            let s = &mut t.sessions;
            if ok {
                s.ok += 1;
            } else {
                s.failed += 1;
            }
            let us = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
            s.duration_sum_us = s.duration_sum_us.saturating_add(us);
            let secs = duration.as_secs_f64();
            if let Some(bucket) = DURATION_BUCKETS.iter().position(|le| secs <= *le) {
                s.duration_buckets[bucket] += 1;
            }
        });
    }

    /// The figures now, with each type's Inqueue from `inqueue` plus its gauge set with
    /// [`Self::set_inqueue`].
    pub fn snapshot(&self, inqueue: impl Fn(M) -> u64) -> Snapshot {
        self.with(|t| Snapshot {
            rows: M::ALL
                .iter()
                .zip(&t.rows)
                .zip(&t.queued)
                .map(|((m, counters), queued)| Row {
                    message: m.name().to_owned(),
                    counters: Counters {
                        inqueue: inqueue(*m).saturating_add(*queued),
                        ..*counters
                    },
                })
                .collect(),
            sessions: t.sessions.clone(),
        })
    }
}

impl Snapshot {
    /// The row of the type named `message`.
    pub fn row(&self, message: &str) -> Option<&Counters> {
        self.rows
            .iter()
            .find(|r| r.message == message)
            .map(|r| &r.counters)
    }

    /// The table as a router prints it: one line per type, then the sessions.
    pub fn render(&self) -> String {
        let width = self
            .rows
            .iter()
            .map(|r| r.message.len())
            .chain([4])
            .max()
            .unwrap_or(4);
        let mut out = format!(
            "{:<width$}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  Last-sent\n",
            "Type", "Success", "Failed", "Faults", "Inqueue", "Dropped"
        );
        for Row { message, counters } in &self.rows {
            let c = counters;
            let last = c
                .last_sent
                .and_then(|t| schemas::value::DateTime::from_unix(t, 0))
                .map_or_else(|| "-".to_owned(), |t| t.to_string());
            let _ = writeln!(
                out,
                "{message:<width$}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {last}",
                c.success, c.failed, c.faults, c.inqueue, c.dropped
            );
        }
        let s = &self.sessions;
        let _ = writeln!(
            out,
            "\nSessions: {} ok, {} failed, {:.3} s in all",
            s.ok,
            s.failed,
            Duration::from_micros(s.duration_sum_us).as_secs_f64()
        );
        out
    }
}

fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
