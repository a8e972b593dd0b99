//! The transfer queue: sans-IO bookkeeping of every Download, ScheduleDownload and Upload
//! from the moment it is accepted until its TransferComplete is produced (TR-069 Amd 6
//! A.3.2.8, A.4.1.5, A.4.1.8), answering GetQueuedTransfers (A.4.1.1), GetAllQueuedTransfers
//! (A.4.1.7) and CancelTransfer (A.4.1.9).
//!
//! Time is injected as **Unix seconds** (`now: i64`, the CPE's wall clock, as
//! [`DateTime::unix_seconds`] counts them). Wall-clock time, not `Instant`, because the queue
//! is persisted and must keep its meaning across a reboot: DelaySeconds and the time windows
//! are relative to the request, and are stored as the absolute times they denote. A clock that
//! jumps backwards only delays a transfer; one that jumps forwards may skip a window (9020).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use schemas::rpc::types::{
    AllQueuedTransferStruct, QueuedTransferStruct, Status, TimeWindowStruct,
    TransferCompleteFaultStruct, TransferState,
};
use schemas::rpc::{
    AutonomousTransferComplete, CancelTransfer, CancelTransferResponse, CommandKey, Download,
    DownloadResponse, FaultCode, GetAllQueuedTransfersResponse, GetQueuedTransfersResponse,
    ScheduleDownload, ScheduleDownloadResponse, TransferComplete, Upload, UploadResponse,
};
use schemas::value::DateTime;

use super::MAX_QUEUED;
use super::fault::{RequestError, TransferFault};
use super::file_type::{DownloadFileType, UploadFileType};
use super::outcome::{Completion, CompletionMessage, Delivered, Outcome, date_time};
use crate::transport::{AcsUrl, Credentials, TransportError};

/// Seconds between two attempts of a ScheduleDownload within one time window.
pub const WINDOW_RETRY_DELAY: i64 = 60;

/// Retries per time window when the ACS leaves the choice to the CPE (`MaxRetries` -1).
pub const DEFAULT_WINDOW_RETRIES: u32 = 2;

/// Most retries per time window, whatever `MaxRetries` asks for.
pub const MAX_WINDOW_RETRIES: u32 = 10;

/// Longest URL, user name, password or file name kept in the queue (the XSD allows 256
/// characters; the SOAP reader tolerates up to four times as much).
const MAX_TEXT_LEN: usize = 1024;

/// The queue's handle of a transfer: unique, never reused within one queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TransferId(u64);

impl TransferId {
    /// The number behind the handle.
    pub fn value(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The RPC that queued a transfer: it names the `M <Method>` event of the completion, and
/// tells the ACS's transfers from the CPE's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Origin {
    /// A.3.2.8 Download.
    Download,
    /// A.4.1.8 ScheduleDownload.
    ScheduleDownload,
    /// A.4.1.5 Upload.
    Upload,
    /// A download the CPE started itself, reported with AutonomousTransferComplete (A.3.3.3).
    AutonomousDownload,
}

impl Origin {
    /// Whether the ACS asked for the transfer (listed by GetQueuedTransfers, cancellable).
    pub fn is_acs_requested(self) -> bool {
        self != Self::AutonomousDownload
    }

    /// The method of the `M <Method>` completion event; `None` for autonomous transfers.
    pub fn method_name(self) -> Option<&'static str> {
        match self {
            Self::Download => Some("Download"),
            Self::ScheduleDownload => Some("ScheduleDownload"),
            Self::Upload => Some("Upload"),
            Self::AutonomousDownload => None,
        }
    }
}

/// What moves, in which direction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    /// A file the CPE fetches.
    Download {
        /// What the file is, which decides where it goes.
        file_type: DownloadFileType,
        /// The size the ACS announced, 0 if unknown; checked when non-zero.
        file_size: u32,
        /// The name a stored file gets (may be empty).
        target_file_name: String,
    },
    /// A file the CPE sends.
    Upload {
        /// Which file.
        file_type: UploadFileType,
    },
}

impl Payload {
    /// Whether this is a download.
    pub fn is_download(&self) -> bool {
        matches!(self, Self::Download { .. })
    }

