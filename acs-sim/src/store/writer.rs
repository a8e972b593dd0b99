//! The SQLite store's write path: the connection, the in-memory [`Cache`], and the writer
//! thread that commits queued device writes in batches (group commit) and checkpoints the WAL
//! off the request path.
//!
//! The one rule everything else rests on: queued writes are taken from the cache only while
//! holding the connection lock, and committed (or put back, if the commit fails) before it is
//! released. So whoever holds the lock after a flush sees every write queued before it in the
//! file, in order.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior, params};

use super::cache::{Cache, Write};
use super::{DeviceId, InformSummary, ParameterValue, Result, StoreError};

/// The longest an Inform record waits in memory before the writer commits it: what a crash of
/// the process may lose of Inform records.
pub(super) const WINDOW: Duration = Duration::from_millis(20);
/// Queued writes that make the writer commit before the window ends.
pub(super) const BATCH: usize = 1024;
/// Queued writes beyond which `record_inform` commits the backlog itself (backpressure when
/// the writer falls behind), so memory stays bounded.
pub(super) const MAX_BACKLOG: usize = 16 * BATCH;
/// How often the writer checkpoints the WAL into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// What the store's handle and its writer thread share.
#[derive(Debug)]
pub(super) struct Shared {
    connection: Mutex<Connection>,
    cache: Mutex<Cache>,
    /// Signalled (with `cache`) when the writer has work sooner than its timeout.
    wake: Condvar,
}

impl Shared {
    pub(super) fn new(connection: Connection, cache: Cache) -> Self {
        Self {
            connection: Mutex::new(connection),
            cache: Mutex::new(cache),
            wake: Condvar::new(),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic inside a transaction rolls it back when the `Transaction` drops, so the
        // connection stays consistent.
        self.connection.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn cache(&self) -> MutexGuard<'_, Cache> {
        // Every cache update is complete before anything that can panic runs.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies a device write in memory and queues it, waking the writer when the queue
    /// starts or fills a batch. Returns the backlog.
    pub(super) fn queue(&self, write: Write) -> Result<usize> {
        let backlog = {
            let mut cache = self.cache();
            cache.write(write)?;
            cache.backlog()
        };
        if backlog == 1 || backlog == BATCH {
            self.wake.notify_one();
        }
        Ok(backlog)
    }

    /// Commits every queued write.
    pub(super) fn flush(&self) -> Result<()> {
        self.flush_locked(&mut self.lock())
    }

    /// Commits every queued write, the connection lock being held.
    pub(super) fn flush_locked(&self, connection: &mut Connection) -> Result<()> {
        let pending = self.cache().take_pending();
        if pending.is_empty() {
            return Ok(());
        }
        commit(connection, &pending).inspect_err(|_| self.cache().restore_pending(pending))
    }

    /// Asks the writer to commit what is left and end.
    pub(super) fn stop(&self) {
        self.cache().stopping = true;
        self.wake.notify_one();
    }

    /// Waits until a batch is due (the oldest write is [`WINDOW`] old, or [`BATCH`] writes
    /// wait), or, with nothing queued, until a checkpoint is due. Returns whether the store
    /// is stopping.
    fn wait_for_work(&self) -> bool {
        let mut cache = self.cache();
        loop {
            if cache.stopping {
                return true;
            }
            let now = Instant::now();
            let timeout = match cache.oldest() {
                Some(oldest) if cache.backlog() >= BATCH || now >= oldest + WINDOW => {
                    return false;
                }
                Some(oldest) => oldest + WINDOW - now,
                None => CHECKPOINT_INTERVAL,
            };
            let (guard, waited) = self
                .wake
                .wait_timeout(cache, timeout)
                .unwrap_or_else(|e| e.into_inner());
            cache = guard;
            if waited.timed_out() && cache.oldest().is_none() {
                return false;
            }
        }
    }
}

/// The writer thread: commits batches until the store stops, then what is left. With a
/// `checkpointer` (a second connection to a WAL file, whose automatic checkpoints are off), it
/// also checkpoints the WAL every [`CHECKPOINT_INTERVAL`], without holding the store's lock.
pub(super) fn run(shared: &Shared, checkpointer: Option<&Connection>) {
    let mut checkpointed = Instant::now();
    loop {
        let stopping = shared.wait_for_work();
        if let Err(error) = shared.flush() {
            cpe::oplog!(STORE_COMMIT_FAILED, %error, "committing device writes failed; retrying");
        }
        if let Some(checkpointer) = checkpointer
            && checkpointed.elapsed() >= CHECKPOINT_INTERVAL
        {
            checkpointed = Instant::now();
            // PASSIVE: copies what no reader needs, never waits for a lock.
            if let Err(error) =
                checkpointer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            {
                cpe::oplog!(STORE_CHECKPOINT_FAILED, %error, "WAL checkpoint failed");
            }
        }
        if stopping {
            return;
        }
    }
}

/// Commits `writes` in order, in one transaction.
fn commit(connection: &mut Connection, writes: &[Write]) -> Result<()> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for step in coalesce(writes) {
        match step {
            Step::Inform { latest, parameters } => write_inform(&tx, latest, &parameters)?,
            Step::Other(write) => apply(&tx, write)?,
        }
    }
    tx.commit()?;
    Ok(())
}

/// One statement group of a batch.
enum Step<'a> {
    /// The Informs of one device with no other write of that device between them, merged: the
    /// last one's device fields, every parameter at the time of the last Inform that carried
    /// it.
    Inform {
        latest: &'a InformSummary,
        parameters: Vec<(&'a ParameterValue, i64)>,
    },
    /// Any other write, as is.
    Other(&'a Write),
}

/// Merges the Informs of a device that follow one another (as far as that device's writes
/// go) into one [`Step::Inform`], so a batch writes each device once however often it
/// informed: the file ends in the same state as replaying every write in order.
fn coalesce(writes: &[Write]) -> Vec<Step<'_>> {
    let mut steps: Vec<Step<'_>> = Vec::with_capacity(writes.len());
    // Where each device's mergeable Inform step is.
    let mut open: HashMap<DeviceId, usize> = HashMap::new();
    for write in writes {
        let Write::Inform(inform) = write else {
            if let Some(id) = write.device() {
                open.remove(id);
            }
            steps.push(Step::Other(write));
            continue;
        };
        let id = inform.device_id();
        if let Some(Step::Inform { latest, parameters }) =
            open.get(&id).and_then(|index| steps.get_mut(*index))
        {
            *latest = inform;
            for value in &inform.parameters {
                match parameters.iter_mut().find(|(p, _)| p.name == value.name) {
                    Some(slot) => *slot = (value, inform.now),
                    None => parameters.push((value, inform.now)),
                }
            }
            continue;
        }
        open.insert(id, steps.len());
        steps.push(Step::Inform {
            latest: inform,
            parameters: inform.parameters.iter().map(|p| (p, inform.now)).collect(),
        });
    }
    steps
}

fn write_inform(
    connection: &Connection,
    inform: &InformSummary,
    parameters: &[(&ParameterValue, i64)],
) -> Result<()> {
    let id = inform.device_id();
    let events =
        serde_json::to_string(&inform.events).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    connection
        .prepare_cached(
            "INSERT INTO devices (id, oui, product_class, serial_number, manufacturer,
                 last_inform, last_events, cwmp_version, connection_request_url)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (id) DO UPDATE SET
                 manufacturer = excluded.manufacturer,
                 last_inform = excluded.last_inform,
                 last_events = excluded.last_events,
                 cwmp_version = excluded.cwmp_version,
                 connection_request_url = excluded.connection_request_url",
        )?
        .execute(params![
            id.as_str(),
            inform.oui,
            inform.product_class,
            inform.serial_number,
            inform.manufacturer,
            inform.now,
            events,
            inform.cwmp_version,
            inform.connection_request_url,
        ])?;
    upsert_parameters(connection, &id, parameters.iter().copied())
}

