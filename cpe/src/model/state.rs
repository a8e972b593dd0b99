//! What a device keeps across restarts: its changes to the profile, as one serde type for the
//! atomic file store ([`crate::persist`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A device's persistent state: everything in which it differs from its profile.
///
/// Values, attributes and tables the device never changed are not here: they come from the
/// profile on [`DataModel::restore`](super::DataModel::restore), so a fresh device's state is
/// nearly empty and a profile update reaches the values the device never changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelState {
    /// Format version of this structure; [`ModelState::VERSION`] when written.
    pub version: u32,
    /// The ParameterKey of the last successful SetParameterValues, AddObject or DeleteObject
    /// (TR-069 Amd 6 A.3.2.1, A.3.2.6, A.3.2.7).
    pub parameter_key: String,
    /// Stored values that differ from the profile, by full name, in lexical form.
    pub values: BTreeMap<String, String>,
    /// Attributes that differ from the profile's, by full name (A.3.2.4).
    pub attributes: BTreeMap<String, AttributeState>,
    /// Every table whose instances changed, by table name (`Device.NAT.PortMapping.`):
    /// its instances and next instance number, so numbers are never reused (§3.6.1 note on
    /// instance numbers).
    pub tables: BTreeMap<String, TableState>,
    /// Parameters changed with `apply = "deferred"` and not yet applied when the state was
    /// taken: the agent applies them after a restart ([`super::DataModel::take_deferred`]).
    pub deferred: Vec<String>,
}

impl ModelState {
    /// The format version this code writes.
    pub const VERSION: u32 = 1;
}

/// One parameter's attributes (A.3.2.4 `SetParameterAttributesStruct`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttributeState {
    /// The Notification attribute, 0-6.
    pub notification: u8,
    /// The AccessList (only `Subscriber` is defined).
    pub access_list: Vec<String>,
}

/// The instances of one table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TableState {
    /// The number AddObject gives next; it only grows, so a deleted instance's number is
    /// never given again.
    pub next_instance: u32,
    /// The existing instances, ascending.
    pub instances: Vec<u32>,
}

impl Default for TableState {
    fn default() -> Self {
        Self {
            next_instance: 1,
            instances: Vec::new(),
        }
    }
}

impl TableState {
    /// Sorts and deduplicates the instances and makes the counter exceed every one of them.
    pub(crate) fn normalize(&mut self) {
        self.instances.sort_unstable();
        self.instances.dedup();
        self.instances.retain(|&n| n != 0);
        let floor = self.instances.last().map_or(1, |&n| n.saturating_add(1));
        self.next_instance = self.next_instance.max(floor);
    }

    pub(crate) fn contains(&self, instance: u32) -> bool {
        self.instances.binary_search(&instance).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_json_and_reads_missing_fields_as_defaults() {
        let mut state = ModelState {
            version: ModelState::VERSION,
            parameter_key: "k1".into(),
            ..ModelState::default()
        };
        state.values.insert("Device.A".into(), "1".into());
        state.tables.insert(
            "Device.T.".into(),
            TableState {
                next_instance: 4,
                instances: vec![1, 3],
            },
        );
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<ModelState>(&json).unwrap(), state);
        let sparse: ModelState = serde_json::from_str(r#"{"parameter_key":"x"}"#).unwrap();
        assert_eq!(sparse.parameter_key, "x");
        assert!(sparse.tables.is_empty());
    }

    #[test]
    fn normalize_keeps_the_counter_above_every_instance() {
        let mut t = TableState {
            next_instance: 2,
            instances: vec![5, 1, 5, 0],
        };
        t.normalize();
        assert_eq!(t.instances, [1, 5]);
        assert_eq!(t.next_instance, 6);
    }
}
