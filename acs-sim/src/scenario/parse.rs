//! Scenario TOML to checked [`Rule`]s. Each `[[rule]]` table is deserialized on its own, so an
//! error names the rule (index and name), the field and the line.

use std::fmt;

use schemas::path::{MAX_PATH_LEN, ParameterPath};
use schemas::rpc::{EventCode, ParameterKey};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::ScenarioError;
use super::rule::{
    ACS_URL, CR_PASSWORD, CR_USERNAME, CredentialsSpec, DeviceMatch, PERIODIC_ENABLE,
    PERIODIC_INTERVAL, Rule, is_absolute, relative,
};
use super::typing::{self, Typed};
use super::vars::expand;
use crate::store::Credentials;

/// The longest scenario text read.
pub const MAX_TEXT_BYTES: usize = 1 << 20;
/// The most values one rule sets (one SetParameterValues).
pub const MAX_VALUES: usize = 256;
/// The most paths one rule refreshes.
pub const MAX_REFRESH: usize = 64;
/// `periodic_inform_interval` bounds, in seconds (a second to a day).
const INTERVAL: std::ops::RangeInclusive<i64> = 1..=86_400;
/// The longest `acs_url`: `ManagementServer.URL` is `string(256)` in TR-098 (TR-181 allows
/// 2048; the smaller fits both).
const MAX_URL: usize = 256;
/// The longest Connection Request username or password (TR-181 `string(256)`).
const MAX_CREDENTIAL: usize = 256;

/// A `[[rule]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    on_event: Option<Events>,
    product_class: Option<String>,
    oui: Option<String>,
    manufacturer: Option<String>,
    serial: Option<String>,
    #[serde(default)]
    refresh: Vec<String>,
    periodic_inform_interval: Option<i64>,
    connection_request_credentials: Option<RawCredentials>,
    acs_url: Option<String>,
    #[serde(default)]
    set: toml::Table,
}

/// The rules of scenario `text`, with `{name}` placeholders filled from `vars`.
pub(super) fn rules(text: &str, vars: &[(&str, &str)]) -> Result<Vec<Rule>, ScenarioError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(ScenarioError::TooLarge {
            max: MAX_TEXT_BYTES,
            len: text.len(),
        });
    }
    let document = DeTable::parse(text).map_err(|e| ScenarioError::Syntax(e.to_string()))?;
    let mut tables = Vec::new();
    for (key, value) in document.get_ref() {
        match (key.get_ref().as_ref(), value.get_ref()) {
            ("rule", DeValue::Array(items)) => tables.extend(items.iter().cloned()),
            ("rule", _) => {
                return Err(ScenarioError::Document(
                    "`rule` must be an array of tables: write each rule as [[rule]]".to_owned(),
                ));
            }
            (other, _) => {
                return Err(ScenarioError::Document(format!(
                    "unknown top-level key `{other}`: a scenario has only [[rule]] tables"
                )));
            }
        }
    }
    let mut rules: Vec<Rule> = Vec::with_capacity(tables.len());
    for (i, table) in tables.into_iter().enumerate() {
        let index = i + 1;
        let at = |message: String, name: Option<String>| ScenarioError::Rule {
            index,
            name,
            message,
        };
        let fields = table.get_ref().as_table().cloned().unwrap_or_default();
        let name = field(&fields, "name")
            .and_then(|v| v.get_ref().as_str())
            .map(str::to_owned);
        let raw = RawRule::deserialize(ValueDeserializer::from(table))
            .map_err(|e| at(located(&e, &fields, text), name.clone()))?;
        let rule = check(raw, vars).map_err(|message| at(message, name.clone()))?;
        if let Some(first) = rules.iter().position(|r| r.name == rule.name) {
            return Err(at(
                format!("name must be unique, rule {} has it too", first + 1),
                name,
            ));
        }
        rules.push(rule);
    }
    Ok(rules)
}

fn field<'a, 'i>(table: &'a DeTable<'i>, name: &str) -> Option<&'a toml::Spanned<DeValue<'i>>> {
    table
        .iter()
        .find(|(key, _)| key.get_ref() == name)
        .map(|(_, value)| value)
}

/// A deserialization error with the field it is about and its line.
fn located(error: &toml::de::Error, fields: &DeTable<'_>, text: &str) -> String {
    let Some(span) = error.span() else {
        return error.message().to_owned();
    };
    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
    let field = fields
        .iter()
        .find(|(_, value)| value.span().contains(&span.start))
        .map(|(key, _)| format!("{}: ", key.get_ref()))
        .unwrap_or_default();
    format!("{field}{} (line {line})", error.message())
}

