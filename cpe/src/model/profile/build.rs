//! Declarations read from a profile file (TOML or CSV), checked and turned into a
//! [`Profile`].

use std::collections::{BTreeMap, HashMap, HashSet};

use schemas::model::{self as tr181, ActiveNotify, template_of};
use schemas::rpc::types::Notification;
use schemas::value::{Value, XsdType};

use super::{Profile, ProfileError, ProfileErrorKind};
use crate::model::Attributes;
use crate::model::ValueError;
use crate::model::meta::{Apply, Backend, Computed, External, ParameterMeta, alias_problem, zero};
use crate::model::schema::{NodeKind, ROOT, Schema, ShapeError};
use crate::model::state::TableState;

/// A field's value and where it was written.
#[derive(Clone, Debug)]
pub(crate) struct Located<T> {
    pub(crate) value: T,
    pub(crate) line: usize,
    /// The field's name in the source (`value`, or `column Value` in a CSV).
    pub(crate) field: &'static str,
}

impl<T> Located<T> {
    pub(crate) fn new(value: T, line: usize, field: &'static str) -> Self {
        Self { value, line, field }
    }
}

/// One `[[parameter]]` entry (or CSV parameter row).
#[derive(Clone, Debug, Default)]
pub(crate) struct ParamDecl {
    /// The template (`{i}` for instance numbers).
    pub(crate) name: String,
    pub(crate) line: usize,
    pub(crate) ty: Option<Located<String>>,
    pub(crate) writable: Option<bool>,
    pub(crate) hidden: Option<bool>,
    pub(crate) forced_inform: Option<bool>,
    pub(crate) active_notify: Option<Located<String>>,
    pub(crate) notification: Option<Located<i64>>,
    pub(crate) min: Option<Located<i64>>,
    pub(crate) max: Option<Located<i64>>,
    pub(crate) max_length: Option<Located<i64>>,
    pub(crate) enumeration: Option<Vec<String>>,
    pub(crate) value: Option<Located<String>>,
    pub(crate) computed: Option<Located<String>>,
    pub(crate) get: Option<Located<Vec<String>>>,
    pub(crate) set: Option<Located<Vec<String>>>,
    pub(crate) apply: Option<Located<String>>,
}

/// One `[[object]]` entry (or CSV object row).
#[derive(Clone, Debug, Default)]
pub(crate) struct ObjectDecl {
    /// The template, ending in a dot; `{i}.` at the end makes a table.
    pub(crate) name: String,
    pub(crate) line: usize,
    pub(crate) writable: Option<bool>,
    pub(crate) max_instances: Option<Located<i64>>,
    pub(crate) next_instance: Option<Located<i64>>,
}

/// One initial value.
#[derive(Clone, Debug)]
pub(crate) struct ValueDecl {
    /// A full name, or a template (then the value is the default of new instances).
    pub(crate) name: String,
    pub(crate) text: String,
    pub(crate) line: usize,
    pub(crate) field: &'static str,
}

/// Initial attributes of one parameter (CSV `Notification` / `Access list` columns).
#[derive(Clone, Debug)]
pub(crate) struct AttributeDecl {
    pub(crate) name: String,
    pub(crate) notification: Notification,
    pub(crate) access_list: Vec<String>,
}

/// Everything a profile file declares, before checking.
#[derive(Clone, Debug, Default)]
pub(crate) struct Builder {
    pub(crate) file: String,
    pub(crate) name: String,
    /// TOML rules: a declared type must match TR-181's and vendor names must follow TR-106.
    /// Off for device dumps (CSV), which are taken as the device reported them.
    pub(crate) strict: bool,
    pub(crate) params: Vec<ParamDecl>,
    pub(crate) objects: Vec<ObjectDecl>,
    pub(crate) values: Vec<ValueDecl>,
    /// Concrete instance paths (`Device.WiFi.SSID.1.`) that exist at start.
    pub(crate) instances: Vec<Located<String>>,
    pub(crate) attributes: Vec<AttributeDecl>,
}

