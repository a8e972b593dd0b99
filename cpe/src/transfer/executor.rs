//! Runs one queued transfer over the CWMP transport's HTTP(S) client (TLS, proxy, Basic and
//! Digest, redirects): Download (TR-069 Amd 6 A.3.2.8, A.4.1.8) streamed to a temp file with a
//! size cap, then handed to the agent by file type; Upload (A.4.1.5) of a file the agent
//! produces. Every failure becomes a [`TransferFault`] with a code TransferComplete may carry.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, StatusCode};
use schemas::rpc::FaultCode;
use tokio::fs;
use tracing::debug;

use super::fault::TransferFault;
use super::file_type::{DownloadFileType, UploadFileType};
use super::outcome::{Delivered, Outcome};
use super::queue::{Job, Payload, TransferId, is_plain_file_name};
use crate::stats::{Delivery, Message, Stats};
use crate::transport::{AcsUrl, Client, TimeoutKind, TransportError};

/// Largest download accepted by default (firmware images included).
pub const DEFAULT_MAX_DOWNLOAD: u64 = 256 * 1024 * 1024;

/// Largest upload (configuration or log file) sent by default.
pub const DEFAULT_MAX_UPLOAD: usize = 16 * 1024 * 1024;

/// Longest a transfer may take by default, from connect to the last byte.
pub const DEFAULT_MAX_TRANSFER_TIME: Duration = Duration::from_secs(60 * 60);

/// Longest a hook (apply or export) may take by default.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Name of a download's temp file: prefix, transfer number, suffix.
const TEMP_PREFIX: &str = "transfer-";
const TEMP_SUFFIX: &str = ".part";

/// The CPE's wall clock in Unix seconds: StartTime and CompleteTime, and the time left in a
/// ScheduleDownload window. Injected so tests control it.
pub trait Clock: Send + Sync {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

/// The HTTP method of uploads. TR-069 Amd 6 A.4.1.5 specifies `PUT` for HTTP(S) uploads; some
/// ACS file servers only accept `POST`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UploadMethod {
    /// `PUT` (the standard).
    #[default]
    Put,
    /// `POST`.
    Post,
}

/// Where files go and the bounds on every transfer.
#[derive(Clone, Debug)]
pub struct TransferConfig {
    /// Directory of the temp files downloads are streamed into.
    pub download_dir: PathBuf,
    /// Directory where downloads that are not handed to a hook (web content, tone, ringer and
    /// vendor files) are stored under their TargetFileName.
    pub store_dir: PathBuf,
    /// Largest download accepted: a larger FileSize or body fails with 9010.
    pub max_download_size: u64,
    /// Largest file uploaded: a hook producing more fails with 9011.
    pub max_upload_size: usize,
    /// Longest a transfer may take, from connect to the last byte.
    pub max_transfer_time: Duration,
    /// Longest a hook may take to apply or produce a file.
    pub hook_timeout: Duration,
    /// `PUT` or `POST` for uploads.
    pub upload_method: UploadMethod,
    /// The `Content-Type` of uploads.
    pub upload_content_type: String,
    /// Where each exchange with a file server is counted ([`crate::stats`]), if anywhere.
    pub stats: Option<Stats<Message>>,
}

impl TransferConfig {
    /// The defaults, with these directories.
    pub fn new(download_dir: impl Into<PathBuf>, store_dir: impl Into<PathBuf>) -> Self {
        Self {
            download_dir: download_dir.into(),
            store_dir: store_dir.into(),
            max_download_size: DEFAULT_MAX_DOWNLOAD,
            max_upload_size: DEFAULT_MAX_UPLOAD,
            max_transfer_time: DEFAULT_MAX_TRANSFER_TIME,
            hook_timeout: DEFAULT_HOOK_TIMEOUT,
            upload_method: UploadMethod::Put,
            upload_content_type: "application/octet-stream".to_owned(),
            stats: None,
        }
    }
}

/// How a hook finished applying a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// In effect now.
    Done,
    /// In effect after a reboot: the agent reboots once the completion is queued, and the
    /// TransferComplete goes out after the reboot (TR-069 Amd 6 A.3.3.2).
    RebootRequired,
}

/// Why a hook failed; each reason has its TransferComplete fault code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HookError {
    /// 9018 File corrupted: the file is not a valid image or configuration.
    #[error("file corrupted: {0}")]
    Corrupted(String),
    /// 9019 File authentication failure: a signature or checksum did not verify.
    #[error("file authentication failed: {0}")]
    Authentication(String),
    /// 9001 Request denied: the device refuses the file (e.g. a downgrade).
    #[error("request denied: {0}")]
    Denied(String),
    /// 9010 (download) or 9011 (upload): the file could not be applied or produced.
    #[error("{0}")]
    Failed(String),
    /// 9002 Internal error.
    #[error("internal error: {0}")]
    Internal(String),
}

