//! The device data model: objects, parameters, attributes, profiles and backends
//! (TR-069 Amd 6 §A.2 parameter names, §3.6.1 aliases, A.3.2 parameter methods).
//!
//! # Shape
//!
//! A [`Profile`] says which objects and parameters a device has, with each parameter's
//! [`ParameterMeta`] (type, access, notification rules, bounds, default, [`Backend`]) and the
//! initial values, table instances and attributes. A [`DataModel`] is one device: the profile
//! plus the device's own changes. Paths are resolved against the profile's template tree
//! (instance numbers as `{i}`): an instance may be named by number, by `[alias]`
//! (§3.6.1, through the table's `Alias` parameter) or, where Amd 6 §A.2.4 allows it, by the
//! wildcard `*`. Instance numbers are never reused: each table keeps a counter that only
//! grows and is part of the persisted [`ModelState`].
//!
//! # Memory
//!
//! Everything that is the same for every device built from a profile (the template tree,
//! metadata, initial values and instances) lives once, in the `Arc<Profile>`. A device holds
//! an `Arc` to it, `Arc`s to the injected [`Host`] and [`Commands`], and only its deltas:
//! values set since it was created, attributes changed from the profile's, and the tables
//! whose instances changed. A fresh device is `size_of::<DataModel>()`, 304 bytes on 64-bit,
//! and allocates nothing more (empty hash maps do not allocate). Each changed value costs its
//! name, its value and a hash-map slot, about 120 bytes for a short string; a provisioned
//! device (a few dozen changed values, a couple of added instances) is a few kilobytes, so
//! 100 000 devices sharing one profile take a few hundred megabytes at most. These figures
//! are computed from the types' sizes, not measured with an allocator.
//!
//! # Who changes what
//!
//! Changes carry an [`Origin`]. The ACS's changes (SetParameterValues, AddObject,
//! DeleteObject) are checked against access rights and never produce a value-change notice
//! (TR-069 Amd 6 §3.7.1.5, `4 VALUE CHANGE`: not for changes the ACS made). Local changes (the
//! CLI, DHCP, the agent itself) may write read-only parameters and produce notices for
//! parameters whose Notification is not off, as do computed and external values found
//! changed by [`DataModel::check_value_changes`]. The events module collects them with
//! [`DataModel::take_value_changes`].

mod backend;
mod error;
mod meta;
pub mod profile;
mod schema;
mod state;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use schemas::path::ParameterPath;
use schemas::rpc::types::{
    Notification, ParameterAttributeStruct, ParameterValueStruct, SetParameterAttributesStruct,
    Status,
};
use schemas::value::Value;

pub use backend::{CommandError, Commands, Host, NoCommands, SystemCommands, SystemHost};
pub use error::{ModelError, SetValuesError, ValueError};
pub use meta::{Apply, Backend, Computed, External, ParameterMeta};
pub use profile::{Profile, ProfileError, ProfileErrorKind};
pub use state::{AttributeState, ModelState, TableState};

use backend::{Backends, substitute};
use meta::{alias_problem, zero};
use schema::{NodeId, NodeKind, ROOT, Schema};

/// Who makes a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The ACS, through an RPC: access rights apply, no value-change notice.
    Acs,
    /// The device itself (CLI, DHCP, the agent): read-only parameters may be written, and a
    /// changed value with Notification on gives a notice.
    Local,
}

/// A change of an `apply = "deferred"` parameter, committed but not yet applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeferredChange {
    /// The parameter's full name.
    pub name: String,
    /// Its new value.
    pub value: Value,
}

/// One parameter's attributes (A.3.2.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Attributes {
    pub(crate) notification: Notification,
    pub(crate) access_list: Vec<String>,
}

/// A concrete place in the tree: a node and the full name that reaches it.
#[derive(Clone, Debug)]
struct Place {
    node: NodeId,
    path: String,
}

/// One device's data model: a shared [`Profile`] and the device's own changes.
#[derive(Clone)]
pub struct DataModel {
    profile: Arc<Profile>,
    backends: Backends,
    parameter_key: String,
    /// Values set since the device was created, by full name.
    values: HashMap<Box<str>, Value>,
    /// Attributes that differ from the profile's, by full name.
    attributes: HashMap<Box<str>, Attributes>,
    /// Tables whose instances changed, by table name (`Device.NAT.PortMapping.`).
    tables: HashMap<Box<str>, TableState>,
    /// Value-change notices not yet taken.
    changes: BTreeMap<String, Notification>,
    /// Last values seen of dynamic parameters with Notification on.
    samples: HashMap<Box<str>, Value>,
    /// Deferred changes not yet taken.
    deferred: Vec<DeferredChange>,
}

impl DataModel {
    /// A device as the profile describes it, reading the real host ([`SystemHost`]) and
    /// running real commands ([`SystemCommands`]).
    pub fn new(profile: Arc<Profile>) -> Self {
        let parameter_key = profile.parameter_key.clone();
        Self {
            profile,
            backends: Backends {
                host: Arc::new(SystemHost::default()),
                commands: Arc::new(SystemCommands::default()),
            },
            parameter_key,
            values: HashMap::new(),
            attributes: HashMap::new(),
            tables: HashMap::new(),
            changes: BTreeMap::new(),
            samples: HashMap::new(),
            deferred: Vec::new(),
        }
    }

    /// Reads computed values from `host` instead.
    pub fn with_host(mut self, host: Arc<dyn Host>) -> Self {
        self.backends.host = host;
        self
    }

    /// Runs external parameters' commands through `commands` instead.
    pub fn with_commands(mut self, commands: Arc<dyn Commands>) -> Self {
        self.backends.commands = commands;
        self
    }

    /// The profile this device is built from.
    pub fn profile(&self) -> &Arc<Profile> {
        &self.profile
    }

