//! Methods the CPE implements, called by the ACS (TR-069 Amd 6 A.3.2 and A.4.1), with their
//! responses.

use super::du::Operation;
use super::field::cwmp_struct;
use super::types::{
    AllQueuedTransferStruct, OptionStruct, ParameterAttributeStruct, ParameterInfoStruct,
    ParameterValueStruct, QueuedTransferStruct, SetParameterAttributesStruct, Status,
    TimeWindowStruct, Voucher,
};
use super::{CommandKey, ParameterKey};
use crate::value::DateTime;

cwmp_struct! {
    /// A.3.1.1 GetRPCMethods: asks which methods the receiver supports (either direction).
    pub struct GetRPCMethods {}
}

cwmp_struct! {
    /// A.3.1.1 GetRPCMethodsResponse.
    pub struct GetRPCMethodsResponse {
        /// Supported method names.
        method_list: Vec<String> = "MethodList" max 64,
    }
}

cwmp_struct! {
    /// A.3.2.1 SetParameterValues: all-or-nothing change of parameter values.
    pub struct SetParameterValues {
        /// The parameters and their new values.
        parameter_list: Vec<ParameterValueStruct> = "ParameterList",
        /// The new ParameterKey, applied only if every change succeeds.
        parameter_key: ParameterKey = "ParameterKey",
    }
}

cwmp_struct! {
    /// A.3.2.1 SetParameterValuesResponse.
    pub struct SetParameterValuesResponse {
        /// Applied, or committed and pending.
        status: Status = "Status",
    }
}

cwmp_struct! {
    /// A.3.2.2 GetParameterValues.
    pub struct GetParameterValues {
        /// Full names or partial paths.
        parameter_names: Vec<String> = "ParameterNames" max 256,
    }
}

cwmp_struct! {
    /// A.3.2.2 GetParameterValuesResponse.
    pub struct GetParameterValuesResponse {
        /// Every parameter asked for, partial paths expanded.
        parameter_list: Vec<ParameterValueStruct> = "ParameterList",
    }
}

cwmp_struct! {
    /// A.3.2.3 GetParameterNames.
    pub struct GetParameterNames {
        /// A full name, a partial path, or empty for the root.
        parameter_path: String = "ParameterPath" max 256,
        /// Only the direct children (true) or the whole subtree (false).
        next_level: bool = "NextLevel",
    }
}

cwmp_struct! {
    /// A.3.2.3 GetParameterNamesResponse.
    pub struct GetParameterNamesResponse {
        /// Names found, with their writability.
        parameter_list: Vec<ParameterInfoStruct> = "ParameterList",
    }
}

cwmp_struct! {
    /// A.3.2.4 SetParameterAttributes.
    pub struct SetParameterAttributes {
        /// The changes.
        parameter_list: Vec<SetParameterAttributesStruct> = "ParameterList",
    }
}

cwmp_struct! {
    /// A.3.2.4 SetParameterAttributesResponse.
    pub struct SetParameterAttributesResponse {}
}

cwmp_struct! {
    /// A.3.2.5 GetParameterAttributes.
    pub struct GetParameterAttributes {
        /// Full names or partial paths.
        parameter_names: Vec<String> = "ParameterNames" max 256,
    }
}

cwmp_struct! {
    /// A.3.2.5 GetParameterAttributesResponse.
    pub struct GetParameterAttributesResponse {
        /// The attributes of every parameter asked for.
        parameter_list: Vec<ParameterAttributeStruct> = "ParameterList",
    }
}

cwmp_struct! {
    /// A.3.2.6 AddObject: creates an instance of a multi-instance object.
    pub struct AddObject {
        /// The table, ending in a dot.
        object_name: String = "ObjectName" max 256,
        /// The new ParameterKey, applied on success.
        parameter_key: ParameterKey = "ParameterKey",
    }
}

cwmp_struct! {
    /// A.3.2.6 AddObjectResponse.
    pub struct AddObjectResponse {
        /// The new instance's number.
        instance_number: u32 = "InstanceNumber",
        /// Applied, or pending.
        status: Status = "Status",
    }
}

cwmp_struct! {
    /// A.3.2.7 DeleteObject: removes an instance.
    pub struct DeleteObject {
        /// The instance, ending in a dot.
        object_name: String = "ObjectName" max 256,
        /// The new ParameterKey, applied on success.
        parameter_key: ParameterKey = "ParameterKey",
    }
}

cwmp_struct! {
    /// A.3.2.7 DeleteObjectResponse.
    pub struct DeleteObjectResponse {
        /// Applied, or pending.
        status: Status = "Status",
    }
}

cwmp_struct! {
    /// A.3.2.8 Download.
    pub struct Download {
        /// Echoed in TransferComplete and `M Download`.
        command_key: CommandKey = "CommandKey",
        /// `1 Firmware Upgrade Image`, `2 Web Content`, `3 Vendor Configuration File`, ...
        file_type: String = "FileType" max 64,
        /// Where to fetch the file.
        url: String = "URL" max 256,
        /// File server user name.
        username: String = "Username" max 256,
        /// File server password.
        password: String = "Password" max 256,
        /// Size in bytes, 0 if unknown.
        file_size: u32 = "FileSize",
        /// Name to store the file as.
        target_file_name: String = "TargetFileName" max 256,
        /// Seconds to wait before starting.
        delay_seconds: u32 = "DelaySeconds",
        /// Browser redirect on success (web content).
        success_url: String = "SuccessURL" max 256,
        /// Browser redirect on failure (web content).
        failure_url: String = "FailureURL" max 256,
    }
}