    /// The `FileType` in the queue listing's numbering (XSD `TransferFileType`).
    pub fn transfer_file_type(&self) -> String {
        match self {
            Self::Download { file_type, .. } => file_type.as_str().to_owned(),
            Self::Upload { file_type } => file_type.transfer_file_type(),
        }
    }
}

/// How a ScheduleDownload window may be used (TR-069 Amd 6 A.4.1.8 `WindowMode`). This CPE
/// starts the download at the window's start in every supported mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WindowMode {
    /// `1 At Any Time`.
    AtAnyTime,
    /// `2 Immediately`: at the start of the window.
    Immediately,
    /// `3 When Idle`: this CPE does not detect idleness and treats it like `1 At Any Time`.
    WhenIdle,
}

impl FromStr for WindowMode {
    type Err = RequestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1 At Any Time" => Ok(Self::AtAnyTime),
            "2 Immediately" => Ok(Self::Immediately),
            "3 When Idle" => Ok(Self::WhenIdle),
            _ => Err(RequestError::UnsupportedWindowMode(
                s.chars().take(64).collect(),
            )),
        }
    }
}

/// A ScheduleDownload time window, in absolute Unix seconds (inclusive at both ends).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    /// The first second the download may start.
    pub start: i64,
    /// The last second the download may run; it must complete by then.
    pub end: i64,
    /// How the window may be used.
    pub mode: WindowMode,
    /// Attempts after the first one within this window.
    pub retries: u32,
}

impl TimeWindow {
    /// A window of a request received at `now` (A.4.1.8: WindowStart and WindowEnd are
    /// seconds from the request).
    fn from_request(window: &TimeWindowStruct, now: i64) -> Result<Self, RequestError> {
        if window.window_end < window.window_start {
            return Err(RequestError::InvalidTimeWindow {
                reason: "WindowEnd is before WindowStart",
            });
        }
        let retries = match window.max_retries {
            -1 => DEFAULT_WINDOW_RETRIES,
            n if n < -1 => {
                return Err(RequestError::InvalidTimeWindow {
                    reason: "MaxRetries is below -1",
                });
            }
            n => n.unsigned_abs().min(MAX_WINDOW_RETRIES),
        };
        Ok(Self {
            start: now + i64::from(window.window_start),
            end: now + i64::from(window.window_end),
            mode: window.window_mode.parse()?,
            retries,
        })
    }
}

/// Where a transfer is (A.4.1.1 `TransferState`), with when it started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryState {
    /// 1: waiting for its time.
    NotYetStarted,
    /// 2: being transferred.
    InProgress {
        /// Unix seconds.
        started_at: i64,
    },
    /// 3: received and being applied (firmware, configuration).
    Completed {
        /// Unix seconds.
        started_at: i64,
    },
}

impl EntryState {
    /// The state on the wire.
    pub fn transfer_state(self) -> TransferState {
        match self {
            Self::NotYetStarted => TransferState::NotYetStarted,
            Self::InProgress { .. } => TransferState::InProgress,
            Self::Completed { .. } => TransferState::Completed,
        }
    }
}

/// A user name or password: serialized as is, never printed by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("<redacted>")
        }
    }
}

/// The last failure of a transfer that will be tried again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct LastFault {
    code: u32,
    detail: String,
}

/// One queued transfer. Read it through the accessors; the queue changes it.
///
/// The credentials are persisted with it, in clear: the agent's state file must be private to
/// the agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueuedTransfer {
    id: TransferId,
    #[serde(with = "as_text")]
    command_key: CommandKey,
    origin: Origin,
    payload: Payload,
    #[serde(with = "as_text")]
    url: AcsUrl,
    username: Secret,
    password: Secret,
    /// The earliest start of the next attempt (DelaySeconds, or a retry's delay).
    not_before: i64,
    /// ScheduleDownload windows (one or two); empty otherwise.
    windows: Vec<TimeWindow>,
    /// The window now in use.
    window: usize,
    /// Retries left in the current window.
    retries_left: u32,
    state: EntryState,
    /// Attempts started so far.
    attempts: u32,
    last_fault: Option<LastFault>,
}

