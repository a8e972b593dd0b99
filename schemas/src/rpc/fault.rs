//! CWMP faults (TR-069 Amd 6 §A.5, Table 130 in Amd 6 numbering; XSD `cwmp:Fault`) and the
//! SOAP 1.1 Fault that carries them (§3.5).

use std::fmt;

use super::field::{Field, cwmp_struct};
use crate::soap::SoapError;
use crate::soap::reader::{Element, Reader};
use crate::soap::writer::Writer;

/// Whether a fault was caused by the request (`Client`) or by the receiver (`Server`): the
/// SOAP `faultcode` TR-069 pairs with each CWMP fault code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// The request was at fault.
    Client,
    /// The receiver was at fault.
    #[default]
    Server,
}

impl FaultKind {
    /// The SOAP `faultcode` text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "Client",
            Self::Server => "Server",
        }
    }
}

macro_rules! fault_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $kind:ident, $text:literal; )*) => {
        /// A CWMP fault code: ACS faults 8000-8006 and CPE faults 9000-9032 by name, anything
        /// else (extension 9033-9799, vendor 9800-9899 and 8800-8899) as [`FaultCode::Other`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum FaultCode {
            $( $(#[$doc])* $variant, )*
            /// A code without a name of its own. Build codes with [`FaultCode::from_code`],
            /// which never puts a named code here.
            Other(u32),
        }

        impl FaultCode {
            /// The fault with this number.
            pub fn from_code(code: u32) -> Self {
                match code {
                    $( $code => Self::$variant, )*
                    other => Self::Other(other),
                }
            }

            /// The number.
            pub fn code(self) -> u32 {
                match self {
                    $( Self::$variant => $code, )*
                    Self::Other(code) => code,
                }
            }

            /// The standard FaultString.
            pub fn message(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )*
                    Self::Other(8800..=8899) => "Vendor defined ACS fault",
                    Self::Other(9800..=9899) => "Vendor defined fault",
                    Self::Other(_) => "Unknown fault",
                }
            }

            /// Client or Server, per TR-069's table.
            pub fn kind(self) -> FaultKind {
                match self {
                    $( Self::$variant => FaultKind::$kind, )*
                    Self::Other(_) => FaultKind::Server,
                }
            }
        }
    };
}

