//! The vocabulary of `display cloud-management state` (H3C cloud connection command reference;
//! the field list is in ARCHITECTURE.md, "Cloud-management tunnel"), so `cpe cloud status`
//! prints the same words and the acs-sim side can read them back.
//!
//! Every enum's [`as_str`](ConnectionState::as_str) is the exact text of the seed table. Where
//! the seed abbreviates ("Sending/Processing CAS url, ... failed", "websocket ...", "..."), the
//! expansion is this project's and is marked so on the variant.

use std::fmt;
use std::time::Duration;

/// What the status table prints for a field with no value.
pub const NOT_AVAILABLE: &str = "N/A";

macro_rules! status_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $name {
            /// Every value, in the order of the status table.
            pub const ALL: &'static [Self] = &[$( Self::$variant, )*];

            /// The text `display cloud-management state` prints.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )*
                }
            }

            /// The value whose text is `text` (exact, case-sensitive).
            pub fn from_text(text: &str) -> Option<Self> {
                match text {
                    $( $text => Some(Self::$variant), )*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

status_enum! {
    /// "Cloud connection state".
    pub enum ConnectionState {
        /// No tunnel and no attempt under way.
        Unconnected => "Unconnected",
        /// Authentication, registration or the handshake is under way.
        Request => "Request",
        /// The main WebSocket connection is up.
        Established => "Established",
    }
}

status_enum! {
    /// "Device state": the step of the establishment flow the device is in (each request
    /// step, then its `_success`).
    pub enum DeviceState {
        /// Nothing to do (no domain configured, or unbound).
        Idle => "Idle",
        /// Resolving the domain and opening the TCP/TLS connection.
        Connecting => "Connecting",
        /// `GET /v3/base/userauth` sent, waiting for the CAS URL.
        RequestCasUrl => "Request_CAS_url",
        /// The CAS URL arrived.
        RequestCasUrlSuccess => "Request_CAS_url_success",
        /// Credentials posted to the CAS, waiting for the ticket-granting ticket.
        RequestCasTgt => "Request_CAS_TGT",
        /// The TGT arrived.
        RequestCasTgtSuccess => "Request_CAS_TGT_success",
        /// Service posted to the TGT, waiting for the service ticket.
        RequestCasSt => "Request_CAS_ST",
        /// The ST arrived.
        RequestCasStSuccess => "Request_CAS_ST_success",
        /// The ST presented to the cloud, waiting for the session.
        RequestCloudAuth => "Request_cloud_auth",
        /// The cloud accepted the device.
        RequestCloudAuthSuccess => "Request_cloud_auth_success",
        /// `POST /v3/base/register` sent, waiting for the WebSocket URL.
        Register => "Register",
        /// The WebSocket URL arrived.
        RegisterSuccess => "Register_success",
        /// WebSocket handshake and main-link registration under way.
        Request => "Request",
        /// The main link is registered.
        RequestSuccess => "Request_success",
    }
}

status_enum! {
    /// "Process state": where the current step's I/O stands.
    pub enum ProcessState {
        /// The domain is not resolved yet.
        DnsNotParsed => "DNS not parsed",
        /// The domain resolved.
        DnsParsed => "DNS parsed",
        /// The step's request is not sent yet.
        MessageNotSent => "Message not sent",
        /// The step's request is sent.
        MessageSent => "Message sent",
        /// The step's answer has not arrived.
        MessageNotReceived => "Message not received",
        /// The step's answer arrived.
        MessageReceived => "Message received",
    }
}

status_enum! {
    /// "Failure reason": why the last establishment attempt failed. The seed's
    /// "Sending/Processing X failed" is expanded into one variant per step and direction; the
    /// cloud-auth answer keeps the form the issue quotes ("Processing cloud auth response
    /// failed"); the seed's "websocket ..." is filled in by this project with the two
    /// WebSocket steps of the flow (main-link registration and the sub-connection URL request).
    pub enum FailureReason {
        /// The domain did not resolve.
        DnsParseFailed => "DNS parse failed",
        /// TCP connect failed.
        SocketConnectionFailed => "Socket connection failed",
        /// The TLS session could not be set up.
        SslCreationFailed => "SSL creation failed",
        /// `GET /v3/base/userauth` could not be sent.
        SendingCasUrlFailed => "Sending CAS url failed",
        /// Its answer was not a usable CAS URL.
        ProcessingCasUrlFailed => "Processing CAS url failed",
        /// The TGT request could not be sent.
        SendingCasTgtFailed => "Sending CAS TGT failed",
        /// The CAS refused the credentials or answered without a TGT.
        ProcessingCasTgtFailed => "Processing CAS TGT failed",
        /// The ST request could not be sent.
        SendingCasStFailed => "Sending CAS ST failed",
        /// The CAS answered without a service ticket.
        ProcessingCasStFailed => "Processing CAS ST failed",
        /// The ticket could not be presented to the cloud.
        SendingCloudAuthFailed => "Sending cloud auth failed",
        /// The cloud refused the device (e.g. its serial is unknown to the cloud).
        ProcessingCloudAuthResponseFailed => "Processing cloud auth response failed",
        /// The registration could not be sent.
        SendingRegisterFailed => "Sending register failed",
        /// The registration was refused or its answer carried no WebSocket URL.
        ProcessingRegisterFailed => "Processing register failed",
        /// The WebSocket upgrade could not be sent.
        SendingHandshakeFailed => "Sending handshake failed",
        /// The upgrade was refused.
        ProcessingHandshakeFailed => "Processing handshake failed",
        /// This project: the main-link registration frame (optType 1) could not be sent.
        SendingWebsocketRegisterFailed => "Sending websocket register failed",
        /// This project: the main-link registration was refused or unreadable.
        ProcessingWebsocketRegisterFailed => "Processing websocket register failed",
        /// This project: the sub-connection URL request (optType 102) could not be sent.
        SendingWebsocketSubConnectionFailed => "Sending websocket sub-connection failed",
        /// This project: its answer was refused or unreadable.
        ProcessingWebsocketSubConnectionFailed => "Processing websocket sub-connection failed",
        /// No failure.
        NotAvailable => "N/A",
    }
}

status_enum! {
    /// "Last down reason": why an established tunnel went down.
    pub enum DownReason {
        /// The device or the tunnel process restarted.
        DeviceOrProcessRebooted => "Device or process rebooted",
        /// The socket failed (read or write error, peer gone).
        SocketConnectionError => "Socket connection error",
        /// Domain or port changed while connected.
        ConfigurationChanged => "Configuration changed",
        /// The cloud sent a WebSocket close frame.
        ReceivedWebsocketClosePacketFromCloud => "Received websocket close packet from cloud",
        /// No keepalive answer within three periods.
        KeepaliveExpired => "Keepalive expired",
        /// A frame from the cloud broke this module's schema.
        PacketProcessingFailed => "Packet processing failed",
        /// A sub-connection went down with its main connection.
        MainConnectionWentDown => "Main connection went down",
        /// `reset cloud-management tunnel`, or the cloud reset the TCP connection.
        CloudResetConnection => "Cloud reset connection",
        /// The device ran short of memory (e.g. a frame over the size limit).
        MemoryReachedThreshold => "Memory reached threshold",
    }
}

status_enum! {
    /// "Last report failure reason" (all but the SSL sending failure, which carries a detail:
    /// see [`ReportFailure`]).
    pub enum ReportFailureReason {
        /// The tunnel is being torn down.
        TunnelIsBeingDeleted => "Tunnel is being deleted",
        /// The tunnel has no usable socket (not established, or closed).
        TunnelSocketIsInvalid => "Tunnel socket is invalid",
        /// A message could not be turned into (or read from) JSON.
        FailedToConvertStringToJson => "Failed to convert string to json",
        /// This project (one of the seed's "..."): the bounded send buffer was full.
        SendBufferIsFull => "Send buffer is full",
    }
}

/// A "Last report failure reason" value: one of [`ReportFailureReason`], or the TLS layer's
/// refusal to send, with its detail (printed `SSL sending failure (<detail>)`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReportFailure {
    /// A reason without detail.
    Reason(ReportFailureReason),
    /// The TLS write failed; the detail is the TLS error's text, cut to
    /// [`ReportFailure::MAX_DETAIL`] characters.
    SslSendingFailure(String),
}

impl ReportFailure {
    /// The longest detail kept, in characters.
    pub const MAX_DETAIL: usize = 128;

    /// An SSL sending failure with `detail` cut to [`Self::MAX_DETAIL`] characters and its
    /// control characters replaced by spaces, so the status table stays one line.
    pub fn ssl_sending_failure(detail: impl fmt::Display) -> Self {
        let detail = detail
            .to_string()
            .chars()
            .take(Self::MAX_DETAIL)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        Self::SslSendingFailure(detail)
    }
}

impl From<ReportFailureReason> for ReportFailure {
    fn from(reason: ReportFailureReason) -> Self {
        Self::Reason(reason)
    }
}

impl fmt::Display for ReportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reason(reason) => reason.fmt(f),
            Self::SslSendingFailure(detail) => write!(f, "SSL sending failure ({detail})"),
        }
    }
}

/// A duration as the status table prints it: `00d 00h 02m 01s` (days grow past two digits;
/// fractions of a second are dropped).
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    format!(
        "{:02}d {:02}h {:02}m {:02}s",
        secs / 86_400,
        secs / 3_600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}
