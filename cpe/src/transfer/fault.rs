//! Why a transfer request is refused (a CWMP Fault in the RPC response) and why a transfer
//! failed (the `FaultStruct` of TransferComplete, TR-069 Amd 6 A.3.3.2).

use schemas::rpc::types::TransferCompleteFaultStruct;
use schemas::rpc::{Fault, FaultCode};

use super::MAX_QUEUED;

/// The longest `FaultString` the schemas allow.
const MAX_FAULT_STRING: usize = 256;

/// A Download, ScheduleDownload, Upload or CancelTransfer the CPE refuses; answered with the
/// CWMP fault of [`RequestError::fault_code`] (TR-069 Amd 6 §A.5 fault table).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// 9003: the CommandKey is longer than the schema's 32 characters, so the TransferComplete
    /// that echoes it could not be valid CWMP.
    #[error("CommandKey is {len} characters long; the schema allows 32")]
    CommandKeyTooLong {
        /// Its length in characters.
        len: usize,
    },
    /// 9003: the `FileType` is not one this CPE supports.
    #[error("unsupported file type {0:?}")]
    UnsupportedFileType(String),
    /// 9003: the URL is empty.
    #[error("the URL is empty")]
    EmptyUrl,
    /// 9013: the URL's scheme is not `http` or `https` (A.3.2.8: HTTP and HTTPS are the
    /// transports a CPE must support; FTP and others are not implemented).
    #[error("unsupported file transfer protocol {scheme:?}: only http and https")]
    UnsupportedProtocol {
        /// The scheme as given.
        scheme: String,
    },
    /// 9003: the URL cannot be used (no scheme, no host, bad port, or user information,
    /// which A.3.2.8 says the URL must not carry: credentials go in Username/Password).
    #[error("invalid URL: {reason}")]
    InvalidUrl {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// 9003: a file that is stored under its TargetFileName needs a plain file name (no path
    /// separators, not `.` or `..`, no control characters).
    #[error("TargetFileName {0:?} is not a plain file name")]
    InvalidTargetFileName(String),
    /// 9003: the ScheduleDownload time windows are unusable (A.4.1.8).
    #[error("invalid time windows: {reason}")]
    InvalidTimeWindow {
        /// What is wrong with them.
        reason: &'static str,
    },
    /// 9003: the WindowMode is one this CPE does not support (`4 Confirmation Needed` needs a
    /// user, and vendor modes are unknown).
    #[error("unsupported WindowMode {0:?}")]
    UnsupportedWindowMode(String),
    /// 9004: the queue already holds [`MAX_QUEUED`] transfers (TransferList maxOccurs 16).
    #[error("the transfer queue is full ({MAX_QUEUED} transfers)")]
    QueueFull,
    /// 9003: CancelTransfer named a CommandKey no queued ACS transfer has.
    #[error("no queued transfer has CommandKey {0:?}")]
    UnknownCommandKey(String),
    /// 9021: a transfer with this CommandKey has started and cannot be cancelled (A.4.1.9).
    #[error("transfer {0:?} has started and can no longer be cancelled")]
    CancelNotPermitted(String),
}

impl RequestError {
    /// The CWMP fault code answering the request.
    pub fn fault_code(&self) -> FaultCode {
        match self {
            Self::UnsupportedProtocol { .. } => FaultCode::UnsupportedTransferProtocol,
            Self::QueueFull => FaultCode::ResourcesExceeded,
            Self::CancelNotPermitted(_) => FaultCode::CancelNotPermitted,
            Self::CommandKeyTooLong { .. }
            | Self::UnsupportedFileType(_)
            | Self::EmptyUrl
            | Self::InvalidUrl { .. }
            | Self::InvalidTargetFileName(_)
            | Self::InvalidTimeWindow { .. }
            | Self::UnsupportedWindowMode(_)
            | Self::UnknownCommandKey(_) => FaultCode::InvalidArguments,
        }
    }
}

impl From<RequestError> for Fault {
    /// The `cwmp:Fault` detail: the code, and its standard text followed by the reason.
    fn from(error: RequestError) -> Self {
        let code = error.fault_code();
        Self {
            fault_code: code,
            fault_string: fault_string(code, &error.to_string()),
            ..Self::default()
        }
    }
}

/// Why a transfer failed: one of the codes a TransferComplete may carry (XSD
/// `TransferCompleteCPEFaultCodeType`: 9001, 9002, 9010-9012, 9014-9020) with a reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferFault {
    code: FaultCode,
    detail: String,
}

impl TransferFault {
    /// A fault with `code` and `detail`. A code TransferComplete may not carry becomes 9002
    /// Internal error, keeping the detail.
    pub fn new(code: FaultCode, detail: impl Into<String>) -> Self {
        let allowed = matches!(code.code(), 9001 | 9002 | 9010..=9012 | 9014..=9020);
        Self {
            code: if allowed {
                code
            } else {
                FaultCode::InternalError
            },
            detail: detail.into(),
        }
    }

    /// The fault code.
    pub fn code(&self) -> FaultCode {
        self.code
    }

    /// The reason, without the code's standard text.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The `FaultStruct` of TransferComplete: the code, and its standard text followed by the
    /// reason, cut to the schema's 256 characters.
    pub fn fault_struct(&self) -> TransferCompleteFaultStruct {
        TransferCompleteFaultStruct {
            fault_code: self.code.code(),
            fault_string: fault_string(self.code, &self.detail),
        }
    }
}

/// `<standard text>: <detail>`, at most 256 characters.
fn fault_string(code: FaultCode, detail: &str) -> String {
    let text = if detail.is_empty() {
        code.message().to_owned()
    } else {
        format!("{}: {detail}", code.message())
    };
    match text.char_indices().nth(MAX_FAULT_STRING) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_errors_map_to_their_codes() {
        let fault = Fault::from(RequestError::UnsupportedProtocol {
            scheme: "ftp".into(),
        });
        assert_eq!(fault.fault_code, FaultCode::UnsupportedTransferProtocol);
        assert!(fault.fault_string.contains("ftp"), "{}", fault.fault_string);
        assert_eq!(
            RequestError::QueueFull.fault_code(),
            FaultCode::ResourcesExceeded
        );
        assert_eq!(
            RequestError::CancelNotPermitted("k".into())
                .fault_code()
                .code(),
            9021
        );
        assert_eq!(RequestError::EmptyUrl.fault_code().code(), 9003);
    }

    #[test]
    fn transfer_faults_stay_within_the_schema() {
        let fault = TransferFault::new(FaultCode::UnsupportedTransferProtocol, "ftp");
        assert_eq!(fault.code(), FaultCode::InternalError);
        let long = TransferFault::new(FaultCode::FileAccessFailure, "é".repeat(400));
        let s = long.fault_struct();
        assert_eq!(s.fault_code, 9016);
        assert_eq!(s.fault_string.chars().count(), 256);
        assert!(
            s.fault_string
                .starts_with("File transfer failure: unable to access file: é")
        );
    }
}
