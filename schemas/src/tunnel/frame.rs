//! The WebSocket text frames, both directions: [`DeviceFrame`] (device to cloud, always with
//! its [`LinkKey`]) and [`CloudMessage`] (cloud to device). The codes and members are tabled in
//! the [module documentation](super).

use crate::rpc::types::ParameterValueStruct;
use crate::rpc::{Fault, FaultCode, SetParameterValuesFault};
use crate::value::{DateTime, Value, XsdType};

use super::json::{Chars, Fields, ObjectWriter, Text};
use super::{CloudSettings, FrameError, limits};

/// A frame's `optType`: H3C's codes 1-3 (PROTOCOL.md §4.3) and this project's 101-105, chosen
/// clear of H3C's service-specific 11 and 16 and of the rest of its low range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptType {
    /// 1: register a connection (main link `cmtnlmgr`/`base`, or a sub-link), and its answer.
    Register,
    /// 2: device keepalive, and the cloud's answer.
    Keepalive,
    /// 3: cloud configuration message, and the device's answer.
    Configuration,
    /// 101: NAT keep-alive ping; never answered.
    Ping,
    /// 102: sub-connection URL request, and the list of micro-services.
    SubConnection,
    /// 103: the device's report (mirrored settings and CWMP state), and its acknowledgement.
    Report,
    /// 104: cloud connection request (open a CWMP session), and the device's answer.
    ConnectionRequest,
    /// 105: unbinding code, and the cloud's answer.
    Unbind,
}

impl OptType {
    /// Every type, in code order.
    pub const ALL: [Self; 8] = [
        Self::Register,
        Self::Keepalive,
        Self::Configuration,
        Self::Ping,
        Self::SubConnection,
        Self::Report,
        Self::ConnectionRequest,
        Self::Unbind,
    ];

    /// The number on the wire.
    pub fn code(self) -> u16 {
        match self {
            Self::Register => 1,
            Self::Keepalive => 2,
            Self::Configuration => 3,
            Self::Ping => 101,
            Self::SubConnection => 102,
            Self::Report => 103,
            Self::ConnectionRequest => 104,
            Self::Unbind => 105,
        }
    }

    /// The type with this number.
    pub fn from_code(code: i128) -> Option<Self> {
        Self::ALL.into_iter().find(|t| i128::from(t.code()) == code)
    }
}

/// A `retCode`: 0 is success (PROTOCOL.md §4.3); the others are this project's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RetCode(pub u32);

impl RetCode {
    /// Success.
    pub const OK: Self = Self(0);
    /// Refused, no more specific reason.
    pub const FAILED: Self = Self(1);
    /// The serial number is not known to the cloud (authentication, registration).
    pub const UNKNOWN_DEVICE: Self = Self(2);
    /// A sub-connection registered with no main connection up.
    pub const NO_MAIN_CONNECTION: Self = Self(3);
    /// The request was well-formed but not acceptable (a wrong token, an unknown module).
    pub const BAD_REQUEST: Self = Self(4);
    /// The peer is too busy; retry later.
    pub const BUSY: Self = Self(5);

    /// Whether this is [`RetCode::OK`].
    pub fn is_ok(self) -> bool {
        self == Self::OK
    }
}

/// The device module of the main link: the cloud tunnel manager.
pub const MAIN_DEVICE_MODULE: &str = "cmtnlmgr";
/// The cloud module of the main link.
pub const MAIN_CLOUD_MODULE: &str = "base";

/// The key of a link (PROTOCOL.md §4.3: `devSN/tokenID/devModName/cloudModName`), carried by
/// every device frame so the cloud can route it without per-socket state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LinkKey {
    /// `devSN`: the device serial number, 1-64 printable characters without whitespace.
    pub dev_sn: String,
    /// `tokenID`: the cloud session id from authentication, 1-256 characters, no whitespace.
    pub token_id: String,
    /// `devModName`: the device module, 1-32 of `[A-Za-z0-9_-]`.
    pub dev_mod_name: String,
    /// `cloudModName`: the cloud micro-service, 1-32 of `[A-Za-z0-9_-]`.
    pub cloud_mod_name: String,
}

impl LinkKey {
    /// The main link's key (`cmtnlmgr`/`base`).
    pub fn main(dev_sn: impl Into<String>, token_id: impl Into<String>) -> Self {
        Self {
            dev_sn: dev_sn.into(),
            token_id: token_id.into(),
            dev_mod_name: MAIN_DEVICE_MODULE.to_owned(),
            cloud_mod_name: MAIN_CLOUD_MODULE.to_owned(),
        }
    }

