//! Devices, tasks, faults and files: the `Store` trait, SQLite and in-memory backends.
//!
//! The trait is synchronous: the async server calls it through `spawn_blocking` (RUST-GUIDE
//! §1.11) unless the store says a call does not wait on I/O ([`Store::blocks`],
//! [`Store::inform_path_blocks`]). [`SqliteStore`] is the embedded default (one file, WAL);
//! [`MemoryStore`] backs tests.
//! Both pass one test suite. Times are unix seconds passed in by the caller, never read from the
//! clock here.
//!
//! # Task life cycle and durability
//!
//! A task is `queued` when added. A session takes the oldest one with [`Store::next_task`] and
//! [`Store::claim_task`] (`queued` -> `in progress`), sends the RPC, and on the CPE's response
//! calls [`Store::complete_task`], which deletes the task and appends it to the completion log in
//! one transaction (GenieACS deletes done tasks too). A CWMP fault goes to
//! [`Store::fault_task`] (`faulted`, with a [`Fault`] record) until [`Store::retry_task`].
//!
//! If the process dies, [`SqliteStore::open`] puts every `in progress` task back to `queued` and
//! bumps its `attempts`. That hands it out again, and only once, because it is `queued` exactly
//! once. It is not "run twice" in the CWMP sense: the session that claimed it never recorded the
//! CPE's response (recording it *is* `complete_task`, which commits the deletion and the log
//! entry atomically), so as far as the ACS knows the RPC never ran. Re-sending a
//! SetParameterValues or a Download after an ACS crash is what TR-069 expects anyway: the CPE
//! treats the RPCs as idempotent by ParameterKey / CommandKey.
//!
//! # Durability (SQLite)
//!
//! What [`SqliteStore`] promises when a call returns `Ok`:
//!
//! - **Durable on return** (committed to the WAL, so a kill -9 of the process keeps it; with
//!   `synchronous = NORMAL` a power loss may still take the last commits): every call about
//!   tasks (add, claim, release, complete, fault, retry, delete, requeue), faults, files,
//!   credentials ([`Store::set_credentials`]), tags, [`Store::set_parameters`] and
//!   [`Store::delete_device`].
//! - **Written behind**: what [`Store::record_inform`] records (last Inform time and events,
//!   manufacturer, CWMP version, ConnectionRequestURL, the Inform's parameter values, and the
//!   device row itself for a new device). The call updates memory and queues the write; a
//!   writer thread commits the queue in one transaction once its oldest entry is 20 ms old or
//!   1,024 writes wait, whichever comes first (and on [`SqliteStore::flush`] and drop). A crash
//!   loses at most the Informs of that window, never a task: a device resends all of it with
//!   its next Inform (GenieACS itself writes device updates only at the end of a session).
//!   Any durable call commits the queued Informs before its own write, so an Inform that
//!   preceded a durable write is durable once that call returns.
//! - **Order**: device writes (Informs and the durable device calls above) are applied in
//!   memory and queued in one step, and committed in that order, so the file goes through the
//!   same states as memory: a `set_parameters` after a `record_inform` of the same device is
//!   never overwritten by the later commit of that Inform.
//! - **Read-your-writes**: [`Store::device`] and [`Store::devices`] read the in-memory copy of
//!   every device, which holds every write made before, committed or not; [`Store::next_task`]
//!   reads an in-memory index of queued tasks, updated under the same lock as the commit that
//!   changes a task's state (and rebuilt from the file at open). The other reads (tasks,
//!   faults, files, the completion log) query the file, where every write that returned is.
//! - **Failure**: if a commit fails, the call that waited for it returns the error and the
//!   queued writes stay queued (memory keeps them): the writer retries them with the next
//!   batch. One process at a time owns a store file (the memory copies are per process).

mod cache;
mod id;
mod lock;
mod memory;
mod sqlite;
#[cfg(test)]
mod tests;
mod writer;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use schemas::rpc::Inform;
use schemas::rpc::types::ParameterValueStruct;
use serde::{Deserialize, Serialize};

pub use id::{DeviceId, DeviceIdError, TaskId, TaskIdError};
pub use lock::{LockError, StoreLock, lock_path};
pub use memory::MemoryStore;
pub use sqlite::{FileCheck, SqliteStore};

