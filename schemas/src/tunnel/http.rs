//! The HTTP steps before the WebSocket: the CAS-style authentication (PROTOCOL.md §4.3, after
//! the Apereo CAS REST protocol) and the registration (this project's body layout). JSON
//! bodies are read as strictly as frames; the CAS steps use HTML form bodies, written and read
//! by [`form_encode`] and [`form_decode`].

use std::fmt::Write as _;

use super::frame::{RetCode, check_ws_url};
use super::json::{Chars, Fields, ObjectWriter, Text};
use super::{FrameError, MAX_FRAME, limits};

/// `GET` here asks for the CAS URL; `GET ?ticket=<ST>` presents the service ticket.
pub const USERAUTH_PATH: &str = "/v3/base/userauth";
/// `POST` here registers the device and answers the WebSocket URL.
pub const REGISTER_PATH: &str = "/v3/base/register";
/// The CAS REST path that issues ticket-granting tickets (`POST`, form `username`,
/// `password`); the cloud's `cas_url` names it in full.
pub const CAS_TICKETS_PATH: &str = "/v1/tickets";

/// The answer to `GET /v3/base/userauth` without a session:
/// `{"cas_url","cas_protocol","ignore_cas"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CasInfo {
    /// `cas_url`: where to post credentials for a TGT (`http(s)://<cas>/v1/tickets`).
    pub cas_url: String,
    /// `cas_protocol`: 1 when the CAS is reached over HTTPS, 0 over HTTP.
    pub cas_https: bool,
    /// `ignore_cas`: 1 or 0, passed through (the 2017 server always sends 1).
    pub ignore_cas: bool,
}

/// The answer to `GET /v3/base/userauth?ticket=<ST>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthAnswer {
    /// `{"sessionid"}`: the device is authenticated; the id is the frames' `tokenID`.
    Session {
        /// `sessionid`.
        session_id: String,
    },
    /// `{"retCode","reason"}` (this project's layout, retCode not 0): refused, e.g.
    /// [`RetCode::UNKNOWN_DEVICE`] for a serial the cloud does not know.
    Refused {
        /// `retCode`.
        ret_code: RetCode,
        /// `reason`: 0-256 printable characters.
        reason: String,
    },
}

/// `POST /v3/base/register` (this project's layout): `{"devSN","tokenID","devModel"?,
/// "swVersion"?}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisterRequest {
    /// `devSN`.
    pub dev_sn: String,
    /// `tokenID`: the session id from [`AuthAnswer::Session`].
    pub token_id: String,
    /// `devModel`: the product class or model name, 1-64 printable characters.
    pub dev_model: Option<String>,
    /// `swVersion`: the software version, 1-64 printable characters.
    pub sw_version: Option<String>,
}

/// The answer to [`RegisterRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterAnswer {
    /// `{"retCode":0,"wsUrl"}`: open the main link at this URL.
    Accepted {
        /// `wsUrl`: `ws://` or `wss://`.
        ws_url: String,
    },
    /// `{"retCode","reason"}`, retCode not 0.
    Refused {
        /// `retCode`.
        ret_code: RetCode,
        /// `reason`.
        reason: String,
    },
}

const SESSION_ID: Text = Text {
    empty: false,
    max: limits::MAX_TOKEN_LEN,
    chars: Chars::Token,
};
const REASON: Text = Text {
    empty: true,
    max: limits::MAX_FAULT_STRING_LEN,
    chars: Chars::Printable,
};
const DESCRIPTION: Text = Text {
    empty: false,
    max: 64,
    chars: Chars::Printable,
};
const SERIAL: Text = Text {
    empty: false,
    max: limits::MAX_SERIAL_LEN,
    chars: Chars::Token,
};

impl super::frame::Object for CasInfo {
    fn read(mut fields: Fields) -> Result<Self, FrameError> {
        let cas_url = fields.text("cas_url", super::frame::URL)?;
        let rest = cas_url
            .strip_prefix("https://")
            .or_else(|| cas_url.strip_prefix("http://"));
        if !rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/')) {
            return Err(FrameError::Invalid {
                field: "cas_url",
                expected: "an http:// or https:// URL with a host",
            });
        }
        let cas_https = fields.number("cas_protocol", 0u8, 1)? == 1;
        let ignore_cas = fields.number("ignore_cas", 0u8, 1)? == 1;
        fields.finish()?;
        Ok(Self {
            cas_url,
            cas_https,
            ignore_cas,
        })
    }

    fn write(&self) -> String {
        ObjectWriter::new()
            .text("cas_url", &self.cas_url)
            .int("cas_protocol", u8::from(self.cas_https))
            .int("ignore_cas", u8::from(self.ignore_cas))
            .finish()
    }
}

/// Reads `{"retCode","reason"}` with a retCode other than 0.
fn refusal(fields: &mut Fields) -> Result<(RetCode, String), FrameError> {
    let ret_code = fields.number("retCode", 1, u32::MAX).map(RetCode)?;
    let reason = fields.text("reason", REASON)?;
    Ok((ret_code, reason))
}