    /// The key of a sub-link of the same device and session.
    pub fn sub(&self, dev_mod_name: impl Into<String>, cloud_mod_name: impl Into<String>) -> Self {
        Self {
            dev_mod_name: dev_mod_name.into(),
            cloud_mod_name: cloud_mod_name.into(),
            ..self.clone()
        }
    }

    /// Whether this is the main link's key.
    pub fn is_main(&self) -> bool {
        self.dev_mod_name == MAIN_DEVICE_MODULE && self.cloud_mod_name == MAIN_CLOUD_MODULE
    }

    fn read(fields: &mut Fields) -> Result<Self, FrameError> {
        Ok(Self {
            dev_sn: fields.text("devSN", SERIAL)?,
            token_id: fields.text("tokenID", TOKEN)?,
            dev_mod_name: fields.text("devModName", MODULE)?,
            cloud_mod_name: fields.text("cloudModName", MODULE)?,
        })
    }

    fn write(&self, w: ObjectWriter) -> ObjectWriter {
        w.text("devSN", &self.dev_sn)
            .text("tokenID", &self.token_id)
            .text("devModName", &self.dev_mod_name)
            .text("cloudModName", &self.cloud_mod_name)
    }
}

/// A frame from the device: the link it travels on, and the message.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceFrame {
    /// The link's key.
    pub link: LinkKey,
    /// The message.
    pub message: DeviceMessage,
}

/// What a device sends.
#[derive(Clone, Debug, PartialEq)]
pub enum DeviceMessage {
    /// optType 1: register this link (the main one first; sub-links after).
    Register,
    /// optType 2: keepalive, every `keepalive` seconds; the cloud answers.
    Keepalive,
    /// optType 3: the answer to a [`Configuration`].
    ConfigurationAnswer(ConfigurationAnswer),
    /// optType 101: NAT keep-alive, every `ping` seconds; never answered.
    Ping,
    /// optType 102: ask for the sub-connection URLs.
    SubConnectionRequest,
    /// optType 103: the device's settings and CWMP state (mirroring).
    Report(Report),
    /// optType 104: the answer to [`CloudMessage::ConnectionRequest`].
    ConnectionRequestAnswer {
        /// The request's `seqNumber`.
        seq_number: u32,
        /// 0 when a session was started.
        ret_code: RetCode,
    },
    /// optType 105: unbind the device with this code (`cloud-management unbinding-code`).
    Unbind {
        /// `code`: 1-64 printable characters without whitespace.
        code: String,
    },
}

impl DeviceMessage {
    /// The message's optType.
    pub fn opt_type(&self) -> OptType {
        match self {
            Self::Register => OptType::Register,
            Self::Keepalive => OptType::Keepalive,
            Self::ConfigurationAnswer(_) => OptType::Configuration,
            Self::Ping => OptType::Ping,
            Self::SubConnectionRequest => OptType::SubConnection,
            Self::Report(_) => OptType::Report,
            Self::ConnectionRequestAnswer { .. } => OptType::ConnectionRequest,
            Self::Unbind { .. } => OptType::Unbind,
        }
    }
}

/// What the cloud sends.
#[derive(Clone, Debug, PartialEq)]
pub enum CloudMessage {
    /// optType 1: the answer to a registration.
    RegisterAnswer {
        /// 0 when the link is registered.
        ret_code: RetCode,
    },
    /// optType 2: the answer to a keepalive (PROTOCOL.md §4.3: `{"optType":2,"retCode":0}`).
    KeepaliveAnswer {
        /// 0 normally.
        ret_code: RetCode,
    },
    /// optType 3: set parameters.
    Configuration(Configuration),
    /// optType 102: the micro-services and their URLs.
    SubConnectionAnswer {
        /// 0 when the list is valid.
        ret_code: RetCode,
        /// `services`: at most [`limits::MAX_SERVICES`], each `cloudModName` once.
        services: Vec<Service>,
    },
    /// optType 103: the report arrived.
    ReportAnswer {
        /// 0 when it was stored.
        ret_code: RetCode,
    },
    /// optType 104: open a CWMP session now (event `6 CONNECTION REQUEST`).
    ConnectionRequest {
        /// `seqNumber`, echoed in the answer.
        seq_number: u32,
    },
    /// optType 105: the answer to an unbinding request.
    UnbindAnswer {
        /// 0 when the device is unbound.
        ret_code: RetCode,
    },
}