impl QueuedTransfer {
    /// The queue's handle.
    pub fn id(&self) -> TransferId {
        self.id
    }

    /// The CommandKey of the request (empty for autonomous transfers).
    pub fn command_key(&self) -> &CommandKey {
        &self.command_key
    }

    /// The RPC that queued it.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// What moves.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// The file server URL.
    pub fn url(&self) -> &AcsUrl {
        &self.url
    }

    /// Its state.
    pub fn state(&self) -> EntryState {
        self.state
    }

    /// The ScheduleDownload windows not yet used up (empty for other transfers).
    pub fn windows(&self) -> &[TimeWindow] {
        self.windows.get(self.window..).unwrap_or_default()
    }

    /// Attempts started so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The fault code and detail of the last attempt, for a transfer that failed and waits for
    /// a retry (a ScheduleDownload with a retry or a window left).
    pub fn last_fault(&self) -> Option<(u32, &str)> {
        self.last_fault
            .as_ref()
            .map(|fault| (fault.code, fault.detail.as_str()))
    }

    /// When the next attempt may start (Unix seconds), for a transfer not yet started.
    pub fn due_at(&self) -> Option<i64> {
        if self.state != EntryState::NotYetStarted {
            return None;
        }
        Some(match self.windows.get(self.window) {
            Some(window) => self.not_before.max(window.start),
            None => self.not_before,
        })
    }

    fn credentials(&self) -> Option<Credentials> {
        (!self.username.0.is_empty() || !self.password.0.is_empty())
            .then(|| Credentials::new(&self.username.0, &self.password.0))
    }

    /// Moves to the next window while the current one cannot take the next attempt. Returns
    /// `false` when no window is left.
    fn settle_window(&mut self, now: i64) -> bool {
        if self.windows.is_empty() {
            return true;
        }
        while let Some(window) = self.windows.get(self.window) {
            if self.not_before.max(now) <= window.end {
                return true;
            }
            self.window += 1;
            if let Some(next) = self.windows.get(self.window) {
                self.retries_left = next.retries;
            }
        }
        false
    }

    /// The completion of a transfer that ends with `result`.
    fn complete(
        self,
        start_time: Option<i64>,
        complete_time: i64,
        result: Result<Delivered, TransferFault>,
    ) -> Completion {
        let fault_struct = match &result {
            Ok(_) => TransferCompleteFaultStruct::success(),
            Err(fault) => fault.fault_struct(),
        };
        let start_time = start_time.map_or(DateTime::UNKNOWN, date_time);
        let complete_time = date_time(complete_time);
        let delivered = result.unwrap_or_default();
        let message = if self.origin.is_acs_requested() {
            CompletionMessage::TransferComplete(TransferComplete {
                command_key: self.command_key,
                fault_struct,
                start_time,
                complete_time,
            })
        } else {
            let (file_size, target_file_name) = match &self.payload {
                Payload::Download {
                    file_size,
                    target_file_name,
                    ..
                } => (*file_size, target_file_name.clone()),
                Payload::Upload { .. } => (0, String::new()),
            };
            CompletionMessage::AutonomousTransferComplete(AutonomousTransferComplete {
                announce_url: String::new(),
                transfer_url: self.url.to_string(),
                is_download: self.payload.is_download(),
                file_type: self.payload.transfer_file_type(),
                file_size,
                target_file_name,
                fault_struct,
                start_time,
                complete_time,
            })
        };
        Completion {
            id: self.id,
            origin: self.origin,
            message,
            reboot_required: delivered.reboot_required,
            stored_at: delivered.stored_at,
        }
    }

    /// The completion of a ScheduleDownload whose windows all passed: its last attempt's fault,
    /// or 9020 when it never ran.
    fn missed(self, now: i64) -> Completion {
        let fault = match &self.last_fault {
            Some(last) => TransferFault::new(FaultCode::from_code(last.code), last.detail.clone()),
            None => TransferFault::new(
                FaultCode::TimeWindowMissed,
                "every time window passed before the download could start",
            ),
        };
        self.complete(None, now, Err(fault))
    }
}

