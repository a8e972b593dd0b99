//! The in-memory backend, for tests: one mutex over plain maps.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use super::{
    CompletedTask, Credentials, Device, DeviceFilter, DeviceId, Fault, FaultDetail, FaultFilter,
    FileMeta, InformSummary, NewTask, ParameterValue, Result, Store, Task, TaskFilter, TaskId,
    TaskStatus, conflict, not_found,
};

/// A [`Store`] in memory. Nothing survives the value; `requeue_in_progress` still works so the
/// restart path can be tested.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    devices: BTreeMap<DeviceId, Device>,
    /// Tasks with their insertion sequence number, which breaks timestamp ties.
    tasks: BTreeMap<TaskId, (u64, Task)>,
    next_seq: u64,
    completed: Vec<CompletedTask>,
    faults: BTreeMap<String, Fault>,
    files: BTreeMap<String, FileMeta>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain maps, each update being one statement;
        // keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn device_mut(&mut self, id: &DeviceId) -> Result<&mut Device> {
        self.devices
            .get_mut(id)
            .ok_or_else(|| not_found("device", id))
    }

    fn task_mut(&mut self, id: &TaskId) -> Result<&mut Task> {
        self.tasks
            .get_mut(id)
            .map(|(_, task)| task)
            .ok_or_else(|| not_found("task", id))
    }

    fn sorted_tasks(&self, filter: &TaskFilter) -> Vec<Task> {
        let mut tasks: Vec<&(u64, Task)> = self
            .tasks
            .values()
            .filter(|(_, t)| filter.matches(t))
            .collect();
        tasks.sort_by_key(|(seq, t)| (t.timestamp, *seq));
        tasks.into_iter().map(|(_, t)| t.clone()).collect()
    }
}

impl Store for MemoryStore {
    fn blocks(&self) -> bool {
        false
    }

    fn record_inform(&self, inform: &InformSummary) -> Result<DeviceId> {
        let id = inform.device_id();
        let mut inner = self.lock();
        inner
            .devices
            .entry(id.clone())
            .or_insert_with(|| Device::from_inform(inform))
            .apply_inform(inform);
        Ok(id)
    }

    fn set_parameters(&self, id: &DeviceId, values: &[ParameterValue], now: i64) -> Result<()> {
        self.lock().device_mut(id)?.merge_parameters(values, now);
        Ok(())
    }

    fn set_credentials(&self, id: &DeviceId, credentials: Option<&Credentials>) -> Result<()> {
        self.lock().device_mut(id)?.credentials = credentials.cloned();
        Ok(())
    }

    fn device(&self, id: &DeviceId) -> Result<Device> {
        self.lock()
            .devices
            .get(id)
            .cloned()
            .ok_or_else(|| not_found("device", id))
    }

    fn devices(&self, filter: &DeviceFilter) -> Result<Vec<Device>> {
        Ok(self
            .lock()
            .devices
            .values()
            .filter(|d| d.matches(filter))
            .cloned()
            .collect())
    }

    fn delete_device(&self, id: &DeviceId) -> Result<()> {
        let mut inner = self.lock();
        inner
            .devices
            .remove(id)
            .ok_or_else(|| not_found("device", id))?;
        inner.tasks.retain(|_, (_, t)| t.device != *id);
        inner.faults.retain(|_, f| f.device != *id);
        Ok(())
    }

    fn add_tag(&self, id: &DeviceId, tag: &str) -> Result<()> {
        self.lock().device_mut(id)?.tags.insert(tag.to_owned());
        Ok(())
    }

    fn remove_tag(&self, id: &DeviceId, tag: &str) -> Result<()> {
        self.lock().device_mut(id)?.tags.remove(tag);
        Ok(())
    }