impl CloudMessage {
    /// The message's optType.
    pub fn opt_type(&self) -> OptType {
        match self {
            Self::RegisterAnswer { .. } => OptType::Register,
            Self::KeepaliveAnswer { .. } => OptType::Keepalive,
            Self::Configuration(_) => OptType::Configuration,
            Self::SubConnectionAnswer { .. } => OptType::SubConnection,
            Self::ReportAnswer { .. } => OptType::Report,
            Self::ConnectionRequest { .. } => OptType::ConnectionRequest,
            Self::UnbindAnswer { .. } => OptType::Unbind,
        }
    }
}

/// optType 3 from the cloud: parameters to set, with the validation and faults of
/// SetParameterValues (TR-069 Amd 6 §A.3.2.1).
#[derive(Clone, Debug, PartialEq)]
pub struct Configuration {
    /// `seqNumber`, echoed in the answer.
    pub seq_number: u32,
    /// `uuid`, echoed in the answer: 1-64 printable characters without whitespace.
    pub uuid: String,
    /// `parameters`: `{"name","value","type"}` each, `value` in the type's lexical form and
    /// `type` an `xsd` local name (`string`, `unsignedInt`, ...). An unknown type reads as
    /// [`Value::Other`] and text that does not fit its type as [`Value::Invalid`], so the
    /// device can answer 9006/9007 for that parameter. 1 to [`limits::MAX_PARAMETERS`].
    pub parameters: Vec<ParameterValueStruct>,
}

/// optType 3 from the device: the outcome of a [`Configuration`].
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigurationAnswer {
    /// The request's `seqNumber`.
    pub seq_number: u32,
    /// The request's `uuid`.
    pub uuid: String,
    /// 0 when every parameter was set.
    pub ret_code: RetCode,
    /// `fault`: the CWMP fault SetParameterValues would have answered
    /// (`{"faultCode","faultString","faults":[{"name","faultCode","faultString"}]}`, codes
    /// 9000-9899: 9003 with per-parameter 9005/9006/9007/9008).
    pub fault: Option<Fault>,
}

/// optType 103: what the device mirrors to the cloud after establishment and on every change.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// `cloud`: `{"domain","port","keepalive","ping"}`.
    pub cloud: CloudSettings,
    /// `cwmp`: the CWMP state.
    pub cwmp: CwmpState,
}

/// The device's CWMP state, as mirrored.
#[derive(Clone, Debug, PartialEq)]
pub struct CwmpState {
    /// `acsUrl`: `Device.ManagementServer.URL`, 0-256 characters (TR-181 `string(256)`).
    pub acs_url: String,
    /// `acsUrlSource`: where the URL came from (`dhcp`, `acs`, `cli`, ...), 1-16 of
    /// `[A-Za-z0-9_-]`.
    pub acs_url_source: String,
    /// `lastInform`: when the last Inform was answered, as an `xsd:dateTime`; absent if never.
    pub last_inform: Option<DateTime>,
    /// `provisioningCode`: `Device.DeviceInfo.ProvisioningCode`, 0-64 characters.
    pub provisioning_code: String,
}

/// A micro-service the device may open a sub-connection to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Service {
    /// `cloudModName`: the micro-service (`confmgr`, `stamgr`, ...).
    pub cloud_mod_name: String,
    /// `url`: its WebSocket URL, `ws://` or `wss://`, at most [`limits::MAX_URL_LEN`].
    pub url: String,
}

