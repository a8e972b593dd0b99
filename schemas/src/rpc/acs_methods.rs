//! Methods the ACS implements, called by the CPE (TR-069 Amd 6 A.3.3 and A.4.2), with their
//! responses. GetRPCMethods goes both ways and lives with the CPE's methods.

use super::CommandKey;
use super::du::{AutonOpResultStruct, OpResultStruct};
use super::field::cwmp_struct;
use super::types::{
    ArgStruct, DeviceIdStruct, EventStruct, ParameterValueStruct, TransferCompleteFaultStruct,
};
use crate::value::DateTime;

cwmp_struct! {
    /// A.3.3.1 Inform: the first message of every session (Table 37).
    pub struct Inform {
        /// Who the CPE is.
        device_id: DeviceIdStruct = "DeviceId",
        /// Why the session was opened (up to 64 events).
        event: Vec<EventStruct> = "Event",
        /// Always 1; ignored on receipt.
        max_envelopes: u32 = "MaxEnvelopes",
        /// The CPE's clock, or the Unknown Time.
        current_time: DateTime = "CurrentTime",
        /// Failed attempts before this one.
        retry_count: u32 = "RetryCount",
        /// Forced-inform, notified and requested parameters.
        parameter_list: Vec<ParameterValueStruct> = "ParameterList",
    }
}

cwmp_struct! {
    /// A.3.3.1 InformResponse.
    pub struct InformResponse {
        /// Always 1; ignored on receipt.
        max_envelopes: u32 = "MaxEnvelopes",
    }
}

cwmp_struct! {
    /// A.3.3.2 TransferComplete: the outcome of a Download, ScheduleDownload or Upload.
    pub struct TransferComplete {
        /// The transfer's CommandKey.
        command_key: CommandKey = "CommandKey",
        /// Code 0 for success.
        fault_struct: TransferCompleteFaultStruct = "FaultStruct",
        /// When the transfer started.
        start_time: DateTime = "StartTime",
        /// When it ended.
        complete_time: DateTime = "CompleteTime",
    }
}

cwmp_struct! {
    /// A.3.3.2 TransferCompleteResponse.
    pub struct TransferCompleteResponse {}
}

cwmp_struct! {
    /// A.3.3.3 AutonomousTransferComplete: a transfer the ACS did not ask for.
    pub struct AutonomousTransferComplete {
        /// Where the transfer was announced (multicast).
        announce_url: String = "AnnounceURL" max 1024,
        /// The file's URL.
        transfer_url: String = "TransferURL" max 1024,
        /// Download (true) or Upload (false).
        is_download: bool = "IsDownload",
        /// File type.
        file_type: String = "FileType" max 64,
        /// Size in bytes.
        file_size: u32 = "FileSize",
        /// Stored file name.
        target_file_name: String = "TargetFileName" max 256,
        /// Code 0 for success.
        fault_struct: TransferCompleteFaultStruct = "FaultStruct",
        /// When the transfer started.
        start_time: DateTime = "StartTime",
        /// When it ended.
        complete_time: DateTime = "CompleteTime",
    }
}

cwmp_struct! {
    /// A.3.3.3 AutonomousTransferCompleteResponse.
    pub struct AutonomousTransferCompleteResponse {}
}

cwmp_struct! {
    /// A.4.2.1 Kicked: a web page kicked the CPE to ask the ACS what to do next.
    pub struct Kicked {
        /// Generic argument from the page.
        command: String = "Command" max 32,
        /// The referring page.
        referer: String = "Referer" max 64,
        /// Argument for the command.
        arg: String = "Arg" max 256,
        /// URL to go to next.
        next: String = "Next" max 1024,
    }
}

cwmp_struct! {
    /// A.4.2.1 KickedResponse.
    pub struct KickedResponse {
        /// Where the browser goes next.
        next_url: String = "NextURL" max 1024,
    }
}

cwmp_struct! {
    /// A.4.2.2 RequestDownload: the CPE asks for a file.
    pub struct RequestDownload {
        /// File type wanted.
        file_type: String = "FileType" max 64,
        /// Up to 16 arguments.
        file_type_arg: Vec<ArgStruct> = "FileTypeArg",
    }
}

cwmp_struct! {
    /// A.4.2.2 RequestDownloadResponse.
    pub struct RequestDownloadResponse {}
}

cwmp_struct! {
    /// A.3.3.4 DUStateChangeComplete: the outcome of ChangeDUState.
    pub struct DUStateChangeComplete {
        /// One result per operation.
        results: Vec<OpResultStruct> = each "Results",
        /// The request's CommandKey.
        command_key: Option<CommandKey> = "CommandKey",
    }
}

cwmp_struct! {
    /// A.3.3.4 DUStateChangeCompleteResponse.
    pub struct DUStateChangeCompleteResponse {}
}

cwmp_struct! {
    /// A.3.3.5 AutonomousDUStateChangeComplete: deployment-unit changes the ACS did not ask for.
    pub struct AutonomousDUStateChangeComplete {
        /// One result per operation.
        results: Vec<AutonOpResultStruct> = each "Results",
    }
}

cwmp_struct! {
    /// A.3.3.5 AutonomousDUStateChangeCompleteResponse.
    pub struct AutonomousDUStateChangeCompleteResponse {}
}
