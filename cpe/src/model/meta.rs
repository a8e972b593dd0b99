//! What the device knows about one parameter: its type, access, notification rules, bounds,
//! default and backend. Built once per profile and shared by every device that uses it.

use schemas::model::ActiveNotify;
use schemas::rpc::types::Notification;
use schemas::value::{DateTime, Value, XsdType};

use super::error::ValueError;

/// The metadata of one parameter template (`Device.WiFi.SSID.{i}.SSID`), shared by every
/// instance and every device built from the same [`Profile`](super::Profile).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParameterMeta {
    /// The value type on the wire (TR-069 Amd 6 Table 12, A.2.1).
    pub ty: XsdType,
    /// Whether SetParameterValues may change it (A.3.2.1; a read-only one answers 9008).
    pub writable: bool,
    /// Always sent in the Inform's ParameterList (TR-181 `forcedInform`, TR-069 §3.7.1.5).
    pub forced_inform: bool,
    /// The active-notification rule (TR-106 `activeNotify`, A.3.2.4 fault 9009).
    pub active_notify: ActiveNotify,
    /// Reads back as an empty string (TR-181 `hidden`; passwords).
    pub hidden: bool,
    /// Inclusive range of a numeric value (for a comma-separated list, of each item).
    pub range: Option<(i64, i64)>,
    /// Longest string, in characters (or binary value, in bytes).
    pub max_length: Option<u32>,
    /// The values an enumerated string may take; empty for any. A comma-separated value is
    /// checked item by item (TR-106 lists of enumerated strings).
    pub enumeration: Vec<String>,
    /// The value of a new instance (AddObject, A.3.2.6) and of a parameter the profile gives
    /// no value.
    pub default: Value,
    /// The Notification attribute a device starts with (A.3.2.4); `forceEnabled` and
    /// `forceDefaultEnabled` parameters start active whatever this says.
    pub notification: Notification,
    /// Where the value lives.
    pub backend: Backend,
    /// When a change takes effect.
    pub apply: Apply,
}

impl ParameterMeta {
    /// Metadata for a read-only stored parameter of type `ty`, everything else at its default.
    pub fn new(ty: XsdType) -> Self {
        Self {
            ty,
            writable: false,
            forced_inform: false,
            active_notify: ActiveNotify::Normal,
            hidden: false,
            range: None,
            max_length: None,
            enumeration: Vec::new(),
            default: zero(ty),
            notification: Notification::Off,
            backend: Backend::Stored,
            apply: Apply::Immediate,
        }
    }

    /// Takes `value` as this parameter's new value: converts it to the parameter's type and
    /// checks its bounds.
    ///
    /// A value of another `xsi:type` is taken when its text reads as this type (`"5"` as
    /// `xsd:string` for an `unsignedInt`), as lenient ACSes send strings; otherwise it is
    /// [`ValueError::WrongType`] (fault 9006). Bounds failures are fault 9007.
    pub fn check(&self, value: &Value) -> Result<Value, ValueError> {
        let value = coerce(self.ty, value)?;
        self.check_bounds(&value)?;
        Ok(value)
    }

    /// Checks range, length and enumeration of a value already of this type.
    pub(crate) fn check_bounds(&self, value: &Value) -> Result<(), ValueError> {
        if let Some((min, max)) = self.range {
            let out = |n: i128| n < i128::from(min) || n > i128::from(max);
            let bad = match value {
                Value::String(text) => text
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .any(|item| item.parse::<i128>().is_ok_and(out)),
                other => integer(other).is_some_and(out),
            };
            if bad {
                return Err(ValueError::OutOfRange {
                    value: value.lexical().into_owned(),
                    min,
                    max,
                });
            }
        }
        if let Some(max) = self.max_length {
            let len = match value {
                Value::String(s) => s.chars().count(),
                Value::Base64(b) | Value::HexBinary(b) => b.len(),
                _ => 0,
            };
            if len > max as usize {
                return Err(ValueError::TooLong { len, max });
            }
        }
        if !self.enumeration.is_empty()
            && let Value::String(text) = value
        {
            let unknown = text
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .find(|item| !self.enumeration.iter().any(|e| e == item));
            if let Some(item) = unknown {
                return Err(ValueError::NotInEnumeration {
                    value: item.to_owned(),
                    allowed: self.enumeration.clone(),
                });
            }
        }
        Ok(())
    }