const SERIAL: Text = Text {
    empty: false,
    max: limits::MAX_SERIAL_LEN,
    chars: Chars::Token,
};
const TOKEN: Text = Text {
    empty: false,
    max: limits::MAX_TOKEN_LEN,
    chars: Chars::Token,
};
const MODULE: Text = Text {
    empty: false,
    max: limits::MAX_MODULE_LEN,
    chars: Chars::Name,
};
const UUID: Text = Text {
    empty: false,
    max: limits::MAX_UUID_LEN,
    chars: Chars::Token,
};
pub(super) const URL: Text = Text {
    empty: false,
    max: limits::MAX_URL_LEN,
    chars: Chars::Token,
};
const PARAMETER_NAME: Text = Text {
    empty: false,
    max: limits::MAX_PARAMETER_NAME_LEN,
    chars: Chars::Token,
};
const PARAMETER_VALUE: Text = Text {
    empty: true,
    max: super::MAX_FRAME,
    chars: Chars::Any,
};
const TYPE_NAME: Text = Text {
    empty: false,
    max: 32,
    chars: Chars::Name,
};
/// A dateTime's text before parsing: short, no whitespace.
const DATE_TIME: Text = Text {
    empty: false,
    max: 64,
    chars: Chars::Token,
};
const FAULT_STRING: Text = Text {
    empty: true,
    max: limits::MAX_FAULT_STRING_LEN,
    chars: Chars::Printable,
};
const ACS_URL: Text = Text {
    empty: true,
    max: limits::MAX_ACS_URL_LEN,
    chars: Chars::Token,
};
const SOURCE: Text = Text {
    empty: false,
    max: 16,
    chars: Chars::Name,
};
const PROVISIONING_CODE: Text = Text {
    empty: true,
    max: limits::MAX_PROVISIONING_CODE_LEN,
    chars: Chars::Printable,
};
const UNBIND_CODE: Text = Text {
    empty: false,
    max: limits::MAX_UNBIND_CODE_LEN,
    chars: Chars::Token,
};

/// A type read from and written as one JSON object.
pub(super) trait Object: Sized {
    fn read(fields: Fields) -> Result<Self, FrameError>;
    fn write(&self) -> String;
}

fn opt_type(fields: &mut Fields) -> Result<OptType, FrameError> {
    let code = fields.number("optType", i128::MIN, i128::MAX)?;
    OptType::from_code(code).ok_or(FrameError::UnknownOptType { opt_type: code })
}

fn ret_code(fields: &mut Fields) -> Result<RetCode, FrameError> {
    fields.number("retCode", 0, u32::MAX).map(RetCode)
}

fn seq_number(fields: &mut Fields) -> Result<u32, FrameError> {
    fields.number("seqNumber", 0, u32::MAX)
}

/// Checks a WebSocket URL: a [`URL`] text with a `ws://` or `wss://` scheme and a host.
pub(super) fn check_ws_url(field: &'static str, url: &str) -> Result<(), FrameError> {
    URL.check(field, url)?;
    let rest = url
        .strip_prefix("wss://")
        .or_else(|| url.strip_prefix("ws://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        _ => Err(FrameError::Invalid {
            field,
            expected: "a ws:// or wss:// URL with a host",
        }),
    }
}

impl Object for DeviceFrame {
    fn read(mut fields: Fields) -> Result<Self, FrameError> {
        let opt_type = opt_type(&mut fields)?;
        let link = LinkKey::read(&mut fields)?;
        let message = match opt_type {
            OptType::Register => DeviceMessage::Register,
            OptType::Keepalive => DeviceMessage::Keepalive,
            OptType::Configuration => {
                DeviceMessage::ConfigurationAnswer(ConfigurationAnswer::read_from(&mut fields)?)
            }
            OptType::Ping => DeviceMessage::Ping,
            OptType::SubConnection => DeviceMessage::SubConnectionRequest,
            OptType::Report => DeviceMessage::Report(Report::read_from(&mut fields)?),
            OptType::ConnectionRequest => DeviceMessage::ConnectionRequestAnswer {
                seq_number: seq_number(&mut fields)?,
                ret_code: ret_code(&mut fields)?,
            },
            OptType::Unbind => DeviceMessage::Unbind {
                code: fields.text("code", UNBIND_CODE)?,
            },
        };
        fields.finish()?;
        Ok(Self { link, message })
    }

    fn write(&self) -> String {
        let w = ObjectWriter::new().int("optType", self.message.opt_type().code());
        let w = self.link.write(w);
        match &self.message {
            DeviceMessage::Register
            | DeviceMessage::Keepalive
            | DeviceMessage::Ping
            | DeviceMessage::SubConnectionRequest => w,
            DeviceMessage::ConfigurationAnswer(answer) => answer.write_to(w),
            DeviceMessage::Report(report) => report.write_to(w),
            DeviceMessage::ConnectionRequestAnswer {
                seq_number,
                ret_code,
            } => w.int("seqNumber", *seq_number).int("retCode", ret_code.0),
            DeviceMessage::Unbind { code } => w.text("code", code),
        }
        .finish()
    }
}

