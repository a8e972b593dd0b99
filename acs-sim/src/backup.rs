//! Snapshots of the ACS store (issue 7, "Snapshot and restore" in ARCHITECTURE.md):
//! `acs-sim backup FILE`, `acs-sim backup verify FILE`, `acs-sim restore FILE`.
//!
//! A snapshot is the [`cpe::snapshot`] container, kind [`Kind::AcsStore`], whose content is a
//! whole SQLite database file of the store (devices, parameters, tags, tasks, faults, the
//! completion log, file metadata; not the file server's blobs). Its identity names the
//! program, the schema version and the store file it was taken from.
//!
//! - **Backup is online** ([`backup`]): it opens the store file read-only on a connection of
//!   its own, without the store's lock, and copies it with SQLite's online backup API
//!   (`sqlite3_backup_step` over every page in one step, so within one read transaction: a
//!   server writing meanwhile (WAL) is neither blocked nor seen half way). The copy is turned
//!   into a self-contained file (rollback journal), checked with `PRAGMA integrity_check`, and
//!   the snapshot is written atomically (temp file, fsync, rename).
//! - **Verify** ([`verify`]) checks the container (format, checksums) and then the content: an
//!   SQLite database passing `PRAGMA integrity_check` with this build's schema.
//! - **Restore** ([`restore`]) refuses a corrupt snapshot and one of another kind, takes the
//!   store's [`StoreLock`] (so it refuses while a server uses the store, naming the lock file),
//!   checks the content as verify does, removes the old database's `-wal`, `-shm` and
//!   `-journal` (they belong to the old file, and SQLite would replay an old WAL into the new
//!   one), then writes the database atomically over the store. A crash between those two steps
//!   leaves the old database as of its last checkpoint; running the restore again finishes it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use cpe::persist::PersistError;
use cpe::snapshot::{Foreign, Kind, MAX_SNAPSHOT, Snapshot, Verdict, describe};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::store::{FileCheck, LockError, SqliteStore, StoreError, StoreLock};

/// The `program` of an acs-sim snapshot's identity.
pub const PROGRAM: &str = "acs-sim";