/// One write as is.
fn apply(connection: &Connection, write: &Write) -> Result<()> {
    match write {
        Write::Inform(inform) => {
            let parameters: Vec<_> = inform.parameters.iter().map(|p| (p, inform.now)).collect();
            write_inform(connection, inform, &parameters)
        }
        Write::Parameters { id, values, now } => {
            upsert_parameters(connection, id, values.iter().map(|p| (p, *now)))
        }
        Write::Credentials { id, credentials } => {
            connection
                .prepare_cached("UPDATE devices SET username = ?2, password = ?3 WHERE id = ?1")?
                .execute(params![
                    id.as_str(),
                    credentials.as_ref().map(|c| &c.username),
                    credentials.as_ref().map(|c| &c.password),
                ])?;
            Ok(())
        }
        Write::AddTag { id, tag } => {
            connection
                .prepare_cached("INSERT OR IGNORE INTO tags (device_id, tag) VALUES (?1, ?2)")?
                .execute(params![id.as_str(), tag])?;
            Ok(())
        }
        Write::RemoveTag { id, tag } => {
            connection
                .prepare_cached("DELETE FROM tags WHERE device_id = ?1 AND tag = ?2")?
                .execute(params![id.as_str(), tag])?;
            Ok(())
        }
        Write::DeleteDevice(id) => {
            connection
                .prepare_cached("DELETE FROM devices WHERE id = ?1")?
                .execute([id.as_str()])?;
            Ok(())
        }
    }
}

fn upsert_parameters<'a>(
    connection: &Connection,
    id: &DeviceId,
    values: impl IntoIterator<Item = (&'a ParameterValue, i64)>,
) -> Result<()> {
    let mut statement = connection.prepare_cached(
        "INSERT INTO parameters (device_id, name, value, xsd_type, timestamp)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (device_id, name) DO UPDATE SET
             value = excluded.value, xsd_type = excluded.xsd_type, timestamp = excluded.timestamp",
    )?;
    for (value, now) in values {
        statement.execute(params![
            id.as_str(),
            value.name,
            value.value,
            value.xsd_type,
            now
        ])?;
    }
    Ok(())
}
