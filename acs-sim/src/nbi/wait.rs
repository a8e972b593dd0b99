//! Waiting for a queued task to leave the queue, for `?connection_request&timeout=`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, timeout_at};

use super::error::ApiError;
use super::with_store;
use crate::acs::Acs;
use crate::store::{Fault, FaultFilter, Task, TaskFilter, TaskId, TaskStatus};

/// Where a task stands.
#[derive(Debug)]
pub(super) enum Outcome {
    /// It left the queue without a fault: the device answered it (or it was deleted, which
    /// GenieACS does not tell apart either).
    Done,
    /// The device answered with a fault (the fault record, unless deleted meanwhile).
    Faulted(Task, Option<Fault>),
    /// Still queued or in progress.
    Pending(Task),
}

/// Waits until task `id` is done or faulted, or `timeout` passed. `changes` must have been
/// subscribed before whatever could make the task progress (the Connection Request): the store
/// is re-read on each change it signals.
pub(super) async fn wait_for(
    acs: &Arc<Acs>,
    id: &TaskId,
    changes: &mut watch::Receiver<u64>,
    timeout: Duration,
) -> Result<Outcome, ApiError> {
    let deadline = Instant::now() + timeout;
    loop {
        // Marked before reading, so a change after the read wakes the wait below.
        changes.mark_unchanged();
        let outcome = check(acs, id).await?;
        if !matches!(outcome, Outcome::Pending(_)) {
            return Ok(outcome);
        }
        match timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => {}
            // Timed out, or the ACS is going away: the task is where it was.
            Ok(Err(_)) | Err(_) => return Ok(outcome),
        }
    }
}

async fn check(acs: &Arc<Acs>, id: &TaskId) -> Result<Outcome, ApiError> {
    let id = id.clone();
    with_store(acs, move |store| {
        let filter = TaskFilter::default().id(id.clone());
        let Some(task) = store.tasks(&filter)?.into_iter().next() else {
            return Ok(Outcome::Done);
        };
        if task.status != TaskStatus::Faulted {
            return Ok(Outcome::Pending(task));
        }
        let fault = store
            .faults(&FaultFilter::default().task(id))?
            .into_iter()
            .next();
        Ok(Outcome::Faulted(task, fault))
    })
    .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::acs::{AcsConfig, AcsEvent};
    use crate::files::FileStore;
    use crate::scenario::Scenario;
    use crate::store::{DeviceId, FaultDetail, InformSummary, MemoryStore, NewTask, TaskName};

    struct Fixture {
        acs: Arc<Acs>,
        device: DeviceId,
        task: TaskId,
        _files: tempfile::TempDir,
    }

    fn fixture() -> Fixture {
        let files = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryStore::new());
        let acs = Acs::new(
            store,
            AcsConfig::default(),
            Scenario::default(),
            FileStore::new(files.path()).unwrap(),
        );
        let inform = InformSummary {
            oui: "00236A".into(),
            serial_number: "SN1".into(),
            ..InformSummary::default()
        };
        let device = acs.store.record_inform(&inform).unwrap();
        let task = acs
            .store
            .add_task(&NewTask {
                device: device.clone(),
                name: TaskName::Reboot,
                arguments: json!({}),
                timestamp: 0,
            })
            .unwrap()
            .id;
        Fixture {
            acs,
            device,
            task,
            _files: files,
        }
    }

    /// What a session does with a task after `delay`: claim it, then complete or fault it, and
    /// signal the change.
    fn session_after(f: &Fixture, delay: Duration, fault: bool) {
        let (acs, device, task) = (Arc::clone(&f.acs), f.device.clone(), f.task.clone());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            acs.store.claim_task(&task).unwrap();
            if fault {
                let detail = FaultDetail {
                    code: "9002".into(),
                    message: "Internal error".into(),
                    detail: json!(null),
                    timestamp: 1,
                };
                acs.store.fault_task(&task, &detail).unwrap();
            } else {
                acs.store.complete_task(&task, 1).unwrap();
            }
            acs.publish(AcsEvent::JobDone {
                device,
                label: "reboot".into(),
                fault: fault.then(|| "9002".into()),
            });
        });
    }

    #[tokio::test(start_paused = true)]
    async fn done_as_soon_as_a_session_completes_the_task() {
        let f = fixture();
        let mut changes = f.acs.subscribe();
        session_after(&f, Duration::from_secs(1), false);
        let start = Instant::now();
        let outcome = wait_for(&f.acs, &f.task, &mut changes, Duration::from_secs(3))
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::Done), "{outcome:?}");
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn faulted_with_its_fault_when_the_device_faults_it() {
        let f = fixture();
        let mut changes = f.acs.subscribe();
        session_after(&f, Duration::from_secs(1), true);
        let outcome = wait_for(&f.acs, &f.task, &mut changes, Duration::from_secs(3))
            .await
            .unwrap();
        let Outcome::Faulted(task, Some(fault)) = outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(task.status, TaskStatus::Faulted);
        assert_eq!(fault.code, "9002");
    }

    #[tokio::test(start_paused = true)]
    async fn pending_at_the_deadline_despite_unrelated_changes() {
        let f = fixture();
        let mut changes = f.acs.subscribe();
        let acs = Arc::clone(&f.acs);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            acs.publish(AcsEvent::SessionEnded {
                device: None,
                error: None,
            });
        });
        let start = Instant::now();
        let outcome = wait_for(&f.acs, &f.task, &mut changes, Duration::from_secs(3))
            .await
            .unwrap();
        assert!(
            matches!(&outcome, Outcome::Pending(t) if t.status == TaskStatus::Queued),
            "{outcome:?}"
        );
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_completed_before_the_wait_is_done_at_once() {
        let f = fixture();
        let mut changes = f.acs.subscribe();
        f.acs.store.claim_task(&f.task).unwrap();
        f.acs.store.complete_task(&f.task, 1).unwrap();
        let start = Instant::now();
        let outcome = wait_for(&f.acs, &f.task, &mut changes, Duration::from_secs(3))
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::Done), "{outcome:?}");
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
