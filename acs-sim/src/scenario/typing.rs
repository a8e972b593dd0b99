//! TOML values to typed CWMP values (TR-069 Amd 6 A.2.1 Table 12), checked against the TR-181
//! metadata of `schemas::model` when the parameter is a standard `Device:2` one.

use schemas::model::{self, ParameterInfo};
use schemas::value::{Value, XsdType};

/// A value to set, typed two ways: by its TOML form alone, and by TR-181 when the parameter is
/// in the standard `Device:2` model.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Typed {
    plain: Value,
    tr181: Option<Value>,
}

impl Typed {
    /// The value for a parameter of a TR-181 (`Device.`) tree, else of any other tree.
    pub(super) fn get(&self, tr181_tree: bool) -> &Value {
        match &self.tr181 {
            Some(value) if tr181_tree => value,
            _ => &self.plain,
        }
    }
}

/// Types `value` (its strings already expanded). `tr181_name` is the parameter's full name if
/// it is set in a `Device.` tree: when TR-181 knows it, the value must fit its type, range,
/// enumeration and length, and the parameter must be writable.
pub(super) fn typed(tr181_name: Option<&str>, value: &toml::Value) -> Result<Typed, String> {
    let plain = plain(value)?;
    let info = tr181_name
        .and_then(|name| model::parameter(&model::template_of(name)).map(|info| (name, info)));
    let tr181 = match info {
        Some((name, info)) => Some(fit(name, info, &plain)?),
        None => None,
    };
    Ok(Typed { plain, tr181 })
}

/// The value its TOML form gives: a boolean is `xsd:boolean`; an integer `xsd:unsignedInt`
/// (or `unsignedLong` beyond 32 bits) when not negative, else `xsd:int` (or `long`); a string
/// `xsd:string`; an offset date-time `xsd:dateTime`.
fn plain(value: &toml::Value) -> Result<Value, String> {
    Ok(match value {
        toml::Value::Boolean(b) => Value::Boolean(*b),
        toml::Value::Integer(n) => {
            match (u32::try_from(*n), i32::try_from(*n), u64::try_from(*n)) {
                (Ok(n), _, _) => Value::UnsignedInt(n),
                (_, _, Ok(n)) => Value::UnsignedLong(n),
                (_, Ok(n), _) => Value::Int(n),
                _ => Value::Long(*n),
            }
        }
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Datetime(t) => match Value::parse(XsdType::DateTime, &t.to_string()) {
            Value::Invalid { .. } => {
                return Err(format!(
                    "{t} is not a TR-069 dateTime (a date, a time and an offset)"
                ));
            }
            value => value,
        },
        toml::Value::Float(_) | toml::Value::Array(_) | toml::Value::Table(_) => {
            return Err(format!(
                "a value must be a boolean, an integer, a string or a date-time, got {}",
                value.type_str()
            ));
        }
    })
}

/// `value` as TR-181 types parameter `name`: its text read as the model's type, then checked
/// against the model's bounds. A list's range and enumeration apply per item and are left to
/// the CPE.
fn fit(name: &str, info: &ParameterInfo, value: &Value) -> Result<Value, String> {
    if !info.writable {
        return Err(format!("{name} is read-only in TR-181"));
    }
    let lexical = value.lexical();
    let typed = Value::parse(info.ty, &lexical);
    if let Value::Invalid { .. } = typed {
        return Err(format!(
            "{name} is {} in TR-181, got {} {lexical:?}",
            info.ty,
            value.type_name()
        ));
    }
    if let (Some((low, high)), Some(n)) = (info.range, number(&typed))
        && !info.is_list()
        && !(i128::from(low)..=i128::from(high)).contains(&n)
    {
        return Err(format!("{name} must be {low}..={high} (TR-181), got {n}"));
    }
    if !info.enumeration.is_empty() && !info.is_list() && !info.enumeration.contains(&&*lexical) {
        return Err(format!(
            "{name} must be one of {:?} (TR-181), got {lexical:?}",
            info.enumeration
        ));
    }
    let length = lexical.chars().count();
    if let Some(max) = info.max_length.filter(|&max| length > max as usize) {
        return Err(format!(
            "{name} is at most {max} characters (TR-181), got {length}"
        ));
    }
    Ok(typed)
}