/// What a store operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The record does not exist.
    #[error("{what} {id:?} not found")]
    NotFound {
        /// The kind of record: "device", "task", "fault", "file".
        what: &'static str,
        /// Its key.
        id: String,
    },
    /// The operation does not fit the record's state (claiming a task that is not queued, a
    /// duplicate id).
    #[error("{what} {id:?}: {reason}")]
    Conflict {
        /// The kind of record.
        what: &'static str,
        /// Its key.
        id: String,
        /// What is in the way.
        reason: String,
    },
    /// The SQLite backend failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The SQLite backend could not start its writer thread.
    #[error("store writer thread: {0}")]
    Thread(#[source] std::io::Error),
    /// Stored data does not decode (bad JSON, unknown status, a newer schema).
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The store file is owned by another process ([`StoreLock`]).
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// Store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The ACS's persistent state. Every method is one transaction.
pub trait Store: Send + Sync {
    /// Whether a call may wait on I/O (a disk write, a commit), so that async callers must
    /// run it on a blocking thread; `false` when every call is a short in-memory step that an
    /// async worker may run in place.
    fn blocks(&self) -> bool {
        true
    }

    /// Whether [`Store::record_inform`] and [`Store::next_task`], the two calls of a session
    /// with nothing to do, may wait on I/O. `false` when both are short in-memory steps, so an
    /// async worker may run an Inform session in place and go to a blocking thread only once
    /// `next_task` returns a task (claiming and completing it do wait for a commit when
    /// [`Store::blocks`] is `true`). Defaults to [`Store::blocks`].
    fn inform_path_blocks(&self) -> bool {
        self.blocks()
    }

    /// A cheap real check that the store can serve its data, for `/health` (issue 7): what it
    /// checked on success, e.g. the file and schema version. It reads, never writes.
    fn health(&self) -> Result<String> {
        Ok("in memory".to_owned())
    }

    /// Creates or updates the device named by the Inform and returns its id. Replaces the last
    /// events, Inform time, manufacturer, CWMP version and ConnectionRequestURL; merges the
    /// Inform's parameters into the device's values; keeps tags and credentials.
    fn record_inform(&self, inform: &InformSummary) -> Result<DeviceId>;
    /// Merges parameter values seen (from GetParameterValues, say) into a device.
    fn set_parameters(&self, id: &DeviceId, values: &[ParameterValue], now: i64) -> Result<()>;
    /// Sets or clears the Connection Request credentials the ACS provisioned.
    fn set_credentials(&self, id: &DeviceId, credentials: Option<&Credentials>) -> Result<()>;
    /// One device.
    fn device(&self, id: &DeviceId) -> Result<Device>;
    /// The devices matching `filter`, ordered by id.
    fn devices(&self, filter: &DeviceFilter) -> Result<Vec<Device>>;
    /// Deletes a device with its parameters, tags, tasks and faults.
    fn delete_device(&self, id: &DeviceId) -> Result<()>;
    /// Adds a tag (no-op if present).
    fn add_tag(&self, id: &DeviceId, tag: &str) -> Result<()>;
    /// Removes a tag (no-op if absent).
    fn remove_tag(&self, id: &DeviceId, tag: &str) -> Result<()>;

    /// Queues a task for an existing device, with a fresh id.
    fn add_task(&self, task: &NewTask) -> Result<Task>;
    /// The tasks matching `filter`, oldest first.
    fn tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>>;
    /// The device's oldest queued task.
    fn next_task(&self, device: &DeviceId) -> Result<Option<Task>>;
    /// `queued` -> `in progress`; `Conflict` in any other state.
    fn claim_task(&self, id: &TaskId) -> Result<Task>;
    /// `in progress` -> `queued` with `attempts` bumped: the session that claimed it ended
    /// before the CPE answered. `Conflict` if it is not in progress.
    fn release_task(&self, id: &TaskId) -> Result<()>;
    /// Records the CPE's answer: deletes the `in progress` task, removes its fault, and appends
    /// it to the completion log, in one transaction. `Conflict` if it is not in progress.
    fn complete_task(&self, id: &TaskId, now: i64) -> Result<()>;
    /// Marks a task `faulted`, bumps its retry count and records (or replaces) its fault.
    fn fault_task(&self, id: &TaskId, fault: &FaultDetail) -> Result<Fault>;
    /// `faulted` -> `queued`, deleting its fault (GenieACS `POST /tasks/:id/retry`).
    fn retry_task(&self, id: &TaskId) -> Result<()>;
    /// Deletes a task in any state, with its fault.
    fn delete_task(&self, id: &TaskId) -> Result<()>;
    /// Puts every `in progress` task back to `queued` and bumps its `attempts`; returns how many.
    /// [`SqliteStore::open`] calls it: after a restart no session holds a claim.
    fn requeue_in_progress(&self) -> Result<usize>;
    /// Completed tasks, oldest first, optionally for one device.
    fn completed_tasks(&self, device: Option<&DeviceId>) -> Result<Vec<CompletedTask>>;

    /// The faults matching `filter`, ordered by id.
    fn faults(&self, filter: &FaultFilter) -> Result<Vec<Fault>>;
    /// Deletes a fault and, as GenieACS does for a task channel, the task that raised it.
    fn delete_fault(&self, id: &str) -> Result<()>;

    /// Creates or replaces a file's metadata.
    fn put_file(&self, file: &FileMeta) -> Result<()>;
    /// One file's metadata.
    fn file(&self, name: &str) -> Result<FileMeta>;
    /// All files, ordered by name.
    fn files(&self) -> Result<Vec<FileMeta>>;
    /// Deletes a file's metadata.
    fn delete_file(&self, name: &str) -> Result<()>;
}

/// What the store keeps from one Inform (TR-069 Amd 6 A.3.3.1), decoupled from the codec types.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InformSummary {
    /// DeviceIdStruct Manufacturer.
    pub manufacturer: String,
    /// DeviceIdStruct OUI.
    pub oui: String,
    /// DeviceIdStruct ProductClass (may be empty).
    pub product_class: String,
    /// DeviceIdStruct SerialNumber.
    pub serial_number: String,
    /// Event codes, such as `"0 BOOTSTRAP"`, `"M Download"`.
    pub events: Vec<String>,
    /// The ParameterList.
    pub parameters: Vec<ParameterValue>,
    /// The negotiated CWMP version, such as `"1.4"` (namespace `cwmp-1-4`).
    pub cwmp_version: String,
    /// `ManagementServer.ConnectionRequestURL`, if the Inform carried it.
    pub connection_request_url: Option<String>,
    /// When the ACS received the Inform (unix seconds).
    pub now: i64,
}