    /// The ParameterKey (A.3.2.1): the key of the last successful SetParameterValues,
    /// AddObject or DeleteObject.
    pub fn parameter_key(&self) -> &str {
        &self.parameter_key
    }

    /// Sets the ParameterKey; the RPC handlers call it only when a change succeeded.
    pub fn set_parameter_key(&mut self, key: &str) {
        key.clone_into(&mut self.parameter_key);
        // The key changes because of the ACS: its new value is no value-change notice.
        let path = format!("{}.ManagementServer.ParameterKey", self.profile.root());
        if let Some(sample) = self.samples.get_mut(path.as_str()) {
            *sample = Value::String(key.to_owned());
        }
    }

    // ---------------------------------------------------------------------------------------
    // Reading

    /// The value of one parameter by full name, hidden or not (for the agent's own use:
    /// `ManagementServer.Password` is the real password here).
    pub fn value(&self, name: &str) -> Result<Value, ModelError> {
        let place = self.parameter_place(name)?;
        Ok(self.read(place.node, &place.path))
    }

    /// The values GetParameterValues answers for `path` (A.3.2.2): a full name gives one
    /// parameter, a partial path (or the empty path) every parameter below it, and `*` in an
    /// instance position every instance (Amd 6 §A.2.4). Hidden parameters read as empty.
    pub fn parameter_values(&self, path: &str) -> Result<Vec<(String, Value)>, ModelError> {
        let mut out = Vec::new();
        for place in self.expand(path, true)? {
            self.visit_parameters(place, &mut |node, path| {
                out.push((path.to_owned(), self.acs_value(node, path)));
            });
        }
        Ok(out)
    }

    /// The names GetParameterNames answers (A.3.2.3), each with its Writable flag: for a
    /// parameter whether SetParameterValues may change it, for a table whether AddObject may
    /// add to it, for an instance whether DeleteObject may remove it; single objects are not
    /// writable.
    ///
    /// | `path` | `next_level` false | `next_level` true |
    /// |---|---|---|
    /// | empty | everything | the root object (`Device.`) |
    /// | partial path | the object and everything below | its direct children |
    /// | parameter | that parameter | [`ModelError::NextLevelOnParameter`] (9003) |
    pub fn parameter_names(
        &self,
        path: &str,
        next_level: bool,
    ) -> Result<Vec<(String, bool)>, ModelError> {
        let schema = self.schema();
        let mut out = Vec::new();
        let places = self.expand(path, false)?;
        let Some(place) = places.into_iter().next() else {
            return Err(ModelError::invalid(path));
        };
        if let Some(meta) = schema.parameter(place.node) {
            if next_level {
                return Err(ModelError::NextLevelOnParameter {
                    name: path.to_owned(),
                });
            }
            out.push((place.path, meta.writable));
            return Ok(out);
        }
        if next_level {
            match &schema.node(place.node).kind {
                NodeKind::Table { writable, .. } => {
                    for n in self.instances(&place.path) {
                        out.push((format!("{}{n}.", place.path), *writable));
                    }
                }
                _ => {
                    for &child in schema.children(place.node) {
                        let node = schema.node(child);
                        let mut name = format!("{}{}", place.path, node.segment);
                        if schema.parameter(child).is_none() {
                            name.push('.');
                        }
                        out.push((name, self.writable(child)));
                    }
                }
            }
            return Ok(out);
        }
        let mut path = place.path;
        self.visit(
            place.node,
            &mut path,
            place.node != ROOT,
            &mut |node, name| {
                out.push((name.to_owned(), self.writable(node)));
            },
        );
        Ok(out)
    }

    /// The attributes GetParameterAttributes answers for `path` (A.3.2.5): partial paths and
    /// wildcards expand as for [`DataModel::parameter_values`].
    pub fn parameter_attributes(
        &self,
        path: &str,
    ) -> Result<Vec<ParameterAttributeStruct>, ModelError> {
        let mut out = Vec::new();
        for place in self.expand(path, true)? {
            self.visit_parameters(place, &mut |node, path| {
                let attributes = self.attributes_of(node, path);
                out.push(ParameterAttributeStruct {
                    name: path.to_owned(),
                    notification: attributes.notification,
                    access_list: attributes.access_list,
                });
            });
        }
        Ok(out)
    }

