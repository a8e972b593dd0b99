//! Structures shared by several RPCs (TR-069 Amd 6 Annex A; XSD complex types), in the order
//! the schema defines them.

use super::field::{ArrayItem, Field, array_item, cwmp_struct, read_text};
use super::{CommandKey, EventCode, FaultCode};
use crate::soap::SoapError;
use crate::soap::reader::{Element, Reader};
use crate::soap::writer::Writer;
use crate::value::{DateTime, Value};

/// Declares an enumeration carried as a number, with the numbers the schema allows.
macro_rules! int_enum {
    ($(#[$meta:meta])* $name:ident { $( $(#[$doc:meta])* $variant:ident = $n:literal ),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$doc])* $variant, )*
        }

        impl $name {
            /// The number on the wire.
            pub fn number(self) -> i32 {
                match self { $( Self::$variant => $n, )* }
            }

            /// The value with this number.
            pub fn from_number(n: i32) -> Option<Self> {
                match n { $( $n => Some(Self::$variant), )* _ => None }
            }
        }

        impl Field for $name {
            fn read(r: &mut Reader<'_>, el: &Element<'_>, _: Option<usize>) -> Result<Self, SoapError> {
                let text = read_text(r, el, Some(16))?;
                text.trim()
                    .parse()
                    .ok()
                    .and_then(Self::from_number)
                    .ok_or_else(|| SoapError::invalid(el.local(), &text, stringify!($name)))
            }

            fn write(&self, w: &mut Writer, name: &str) {
                self.number().write(w, name);
            }
        }
    };
}

int_enum! {
    /// The `Status` of SetParameterValues, AddObject, DeleteObject, Download and Upload
    /// responses.
    Status {
        /// 0: the change is applied (or the transfer completed).
        #[default]
        Applied = 0,
        /// 1: validated and committed, not yet applied (e.g. after a reboot), or the transfer
        /// has not completed yet.
        Pending = 1,
    }
}

int_enum! {
    /// A parameter's notification attribute (A.3.2.4; values 3-6 since CWMP 1.4, Annex M).
    Notification {
        /// 0: off.
        #[default]
        Off = 0,
        /// 1: passive: the new value goes into the next Inform.
        Passive = 1,
        /// 2: active: a session is started for the change.
        Active = 2,
        /// 3: passive lightweight (UDP).
        PassiveLightweight = 3,
        /// 4: passive, plus passive lightweight.
        PassiveAndPassiveLightweight = 4,
        /// 5: active lightweight.
        ActiveLightweight = 5,
        /// 6: passive, plus active lightweight.
        PassiveAndActiveLightweight = 6,
    }
}

int_enum! {
    /// The state of a queued transfer (A.4.1.1, A.4.1.7).
    TransferState {
        /// 1: not yet started.
        #[default]
        NotYetStarted = 1,
        /// 2: in progress.
        InProgress = 2,
        /// 3: completed, finishing.
        Completed = 3,
    }
}

cwmp_struct! {
    /// A parameter and its value (`ParameterValueStruct`).
    pub struct ParameterValueStruct {
        /// The full parameter name.
        name: String = "Name" max 256,
        /// The value, with its type.
        value: Value = "Value",
    }
}
array_item!(ParameterValueStruct, None);