/// A transfer to start now: everything the [`Executor`](super::Executor) needs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Job {
    /// The queue's handle, to report the [`Outcome`] against.
    pub id: TransferId,
    /// The request's CommandKey.
    pub command_key: CommandKey,
    /// What moves.
    pub payload: Payload,
    /// The file server URL.
    pub url: AcsUrl,
    /// Username/Password of the request, if any.
    pub credentials: Option<Credentials>,
    /// The end of the ScheduleDownload window (Unix seconds): the transfer must be complete by
    /// then, or fails with 9020.
    pub deadline: Option<i64>,
    /// When the attempt starts (Unix seconds).
    pub started_at: i64,
}

/// What [`TransferQueue::poll_due`] found.
#[derive(Clone, Debug)]
pub enum Due {
    /// Start this transfer now; it is marked in progress.
    Start(Job),
    /// A ScheduleDownload whose windows passed without success: report it.
    Missed(Completion),
}

/// A download the CPE starts itself, reported with AutonomousTransferComplete (TR-069 Amd 6
/// A.3.3.3) and listed only by GetAllQueuedTransfers.
#[derive(Clone, Debug)]
pub struct AutonomousDownload {
    /// What the file is.
    pub file_type: DownloadFileType,
    /// Where to fetch it.
    pub url: AcsUrl,
    /// File server credentials.
    pub credentials: Option<Credentials>,
    /// The expected size, 0 if unknown.
    pub file_size: u32,
    /// The name a stored file gets.
    pub target_file_name: String,
    /// Seconds to wait before starting.
    pub delay_seconds: u32,
}

/// The CPE's transfer queue: at most [`MAX_QUEUED`] Downloads, ScheduleDownloads and Uploads,
/// sans-IO, serde-persistable.
///
/// The agent drives it with its wall clock:
///
/// 1. answer the RPCs with [`download`](Self::download), [`schedule_download`](
///    Self::schedule_download), [`upload`](Self::upload), [`cancel`](Self::cancel),
///    [`queued_transfers`](Self::queued_transfers) and
///    [`all_queued_transfers`](Self::all_queued_transfers), persisting the queue after each
///    change (TR-069 expects transfers to survive a reboot);
/// 2. wake at [`poll_timeout`](Self::poll_timeout), then take every [`Due`] from
///    [`poll_due`](Self::poll_due): run each [`Job`] with the executor (the agent decides how
///    many at once; transfers with DelaySeconds 0 are best started after the session ends),
///    report each missed one;
/// 3. hand each [`Outcome`] to [`finish`](Self::finish), which yields the [`Completion`] to
///    report (or schedules a ScheduleDownload retry);
/// 4. after loading the queue at boot, call [`recover`](Self::recover) once.
///
/// `poll_due`, `mark_completed`, `finish` and `recover` change the queue too: persist it after
/// them as well, together with the completions they return.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawQueue")]
pub struct TransferQueue {
    next_id: u64,
    entries: Vec<QueuedTransfer>,
}