/// Why a backup or a restore did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The store could not be read or copied.
    #[error("store {}: {source}", path.display())]
    Store {
        /// The store file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: StoreError,
    },
    /// The store is larger than a snapshot may be.
    #[error("{} is {size} bytes, more than a snapshot holds ({MAX_SNAPSHOT} bytes)", path.display())]
    TooLarge {
        /// The store file, or the snapshot file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// Reading a file or making a temporary one failed.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file the old store left beside it (`-wal`, `-shm`, `-journal`) cannot be removed:
    /// the store is unchanged.
    #[error("cannot remove {}: {source}", path.display())]
    Remove {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Writing the snapshot or the restored store failed; the previous file is untouched.
    #[error(transparent)]
    Write(#[from] PersistError),
    /// The snapshot does not pass [`verify`]: nothing was changed.
    #[error("snapshot {} is corrupt: {reason}", path.display())]
    Corrupt {
        /// The snapshot file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The snapshot is not of an ACS store: nothing was changed.
    #[error("snapshot {}: {source}", path.display())]
    Foreign {
        /// The snapshot file.
        path: PathBuf,
        /// What it holds instead.
        #[source]
        source: Foreign,
    },
    /// A server (or another restore) uses the store: nothing was changed.
    #[error(transparent)]
    InUse(#[from] LockError),
}

/// What [`verify`] found: the container's [`Verdict`] (with `corrupt` also set when the content
/// is not a sound store) and the content's schema version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoreVerdict {
    /// The container's verdict; `corrupt` and `reason` cover the content too.
    #[serde(flatten)]
    pub snapshot: Verdict,
    /// Set when the snapshot is sound but not of an ACS store (a CPE's state, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreign: Option<String>,
    /// The store's schema version (`PRAGMA user_version`), when the content was checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<i32>,
}

impl StoreVerdict {
    /// Whether `acs-sim restore` would take this snapshot.
    pub fn usable(&self) -> bool {
        !self.snapshot.corrupt && self.foreign.is_none()
    }
}

impl fmt::Display for StoreVerdict {
    /// `corrupt: false` or `corrupt: true`, then why, or what the snapshot holds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.snapshot;
        writeln!(f, "corrupt: {}", v.corrupt)?;
        if let Some(reason) = &v.reason {
            writeln!(f, "reason: {reason}")?;
        }
        if let Some(foreign) = &self.foreign {
            writeln!(f, "foreign: {foreign}")?;
        }
        if let Some(kind) = v.kind {
            writeln!(f, "kind: {kind}")?;
        }
        if let Some(identity) = &v.identity {
            writeln!(f, "identity: {}", describe(identity))?;
        }
        if let Some(created) = &v.created {
            writeln!(f, "created: {created}")?;
        }
        if let Some(version) = self.schema_version {
            writeln!(f, "schema version: {version}")?;
        }
        if let Some(sha256) = &v.sha256 {
            writeln!(f, "sha256: {sha256}")?;
        }
        write!(f, "size: {} bytes", v.size)
    }
}

/// Takes a snapshot of the store at `db` while it may be in use and writes it atomically to
/// `out`; returns the written snapshot's verdict.
pub fn backup(db: &Path, out: &Path) -> Result<StoreVerdict, BackupError> {
    let store_error = |source| BackupError::Store {
        path: db.to_owned(),
        source,
    };
    let work = tempfile::tempdir().map_err(|source| BackupError::Read {
        path: std::env::temp_dir(),
        source,
    })?;
    let copy = work.path().join("store.db");
    online_copy(db, &copy).map_err(store_error)?;
    let size = std::fs::metadata(&copy)
        .map_err(|source| BackupError::Read {
            path: copy.clone(),
            source,
        })?
        .len();
    if size > MAX_SNAPSHOT as u64 {
        return Err(BackupError::TooLarge {
            path: db.to_owned(),
            size,
        });
    }
    let version = SqliteStore::check_file(&copy, FileCheck::Integrity).map_err(store_error)?;
    let content = std::fs::read(&copy).map_err(|source| BackupError::Read {
        path: copy.clone(),
        source,
    })?;
    let store = std::fs::canonicalize(db).unwrap_or_else(|_| db.to_owned());
    let identity = BTreeMap::from([
        ("program".to_owned(), PROGRAM.to_owned()),
        ("schema".to_owned(), version.to_string()),
        ("store".to_owned(), store.display().to_string()),
    ]);
    let bytes = Snapshot::now(Kind::AcsStore, identity, content).encode();
    cpe::snapshot::write_file(out, &bytes)?;
    cpe::oplog!(STORE_SNAPSHOT_WRITTEN, store = %db.display(), snapshot = %out.display(), bytes = bytes.len(), "store snapshot written");
    Ok(verify(&bytes))
}

/// Copies the database at `db` into a new file `copy` with the online backup API, then makes
/// the copy a self-contained rollback-journal database.
fn online_copy(db: &Path, copy: &Path) -> Result<(), StoreError> {
    // Read-only and without CREATE: a missing store is an error, not a new empty file.
    let source = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    source.busy_timeout(std::time::Duration::from_secs(5))?;
    let mut target = Connection::open(copy)?;
    {
        let backup = Backup::new(&source, &mut target)?;
        // -1: every page in one step, under one read transaction of the source.
        match backup.step(-1)? {
            StepResult::Done => {}
            other => {
                return Err(StoreError::Corrupt(format!(
                    "the online backup did not finish ({other:?}): the store stayed locked"
                )));
            }
        }
    }
    // The copied header says WAL, as the store does; the snapshot must stand alone.
    let mode: String =
        target.pragma_update_and_check(None, "journal_mode", "DELETE", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(StoreError::Corrupt(format!(
            "the copy stayed in journal mode {mode}"
        )));
    }
    Ok(())
}

/// Checks the snapshot `bytes`: the container, its kind, and that the content is a sound
/// store of this build's schema.
pub fn verify(bytes: &[u8]) -> StoreVerdict {
    let mut verdict = StoreVerdict {
        snapshot: cpe::snapshot::verify(bytes),
        foreign: None,
        schema_version: None,
    };
    if verdict.snapshot.corrupt {
        return verdict;
    }
    let snapshot = match Snapshot::decode(bytes) {
        Ok(snapshot) => snapshot,
        // `verify` decoded the same bytes.
        Err(corrupt) => return corrupt_content(verdict, corrupt.to_string()),
    };
    if let Err(foreign) = check_kind(&snapshot) {
        verdict.foreign = Some(foreign.to_string());
        return verdict;
    }
    match check_content(&snapshot.content) {
        Ok(version) => {
            verdict.schema_version = Some(version);
            verdict
        }
        Err(reason) => corrupt_content(verdict, reason),
    }
}

fn corrupt_content(mut verdict: StoreVerdict, reason: String) -> StoreVerdict {
    verdict.snapshot.corrupt = true;
    verdict.snapshot.reason = Some(reason);
    verdict
}

fn check_kind(snapshot: &Snapshot) -> Result<(), Foreign> {
    if snapshot.kind == Kind::AcsStore {
        Ok(())
    } else {
        Err(Foreign::Kind {
            expected: Kind::AcsStore,
            found: snapshot.kind,
        })
    }
}

/// Writes `content` to a temporary file and checks it as a store file
/// ([`FileCheck::Integrity`]); returns its schema version, or why it is not a sound store.
fn check_content(content: &[u8]) -> Result<i32, String> {
    let work = tempfile::tempdir().map_err(|e| format!("cannot make a temporary file: {e}"))?;
    let path = work.path().join("store.db");
    std::fs::write(&path, content).map_err(|e| format!("cannot write a temporary file: {e}"))?;
    SqliteStore::check_file(&path, FileCheck::Integrity)
        .map_err(|e| format!("the content is not a sound acs-sim store: {e}"))
}

/// What [`restore`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Restored {
    /// The store file written.
    pub store: PathBuf,
    /// When the snapshot was taken (RFC 3339).
    pub created: String,
    /// The restored store's schema version.
    pub schema_version: i32,
}

/// Replaces the store at `db` with the snapshot in the file `snapshot`, atomically, refusing a
/// corrupt or foreign snapshot and a store in use (see the module docs).
pub fn restore(snapshot: &Path, db: &Path) -> Result<Restored, BackupError> {
    let bytes = read_snapshot(snapshot)?;
    let corrupt = |reason: String| BackupError::Corrupt {
        path: snapshot.to_owned(),
        reason,
    };
    let decoded = Snapshot::decode(&bytes).map_err(|e| corrupt(e.to_string()))?;
    check_kind(&decoded).map_err(|source| BackupError::Foreign {
        path: snapshot.to_owned(),
        source,
    })?;
    let _owner = StoreLock::acquire(db)?;
    let schema_version = check_content(&decoded.content).map_err(corrupt)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = db.as_os_str().to_owned();
        side.push(suffix);
        match std::fs::remove_file(&side) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(BackupError::Remove {
                    path: side.into(),
                    source,
                });
            }
        }
    }
    cpe::snapshot::write_file(db, &decoded.content)?;
    cpe::oplog!(STORE_RESTORED, store = %db.display(), snapshot = %snapshot.display(), "store restored");
    Ok(Restored {
        store: db.to_owned(),
        created: decoded.created,
        schema_version,
    })
}

