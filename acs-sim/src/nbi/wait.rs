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
