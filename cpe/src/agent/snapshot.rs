//! Snapshots of the running agent ([`crate::snapshot::state`]): `cpe backup` over the control
//! socket, and the Vendor Configuration File of Upload (TR-069 Amd 6 A.4.1.5, FileType
//! `1 Vendor Configuration File`) and Download (A.3.2.8, FileType `3 Vendor Configuration
//! File`).

use std::collections::BTreeMap;

use super::{Core, MS};
use crate::control::{MAX_LINE, Response};
use crate::model::{DataModel, ModelState};
use crate::snapshot::state::{CpeState, SnapshotError, identity};
use crate::snapshot::{Kind, Snapshot};
use crate::transfer::HookError;

impl Core {
    /// The device's snapshot identity, from the model's DeviceInfo.
    pub(super) fn identity(&self) -> BTreeMap<String, String> {
        identity(&self.device_id())
    }

    /// A snapshot of the state as it is in memory now: the four state files as they would be
    /// saved at this instant, so the copy is consistent.
    pub(super) fn snapshot(&self) -> Snapshot {
        CpeState {
            model: self.model.state(),
            events: self.events.state(),
            agent: self.state.clone(),
            transfers: self.transfers.clone(),
        }
        .snapshot(self.identity())
    }

    /// `cpe backup`'s answer: the encoded snapshot, or why it does not fit a control line.
    pub(super) fn backup_response(&self) -> Response {
        let bytes = self.snapshot().encode();
        let Ok(text) = String::from_utf8(bytes) else {
            return Response::Error {
                message: "the snapshot is not text".to_owned(),
            };
        };
        let response = Response::Backup { snapshot: text };
        // The line is the JSON of the response and its newline.
        let size = serde_json::to_vec(&response).map_or(usize::MAX, |line| line.len() + 1);
        if size > MAX_LINE {
            return Response::Error {
                message: format!(
                    "the snapshot ({size} bytes as a control message) exceeds the control \
                     socket's limit of {MAX_LINE} bytes; stop the agent and back up its state \
                     files instead"
                ),
            };
        }
        response
    }

    /// Applies a Vendor Configuration File (A.3.2.8 FileType `3`): a sound `cpe-state`
    /// snapshot of this device. Its data model replaces the running one and is saved; the
    /// events, transfers and session state of the running agent stay (they belong to the
    /// exchange in progress). The change is the ACS's own: no value-change notice (§3.2.1),
    /// and the values it sets are recorded as set by the ACS, as a SetParameterValues would.
    ///
    /// A corrupt file is fault 9018 (File corrupted), another device's 9001 (Request denied);
    /// either way nothing changes.
    pub(super) fn apply_configuration(&mut self, bytes: &[u8]) -> Result<(), HookError> {
        let snapshot = Snapshot::decode(bytes).map_err(|e| HookError::Corrupted(e.to_string()))?;
        let state = match CpeState::from_snapshot(&snapshot) {
            Ok(state) => state,
            Err(SnapshotError::Foreign(e)) => return Err(HookError::Denied(e.to_string())),
            Err(e) => return Err(HookError::Corrupted(e.to_string())),
        };
        snapshot
            .check_owner(Kind::CpeState, &self.identity())
            .map_err(|e| HookError::Denied(e.to_string()))?;
        let changed = changed_values(&self.model.state(), &state.model);
        self.model = DataModel::restore(self.model.profile().clone(), &state.model);
        if changed.iter().any(|n| {
            n.strip_prefix(MS)
                .is_some_and(|n| n == "Username" || n == "Password")
        }) {
            self.acs_set_credentials();
        }
        self.set_sources(changed.iter().map(String::as_str), crate::ztp::Source::Acs);
        self.sync_from_model();
        self.save_model();
        crate::oplog!(
            XFER_CONFIG_APPLIED,
            changed = changed.len(),
            from = %crate::snapshot::state::summary(&snapshot),
            "vendor configuration file applied"
        );
        Ok(())
    }
}

/// The parameters whose stored value differs between two model states.
fn changed_values(old: &ModelState, new: &ModelState) -> Vec<String> {
    let mut names: Vec<String> = old
        .values
        .iter()
        .filter(|(name, value)| new.values.get(*name) != Some(value))
        .map(|(name, _)| name.clone())
        .collect();
    names.extend(
        new.values
            .keys()
            .filter(|name| !old.values.contains_key(*name))
            .cloned(),
    );
    names.sort();
    names
}