/// One parameter value as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterValue {
    /// Full parameter path.
    pub name: String,
    /// The value's text.
    pub value: String,
    /// Its xsd type name, such as `"xsd:string"`.
    pub xsd_type: String,
}

impl From<&ParameterValueStruct> for ParameterValue {
    fn from(p: &ParameterValueStruct) -> Self {
        Self {
            name: p.name.clone(),
            value: p.value.lexical().into_owned(),
            xsd_type: format!("xsd:{}", p.value.type_name()),
        }
    }
}

/// A stored parameter value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterRecord {
    /// The value's text.
    pub value: String,
    /// Its xsd type name.
    pub xsd_type: String,
    /// When it was read (GetParameterValues), set, or seen changed in an Inform (unix
    /// seconds). An Inform that repeats the value leaves it: the device's `last_inform` says
    /// when the device last reported, and a periodic Inform then costs no parameter write.
    pub timestamp: i64,
}

/// Connection Request credentials the ACS provisioned on a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// `ManagementServer.ConnectionRequestUsername`.
    pub username: String,
    /// `ManagementServer.ConnectionRequestPassword`.
    pub password: String,
}

/// A device record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// The key.
    pub id: DeviceId,
    /// DeviceIdStruct Manufacturer.
    pub manufacturer: String,
    /// DeviceIdStruct OUI.
    pub oui: String,
    /// DeviceIdStruct ProductClass.
    pub product_class: String,
    /// DeviceIdStruct SerialNumber.
    pub serial_number: String,
    /// Last Inform (unix seconds).
    pub last_inform: i64,
    /// The last Inform's event codes.
    pub last_events: Vec<String>,
    /// Parameter values seen, by name.
    pub parameters: BTreeMap<String, ParameterRecord>,
    /// Tags.
    pub tags: BTreeSet<String>,
    /// The CWMP version of the last session.
    pub cwmp_version: String,
    /// The last ConnectionRequestURL reported.
    pub connection_request_url: Option<String>,
    /// Credentials the ACS provisioned for Connection Requests.
    pub credentials: Option<Credentials>,
}

