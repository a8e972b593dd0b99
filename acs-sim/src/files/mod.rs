//! Files for Download and from Upload (TR-069 Amd 6 A.3.2.8, A.4.1.5): a directory of blobs
//! with their metadata in the store, the HTTP file server CPEs fetch from and upload to
//! ([`serve`]), and GenieACS's `/files` REST routes ([`nbi_routes`]).
//!
//! # Blobs
//!
//! A file named `fw.bin` lives in `<dir>/fw.bin.<md5 of its bytes>`; the metadata's `path` says
//! which blob is current. A blob is never written in place: an upload streams into a temporary
//! file (`.upload-*`), syncs it, renames it to its blob name and only then points the metadata
//! at it, so a reader sees either the old bytes or the new ones, whole, even across a crash.
//! The previous blob is removed after the switch; a reader that opened it keeps reading it.

mod body;
mod conditional;
mod name;
mod nbi;
mod response;
mod server;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt as _;
use hyper::body::Body;
use md5::{Digest as _, Md5};
use tokio::fs::{File, OpenOptions};
use tokio::io::AsyncWriteExt as _;

use crate::acs::Acs;
use crate::store::{FileMeta, Store, StoreError};

pub use name::{MAX_NAME_LEN, encode_segment, validate_name};
pub use nbi::nbi_routes;
pub use server::{DEFAULT_PORT, serve, serve_tls};

/// The default largest file accepted, 1 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;

/// Prefix of temporary upload files in the blob directory (names cannot start with `.`).
const UPLOAD_PREFIX: &str = ".upload-";

/// Why a file operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The name cannot name a file (see [`validate_name`]).
    #[error("invalid file name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No file has this name.
    #[error("no file named {0:?}")]
    NotFound(String),
    /// The upload is larger than the limit.
    #[error("file larger than the {max}-byte limit")]
    TooLarge {
        /// The limit, in bytes.
        max: u64,
    },
    /// The upload's body failed (the client went away, say).
    #[error("upload interrupted: {0}")]
    Upload(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Reading or writing the blob directory failed.
    #[error("file area: {0}")]
    Io(#[from] io::Error),
    /// The metadata store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl FileError {
    /// The HTTP status that reports this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidName { .. } | Self::Upload(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Io(_) | Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for FileError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { id, .. } => Self::NotFound(id),
            other => Self::Store(other),
        }
    }
}

/// The metadata of a file being stored (TR-069 Amd 6 A.3.2.8 FileType, and what GenieACS keeps
/// to match files to devices).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewFile {
    /// Unique name, also the URL path segment.
    pub name: String,
    /// TR-069 FileType, such as `"1 Firmware Upgrade Image"`.
    pub file_type: String,
    /// OUI it is for (may be empty).
    pub oui: String,
    /// ProductClass it is for (may be empty).
    pub product_class: String,
    /// Version (may be empty).
    pub version: String,
}

impl NewFile {
    /// A file with only a name.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

/// A stored file opened for reading.
#[derive(Debug)]
pub struct OpenFile {
    /// Its metadata.
    pub meta: FileMeta,
    /// Its length as opened (the blob's, authoritative over `meta.size`).
    pub len: u64,
    /// When its blob was written, if the file system says.
    pub modified: Option<SystemTime>,
    file: File,
}

/// The file area: blobs under one directory, metadata in the store.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    max_size: u64,
    /// Held while a blob is switched or removed together with its metadata.
    writes: tokio::sync::Mutex<()>,
}

