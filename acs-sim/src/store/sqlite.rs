//! The SQLite backend: one file, WAL, one connection behind a mutex.
//!
//! Schema (version 1, kept in `PRAGMA user_version`):
//!
//! ```sql
//! devices(id PK, oui, product_class, serial_number, manufacturer, last_inform,
//!         last_events JSON, cwmp_version, connection_request_url, username, password)
//! parameters(device_id FK, name, value, xsd_type, timestamp, PK(device_id, name))
//! tags(device_id FK, tag, PK(device_id, tag))
//! tasks(seq INTEGER PK, id UNIQUE, device_id FK, name, arguments JSON, timestamp, status,
//!       retries, attempts)
//! faults(id PK, device_id FK, task_id, code, message, detail JSON, timestamp, retries)
//! task_log(task_id PK, device_id, name, completed_at, attempts)   -- the completion log
//! files(name PK, file_type, oui, product_class, version, size, path)
//! ```
//!
//! Foreign keys cascade from `devices`. `task_log` has no foreign key, so history outlives a
//! deleted device, and its primary key makes a second completion of one task impossible.
//! Every statement binds its values as parameters.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::types::Type;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior, params,
};

use super::cache::{Cache, Write};
use super::lock::StoreLock;
use super::writer::{self, Shared};
use super::{
    CompletedTask, Credentials, Device, DeviceFilter, DeviceId, Fault, FaultDetail, FaultFilter,
    FileMeta, InformSummary, NewTask, ParameterRecord, ParameterValue, Result, Store, StoreError,
    Task, TaskFilter, TaskId, TaskName, TaskStatus, conflict, not_found,
};

/// How long a statement waits for a lock held by another connection (another process on the
/// same file) before failing with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Migrations (one per schema version, never edited once released): index `n` takes the schema from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[r"
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    oui TEXT NOT NULL,
    product_class TEXT NOT NULL,
    serial_number TEXT NOT NULL,
    manufacturer TEXT NOT NULL,
    last_inform INTEGER NOT NULL,
    last_events TEXT NOT NULL,
    cwmp_version TEXT NOT NULL,
    connection_request_url TEXT,
    username TEXT,
    password TEXT
) STRICT;
CREATE TABLE parameters (
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    xsd_type TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    PRIMARY KEY (device_id, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX parameters_name_value ON parameters(name, value);
CREATE TABLE tags (
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (device_id, tag)
) STRICT, WITHOUT ROWID;
CREATE INDEX tags_tag ON tags(tag);
CREATE TABLE tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    arguments TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'in_progress', 'faulted')),
    retries INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX tasks_device_status ON tasks(device_id, status, timestamp, seq);
CREATE INDEX tasks_status ON tasks(status);
CREATE TABLE faults (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    task_id TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    detail TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    retries INTEGER NOT NULL
) STRICT;
CREATE INDEX faults_device ON faults(device_id);
CREATE INDEX faults_task ON faults(task_id);
CREATE TABLE task_log (
    task_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    name TEXT NOT NULL,
    completed_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL
) STRICT;
CREATE INDEX task_log_device ON task_log(device_id);
CREATE TABLE files (
    name TEXT PRIMARY KEY,
    file_type TEXT NOT NULL,
    oui TEXT NOT NULL,
    product_class TEXT NOT NULL,
    version TEXT NOT NULL,
    size INTEGER NOT NULL,
    path TEXT NOT NULL
) STRICT;
"];

const TASK_COLUMNS: &str = "id, device_id, name, arguments, timestamp, status, retries, attempts";
const FAULT_COLUMNS: &str = "id, device_id, task_id, code, message, detail, timestamp, retries";
const FILE_COLUMNS: &str = "name, file_type, oui, product_class, version, size, path";
/// The tables [`MIGRATIONS`] create.
const TABLES: &[&str] = &[
    "devices",
    "parameters",
    "tags",
    "tasks",
    "faults",
    "task_log",
    "files",
];

/// How far [`SqliteStore::check_file`] looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileCheck {
    /// The header, a known schema version and one row of every table: a few page reads.
    Schema,
    /// [`FileCheck::Schema`], then `PRAGMA integrity_check` over every page.
    Integrity,
}