impl Builder {
    pub(crate) fn new(file: &str, strict: bool) -> Self {
        Self {
            file: file.to_owned(),
            strict,
            ..Self::default()
        }
    }

    pub(crate) fn error(
        &self,
        line: usize,
        field: impl Into<String>,
        kind: ProfileErrorKind,
    ) -> ProfileError {
        ProfileError {
            file: self.file.clone(),
            line,
            field: field.into(),
            kind,
        }
    }

    /// Checks every declaration and builds the profile.
    pub(crate) fn finish(mut self) -> Result<Profile, ProfileError> {
        let root = self.check_names()?;
        self.declare_implicit()?;
        let mut schema = Schema::new();
        let mut explicit_backend = Vec::new();
        for decl in &self.params {
            let meta = self.meta(decl)?;
            explicit_backend
                .push(decl.computed.is_some() || decl.get.is_some() || decl.set.is_some());
            schema
                .add_parameter(&decl.name, meta)
                .map_err(|e| self.shape(decl.line, &decl.name, e))?;
        }
        for decl in &self.objects {
            schema
                .ensure_object(&decl.name)
                .map_err(|e| self.shape(decl.line, &decl.name, e))?;
            self.object_properties(&mut schema, decl)?;
        }
        self.standard_tables(&mut schema);
        auto_backends(&mut schema, &root, &self.params, &explicit_backend);

        let mut tables: HashMap<Box<str>, TableState> = HashMap::new();
        for decl in &self.objects {
            if decl.name.ends_with("{i}.") && decl.name.matches("{i}").count() == 1 {
                tables.entry(table_of(&decl.name).into()).or_default();
            }
        }
        for instance in &self.instances {
            self.register(
                &schema,
                &mut tables,
                &instance.value,
                instance.line,
                instance.field,
            )?;
        }
        let mut values: HashMap<Box<str>, Value> = HashMap::new();
        let mut value_lines: HashMap<String, usize> = HashMap::new();
        for decl in &self.values {
            let template = template_of(&decl.name);
            let Some(node) = schema.lookup(&template) else {
                return Err(self.error(
                    decl.line,
                    &decl.name,
                    ProfileErrorKind::Shape(format!(
                        "`{}` is an object, not a parameter",
                        decl.name
                    )),
                ));
            };
            let Some(meta) = schema.parameter(node) else {
                return Err(self.error(
                    decl.line,
                    &decl.name,
                    ProfileErrorKind::Shape(format!(
                        "`{}` is an object, not a parameter",
                        decl.name
                    )),
                ));
            };
            let value = self.parse_value(meta, &decl.text, decl.line, &decl.name, decl.field)?;
            if decl.name.contains("{i}") {
                if let NodeKind::Parameter(meta) = &mut schema.node_mut(node).kind {
                    meta.default = value;
                }
                continue;
            }
            self.register(&schema, &mut tables, &decl.name, decl.line, decl.field)?;
            value_lines.insert(decl.name.clone(), decl.line);
            values.insert(decl.name.as_str().into(), value);
        }
        self.counters(&mut tables)?;
        self.aliases(&schema, &tables, &mut values, &value_lines)?;

        let mut attributes = HashMap::new();
        for decl in &self.attributes {
            attributes.insert(
                decl.name.as_str().into(),
                Attributes {
                    notification: decl.notification,
                    access_list: decl.access_list.clone(),
                },
            );
        }
        let key_path = format!("{root}.ManagementServer.ParameterKey");
        let parameter_key = values
            .remove(key_path.as_str())
            .map(|v| v.lexical().into_owned())
            .unwrap_or_default();
        let forced = schema
            .parameters()
            .filter(|(_, m)| m.forced_inform)
            .map(|(id, _)| id)
            .collect();
        let dynamic = schema
            .parameters()
            .filter(|(_, m)| m.is_dynamic())
            .map(|(id, _)| id)
            .collect();
        Ok(Profile {
            name: self.name,
            file: self.file,
            root,
            schema,
            values,
            tables,
            attributes,
            forced,
            dynamic,
            parameter_key,
        })
    }

