//! Snapshots: a self-describing, checksummed copy of persistent state that can be verified
//! byte for byte before anything is restored from it (ARCHITECTURE.md, "Snapshot and
//! restore").
//!
//! [`Snapshot`] is the container, shared by the CPE agent (`cpe backup`, kind
//! [`Kind::CpeState`], [`state`]) and acs-sim (`acs-sim backup`, kind [`Kind::AcsStore`]).

mod container;
pub mod state;

use std::io::{self, Read as _};
use std::path::Path;

pub use container::{
    Corrupt, Foreign, Kind, MAX_HEADER, MAX_SNAPSHOT, Snapshot, VERSION, Verdict, describe,
    file_checksum, verify,
};

use crate::persist::{self, PersistError};

/// Writes snapshot bytes to `path` atomically: a temp file in the same directory, fsync,
/// rename, fsync of the directory ([`persist::write_bytes`]).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), PersistError> {
    persist::write_bytes(path, bytes)
}

/// Reads a snapshot file, at most one byte more than [`MAX_SNAPSHOT`] (enough for
/// [`Snapshot::decode`] to refuse it as too large without reading it all).
pub fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_SNAPSHOT as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}