/// A [`Store`] in one SQLite file, with every device record and the queued tasks mirrored in
/// memory (see "Durability" in [`super`]). One process at a time owns the file.
#[derive(Debug)]
pub struct SqliteStore {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
    /// The file, `None` in memory.
    path: Option<PathBuf>,
    /// Held while the store is open (dropped after the writer ends and the connection closes).
    _owner: Option<StoreLock>,
}

impl SqliteStore {
    /// The schema version this code writes (`PRAGMA user_version`); `open` migrates older files
    /// up to it and refuses newer ones.
    pub const SCHEMA_VERSION: i32 = 1;

    /// Opens (or creates) the store at `path`: WAL journal, `synchronous = NORMAL` (a commit
    /// survives a process crash; the last ones may be lost on power loss), foreign keys on, busy
    /// timeout, schema migrated to [`Self::SCHEMA_VERSION`]. Then puts tasks left `in progress` by a
    /// dead process back to `queued` (see the module docs of [`super`]), loads the devices and
    /// queued tasks into memory, and starts the writer thread, which also checkpoints the WAL
    /// (automatic checkpoints are off, so no commit waits for one).
    ///
    /// First takes the file's [`StoreLock`]: [`StoreError::Lock`] while another process (a
    /// server, a restore) owns the file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let owner = StoreLock::acquire(path)?;
        let connection = Connection::open(path)?;
        let mut store = Self::setup(connection, Some(path))?;
        store.path = Some(path.to_owned());
        store._owner = Some(owner);
        Ok(store)
    }

    /// Opens the store file at `path` read-only, on a connection of its own (no lock taken, a
    /// running server is not disturbed), and checks that it is a store this build can open:
    /// an SQLite database whose schema version is 1 to [`Self::SCHEMA_VERSION`], every table
    /// readable, and with [`FileCheck::Integrity`] no fault found by `PRAGMA integrity_check`.
    /// Returns the schema version.
    pub fn check_file(path: &Path, depth: FileCheck) -> Result<i32> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        let version = check_schema(&connection)?;
        if depth == FileCheck::Integrity {
            let mut statement = connection.prepare("PRAGMA integrity_check(10)")?;
            let problems = statement
                .query_map([], |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            if problems != ["ok"] {
                return Err(StoreError::Corrupt(format!(
                    "integrity check: {}",
                    problems.join("; ")
                )));
            }
        }
        Ok(version)
    }

    /// A private in-memory database (no WAL), for tests.
    pub fn open_in_memory() -> Result<Self> {
        Self::setup(Connection::open_in_memory()?, None)
    }

    fn setup(mut connection: Connection, path: Option<&Path>) -> Result<Self> {
        connection.busy_timeout(BUSY_TIMEOUT)?;
        // `journal_mode` returns the resulting mode as a row; in-memory databases say "memory".
        let mode: String =
            connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", true)?;
        migrate(&mut connection)?;
        let checkpointer = match path {
            Some(path) if mode.eq_ignore_ascii_case("wal") => {
                connection.pragma_update(None, "wal_autocheckpoint", 0)?;
                Some(Connection::open(path)?)
            }
            _ => None,
        };
        let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let requeued = requeue(&tx)?.len();
        let devices = load_devices(&tx)?;
        let queued = {
            let mut statement = tx.prepare(&format!(
                "SELECT {TASK_COLUMNS}, seq FROM tasks WHERE status = ?1"
            ))?;
            statement
                .query_map([TaskStatus::Queued.as_str()], |row| {
                    Ok((row.get(8)?, task_from_row(row)?))
                })?
                .collect::<rusqlite::Result<Vec<(i64, Task)>>>()?
        };
        tx.commit()?;
        if requeued > 0 {
            cpe::oplog!(
                STORE_TASKS_REQUEUED,
                requeued,
                "tasks claimed by a previous process are queued again"
            );
        }
        let shared = Arc::new(Shared::new(connection, Cache::new(devices, queued)));
        let writer = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("acs-sim-store".to_owned())
                .spawn(move || writer::run(&shared, checkpointer.as_ref()))
                .map_err(StoreError::Thread)?
        };
        Ok(Self {
            shared,
            writer: Some(writer),
            path: None,
            _owner: None,
        })
    }

    /// Commits every device write made so far (Inform records wait up to
    /// [`WINDOW`](writer::WINDOW) otherwise).
    pub fn flush(&self) -> Result<()> {
        self.shared.flush()
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.shared.lock()
    }

    /// Queues a device write and waits for its commit.
    fn write_device(&self, write: Write) -> Result<()> {
        self.shared.queue(write)?;
        self.shared.flush()
    }

    /// Commits the queued device writes, then runs `f` in an IMMEDIATE transaction, commits
    /// it, and passes its result to `then` with the cache, all under the connection lock.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T>,
        then: impl FnOnce(&mut Cache, &T),
    ) -> Result<T> {
        let mut connection = self.lock();
        self.shared.flush_locked(&mut connection)?;
        let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        then(&mut self.shared.cache(), &out);
        Ok(out)
    }

    /// [`Self::write`] for tables the cache does not mirror.
    fn write_sql<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        self.write(f, |_, _| {})
    }

    /// Runs `f` in a read transaction, so multi-statement reads see one snapshot.
    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut connection = self.lock();
        let tx = connection.transaction_with_behavior(TransactionBehavior::Deferred)?;
        f(&tx)
    }
}