impl Device {
    /// A fresh record from its first Inform.
    fn from_inform(inform: &InformSummary) -> Self {
        Self {
            id: inform.device_id(),
            manufacturer: String::new(),
            oui: inform.oui.clone(),
            product_class: inform.product_class.clone(),
            serial_number: inform.serial_number.clone(),
            last_inform: 0,
            last_events: Vec::new(),
            parameters: BTreeMap::new(),
            tags: BTreeSet::new(),
            cwmp_version: String::new(),
            connection_request_url: None,
            credentials: None,
        }
    }

    /// Applies an Inform to the record: replaces the last events, Inform time, manufacturer,
    /// CWMP version and ConnectionRequestURL, and merges the parameters whose value or type
    /// changed (or that are new); a repeated value keeps its timestamp.
    fn apply_inform(&mut self, inform: &InformSummary) {
        self.manufacturer.clone_from(&inform.manufacturer);
        self.last_inform = inform.now;
        self.last_events.clone_from(&inform.events);
        self.cwmp_version.clone_from(&inform.cwmp_version);
        self.connection_request_url
            .clone_from(&inform.connection_request_url);
        for value in &inform.parameters {
            if !self.holds(value) {
                self.merge_parameters(std::slice::from_ref(value), inform.now);
            }
        }
    }

    /// Whether the record already has `value`, with its type.
    fn holds(&self, value: &ParameterValue) -> bool {
        self.parameters
            .get(&value.name)
            .is_some_and(|record| record.value == value.value && record.xsd_type == value.xsd_type)
    }

    /// Merges parameter values seen at `now` into the record.
    fn merge_parameters(&mut self, values: &[ParameterValue], now: i64) {
        for value in values {
            self.parameters.insert(
                value.name.clone(),
                ParameterRecord {
                    value: value.value.clone(),
                    xsd_type: value.xsd_type.clone(),
                    timestamp: now,
                },
            );
        }
    }

    /// Whether the device matches `filter` (the reference semantics both backends follow).
    pub fn matches(&self, filter: &DeviceFilter) -> bool {
        match filter {
            DeviceFilter::All => true,
            DeviceFilter::Id(id) => self.id == *id,
            DeviceFilter::Tag(tag) => self.tags.contains(tag),
            DeviceFilter::ParameterEquals { name, value } => {
                self.parameters.get(name).is_some_and(|p| p.value == *value)
            }
            DeviceFilter::And(all) => all.iter().all(|f| self.matches(f)),
            DeviceFilter::Or(any) => any.iter().any(|f| self.matches(f)),
        }
    }
}

impl InformSummary {
    /// Takes what the store keeps from a decoded Inform: the DeviceIdStruct, the event codes,
    /// the ParameterList (types as `xsd:<name>`), and the ConnectionRequestURL when the list
    /// carries `Device.` or `InternetGatewayDevice.ManagementServer.ConnectionRequestURL` (a
    /// forced-inform parameter, TR-069 Amd 6 Table 3).
    pub fn from_inform(inform: &Inform, cwmp_version: &str, now: i64) -> Self {
        let parameters: Vec<ParameterValue> = inform
            .parameter_list
            .iter()
            .map(ParameterValue::from)
            .collect();
        let connection_request_url = parameters
            .iter()
            .find(|p| {
                p.name == "Device.ManagementServer.ConnectionRequestURL"
                    || p.name == "InternetGatewayDevice.ManagementServer.ConnectionRequestURL"
            })
            .map(|p| p.value.clone());
        let device = &inform.device_id;
        Self {
            manufacturer: device.manufacturer.clone(),
            oui: device.oui.clone(),
            product_class: device.product_class.clone(),
            serial_number: device.serial_number.clone(),
            events: inform
                .event
                .iter()
                .map(|e| e.event_code.to_string())
                .collect(),
            parameters,
            cwmp_version: cwmp_version.to_owned(),
            connection_request_url,
            now,
        }
    }