cwmp_struct! {
    /// A.3.2.8 DownloadResponse.
    pub struct DownloadResponse {
        /// Completed (0) or not yet (1, TransferComplete follows).
        status: Status = "Status",
        /// Start of the transfer, when completed.
        start_time: DateTime = "StartTime",
        /// End of the transfer, when completed.
        complete_time: DateTime = "CompleteTime",
    }
}

cwmp_struct! {
    /// A.3.2.9 Reboot: carried out after the session ends.
    pub struct Reboot {
        /// Echoed in `M Reboot`.
        command_key: CommandKey = "CommandKey",
    }
}

cwmp_struct! {
    /// A.3.2.9 RebootResponse.
    pub struct RebootResponse {}
}

cwmp_struct! {
    /// A.4.1.1 GetQueuedTransfers (deprecated by GetAllQueuedTransfers).
    pub struct GetQueuedTransfers {}
}

cwmp_struct! {
    /// A.4.1.1 GetQueuedTransfersResponse.
    pub struct GetQueuedTransfersResponse {
        /// Up to 16 transfers.
        transfer_list: Vec<QueuedTransferStruct> = "TransferList",
    }
}

cwmp_struct! {
    /// A.4.1.2 ScheduleInform: a one-off Inform later.
    pub struct ScheduleInform {
        /// Seconds from now.
        delay_seconds: u32 = "DelaySeconds",
        /// Echoed in `M ScheduleInform`.
        command_key: CommandKey = "CommandKey",
    }
}

cwmp_struct! {
    /// A.4.1.2 ScheduleInformResponse.
    pub struct ScheduleInformResponse {}
}

cwmp_struct! {
    /// A.4.1.3 SetVouchers.
    pub struct SetVouchers {
        /// Signed vouchers.
        voucher_list: Vec<Voucher> = "VoucherList",
    }
}

cwmp_struct! {
    /// A.4.1.3 SetVouchersResponse.
    pub struct SetVouchersResponse {}
}

cwmp_struct! {
    /// A.4.1.4 GetOptions.
    pub struct GetOptions {
        /// An option name, or empty for all.
        option_name: String = "OptionName" max 64,
    }
}

cwmp_struct! {
    /// A.4.1.4 GetOptionsResponse.
    pub struct GetOptionsResponse {
        /// The options.
        option_list: Vec<OptionStruct> = "OptionList",
    }
}

cwmp_struct! {
    /// A.4.1.5 Upload.
    pub struct Upload {
        /// Echoed in TransferComplete and `M Upload`.
        command_key: CommandKey = "CommandKey",
        /// `1 Vendor Configuration File`, `2 Vendor Log File`, `3 ... <i>`, `4 ... <i>`.
        file_type: String = "FileType" max 64,
        /// Where to send the file.
        url: String = "URL" max 256,
        /// File server user name.
        username: String = "Username" max 256,
        /// File server password.
        password: String = "Password" max 256,
        /// Seconds to wait before starting.
        delay_seconds: u32 = "DelaySeconds",
    }
}

cwmp_struct! {
    /// A.4.1.5 UploadResponse.
    pub struct UploadResponse {
        /// Completed (0) or not yet (1).
        status: Status = "Status",
        /// Start of the transfer, when completed.
        start_time: DateTime = "StartTime",
        /// End of the transfer, when completed.
        complete_time: DateTime = "CompleteTime",
    }
}

cwmp_struct! {
    /// A.4.1.6 FactoryReset: carried out after the session ends.
    pub struct FactoryReset {}
}

cwmp_struct! {
    /// A.4.1.6 FactoryResetResponse.
    pub struct FactoryResetResponse {}
}

cwmp_struct! {
    /// A.4.1.7 GetAllQueuedTransfers.
    pub struct GetAllQueuedTransfers {}
}

cwmp_struct! {
    /// A.4.1.7 GetAllQueuedTransfersResponse.
    pub struct GetAllQueuedTransfersResponse {
        /// Up to 16 transfers, including ones the CPE started itself.
        transfer_list: Vec<AllQueuedTransferStruct> = "TransferList",
    }
}

cwmp_struct! {
    /// A.4.1.8 ScheduleDownload: a download within time windows.
    pub struct ScheduleDownload {
        /// Echoed in TransferComplete and `M ScheduleDownload`.
        command_key: CommandKey = "CommandKey",
        /// File type, as for Download.
        file_type: String = "FileType" max 64,
        /// Where to fetch the file.
        url: String = "URL" max 256,
        /// File server user name.
        username: String = "Username" max 256,
        /// File server password.
        password: String = "Password" max 256,
        /// Size in bytes, 0 if unknown.
        file_size: u32 = "FileSize",
        /// Name to store the file as.
        target_file_name: String = "TargetFileName" max 256,
        /// One or two windows.
        time_window_list: Vec<TimeWindowStruct> = "TimeWindowList",
    }
}

cwmp_struct! {
    /// A.4.1.8 ScheduleDownloadResponse.
    pub struct ScheduleDownloadResponse {}
}

cwmp_struct! {
    /// A.4.1.9 CancelTransfer.
    pub struct CancelTransfer {
        /// The transfer to cancel.
        command_key: CommandKey = "CommandKey",
    }
}

cwmp_struct! {
    /// A.4.1.9 CancelTransferResponse.
    pub struct CancelTransferResponse {}
}

cwmp_struct! {
    /// A.4.1.10 ChangeDUState: install, update or uninstall deployment units (TR-157).
    pub struct ChangeDUState {
        /// The operations, in order.
        operations: Vec<Operation> = each "Operations",
        /// Echoed in DUStateChangeComplete and `M ChangeDUState`.
        command_key: Option<CommandKey> = "CommandKey",
    }
}

cwmp_struct! {
    /// A.4.1.10 ChangeDUStateResponse.
    pub struct ChangeDUStateResponse {}
}
