//! What [`super::SqliteStore`] keeps in memory: every device record, the device writes not
//! committed yet (in the order they were made), and the queued tasks by device.
//!
//! Device writes are applied here first and queued, in one critical section, so the order of
//! the queue is the order in which readers saw the writes; [`super::writer`] commits the queue
//! in that order, so the file goes through the same states as this mirror. Task writes go the
//! other way (SQL first, under the connection lock, then [`Cache::queue`] / [`Cache::unqueue`]),
//! since their outcome (an id, a conflict) comes from the database.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use super::{
    Credentials, Device, DeviceFilter, DeviceId, InformSummary, ParameterValue, Result, Task,
    TaskId, not_found,
};

/// A device write, queued for the writer.
#[derive(Debug, Clone)]
pub(super) enum Write {
    /// [`super::Store::record_inform`].
    Inform(InformSummary),
    /// [`super::Store::set_parameters`].
    Parameters {
        id: DeviceId,
        values: Vec<ParameterValue>,
        now: i64,
    },
    /// [`super::Store::set_credentials`].
    Credentials {
        id: DeviceId,
        credentials: Option<Credentials>,
    },
    /// [`super::Store::add_tag`].
    AddTag { id: DeviceId, tag: String },
    /// [`super::Store::remove_tag`].
    RemoveTag { id: DeviceId, tag: String },
    /// [`super::Store::delete_device`] (the database cascades to tasks and faults).
    DeleteDevice(DeviceId),
}

impl Write {
    /// The device written, but for an Inform (whose id is computed from its DeviceIdStruct).
    pub(super) fn device(&self) -> Option<&DeviceId> {
        match self {
            Self::Inform(_) => None,
            Self::Parameters { id, .. }
            | Self::Credentials { id, .. }
            | Self::AddTag { id, .. }
            | Self::RemoveTag { id, .. }
            | Self::DeleteDevice(id) => Some(id),
        }
    }
}

/// Where a queued task sits in its device's queue: `ORDER BY timestamp, seq`.
type QueueKey = (i64, i64);

/// The in-memory side of the SQLite store.
#[derive(Debug, Default)]
pub(super) struct Cache {
    devices: BTreeMap<DeviceId, Device>,
    /// Device writes applied to `devices` and not committed yet, oldest first.
    pending: Vec<Write>,
    /// How many of `pending` are [`Write::DeleteDevice`].
    pending_deletes: usize,
    /// When the oldest of `pending` was queued.
    oldest: Option<Instant>,
    /// Queued tasks by device, in `next_task` order.
    queued: HashMap<DeviceId, BTreeMap<QueueKey, Task>>,
    /// Set when the store is dropped: the writer commits what is left and ends.
    pub(super) stopping: bool,
}

impl Cache {
    /// A mirror of the committed state: every device, and the queued tasks with their `seq`.
    pub(super) fn new(
        devices: BTreeMap<DeviceId, Device>,
        queued: impl IntoIterator<Item = (i64, Task)>,
    ) -> Self {
        let mut cache = Self {
            devices,
            ..Self::default()
        };
        for (seq, task) in queued {
            cache.insert_queued(seq, task);
        }
        cache
    }

    /// Applies a write and queues it. An Inform creates its device; any other write is for an
    /// existing device: `NotFound` if there is no such device (nothing is queued then).
    pub(super) fn write(&mut self, mut write: Write) -> Result<()> {
        if let Write::Inform(inform) = &mut write {
            let device = self
                .devices
                .entry(inform.device_id())
                .or_insert_with(|| Device::from_inform(inform));
            // Only what changed goes to the file: a periodic Inform that repeats its values
            // writes the device row alone.
            inform.parameters.retain(|value| !device.holds(value));
            device.apply_inform(inform);
        }
        match &write {
            Write::Inform(_) => {}
            Write::Parameters { id, values, now } => {
                self.device_mut(id)?.merge_parameters(values, *now);
            }
            Write::Credentials { id, credentials } => {
                self.device_mut(id)?.credentials.clone_from(credentials);
            }
            Write::AddTag { id, tag } => {
                self.device_mut(id)?.tags.insert(tag.clone());
            }
            Write::RemoveTag { id, tag } => {
                self.device_mut(id)?.tags.remove(tag);
            }
            Write::DeleteDevice(id) => {
                self.devices
                    .remove(id)
                    .ok_or_else(|| not_found("device", id))?;
                self.queued.remove(id);
                self.pending_deletes += 1;
            }
        }
        self.push(write);
        Ok(())
    }

    fn device_mut(&mut self, id: &DeviceId) -> Result<&mut Device> {
        self.devices
            .get_mut(id)
            .ok_or_else(|| not_found("device", id))
    }

    fn push(&mut self, write: Write) {
        self.oldest.get_or_insert_with(Instant::now);
        self.pending.push(write);
    }

    /// How many writes wait for a commit.
    pub(super) fn backlog(&self) -> usize {
        self.pending.len()
    }

    /// When the oldest waiting write was made.
    pub(super) fn oldest(&self) -> Option<Instant> {
        self.oldest
    }

    /// Takes the waiting writes, for a commit.
    pub(super) fn take_pending(&mut self) -> Vec<Write> {
        self.oldest = None;
        self.pending_deletes = 0;
        std::mem::take(&mut self.pending)
    }

    /// Puts back writes whose commit failed, ahead of those made since; they count as new, so
    /// the writer retries them after one more window.
    pub(super) fn restore_pending(&mut self, mut failed: Vec<Write>) {
        failed.append(&mut self.pending);
        self.pending_deletes = failed
            .iter()
            .filter(|w| matches!(w, Write::DeleteDevice(_)))
            .count();
        self.pending = failed;
        self.oldest = Some(Instant::now());
    }

    /// One device.
    pub(super) fn device(&self, id: &DeviceId) -> Result<Device> {
        self.devices
            .get(id)
            .cloned()
            .ok_or_else(|| not_found("device", id))
    }

    /// The devices matching `filter`, ordered by id.
    pub(super) fn devices(&self, filter: &DeviceFilter) -> Vec<Device> {
        self.devices
            .values()
            .filter(|d| d.matches(filter))
            .cloned()
            .collect()
    }

    /// The device's oldest queued task.
    pub(super) fn next_task(&self, device: &DeviceId) -> Option<Task> {
        self.queued
            .get(device)
            .and_then(|queue| queue.values().next())
            .cloned()
    }

    /// Records a task that is `queued` in the database as of a commit made under the
    /// connection lock. Skipped when a deletion of its device waits in the queue: that
    /// deletion, made after the commit, cascades to the task when it is committed.
    pub(super) fn queue(&mut self, seq: i64, task: Task) {
        let deleted = self.pending_deletes > 0
            && self
                .pending
                .iter()
                .any(|w| matches!(w, Write::DeleteDevice(id) if *id == task.device));
        if !deleted {
            self.insert_queued(seq, task);
        }
    }

    fn insert_queued(&mut self, seq: i64, task: Task) {
        self.queued
            .entry(task.device.clone())
            .or_default()
            .insert((task.timestamp, seq), task);
    }

    /// Forgets a task that is no longer `queued` (claimed, faulted, deleted).
    pub(super) fn unqueue(&mut self, device: &DeviceId, task: &TaskId) {
        if let Some(queue) = self.queued.get_mut(device) {
            queue.retain(|_, t| t.id != *task);
            if queue.is_empty() {
                self.queued.remove(device);
            }
        }
    }
}