impl Drop for SqliteStore {
    /// Commits what is queued and stops the writer.
    fn drop(&mut self) {
        self.shared.stop();
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            cpe::oplog!(STORE_WRITER_PANICKED, "the store writer thread panicked");
        }
    }
}

fn migrate(connection: &mut Connection) -> Result<()> {
    let version: i32 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let current = usize::try_from(version)
        .ok()
        .filter(|v| *v <= MIGRATIONS.len())
        .ok_or_else(|| {
            StoreError::Corrupt(format!(
                "schema version {version}, this build knows up to {}",
                SqliteStore::SCHEMA_VERSION
            ))
        })?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = connection.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        tx.execute_batch(migration)?;
        let version = i64::try_from(index + 1).map_err(corrupt)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::debug!(version = index + 1, "store schema migrated");
    }
    Ok(())
}

/// Checks that `connection` holds a store this build knows: schema version 1 to
/// [`SqliteStore::SCHEMA_VERSION`] and every table readable. Returns the version.
fn check_schema(connection: &Connection) -> Result<i32> {
    let version: i32 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if !(1..=SqliteStore::SCHEMA_VERSION).contains(&version) {
        return Err(StoreError::Corrupt(format!(
            "schema version {version}, this build knows 1 to {}",
            SqliteStore::SCHEMA_VERSION
        )));
    }
    for table in TABLES {
        connection
            .prepare(&format!("SELECT 1 FROM {table} LIMIT 1"))?
            .exists([])?;
    }
    Ok(version)
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Decodes a text column with `FromStr`, reporting a failure as a conversion error.
fn parsed<T>(row: &Row<'_>, index: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.get(index)?;
    text.parse()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e)))
}

fn json(row: &Row<'_>, index: usize) -> rusqlite::Result<serde_json::Value> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e)))
}

fn task_from_row(row: &Row<'_>) -> rusqlite::Result<Task> {
    Ok(Task {
        id: parsed(row, 0)?,
        device: parsed(row, 1)?,
        name: parsed(row, 2)?,
        arguments: json(row, 3)?,
        timestamp: row.get(4)?,
        status: parsed(row, 5)?,
        retries: row.get(6)?,
        attempts: row.get(7)?,
    })
}

fn fault_from_row(row: &Row<'_>) -> rusqlite::Result<Fault> {
    Ok(Fault {
        id: row.get(0)?,
        device: parsed(row, 1)?,
        task: parsed(row, 2)?,
        code: row.get(3)?,
        message: row.get(4)?,
        detail: json(row, 5)?,
        timestamp: row.get(6)?,
        retries: row.get(7)?,
    })
}

fn file_from_row(row: &Row<'_>) -> rusqlite::Result<FileMeta> {
    let size: i64 = row.get(5)?;
    Ok(FileMeta {
        name: row.get(0)?,
        file_type: row.get(1)?,
        oui: row.get(2)?,
        product_class: row.get(3)?,
        version: row.get(4)?,
        size: u64::try_from(size).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(5, Type::Integer, Box::new(e))
        })?,
        path: row.get(6)?,
    })
}