fn number(value: &Value) -> Option<i128> {
    match value {
        Value::Int(n) => Some((*n).into()),
        Value::UnsignedInt(n) => Some((*n).into()),
        Value::Long(n) => Some((*n).into()),
        Value::UnsignedLong(n) => Some((*n).into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toml_value(text: &str) -> toml::Value {
        let table: toml::Table = toml::from_str(&format!("v = {text}")).unwrap();
        table["v"].clone()
    }

    #[test]
    fn toml_forms_give_their_own_types_outside_tr181() {
        let cases = [
            ("true", Value::Boolean(true)),
            ("300", Value::UnsignedInt(300)),
            ("5000000000", Value::UnsignedLong(5_000_000_000)),
            ("-3", Value::Int(-3)),
            ("-5000000000", Value::Long(-5_000_000_000)),
            ("\"LAB\"", Value::String("LAB".into())),
        ];
        for (text, want) in cases {
            let typed = typed(None, &toml_value(text)).unwrap();
            assert_eq!(typed.get(true), &want, "{text}");
        }
        let date = typed(None, &toml_value("2026-01-02T03:04:05Z")).unwrap();
        assert_eq!(date.get(false).type_name(), "dateTime");
    }

    #[test]
    fn tr181_parameters_take_the_model_type_in_a_device_tree_only() {
        let name = Some("Device.ManagementServer.PeriodicInformInterval");
        let typed = typed(name, &toml_value("\"300\"")).unwrap();
        assert_eq!(typed.get(true), &Value::UnsignedInt(300));
        assert_eq!(typed.get(false), &Value::String("300".into()));
        let unknown = super::typed(Some("Device.X_VENDOR_Knob"), &toml_value("-1")).unwrap();
        assert_eq!(unknown.get(true), &Value::Int(-1));
    }

    #[test]
    fn values_outside_the_tr181_rules_are_refused_with_the_rule() {
        let cases = [
            (
                "Device.DeviceInfo.SerialNumber",
                "\"X\"",
                "Device.DeviceInfo.SerialNumber is read-only in TR-181",
            ),
            (
                "Device.ManagementServer.PeriodicInformEnable",
                "\"yes\"",
                "Device.ManagementServer.PeriodicInformEnable is boolean in TR-181, got string \"yes\"",
            ),
            (
                "Device.ManagementServer.PeriodicInformInterval",
                "0",
                "Device.ManagementServer.PeriodicInformInterval must be 1..=4294967295 (TR-181), got 0",
            ),
            (
                "Device.DeviceInfo.ProvisioningCode",
                &format!("\"{}\"", "x".repeat(65)),
                "Device.DeviceInfo.ProvisioningCode is at most 64 characters (TR-181), got 65",
            ),
        ];
        for (name, value, want) in cases {
            assert_eq!(typed(Some(name), &toml_value(value)).unwrap_err(), want);
        }
        assert_eq!(
            typed(
                Some("Device.ManagementServer.InstanceMode"),
                &toml_value("\"Number\"")
            )
            .unwrap_err(),
            "Device.ManagementServer.InstanceMode must be one of [\"InstanceNumber\", \"InstanceAlias\"] (TR-181), got \"Number\""
        );
    }

    #[test]
    fn floats_and_arrays_are_not_values() {
        assert_eq!(
            typed(None, &toml_value("1.5")).unwrap_err(),
            "a value must be a boolean, an integer, a string or a date-time, got float"
        );
        assert!(typed(None, &toml_value("[1]")).is_err());
    }
}
