//! GenieACS task JSON to jobs: what each queued task sends to the CPE and what it keeps.

use std::sync::Arc;

use super::{Discovery, Job, JobFault};
use crate::acs::Acs;
use crate::store::{Task, TaskName};

/// The job that carries out `task`, or the fault that explains why its arguments are unusable.
pub fn build(task: &Task, acs: &Arc<Acs>) -> Result<Box<dyn Job>, JobFault> {
    match task.name {
        TaskName::GetParameterValues => {
            let names = string_list(&task.arguments, "parameterNames")?;
            Ok(Box::new(Discovery::new(
                task.name.as_str(),
                names,
                acs.config.partial_path_gpv,
            )))
        }
        other => Err(JobFault::invalid(format!(
            "{} is not supported yet",
            other.as_str()
        ))),
    }
}

fn string_list(arguments: &serde_json::Value, field: &str) -> Result<Vec<String>, JobFault> {
    arguments
        .get(field)
        .and_then(serde_json::Value::as_array)
        .and_then(|items| {
            items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .ok_or_else(|| JobFault::invalid(format!("{field} must be an array of strings")))
}