impl Object for CloudMessage {
    fn read(mut fields: Fields) -> Result<Self, FrameError> {
        let message = match opt_type(&mut fields)? {
            OptType::Register => Self::RegisterAnswer {
                ret_code: ret_code(&mut fields)?,
            },
            OptType::Keepalive => Self::KeepaliveAnswer {
                ret_code: ret_code(&mut fields)?,
            },
            OptType::Configuration => Self::Configuration(Configuration::read_from(&mut fields)?),
            OptType::Ping => {
                return Err(FrameError::UnexpectedOptType {
                    opt_type: OptType::Ping,
                    sender: "cloud",
                });
            }
            OptType::SubConnection => Self::SubConnectionAnswer {
                ret_code: ret_code(&mut fields)?,
                services: read_services(&mut fields)?,
            },
            OptType::Report => Self::ReportAnswer {
                ret_code: ret_code(&mut fields)?,
            },
            OptType::ConnectionRequest => Self::ConnectionRequest {
                seq_number: seq_number(&mut fields)?,
            },
            OptType::Unbind => Self::UnbindAnswer {
                ret_code: ret_code(&mut fields)?,
            },
        };
        fields.finish()?;
        Ok(message)
    }

    fn write(&self) -> String {
        let w = ObjectWriter::new().int("optType", self.opt_type().code());
        match self {
            Self::RegisterAnswer { ret_code }
            | Self::KeepaliveAnswer { ret_code }
            | Self::ReportAnswer { ret_code }
            | Self::UnbindAnswer { ret_code } => w.int("retCode", ret_code.0),
            Self::Configuration(configuration) => configuration.write_to(w),
            Self::SubConnectionAnswer { ret_code, services } => w.int("retCode", ret_code.0).list(
                "services",
                services.iter().map(|s| {
                    ObjectWriter::new()
                        .text("cloudModName", &s.cloud_mod_name)
                        .text("url", &s.url)
                        .finish()
                }),
            ),
            Self::ConnectionRequest { seq_number } => w.int("seqNumber", *seq_number),
        }
        .finish()
    }
}

fn read_services(fields: &mut Fields) -> Result<Vec<Service>, FrameError> {
    let services = fields.list("services", limits::MAX_SERVICES, |mut item| {
        let cloud_mod_name = item.text("cloudModName", MODULE)?;
        let url = item.text("url", URL)?;
        check_ws_url("url", &url)?;
        item.finish()?;
        Ok(Service {
            cloud_mod_name,
            url,
        })
    })?;
    for (index, service) in services.iter().enumerate() {
        if services[..index]
            .iter()
            .any(|s| s.cloud_mod_name == service.cloud_mod_name)
        {
            return Err(FrameError::Item {
                field: "services",
                index,
                source: Box::new(FrameError::Invalid {
                    field: "cloudModName",
                    expected: "a micro-service not listed before",
                }),
            });
        }
    }
    Ok(services)
}

impl Configuration {
    fn read_from(fields: &mut Fields) -> Result<Self, FrameError> {
        let seq_number = seq_number(fields)?;
        let uuid = fields.text("uuid", UUID)?;
        let parameters = fields.list("parameters", limits::MAX_PARAMETERS, |mut item| {
            let name = item.text("name", PARAMETER_NAME)?;
            let text = item.text("value", PARAMETER_VALUE)?;
            let type_name = item.text("type", TYPE_NAME)?;
            item.finish()?;
            let value = match XsdType::from_name(&type_name) {
                Some(ty) => Value::parse(ty, &text),
                None => Value::Other { type_name, text },
            };
            Ok(ParameterValueStruct { name, value })
        })?;
        if parameters.is_empty() {
            return Err(FrameError::MissingField {
                field: "parameters",
            });
        }
        Ok(Self {
            seq_number,
            uuid,
            parameters,
        })
    }

    fn write_to(&self, w: ObjectWriter) -> ObjectWriter {
        w.int("seqNumber", self.seq_number)
            .text("uuid", &self.uuid)
            .list(
                "parameters",
                self.parameters.iter().map(|p| {
                    ObjectWriter::new()
                        .text("name", &p.name)
                        .text("value", &p.value.lexical())
                        .text("type", p.value.type_name())
                        .finish()
                }),
            )
    }
}

