//! The Download / Upload engine and TransferComplete (TR-069 Amd 6 A.3.2.8 Download, A.4.1.5
//! Upload, A.4.1.8 ScheduleDownload, A.4.1.9 CancelTransfer, A.4.1.1 / A.4.1.7 queued
//! transfers, A.3.3.2 TransferComplete, A.3.3.3 AutonomousTransferComplete).
//!
//! Two halves, as everywhere in the agent:
//!
//! - [`TransferQueue`] is sans-IO and serde-persistable: it accepts or refuses the RPCs (with
//!   their CWMP faults, [`RequestError`]), answers the queue listings and CancelTransfer,
//!   tells when the next transfer is due ([`TransferQueue::poll_timeout`] /
//!   [`TransferQueue::poll_due`], on injected Unix seconds), and turns each [`Outcome`] into a
//!   [`Completion`]: the TransferComplete (same CommandKey, `FaultStruct`, StartTime,
//!   CompleteTime) and the `7 TRANSFER COMPLETE` + `M Download` / `M ScheduleDownload` /
//!   `M Upload` events the agent queues.
//! - [`Executor`] is async: it runs a [`Job`] over the agent's
//!   [`transport::Client`](crate::transport::Client) (TLS, proxy, Basic/Digest, redirects),
//!   streaming downloads into a temp file under a size cap and handing them to the agent's
//!   [`TransferHooks`] by file type, or producing and uploading a file.
//!
//! Refusals at request time (CWMP Fault in the RPC response):
//!
//! | Condition | Code |
//! |---|---|
//! | URL scheme other than `http`/`https` (`ftp://`, `tftp://`, `file://`) | 9013 |
//! | Empty URL, unusable URL, user information in the URL | 9003 |
//! | FileType this CPE does not support | 9003 |
//! | CommandKey over 32 characters (the TransferComplete echoing it could not validate) | 9003 |
//! | TargetFileName of a stored file that is not a plain file name | 9003 |
//! | No, more than two, reversed or overlapping time windows; unsupported WindowMode | 9003 |
//! | 16 transfers queued already (TransferList maxOccurs 16) | 9004 |
//! | CancelTransfer of a CommandKey nothing queued has | 9003 |
//! | CancelTransfer of a transfer that has started | 9021 |
//!
//! Failures reported in TransferComplete (only the codes XSD `TransferCompleteCPEFaultCodeType`
//! allows: 9001, 9002, 9010-9012, 9014-9020):
//!
//! | Failure | Download | Upload |
//! |---|---|---|
//! | 401 after answering the challenge, no credentials, Basic over plain http refused, unusable challenge | 9012 | 9012 |
//! | Server certificate not trusted (the file server failed to authenticate) | 9012 | 9012 |
//! | Connection refused / unreachable, connect or response-head timeout, proxy failure, TLS failure | 9015 | 9011 |
//! | HTTP 403, 404, 410 | 9016 | 9011 |
//! | Other HTTP status, redirect problems, malformed response, write error | 9010 | 9011 |
//! | Body broke off, or stalled longer than the response timeout | 9017 | - |
//! | Fewer bytes than a non-zero FileSize | 9017 | - |
//! | More bytes than a non-zero FileSize | 9018 | - |
//! | FileSize or body over [`TransferConfig::max_download_size`] | 9010 | - |
//! | Transfer longer than [`TransferConfig::max_transfer_time`] | 9010 | 9011 |
//! | ScheduleDownload window over before start or during the transfer; all windows passed unused | 9020 | - |
//! | Hook: [`HookError::Corrupted`] / [`HookError::Authentication`] | 9018 / 9019 | 9011 |
//! | Hook: [`HookError::Failed`] / [`HookError::Denied`] / [`HookError::Internal`] | 9010 / 9001 / 9002 | 9011 / 9001 / 9002 |
//! | Hook timeout, cannot create or store files | 9002 | 9002 |
//!
//! Readings behind the table ([Spec?] where PROTOCOL.md has no better source): a FileSize
//! shortfall is "unable to complete download" (9017) and an excess is "file corrupted" (9018),
//! the file not being the one announced; an untrusted server certificate is an authentication
//! failure of the file server (9012), not an unreachable one; uploads report 9011 with the
//! reason in the FaultString for everything but authentication, 9015/9016 being download
//! failures in TR-069's fault table.

mod executor;
mod fault;
mod file_type;
mod outcome;
mod queue;

pub use executor::{
    Applied, Clock, DEFAULT_HOOK_TIMEOUT, DEFAULT_MAX_DOWNLOAD, DEFAULT_MAX_TRANSFER_TIME,
    DEFAULT_MAX_UPLOAD, Executor, HookError, Received, Step, SystemClock, TransferConfig,
    TransferHooks, UploadMethod,
};
pub use fault::{RequestError, TransferFault};
pub use file_type::{DownloadFileType, UnsupportedFileType, UploadFileType};
pub use outcome::{Completion, CompletionMessage, Delivered, Outcome};
pub use queue::{
    AutonomousDownload, DEFAULT_WINDOW_RETRIES, Due, EntryState, Job, MAX_WINDOW_RETRIES, Origin,
    Payload, QueueLoadError, QueuedTransfer, TimeWindow, TransferId, TransferQueue,
    WINDOW_RETRY_DELAY, WindowMode,
};

/// Most transfers queued at once (TR-069 Amd 6 A.4.1.7: TransferList maxOccurs 16); one more
/// is refused with 9004 Resources exceeded.
pub const MAX_QUEUED: usize = 16;

#[cfg(test)]
mod tests;