    /// The device id this Inform names.
    pub fn device_id(&self) -> DeviceId {
        DeviceId::new(&self.oui, &self.product_class, &self.serial_number)
    }
}

/// Which devices to list. An expression tree, so GenieACS query JSON can map onto it later.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceFilter {
    /// Every device.
    All,
    /// One device by id.
    Id(DeviceId),
    /// Devices carrying a tag.
    Tag(String),
    /// Devices whose stored value of `name` is exactly `value`.
    ParameterEquals {
        /// Full parameter path.
        name: String,
        /// The value's text.
        value: String,
    },
    /// All sub-filters match (an empty list matches every device).
    And(Vec<Self>),
    /// Any sub-filter matches (an empty list matches none).
    Or(Vec<Self>),
}

/// A task's RPC, named as in GenieACS's task API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum TaskName {
    /// Read all parameters under an object (GetParameterNames + GetParameterValues).
    RefreshObject,
    /// GetParameterValues.
    GetParameterValues,
    /// SetParameterValues.
    SetParameterValues,
    /// AddObject.
    AddObject,
    /// DeleteObject.
    DeleteObject,
    /// Reboot.
    Reboot,
    /// FactoryReset.
    FactoryReset,
    /// Download.
    Download,
    /// Upload.
    Upload,
    /// GetParameterAttributes.
    GetParameterAttributes,
    /// SetParameterAttributes.
    SetParameterAttributes,
    /// ScheduleInform.
    ScheduleInform,
    /// Set `ManagementServer.URL` (re-point the CPE to another ACS).
    SetAcsUrl,
}

impl TaskName {
    /// Every name, in declaration order.
    pub const ALL: [Self; 13] = [
        Self::RefreshObject,
        Self::GetParameterValues,
        Self::SetParameterValues,
        Self::AddObject,
        Self::DeleteObject,
        Self::Reboot,
        Self::FactoryReset,
        Self::Download,
        Self::Upload,
        Self::GetParameterAttributes,
        Self::SetParameterAttributes,
        Self::ScheduleInform,
        Self::SetAcsUrl,
    ];

    /// The GenieACS spelling, such as `"getParameterValues"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RefreshObject => "refreshObject",
            Self::GetParameterValues => "getParameterValues",
            Self::SetParameterValues => "setParameterValues",
            Self::AddObject => "addObject",
            Self::DeleteObject => "deleteObject",
            Self::Reboot => "reboot",
            Self::FactoryReset => "factoryReset",
            Self::Download => "download",
            Self::Upload => "upload",
            Self::GetParameterAttributes => "getParameterAttributes",
            Self::SetParameterAttributes => "setParameterAttributes",
            Self::ScheduleInform => "scheduleInform",
            Self::SetAcsUrl => "setAcsUrl",
        }
    }
}

impl FromStr for TaskName {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|name| name.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown task name {s:?}")))
    }
}

impl fmt::Display for TaskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a task is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waiting for the device's next session.
    Queued,
    /// Claimed by a session that has not recorded the answer yet.
    InProgress,
    /// Answered. Never stored: completion deletes the task (see [`CompletedTask`]).
    Done,
    /// The CPE answered with a fault; waits for a retry or deletion.
    Faulted,
}

impl TaskStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::InProgress => "in_progress",
            Self::Done => "done",
            Self::Faulted => "faulted",
        }
    }
}

impl FromStr for TaskStatus {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self> {
        [Self::Queued, Self::InProgress, Self::Done, Self::Faulted]
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown task status {s:?}")))
    }
}

/// A task to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// The device it is for.
    pub device: DeviceId,
    /// The RPC.
    pub name: TaskName,
    /// Its arguments, as in GenieACS (`{"parameterNames": [...]}`, ...).
    pub arguments: serde_json::Value,
    /// When it was queued (unix seconds); also the time part of its id.
    pub timestamp: i64,
}

/// A stored task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// 24-hex id.
    pub id: TaskId,
    /// The device it is for.
    pub device: DeviceId,
    /// The RPC.
    pub name: TaskName,
    /// Its arguments.
    pub arguments: serde_json::Value,
    /// When it was queued (unix seconds).
    pub timestamp: i64,
    /// Where it is in its life cycle.
    pub status: TaskStatus,
    /// How many times the CPE answered it with a fault.
    pub retries: u32,
    /// How many claims were given back before the CPE's answer was recorded: by a restart
    /// after a crash, a graceful stop, or a session that failed or timed out.
    pub attempts: u32,
}

