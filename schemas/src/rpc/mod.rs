//! Typed CWMP messages: every RPC and response of `cwmp-1-4.xsd` in both directions, the SOAP
//! Fault with its CWMP detail, and the fault codes (TR-069 Amd 6 Annex A).

mod acs_methods;
mod cpe_methods;
pub mod du;
pub mod event;
pub mod fault;
pub(crate) mod field;
pub mod key;
pub mod types;

pub use acs_methods::*;
pub use cpe_methods::*;
pub use event::EventCode;
pub use fault::{Fault, FaultCode, FaultKind, SetParameterValuesFault, SoapFault};
pub use key::{CommandKey, ParameterKey};

use field::Field;

use crate::soap::SoapError;
use crate::soap::reader::{Element, Reader};
use crate::soap::writer::Writer;

macro_rules! body {
    ($( $variant:ident ),* $(,)?) => {
        /// The one message a SOAP Body carries: a CWMP method, a response, or a SOAP Fault.
        #[derive(Clone, Debug, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Body {
            $(
                #[doc = concat!("`cwmp:", stringify!($variant), "`.")]
                $variant($variant),
            )*
            /// `soap-env:Fault` with a `cwmp:Fault` detail.
            Fault(SoapFault),
        }

        impl Body {
            /// Every message's element name, in the order of [`Body`]'s variants.
            pub const NAMES: &'static [&'static str] = &[$( stringify!($variant), )* "Fault"];

            /// The element name of this message.
            pub fn name(&self) -> &'static str {
                match self {
                    $( Self::$variant(_) => stringify!($variant), )*
                    Self::Fault(_) => "Fault",
                }
            }

            /// Reads the CWMP message `el`; `None` if no CWMP message has its name.
            pub(crate) fn read_cwmp(
                r: &mut Reader<'_>,
                el: &Element<'_>,
            ) -> Result<Option<Self>, SoapError> {
                Ok(Some(match el.local() {
                    $( stringify!($variant) => Self::$variant(Field::read(r, el, None)?), )*
                    _ => return Ok(None),
                }))
            }

            pub(crate) fn write(&self, w: &mut Writer) {
                match self {
                    $( Self::$variant(m) => m.write(w, concat!("cwmp:", stringify!($variant))), )*
                    Self::Fault(f) => f.write(w, "soap-env:Fault"),
                }
            }
        }

        $(
            impl From<$variant> for Body {
                fn from(m: $variant) -> Self {
                    Self::$variant(m)
                }
            }
        )*
    };
}

body! {
    // CPE -> ACS requests and the ACS's responses.
    Inform, InformResponse,
    TransferComplete, TransferCompleteResponse,
    AutonomousTransferComplete, AutonomousTransferCompleteResponse,
    DUStateChangeComplete, DUStateChangeCompleteResponse,
    AutonomousDUStateChangeComplete, AutonomousDUStateChangeCompleteResponse,
    Kicked, KickedResponse,
    RequestDownload, RequestDownloadResponse,
    // Either direction.
    GetRPCMethods, GetRPCMethodsResponse,
    // ACS -> CPE requests and the CPE's responses.
    SetParameterValues, SetParameterValuesResponse,
    GetParameterValues, GetParameterValuesResponse,
    GetParameterNames, GetParameterNamesResponse,
    SetParameterAttributes, SetParameterAttributesResponse,
    GetParameterAttributes, GetParameterAttributesResponse,
    AddObject, AddObjectResponse,
    DeleteObject, DeleteObjectResponse,
    Download, DownloadResponse,
    Reboot, RebootResponse,
    GetQueuedTransfers, GetQueuedTransfersResponse,
    ScheduleInform, ScheduleInformResponse,
    SetVouchers, SetVouchersResponse,
    GetOptions, GetOptionsResponse,
    Upload, UploadResponse,
    FactoryReset, FactoryResetResponse,
    GetAllQueuedTransfers, GetAllQueuedTransfersResponse,
    ScheduleDownload, ScheduleDownloadResponse,
    CancelTransfer, CancelTransferResponse,
    ChangeDUState, ChangeDUStateResponse,
}

impl Body {
    /// Whether this is a response (or a fault, which answers a request).
    pub fn is_response(&self) -> bool {
        matches!(self, Self::Fault(_)) || self.name().ends_with("Response")
    }
}

impl From<SoapFault> for Body {
    fn from(f: SoapFault) -> Self {
        Self::Fault(f)
    }
}