/// What the agent does with transferred files. The executor calls these hooks; tests fake
/// them.
///
/// A hook gets the path of the downloaded temp file, which is deleted when the hook returns:
/// copy it if it must outlive the call.
pub trait TransferHooks: Send + Sync {
    /// `1 Firmware Upgrade Image`: verify and install the image at `path`.
    fn firmware_apply(
        &self,
        path: &Path,
    ) -> impl Future<Output = Result<Applied, HookError>> + Send;

    /// `3 Vendor Configuration File`: apply the configuration at `path`.
    fn config_apply(&self, path: &Path) -> impl Future<Output = Result<Applied, HookError>> + Send;

    /// Upload `1 Vendor Configuration File` (`instance` `None`) or `3 Vendor Configuration
    /// File <i>`: the file's bytes.
    fn config_export(
        &self,
        instance: Option<u32>,
    ) -> impl Future<Output = Result<Vec<u8>, HookError>> + Send;

    /// Upload `2 Vendor Log File` (`instance` `None`) or `4 Vendor Log File <i>`: the file's
    /// bytes.
    fn log_export(
        &self,
        instance: Option<u32>,
    ) -> impl Future<Output = Result<Vec<u8>, HookError>> + Send;
}

/// A download whose file has arrived and been checked, not yet applied or stored
/// ([`Executor::transfer`]). Its temp file is deleted when it is dropped.
#[derive(Debug)]
pub struct Received {
    id: TransferId,
    file_type: DownloadFileType,
    target_file_name: String,
    url: AcsUrl,
    path: PathBuf,
    bytes: u64,
    start_time: i64,
}

impl Received {
    /// The transfer.
    pub fn id(&self) -> TransferId {
        self.id
    }