    /// Checks every name's syntax and that they share one root; returns the root.
    fn check_names(&self) -> Result<String, ProfileError> {
        let mut root: Option<String> = None;
        let mut check = |name: &str, line: usize, object: bool, templates: bool, numbers: bool| {
            if let Err(reason) = check_name(name, object, templates, numbers) {
                return Err(self.error(
                    line,
                    name,
                    ProfileErrorKind::BadName {
                        name: name.to_owned(),
                        reason: reason.to_owned(),
                    },
                ));
            }
            if self.strict
                && let Some(segment) = name.split('.').find(|s| !vendor_segment_ok(s))
            {
                return Err(self.error(
                    line,
                    name,
                    ProfileErrorKind::BadVendorName {
                        segment: segment.to_owned(),
                    },
                ));
            }
            let first = name.split('.').next().unwrap_or_default();
            match &root {
                Some(r) if r != first => Err(self.error(
                    line,
                    name,
                    ProfileErrorKind::SecondRoot { first: r.clone() },
                )),
                Some(_) => Ok(()),
                None => {
                    root = Some(first.to_owned());
                    Ok(())
                }
            }
        };
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for decl in &self.params {
            check(&decl.name, decl.line, false, true, false)?;
            if let Some(first) = seen.insert(&decl.name, decl.line) {
                return Err(self.error(
                    decl.line,
                    &decl.name,
                    ProfileErrorKind::Duplicate { first },
                ));
            }
        }
        for decl in &self.objects {
            check(&decl.name, decl.line, true, true, false)?;
            if let Some(first) = seen.insert(&decl.name, decl.line) {
                return Err(self.error(
                    decl.line,
                    &decl.name,
                    ProfileErrorKind::Duplicate { first },
                ));
            }
        }
        for decl in &self.values {
            check(&decl.name, decl.line, false, true, true)?;
        }
        for instance in &self.instances {
            check(&instance.value, instance.line, true, false, true)?;
        }
        root.ok_or_else(|| self.error(0, "profile", ProfileErrorKind::Empty))
    }

    /// Declares the parameters only named in values, from TR-181 metadata.
    fn declare_implicit(&mut self) -> Result<(), ProfileError> {
        let mut known: HashSet<String> = self.params.iter().map(|d| d.name.clone()).collect();
        let mut implicit = Vec::new();
        for decl in &self.values {
            let template = template_of(&decl.name);
            if known.contains(&template) || self.objects.iter().any(|o| o.name == template) {
                continue;
            }
            if tr181::parameter(&template).is_none() {
                return Err(self.error(
                    decl.line,
                    &decl.name,
                    ProfileErrorKind::MissingType {
                        name: decl.name.clone(),
                    },
                ));
            }
            known.insert(template.clone());
            implicit.push(ParamDecl {
                name: template,
                line: decl.line,
                ..ParamDecl::default()
            });
        }
        self.params.extend(implicit);
        Ok(())
    }

