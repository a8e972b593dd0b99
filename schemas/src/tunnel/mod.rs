//! The cloud-management tunnel (H3C "cloud-management", Oasis cloud): the HTTP bodies and
//! WebSocket text frames of the flow, and the vocabulary of `display cloud-management state`.
//!
//! No public specification of the wire format exists. What is known (PROTOCOL.md §4.3, from
//! H3C's configuration guides and a public 2017 Oasis-era cloud server) is the order of the
//! steps, the CAS TGT/ST authentication, the `/v3/...` paths, the main link
//! `cmtnlmgr`/`base`, JSON frames with `optType`, `devSN`, `tokenID`, `devModName`,
//! `cloudModName`, `seqNumber`, `uuid`, `retCode`, and optTypes 1-3. Everything else below is
//! this project's choice, marked *ours*.
//!
//! # The flow
//!
//! | Step | Direction | HTTP method and path, or optType | Body / members | Answer | Source |
//! |---|---|---|---|---|---|
//! | 1. CAS URL | device → cloud | `GET /v3/base/userauth` | none | [`CasInfo`] `{"cas_url","cas_protocol","ignore_cas"}` | §4.3 |
//! | 2. TGT | device → CAS | `POST <cas_url>` (`…/v1/tickets`) | form `username=<serial>&password=<secret>` ([`form_encode`]) | `201`, `Location: <TGT URL>` | §4.3 (CAS REST) |
//! | 3. ST | device → CAS | `POST <TGT URL>` | form `service=https://<cloud>/v3/base/userauth` | `200`, the ticket as text | §4.3 (CAS REST) |
//! | 4. cloud auth | device → cloud | `GET /v3/base/userauth?ticket=<ST>` | none | [`AuthAnswer`]: `{"sessionid"}`, or *ours* `{"retCode","reason"}` | §4.3; refusal ours |
//! | 5. register | device → cloud | `POST /v3/base/register` | [`RegisterRequest`] `{"devSN","tokenID","devModel"?,"swVersion"?}` | [`RegisterAnswer`] `{"retCode":0,"wsUrl"}` or `{"retCode","reason"}` | step §4.3; body ours |
//! | 6. handshake | device → cloud | WebSocket upgrade to `wsUrl`, cookie `JSESSIONID=<sessionid>` | | `101` | §4.3 |
//! | 7. main link | device → cloud | optType 1, link `cmtnlmgr`/`base` | link key | `{"optType":1,"retCode"}` | §4.3 |
//! | 8. services | device → cloud | optType 102 | link key | `{"optType":102,"retCode","services":[{"cloudModName","url"}]}` | ours |
//! | 9. sub-links | device → cloud | WebSocket to each `url`, then optType 1 with the module's `devModName`/`cloudModName` | link key | `{"optType":1,"retCode"}` | §4.3 |
//! | keepalive | device → cloud | optType 2, every `keepalive` s | link key | `{"optType":2,"retCode"}`; none within 3 periods: down | §4.3 |
//! | ping | device → cloud | optType 101, every `ping` s | link key | never answered | ours |
//! | configuration | cloud → device | optType 3 | `seqNumber`, `uuid`, `parameters:[{"name","value","type"}]` | device optType 3: link key, `seqNumber`, `uuid`, `retCode`, `fault`? | §4.3; members ours |
//! | report | device → cloud | optType 103, after step 7 and on every change | link key, `cloud:{"domain","port","keepalive","ping"}`, `cwmp:{"acsUrl","acsUrlSource","lastInform"?,"provisioningCode"}` | `{"optType":103,"retCode"}` | ours |
//! | connection request | cloud → device | optType 104 | `seqNumber` | device optType 104: link key, `seqNumber`, `retCode` | ours |
//! | unbind | device → cloud | optType 105 | link key, `code` | `{"optType":105,"retCode"}` | ours |
//!
//! "Link key" is `devSN`, `tokenID`, `devModName`, `cloudModName` ([`LinkKey`]): every device
//! frame carries it (*ours*: the cloud routes without per-socket state); cloud frames carry
//! none. H3C's service-specific optTypes 11 and 16 are not implemented; this project's codes
//! start at 101 to stay clear of H3C's low range.
//!
//! # Strictness
//!
//! Device frames are read by [`DeviceFrame::decode`], cloud frames by
//! [`CloudMessage::decode`], the HTTP bodies by their types' `decode`. Each refuses, with a
//! [`FrameError`]: more than [`MAX_FRAME`] bytes, non-UTF-8, non-JSON, JSON other than an
//! object, a member twice, an unknown member, a missing member, `null`, a wrong JSON type, an
//! unknown optType (or one the sender never sends), text that is empty, too long (the
//! [`limits`]) or holds a forbidden character, integers out of range, lists too long.
//! [`FrameError::counted_as`] says which status counter a refused frame lands in.
//!
//! `encode` writes the canonical form: members in the table's order, no whitespace, minimal
//! escapes, optional members and empty lists omitted. It refuses (with the same
//! [`FrameError`]) a value its own `decode` would refuse, so nothing leaves that the peer
//! cannot read.
//!
//! ```
//! use schemas::tunnel::{CloudMessage, DeviceFrame, DeviceMessage, LinkKey, RetCode};
//!
//! let keepalive = DeviceFrame {
//!     link: LinkKey::main("210235A1BSC123000050", "a1b2c3"),
//!     message: DeviceMessage::Keepalive,
//! };
//! assert_eq!(
//!     keepalive.encode()?,
//!     r#"{"optType":2,"devSN":"210235A1BSC123000050","tokenID":"a1b2c3","devModName":"cmtnlmgr","cloudModName":"base"}"#,
//! );
//! let answer = CloudMessage::decode(br#"{"optType":2,"retCode":0}"#)?;
//! assert_eq!(answer, CloudMessage::KeepaliveAnswer { ret_code: RetCode::OK });
//! # Ok::<(), schemas::tunnel::FrameError>(())
//! ```