    /// The Notification attribute of a parameter no one has changed yet.
    pub(crate) fn initial_notification(&self) -> Notification {
        match self.active_notify {
            ActiveNotify::ForceEnabled | ActiveNotify::ForceDefaultEnabled => Notification::Active,
            ActiveNotify::Normal | ActiveNotify::CanDeny => self.notification,
        }
    }

    /// Whether the value can change without a SetParameterValues (it comes from the host or a
    /// command), so changes must be looked for (§3.2.1 value change, A.3.2.4).
    pub(crate) fn is_dynamic(&self) -> bool {
        !matches!(self.backend, Backend::Stored)
    }
}

/// Where a parameter's value lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Kept in the model and persisted ([`ModelState`](super::ModelState)).
    Stored,
    /// Read from the host through the injected [`Host`](super::Host); read-only.
    Computed(Computed),
    /// Read and written by running commands through the injected
    /// [`Commands`](super::Commands); the last value set is also stored, and is what a read
    /// answers when there is no `get` command or it fails.
    External(External),
}

/// A value the host computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Computed {
    /// Seconds since boot (`DeviceInfo.UpTime`).
    UpTime,
    /// The current time (`Time.CurrentLocalTime`).
    CurrentTime,
    /// The running firmware's version (`DeviceInfo.SoftwareVersion`); the profile's value
    /// when the host does not know it.
    SoftwareVersion,
    /// The IPv4 address of the OS interface named by the `Name` parameter of the nearest
    /// enclosing instance (`IP.Interface.{i}.Name`); empty when the host has none.
    InterfaceAddress,
    /// The number of instances of the sibling table (`SSIDNumberOfEntries` counts `SSID.`);
    /// given automatically to every `<Table>NumberOfEntries` parameter of a table the profile
    /// has.
    NumberOfEntries,
    /// The device's ParameterKey (A.3.2.1): given automatically to
    /// `<root>.ManagementServer.ParameterKey`.
    ParameterKey,
}

impl Computed {
    /// The names a profile uses, in the order of the variants.
    pub const NAMES: &'static [&'static str] = &[
        "uptime",
        "current_time",
        "software_version",
        "interface_address",
        "number_of_entries",
        "parameter_key",
    ];

    /// The source a profile names `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "uptime" => Self::UpTime,
            "current_time" => Self::CurrentTime,
            "software_version" => Self::SoftwareVersion,
            "interface_address" => Self::InterfaceAddress,
            "number_of_entries" => Self::NumberOfEntries,
            "parameter_key" => Self::ParameterKey,
            _ => return None,
        })
    }
}

/// Commands that read and write a parameter. Each is an argv (no shell); in every argument
/// `{name}` becomes the parameter's full name, `{1}`..`{9}` the instance numbers in it (in
/// order), and, in `set`, `{value}` the new value's text. The `get` command prints the value
/// on standard output (surrounding whitespace is ignored). The value reaches the command as
/// one argument, never through a shell, unless the profile itself runs one (`sh -c`), which
/// would let a value inject commands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct External {
    /// Prints the value; empty to read the stored value instead.
    pub get: Vec<String>,
    /// Applies a new value; empty to only store it.
    pub set: Vec<String>,
}

/// When a change of the parameter takes effect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Apply {
    /// At once, within the session.
    #[default]
    Immediate,
    /// After the session (it would cut the connection, e.g. WAN addressing):
    /// SetParameterValues answers Status 1 (A.3.2.1) and the agent applies the change after
    /// the session ([`DataModel::take_deferred`](super::DataModel::take_deferred)).
    Deferred,
}

/// The value a parameter of type `ty` has when nothing gives it one.
pub(crate) fn zero(ty: XsdType) -> Value {
    match ty {
        XsdType::String => Value::String(String::new()),
        XsdType::Int => Value::Int(0),
        XsdType::UnsignedInt => Value::UnsignedInt(0),
        XsdType::Long => Value::Long(0),
        XsdType::UnsignedLong => Value::UnsignedLong(0),
        XsdType::Boolean => Value::Boolean(false),
        XsdType::DateTime => Value::DateTime(DateTime::UNKNOWN),
        XsdType::Base64 => Value::Base64(Vec::new()),
        XsdType::HexBinary => Value::HexBinary(Vec::new()),
    }
}