impl TransferQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many transfers are queued (in any state).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The queued transfers, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &QueuedTransfer> {
        self.entries.iter()
    }

    /// One queued transfer.
    pub fn get(&self, id: TransferId) -> Option<&QueuedTransfer> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// How many transfers are in progress or being applied.
    pub fn in_progress(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.state != EntryState::NotYetStarted)
            .count()
    }

    /// Queues a Download received at `now` (TR-069 Amd 6 A.3.2.8) and answers Status 1
    /// ("not yet completed; TransferComplete follows") with the Unknown Time for StartTime
    /// and CompleteTime, as A.3.2.8 requires with Status 1.
    ///
    /// Refused with 9003 for a bad CommandKey, FileType, URL or TargetFileName, 9013 for a
    /// scheme other than http/https, 9004 when the queue is full.
    pub fn download(
        &mut self,
        request: &Download,
        now: i64,
    ) -> Result<DownloadResponse, RequestError> {
        let file_type = request
            .file_type
            .parse()
            .map_err(|_| RequestError::UnsupportedFileType(clip(&request.file_type)))?;
        self.push(
            Origin::Download,
            &request.command_key,
            payload(file_type, request.file_size, &request.target_file_name)?,
            &request.url,
            (&request.username, &request.password),
            now,
            i64::from(request.delay_seconds),
            Vec::new(),
        )?;
        Ok(DownloadResponse {
            status: Status::Pending,
            start_time: DateTime::UNKNOWN,
            complete_time: DateTime::UNKNOWN,
        })
    }

    /// Queues a ScheduleDownload received at `now` (TR-069 Amd 6 A.4.1.8): the download runs
    /// in the first of its one or two time windows that works, retried within a window up to
    /// its MaxRetries ([`WINDOW_RETRY_DELAY`] apart); when all windows pass, TransferComplete
    /// reports the last failure, or 9020 if it never ran.
    ///
    /// Refused with 9003 for no window, more than two, a window ending before it starts,
    /// overlapping windows, an unsupported WindowMode or MaxRetries below -1, and as
    /// [`download`](Self::download) for the other arguments.
    pub fn schedule_download(
        &mut self,
        request: &ScheduleDownload,
        now: i64,
    ) -> Result<ScheduleDownloadResponse, RequestError> {
        let file_type = request
            .file_type
            .parse()
            .map_err(|_| RequestError::UnsupportedFileType(clip(&request.file_type)))?;
        let windows = match request.time_window_list.as_slice() {
            [] => {
                return Err(RequestError::InvalidTimeWindow {
                    reason: "at least one time window is required",
                });
            }
            [first] => vec![TimeWindow::from_request(first, now)?],
            [first, second] => {
                if second.window_start < first.window_end {
                    return Err(RequestError::InvalidTimeWindow {
                        reason: "the time windows overlap or are out of order",
                    });
                }
                vec![
                    TimeWindow::from_request(first, now)?,
                    TimeWindow::from_request(second, now)?,
                ]
            }
            _ => {
                return Err(RequestError::InvalidTimeWindow {
                    reason: "at most two time windows are allowed",
                });
            }
        };
        self.push(
            Origin::ScheduleDownload,
            &request.command_key,
            payload(file_type, request.file_size, &request.target_file_name)?,
            &request.url,
            (&request.username, &request.password),
            now,
            0,
            windows,
        )?;
        Ok(ScheduleDownloadResponse {})
    }

    /// Queues an Upload received at `now` (TR-069 Amd 6 A.4.1.5) and answers Status 1 with the
    /// Unknown Time, as for Download.
    ///
    /// Refused with 9003 for a bad CommandKey, FileType or URL, 9013 for a scheme other than
    /// http/https, 9004 when the queue is full.
    pub fn upload(&mut self, request: &Upload, now: i64) -> Result<UploadResponse, RequestError> {
        let file_type = request
            .file_type
            .parse()
            .map_err(|_| RequestError::UnsupportedFileType(clip(&request.file_type)))?;
        self.push(
            Origin::Upload,
            &request.command_key,
            Payload::Upload { file_type },
            &request.url,
            (&request.username, &request.password),
            now,
            i64::from(request.delay_seconds),
            Vec::new(),
        )?;
        Ok(UploadResponse {
            status: Status::Pending,
            start_time: DateTime::UNKNOWN,
            complete_time: DateTime::UNKNOWN,
        })
    }

    /// Queues a download the CPE decided on itself (reported with AutonomousTransferComplete,
    /// A.3.3.3). Fails like [`download`](Self::download).
    pub fn autonomous_download(
        &mut self,
        request: AutonomousDownload,
        now: i64,
    ) -> Result<TransferId, RequestError> {
        let (username, password) = request
            .credentials
            .map(|c| (c.username, c.password))
            .unwrap_or_default();
        self.push(
            Origin::AutonomousDownload,
            &CommandKey::default(),
            payload(
                request.file_type,
                request.file_size,
                &request.target_file_name,
            )?,
            &request.url.to_string(),
            (&username, &password),
            now,
            i64::from(request.delay_seconds),
            Vec::new(),
        )
    }

    /// Cancels the transfers the ACS queued with this CommandKey (TR-069 Amd 6 A.4.1.9).
    ///
    /// All of them are removed, and none of them will produce a TransferComplete. If any has
    /// already started, nothing is removed and the answer is 9021 "Cancelation of file
    /// transfer not permitted in current transfer state". A CommandKey that matches no queued
    /// transfer is 9003 Invalid arguments: our reading, since the argument names nothing
    /// (icwmp and Catawampus answer success instead).
    pub fn cancel(
        &mut self,
        request: &CancelTransfer,
    ) -> Result<CancelTransferResponse, RequestError> {
        let key = &request.command_key;
        let matches = |e: &QueuedTransfer| e.origin.is_acs_requested() && e.command_key == *key;
        if !self.entries.iter().any(matches) {
            return Err(RequestError::UnknownCommandKey(clip(key.as_str())));
        }
        if self
            .entries
            .iter()
            .any(|e| matches(e) && e.state != EntryState::NotYetStarted)
        {
            return Err(RequestError::CancelNotPermitted(clip(key.as_str())));
        }
        self.entries.retain(|e| !matches(e));
        Ok(CancelTransferResponse {})
    }

    /// GetQueuedTransfers (TR-069 Amd 6 A.4.1.1, deprecated): the transfers the ACS requested.
    pub fn queued_transfers(&self) -> GetQueuedTransfersResponse {
        GetQueuedTransfersResponse {
            transfer_list: self
                .entries
                .iter()
                .filter(|e| e.origin.is_acs_requested())
                .map(|e| QueuedTransferStruct {
                    command_key: e.command_key.clone(),
                    state: e.state.transfer_state(),
                })
                .collect(),
        }
    }

    /// GetAllQueuedTransfers (TR-069 Amd 6 A.4.1.7): every queued transfer, including the
    /// CPE's own.
    pub fn all_queued_transfers(&self) -> GetAllQueuedTransfersResponse {
        GetAllQueuedTransfersResponse {
            transfer_list: self
                .entries
                .iter()
                .map(|e| {
                    let (file_size, target_file_name) = match &e.payload {
                        Payload::Download {
                            file_size,
                            target_file_name,
                            ..
                        } => (*file_size, target_file_name.clone()),
                        Payload::Upload { .. } => (0, String::new()),
                    };
                    AllQueuedTransferStruct {
                        command_key: e.command_key.clone(),
                        state: e.state.transfer_state(),
                        is_download: e.payload.is_download(),
                        file_type: e.payload.transfer_file_type(),
                        file_size,
                        target_file_name,
                    }
                })
                .collect(),
        }
    }

    /// When [`poll_due`](Self::poll_due) next has something to do (Unix seconds; possibly in
    /// the past), or `None` while nothing waits.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<i64> {
        self.entries.iter().filter_map(QueuedTransfer::due_at).min()
    }

    /// The next thing due at `now`: a ScheduleDownload whose windows have all passed (to
    /// report), or the transfer that has waited longest for its time (marked in progress).
    /// Call it until it returns `None`.
    #[must_use]
    pub fn poll_due(&mut self, now: i64) -> Option<Due> {
        for index in 0..self.entries.len() {
            let entry = &mut self.entries[index];
            if entry.state == EntryState::NotYetStarted && !entry.settle_window(now) {
                let entry = self.entries.remove(index);
                return Some(Due::Missed(entry.missed(now)));
            }
        }
        let entry = self
            .entries
            .iter_mut()
            .filter(|e| e.due_at().is_some_and(|due| due <= now))
            .min_by_key(|e| (e.due_at(), e.id))?;
        entry.state = EntryState::InProgress { started_at: now };
        entry.attempts += 1;
        Some(Due::Start(Job {
            id: entry.id,
            command_key: entry.command_key.clone(),
            payload: entry.payload.clone(),
            url: entry.url.clone(),
            credentials: entry.credentials(),
            deadline: entry.windows.get(entry.window).map(|w| w.end),
            started_at: now,
        }))
    }

    /// Marks a transfer in progress as completed: its file is received and is being applied
    /// (A.4.1.1 state 3). Returns whether it was in progress.
    pub fn mark_completed(&mut self, id: TransferId) -> bool {
        match self.entries.iter_mut().find(|e| e.id == id) {
            Some(entry) => match entry.state {
                EntryState::InProgress { started_at } => {
                    entry.state = EntryState::Completed { started_at };
                    true
                }
                _ => false,
            },
            None => false,
        }
    }

    /// Takes the outcome of a transfer started by [`poll_due`](Self::poll_due) at `now`.
    ///
    /// Returns the completion to report and removes the transfer, except when a failed
    /// ScheduleDownload has a retry or a window left: then it waits again and `None` is
    /// returned. An outcome for a transfer that is not in progress is ignored.
    pub fn finish(&mut self, outcome: Outcome, now: i64) -> Option<Completion> {
        let index = self
            .entries
            .iter()
            .position(|e| e.id == outcome.id && e.state != EntryState::NotYetStarted)?;
        let entry = &mut self.entries[index];
        if let Err(fault) = &outcome.result
            && !entry.windows.is_empty()
        {
            entry.last_fault = Some(LastFault {
                code: fault.code().code(),
                detail: fault.detail().to_owned(),
            });
            entry.state = EntryState::NotYetStarted;
            if entry.retries_left > 0 {
                entry.retries_left -= 1;
                entry.not_before = now + WINDOW_RETRY_DELAY;
            } else {
                // This window is used up: wait for the next one.
                entry.not_before = now;
                entry.window += 1;
                if let Some(next) = entry.windows.get(entry.window) {
                    entry.retries_left = next.retries;
                }
            }
            if entry.settle_window(now) {
                return None;
            }
        }
        let entry = self.entries.remove(index);
        Some(entry.complete(
            Some(outcome.start_time),
            outcome.complete_time,
            outcome.result,
        ))
    }

    /// Puts the queue in order after it was loaded at boot (`now`): a transfer that was in
    /// progress when the agent stopped starts again from scratch; one whose file had been
    /// received and handed to a hook (state 3, typically a firmware image whose installation
    /// rebooted the device) is reported as successful. The agent may inspect
    /// [`iter`](Self::iter) first if it can check such a result (e.g. the running firmware
    /// version).
    pub fn recover(&mut self, now: i64) -> Vec<Completion> {
        let mut completions = Vec::new();
        let mut index = 0;
        while index < self.entries.len() {
            let entry = &mut self.entries[index];
            match entry.state {
                EntryState::NotYetStarted => index += 1,
                EntryState::InProgress { .. } => {
                    entry.state = EntryState::NotYetStarted;
                    index += 1;
                }
                EntryState::Completed { started_at } => {
                    let entry = self.entries.remove(index);
                    completions.push(entry.complete(
                        Some(started_at),
                        now,
                        Ok(Delivered::default()),
                    ));
                }
            }
        }
        completions
    }

    /// Validates the request's common arguments and queues it.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        origin: Origin,
        command_key: &CommandKey,
        payload: Payload,
        url: &str,
        (username, password): (&str, &str),
        now: i64,
        delay: i64,
        windows: Vec<TimeWindow>,
    ) -> Result<TransferId, RequestError> {
        if !command_key.is_conformant() {
            return Err(RequestError::CommandKeyTooLong {
                len: command_key.as_str().chars().count(),
            });
        }
        let url = parse_url(url)?;
        if self.entries.len() >= MAX_QUEUED {
            return Err(RequestError::QueueFull);
        }
        let id = TransferId(self.next_id);
        self.next_id += 1;
        let retries_left = windows.first().map_or(0, |w| w.retries);
        self.entries.push(QueuedTransfer {
            id,
            command_key: command_key.clone(),
            origin,
            payload,
            url,
            username: Secret(username.to_owned()),
            password: Secret(password.to_owned()),
            not_before: now + delay,
            windows,
            window: 0,
            retries_left,
            state: EntryState::NotYetStarted,
            attempts: 0,
            last_fault: None,
        });
        Ok(id)
    }
}

