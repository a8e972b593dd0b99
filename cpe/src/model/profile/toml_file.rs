//! The TOML profile format (described in the [module docs](super)), read into a [`Builder`].

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::build::{Builder, Located, ObjectDecl, ParamDecl, ValueDecl};
use super::{ProfileError, ProfileErrorKind};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(default)]
    profile: RawHeader,
    #[serde(default)]
    parameter: Vec<Spanned<RawParameter>>,
    #[serde(default)]
    object: Vec<Spanned<RawObject>>,
    #[serde(default)]
    values: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    #[serde(default)]
    name: String,
    #[serde(default, rename = "description")]
    _description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParameter {
    name: Spanned<String>,
    #[serde(rename = "type")]
    ty: Option<Spanned<String>>,
    writable: Option<bool>,
    value: Option<Spanned<toml::Value>>,
    hidden: Option<bool>,
    forced_inform: Option<bool>,
    active_notify: Option<Spanned<String>>,
    notification: Option<Spanned<i64>>,
    min: Option<Spanned<i64>>,
    max: Option<Spanned<i64>>,
    max_length: Option<Spanned<i64>>,
    enumeration: Option<Vec<String>>,
    computed: Option<Spanned<String>>,
    get: Option<Spanned<Vec<String>>>,
    set: Option<Spanned<Vec<String>>>,
    apply: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObject {
    name: Spanned<String>,
    writable: Option<bool>,
    instances: Option<Vec<Spanned<InstanceRef>>>,
    max_instances: Option<Spanned<i64>>,
    next_instance: Option<Spanned<i64>>,
}

/// An entry of `instances`: a number (tables with one `{i}`) or a full instance path.
#[derive(Deserialize)]
#[serde(untagged)]
enum InstanceRef {
    Number(i64),
    Path(String),
}

/// Reads a TOML profile into a builder.
pub(crate) fn read(text: &str, file: &str) -> Result<Builder, ProfileError> {
    let lines = Lines::new(text);
    let mut builder = Builder::new(file, true);
    let raw: RawProfile = toml::from_str(text).map_err(|e| {
        builder.error(
            e.span().map_or(0, |s| lines.line(s)),
            "TOML",
            ProfileErrorKind::Syntax(e.message().to_owned()),
        )
    })?;
    builder.name = raw.profile.name;
    for entry in raw.parameter {
        let p = entry.into_inner();
        let name = p.name.get_ref().clone();
        let value = match p.value {
            Some(v) => {
                let line = lines.line(v.span());
                let text = value_text(&builder, v.get_ref(), line, &name, "value")?;
                Some(Located::new(text, line, "value"))
            }
            None => None,
        };
        builder.params.push(ParamDecl {
            line: lines.line(p.name.span()),
            ty: lines.locate(p.ty, "type"),
            writable: p.writable,
            hidden: p.hidden,
            forced_inform: p.forced_inform,
            active_notify: lines.locate(p.active_notify, "active_notify"),
            notification: lines.locate(p.notification, "notification"),
            min: lines.locate(p.min, "min"),
            max: lines.locate(p.max, "max"),
            max_length: lines.locate(p.max_length, "max_length"),
            enumeration: p.enumeration,
            value,
            computed: lines.locate(p.computed, "computed"),
            get: lines.locate(p.get, "get"),
            set: lines.locate(p.set, "set"),
            apply: lines.locate(p.apply, "apply"),
            name,
        });
    }
    for entry in raw.object {
        let o = entry.into_inner();
        let line = lines.line(o.name.span());
        let name = o.name.into_inner();
        for instance in o.instances.into_iter().flatten() {
            let l = lines.line(instance.span());
            let path = match instance.into_inner() {
                InstanceRef::Path(path) => path,
                InstanceRef::Number(n) => {
                    let single = name.matches("{i}").count() == 1 && name.ends_with("{i}.");
                    if !single || n < 1 || n > i64::from(u32::MAX) {
                        return Err(builder.error(
                            l,
                            format!("{name} `instances`"),
                            ProfileErrorKind::Shape(format!(
                                "instance {n}: numbers (1 and up) are for tables with one `{{i}}`; \
                                 give nested instances as full paths"
                            )),
                        ));
                    }
                    name.replacen("{i}", &n.to_string(), 1)
                }
            };
            if path.contains("{i}") || schemas::model::template_of(&path) != name {
                return Err(builder.error(
                    l,
                    format!("{name} `instances`"),
                    ProfileErrorKind::Shape(format!("`{path}` is not an instance of `{name}`")),
                ));
            }
            builder.instances.push(Located::new(path, l, "instances"));
        }
        builder.objects.push(ObjectDecl {
            line,
            writable: o.writable,
            max_instances: lines.locate(o.max_instances, "max_instances"),
            next_instance: lines.locate(o.next_instance, "next_instance"),
            name,
        });
    }
    for (name, value) in raw.values {
        let line = lines.line(name.span());
        let name = name.into_inner();
        let text = value_text(&builder, value.get_ref(), line, &name, "values")?;
        builder.values.push(ValueDecl {
            name,
            text,
            line,
            field: "values",
        });
    }
    Ok(builder)
}

/// The text of a TOML value given for a parameter.
fn value_text(
    builder: &Builder,
    value: &toml::Value,
    line: usize,
    name: &str,
    field: &str,
) -> Result<String, ProfileError> {
    Ok(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        other => {
            return Err(builder.error(
                line,
                format!("{name} `{field}`"),
                ProfileErrorKind::Syntax(format!(
                    "a {} is not a parameter value (give a string, integer, boolean or date-time)",
                    other.type_str()
                )),
            ));
        }
    })
}

/// Byte offsets to 1-based line numbers.
struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts }
    }

    /// A spanned field as a located one.
    fn locate<T>(&self, field: Option<Spanned<T>>, name: &'static str) -> Option<Located<T>> {
        field.map(|f| {
            let line = self.line(f.span());
            Located::new(f.into_inner(), line, name)
        })
    }

    fn line(&self, span: Range<usize>) -> usize {
        match self.starts.binary_search(&span.start) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }
}