impl ParameterValueStruct {
    /// A name and value.
    pub fn new(name: impl Into<String>, value: impl Into<Value>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

cwmp_struct! {
    /// The CPE's identity in an Inform (`DeviceIdStruct`, Table 39).
    pub struct DeviceIdStruct {
        /// Manufacturer name.
        manufacturer: String = "Manufacturer" max 64,
        /// Organizationally unique identifier, six upper-case hex digits.
        oui: String = "OUI" max 6,
        /// Product class.
        product_class: String = "ProductClass" max 64,
        /// Serial number.
        serial_number: String = "SerialNumber" max 64,
    }
}

cwmp_struct! {
    /// One event in an Inform (`EventStruct`, Table 40).
    pub struct EventStruct {
        /// The event.
        event_code: EventCode = "EventCode",
        /// The CommandKey of the method whose completion an `M` event reports; empty otherwise.
        command_key: CommandKey = "CommandKey",
    }
}
array_item!(EventStruct, Some(64));

impl EventStruct {
    /// An event without a CommandKey.
    pub fn new(event_code: EventCode) -> Self {
        Self {
            event_code,
            command_key: CommandKey::default(),
        }
    }
}

cwmp_struct! {
    /// A name and whether it is writable (`ParameterInfoStruct`).
    pub struct ParameterInfoStruct {
        /// A parameter name, or an object name ending in a dot.
        name: String = "Name" max 256,
        /// Whether SetParameterValues (or, for an object, Add/DeleteObject) may change it.
        writable: bool = "Writable",
    }
}
array_item!(ParameterInfoStruct, None);

cwmp_struct! {
    /// One change of SetParameterAttributes (`SetParameterAttributesStruct`).
    pub struct SetParameterAttributesStruct {
        /// Parameter name or partial path.
        name: String = "Name" max 256,
        /// Whether to change the notification attribute.
        notification_change: bool = "NotificationChange",
        /// The new notification attribute.
        notification: Notification = "Notification",
        /// Whether to change the access list.
        access_list_change: bool = "AccessListChange",
        /// The new access list (only `Subscriber` is defined).
        access_list: Vec<String> = "AccessList" max 64,
    }
}
array_item!(SetParameterAttributesStruct, None);

cwmp_struct! {
    /// A parameter's attributes (`ParameterAttributeStruct`).
    pub struct ParameterAttributeStruct {
        /// Parameter name.
        name: String = "Name" max 256,
        /// Notification attribute.
        notification: Notification = "Notification",
        /// Access list.
        access_list: Vec<String> = "AccessList" max 64,
    }
}
array_item!(ParameterAttributeStruct, None);

cwmp_struct! {
    /// A time window of ScheduleDownload (`TimeWindowStruct`).
    pub struct TimeWindowStruct {
        /// Seconds from the request to the window's start.
        window_start: u32 = "WindowStart",
        /// Seconds from the request to the window's end.
        window_end: u32 = "WindowEnd",
        /// `1 At Any Time`, `2 Immediately`, `3 When Idle`, `4 Confirmation Needed`, or vendor.
        window_mode: String = "WindowMode" max 64,
        /// Text for the user, with `4 Confirmation Needed`.
        user_message: String = "UserMessage" max 256,
        /// Retries within the window; -1 for CPE's choice.
        max_retries: i32 = "MaxRetries",
    }
}
array_item!(TimeWindowStruct, Some(2));

cwmp_struct! {
    /// A transfer in GetQueuedTransfersResponse (`QueuedTransferStruct`).
    pub struct QueuedTransferStruct {
        /// The transfer's CommandKey.
        command_key: CommandKey = "CommandKey",
        /// Its state.
        state: TransferState = "State",
    }
}
array_item!(QueuedTransferStruct, Some(16));

cwmp_struct! {
    /// A transfer in GetAllQueuedTransfersResponse (`AllQueuedTransferStruct`).
    pub struct AllQueuedTransferStruct {
        /// The transfer's CommandKey.
        command_key: CommandKey = "CommandKey",
        /// Its state.
        state: TransferState = "State",
        /// Download (true) or Upload (false).
        is_download: bool = "IsDownload",
        /// File type.
        file_type: String = "FileType" max 64,
        /// File size in bytes, 0 if unknown.
        file_size: u32 = "FileSize",
        /// Target file name.
        target_file_name: String = "TargetFileName" max 256,
    }
}
array_item!(AllQueuedTransferStruct, Some(16));

cwmp_struct! {
    /// An option in GetOptionsResponse (`OptionStruct`, A.4.1.4).
    pub struct OptionStruct {
        /// Option name.
        option_name: String = "OptionName" max 64,
        /// Serial number of the voucher that enabled it.
        voucher_sn: u32 = "VoucherSN",
        /// 0 disabled, 1 enabled, 2 disabled and setup, 3 enabled and setup.
        state: u32 = "State",
        /// 0 disabled, 1 enabled with expiration, 2 enabled without expiration.
        mode: i32 = "Mode",
        /// When the option was enabled.
        start_date: DateTime = "StartDate",
        /// When it expires, for mode 1.
        expiration_date: Option<DateTime> = "ExpirationDate",
        /// 0 or 1.
        is_transferable: i32 = "IsTransferable",
    }
}
array_item!(OptionStruct, None);

cwmp_struct! {
    /// A file-type argument of RequestDownload (`ArgStruct`).
    pub struct ArgStruct {
        /// Argument name.
        name: String = "Name" max 64,
        /// Argument value.
        value: String = "Value" max 256,
    }
}
array_item!(ArgStruct, Some(16));

cwmp_struct! {
    /// The outcome of a transfer (`TransferCompleteFaultStruct`): code 0 for success.
    pub struct TransferCompleteFaultStruct {
        /// 0, or one of 9001, 9002, 9010-9012, 9014-9020, extension or vendor codes.
        fault_code: u32 = "FaultCode",
        /// Human-readable text; empty on success.
        fault_string: String = "FaultString" max 256,
    }
}

impl TransferCompleteFaultStruct {
    /// A successful transfer.
    pub fn success() -> Self {
        Self::default()
    }

    /// A failed transfer.
    pub fn failure(code: FaultCode) -> Self {
        Self {
            fault_code: code.code(),
            fault_string: code.message().to_owned(),
        }
    }

    /// The fault, or `None` for success.
    pub fn fault(&self) -> Option<FaultCode> {
        (self.fault_code != 0).then(|| FaultCode::from_code(self.fault_code))
    }
}

/// A signed voucher of SetVouchers (`base64` item of `VoucherList`), decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Voucher(pub Vec<u8>);

impl Field for Voucher {
    fn read(r: &mut Reader<'_>, el: &Element<'_>, _: Option<usize>) -> Result<Self, SoapError> {
        match Value::read(r, el, None)? {
            Value::Base64(bytes) => Ok(Self(bytes)),
            Value::String(text) => match Value::parse(crate::value::XsdType::Base64, &text) {
                Value::Base64(bytes) => Ok(Self(bytes)),
                _ => Err(SoapError::invalid(el.local(), &text, "base64")),
            },
            other => Err(SoapError::invalid(el.local(), &other.lexical(), "base64")),
        }
    }

    fn write(&self, w: &mut Writer, name: &str) {
        w.leaf(name, &[], &crate::value::encode_base64(&self.0));
    }
}

impl ArrayItem for Voucher {
    const ELEMENT: &'static str = "base64";
    const ARRAY_TYPE: &'static str = "soap-enc:base64";
}