fault_codes! {
    /// 8000 Method not supported.
    AcsMethodNotSupported = 8000, Server, "Method not supported";
    /// 8001 Request denied (no reason specified).
    AcsRequestDenied = 8001, Server, "Request denied (no reason specified)";
    /// 8002 Internal error.
    AcsInternalError = 8002, Server, "Internal error";
    /// 8003 Invalid arguments.
    AcsInvalidArguments = 8003, Client, "Invalid arguments";
    /// 8004 Resources exceeded.
    AcsResourcesExceeded = 8004, Server, "Resources exceeded";
    /// 8005 Retry request.
    AcsRetryRequest = 8005, Server, "Retry request";
    /// 8006 ACS version incompatible with CPE (CWMP 1.4).
    AcsVersionIncompatible = 8006, Server, "ACS version incompatible with CPE";
    /// 9000 Method not supported.
    MethodNotSupported = 9000, Server, "Method not supported";
    /// 9001 Request denied (no reason specified).
    RequestDenied = 9001, Server, "Request denied (no reason specified)";
    /// 9002 Internal error.
    InternalError = 9002, Server, "Internal error";
    /// 9003 Invalid arguments.
    InvalidArguments = 9003, Client, "Invalid arguments";
    /// 9004 Resources exceeded.
    ResourcesExceeded = 9004, Server, "Resources exceeded";
    /// 9005 Invalid parameter name.
    InvalidParameterName = 9005, Client, "Invalid parameter name";
    /// 9006 Invalid parameter type.
    InvalidParameterType = 9006, Client, "Invalid parameter type";
    /// 9007 Invalid parameter value.
    InvalidParameterValue = 9007, Client, "Invalid parameter value";
    /// 9008 Attempt to set a non-writable parameter.
    NonWritableParameter = 9008, Client, "Attempt to set a non-writable parameter";
    /// 9009 Notification request rejected.
    NotificationRequestRejected = 9009, Server, "Notification request rejected";
    /// 9010 File transfer failure.
    DownloadFailure = 9010, Server, "File transfer failure";
    /// 9011 Upload failure.
    UploadFailure = 9011, Server, "Upload failure";
    /// 9012 File transfer server authentication failure.
    TransferAuthenticationFailure = 9012, Server, "File transfer server authentication failure";
    /// 9013 Unsupported protocol for file transfer.
    UnsupportedTransferProtocol = 9013, Server, "Unsupported protocol for file transfer";
    /// 9014 File transfer failure: unable to join multicast group.
    MulticastJoinFailure = 9014, Server, "File transfer failure: unable to join multicast group";
    /// 9015 File transfer failure: unable to contact file server.
    FileServerUnreachable = 9015, Server, "File transfer failure: unable to contact file server";
    /// 9016 File transfer failure: unable to access file.
    FileAccessFailure = 9016, Server, "File transfer failure: unable to access file";
    /// 9017 File transfer failure: unable to complete download.
    IncompleteDownload = 9017, Server, "File transfer failure: unable to complete download";
    /// 9018 File transfer failure: file corrupted.
    CorruptedFile = 9018, Server, "File transfer failure: file corrupted";
    /// 9019 File transfer failure: file authentication failure.
    FileAuthenticationFailure = 9019, Server, "File transfer failure: file authentication failure";
    /// 9020 File transfer failure: unable to complete download within specified time windows.
    TimeWindowMissed = 9020, Server,
        "File transfer failure: unable to complete download within specified time windows";
    /// 9021 Cancelation of file transfer not permitted in current transfer state.
    CancelNotPermitted = 9021, Server,
        "Cancelation of file transfer not permitted in current transfer state";
    /// 9022 Invalid UUID format.
    InvalidUuid = 9022, Client, "Invalid UUID format";
    /// 9023 Unknown Execution Environment.
    UnknownExecutionEnvironment = 9023, Client, "Unknown Execution Environment";
    /// 9024 Disabled Execution Environment.
    DisabledExecutionEnvironment = 9024, Server, "Disabled Execution Environment";
    /// 9025 Deployment Unit to Execution Environment mismatch.
    DeploymentUnitMismatch = 9025, Server, "Deployment Unit to Execution Environment mismatch";
    /// 9026 Duplicate Deployment Unit.
    DuplicateDeploymentUnit = 9026, Server, "Duplicate Deployment Unit";
    /// 9027 System resources exceeded.
    SystemResourcesExceeded = 9027, Server, "System resources exceeded";
    /// 9028 Unknown Deployment Unit.
    UnknownDeploymentUnit = 9028, Server, "Unknown Deployment Unit";
    /// 9029 Invalid Deployment Unit state.
    InvalidDeploymentUnitState = 9029, Server, "Invalid Deployment Unit state";
    /// 9030 Invalid Deployment Unit Update: downgrade not permitted.
    DowngradeNotPermitted = 9030, Server,
        "Invalid Deployment Unit Update: downgrade not permitted";
    /// 9031 Invalid Deployment Unit Update: version not specified.
    VersionNotSpecified = 9031, Server, "Invalid Deployment Unit Update: version not specified";
    /// 9032 Invalid Deployment Unit Update: version already exists.
    VersionAlreadyExists = 9032, Server,
        "Invalid Deployment Unit Update: version already exists";
}

impl Default for FaultCode {
    /// 9002 Internal error: what a fault without a readable code is taken as.
    fn default() -> Self {
        Self::InternalError
    }
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.message())
    }
}

impl Field for FaultCode {
    fn read(r: &mut Reader<'_>, el: &Element<'_>, max: Option<usize>) -> Result<Self, SoapError> {
        u32::read(r, el, max).map(Self::from_code)
    }

    fn write(&self, w: &mut Writer, name: &str) {
        self.code().write(w, name);
    }
}

cwmp_struct! {
    /// One parameter's reason in a SetParameterValues fault.
    pub struct SetParameterValuesFault {
        /// The parameter.
        parameter_name: String = "ParameterName" max 256,
        /// Its fault (9005, 9006, 9007, 9008, ...).
        fault_code: FaultCode = "FaultCode",
        /// Human-readable text.
        fault_string: String = "FaultString" max 256,
    }
}