    /// The metadata of one declared parameter: TR-181's, overridden by the declaration.
    fn meta(&self, decl: &ParamDecl) -> Result<ParameterMeta, ProfileError> {
        let at = |field: &str| format!("{} `{field}`", decl.name);
        let standard = tr181::parameter(&decl.name);
        let ty = match (&decl.ty, standard) {
            (Some(t), standard) => {
                let given = t.value.rsplit(':').next().unwrap_or(&t.value);
                let ty = XsdType::from_name(given).ok_or_else(|| {
                    self.error(
                        t.line,
                        at(t.field),
                        ProfileErrorKind::UnknownType {
                            given: t.value.clone(),
                        },
                    )
                })?;
                if let Some(standard) = standard
                    && self.strict
                    && standard.ty != ty
                {
                    return Err(self.error(
                        t.line,
                        at(t.field),
                        ProfileErrorKind::TypeConflict {
                            declared: ty,
                            standard: standard.ty,
                        },
                    ));
                }
                ty
            }
            (None, Some(standard)) => standard.ty,
            (None, None) => {
                return Err(self.error(
                    decl.line,
                    at("type"),
                    ProfileErrorKind::MissingType {
                        name: decl.name.clone(),
                    },
                ));
            }
        };
        if self.strict && is_vendor(&decl.name) && decl.writable.is_none() {
            return Err(self.error(
                decl.line,
                at("writable"),
                ProfileErrorKind::VendorMissing {
                    name: decl.name.clone(),
                    field: "writable",
                },
            ));
        }
        let mut meta = ParameterMeta::new(ty);
        if let Some(s) = standard.filter(|s| s.ty == ty) {
            meta.writable = s.writable;
            meta.forced_inform = s.forced_inform;
            meta.active_notify = s.active_notify;
            meta.hidden = s.hidden;
            meta.range = s.range;
            meta.max_length = s.max_length;
            meta.enumeration = s.enumeration.iter().map(|e| (*e).to_owned()).collect();
        }
        meta.writable = decl.writable.unwrap_or(meta.writable);
        meta.hidden = decl.hidden.unwrap_or(meta.hidden);
        meta.forced_inform = decl.forced_inform.unwrap_or(meta.forced_inform);
        if let Some(a) = &decl.active_notify {
            meta.active_notify = match a.value.as_str() {
                "normal" => ActiveNotify::Normal,
                "forceEnabled" | "force_enabled" => ActiveNotify::ForceEnabled,
                "forceDefaultEnabled" | "force_default_enabled" => {
                    ActiveNotify::ForceDefaultEnabled
                }
                "canDeny" | "can_deny" => ActiveNotify::CanDeny,
                other => {
                    return Err(self.error(
                        a.line,
                        at(a.field),
                        ProfileErrorKind::UnknownWord {
                            given: other.to_owned(),
                            allowed: "normal, forceEnabled, forceDefaultEnabled, canDeny".into(),
                        },
                    ));
                }
            };
        }
        if let Some(n) = &decl.notification {
            meta.notification = i32::try_from(n.value)
                .ok()
                .and_then(Notification::from_number)
                .ok_or_else(|| {
                    self.error(
                        n.line,
                        at(n.field),
                        ProfileErrorKind::FieldRange {
                            value: n.value,
                            min: 0,
                            max: 6,
                        },
                    )
                })?;
        }
        if decl.min.is_some() || decl.max.is_some() {
            let (lo, hi) = type_bounds(ty);
            let (old_lo, old_hi) = meta.range.unwrap_or((lo, hi));
            for bound in [&decl.min, &decl.max].into_iter().flatten() {
                if bound.value < lo || bound.value > hi {
                    return Err(self.error(
                        bound.line,
                        at(bound.field),
                        ProfileErrorKind::FieldRange {
                            value: bound.value,
                            min: lo,
                            max: hi,
                        },
                    ));
                }
            }
            let min = decl.min.as_ref().map_or(old_lo, |m| m.value);
            let max = decl.max.as_ref().map_or(old_hi, |m| m.value);
            if min > max {
                let line = decl
                    .max
                    .as_ref()
                    .or(decl.min.as_ref())
                    .map_or(decl.line, |m| m.line);
                return Err(self.error(
                    line,
                    at("max"),
                    ProfileErrorKind::FieldRange {
                        value: max,
                        min,
                        max: hi,
                    },
                ));
            }
            meta.range = Some((min, max));
        }
        if let Some(len) = &decl.max_length {
            meta.max_length = Some(u32::try_from(len.value).map_err(|_| {
                self.error(
                    len.line,
                    at(len.field),
                    ProfileErrorKind::FieldRange {
                        value: len.value,
                        min: 0,
                        max: i64::from(u32::MAX),
                    },
                )
            })?);
        }
        if let Some(e) = &decl.enumeration {
            meta.enumeration.clone_from(e);
        }
        meta.backend = self.backend(decl, &at)?;
        if let Backend::Computed(_) = meta.backend {
            if decl.writable == Some(true) {
                return Err(self.error(
                    decl.line,
                    at("writable"),
                    ProfileErrorKind::Conflict("computed", "writable = true"),
                ));
            }
            meta.writable = false;
        }
        if let Some(a) = &decl.apply {
            meta.apply = match a.value.as_str() {
                "immediate" => Apply::Immediate,
                "deferred" => Apply::Deferred,
                other => {
                    return Err(self.error(
                        a.line,
                        at(a.field),
                        ProfileErrorKind::UnknownWord {
                            given: other.to_owned(),
                            allowed: "immediate, deferred".into(),
                        },
                    ));
                }
            };
        }
        meta.default = match (&decl.value, standard.and_then(|s| s.default)) {
            (Some(v), _) => self.parse_value(&meta, &v.value, v.line, &decl.name, v.field)?,
            (None, Some(text)) => match meta.check(&Value::parse(ty, text)) {
                Ok(v) => v,
                Err(_) => zero(ty),
            },
            (None, None) => zero(ty),
        };
        Ok(meta)
    }

