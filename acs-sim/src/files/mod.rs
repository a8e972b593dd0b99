//! Files for Download and from Upload: a directory of blobs with their metadata in the store,
//! and the HTTP file server (ETag, Range) that CPEs fetch from.

use std::path::PathBuf;

/// The file area: blobs under one directory, metadata in the store.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// A file area in `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// The directory blobs live in.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}