/// Fails with `NotFound` unless the device exists.
fn require_device(tx: &Transaction<'_>, id: &DeviceId) -> Result<()> {
    let exists = tx
        .query_row("SELECT 1 FROM devices WHERE id = ?1", [id.as_str()], |_| {
            Ok(())
        })
        .optional()?;
    exists.ok_or_else(|| not_found("device", id))
}

/// Every device record, by id.
fn load_devices(tx: &Transaction<'_>) -> Result<BTreeMap<DeviceId, Device>> {
    let mut devices = BTreeMap::new();
    let mut statement = tx.prepare(
        "SELECT id, oui, product_class, serial_number, manufacturer, last_inform, last_events,
                cwmp_version, connection_request_url, username, password
         FROM devices",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let id: DeviceId = parsed(row, 0)?;
        let username: Option<String> = row.get(9)?;
        let password: Option<String> = row.get(10)?;
        let events: String = row.get(6)?;
        let device = Device {
            id: id.clone(),
            oui: row.get(1)?,
            product_class: row.get(2)?,
            serial_number: row.get(3)?,
            manufacturer: row.get(4)?,
            last_inform: row.get(5)?,
            last_events: serde_json::from_str(&events).map_err(corrupt)?,
            parameters: BTreeMap::new(),
            tags: BTreeSet::new(),
            cwmp_version: row.get(7)?,
            connection_request_url: row.get(8)?,
            credentials: username
                .zip(password)
                .map(|(username, password)| Credentials { username, password }),
        };
        devices.insert(id, device);
    }
    let mut statement =
        tx.prepare("SELECT device_id, name, value, xsd_type, timestamp FROM parameters")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let id: DeviceId = parsed(row, 0)?;
        let device = devices
            .get_mut(&id)
            .ok_or_else(|| StoreError::Corrupt(format!("parameters of unknown device {id}")))?;
        device.parameters.insert(
            row.get(1)?,
            ParameterRecord {
                value: row.get(2)?,
                xsd_type: row.get(3)?,
                timestamp: row.get(4)?,
            },
        );
    }
    let mut statement = tx.prepare("SELECT device_id, tag FROM tags")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let id: DeviceId = parsed(row, 0)?;
        let device = devices
            .get_mut(&id)
            .ok_or_else(|| StoreError::Corrupt(format!("tags of unknown device {id}")))?;
        device.tags.insert(row.get(1)?);
    }
    Ok(devices)
}