/// A download payload, checking the TargetFileName of a file that will be stored under it.
fn payload(
    file_type: DownloadFileType,
    file_size: u32,
    target_file_name: &str,
) -> Result<Payload, RequestError> {
    if file_type.is_stored()
        && !target_file_name.is_empty()
        && !is_plain_file_name(target_file_name)
    {
        return Err(RequestError::InvalidTargetFileName(clip(target_file_name)));
    }
    Ok(Payload::Download {
        file_type,
        file_size,
        target_file_name: target_file_name.to_owned(),
    })
}

/// Parses a transfer URL: http or https (else 9013), with a host and no user information
/// (else 9003).
fn parse_url(text: &str) -> Result<AcsUrl, RequestError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(RequestError::EmptyUrl);
    }
    if text.len() > MAX_TEXT_LEN {
        return Err(RequestError::InvalidUrl {
            reason: "longer than 1024 characters",
        });
    }
    match text.split_once("://") {
        Some((scheme, _))
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            text.parse().map_err(|error| RequestError::InvalidUrl {
                reason: match error {
                    TransportError::InvalidUrl { reason, .. } => reason,
                    _ => "not a usable URL",
                },
            })
        }
        Some((scheme, _)) => Err(RequestError::UnsupportedProtocol {
            scheme: clip(scheme),
        }),
        None => Err(RequestError::InvalidUrl {
            reason: "not an absolute URL",
        }),
    }
}