    fn backend(
        &self,
        decl: &ParamDecl,
        at: &dyn Fn(&str) -> String,
    ) -> Result<Backend, ProfileError> {
        if let Some(c) = &decl.computed {
            if let Some(cmd) = decl.get.as_ref().or(decl.set.as_ref()) {
                return Err(self.error(
                    cmd.line,
                    at(cmd.field),
                    ProfileErrorKind::Conflict("computed", cmd.field),
                ));
            }
            return Computed::from_name(&c.value)
                .map(Backend::Computed)
                .ok_or_else(|| {
                    self.error(
                        c.line,
                        at(c.field),
                        ProfileErrorKind::UnknownWord {
                            given: c.value.clone(),
                            allowed: Computed::NAMES.join(", "),
                        },
                    )
                });
        }
        if decl.get.is_none() && decl.set.is_none() {
            return Ok(Backend::Stored);
        }
        if let Some(set) = &decl.set
            && decl.writable != Some(true)
            && !self.writable_by_standard(decl)
        {
            return Err(self.error(
                set.line,
                at(set.field),
                ProfileErrorKind::Conflict("set", "a read-only parameter"),
            ));
        }
        Ok(Backend::External(External {
            get: decl
                .get
                .as_ref()
                .map(|g| g.value.clone())
                .unwrap_or_default(),
            set: decl
                .set
                .as_ref()
                .map(|s| s.value.clone())
                .unwrap_or_default(),
        }))
    }

    fn writable_by_standard(&self, decl: &ParamDecl) -> bool {
        decl.writable.is_none() && tr181::parameter(&decl.name).is_some_and(|s| s.writable)
    }

    /// Applies an `[[object]]` entry's table properties.
    fn object_properties(
        &self,
        schema: &mut Schema,
        decl: &ObjectDecl,
    ) -> Result<(), ProfileError> {
        let at = |field: &str| format!("{} `{field}`", decl.name);
        let table = decl
            .name
            .strip_suffix("{i}.")
            .and_then(|t| schema.lookup(t));
        let Some(table) = table else {
            if decl.writable == Some(true) || decl.max_instances.is_some() {
                return Err(self.error(
                    decl.line,
                    at("writable"),
                    ProfileErrorKind::Shape(format!(
                        "`{}` is a single object; only tables (ending in `{{i}}.`) take \
                         `writable` and `max_instances`",
                        decl.name
                    )),
                ));
            }
            return Ok(());
        };
        let standard = tr181::object(&decl.name).map(|o| o.writable);
        let max = match &decl.max_instances {
            Some(m) => u32::try_from(m.value)
                .ok()
                .filter(|&m| m >= 1)
                .ok_or_else(|| {
                    self.error(
                        m.line,
                        at(m.field),
                        ProfileErrorKind::FieldRange {
                            value: m.value,
                            min: 1,
                            max: i64::from(u32::MAX),
                        },
                    )
                })?,
            None => crate::model::schema::DEFAULT_MAX_INSTANCES,
        };
        if let NodeKind::Table {
            writable,
            max_instances,
            ..
        } = &mut schema.node_mut(table).kind
        {
            *writable = decl.writable.or(standard).unwrap_or(false);
            *max_instances = max;
        }
        Ok(())
    }