    fn add_task(&self, new: &NewTask) -> Result<Task> {
        let mut inner = self.lock();
        if !inner.devices.contains_key(&new.device) {
            return Err(not_found("device", &new.device));
        }
        let task = Task {
            id: TaskId::generate(new.timestamp),
            device: new.device.clone(),
            name: new.name,
            arguments: new.arguments.clone(),
            timestamp: new.timestamp,
            status: TaskStatus::Queued,
            retries: 0,
            attempts: 0,
        };
        if inner.tasks.contains_key(&task.id) {
            return Err(conflict("task", &task.id, "duplicate id"));
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.tasks.insert(task.id.clone(), (seq, task.clone()));
        Ok(task)
    }

    fn tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>> {
        Ok(self.lock().sorted_tasks(filter))
    }

    fn next_task(&self, device: &DeviceId) -> Result<Option<Task>> {
        let filter = TaskFilter::default()
            .device(device.clone())
            .status(TaskStatus::Queued);
        Ok(self.lock().sorted_tasks(&filter).into_iter().next())
    }

    fn claim_task(&self, id: &TaskId) -> Result<Task> {
        let mut inner = self.lock();
        let task = inner.task_mut(id)?;
        if task.status != TaskStatus::Queued {
            return Err(conflict("task", id, format!("is {}", task.status.as_str())));
        }
        task.status = TaskStatus::InProgress;
        Ok(task.clone())
    }

    fn release_task(&self, id: &TaskId) -> Result<()> {
        let mut inner = self.lock();
        let task = inner.task_mut(id)?;
        if task.status != TaskStatus::InProgress {
            return Err(conflict("task", id, format!("is {}", task.status.as_str())));
        }
        task.status = TaskStatus::Queued;
        task.attempts = task.attempts.saturating_add(1);
        Ok(())
    }

    fn complete_task(&self, id: &TaskId, now: i64) -> Result<()> {
        let mut inner = self.lock();
        let task = inner.task_mut(id)?;
        if task.status != TaskStatus::InProgress {
            return Err(conflict("task", id, format!("is {}", task.status.as_str())));
        }
        let fault_id = Fault::id_for(&task.device, id);
        if let Some((_, task)) = inner.tasks.remove(id) {
            inner.completed.push(CompletedTask {
                id: task.id,
                device: task.device,
                name: task.name,
                completed_at: now,
                attempts: task.attempts,
            });
        }
        inner.faults.remove(&fault_id);
        Ok(())
    }

    fn fault_task(&self, id: &TaskId, detail: &FaultDetail) -> Result<Fault> {
        let mut inner = self.lock();
        let task = inner.task_mut(id)?;
        task.status = TaskStatus::Faulted;
        task.retries = task.retries.saturating_add(1);
        let fault = Fault {
            id: Fault::id_for(&task.device, id),
            device: task.device.clone(),
            task: id.clone(),
            code: detail.code.clone(),
            message: detail.message.clone(),
            detail: detail.detail.clone(),
            timestamp: detail.timestamp,
            retries: task.retries,
        };
        inner.faults.insert(fault.id.clone(), fault.clone());
        Ok(fault)
    }

    fn retry_task(&self, id: &TaskId) -> Result<()> {
        let mut inner = self.lock();
        let task = inner.task_mut(id)?;
        if task.status != TaskStatus::Faulted {
            return Err(conflict("task", id, format!("is {}", task.status.as_str())));
        }
        task.status = TaskStatus::Queued;
        let fault_id = Fault::id_for(&task.device, id);
        inner.faults.remove(&fault_id);
        Ok(())
    }

    fn delete_task(&self, id: &TaskId) -> Result<()> {
        let mut inner = self.lock();
        let (_, task) = inner
            .tasks
            .remove(id)
            .ok_or_else(|| not_found("task", id))?;
        inner.faults.remove(&Fault::id_for(&task.device, id));
        Ok(())
    }

    fn requeue_in_progress(&self) -> Result<usize> {
        let mut count = 0;
        for (_, task) in self.lock().tasks.values_mut() {
            if task.status == TaskStatus::InProgress {
                task.status = TaskStatus::Queued;
                task.attempts = task.attempts.saturating_add(1);
                count += 1;
            }
        }
        Ok(count)
    }

    fn completed_tasks(&self, device: Option<&DeviceId>) -> Result<Vec<CompletedTask>> {
        Ok(self
            .lock()
            .completed
            .iter()
            .filter(|c| device.is_none_or(|d| c.device == *d))
            .cloned()
            .collect())
    }

    fn faults(&self, filter: &FaultFilter) -> Result<Vec<Fault>> {
        Ok(self
            .lock()
            .faults
            .values()
            .filter(|f| filter.matches(f))
            .cloned()
            .collect())
    }

    fn delete_fault(&self, id: &str) -> Result<()> {
        let mut inner = self.lock();
        let fault = inner
            .faults
            .remove(id)
            .ok_or_else(|| not_found("fault", id))?;
        inner.tasks.remove(&fault.task);
        Ok(())
    }

    fn put_file(&self, file: &FileMeta) -> Result<()> {
        self.lock().files.insert(file.name.clone(), file.clone());
        Ok(())
    }

    fn file(&self, name: &str) -> Result<FileMeta> {
        self.lock()
            .files
            .get(name)
            .cloned()
            .ok_or_else(|| not_found("file", name))
    }

    fn files(&self) -> Result<Vec<FileMeta>> {
        Ok(self.lock().files.values().cloned().collect())
    }

    fn delete_file(&self, name: &str) -> Result<()> {
        self.lock()
            .files
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| not_found("file", name))
    }
}