/// Reads a snapshot file, refusing one larger than [`MAX_SNAPSHOT`] before reading it.
pub fn read_snapshot(path: &Path) -> Result<Vec<u8>, BackupError> {
    let read = |source| BackupError::Read {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read)?.len();
    if size > MAX_SNAPSHOT as u64 {
        return Err(BackupError::TooLarge {
            path: path.to_owned(),
            size,
        });
    }
    std::fs::read(path).map_err(read)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{InformSummary, Store as _};

    /// A store file at `db` with one device, closed.
    fn store_with(db: &Path, serial: &str) {
        let store = SqliteStore::open(db).unwrap();
        store
            .record_inform(&InformSummary {
                oui: "00236A".into(),
                product_class: "IGD".into(),
                serial_number: serial.into(),
                ..InformSummary::default()
            })
            .unwrap();
    }

    fn serials(db: &Path) -> Vec<String> {
        let store = SqliteStore::open(db).unwrap();
        store
            .devices(&crate::store::DeviceFilter::All)
            .unwrap()
            .into_iter()
            .map(|d| d.serial_number)
            .collect()
    }

    /// A snapshot file of a store holding device `serial`, and its decoded form.
    fn snapshot_of(dir: &Path, serial: &str) -> (PathBuf, Snapshot) {
        let db = dir.join(format!("{serial}.db"));
        store_with(&db, serial);
        let out = dir.join(format!("{serial}.snapshot"));
        let verdict = backup(&db, &out).unwrap();
        assert!(verdict.usable(), "{verdict}");
        let decoded = Snapshot::decode(&std::fs::read(&out).unwrap()).unwrap();
        (out, decoded)
    }

    #[test]
    fn a_sound_container_around_a_damaged_database_is_corrupt_and_not_restored() {
        let dir = tempfile::tempdir().unwrap();
        let (_, mut snapshot) = snapshot_of(dir.path(), "A");
        // Page 1 only: the schema names tables whose pages are gone.
        snapshot.content.truncate(4096);
        let damaged = dir.path().join("damaged.snapshot");
        std::fs::write(&damaged, snapshot.encode()).unwrap();

        let verdict = verify(&std::fs::read(&damaged).unwrap());
        assert!(verdict.snapshot.corrupt);
        let reason = verdict.snapshot.reason.clone().unwrap();
        assert!(
            reason.starts_with("the content is not a sound acs-sim store"),
            "{reason}"
        );
        assert!(
            verdict.to_string().starts_with("corrupt: true\n"),
            "{verdict}"
        );

        let target = dir.path().join("target.db");
        store_with(&target, "T");
        let refused = restore(&damaged, &target).unwrap_err();
        assert!(matches!(refused, BackupError::Corrupt { .. }), "{refused}");
        assert_eq!(serials(&target), ["T"]);
    }

    #[test]
    fn a_snapshot_of_another_kind_is_foreign_not_corrupt_and_not_restored() {
        let dir = tempfile::tempdir().unwrap();
        let (_, snapshot) = snapshot_of(dir.path(), "A");
        let cpe = Snapshot::now(Kind::CpeState, BTreeMap::new(), snapshot.content);
        let path = dir.path().join("cpe.snapshot");
        std::fs::write(&path, cpe.encode()).unwrap();

        let verdict = verify(&std::fs::read(&path).unwrap());
        assert!(!verdict.snapshot.corrupt && !verdict.usable());
        assert_eq!(
            verdict.foreign.as_deref(),
            Some("the snapshot holds cpe-state, expected acs-store")
        );
        let refused = restore(&path, &dir.path().join("new.db")).unwrap_err();
        assert!(matches!(refused, BackupError::Foreign { .. }), "{refused}");
        assert!(!dir.path().join("new.db").exists());
    }

    #[test]
    fn restore_replaces_the_store_and_drops_the_old_files_wal() {
        let dir = tempfile::tempdir().unwrap();
        let (snapshot, _) = snapshot_of(dir.path(), "A");
        let target = dir.path().join("target.db");
        store_with(&target, "T");
        // What a crashed server leaves: a WAL and an index of the old database.
        let wal = dir.path().join("target.db-wal");
        let shm = dir.path().join("target.db-shm");
        std::fs::write(&wal, b"old frames").unwrap();
        std::fs::write(&shm, b"old index").unwrap();

        let restored = restore(&snapshot, &target).unwrap();
        assert_eq!(restored.schema_version, SqliteStore::SCHEMA_VERSION);
        assert!(!wal.exists() && !shm.exists());
        assert_eq!(serials(&target), ["A"]);
    }

    #[test]
    fn backup_of_a_missing_store_fails_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("missing.db");
        let out = dir.path().join("out.snapshot");
        let error = backup(&db, &out).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("store {}: ", db.display())),
            "{error}"
        );
        assert!(!out.exists() && !db.exists());
    }
}