    /// Tables no `[[object]]` entry describes take their writability from TR-181.
    fn standard_tables(&self, schema: &mut Schema) {
        let declared: Vec<&str> = self.objects.iter().map(|o| o.name.as_str()).collect();
        for id in 0..schema.len() {
            let NodeKind::Table { instance, .. } = schema.node(id).kind else {
                continue;
            };
            let template = schema.node(instance).template.clone();
            if declared.contains(&&*template) {
                continue;
            }
            if let Some(info) = tr181::object(&template)
                && let NodeKind::Table { writable, .. } = &mut schema.node_mut(id).kind
            {
                *writable = info.writable;
            }
        }
    }

    /// Records the instances a concrete path passes through.
    fn register(
        &self,
        schema: &Schema,
        tables: &mut HashMap<Box<str>, TableState>,
        path: &str,
        line: usize,
        field: &'static str,
    ) -> Result<(), ProfileError> {
        let fail = |what: String| {
            self.error(
                line,
                format!("{path} `{field}`"),
                ProfileErrorKind::Shape(what),
            )
        };
        let mut node = ROOT;
        let mut concrete = String::new();
        for segment in path.split('.').filter(|s| !s.is_empty()) {
            match &schema.node(node).kind {
                NodeKind::Table {
                    instance,
                    max_instances,
                    ..
                } => {
                    let n: u32 = segment.parse().ok().filter(|&n| n >= 1).ok_or_else(|| {
                        fail(format!(
                            "`{concrete}` is a table: expected an instance number, got `{segment}`"
                        ))
                    })?;
                    let table = tables.entry(concrete.as_str().into()).or_default();
                    if !table.contains(n) {
                        if table.instances.len() >= *max_instances as usize {
                            return Err(fail(format!(
                                "table `{concrete}` has more than its {max_instances} instances"
                            )));
                        }
                        table.instances.push(n);
                        table.instances.sort_unstable();
                    }
                    concrete.push_str(segment);
                    concrete.push('.');
                    node = *instance;
                }
                NodeKind::Object { .. } | NodeKind::Instance { .. } => {
                    if segment.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(fail(format!(
                            "`{concrete}` is not a table; `{segment}` cannot be an instance"
                        )));
                    }
                    let child = schema
                        .child(node, segment)
                        .ok_or_else(|| fail(format!("`{concrete}{segment}` is not declared")))?;
                    concrete.push_str(segment);
                    if schema.parameter(child).is_none() {
                        concrete.push('.');
                    }
                    node = child;
                }
                NodeKind::Parameter(_) => {
                    return Err(fail(format!("`{concrete}` is a parameter, not an object")));
                }
            }
        }
        Ok(())
    }

    /// Applies `next_instance` and makes every counter exceed the table's instances.
    fn counters(&self, tables: &mut HashMap<Box<str>, TableState>) -> Result<(), ProfileError> {
        for decl in &self.objects {
            let Some(next) = &decl.next_instance else {
                continue;
            };
            let at = format!("{} `{}`", decl.name, next.field);
            if decl.name.matches("{i}").count() != 1 || !decl.name.ends_with("{i}.") {
                return Err(self.error(
                    next.line,
                    at,
                    ProfileErrorKind::Shape(
                        "`next_instance` is for tables with one `{i}` (not nested)".into(),
                    ),
                ));
            }
            let table = tables.entry(table_of(&decl.name).into()).or_default();
            let floor = table.instances.last().map_or(1, |&n| i64::from(n) + 1);
            let value = u32::try_from(next.value)
                .ok()
                .filter(|&v| i64::from(v) >= floor)
                .ok_or_else(|| {
                    self.error(
                        next.line,
                        at.clone(),
                        ProfileErrorKind::FieldRange {
                            value: next.value,
                            min: floor,
                            max: i64::from(u32::MAX),
                        },
                    )
                })?;
            table.next_instance = value;
        }
        for table in tables.values_mut() {
            table.normalize();
        }
        Ok(())
    }

    /// Gives every instance of a table with an `Alias` parameter an alias (`cpe-<n>`, as
    /// TR-069 Amd 6 §3.6.1 has the CPE name instances it creates), and refuses duplicates.
    fn aliases(
        &self,
        schema: &Schema,
        tables: &HashMap<Box<str>, TableState>,
        values: &mut HashMap<Box<str>, Value>,
        lines: &HashMap<String, usize>,
    ) -> Result<(), ProfileError> {
        let mut ordered: BTreeMap<&str, &TableState> = BTreeMap::new();
        ordered.extend(tables.iter().map(|(k, v)| (&**k, v)));
        for (path, table) in ordered {
            let Some(node) = schema.lookup(&template_of(path)) else {
                continue;
            };
            let NodeKind::Table { instance, .. } = schema.node(node).kind else {
                continue;
            };
            let Some(alias) = schema.child(instance, "Alias") else {
                continue;
            };
            if schema
                .parameter(alias)
                .is_none_or(|m| m.ty != XsdType::String || m.is_dynamic())
            {
                continue;
            }
            let mut seen: HashSet<String> = HashSet::new();
            for n in &table.instances {
                let name = format!("{path}{n}.Alias");
                let value = values
                    .entry(name.as_str().into())
                    .or_insert_with(|| Value::String(format!("cpe-{n}")));
                let text = value.lexical().into_owned();
                if let Some(reason) = alias_problem(&text) {
                    return Err(self.error(
                        lines.get(&name).copied().unwrap_or(0),
                        name,
                        ProfileErrorKind::OutOfBounds(ValueError::BadAlias {
                            value: text,
                            reason,
                        }),
                    ));
                }
                if !seen.insert(text.clone()) {
                    return Err(self.error(
                        lines.get(&name).copied().unwrap_or(0),
                        name,
                        ProfileErrorKind::DuplicateAlias { alias: text },
                    ));
                }
            }
        }
        Ok(())
    }

    fn parse_value(
        &self,
        meta: &ParameterMeta,
        text: &str,
        line: usize,
        name: &str,
        field: &'static str,
    ) -> Result<Value, ProfileError> {
        let at = format!("{name} `{field}`");
        let value = Value::parse(meta.ty, text);
        if let Value::Invalid { .. } = value {
            return Err(self.error(
                line,
                at,
                ProfileErrorKind::BadValue {
                    value: text.to_owned(),
                    ty: meta.ty,
                },
            ));
        }
        meta.check_bounds(&value)
            .map_err(|e| self.error(line, at, ProfileErrorKind::OutOfBounds(e)))?;
        Ok(value)
    }

    fn shape(&self, line: usize, name: &str, error: ShapeError) -> ProfileError {
        let what = match error {
            ShapeError::MixedTable(t) => format!(
                "`{t}` cannot be both a table (with `{{i}}` instances) and an object with \
                 named children"
            ),
            ShapeError::ParameterAndObject(t) => {
                format!("`{t}` is used both as a parameter and as an object")
            }
        };
        self.error(line, name, ProfileErrorKind::Shape(what))
    }
}