impl FileStore {
    /// A file area in `dir` (created if missing), accepting files up to [`DEFAULT_MAX_SIZE`].
    /// Removes temporary files left by uploads a crash interrupted. `dir` must be UTF-8, since
    /// blob paths are stored as text.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        if dir.to_str().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("file directory {} is not UTF-8", dir.display()),
            ));
        }
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(UPLOAD_PREFIX)
            {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(Self {
            dir,
            max_size: DEFAULT_MAX_SIZE,
            writes: tokio::sync::Mutex::new(()),
        })
    }

    /// Accepts files up to `max_size` bytes; larger uploads fail with [`FileError::TooLarge`].
    pub fn with_max_size(mut self, max_size: u64) -> Self {
        self.max_size = max_size;
        self
    }

    /// The largest file accepted, in bytes.
    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    /// The directory blobs live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores `body` as the file `file.name`, replacing any file of that name, and returns the
    /// metadata recorded. The body is streamed to disk; past [`FileStore::max_size`] bytes the
    /// upload stops with [`FileError::TooLarge`] and nothing changes (a body announcing more,
    /// by `Content-Length`, is refused before it is read). For bytes in memory pass
    /// `http_body_util::Full::new(bytes)`.
    pub async fn put<B>(
        &self,
        store: &Arc<dyn Store>,
        file: NewFile,
        body: B,
    ) -> Result<FileMeta, FileError>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        validate_name(&file.name)?;
        if body.size_hint().lower() > self.max_size {
            return Err(FileError::TooLarge { max: self.max_size });
        }
        let mut upload = Upload::create(&self.dir).await?;
        let (size, digest) = upload.write(body, self.max_size).await?;
        let blob = self.dir.join(format!("{}.{digest}", file.name));
        let meta = FileMeta {
            name: file.name,
            file_type: file.file_type,
            oui: file.oui,
            product_class: file.product_class,
            version: file.version,
            size,
            path: blob.to_string_lossy().into_owned(),
        };
        let _writing = self.writes.lock().await;
        upload.persist(&blob, &self.dir).await?;
        let recorded = meta.clone();
        let previous = blocking(store, move |store| {
            let previous = match store.file(&recorded.name) {
                Ok(previous) => Some(previous),
                Err(StoreError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            store.put_file(&recorded)?;
            Ok(previous)
        })
        .await?;
        if let Some(previous) = previous
            && previous.path != meta.path
        {
            self.remove_blob(&previous).await;
        }
        Ok(meta)
    }

    /// Opens the file `name` for reading.
    pub async fn open(&self, store: &Arc<dyn Store>, name: &str) -> Result<OpenFile, FileError> {
        validate_name(name)?;
        let mut replaced = false;
        loop {
            let owned = name.to_owned();
            let meta = blocking(store, move |store| store.file(&owned)).await?;
            match File::open(&meta.path).await {
                Ok(file) => {
                    let stat = file.metadata().await?;
                    return Ok(OpenFile {
                        meta,
                        len: stat.len(),
                        modified: stat.modified().ok(),
                        file,
                    });
                }
                // An upload replaced the blob between the lookup and the open: look again.
                Err(e) if e.kind() == io::ErrorKind::NotFound && !replaced => replaced = true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    cpe::oplog!(
                        FILES_BLOB_MISSING,
                        name,
                        path = meta.path,
                        "file metadata names a missing blob"
                    );
                    return Err(FileError::NotFound(name.to_owned()));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Deletes the file `name` (metadata, then blob) and returns its metadata.
    pub async fn delete(&self, store: &Arc<dyn Store>, name: &str) -> Result<FileMeta, FileError> {
        validate_name(name)?;
        let _writing = self.writes.lock().await;
        let owned = name.to_owned();
        let meta = blocking(store, move |store| {
            let meta = store.file(&owned)?;
            store.delete_file(&owned)?;
            Ok(meta)
        })
        .await?;
        self.remove_blob(&meta).await;
        Ok(meta)
    }

    /// Every file's metadata, ordered by name.
    pub async fn list(&self, store: &Arc<dyn Store>) -> Result<Vec<FileMeta>, FileError> {
        blocking(store, |store| store.files()).await
    }

    /// Removes a blob no metadata points to any more, if it is one of ours.
    async fn remove_blob(&self, meta: &FileMeta) {
        let path = Path::new(&meta.path);
        if path.parent() != Some(self.dir.as_path()) {
            return;
        }
        match tokio::fs::remove_file(path).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                cpe::oplog!(FILES_BLOB_NOT_REMOVED, path = meta.path, error = %e, "cannot remove an old blob")
            }
        }
    }
}

/// What a Download RPC (TR-069 Amd 6 A.3.2.8) needs to fetch a stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadSource {
    /// `URL`: the file server's address of the file.
    pub url: String,
    /// `FileSize`, in bytes.
    pub file_size: u64,
    /// `FileType`, as stored.
    pub file_type: String,
}

/// The Download arguments for the stored file `name`: its URL under `acs.config.files_url`,
/// size and type. Reads the store, so it blocks; call it where the store is used.
pub fn download_source(acs: &Acs, name: &str) -> Result<DownloadSource, FileError> {
    let meta = acs.store.file(name)?;
    Ok(DownloadSource {
        url: file_url(&acs.config.files_url, name),
        file_size: meta.size,
        file_type: meta.file_type,
    })
}

/// The URL of the file `name` on the file server at `base` (e.g. `http://127.0.0.1:7567`).
pub fn file_url(base: &str, name: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), encode_segment(name))
}

/// Runs a store call on the blocking pool (the store is synchronous).
async fn blocking<T: Send + 'static>(
    store: &Arc<dyn Store>,
    call: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, FileError> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || call(&*store))
        .await
        .map_err(io::Error::other)?
        .map_err(FileError::from)
}

/// A temporary upload file, removed when dropped unless persisted.
struct Upload {
    path: PathBuf,
    file: File,
    persisted: bool,
}

impl Upload {
    async fn create(dir: &Path) -> io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let number = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{UPLOAD_PREFIX}{}-{number}", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(Self {
            path,
            file,
            persisted: false,
        })
    }

    /// Streams `body` into the file, up to `max` bytes, and syncs it. Returns the size and the
    /// hex MD5 of the bytes.
    async fn write<B>(&mut self, body: B, max: u64) -> Result<(u64, String), FileError>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let mut body = std::pin::pin!(body);
        let mut size = 0u64;
        let mut hash = Md5::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| FileError::Upload(e.into()))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            size = size.saturating_add(data.len() as u64);
            if size > max {
                return Err(FileError::TooLarge { max });
            }
            hash.update(&data);
            self.file.write_all(&data).await?;
        }
        self.file.flush().await?;
        self.file.sync_all().await?;
        let digest = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok((size, digest))
    }

    /// Renames the file to `blob` and syncs `dir` so the rename survives a crash.
    async fn persist(&mut self, blob: &Path, dir: &Path) -> io::Result<()> {
        tokio::fs::rename(&self.path, blob).await?;
        self.persisted = true;
        File::open(dir).await?.sync_all().await
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.persisted {
            // One unlink; also runs when the upload's future is dropped mid-stream.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