fn write_refusal(ret_code: RetCode, reason: &str) -> String {
    ObjectWriter::new()
        .int("retCode", ret_code.0)
        .text("reason", reason)
        .finish()
}

impl super::frame::Object for AuthAnswer {
    fn read(mut fields: Fields) -> Result<Self, FrameError> {
        let answer = match fields.optional_text("sessionid", SESSION_ID)? {
            Some(session_id) => Self::Session { session_id },
            None => {
                let (ret_code, reason) = refusal(&mut fields)?;
                Self::Refused { ret_code, reason }
            }
        };
        fields.finish()?;
        Ok(answer)
    }

    fn write(&self) -> String {
        match self {
            Self::Session { session_id } => {
                ObjectWriter::new().text("sessionid", session_id).finish()
            }
            Self::Refused { ret_code, reason } => write_refusal(*ret_code, reason),
        }
    }
}

impl super::frame::Object for RegisterRequest {
    fn read(mut fields: Fields) -> Result<Self, FrameError> {
        let request = Self {
            dev_sn: fields.text("devSN", SERIAL)?,
            token_id: fields.text("tokenID", SESSION_ID)?,
            dev_model: fields.optional_text("devModel", DESCRIPTION)?,
            sw_version: fields.optional_text("swVersion", DESCRIPTION)?,
        };
        fields.finish()?;
        Ok(request)
    }

    fn write(&self) -> String {
        ObjectWriter::new()
            .text("devSN", &self.dev_sn)
            .text("tokenID", &self.token_id)
            .optional_text("devModel", self.dev_model.as_deref())
            .optional_text("swVersion", self.sw_version.as_deref())
            .finish()
    }
}

impl super::frame::Object for RegisterAnswer {
    fn read(mut fields: Fields) -> Result<Self, FrameError> {
        let answer = if fields.peek_int("retCode") == Some(0) {
            fields.number("retCode", 0u32, 0)?;
            let ws_url = fields.text("wsUrl", super::frame::URL)?;
            check_ws_url("wsUrl", &ws_url)?;
            Self::Accepted { ws_url }
        } else {
            let (ret_code, reason) = refusal(&mut fields)?;
            Self::Refused { ret_code, reason }
        };
        fields.finish()?;
        Ok(answer)
    }

    fn write(&self) -> String {
        match self {
            Self::Accepted { ws_url } => ObjectWriter::new()
                .int("retCode", 0)
                .text("wsUrl", ws_url)
                .finish(),
            Self::Refused { ret_code, reason } => write_refusal(*ret_code, reason),
        }
    }
}

/// Writes `application/x-www-form-urlencoded` (WHATWG URL §5.2): letters, digits and `*-._`
/// as they are, space as `+`, every other byte as `%XX`.
pub fn form_encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        escape(&mut out, name);
        out.push('=');
        escape(&mut out, value);
    }
    out
}

fn escape(out: &mut String, text: &str) {
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            // Writing to a String cannot fail.
            _ => drop(write!(out, "%{byte:02X}")),
        }
    }
}

/// Reads `application/x-www-form-urlencoded` (WHATWG URL §5.1), strictly: a malformed `%`
/// escape or a name or value that is not UTF-8 once unescaped is an error, not replaced.
/// Bodies over [`MAX_FRAME`] bytes are refused.
pub fn form_decode(body: &[u8]) -> Result<Vec<(String, String)>, FrameError> {
    if body.len() > MAX_FRAME {
        return Err(FrameError::TooLarge {
            len: body.len(),
            max: MAX_FRAME,
        });
    }
    body.split(|&b| b == b'&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = match part.iter().position(|&b| b == b'=') {
                Some(at) => (&part[..at], &part[at + 1..]),
                None => (part, &[][..]),
            };
            Ok((unescape(name)?, unescape(value)?))
        })
        .collect()
}

fn unescape(text: &[u8]) -> Result<String, FrameError> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.iter();
    while let Some(&byte) = bytes.next() {
        out.push(match byte {
            b'+' => b' ',
            b'%' => {
                let hex = |b: Option<&u8>| b.and_then(|&b| char::from(b).to_digit(16));
                match (hex(bytes.next()), hex(bytes.next())) {
                    // Two hex digits make at most 0xff, so the fallback is never taken.
                    (Some(hi), Some(lo)) => u8::try_from(hi * 16 + lo).unwrap_or(u8::MAX),
                    _ => {
                        return Err(FrameError::Invalid {
                            field: "form",
                            expected: "a form body (`%` followed by two hex digits)",
                        });
                    }
                }
            }
            other => other,
        });
    }
    String::from_utf8(out).map_err(|e| FrameError::NotUtf8 {
        valid_up_to: e.utf8_error().valid_up_to(),
    })
}
