//! Event codes (TR-069 Amd 6 §3.7.1.5, Table 7; XSD `EventCodeType`).

use std::fmt;
use std::str::FromStr;

/// The longest event code the schema allows.
pub const MAX_EVENT_CODE_LEN: usize = 64;

macro_rules! standard_events {
    ($( $(#[$doc:meta])* $variant:ident = $text:literal ),* $(,)?) => {
        /// An `EventStruct/EventCode`.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum EventCode {
            $( $(#[$doc])* $variant, )*
            /// `M <Method>`: completion of a method call; holds the method name
            /// (`M Reboot` is `Method("Reboot")`).
            Method(String),
            /// A vendor event, `X <OUI> <event>`, held whole.
            Vendor(String),
            /// Any other code, held whole (a code from a later amendment, or malformed text
            /// read leniently).
            Other(String),
        }

        impl EventCode {
            /// The code as written on the wire.
            pub fn as_str(&self) -> std::borrow::Cow<'_, str> {
                use std::borrow::Cow;
                match self {
                    $( Self::$variant => Cow::Borrowed($text), )*
                    Self::Method(m) => Cow::Owned(format!("M {m}")),
                    Self::Vendor(s) | Self::Other(s) => Cow::Borrowed(s),
                }
            }

            /// Reads a code leniently: anything that is not a standard, method or vendor code
            /// is kept as [`EventCode::Other`].
            pub fn lenient(text: &str) -> Self {
                let t = text.trim();
                match t {
                    $( $text => Self::$variant, )*
                    _ => match t.strip_prefix("M ") {
                        Some(method) if !method.is_empty() => Self::Method(method.to_owned()),
                        _ if t.starts_with("X ") => Self::Vendor(t.to_owned()),
                        _ => Self::Other(t.to_owned()),
                    },
                }
            }
        }
    };
}

standard_events! {
    /// `0 BOOTSTRAP`: first contact, or the ACS URL changed.
    Bootstrap = "0 BOOTSTRAP",
    /// `1 BOOT`: power-on or reboot.
    Boot = "1 BOOT",
    /// `2 PERIODIC`: periodic Inform.
    Periodic = "2 PERIODIC",
    /// `3 SCHEDULED`: a ScheduleInform fired.
    Scheduled = "3 SCHEDULED",
    /// `4 VALUE CHANGE`: a notified parameter changed.
    ValueChange = "4 VALUE CHANGE",
    /// `5 KICKED`: the Kicked RPC.
    Kicked = "5 KICKED",
    /// `6 CONNECTION REQUEST`: a valid Connection Request.
    ConnectionRequest = "6 CONNECTION REQUEST",
    /// `7 TRANSFER COMPLETE`: a Download or Upload finished.
    TransferComplete = "7 TRANSFER COMPLETE",
    /// `8 DIAGNOSTICS COMPLETE`: an ACS-started diagnostic finished.
    DiagnosticsComplete = "8 DIAGNOSTICS COMPLETE",
    /// `9 REQUEST DOWNLOAD`: the CPE will call RequestDownload.
    RequestDownload = "9 REQUEST DOWNLOAD",
    /// `10 AUTONOMOUS TRANSFER COMPLETE`.
    AutonomousTransferComplete = "10 AUTONOMOUS TRANSFER COMPLETE",
    /// `11 DU STATE CHANGE COMPLETE`.
    DuStateChangeComplete = "11 DU STATE CHANGE COMPLETE",
    /// `12 AUTONOMOUS DU STATE CHANGE COMPLETE`.
    AutonomousDuStateChangeComplete = "12 AUTONOMOUS DU STATE CHANGE COMPLETE",
    /// `13 WAKEUP`: wake-up from standby (Annex L, CWMP 1.4).
    Wakeup = "13 WAKEUP",
    /// `14 HEARTBEAT`: heartbeat (Annex O, Amd 6).
    Heartbeat = "14 HEARTBEAT",
}

/// Text that is not a valid event code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an event code (`<n> <NAME>`, `M <Method>` or `X <OUI> <event>`, <= 64 chars)"
)]
pub struct InvalidEventCode(pub String);

impl FromStr for EventCode {
    type Err = InvalidEventCode;

    /// Reads a code strictly, by the XSD's patterns: `\d+( \S+)+`, `M \S+`, `X \S+ .+`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidEventCode(s.chars().take(80).collect());
        if s.len() > MAX_EVENT_CODE_LEN || s != s.trim() {
            return Err(bad());
        }
        let (head, rest) = s.split_once(' ').ok_or_else(bad)?;
        let words_ok = !rest.is_empty() && rest.split(' ').all(|w| !w.is_empty());
        let valid = match head {
            "M" => !rest.contains(char::is_whitespace) && !rest.is_empty(),
            "X" => rest
                .split_once(' ')
                .is_some_and(|(oui, event)| !oui.is_empty() && !event.is_empty()),
            _ => head.bytes().all(|b| b.is_ascii_digit()) && words_ok,
        };
        if valid {
            Ok(Self::lenient(s))
        } else {
            Err(bad())
        }
    }
}

impl Default for EventCode {
    /// An empty [`EventCode::Other`]: what an `EventStruct` without an `EventCode` reads as.
    fn default() -> Self {
        Self::Other(String::new())
    }
}

impl fmt::Display for EventCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_method_and_vendor_codes_parse() {
        assert_eq!(
            "0 BOOTSTRAP".parse::<EventCode>().unwrap(),
            EventCode::Bootstrap
        );
        assert_eq!(
            "14 HEARTBEAT".parse::<EventCode>().unwrap(),
            EventCode::Heartbeat
        );
        assert_eq!(
            "M Reboot".parse::<EventCode>().unwrap(),
            EventCode::Method("Reboot".into())
        );
        assert_eq!(
            "X 00D09E BOOT DONE".parse::<EventCode>().unwrap(),
            EventCode::Vendor("X 00D09E BOOT DONE".into())
        );
        assert_eq!(
            EventCode::Method("Download".into()).to_string(),
            "M Download"
        );
    }

    #[test]
    fn strict_parse_refuses_what_lenient_keeps() {
        for bad in [
            "BOOT",
            "0BOOTSTRAP",
            "M ",
            "M two words",
            "X OUI",
            " 1 BOOT",
            "",
        ] {
            assert!(bad.parse::<EventCode>().is_err(), "{bad}");
        }
        assert_eq!(EventCode::lenient("BOOT"), EventCode::Other("BOOT".into()));
        assert_eq!(EventCode::lenient(" 1 BOOT "), EventCode::Boot);
    }
}