/// Whether `name` can be used as a file name inside a directory without escaping it.
pub(crate) fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
}

/// At most 64 characters of untrusted text, for an error message.
fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

/// The persisted form, checked before it becomes a [`TransferQueue`].
#[derive(Deserialize)]
struct RawQueue {
    next_id: u64,
    entries: Vec<QueuedTransfer>,
}

/// Why a persisted queue was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueueLoadError {
    /// More than [`MAX_QUEUED`] entries.
    #[error("{0} queued transfers, more than {MAX_QUEUED}")]
    TooMany(usize),
    /// Two entries share an id, or an id was not handed out yet.
    #[error("transfer id {0} is duplicated or beyond next_id")]
    BadId(TransferId),
    /// An entry's fields contradict each other.
    #[error("transfer {id} is inconsistent: {reason}")]
    Inconsistent {
        /// The entry.
        id: TransferId,
        /// What is wrong.
        reason: &'static str,
    },
}

impl TryFrom<RawQueue> for TransferQueue {
    type Error = QueueLoadError;

    fn try_from(raw: RawQueue) -> Result<Self, Self::Error> {
        if raw.entries.len() > MAX_QUEUED {
            return Err(QueueLoadError::TooMany(raw.entries.len()));
        }
        let mut seen = Vec::with_capacity(raw.entries.len());
        for entry in &raw.entries {
            if entry.id.0 >= raw.next_id || seen.contains(&entry.id) {
                return Err(QueueLoadError::BadId(entry.id));
            }
            seen.push(entry.id);
            let inconsistent = |reason| QueueLoadError::Inconsistent {
                id: entry.id,
                reason,
            };
            let windows_ok = entry.windows.len() <= 2
                && entry.windows.iter().all(|w| w.start <= w.end)
                && entry.windows.windows(2).all(|w| w[0].end <= w[1].start);
            if !windows_ok {
                return Err(inconsistent("bad time windows"));
            }
            if entry.window > entry.windows.len() {
                return Err(inconsistent("window index out of range"));
            }
            if !entry.windows.is_empty() && !entry.payload.is_download() {
                return Err(inconsistent("time windows on an upload"));
            }
            if entry.username.0.len() > MAX_TEXT_LEN
                || entry.password.0.len() > MAX_TEXT_LEN
                || matches!(&entry.payload, Payload::Download { target_file_name, .. }
                    if target_file_name.len() > MAX_TEXT_LEN)
            {
                return Err(inconsistent("text too long"));
            }
        }
        Ok(Self {
            next_id: raw.next_id,
            entries: raw.entries,
        })
    }
}

/// Serde through `Display` / `FromStr`, for the schema and transport types without serde.
mod as_text {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<T: Display, S: Serializer>(
        value: &T,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub(super) fn deserialize<'de, T, D>(deserializer: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