    /// The temp file holding the download.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its size in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Received {
    fn drop(&mut self) {
        // Gone already when the file was stored (renamed) or never created.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Where [`Executor::transfer`] left a transfer.
#[derive(Debug)]
pub enum Step {
    /// A download arrived: mark it completed in the queue, then [`Executor::install`] it.
    Received(Received),
    /// The transfer is over (an upload, or a failure).
    Finished(Outcome),
}

/// Runs transfers: one executor serves every transfer of an agent, concurrently if the agent
/// wishes (share it in an `Arc`).
pub struct Executor<H> {
    client: Client,
    config: TransferConfig,
    hooks: H,
    clock: Arc<dyn Clock>,
}

impl<H: TransferHooks> Executor<H> {
    /// An executor using `client` (the agent's transport client, or one configured for file
    /// servers, e.g. with `allow_basic_over_http`) and the system clock.
    pub fn new(client: Client, config: TransferConfig, hooks: H) -> Self {
        Self {
            client,
            config,
            hooks,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same executor with another clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The hooks.
    pub fn hooks(&self) -> &H {
        &self.hooks
    }

    /// Deletes the temp files of downloads a stopped agent left in
    /// [`TransferConfig::download_dir`]; call it at boot, before the first transfer starts.
    /// Returns how many were removed.
    pub async fn remove_stale_downloads(&self) -> std::io::Result<usize> {
        let mut entries = match fs::read_dir(&self.config.download_dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX) {
                fs::remove_file(entry.path()).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Runs `job` to its end: [`transfer`](Self::transfer), then [`install`](Self::install)
    /// a received download.
    pub async fn run(&self, job: &Job) -> Outcome {
        match self.transfer(job).await {
            Step::Finished(outcome) => outcome,
            Step::Received(received) => self.install(received).await,
        }
    }

    /// Moves the file: downloads it into a checked temp file, or produces and uploads it.
    pub async fn transfer(&self, job: &Job) -> Step {
        match &job.payload {
            Payload::Download {
                file_type,
                file_size,
                target_file_name,
            } => match self
                .download(job, file_type, *file_size, target_file_name)
                .await
            {
                Ok(received) => Step::Received(received),
                Err(fault) => Step::Finished(self.failed(job.id, job.started_at, fault)),
            },
            Payload::Upload { file_type } => Step::Finished(self.upload(job, *file_type).await),
        }
    }

    /// Applies or stores a received download by its file type: firmware and configuration go
    /// to their hooks, anything else is stored in [`TransferConfig::store_dir`] under its
    /// TargetFileName (or the URL's last path segment).
    pub async fn install(&self, received: Received) -> Outcome {
        let applied = match &received.file_type {
            DownloadFileType::FirmwareUpgradeImage => self
                .hook(
                    self.hooks.firmware_apply(&received.path),
                    FaultCode::DownloadFailure,
                )
                .await
                .map(|applied| (applied, None)),
            DownloadFileType::VendorConfigurationFile => self
                .hook(
                    self.hooks.config_apply(&received.path),
                    FaultCode::DownloadFailure,
                )
                .await
                .map(|applied| (applied, None)),
            _ => self
                .store(&received)
                .await
                .map(|path| (Applied::Done, Some(path))),
        };
        match applied {
            Ok((applied, stored_at)) => {
                crate::oplog!(XFER_DOWNLOAD_APPLIED, id = %received.id, file_type = %received.file_type, "download applied");
                Outcome {
                    id: received.id,
                    start_time: received.start_time,
                    complete_time: self.clock.now(),
                    result: Ok(Delivered {
                        bytes: received.bytes,
                        reboot_required: applied == Applied::RebootRequired,
                        stored_at,
                    }),
                }
            }
            Err(fault) => self.failed(received.id, received.start_time, fault),
        }
    }

    async fn download(
        &self,
        job: &Job,
        file_type: &DownloadFileType,
        file_size: u32,
        target_file_name: &str,
    ) -> Result<Received, TransferFault> {
        let (limit, by_window) = self.time_limit(job)?;
        let max = self.config.max_download_size;
        if u64::from(file_size) > max {
            return Err(TransferFault::new(
                FaultCode::DownloadFailure,
                format!("FileSize {file_size} exceeds this device's limit of {max} bytes"),
            ));
        }
        let cap = if file_size > 0 {
            u64::from(file_size)
        } else {
            max
        };
        let dir = &self.config.download_dir;
        fs::create_dir_all(dir)
            .await
            .map_err(|e| internal(format!("cannot create {}: {e}", dir.display())))?;
        let mut received = Received {
            id: job.id,
            file_type: file_type.clone(),
            target_file_name: target_file_name.to_owned(),
            url: job.url.clone(),
            path: dir.join(format!("{TEMP_PREFIX}{}{TEMP_SUFFIX}", job.id.value())),
            bytes: 0,
            start_time: job.started_at,
        };
        let mut file = fs::File::create(&received.path)
            .await
            .map_err(|e| internal(format!("cannot create {}: {e}", received.path.display())))?;
        debug!(id = %job.id, url = %job.url, cap, "download starting");
        let fetched = tokio::time::timeout(
            limit,
            self.counted(
                Message::Download,
                self.client
                    .download(job.url.clone(), job.credentials.clone(), &mut file, cap),
            ),
        )
        .await
        .map_err(|_| overtime(limit, by_window, FaultCode::DownloadFailure))?
        .map_err(|error| download_fault(&error, file_size))?;
        if file_size > 0 && fetched.bytes != u64::from(file_size) {
            return Err(TransferFault::new(
                FaultCode::IncompleteDownload,
                format!(
                    "received {} bytes, FileSize announced {file_size}",
                    fetched.bytes
                ),
            ));
        }
        file.sync_all().await.map_err(|e| {
            TransferFault::new(
                FaultCode::DownloadFailure,
                format!("cannot store the download: {e}"),
            )
        })?;
        received.bytes = fetched.bytes;
        crate::oplog!(XFER_DOWNLOAD_RECEIVED, id = %job.id, bytes = fetched.bytes, "download received");
        Ok(received)
    }

    async fn upload(&self, job: &Job, file_type: UploadFileType) -> Outcome {
        let result = match self.time_limit(job) {
            Ok((limit, by_window)) => {
                tokio::time::timeout(limit, self.produce_and_send(job, file_type))
                    .await
                    .unwrap_or_else(|_| Err(overtime(limit, by_window, FaultCode::UploadFailure)))
            }
            Err(fault) => Err(fault),
        };
        match result {
            Ok(bytes) => {
                crate::oplog!(XFER_UPLOAD_DONE, id = %job.id, bytes, "upload done");
                Outcome {
                    id: job.id,
                    start_time: job.started_at,
                    complete_time: self.clock.now(),
                    result: Ok(Delivered {
                        bytes,
                        ..Delivered::default()
                    }),
                }
            }
            Err(fault) => self.failed(job.id, job.started_at, fault),
        }
    }

    async fn produce_and_send(
        &self,
        job: &Job,
        file_type: UploadFileType,
    ) -> Result<u64, TransferFault> {
        let failed = FaultCode::UploadFailure;
        let body = match file_type {
            UploadFileType::VendorConfigurationFile { instance } => {
                self.hook(self.hooks.config_export(instance), failed)
                    .await?
            }
            UploadFileType::VendorLogFile { instance } => {
                self.hook(self.hooks.log_export(instance), failed).await?
            }
        };
        let max = self.config.max_upload_size;
        if body.len() > max {
            return Err(TransferFault::new(
                FaultCode::UploadFailure,
                format!(
                    "the file is {} bytes, more than the limit of {max}",
                    body.len()
                ),
            ));
        }
        let bytes = body.len() as u64;
        let method = match self.config.upload_method {
            UploadMethod::Put => Method::PUT,
            UploadMethod::Post => Method::POST,
        };
        debug!(id = %job.id, url = %job.url, %method, bytes, "upload starting");
        let upload = self.client.upload(
            job.url.clone(),
            job.credentials.clone(),
            method,
            Bytes::from(body),
            &self.config.upload_content_type,
        );
        self.counted(Message::Upload, upload)
            .await
            .map_err(|error| upload_fault(&error))?;
        Ok(bytes)
    }

    /// Runs one exchange with a file server, counted as `message` ([`crate::stats`]).
    async fn counted<T>(
        &self,
        message: Message,
        exchange: impl Future<Output = Result<T, TransportError>>,
    ) -> Result<T, TransportError> {
        let counted = Counted::start(self.config.stats.as_ref(), message);
        let result = exchange.await;
        counted.finish(&result);
        result
    }

    /// Stores a received file under its name in the store directory.
    async fn store(&self, received: &Received) -> Result<PathBuf, TransferFault> {
        let name = if received.target_file_name.is_empty() {
            url_file_name(&received.url)
                .unwrap_or_else(|| format!("transfer-{}", received.id.value()))
        } else {
            received.target_file_name.clone()
        };
        if !is_plain_file_name(&name) {
            return Err(internal(format!("{name:?} is not a plain file name")));
        }
        let dir = &self.config.store_dir;
        fs::create_dir_all(dir)
            .await
            .map_err(|e| internal(format!("cannot create {}: {e}", dir.display())))?;
        let target = dir.join(&name);
        if fs::rename(&received.path, &target).await.is_err() {
            // Another file system: copy next to the target, then rename into place.
            let staging = dir.join(format!(".{name}.part"));
            let copied = async {
                fs::copy(&received.path, &staging).await?;
                fs::rename(&staging, &target).await
            }
            .await;
            if let Err(e) = copied {
                let _ = fs::remove_file(&staging).await;
                return Err(internal(format!("cannot store {}: {e}", target.display())));
            }
        }
        Ok(target)
    }

    /// Runs a hook within [`TransferConfig::hook_timeout`]; `failed` is the code of a hook
    /// that reports [`HookError::Failed`] (9010 or 9011).
    async fn hook<T>(
        &self,
        hook: impl Future<Output = Result<T, HookError>>,
        failed: FaultCode,
    ) -> Result<T, TransferFault> {
        let limit = self.config.hook_timeout;
        match tokio::time::timeout(limit, hook).await {
            Ok(result) => result.map_err(|error| hook_fault(&error, failed)),
            Err(_) => {
                crate::oplog!(XFER_HOOK_TIMEOUT, ?limit, "transfer hook timed out");
                Err(internal(format!(
                    "the hook did not finish within {limit:?}"
                )))
            }
        }
    }

    /// How long the transfer may take: the configured maximum, or less when the ScheduleDownload
    /// window ends sooner (then `true`). A window already over is 9020.
    fn time_limit(&self, job: &Job) -> Result<(Duration, bool), TransferFault> {
        let max = self.config.max_transfer_time;
        let Some(deadline) = job.deadline else {
            return Ok((max, false));
        };
        // The window's last second is still inside it.
        let left = deadline.saturating_add(1).saturating_sub(self.clock.now());
        let Ok(left @ 1..) = u64::try_from(left) else {
            return Err(TransferFault::new(
                FaultCode::TimeWindowMissed,
                "the time window ended before the download started",
            ));
        };
        let left = Duration::from_secs(left);
        Ok(if left < max {
            (left, true)
        } else {
            (max, false)
        })
    }

    fn failed(&self, id: TransferId, start_time: i64, fault: TransferFault) -> Outcome {
        crate::oplog!(XFER_FAILED, %id, fault = fault.code().code(), detail = fault.detail(), "transfer failed");
        Outcome::failed(id, start_time, self.clock.now(), fault)
    }
}

/// The last path segment of a URL, if it is a usable file name.
fn url_file_name(url: &AcsUrl) -> Option<String> {
    let path = url.path_and_query().split('?').next()?;
    let name = path.rsplit('/').next()?;
    is_plain_file_name(name).then(|| name.to_owned())
}

fn internal(detail: String) -> TransferFault {
    TransferFault::new(FaultCode::InternalError, detail)
}

/// The fault for a transfer cut off after `limit`: 9020 when the window ended, else
/// `otherwise`.
fn overtime(limit: Duration, by_window: bool, otherwise: FaultCode) -> TransferFault {
    if by_window {
        TransferFault::new(
            FaultCode::TimeWindowMissed,
            "the time window ended during the download",
        )
    } else {
        TransferFault::new(
            otherwise,
            format!("the transfer took longer than {limit:?}"),
        )
    }
}

/// The TransferComplete fault of a hook's error; `failed` is 9010 or 9011.
fn hook_fault(error: &HookError, failed: FaultCode) -> TransferFault {
    let code = match error {
        HookError::Corrupted(_) if failed == FaultCode::DownloadFailure => FaultCode::CorruptedFile,
        HookError::Authentication(_) if failed == FaultCode::DownloadFailure => {
            FaultCode::FileAuthenticationFailure
        }
        HookError::Denied(_) => FaultCode::RequestDenied,
        HookError::Internal(_) => FaultCode::InternalError,
        _ => failed,
    };
    TransferFault::new(code, error.to_string())
}

/// Whether the file server (not the ACS) refused or could not verify credentials, or could
/// not be authenticated itself (its certificate).
fn is_auth_failure(error: &TransportError) -> bool {
    matches!(
        error,
        TransportError::AuthRejected { .. }
            | TransportError::AuthRequired
            | TransportError::BasicOverPlainHttp
            | TransportError::BadChallenge { .. }
            | TransportError::UntrustedCertificate { .. }
    )
}

/// The TransferComplete fault of a failed download (see the table in the module docs).
fn download_fault(error: &TransportError, file_size: u32) -> TransferFault {
    let code = match error {
        e if is_auth_failure(e) => FaultCode::TransferAuthenticationFailure,
        TransportError::Connect { .. }
        | TransportError::Proxy(_)
        | TransportError::Tls { .. }
        | TransportError::Timeout {
            what: TimeoutKind::Connect | TimeoutKind::Response,
        } => FaultCode::FileServerUnreachable,
        TransportError::Status { status, .. }
            if matches!(
                *status,
                StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::GONE
            ) =>
        {
            FaultCode::FileAccessFailure
        }
        TransportError::BodyInterrupted { .. }
        | TransportError::Timeout {
            what: TimeoutKind::Body,
        } => FaultCode::IncompleteDownload,
        // More than the FileSize the ACS announced: not the file it meant.
        TransportError::BodyTooLarge { .. } if file_size > 0 => FaultCode::CorruptedFile,
        _ => FaultCode::DownloadFailure,
    };
    TransferFault::new(code, error.to_string())
}

/// One exchange with a file server being counted ([`crate::stats`]): any answer is a
/// Success, and an error status or refused credentials also a Fault; a connection, TLS or HTTP
/// failure or a body cut short is a Failure, and so is an exchange dropped before its end (the
/// transfer's time limit).
struct Counted<'a> {
    stats: Option<&'a Stats<Message>>,
    message: Message,
}

impl<'a> Counted<'a> {
    fn start(stats: Option<&'a Stats<Message>>, message: Message) -> Self {
        if let Some(stats) = stats {
            stats.attempt(message);
        }
        Self { stats, message }
    }

    fn finish<T>(mut self, result: &Result<T, TransportError>) {
        let delivery = match result {
            Ok(_) => Delivery::Answered,
            Err(
                TransportError::Status { .. }
                | TransportError::AuthRejected { .. }
                | TransportError::AuthRequired,
            ) => Delivery::Fault,
            Err(_) => Delivery::Failed,
        };
        if let Some(stats) = self.stats.take() {
            stats.delivered(self.message, delivery);
        }
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if let Some(stats) = self.stats {
            stats.delivered(self.message, Delivery::Failed);
        }
    }
}

/// The TransferComplete fault of a failed upload: 9012 for authentication, 9011 otherwise.
fn upload_fault(error: &TransportError) -> TransferFault {
    let code = if is_auth_failure(error) {
        FaultCode::TransferAuthenticationFailure
    } else {
        FaultCode::UploadFailure
    };
    TransferFault::new(code, error.to_string())
}