cwmp_struct! {
    /// The `cwmp:Fault` detail of a SOAP Fault.
    pub struct Fault {
        /// The fault.
        fault_code: FaultCode = "FaultCode",
        /// Human-readable text.
        fault_string: String = "FaultString" max 256,
        /// Per-parameter reasons, for a SetParameterValues fault (code 9003).
        set_parameter_values_fault: Vec<SetParameterValuesFault> = each "SetParameterValuesFault",
    }
}

impl Fault {
    /// A fault with its standard FaultString.
    pub fn new(code: FaultCode) -> Self {
        Self {
            fault_code: code,
            fault_string: code.message().to_owned(),
            ..Self::default()
        }
    }
}

/// A SOAP 1.1 Fault carrying a CWMP fault (TR-069 §3.5): `faultcode` Client/Server,
/// `faultstring` "CWMP fault", and the `cwmp:Fault` in `detail`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SoapFault {
    /// `faultcode`.
    pub kind: FaultKind,
    /// `faultstring`; TR-069 fixes it as `CWMP fault`.
    pub fault_string: String,
    /// The CWMP fault; absent in a bare SOAP fault.
    pub detail: Option<Fault>,
}

impl From<Fault> for SoapFault {
    fn from(detail: Fault) -> Self {
        Self {
            kind: detail.fault_code.kind(),
            fault_string: "CWMP fault".to_owned(),
            detail: Some(detail),
        }
    }
}

impl From<FaultCode> for SoapFault {
    fn from(code: FaultCode) -> Self {
        Fault::new(code).into()
    }
}

impl Field for SoapFault {
    /// Reads `soap-env:Fault`. `faultcode` is a QName: its prefix is ignored and `Client` /
    /// `Server` (any case) is read; anything else is taken from the CWMP code's kind.
    fn read(r: &mut Reader<'_>, _: &Element<'_>, _: Option<usize>) -> Result<Self, SoapError> {
        let mut out = Self::default();
        let mut kind = None;
        while let Some(child) = r.next_child()? {
            match child.local() {
                "faultcode" => {
                    let text = String::read(r, &child, Some(256))?;
                    let local = text.trim().rsplit(':').next().unwrap_or_default();
                    if local.eq_ignore_ascii_case("client") {
                        kind = Some(FaultKind::Client);
                    } else if local.eq_ignore_ascii_case("server") {
                        kind = Some(FaultKind::Server);
                    }
                }
                "faultstring" => out.fault_string = String::read(r, &child, Some(256))?,
                "detail" => {
                    while let Some(inner) = r.next_child()? {
                        if inner.local() == "Fault" && out.detail.is_none() {
                            out.detail = Some(Fault::read(r, &inner, None)?);
                        } else {
                            r.skip()?;
                        }
                    }
                }
                _ => r.skip()?,
            }
        }
        out.kind = kind
            .or_else(|| out.detail.as_ref().map(|d| d.fault_code.kind()))
            .unwrap_or_default();
        Ok(out)
    }

    fn write(&self, w: &mut Writer, name: &str) {
        w.start(name, &[]);
        w.leaf("faultcode", &[], self.kind.as_str());
        w.leaf("faultstring", &[], &self.fault_string);
        if let Some(detail) = &self.detail {
            w.start("detail", &[]);
            detail.write(w, "cwmp:Fault");
            w.end("detail");
        }
        w.end(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_with_their_strings_and_kinds() {
        for code in (8000..=8006).chain(9000..=9032) {
            let f = FaultCode::from_code(code);
            assert!(!matches!(f, FaultCode::Other(_)), "{code} has a name");
            assert_eq!(f.code(), code);
            assert_ne!(f.message(), "Unknown fault");
        }
        assert_eq!(FaultCode::from_code(9005).kind(), FaultKind::Client);
        assert_eq!(FaultCode::from_code(9002).kind(), FaultKind::Server);
        assert_eq!(
            FaultCode::from_code(9032).message(),
            "Invalid Deployment Unit Update: version already exists"
        );
        assert_eq!(FaultCode::from_code(9850), FaultCode::Other(9850));
        assert_eq!(FaultCode::Other(9850).message(), "Vendor defined fault");
    }
}