/// Checks a rule as written and builds it.
fn check(raw: RawRule, vars: &[(&str, &str)]) -> Result<Rule, String> {
    let expand_field = |field: &str, text: String| {
        expand(&text, vars).map_err(|message| format!("{field}: {message}"))
    };
    let key = ParameterKey::try_from(raw.name.clone())
        .ok()
        .filter(|_| !raw.name.is_empty())
        .ok_or_else(|| {
            format!(
                "name must be 1 to 32 characters (it is the ParameterKey of the rule's \
                 SetParameterValues), got {}",
                raw.name.chars().count()
            )
        })?;
    let events = match raw.on_event {
        None => Vec::new(),
        Some(Events(codes)) if codes.is_empty() => {
            return Err("on_event must name at least one event code".to_owned());
        }
        Some(Events(codes)) => codes
            .iter()
            .map(|code| code.parse::<EventCode>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("on_event: {e}"))?,
    };
    let optional =
        |field: &str, value: Option<String>| value.map(|v| expand_field(field, v)).transpose();
    let device = DeviceMatch {
        manufacturer: optional("manufacturer", raw.manufacturer)?,
        oui: optional("oui", raw.oui)?,
        product_class: optional("product_class", raw.product_class)?,
        serial: optional("serial", raw.serial)?,
    };
    if raw.refresh.len() > MAX_REFRESH {
        return Err(format!(
            "refresh lists at most {MAX_REFRESH} paths, got {}",
            raw.refresh.len()
        ));
    }
    for path in &raw.refresh {
        path_syntax(path).map_err(|e| format!("refresh {path:?}: {e}"))?;
    }
    let mut values = Values::default();
    for (path, value) in flatten(raw.set) {
        values.set(path, value, vars)?;
    }
    if let Some(interval) = raw.periodic_inform_interval {
        if !INTERVAL.contains(&interval) {
            return Err(format!(
                "periodic_inform_interval must be {}..={}, got {interval}",
                INTERVAL.start(),
                INTERVAL.end()
            ));
        }
        let origin = "periodic_inform_interval";
        values.add(origin, PERIODIC_ENABLE, &toml::Value::Boolean(true))?;
        values.add(origin, PERIODIC_INTERVAL, &toml::Value::Integer(interval))?;
    }
    let credentials = match raw.connection_request_credentials {
        None => None,
        Some(RawCredentials::Random) => Some(CredentialsSpec::Random),
        Some(RawCredentials::Fixed { username, password }) => {
            let field = "connection_request_credentials";
            let username = expand_field(field, username)?;
            let password = expand_field(field, password)?;
            if username.is_empty() || username.chars().count() > MAX_CREDENTIAL {
                return Err(format!(
                    "{field}.username must be 1 to {MAX_CREDENTIAL} characters, got {}",
                    username.chars().count()
                ));
            }
            if password.chars().count() > MAX_CREDENTIAL {
                return Err(format!(
                    "{field}.password must be at most {MAX_CREDENTIAL} characters, got {}",
                    password.chars().count()
                ));
            }
            Some(CredentialsSpec::Fixed(Credentials { username, password }))
        }
    };
    if credentials.is_some() {
        values.claim("connection_request_credentials", CR_USERNAME)?;
        values.claim("connection_request_credentials", CR_PASSWORD)?;
    }
    let acs_url = optional("acs_url", raw.acs_url)?
        .map(|url| {
            let host = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            if host.is_some_and(|rest| !rest.is_empty()) && url.chars().count() <= MAX_URL {
                Ok(url)
            } else {
                Err(format!(
                    "acs_url must be an http:// or https:// URL of at most {MAX_URL} \
                     characters, got {url:?}"
                ))
            }
        })
        .transpose()?;
    Ok(Rule {
        name: raw.name,
        key,
        events,
        device,
        refresh: raw.refresh,
        values: values.typed,
        credentials,
        acs_url,
    })
}

/// A path's syntax (TR-069 Amd 6 A.2.4), relative paths included, and its length once under
/// the longer root.
fn path_syntax(path: &str) -> Result<ParameterPath, String> {
    let parsed: ParameterPath = path.parse().map_err(|e| format!("{e}"))?;
    let longest = if is_absolute(path) {
        path.len()
    } else {
        "InternetGatewayDevice.".len() + path.len()
    };
    if longest > MAX_PATH_LEN {
        return Err(format!(
            "a name is at most {} characters with its root, this one {longest}",
            MAX_PATH_LEN
        ));
    }
    Ok(parsed)
}