mod error;
mod frame;
mod http;
mod json;
mod settings;
mod status;

pub use error::{Counted, FrameError};
pub use frame::{
    CloudMessage, Configuration, ConfigurationAnswer, CwmpState, DeviceFrame, DeviceMessage,
    LinkKey, MAIN_CLOUD_MODULE, MAIN_DEVICE_MODULE, OptType, Report, RetCode, Service,
};
pub use http::{
    AuthAnswer, CAS_TICKETS_PATH, CasInfo, REGISTER_PATH, RegisterAnswer, RegisterRequest,
    USERAUTH_PATH, form_decode, form_encode,
};
pub use settings::{
    CloudSettings, KEEPALIVE, KEEPALIVE_MISSES, MAX_DOMAIN_LEN, PING, PORT, Setting, SettingError,
    SettingRange,
};
pub use status::{
    ConnectionState, DeviceState, DownReason, FailureReason, NOT_AVAILABLE, ProcessState,
    ReportFailure, ReportFailureReason, format_duration,
};

use frame::Object;

/// Largest frame or JSON body read or written, in bytes: 64 KiB. A configuration message of
/// [`limits::MAX_PARAMETERS`] parameters with values of a few hundred bytes fits; the WebSocket
/// layer should cap its message size at the same value.
pub const MAX_FRAME: usize = 64 * 1024;

/// Bounds on the members of frames and bodies, in bytes.
pub mod limits {
    /// `devSN`: TR-181 `DeviceInfo.SerialNumber` is `string(64)`.
    pub const MAX_SERIAL_LEN: usize = 64;
    /// `tokenID` / `sessionid`.
    pub const MAX_TOKEN_LEN: usize = 256;
    /// `devModName`, `cloudModName`.
    pub const MAX_MODULE_LEN: usize = 32;
    /// `uuid`.
    pub const MAX_UUID_LEN: usize = 64;
    /// `url`, `wsUrl`, `cas_url`.
    pub const MAX_URL_LEN: usize = 2048;
    /// `services` entries.
    pub const MAX_SERVICES: usize = 64;
    /// `parameters` entries, and per-parameter `faults`.
    pub const MAX_PARAMETERS: usize = 256;
    /// A parameter `name`: TR-069 `ParameterValueStruct/Name` is `string(256)`.
    pub const MAX_PARAMETER_NAME_LEN: usize = 256;
    /// `faultString`, `reason`: TR-069 `FaultString` is `string(256)`.
    pub const MAX_FAULT_STRING_LEN: usize = 256;
    /// `acsUrl`: TR-181 `ManagementServer.URL` is `string(256)`.
    pub const MAX_ACS_URL_LEN: usize = 256;
    /// `provisioningCode`: TR-181 `DeviceInfo.ProvisioningCode` is `string(64)`.
    pub const MAX_PROVISIONING_CODE_LEN: usize = 64;
    /// `code` of an unbinding request.
    pub const MAX_UNBIND_CODE_LEN: usize = 64;
}

macro_rules! wire {
    ($($ty:ty),* $(,)?) => {$(
        impl $ty {
            /// Reads one frame or body strictly (see the [module documentation](self)).
            pub fn decode(input: impl AsRef<[u8]>) -> Result<Self, FrameError> {
                <Self as Object>::read(json::parse(input.as_ref())?)
            }

            /// Writes the canonical form, refusing what [`Self::decode`] would refuse.
            pub fn encode(&self) -> Result<String, FrameError> {
                let text = <Self as Object>::write(self);
                Self::decode(&text)?;
                Ok(text)
            }
        }
    )*};
}

wire!(
    DeviceFrame,
    CloudMessage,
    CasInfo,
    AuthAnswer,
    RegisterRequest,
    RegisterAnswer
);
