//! genieacs-sim data-model files (CSV), read into a `Builder`; the layout is described in
//! the [profile docs](super#genieacs-sim-csv).

use std::collections::{HashMap, HashSet};

use schemas::model::template_of;
use schemas::rpc::types::Notification;

use super::build::{AttributeDecl, Builder, Located, ObjectDecl, ParamDecl, ValueDecl};
use super::{ProfileError, ProfileErrorKind};

/// Roots of the data models a CPE can have (TR-181 `Device:2`, TR-098 `InternetGatewayDevice:1`).
const ROOTS: &[&str] = &["Device", "InternetGatewayDevice"];

/// One data-model row.
struct Row {
    line: usize,
    name: String,
    object: bool,
    writable: bool,
    value: String,
    ty: String,
    notification: String,
    access_list: String,
}

/// Reads a genieacs-sim CSV data model into a builder.
pub(crate) fn read(text: &str, file: &str) -> Result<Builder, ProfileError> {
    let mut builder = Builder::new(file, false);
    let records = parse(text.strip_prefix('\u{feff}').unwrap_or(text))
        .map_err(|(line, what)| builder.error(line, "CSV", ProfileErrorKind::Csv(what)))?;
    let Some(((header_line, header), records)) = records.split_first() else {
        return Err(builder.error(0, "CSV", ProfileErrorKind::Csv("the file is empty".into())));
    };
    let column = |name: &'static str| header.iter().position(|h| h.trim() == name);
    let required = |name: &'static str| {
        column(name).ok_or_else(|| {
            builder.error(
                *header_line,
                "CSV header",
                ProfileErrorKind::Csv(format!(
                    "no `{name}` column (genieacs-sim files have Parameter, Object, Writable, \
                     Value, Value type)"
                )),
            )
        })
    };
    let (parameter, object, writable, value, value_type) = (
        required("Parameter")?,
        required("Object")?,
        required("Writable")?,
        required("Value")?,
        required("Value type")?,
    );
    let (notification, access_list) = (column("Notification"), column("Access list"));

    let mut rows = Vec::new();
    for (line, fields) in records {
        let cell = |i: Option<usize>| {
            i.and_then(|i| fields.get(i))
                .map_or("", |s| s.as_str())
                .trim()
                .to_owned()
        };
        let name = cell(Some(parameter)).trim_end_matches('.').to_owned();
        if name.is_empty() || !ROOTS.contains(&name.split('.').next().unwrap_or_default()) {
            continue;
        }
        let flag = |i: usize, column: &'static str| match cell(Some(i)).as_str() {
            "true" | "1" | "TRUE" | "True" => Ok(true),
            "false" | "0" | "" | "FALSE" | "False" => Ok(false),
            other => Err(builder.error(
                *line,
                format!("{name} column `{column}`"),
                ProfileErrorKind::UnknownWord {
                    given: other.to_owned(),
                    allowed: "true, false".into(),
                },
            )),
        };
        rows.push(Row {
            line: *line,
            object: flag(object, "Object")?,
            writable: flag(writable, "Writable")?,
            value: fields.get(value).cloned().unwrap_or_default(),
            ty: cell(Some(value_type)),
            notification: cell(notification),
            access_list: cell(access_list),
            name,
        });
    }

    // Which objects are tables: parents of instance rows, and writable objects without named
    // children.
    let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let split = |name: &str| -> (String, String) {
        match name.rsplit_once('.') {
            Some((parent, last)) => (parent.to_owned(), last.to_owned()),
            None => (String::new(), name.to_owned()),
        }
    };
    let mut tables: HashSet<String> = HashSet::new();
    let mut named_parents: HashSet<String> = HashSet::new();
    for row in &rows {
        let (parent, last) = split(&row.name);
        if is_number(&last) {
            tables.insert(parent);
        } else {
            named_parents.insert(parent);
        }
    }
    for row in &rows {
        let (_, last) = split(&row.name);
        if row.object && row.writable && !is_number(&last) && !named_parents.contains(&row.name) {
            tables.insert(row.name.clone());
        }
    }

    let mut objects: HashMap<String, usize> = HashMap::new();
    let mut declare_object = |builder: &mut Builder,
                              template: String,
                              line: usize,
                              writable: Option<bool>| {
        match objects.get(&template) {
            Some(&i) => {
                if writable == Some(true) {
                    builder.objects[i].writable = Some(true);
                }
            }
            None => {
                objects.insert(template.clone(), builder.objects.len());
                builder.objects.push(ObjectDecl {
                    name: template,
                    line,
                    writable,
                    ..ObjectDecl::default()
                });
            }
        }
    };
    let mut params: HashMap<String, usize> = HashMap::new();
    for row in &rows {
        let (parent, last) = split(&row.name);
        if row.object {
            if is_number(&last) {
                builder.instances.push(Located::new(
                    format!("{}.", row.name),
                    row.line,
                    "column Parameter",
                ));
                declare_object(
                    &mut builder,
                    format!("{}.{{i}}.", template_of(&parent)),
                    row.line,
                    None,
                );
            } else if tables.contains(&row.name) {
                let template = format!("{}.{{i}}.", template_of(&row.name));
                declare_object(&mut builder, template, row.line, Some(row.writable));
            } else {
                declare_object(
                    &mut builder,
                    format!("{}.", template_of(&row.name)),
                    row.line,
                    None,
                );
            }
            continue;
        }
        let template = template_of(&row.name);
        let ty = row.ty.rsplit(':').next().unwrap_or_default().to_owned();
        match params.get(&template) {
            None => {
                params.insert(template.clone(), builder.params.len());
                builder.params.push(ParamDecl {
                    name: template,
                    line: row.line,
                    ty: (!ty.is_empty())
                        .then(|| Located::new(ty.clone(), row.line, "column Value type")),
                    writable: Some(row.writable),
                    ..ParamDecl::default()
                });
            }
            Some(&i) => {
                let decl = &mut builder.params[i];
                match &decl.ty {
                    None if !ty.is_empty() => {
                        decl.ty = Some(Located::new(ty.clone(), row.line, "column Value type"));
                    }
                    Some(first) if !ty.is_empty() && first.value != ty => {
                        let first_line = first.line;
                        let first_ty = first.value.clone();
                        return Err(builder.error(
                            row.line,
                            format!("{} column `Value type`", row.name),
                            ProfileErrorKind::Csv(format!(
                                "type {ty} differs from {first_ty}, given to the same parameter \
                                 at line {first_line}"
                            )),
                        ));
                    }
                    _ => {}
                }
            }
        }
        // An empty value is a value only for a string; without a type it was never read.
        let no_value = row.value.is_empty() && ty != "string";
        if !no_value {
            builder.values.push(ValueDecl {
                name: row.name.clone(),
                text: row.value.clone(),
                line: row.line,
                field: "column Value",
            });
        }
        if !row.notification.is_empty() || !row.access_list.is_empty() {
            let notification = if row.notification.is_empty() {
                Notification::Off
            } else {
                row.notification
                    .parse::<i32>()
                    .ok()
                    .and_then(Notification::from_number)
                    .ok_or_else(|| {
                        builder.error(
                            row.line,
                            format!("{} column `Notification`", row.name),
                            ProfileErrorKind::UnknownWord {
                                given: row.notification.clone(),
                                allowed: "0-6".into(),
                            },
                        )
                    })?
            };
            builder.attributes.push(AttributeDecl {
                name: row.name.clone(),
                notification,
                access_list: row
                    .access_list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            });
        }
    }
    Ok(builder)
}

/// A CSV record and the line it starts on.
type Record = (usize, Vec<String>);

/// Splits RFC 4180 CSV into records. Quoted fields may hold commas, line breaks and doubled
/// quotes; blank lines are skipped. An error gives the line and what is wrong.
fn parse(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut record_line = 1;
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            '"' => return Err((line, "a double quote inside an unquoted field".into())),
            ',' => fields.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                if fields.iter().any(|f| !f.is_empty()) {
                    records.push((record_line, std::mem::take(&mut fields)));
                }
                fields.clear();
                line += 1;
                record_line = line;
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err((record_line, "a quoted field is never closed".into()));
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        records.push((record_line, fields));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_hold_commas_quotes_and_line_breaks() {
        let records = parse("a,b\n\"x, y\",\"say \"\"hi\"\"\"\n\n\"multi\nline\",z").unwrap();
        assert_eq!(records[0], (1, vec!["a".into(), "b".into()]));
        assert_eq!(records[1], (2, vec!["x, y".into(), "say \"hi\"".into()]));
        assert_eq!(records[2], (4, vec!["multi\nline".into(), "z".into()]));
        assert_eq!(parse("a,\"open").unwrap_err().0, 1);
    }
}
