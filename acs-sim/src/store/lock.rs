//! Which process owns a store file: an exclusive advisory lock (`flock(2)`, through
//! [`std::fs::File::try_lock`]) on a lock file beside it, `<db>.lock`.
//!
//! [`SqliteStore::open`](super::SqliteStore::open) takes the lock and holds it until the store
//! drops; `acs-sim restore` takes it for the time it replaces the file. So a restore cannot
//! replace the file under a running server, nor a server open a file being restored. The kernel
//! drops the lock when its holder exits, even by `kill -9`, so a crash leaves no stale owner.
//!
//! The lock is on a separate file, never on the database itself: SQLite keeps POSIX
//! (`fcntl`) locks on the database, and closing any other descriptor of that file in the same
//! process would drop them (SQLite's "How To Corrupt An SQLite Database File", §2.2). The
//! lock file stays after use: removing it could let two processes lock two different files of
//! the same name.

use std::ffi::OsString;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// Why the lock of a store was not taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another process holds it: a server runs on the store, or a restore is under way.
    #[error("store {} is in use by another process (it holds the lock {})", db.display(), lock.display())]
    InUse {
        /// The store file.
        db: PathBuf,
        /// Its lock file.
        lock: PathBuf,
    },
    /// The lock file cannot be opened or locked.
    #[error("cannot lock {}: {source}", lock.display())]
    Io {
        /// The lock file.
        lock: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// The exclusive lock of a store file, held until dropped.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Takes the lock of the store at `db` without waiting: [`LockError::InUse`] when another
    /// process (or another open store of this process) holds it.
    pub fn acquire(db: &Path) -> Result<Self, LockError> {
        let lock = lock_path(db);
        let io = |source| LockError::Io {
            lock: lock.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(LockError::InUse {
                db: db.to_owned(),
                lock,
            }),
            Err(TryLockError::Error(source)) => Err(io(source)),
        }
    }
}

/// The lock file of the store at `db`: `<db>.lock`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut path = OsString::from(db.as_os_str());
    path.push(".lock");
    PathBuf::from(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_of_the_same_store_is_refused_until_the_first_drops() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("acs.db");
        let first = StoreLock::acquire(&db).unwrap();
        let refused = StoreLock::acquire(&db).unwrap_err();
        assert!(
            matches!(&refused, LockError::InUse { lock, .. } if *lock == dir.path().join("acs.db.lock")),
            "{refused}"
        );
        assert!(refused.to_string().contains("in use by another process"));
        drop(first);
        StoreLock::acquire(&db).unwrap();
    }
}