impl ConfigurationAnswer {
    fn read_from(fields: &mut Fields) -> Result<Self, FrameError> {
        let seq_number = seq_number(fields)?;
        let uuid = fields.text("uuid", UUID)?;
        let ret_code = ret_code(fields)?;
        let fault = match fields.optional_object("fault")? {
            None => None,
            Some(mut f) => {
                let fault_code = read_fault_code(&mut f)?;
                let fault_string = f.text("faultString", FAULT_STRING)?;
                let set_parameter_values_fault =
                    f.list("faults", limits::MAX_PARAMETERS, |mut item| {
                        let parameter_name = item.text("name", PARAMETER_NAME)?;
                        let fault_code = read_fault_code(&mut item)?;
                        let fault_string = item.text("faultString", FAULT_STRING)?;
                        item.finish()?;
                        Ok(SetParameterValuesFault {
                            parameter_name,
                            fault_code,
                            fault_string,
                        })
                    })?;
                f.finish()?;
                Some(Fault {
                    fault_code,
                    fault_string,
                    set_parameter_values_fault,
                })
            }
        };
        Ok(Self {
            seq_number,
            uuid,
            ret_code,
            fault,
        })
    }

    fn write_to(&self, w: ObjectWriter) -> ObjectWriter {
        let w = w
            .int("seqNumber", self.seq_number)
            .text("uuid", &self.uuid)
            .int("retCode", self.ret_code.0);
        match &self.fault {
            None => w,
            Some(fault) => w.raw(
                "fault",
                &ObjectWriter::new()
                    .int("faultCode", fault.fault_code.code())
                    .text("faultString", &fault.fault_string)
                    .list(
                        "faults",
                        fault.set_parameter_values_fault.iter().map(|p| {
                            ObjectWriter::new()
                                .text("name", &p.parameter_name)
                                .int("faultCode", p.fault_code.code())
                                .text("faultString", &p.fault_string)
                                .finish()
                        }),
                    )
                    .finish(),
            ),
        }
    }
}

/// A CPE fault code (TR-069 Amd 6 Table 130: 9000-9899, standard, extension and vendor).
fn read_fault_code(fields: &mut Fields) -> Result<FaultCode, FrameError> {
    fields
        .number("faultCode", 9000, 9899)
        .map(FaultCode::from_code)
}

impl Report {
    fn read_from(fields: &mut Fields) -> Result<Self, FrameError> {
        let mut c = fields.object("cloud")?;
        let domain = c.text(
            "domain",
            Text {
                empty: false,
                max: super::MAX_DOMAIN_LEN,
                chars: Chars::Token,
            },
        )?;
        let port = c.number("port", 0, u16::MAX)?;
        let keepalive = c.number("keepalive", 0, u16::MAX)?;
        let ping = c.number("ping", 0, u16::MAX)?;
        c.finish()?;
        let cloud = CloudSettings::new(domain, port, keepalive, ping)?;

        let mut s = fields.object("cwmp")?;
        let acs_url = s.text("acsUrl", ACS_URL)?;
        let acs_url_source = s.text("acsUrlSource", SOURCE)?;
        let last_inform = s
            .optional_text("lastInform", DATE_TIME)?
            .map(|text| {
                text.parse::<DateTime>().map_err(|_| FrameError::Invalid {
                    field: "lastInform",
                    expected: "an xsd:dateTime",
                })
            })
            .transpose()?;
        let provisioning_code = s.text("provisioningCode", PROVISIONING_CODE)?;
        s.finish()?;
        Ok(Self {
            cloud,
            cwmp: CwmpState {
                acs_url,
                acs_url_source,
                last_inform,
                provisioning_code,
            },
        })
    }

    fn write_to(&self, w: ObjectWriter) -> ObjectWriter {
        let cloud = ObjectWriter::new()
            .text("domain", self.cloud.domain())
            .int("port", self.cloud.port())
            .int("keepalive", self.cloud.keepalive())
            .int("ping", self.cloud.ping())
            .finish();
        let last_inform = self.cwmp.last_inform.map(|t| t.to_string());
        let cwmp = ObjectWriter::new()
            .text("acsUrl", &self.cwmp.acs_url)
            .text("acsUrlSource", &self.cwmp.acs_url_source)
            .optional_text("lastInform", last_inform.as_deref())
            .text("provisioningCode", &self.cwmp.provisioning_code)
            .finish();
        w.raw("cloud", &cloud).raw("cwmp", &cwmp)
    }
}