/// Puts every `in progress` task back to `queued`, bumping `attempts`; returns them with their
/// `seq`.
fn requeue(tx: &Transaction<'_>) -> Result<Vec<(i64, Task)>> {
    let mut statement = tx.prepare(&format!(
        "UPDATE tasks SET status = ?1, attempts = attempts + 1 WHERE status = ?2
         RETURNING {TASK_COLUMNS}, seq"
    ))?;
    let rows = statement.query_map(
        params![TaskStatus::Queued.as_str(), TaskStatus::InProgress.as_str()],
        |row| Ok((row.get(8)?, task_from_row(row)?)),
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn task_status(tx: &Transaction<'_>, id: &TaskId) -> Result<(TaskStatus, DeviceId)> {
    tx.prepare_cached("SELECT status, device_id FROM tasks WHERE id = ?1")?
        .query_row([id.as_str()], |row| Ok((parsed(row, 0)?, parsed(row, 1)?)))
        .optional()?
        .ok_or_else(|| not_found("task", id))
}

fn load_task(tx: &Transaction<'_>, id: &TaskId) -> Result<Task> {
    Ok(load_task_seq(tx, id)?.1)
}

/// A task with its `seq`.
fn load_task_seq(tx: &Transaction<'_>, id: &TaskId) -> Result<(i64, Task)> {
    tx.prepare_cached(&format!(
        "SELECT {TASK_COLUMNS}, seq FROM tasks WHERE id = ?1"
    ))?
    .query_row([id.as_str()], |row| Ok((row.get(8)?, task_from_row(row)?)))
    .optional()?
    .ok_or_else(|| not_found("task", id))
}

impl Store for SqliteStore {
    /// Only [`Store::inform_path_blocks`] is `false`: task, file and fault calls commit (or
    /// read) SQLite under the connection lock.
    fn blocks(&self) -> bool {
        true
    }

    /// Reads the file afresh ([`SqliteStore::check_file`], [`FileCheck::Schema`]), so a file
    /// deleted, replaced or damaged under the running store shows; in memory, the schema on the
    /// store's own connection.
    fn health(&self) -> Result<String> {
        match &self.path {
            Some(path) => {
                let version = Self::check_file(path, FileCheck::Schema)?;
                Ok(format!("sqlite {}, schema {version}", path.display()))
            }
            None => {
                let version = check_schema(&self.lock())?;
                Ok(format!("sqlite in memory, schema {version}"))
            }
        }
    }

    /// `record_inform` updates memory and queues the write; `next_task` reads memory. The one
    /// exception is backpressure: with more than [`MAX_BACKLOG`](writer::MAX_BACKLOG) writes
    /// waiting, `record_inform` commits the backlog itself.
    fn inform_path_blocks(&self) -> bool {
        false
    }

    fn record_inform(&self, inform: &InformSummary) -> Result<DeviceId> {
        let id = inform.device_id();
        if self.shared.queue(Write::Inform(inform.clone()))? >= writer::MAX_BACKLOG {
            self.shared.flush()?;
        }
        Ok(id)
    }

    fn set_parameters(&self, id: &DeviceId, values: &[ParameterValue], now: i64) -> Result<()> {
        self.write_device(Write::Parameters {
            id: id.clone(),
            values: values.to_vec(),
            now,
        })
    }

    fn set_credentials(&self, id: &DeviceId, credentials: Option<&Credentials>) -> Result<()> {
        self.write_device(Write::Credentials {
            id: id.clone(),
            credentials: credentials.cloned(),
        })
    }

    fn device(&self, id: &DeviceId) -> Result<Device> {
        self.shared.cache().device(id)
    }

    fn devices(&self, filter: &DeviceFilter) -> Result<Vec<Device>> {
        Ok(self.shared.cache().devices(filter))
    }

    fn delete_device(&self, id: &DeviceId) -> Result<()> {
        self.write_device(Write::DeleteDevice(id.clone()))
    }

    fn add_tag(&self, id: &DeviceId, tag: &str) -> Result<()> {
        self.write_device(Write::AddTag {
            id: id.clone(),
            tag: tag.to_owned(),
        })
    }

    fn remove_tag(&self, id: &DeviceId, tag: &str) -> Result<()> {
        self.write_device(Write::RemoveTag {
            id: id.clone(),
            tag: tag.to_owned(),
        })
    }

    fn add_task(&self, new: &NewTask) -> Result<Task> {
        let task = Task {
            id: TaskId::generate(new.timestamp),
            device: new.device.clone(),
            name: new.name,
            arguments: new.arguments.clone(),
            timestamp: new.timestamp,
            status: TaskStatus::Queued,
            retries: 0,
            attempts: 0,
        };
        let arguments = serde_json::to_string(&task.arguments).map_err(corrupt)?;
        self.write(
            |tx| {
                require_device(tx, &task.device)?;
                let inserted = tx.execute(
                "INSERT OR IGNORE INTO tasks (id, device_id, name, arguments, timestamp, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    task.id.as_str(),
                    task.device.as_str(),
                    task.name.as_str(),
                    arguments,
                    task.timestamp,
                    TaskStatus::Queued.as_str(),
                ],
            )?;
                if inserted == 0 {
                    return Err(conflict("task", &task.id, "duplicate id"));
                }
                Ok(tx.last_insert_rowid())
            },
            |cache, seq| cache.queue(*seq, task.clone()),
        )?;
        Ok(task)
    }

    fn tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>> {
        self.read(|tx| {
            let mut statement = tx.prepare(&format!(
                "SELECT {TASK_COLUMNS} FROM tasks
                 WHERE (?1 IS NULL OR id = ?1) AND (?2 IS NULL OR device_id = ?2)
                   AND (?3 IS NULL OR status = ?3)
                 ORDER BY timestamp, seq"
            ))?;
            let rows = statement.query_map(
                params![
                    filter.id.as_ref().map(TaskId::as_str),
                    filter.device.as_ref().map(DeviceId::as_str),
                    filter.status.map(TaskStatus::as_str),
                ],
                task_from_row,
            )?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn next_task(&self, device: &DeviceId) -> Result<Option<Task>> {
        Ok(self.shared.cache().next_task(device))
    }

    fn claim_task(&self, id: &TaskId) -> Result<Task> {
        self.write(
            |tx| {
                let (status, _) = task_status(tx, id)?;
                if status != TaskStatus::Queued {
                    return Err(conflict("task", id, format!("is {}", status.as_str())));
                }
                tx.prepare_cached("UPDATE tasks SET status = ?2 WHERE id = ?1")?
                    .execute(params![id.as_str(), TaskStatus::InProgress.as_str()])?;
                load_task(tx, id)
            },
            |cache, task| cache.unqueue(&task.device, id),
        )
    }

    fn release_task(&self, id: &TaskId) -> Result<()> {
        self.write(
            |tx| {
                let (status, _) = task_status(tx, id)?;
                if status != TaskStatus::InProgress {
                    return Err(conflict("task", id, format!("is {}", status.as_str())));
                }
                tx.prepare_cached(
                    "UPDATE tasks SET status = ?2, attempts = attempts + 1 WHERE id = ?1",
                )?
                .execute(params![id.as_str(), TaskStatus::Queued.as_str()])?;
                load_task_seq(tx, id)
            },
            |cache, (seq, task)| cache.queue(*seq, task.clone()),
        )
        .map(drop)
    }

    fn complete_task(&self, id: &TaskId, now: i64) -> Result<()> {
        // An `in progress` task is not in the cache's queue: nothing to update there.
        self.write(
            |tx| {
                let task = load_task(tx, id)?;
                if task.status != TaskStatus::InProgress {
                    return Err(conflict("task", id, format!("is {}", task.status.as_str())));
                }
                let logged = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO task_log
                             (task_id, device_id, name, completed_at, attempts)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![
                        id.as_str(),
                        task.device.as_str(),
                        task.name.as_str(),
                        now,
                        task.attempts
                    ])?;
                if logged == 0 {
                    return Err(conflict("task", id, "already completed"));
                }
                tx.prepare_cached("DELETE FROM tasks WHERE id = ?1")?
                    .execute([id.as_str()])?;
                tx.prepare_cached("DELETE FROM faults WHERE task_id = ?1")?
                    .execute([id.as_str()])?;
                Ok(())
            },
            |_, ()| {},
        )
    }

    fn fault_task(&self, id: &TaskId, detail: &FaultDetail) -> Result<Fault> {
        let detail_json = serde_json::to_string(&detail.detail).map_err(corrupt)?;
        self.write(
            |tx| {
                let (_, device) = task_status(tx, id)?;
                let retries: u32 = tx
                    .prepare_cached(
                        "UPDATE tasks SET status = ?2, retries = retries + 1 WHERE id = ?1
                         RETURNING retries",
                    )?
                    .query_row(params![id.as_str(), TaskStatus::Faulted.as_str()], |r| {
                        r.get(0)
                    })?;
                let fault = Fault {
                    id: Fault::id_for(&device, id),
                    device,
                    task: id.clone(),
                    code: detail.code.clone(),
                    message: detail.message.clone(),
                    detail: detail.detail.clone(),
                    timestamp: detail.timestamp,
                    retries,
                };
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO faults
                         (id, device_id, task_id, code, message, detail, timestamp, retries)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    fault.id,
                    fault.device.as_str(),
                    id.as_str(),
                    fault.code,
                    fault.message,
                    detail_json,
                    fault.timestamp,
                    fault.retries,
                ])?;
                Ok(fault)
            },
            |cache, fault| cache.unqueue(&fault.device, id),
        )
    }

    fn retry_task(&self, id: &TaskId) -> Result<()> {
        self.write(
            |tx| {
                let (status, _) = task_status(tx, id)?;
                if status != TaskStatus::Faulted {
                    return Err(conflict("task", id, format!("is {}", status.as_str())));
                }
                tx.prepare_cached("UPDATE tasks SET status = ?2 WHERE id = ?1")?
                    .execute(params![id.as_str(), TaskStatus::Queued.as_str()])?;
                tx.prepare_cached("DELETE FROM faults WHERE task_id = ?1")?
                    .execute([id.as_str()])?;
                load_task_seq(tx, id)
            },
            |cache, (seq, task)| cache.queue(*seq, task.clone()),
        )
        .map(drop)
    }

    fn delete_task(&self, id: &TaskId) -> Result<()> {
        self.write(
            |tx| {
                let (_, device) = task_status(tx, id)?;
                tx.prepare_cached("DELETE FROM tasks WHERE id = ?1")?
                    .execute([id.as_str()])?;
                tx.prepare_cached("DELETE FROM faults WHERE task_id = ?1")?
                    .execute([id.as_str()])?;
                Ok(device)
            },
            |cache, device| cache.unqueue(device, id),
        )
        .map(drop)
    }

    fn requeue_in_progress(&self) -> Result<usize> {
        let requeued = self.write(requeue, |cache, requeued| {
            for (seq, task) in requeued {
                cache.queue(*seq, task.clone());
            }
        })?;
        Ok(requeued.len())
    }

    fn completed_tasks(&self, device: Option<&DeviceId>) -> Result<Vec<CompletedTask>> {
        self.read(|tx| {
            let mut statement = tx.prepare(
                "SELECT task_id, device_id, name, completed_at, attempts FROM task_log
                 WHERE ?1 IS NULL OR device_id = ?1 ORDER BY rowid",
            )?;
            let rows = statement.query_map([device.map(DeviceId::as_str)], |row| {
                Ok(CompletedTask {
                    id: parsed(row, 0)?,
                    device: parsed(row, 1)?,
                    name: parsed::<TaskName>(row, 2)?,
                    completed_at: row.get(3)?,
                    attempts: row.get(4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn faults(&self, filter: &FaultFilter) -> Result<Vec<Fault>> {
        self.read(|tx| {
            let mut statement = tx.prepare(&format!(
                "SELECT {FAULT_COLUMNS} FROM faults
                 WHERE (?1 IS NULL OR device_id = ?1) AND (?2 IS NULL OR task_id = ?2)
                 ORDER BY id"
            ))?;
            let rows = statement.query_map(
                params![
                    filter.device.as_ref().map(DeviceId::as_str),
                    filter.task.as_ref().map(TaskId::as_str),
                ],
                fault_from_row,
            )?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn delete_fault(&self, id: &str) -> Result<()> {
        self.write(
            |tx| {
                let (device, task): (DeviceId, TaskId) = tx
                    .query_row(
                        "SELECT device_id, task_id FROM faults WHERE id = ?1",
                        [id],
                        |r| Ok((parsed(r, 0)?, parsed(r, 1)?)),
                    )
                    .optional()?
                    .ok_or_else(|| not_found("fault", id))?;
                tx.execute("DELETE FROM faults WHERE id = ?1", [id])?;
                tx.execute("DELETE FROM tasks WHERE id = ?1", [task.as_str()])?;
                Ok((device, task))
            },
            |cache, (device, task)| cache.unqueue(device, task),
        )
        .map(drop)
    }

    fn put_file(&self, file: &FileMeta) -> Result<()> {
        let size = i64::try_from(file.size)
            .map_err(|_| conflict("file", &file.name, "size does not fit SQLite's INTEGER"))?;
        self.write_sql(|tx| {
            tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO files ({FILE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ),
                params![
                    file.name,
                    file.file_type,
                    file.oui,
                    file.product_class,
                    file.version,
                    size,
                    file.path,
                ],
            )?;
            Ok(())
        })
    }

    fn file(&self, name: &str) -> Result<FileMeta> {
        self.read(|tx| {
            tx.query_row(
                &format!("SELECT {FILE_COLUMNS} FROM files WHERE name = ?1"),
                [name],
                file_from_row,
            )
            .optional()?
            .ok_or_else(|| not_found("file", name))
        })
    }

    fn files(&self) -> Result<Vec<FileMeta>> {
        self.read(|tx| {
            let mut statement =
                tx.prepare(&format!("SELECT {FILE_COLUMNS} FROM files ORDER BY name"))?;
            let rows = statement.query_map([], file_from_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn delete_file(&self, name: &str) -> Result<()> {
        self.write_sql(|tx| {
            if tx.execute("DELETE FROM files WHERE name = ?1", [name])? == 0 {
                return Err(not_found("file", name));
            }
            Ok(())
        })
    }
}