/// `Device.NAT.PortMapping.{i}.` gives `Device.NAT.PortMapping.`.
fn table_of(instance_template: &str) -> &str {
    instance_template
        .strip_suffix("{i}.")
        .unwrap_or(instance_template)
}

/// Gives `<Table>NumberOfEntries` parameters and the ParameterKey their computed backends.
fn auto_backends(schema: &mut Schema, root: &str, params: &[ParamDecl], explicit: &[bool]) {
    let key = format!("{root}.ManagementServer.ParameterKey");
    for (decl, explicit) in params.iter().zip(explicit) {
        if *explicit {
            continue;
        }
        let Some(node) = schema.lookup(&decl.name) else {
            continue;
        };
        let computed = if decl.name == key {
            Some(Computed::ParameterKey)
        } else if let Some(table) = decl.name.strip_suffix("NumberOfEntries")
            && schema
                .lookup(&format!("{table}."))
                .is_some_and(|t| matches!(schema.node(t).kind, NodeKind::Table { .. }))
        {
            Some(Computed::NumberOfEntries)
        } else {
            None
        };
        if let Some(computed) = computed
            && let NodeKind::Parameter(meta) = &mut schema.node_mut(node).kind
        {
            meta.backend = Backend::Computed(computed);
            meta.writable = false;
        }
    }
}