/// Which tasks to list; every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskFilter {
    /// One task.
    pub id: Option<TaskId>,
    /// One device's tasks.
    pub device: Option<DeviceId>,
    /// Tasks in this state.
    pub status: Option<TaskStatus>,
}

impl TaskFilter {
    /// Matches one task.
    pub fn id(mut self, id: TaskId) -> Self {
        self.id = Some(id);
        self
    }

    /// Matches one device's tasks.
    pub fn device(mut self, device: DeviceId) -> Self {
        self.device = Some(device);
        self
    }

    /// Matches tasks in one state.
    pub fn status(mut self, status: TaskStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Whether `task` matches.
    pub fn matches(&self, task: &Task) -> bool {
        self.id.as_ref().is_none_or(|id| task.id == *id)
            && self.device.as_ref().is_none_or(|d| task.device == *d)
            && self.status.is_none_or(|s| task.status == s)
    }
}

/// A task that the CPE answered, from the completion log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedTask {
    /// The task's id.
    pub id: TaskId,
    /// Its device.
    pub device: DeviceId,
    /// Its RPC.
    pub name: TaskName,
    /// When the answer was recorded (unix seconds).
    pub completed_at: i64,
    /// How many earlier claims of it were dropped by a restart.
    pub attempts: u32,
}

/// What a CPE fault (or an ACS-side failure) said about a task.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultDetail {
    /// The fault code: a CWMP code such as `"9002"`, or an ACS code such as `"timeout"`.
    pub code: String,
    /// The FaultString or a description.
    pub message: String,
    /// Anything else (the SetParameterValuesFault list, ...).
    pub detail: serde_json::Value,
    /// When it happened (unix seconds).
    pub timestamp: i64,
}

/// A stored fault. Its id is GenieACS's `<device id>:<channel>`, the channel being
/// `task_<task id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// `<device id>:task_<task id>`.
    pub id: String,
    /// The device.
    pub device: DeviceId,
    /// The task that raised it.
    pub task: TaskId,
    /// The fault code.
    pub code: String,
    /// The message.
    pub message: String,
    /// Extra detail.
    pub detail: serde_json::Value,
    /// When it happened.
    pub timestamp: i64,
    /// The task's retry count after this fault.
    pub retries: u32,
}

impl Fault {
    /// The id of the fault raised by `task` on `device`.
    pub fn id_for(device: &DeviceId, task: &TaskId) -> String {
        format!("{device}:task_{task}")
    }
}

/// Which faults to list; every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FaultFilter {
    /// One device's faults.
    pub device: Option<DeviceId>,
    /// One task's fault.
    pub task: Option<TaskId>,
}

impl FaultFilter {
    /// Matches one device's faults.
    pub fn device(mut self, device: DeviceId) -> Self {
        self.device = Some(device);
        self
    }

    /// Matches one task's fault.
    pub fn task(mut self, task: TaskId) -> Self {
        self.task = Some(task);
        self
    }

    /// Whether `fault` matches.
    pub fn matches(&self, fault: &Fault) -> bool {
        self.device.as_ref().is_none_or(|d| fault.device == *d)
            && self.task.as_ref().is_none_or(|t| fault.task == *t)
    }
}

/// Metadata of a file served for Download (the bytes live at `path`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    /// Unique name, also the URL path component.
    pub name: String,
    /// TR-069 FileType, such as `"1 Firmware Upgrade Image"`.
    pub file_type: String,
    /// OUI it is for (may be empty).
    pub oui: String,
    /// ProductClass it is for (may be empty).
    pub product_class: String,
    /// Version (may be empty).
    pub version: String,
    /// Size in bytes.
    pub size: u64,
    /// Where the bytes are stored.
    pub path: String,
}

fn not_found(what: &'static str, id: impl fmt::Display) -> StoreError {
    StoreError::NotFound {
        what,
        id: id.to_string(),
    }
}

fn conflict(what: &'static str, id: impl fmt::Display, reason: impl Into<String>) -> StoreError {
    StoreError::Conflict {
        what,
        id: id.to_string(),
        reason: reason.into(),
    }
}