    /// The parameters of the Inform's ParameterList (§3.7.1.5, Table 37): every forced-inform
    /// parameter, then those of `changed` (passive/active value changes) not already there,
    /// with current values. Names in `changed` that no longer exist are left out.
    pub fn inform_parameters(&self, changed: &[String]) -> Vec<ParameterValueStruct> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for &node in &self.profile.forced {
            for place in self.template_places(node) {
                if seen.insert(place.path.clone()) {
                    let value = self.acs_value(node, &place.path);
                    out.push(ParameterValueStruct::new(place.path, value));
                }
            }
        }
        for name in changed {
            if let Ok(place) = self.parameter_place(name)
                && seen.insert(place.path.clone())
            {
                let value = self.acs_value(place.node, &place.path);
                out.push(ParameterValueStruct::new(place.path, value));
            }
        }
        out
    }

    // ---------------------------------------------------------------------------------------
    // Changing

    /// Sets parameter values all-or-nothing (A.3.2.1): if any change cannot be made, nothing
    /// is applied and every refused parameter is listed. Returns [`Status::Pending`] when a
    /// changed parameter is `apply = "deferred"`.
    ///
    /// An unknown name or an object name is [`ModelError::InvalidName`], a wildcard
    /// [`ModelError::Wildcard`] (both 9005); a
    /// read-only parameter (for the ACS) [`ModelError::NotWritable`] (9008); a value of the
    /// wrong type or out of bounds [`ModelError::Value`] (9006/9007); a name given twice
    /// [`ModelError::Duplicate`] (9003). A failing `set` command is [`ModelError::Backend`]
    /// (9002); the commands already run are then run again with the old values.
    pub fn set_values<'a>(
        &mut self,
        changes: impl IntoIterator<Item = (&'a str, &'a Value)>,
        origin: Origin,
    ) -> Result<Status, SetValuesError> {
        let mut errors = Vec::new();
        let mut planned: Vec<Planned> = Vec::new();
        let mut names: HashSet<&str> = HashSet::new();
        let mut paths: HashSet<String> = HashSet::new();
        let mut duplicates: Vec<&str> = Vec::new();
        for (name, value) in changes {
            if !names.insert(name) {
                if !duplicates.contains(&name) {
                    duplicates.push(name);
                }
                continue;
            }
            match self.plan_set(name, value, origin) {
                Ok(p) => {
                    if paths.insert(p.path.clone()) {
                        planned.push(p);
                    } else {
                        duplicates.push(name);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        errors.extend(duplicates.into_iter().map(|name| ModelError::Duplicate {
            name: name.to_owned(),
        }));
        errors.extend(self.alias_conflicts(&planned));
        if !errors.is_empty() {
            return Err(SetValuesError { errors });
        }
        self.apply(planned, origin).map_err(|error| SetValuesError {
            errors: vec![error],
        })
    }

    /// Sets one parameter (see [`DataModel::set_values`]).
    pub fn set_value(
        &mut self,
        name: &str,
        value: &Value,
        origin: Origin,
    ) -> Result<Status, ModelError> {
        self.set_values([(name, value)], origin)
            .map_err(|mut e| e.errors.pop().unwrap_or_else(|| ModelError::invalid(name)))
    }

    /// Changes attributes (A.3.2.4), all-or-nothing. A partial path changes every parameter
    /// below it. Turning active notification off for a `forceEnabled` parameter, or on for a
    /// `canDeny` one, is [`ModelError::NotificationRejected`] (9009) when the parameter is
    /// named; under a partial path such parameters keep their Notification (our reading:
    /// refusing would make a partial path over `Device.` unusable).
    pub fn set_attributes(
        &mut self,
        changes: &[SetParameterAttributesStruct],
    ) -> Result<(), ModelError> {
        let profile = Arc::clone(&self.profile);
        let schema = &profile.schema;
        let mut plan: HashMap<String, (NodeId, Attributes)> = HashMap::new();
        for change in changes {
            let partial = change.name.is_empty() || change.name.ends_with('.');
            let mut targets = Vec::new();
            for place in self.expand(&change.name, true)? {
                self.visit_parameters(place, &mut |node, path| {
                    targets.push((node, path.to_owned()));
                });
            }
            for (node, path) in targets {
                let Some(meta) = schema.parameter(node) else {
                    continue;
                };
                let mut attributes = match plan.get(&path) {
                    Some((_, planned)) => planned.clone(),
                    None => self.attributes_of(node, &path),
                };
                if change.notification_change {
                    let requested = change.notification;
                    let refused = match meta.active_notify {
                        schemas::model::ActiveNotify::ForceEnabled => {
                            requested != Notification::Active
                        }
                        schemas::model::ActiveNotify::CanDeny => requested == Notification::Active,
                        _ => false,
                    };
                    if refused && !partial {
                        return Err(ModelError::NotificationRejected {
                            name: path,
                            requested,
                            rule: meta.active_notify,
                        });
                    }
                    if !refused {
                        attributes.notification = requested;
                    }
                }
                if change.access_list_change {
                    attributes.access_list.clone_from(&change.access_list);
                }
                plan.insert(path, (node, attributes));
            }
        }
        for (path, (node, attributes)) in plan {
            let dynamic = schema.parameter(node).is_some_and(|m| m.is_dynamic());
            if dynamic && attributes.notification != Notification::Off {
                if !self.samples.contains_key(path.as_str()) {
                    let now = self.read(node, &path);
                    self.samples.insert(path.as_str().into(), now);
                }
            } else {
                self.samples.remove(path.as_str());
            }
            if attributes == self.profile_attributes(node, &path) {
                self.attributes.remove(path.as_str());
            } else {
                self.attributes.insert(path.into(), attributes);
            }
        }
        Ok(())
    }

    /// Creates an instance of table `path` (A.3.2.6) and returns its number. The instance's
    /// parameters take their templates' defaults; an `Alias` gets `cpe-<n>`, or the alias
    /// given as the last segment (`Device.NAT.PortMapping.[web].`, §3.6.1).
    ///
    /// A name that is not a table, or a table the ACS may not add to, is
    /// [`ModelError::NotAddable`] (9005: TR-069 Amd 6 Table 130 ties 9005 to AddObject, and
    /// A.3.2.6 lists no other fault for a wrong ObjectName; bbfdm, the TR-181 engine of icwmp,
    /// answers 9005 too). A full table is [`ModelError::TableFull`] (9004).
    pub fn add_object(&mut self, path: &str, origin: Origin) -> Result<u32, ModelError> {
        let (table_name, alias) = split_alias(path);
        let not_addable = || ModelError::NotAddable {
            name: path.to_owned(),
        };
        if !table_name.ends_with('.') {
            return Err(ModelError::invalid(path));
        }
        let place = self.single_place(table_name)?;
        let schema = self.schema();
        let NodeKind::Table {
            instance,
            writable,
            max_instances,
        } = schema.node(place.node).kind
        else {
            return Err(not_addable());
        };
        if origin == Origin::Acs && !writable {
            return Err(not_addable());
        }
        let table = self.table(&place.path);
        if table.instances.len() >= max_instances as usize || table.next_instance == u32::MAX {
            return Err(ModelError::TableFull {
                name: place.path,
                max: max_instances,
            });
        }
        let n = table.next_instance;
        let alias_node = self.alias_node(instance);
        let alias_value = match (alias_node, alias) {
            (Some(_), Some(alias)) => {
                if let Some(reason) = alias_problem(alias) {
                    return Err(ModelError::Value {
                        name: path.to_owned(),
                        error: ValueError::BadAlias {
                            value: alias.to_owned(),
                            reason,
                        },
                    });
                }
                if self.find_alias(&place.path, instance, alias).is_some() {
                    return Err(ModelError::Value {
                        name: path.to_owned(),
                        error: ValueError::BadAlias {
                            value: alias.to_owned(),
                            reason: "already used by another instance",
                        },
                    });
                }
                Some(alias.to_owned())
            }
            (None, Some(_)) => return Err(ModelError::invalid(path)),
            (Some(_), None) => {
                let mut candidate = format!("cpe-{n}");
                let mut k = 1;
                while self.find_alias(&place.path, instance, &candidate).is_some() {
                    k += 1;
                    candidate = format!("cpe-{n}-{k}");
                }
                Some(candidate)
            }
            (None, None) => None,
        };
        let table = self.table_mut(&place.path);
        table.instances.push(n);
        table.next_instance = n + 1;
        if let Some(alias) = alias_value {
            self.values.insert(
                format!("{}{n}.Alias", place.path).into(),
                Value::String(alias),
            );
        }
        if origin == Origin::Acs {
            self.resample_entries(&place.path);
        }
        Ok(n)
    }

    /// Deletes instance `path` (ending in a dot) and everything below it (A.3.2.7). Its
    /// number is never given again. Anything but an existing instance of a table the ACS may
    /// delete from is [`ModelError::NotDeletable`] (9005, as for AddObject) or, for a name that
    /// does not exist, [`ModelError::InvalidName`].
    pub fn delete_object(&mut self, path: &str, origin: Origin) -> Result<(), ModelError> {
        if !path.ends_with('.') {
            return Err(ModelError::invalid(path));
        }
        let place = self.single_place(path)?;
        let schema = self.schema();
        let not_deletable = || ModelError::NotDeletable {
            name: path.to_owned(),
        };
        if !matches!(schema.node(place.node).kind, NodeKind::Instance { .. }) {
            return Err(not_deletable());
        }
        let NodeKind::Table { writable, .. } = schema.node(schema.node(place.node).parent).kind
        else {
            return Err(not_deletable());
        };
        if origin == Origin::Acs && !writable {
            return Err(not_deletable());
        }
        let body = place.path.trim_end_matches('.');
        let Some((table_body, number)) = body.rsplit_once('.') else {
            return Err(not_deletable());
        };
        let Ok(n) = number.parse::<u32>() else {
            return Err(not_deletable());
        };
        let table_path = format!("{table_body}.");
        self.table_mut(&table_path).instances.retain(|&i| i != n);
        let prefix = place.path.as_str();
        self.values.retain(|k, _| !k.starts_with(prefix));
        self.attributes.retain(|k, _| !k.starts_with(prefix));
        self.tables.retain(|k, _| !k.starts_with(prefix));
        self.samples.retain(|k, _| !k.starts_with(prefix));
        self.changes.retain(|k, _| !k.starts_with(prefix));
        self.deferred.retain(|d| !d.name.starts_with(prefix));
        if origin == Origin::Acs {
            self.resample_entries(&table_path);
        }
        Ok(())
    }

    /// After the ACS added or deleted an instance: the table's `NumberOfEntries` changed
    /// because of the ACS, so its new value is no value-change notice.
    fn resample_entries(&mut self, table_path: &str) {
        let entries = format!("{}NumberOfEntries", table_path.trim_end_matches('.'));
        if !self.samples.contains_key(entries.as_str()) {
            return;
        }
        if let Ok(place) = self.parameter_place(&entries) {
            let value = self.read(place.node, &place.path);
            self.samples.insert(place.path.into(), value);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Notifications and deferred changes

    /// Reads every computed and external parameter whose Notification is not off and records
    /// a notice for each whose value changed since the last check (or since notification
    /// was turned on). The first check of a parameter only records its value.
    pub fn check_value_changes(&mut self) {
        let mut seen: HashSet<Box<str>> = HashSet::new();
        let mut found = Vec::new();
        for &node in &self.profile.dynamic {
            for place in self.template_places(node) {
                let notification = self.attributes_of(node, &place.path).notification;
                if notification != Notification::Off {
                    let value = self.read(node, &place.path);
                    found.push((place.path, notification, value));
                }
            }
        }
        for (path, notification, value) in found {
            let key: Box<str> = path.as_str().into();
            if self.samples.get(&key).is_some_and(|old| *old != value) {
                self.changes.insert(path, notification);
            }
            self.samples.insert(key.clone(), value);
            seen.insert(key);
        }
        self.samples.retain(|k, _| seen.contains(k));
    }

    /// The value-change notices since the last call, each with the parameter's Notification
    /// (passive or active, or a lightweight variant), for `4 VALUE CHANGE` (§3.7.1.5).
    #[must_use]
    pub fn take_value_changes(&mut self) -> Vec<(String, Notification)> {
        std::mem::take(&mut self.changes).into_iter().collect()
    }

    /// The changes of `apply = "deferred"` parameters the agent must now apply (after the
    /// session; SetParameterValues answered Status 1). Stored values are already committed;
    /// [`DataModel::apply_deferred`] runs the `set` commands of external ones.
    #[must_use]
    pub fn take_deferred(&mut self) -> Vec<DeferredChange> {
        std::mem::take(&mut self.deferred)
    }

    /// Runs the `set` commands of deferred external parameters; returns what failed.
    pub fn apply_deferred(&mut self, changes: &[DeferredChange]) -> Vec<ModelError> {
        let mut failed = Vec::new();
        for change in changes {
            let Ok(place) = self.parameter_place(&change.name) else {
                continue;
            };
            let Some(Backend::External(external)) =
                self.schema().parameter(place.node).map(|m| &m.backend)
            else {
                continue;
            };
            if external.set.is_empty() {
                continue;
            }
            let argv = substitute(&external.set, &place.path, Some(&change.value.lexical()));
            if let Err(error) = self.backends.commands.run(&argv) {
                failed.push(ModelError::Backend {
                    name: change.name.clone(),
                    error,
                });
            }
        }
        failed
    }

    // ---------------------------------------------------------------------------------------
    // Persistence

    /// The device's persistent state: its differences from the profile.
    pub fn state(&self) -> ModelState {
        let values = self
            .values
            .iter()
            .filter(|(path, value)| {
                let initial = self.profile.values.get(*path);
                initial != Some(*value)
            })
            .map(|(path, value)| (path.to_string(), value.lexical().into_owned()))
            .collect();
        let attributes = self
            .attributes
            .iter()
            .map(|(path, a)| {
                let state = AttributeState {
                    notification: u8::try_from(a.notification.number()).unwrap_or(0),
                    access_list: a.access_list.clone(),
                };
                (path.to_string(), state)
            })
            .collect();
        ModelState {
            version: ModelState::VERSION,
            parameter_key: self.parameter_key.clone(),
            values,
            attributes,
            tables: self
                .tables
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            deferred: self.deferred.iter().map(|d| d.name.clone()).collect(),
        }
    }

    /// A device from `profile` and a state taken with [`DataModel::state`]. What no longer
    /// fits the profile (a parameter or table it lost, a value of another type) is dropped
    /// with a warning rather than refused, so a profile update never bricks a device.
    pub fn restore(profile: Arc<Profile>, state: &ModelState) -> Self {
        let mut model = Self::new(profile);
        model.parameter_key.clone_from(&state.parameter_key);
        let mut tables: Vec<(&String, &TableState)> = state.tables.iter().collect();
        tables.sort_by_key(|(path, _)| path.len());
        for (path, table) in tables {
            let fits = model.single_place(path).ok().and_then(|place| {
                match model.schema().node(place.node).kind {
                    NodeKind::Table { max_instances, .. } => Some(max_instances),
                    _ => None,
                }
            });
            match fits {
                Some(max) if table.instances.len() <= max as usize => {
                    let mut table = table.clone();
                    table.normalize();
                    model.tables.insert(path.as_str().into(), table);
                }
                _ => {
                    crate::oplog!(STATE_TABLE_DROPPED, table = %path, "state: dropping a table the profile lacks")
                }
            }
        }
        for (path, text) in &state.values {
            let Ok(place) = model.parameter_place(path) else {
                crate::oplog!(STATE_PARAMETER_DROPPED, parameter = %path, "state: dropping a parameter the profile lacks");
                continue;
            };
            let Some(meta) = model.schema().parameter(place.node) else {
                continue;
            };
            match Value::parse(meta.ty, text) {
                Value::Invalid { .. } => {
                    crate::oplog!(STATE_VALUE_DROPPED, parameter = %path, "state: dropping a value of the wrong type");
                }
                value => {
                    model.values.insert(place.path.into(), value);
                }
            }
        }
        for (path, a) in &state.attributes {
            let notification = Notification::from_number(i32::from(a.notification));
            match (model.parameter_place(path), notification) {
                (Ok(place), Some(notification)) => {
                    let attributes = Attributes {
                        notification,
                        access_list: a.access_list.clone(),
                    };
                    model.attributes.insert(place.path.into(), attributes);
                }
                _ => {
                    crate::oplog!(STATE_ATTRIBUTES_DROPPED, parameter = %path, "state: dropping attributes")
                }
            }
        }
        for name in &state.deferred {
            if let Ok(place) = model.parameter_place(name) {
                let value = model.read(place.node, &place.path);
                model.deferred.push(DeferredChange {
                    name: place.path,
                    value,
                });
            }
        }
        model
    }

    // ---------------------------------------------------------------------------------------
    // Internals

    fn schema(&self) -> &Schema {
        &self.profile.schema
    }

    /// The instances of table `path`.
    fn instances(&self, path: &str) -> &[u32] {
        self.tables
            .get(path)
            .or_else(|| self.profile.tables.get(path))
            .map_or(&[], |t| &t.instances)
    }

    /// Table `path` as it is now.
    fn table(&self, path: &str) -> TableState {
        self.tables
            .get(path)
            .or_else(|| self.profile.tables.get(path))
            .cloned()
            .unwrap_or_default()
    }

    /// Table `path`, copied from the profile into the device's own tables to be changed.
    fn table_mut(&mut self, path: &str) -> &mut TableState {
        let profile = &self.profile;
        self.tables
            .entry(path.into())
            .or_insert_with(|| profile.tables.get(path).cloned().unwrap_or_default())
    }

    /// The node reached by the names of `segments`, taking any instance segment (number,
    /// `[alias]`, `*`) through a table, without looking at which instances exist.
    fn template_node(&self, segments: &[&str]) -> Option<NodeId> {
        let schema = self.schema();
        let mut node = ROOT;
        for segment in segments {
            node = match &schema.node(node).kind {
                NodeKind::Table { instance, .. } if is_instance_segment(segment) => *instance,
                NodeKind::Object { .. } | NodeKind::Instance { .. } => {
                    schema.child(node, segment)?
                }
                NodeKind::Table { .. } | NodeKind::Parameter(_) => return None,
            };
        }
        Some(node)
    }

    /// The places `name` names: one, or with wildcards any number (none if a wildcard table
    /// is empty). Names that do not exist, parameters with a trailing dot and objects without
    /// one are [`ModelError::InvalidName`].
    fn expand(&self, name: &str, wildcards: bool) -> Result<Vec<Place>, ModelError> {
        if name.is_empty() {
            return Ok(vec![Place {
                node: ROOT,
                path: String::new(),
            }]);
        }
        let invalid = || ModelError::invalid(name);
        let parsed: ParameterPath = name.parse().map_err(|_| invalid())?;
        let segments: Vec<&str> = parsed.segments().collect();
        let target = self.template_node(&segments).ok_or_else(invalid)?;
        let schema = self.schema();
        if schema.parameter(target).is_some() == parsed.is_partial() {
            return Err(invalid());
        }
        if parsed.has_wildcard() && !wildcards {
            return Err(ModelError::Wildcard {
                name: name.to_owned(),
            });
        }
        let mut frontier = vec![Place {
            node: ROOT,
            path: String::new(),
        }];
        for segment in segments {
            let mut next = Vec::with_capacity(frontier.len());
            for place in &frontier {
                match &schema.node(place.node).kind {
                    NodeKind::Table { instance, .. } => {
                        let numbers: Vec<u32> = if segment == "*" {
                            self.instances(&place.path).to_vec()
                        } else if let Some(alias) =
                            segment.strip_prefix('[').and_then(|s| s.strip_suffix(']'))
                        {
                            let found = self.find_alias(&place.path, *instance, alias);
                            vec![found.ok_or_else(invalid)?]
                        } else {
                            let n = segment
                                .parse::<u32>()
                                .ok()
                                .filter(|n| self.instances(&place.path).contains(n));
                            vec![n.ok_or_else(invalid)?]
                        };
                        next.extend(numbers.into_iter().map(|n| Place {
                            node: *instance,
                            path: format!("{}{n}.", place.path),
                        }));
                    }
                    NodeKind::Object { .. } | NodeKind::Instance { .. } => {
                        let child = schema.child(place.node, segment).ok_or_else(invalid)?;
                        let mut path = format!("{}{segment}", place.path);
                        if schema.parameter(child).is_none() {
                            path.push('.');
                        }
                        next.push(Place { node: child, path });
                    }
                    NodeKind::Parameter(_) => return Err(invalid()),
                }
            }
            frontier = next;
        }
        Ok(frontier)
    }

    /// The one place a name without wildcards names.
    fn single_place(&self, name: &str) -> Result<Place, ModelError> {
        self.expand(name, false)?
            .into_iter()
            .next()
            .ok_or_else(|| ModelError::invalid(name))
    }

    /// The place of one parameter, by full name.
    fn parameter_place(&self, name: &str) -> Result<Place, ModelError> {
        let place = self.single_place(name)?;
        if self.schema().parameter(place.node).is_none() {
            return Err(ModelError::invalid(name));
        }
        Ok(place)
    }

    /// Every existing place of a template node.
    fn template_places(&self, node: NodeId) -> Vec<Place> {
        let template = &self.schema().node(node).template;
        let pattern = template.replace("{i}", "*");
        self.expand(&pattern, true).unwrap_or_default()
    }

    /// The instance of table `table_path` whose alias is `alias`.
    fn find_alias(&self, table_path: &str, instance: NodeId, alias: &str) -> Option<u32> {
        let alias_node = self.alias_node(instance)?;
        self.instances(table_path).iter().copied().find(|n| {
            let path = format!("{table_path}{n}.Alias");
            self.read(alias_node, &path).lexical() == alias
        })
    }

    /// The `Alias` parameter of an instance template, if it has a stored string one.
    fn alias_node(&self, instance: NodeId) -> Option<NodeId> {
        let schema = self.schema();
        let node = schema.child(instance, "Alias")?;
        schema
            .parameter(node)
            .filter(|m| m.ty == schemas::value::XsdType::String && !m.is_dynamic())
            .map(|_| node)
    }

    /// Calls `f` for `node` (if `include_self`) and every node below it, with full names.
    fn visit(
        &self,
        node: NodeId,
        path: &mut String,
        include_self: bool,
        f: &mut dyn FnMut(NodeId, &str),
    ) {
        let schema = self.schema();
        if include_self {
            f(node, path.as_str());
        }
        match &schema.node(node).kind {
            NodeKind::Parameter(_) => {}
            NodeKind::Table { instance, .. } => {
                for n in self.instances(path).to_vec() {
                    let len = path.len();
                    path.push_str(&n.to_string());
                    path.push('.');
                    self.visit(*instance, path, true, f);
                    path.truncate(len);
                }
            }
            NodeKind::Object { children } | NodeKind::Instance { children } => {
                for &child in children {
                    let len = path.len();
                    path.push_str(&schema.node(child).segment);
                    if schema.parameter(child).is_none() {
                        path.push('.');
                    }
                    self.visit(child, path, true, f);
                    path.truncate(len);
                }
            }
        }
    }

    /// Calls `f` for every parameter at or below `place`.
    fn visit_parameters(&self, place: Place, f: &mut dyn FnMut(NodeId, &str)) {
        let schema = self.schema();
        let mut path = place.path;
        self.visit(place.node, &mut path, true, &mut |node, name| {
            if schema.parameter(node).is_some() {
                f(node, name);
            }
        });
    }

    /// GetParameterNames' Writable of a node.
    fn writable(&self, node: NodeId) -> bool {
        let schema = self.schema();
        match &schema.node(node).kind {
            NodeKind::Parameter(meta) => meta.writable,
            NodeKind::Table { writable, .. } => *writable,
            NodeKind::Instance { .. } => matches!(
                schema.node(schema.node(node).parent).kind,
                NodeKind::Table { writable: true, .. }
            ),
            NodeKind::Object { .. } => false,
        }
    }

    /// A parameter's current value.
    fn read(&self, node: NodeId, path: &str) -> Value {
        let Some(meta) = self.schema().parameter(node) else {
            return Value::default();
        };
        match &meta.backend {
            Backend::Stored => self.stored(meta, path),
            Backend::Computed(computed) => self.computed(*computed, meta, path),
            Backend::External(external) => {
                if let Some(pending) = self.deferred.iter().rev().find(|d| d.name == path) {
                    return pending.value.clone();
                }
                if external.get.is_empty() {
                    return self.stored(meta, path);
                }
                let argv = substitute(&external.get, path, None);
                match self.backends.commands.run(&argv) {
                    Ok(out) => match Value::parse(meta.ty, out.trim()) {
                        Value::Invalid { text, .. } => {
                            crate::oplog!(HOST_GET_BAD_VALUE, parameter = %path, %text, "`get` printed a value of the wrong type");
                            self.stored(meta, path)
                        }
                        value => value,
                    },
                    Err(error) => {
                        crate::oplog!(HOST_GET_FAILED, parameter = %path, %error, "`get` failed; answering the last value");
                        self.stored(meta, path)
                    }
                }
            }
        }
    }

    /// The stored value: set on the device, else the profile's, else the template default.
    fn stored(&self, meta: &ParameterMeta, path: &str) -> Value {
        self.values
            .get(path)
            .or_else(|| self.profile.values.get(path))
            .cloned()
            .unwrap_or_else(|| meta.default.clone())
    }

    fn computed(&self, computed: Computed, meta: &ParameterMeta, path: &str) -> Value {
        let host = &self.backends.host;
        let value = match computed {
            Computed::UpTime => Value::UnsignedInt(host.uptime()),
            Computed::CurrentTime => Value::DateTime(host.now()),
            Computed::SoftwareVersion => match host.software_version() {
                Some(version) => Value::String(version),
                None => self.stored(meta, path),
            },
            Computed::InterfaceAddress => Value::String(
                self.interface_name(path)
                    .and_then(|name| host.interface_address(&name))
                    .unwrap_or_default(),
            ),
            Computed::NumberOfEntries => {
                let table = path.strip_suffix("NumberOfEntries").unwrap_or(path);
                let count = self.instances(&format!("{table}.")).len();
                Value::UnsignedInt(u32::try_from(count).unwrap_or(u32::MAX))
            }
            Computed::ParameterKey => Value::String(self.parameter_key.clone()),
        };
        meta::coerce(meta.ty, &value).unwrap_or(value)
    }

    /// The `Name` of the nearest instance enclosing `path` that has one.
    fn interface_name(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('.').collect();
        (1..segments.len()).rev().find_map(|end| {
            let last = segments[end - 1];
            if last.is_empty() || !last.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let candidate = format!("{}.Name", segments[..end].join("."));
            if candidate == path {
                return None;
            }
            let place = self.parameter_place(&candidate).ok()?;
            Some(self.read(place.node, &place.path).lexical().into_owned())
        })
    }

    /// The value the ACS sees: empty for hidden parameters.
    fn acs_value(&self, node: NodeId, path: &str) -> Value {
        match self.schema().parameter(node) {
            Some(meta) if meta.hidden => zero(meta.ty),
            _ => self.read(node, path),
        }
    }

    /// A parameter's attributes now.
    fn attributes_of(&self, node: NodeId, path: &str) -> Attributes {
        match self.attributes.get(path) {
            Some(a) => a.clone(),
            None => self.profile_attributes(node, path),
        }
    }

    /// A parameter's attributes as the profile gives them.
    fn profile_attributes(&self, node: NodeId, path: &str) -> Attributes {
        if let Some(a) = self.profile.attributes.get(path) {
            return a.clone();
        }
        Attributes {
            notification: self
                .schema()
                .parameter(node)
                .map_or(Notification::Off, ParameterMeta::initial_notification),
            access_list: Vec::new(),
        }
    }

    /// Checks one change of SetParameterValues.
    fn plan_set(&self, name: &str, value: &Value, origin: Origin) -> Result<Planned, ModelError> {
        let places = self.expand(name, false)?;
        let [place] = places.as_slice() else {
            return Err(ModelError::invalid(name));
        };
        let meta = self
            .schema()
            .parameter(place.node)
            .ok_or_else(|| ModelError::invalid(name))?;
        let writable = match (&meta.backend, origin) {
            (Backend::Computed(_), _) => false,
            (_, Origin::Acs) => meta.writable,
            (_, Origin::Local) => true,
        };
        if !writable {
            return Err(ModelError::NotWritable {
                name: name.to_owned(),
            });
        }
        let value = meta.check(value).map_err(|error| ModelError::Value {
            name: name.to_owned(),
            error,
        })?;
        if self.is_alias(place.node)
            && let Some(reason) = alias_problem(&value.lexical())
        {
            return Err(ModelError::Value {
                name: name.to_owned(),
                error: ValueError::BadAlias {
                    value: value.lexical().into_owned(),
                    reason,
                },
            });
        }
        Ok(Planned {
            name: name.to_owned(),
            path: place.path.clone(),
            node: place.node,
            value,
        })
    }

    /// Whether `node` is the `Alias` parameter of a table's instances.
    fn is_alias(&self, node: NodeId) -> bool {
        let schema = self.schema();
        let parent = schema.node(node).parent;
        matches!(schema.node(parent).kind, NodeKind::Instance { .. })
            && self.alias_node(parent) == Some(node)
    }

    /// The planned alias changes that would give two instances of a table the same alias.
    fn alias_conflicts(&self, planned: &[Planned]) -> Vec<ModelError> {
        let mut errors = Vec::new();
        let mut by_table: HashMap<String, HashMap<u32, (Option<usize>, String)>> = HashMap::new();
        for (i, p) in planned.iter().enumerate() {
            if !self.is_alias(p.node) {
                continue;
            }
            let Some(instance_path) = p.path.strip_suffix("Alias") else {
                continue;
            };
            let body = instance_path.trim_end_matches('.');
            let Some((table_body, number)) = body.rsplit_once('.') else {
                continue;
            };
            let Ok(n) = number.parse::<u32>() else {
                continue;
            };
            let table_path = format!("{table_body}.");
            let aliases = by_table.entry(table_path.clone()).or_insert_with(|| {
                self.instances(&table_path)
                    .iter()
                    .map(|&m| {
                        let path = format!("{table_path}{m}.Alias");
                        (m, (None, self.read(p.node, &path).lexical().into_owned()))
                    })
                    .collect()
            });
            aliases.insert(n, (Some(i), p.value.lexical().into_owned()));
        }
        for aliases in by_table.values() {
            let mut count: HashMap<&str, usize> = HashMap::new();
            for (_, alias) in aliases.values() {
                *count.entry(alias.as_str()).or_default() += 1;
            }
            let mut bad: Vec<usize> = aliases
                .values()
                .filter(|(i, alias)| i.is_some() && count[alias.as_str()] > 1)
                .filter_map(|(i, _)| *i)
                .collect();
            bad.sort_unstable();
            for i in bad {
                errors.push(ModelError::Value {
                    name: planned[i].name.clone(),
                    error: ValueError::BadAlias {
                        value: planned[i].value.lexical().into_owned(),
                        reason: "already used by another instance",
                    },
                });
            }
        }
        errors
    }

    /// Applies checked changes: `set` commands first (undone if one fails), then the values.
    fn apply(&mut self, planned: Vec<Planned>, origin: Origin) -> Result<Status, ModelError> {
        let old: Vec<Value> = planned.iter().map(|p| self.read(p.node, &p.path)).collect();
        let mut done: Vec<usize> = Vec::new();
        for (i, p) in planned.iter().enumerate() {
            let Some(meta) = self.schema().parameter(p.node) else {
                continue;
            };
            let Backend::External(external) = &meta.backend else {
                continue;
            };
            if external.set.is_empty() || meta.apply == Apply::Deferred {
                continue;
            }
            let argv = substitute(&external.set, &p.path, Some(&p.value.lexical()));
            if let Err(error) = self.backends.commands.run(&argv) {
                for &j in done.iter().rev() {
                    self.undo(&planned[j], &old[j]);
                }
                return Err(ModelError::Backend {
                    name: p.name.clone(),
                    error,
                });
            }
            done.push(i);
        }
        let mut status = Status::Applied;
        for (p, old) in planned.into_iter().zip(old) {
            let Some(meta) = self.schema().parameter(p.node) else {
                continue;
            };
            let (deferred, dynamic) = (meta.apply == Apply::Deferred, meta.is_dynamic());
            let notification = self.attributes_of(p.node, &p.path).notification;
            if deferred {
                status = Status::Pending;
                self.deferred.retain(|d| d.name != p.path);
                self.deferred.push(DeferredChange {
                    name: p.path.clone(),
                    value: p.value.clone(),
                });
            }
            match origin {
                Origin::Local if old != p.value && notification != Notification::Off => {
                    self.changes.insert(p.path.clone(), notification);
                }
                Origin::Acs if dynamic && self.samples.contains_key(p.path.as_str()) => {
                    self.samples.insert(p.path.as_str().into(), p.value.clone());
                }
                _ => {}
            }
            self.values.insert(p.path.into(), p.value);
        }
        Ok(status)
    }

    /// Runs a `set` command again with the value it had.
    fn undo(&self, planned: &Planned, old: &Value) {
        let Some(Backend::External(external)) =
            self.schema().parameter(planned.node).map(|m| &m.backend)
        else {
            return;
        };
        let argv = substitute(&external.set, &planned.path, Some(&old.lexical()));
        if let Err(error) = self.backends.commands.run(&argv) {
            crate::oplog!(HOST_RESTORE_FAILED, parameter = %planned.path, %error, "could not restore the old value");
        }
    }
}

impl fmt::Debug for DataModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataModel")
            .field("profile", &self.profile.name())
            .field("parameter_key", &self.parameter_key)
            .field("values", &self.values.len())
            .field("attributes", &self.attributes.len())
            .field("tables", &self.tables.len())
            .field("changes", &self.changes.len())
            .field("deferred", &self.deferred.len())
            .finish_non_exhaustive()
    }
}

/// A checked change of SetParameterValues.
#[derive(Clone, Debug)]
struct Planned {
    /// The name as given.
    name: String,
    /// The full name with instance numbers.
    path: String,
    node: NodeId,
    value: Value,
}

/// Whether a segment can name an instance: a number (no leading zero), `[alias]` or `*`.
fn is_instance_segment(segment: &str) -> bool {
    if segment == "*" || (segment.starts_with('[') && segment.ends_with(']')) {
        return true;
    }
    let bytes = segment.as_bytes();
    !bytes.is_empty() && bytes[0] != b'0' && bytes.iter().all(u8::is_ascii_digit)
}

/// `Table.[alias].` gives (`Table.`, `Some(alias)`); any other name is returned whole.
fn split_alias(path: &str) -> (&str, Option<&str>) {
    let Some(body) = path.strip_suffix("].") else {
        return (path, None);
    };
    match body.rfind(".[") {
        Some(i) => (&path[..=i], Some(&body[i + 2..])),
        None => (path, None),
    }
}