/// The bounds of a type's values, as far as an `i64` holds them.
fn type_bounds(ty: XsdType) -> (i64, i64) {
    match ty {
        XsdType::Int => (i64::from(i32::MIN), i64::from(i32::MAX)),
        XsdType::UnsignedInt => (0, i64::from(u32::MAX)),
        XsdType::UnsignedLong => (0, i64::MAX),
        _ => (i64::MIN, i64::MAX),
    }
}

/// Whether any segment is a vendor extension (`X_...`).
fn is_vendor(name: &str) -> bool {
    name.split('.').any(|s| s.starts_with("X_"))
}

/// TR-106 §3.3: a vendor segment is `X_<VENDOR>_<Name>`, VENDOR an OUI or a domain-like name.
fn vendor_segment_ok(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix("X_") else {
        return true;
    };
    match rest.split_once('_') {
        Some((vendor, name)) => {
            !vendor.is_empty()
                && vendor
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !name.is_empty()
        }
        None => false,
    }
}

/// Checks a name's syntax: `object` names end in a dot, others do not; `templates` allows
/// `{i}`, `numbers` allows instance numbers.
fn check_name(
    name: &str,
    object: bool,
    templates: bool,
    numbers: bool,
) -> Result<(), &'static str> {
    if name.len() > schemas::path::MAX_PATH_LEN {
        return Err("longer than 256 characters");
    }
    let body = match (object, name.strip_suffix('.')) {
        (true, Some(body)) => body,
        (true, None) => return Err("an object name ends with a dot"),
        (false, Some(_)) => return Err("a parameter name does not end with a dot"),
        (false, None) => name,
    };
    for (i, segment) in body.split('.').enumerate() {
        let bytes = segment.as_bytes();
        let ok = match bytes {
            [] => return Err("empty segment (two dots in a row, or a leading dot)"),
            b"{i}" if i > 0 => {
                if !templates {
                    return Err("`{i}` is not allowed here; give the instance number");
                }
                true
            }
            [first, ..] if first.is_ascii_digit() => {
                if !numbers || i == 0 {
                    return Err("instance numbers are written `{i}` here");
                }
                bytes.iter().all(u8::is_ascii_digit) && *first != b'0'
            }
            [first, rest @ ..] => {
                (first.is_ascii_alphabetic() || *first == b'_')
                    && rest
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(b))
            }
        };
        if !ok {
            return Err("a segment is not a name ([A-Za-z_][A-Za-z0-9_-]*) or an instance number");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_for_dots_templates_and_numbers() {
        assert!(check_name("Device.A.{i}.B", false, true, false).is_ok());
        assert!(check_name("Device.A.", true, true, false).is_ok());
        assert!(check_name("Device.A", true, true, false).is_err());
        assert!(check_name("Device.A.", false, true, true).is_err());
        assert!(check_name("Device.A.1.B", false, true, false).is_err());
        assert!(check_name("Device.A.1.B", false, false, true).is_ok());
        assert!(check_name("Device.A.01.B", false, false, true).is_err());
        assert!(check_name("Device..B", false, true, true).is_err());
        assert!(check_name("Device.A B", false, true, true).is_err());
    }

    #[test]
    fn vendor_segments_follow_tr106() {
        assert!(vendor_segment_ok("X_EXAMPLE_CloudManagement"));
        assert!(vendor_segment_ok("X_00D0F8_Port"));
        assert!(vendor_segment_ok("X_H3C-Cloud_Mgmt"));
        assert!(!vendor_segment_ok("X_Port"));
        assert!(!vendor_segment_ok("X__Port"));
        assert!(vendor_segment_ok("Port"));
    }
}
