//! Snapshots: a self-describing, checksummed copy of persistent state that can be verified
//! byte for byte before anything is restored from it (ARCHITECTURE.md, "Snapshot and
//! restore").
//!
//! [`Snapshot`] is the container, shared by the CPE agent (`cpe backup`, kind
//! [`Kind::CpeState`]) and acs-sim (`acs-sim backup`, kind [`Kind::AcsStore`]).

mod container;

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