/// The rule's values, checked one by one as they are added.
#[derive(Default)]
struct Values {
    typed: Vec<(String, Typed)>,
    /// Which field set each parameter (by its name without root), to refuse a second setting.
    origins: Vec<(String, String)>,
}

impl Values {
    /// A `set` entry.
    fn set(
        &mut self,
        path: String,
        value: toml::Value,
        vars: &[(&str, &str)],
    ) -> Result<(), String> {
        let origin = format!("set {path:?}");
        let reserved = match relative(&path) {
            ACS_URL => Some("acs_url, which re-points the CPE last"),
            CR_USERNAME | CR_PASSWORD => {
                Some("connection_request_credentials, so the ACS learns them")
            }
            _ => None,
        };
        if let Some(instead) = reserved {
            return Err(format!("{origin}: use {instead}"));
        }
        if self.typed.len() == MAX_VALUES {
            return Err(format!("set has more than {MAX_VALUES} values"));
        }
        let value = match value {
            toml::Value::String(s) => {
                toml::Value::String(expand(&s, vars).map_err(|e| format!("{origin}: {e}"))?)
            }
            other => other,
        };
        self.add(&origin, &path, &value)
    }

    /// A value from `origin` (a field, or a `set` entry).
    fn add(&mut self, origin: &str, path: &str, value: &toml::Value) -> Result<(), String> {
        let parsed = path_syntax(path).map_err(|e| format!("{origin}: {e}"))?;
        if parsed.is_partial() || parsed.has_wildcard() {
            return Err(format!(
                "{origin}: a value is set on one parameter, not a partial path or wildcard"
            ));
        }
        let tr181_name = match path.strip_prefix("Device.") {
            Some(_) => Some(path.to_owned()),
            None if !is_absolute(path) => Some(format!("Device.{path}")),
            None => None,
        };
        let typed =
            typing::typed(tr181_name.as_deref(), value).map_err(|e| format!("{origin}: {e}"))?;
        self.claim(origin, path)?;
        self.typed.push((path.to_owned(), typed));
        Ok(())
    }

    /// Records that `origin` sets `path`; a parameter set twice in one SetParameterValues is
    /// a fault (A.3.2.1, 9003), so it is refused here.
    fn claim(&mut self, origin: &str, path: &str) -> Result<(), String> {
        let name = relative(path);
        if let Some((_, first)) = self.origins.iter().find(|(seen, _)| seen == name) {
            return Err(format!("{origin} sets {name}, which {first} sets too"));
        }
        self.origins.push((name.to_owned(), origin.to_owned()));
        Ok(())
    }
}