/// Why `value` cannot be an instance's `Alias` (TR-069 Amd 6 §3.6.1, TR-181 `Alias` data
/// type: at most 64 characters, starting with a letter), or `None` if it can. The characters
/// are limited to those an `[alias]` path segment may hold.
pub(crate) fn alias_problem(value: &str) -> Option<&'static str> {
    let mut bytes = value.bytes();
    match bytes.next() {
        None => Some("an alias cannot be empty"),
        Some(first) if !first.is_ascii_alphabetic() => Some("an alias starts with a letter"),
        Some(_) if value.len() > 64 => Some("an alias has at most 64 characters"),
        Some(_) if !bytes.all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b)) => {
            Some("an alias holds only letters, digits, `_` and `-`")
        }
        Some(_) => None,
    }
}

/// Whether `value` is already of type `ty`.
fn has_type(value: &Value, ty: XsdType) -> bool {
    matches!(
        (value, ty),
        (Value::String(_), XsdType::String)
            | (Value::Int(_), XsdType::Int)
            | (Value::UnsignedInt(_), XsdType::UnsignedInt)
            | (Value::Long(_), XsdType::Long)
            | (Value::UnsignedLong(_), XsdType::UnsignedLong)
            | (Value::Boolean(_), XsdType::Boolean)
            | (Value::DateTime(_), XsdType::DateTime)
            | (Value::Base64(_), XsdType::Base64)
            | (Value::HexBinary(_), XsdType::HexBinary)
    )
}

/// Converts `value` to type `ty` through its text, or says why it cannot be taken.
pub(crate) fn coerce(ty: XsdType, value: &Value) -> Result<Value, ValueError> {
    if has_type(value, ty) {
        return Ok(value.clone());
    }
    let wrong = || ValueError::WrongType {
        expected: ty,
        given: value.type_name().to_owned(),
        text: value.lexical().into_owned(),
    };
    if let Value::Invalid { .. } = value {
        return Err(wrong());
    }
    match Value::parse(ty, &value.lexical()) {
        Value::Invalid { .. } => Err(wrong()),
        taken => Ok(taken),
    }
}

/// The integer a numeric value holds.
fn integer(value: &Value) -> Option<i128> {
    Some(match value {
        Value::Int(n) => i128::from(*n),
        Value::UnsignedInt(n) => i128::from(*n),
        Value::Long(n) => i128::from(*n),
        Value::UnsignedLong(n) => i128::from(*n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(ty: XsdType) -> ParameterMeta {
        ParameterMeta::new(ty)
    }

    #[test]
    fn strings_that_read_as_the_type_are_taken_and_others_are_wrong_type() {
        let m = meta(XsdType::UnsignedInt);
        assert_eq!(m.check(&Value::from("42")), Ok(Value::UnsignedInt(42)));
        assert_eq!(m.check(&Value::Int(7)), Ok(Value::UnsignedInt(7)));
        assert!(matches!(
            m.check(&Value::from("abc")),
            Err(ValueError::WrongType { .. })
        ));
        assert!(matches!(
            m.check(&Value::Int(-1)),
            Err(ValueError::WrongType { .. })
        ));
        let invalid = Value::parse(XsdType::Boolean, "maybe");
        assert!(matches!(
            meta(XsdType::String).check(&invalid),
            Err(ValueError::WrongType { .. })
        ));
        assert_eq!(
            meta(XsdType::String).check(&Value::Boolean(true)),
            Ok(Value::from("true"))
        );
    }

    #[test]
    fn bounds_give_out_of_range_too_long_and_not_in_enumeration() {
        let mut m = meta(XsdType::UnsignedInt);
        m.range = Some((10, 600));
        assert!(m.check(&Value::UnsignedInt(600)).is_ok());
        assert_eq!(
            m.check(&Value::UnsignedInt(601)),
            Err(ValueError::OutOfRange {
                value: "601".into(),
                min: 10,
                max: 600
            })
        );
        let mut s = meta(XsdType::String);
        s.max_length = Some(3);
        assert_eq!(
            s.check(&Value::from("abcd")),
            Err(ValueError::TooLong { len: 4, max: 3 })
        );
        s.max_length = None;
        s.enumeration = vec!["HTTP".into(), "STUN".into()];
        assert!(s.check(&Value::from("HTTP,STUN")).is_ok());
        assert!(matches!(
            s.check(&Value::from("HTTP,FTP")),
            Err(ValueError::NotInEnumeration { value, .. }) if value == "FTP"
        ));
    }
}