/// `set` with nested tables (from unquoted dotted keys, `DeviceInfo.ProvisioningCode = ..`)
/// turned into dotted paths.
fn flatten(table: toml::Table) -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    let mut stack: Vec<(String, toml::Table)> = vec![(String::new(), table)];
    while let Some((prefix, table)) = stack.pop() {
        for (key, value) in table {
            let path = format!("{prefix}{key}");
            match value {
                toml::Value::Table(inner) => stack.push((format!("{path}."), inner)),
                value => out.push((path, value)),
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// `on_event`: one event code or a list of them.
struct Events(Vec<String>);

impl<'de> Deserialize<'de> for Events {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EventsVisitor;
        impl<'de> Visitor<'de> for EventsVisitor {
            type Value = Events;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event code such as \"0 BOOTSTRAP\", or a list of them")
            }
            fn visit_str<E: de::Error>(self, code: &str) -> Result<Events, E> {
                Ok(Events(vec![code.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Events, A::Error> {
                let mut codes = Vec::new();
                while let Some(code) = seq.next_element::<String>()? {
                    codes.push(code);
                }
                Ok(Events(codes))
            }
        }
        deserializer.deserialize_any(EventsVisitor)
    }
}

/// `connection_request_credentials`: `"random"` or `{ username = "..", password = ".." }`.
enum RawCredentials {
    Random,
    Fixed { username: String, password: String },
}

impl<'de> Deserialize<'de> for RawCredentials {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Fixed {
            username: String,
            password: String,
        }
        struct CredentialsVisitor;
        impl<'de> Visitor<'de> for CredentialsVisitor {
            type Value = RawCredentials;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"random\" or { username = \"..\", password = \"..\" }")
            }
            fn visit_str<E: de::Error>(self, word: &str) -> Result<RawCredentials, E> {
                match word {
                    "random" => Ok(RawCredentials::Random),
                    _ => Err(E::invalid_value(de::Unexpected::Str(word), &self)),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawCredentials, A::Error> {
                let Fixed { username, password } =
                    Fixed::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawCredentials::Fixed { username, password })
            }
        }
        deserializer.deserialize_any(CredentialsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Scenario;
    use super::*;

    fn error(text: &str) -> String {
        Scenario::from_toml(text).unwrap_err().to_string()
    }

    fn rule(body: &str) -> String {
        format!("[[rule]]\nname = \"r\"\n{body}\n")
    }

    #[test]
    fn a_full_rule_parses_into_its_parts() {
        let rules = rules(
            r#"
            [[rule]]
            name = "bootstrap"
            on_event = ["0 BOOTSTRAP", "1 BOOT"]
            manufacturer = "Example"
            oui = "00D09E"
            product_class = "HGW"
            serial = "{serial}"
            refresh = ["DeviceInfo.", "Device.ManagementServer.URL"]
            periodic_inform_interval = 300
            connection_request_credentials = { username = "cr", password = "{pw}" }
            acs_url = "{acs2}"

            [rule.set]
            "DeviceInfo.ProvisioningCode" = "LAB"
            Time.Enable = true

            [[rule]]
            name = "random"
            connection_request_credentials = "random"
            "#,
            &[
                ("serial", "SN1"),
                ("pw", "secret"),
                ("acs2", "http://10.0.0.2:7548/"),
            ],
        )
        .unwrap();
        let [first, second] = &rules[..] else {
            panic!("{rules:?}")
        };
        assert_eq!(first.key.as_str(), "bootstrap");
        assert_eq!(first.events, [EventCode::Bootstrap, EventCode::Boot]);
        assert_eq!(first.device.serial.as_deref(), Some("SN1"));
        assert_eq!(first.device.product_class.as_deref(), Some("HGW"));
        assert_eq!(
            first.refresh,
            ["DeviceInfo.", "Device.ManagementServer.URL"]
        );
        let paths: Vec<&str> = first.values.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "DeviceInfo.ProvisioningCode",
                "Time.Enable",
                PERIODIC_ENABLE,
                PERIODIC_INTERVAL
            ]
        );
        let Some(CredentialsSpec::Fixed(credentials)) = &first.credentials else {
            panic!("{:?}", first.credentials)
        };
        assert_eq!(
            (&*credentials.username, &*credentials.password),
            ("cr", "secret")
        );
        assert_eq!(first.acs_url.as_deref(), Some("http://10.0.0.2:7548/"));
        assert!(matches!(second.credentials, Some(CredentialsSpec::Random)));
        assert!(second.events.is_empty() && second.values.is_empty());
    }

    #[test]
    fn an_empty_scenario_has_no_rules() {
        assert!(rules("# nothing yet\n", &[]).unwrap().is_empty());
    }

    #[test]
    fn field_values_out_of_bounds_are_refused_naming_rule_field_and_bounds() {
        let cases = [
            (
                "[[rule]]\nname = \"a\"\n[[rule]]\nname = \"bootstrap\"\nperiodic_inform_interval = 0\n",
                "rule 2 (\"bootstrap\"): periodic_inform_interval must be 1..=86400, got 0",
            ),
            (
                &rule("on_event = []"),
                "rule 1 (\"r\"): on_event must name at least one event code",
            ),
            (
                &rule("on_event = \"BOOTSTRAP\""),
                "rule 1 (\"r\"): on_event: `BOOTSTRAP` is not an event code (`<n> <NAME>`, `M <Method>` or `X <OUI> <event>`, <= 64 chars)",
            ),
            (
                &rule("acs_url = \"ftp://acs\""),
                "rule 1 (\"r\"): acs_url must be an http:// or https:// URL of at most 256 characters, got \"ftp://acs\"",
            ),
            (
                &rule("connection_request_credentials = { username = \"\", password = \"p\" }"),
                "rule 1 (\"r\"): connection_request_credentials.username must be 1 to 256 characters, got 0",
            ),
            (
                &rule("refresh = [\"DeviceInfo..\"]"),
                "rule 1 (\"r\"): refresh \"DeviceInfo..\": path has an empty segment at byte 11",
            ),
            (
                "[[rule]]\nname = \"a-name-longer-than-thirty-two-chars\"\n",
                "rule 1 (\"a-name-longer-than-thirty-two-chars\"): name must be 1 to 32 characters (it is the ParameterKey of the rule's SetParameterValues), got 35",
            ),
            (
                "[[rule]]\nname = \"a\"\n[[rule]]\nname = \"a\"\n",
                "rule 2 (\"a\"): name must be unique, rule 1 has it too",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(error(text), want, "{text}");
        }
    }

    #[test]
    fn set_values_are_checked_against_tr181_and_each_other() {
        let cases = [
            (
                "[rule.set]\n\"ManagementServer.PeriodicInformInterval\" = -1",
                "rule 1 (\"r\"): set \"ManagementServer.PeriodicInformInterval\": Device.ManagementServer.PeriodicInformInterval is unsignedInt in TR-181, got int \"-1\"",
            ),
            (
                "[rule.set]\n\"DeviceInfo.\" = 1",
                "rule 1 (\"r\"): set \"DeviceInfo.\": a value is set on one parameter, not a partial path or wildcard",
            ),
            (
                "[rule.set]\n\"ManagementServer.URL\" = \"http://x/\"",
                "rule 1 (\"r\"): set \"ManagementServer.URL\": use acs_url, which re-points the CPE last",
            ),
            (
                "connection_request_credentials = \"random\"\n[rule.set]\n\"InternetGatewayDevice.ManagementServer.ConnectionRequestPassword\" = \"x\"",
                "rule 1 (\"r\"): set \"InternetGatewayDevice.ManagementServer.ConnectionRequestPassword\": use connection_request_credentials, so the ACS learns them",
            ),
            (
                "periodic_inform_interval = 60\n[rule.set]\n\"Device.ManagementServer.PeriodicInformInterval\" = 60",
                "rule 1 (\"r\"): periodic_inform_interval sets ManagementServer.PeriodicInformInterval, which set \"Device.ManagementServer.PeriodicInformInterval\" sets too",
            ),
            (
                "[rule.set]\n\"DeviceInfo.ProvisioningCode\" = \"{site}\"",
                "rule 1 (\"r\"): set \"DeviceInfo.ProvisioningCode\": unknown variable `{site}` in \"{site}\" (no variables are defined)",
            ),
            (
                "[rule.set]\n\"X_ACME.Ratio\" = 0.5",
                "rule 1 (\"r\"): set \"X_ACME.Ratio\": a value must be a boolean, an integer, a string or a date-time, got float",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(error(&rule(body)), want, "{body}");
        }
    }

    #[test]
    fn serde_errors_name_the_rule_the_field_and_the_line() {
        let cases = [
            (
                rule("colour = 1"),
                "rule 1 (\"r\"): unknown field `colour`, expected one of `name`, `on_event`, `product_class`, `oui`, `manufacturer`, `serial`, `refresh`, `periodic_inform_interval`, `connection_request_credentials`, `acs_url`, `set` (line 3)",
            ),
            (
                rule("connection_request_credentials = \"fixed\""),
                "rule 1 (\"r\"): connection_request_credentials: invalid value: string \"fixed\", expected \"random\" or { username = \"..\", password = \"..\" } (line 3)",
            ),
            (
                rule("connection_request_credentials = { username = \"u\", pass = \"p\" }"),
                "rule 1 (\"r\"): connection_request_credentials: unknown field `pass`, expected `username` or `password` (line 3)",
            ),
            (
                rule("on_event = 3"),
                "rule 1 (\"r\"): on_event: invalid type: integer `3`, expected an event code such as \"0 BOOTSTRAP\", or a list of them (line 3)",
            ),
            (
                "[[rule]]\noui = \"00D09E\"\n".to_owned(),
                "rule 1: missing field `name` (line 1)",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(error(&text), want, "{text}");
        }
    }

    #[test]
    fn the_document_holds_only_rule_tables() {
        assert_eq!(
            error("[rules]\nname = \"x\"\n"),
            "unknown top-level key `rules`: a scenario has only [[rule]] tables"
        );
        assert_eq!(
            error("[rule]\nname = \"x\"\n"),
            "`rule` must be an array of tables: write each rule as [[rule]]"
        );
        assert!(
            error("[[rule]\n")
                .starts_with("scenario is not valid TOML: TOML parse error at line 1")
        );
        let huge = "#".repeat(MAX_TEXT_BYTES + 1);
        assert_eq!(
            error(&huge),
            format!(
                "scenario is larger than {MAX_TEXT_BYTES} bytes ({})",
                MAX_TEXT_BYTES + 1
            )
        );
    }

    #[test]
    fn a_rule_sets_at_most_max_values() {
        let set: String = (0..=MAX_VALUES)
            .map(|i| format!("\"X_ACME.P{i}\" = {i}\n"))
            .collect();
        assert_eq!(
            error(&rule(&format!("[rule.set]\n{set}"))),
            format!("rule 1 (\"r\"): set has more than {MAX_VALUES} values")
        );
    }
}
