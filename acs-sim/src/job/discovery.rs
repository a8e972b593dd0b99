//! Parameter discovery: GetParameterNames, then GetParameterValues in batches (TR-069 A.3.2.1,
//! A.3.2.2). What GenieACS's `refreshObject` does, and what a scenario runs before it decides
//! on values.

use std::collections::VecDeque;

use schemas::Body;
use schemas::rpc::{GetParameterNames, GetParameterValues};

use super::{Answer, Effects, GPV_BATCH, Job, JobFault, Step, expect_response};
use crate::store::ParameterValue;

/// Reads every parameter under some paths.
///
/// A full name (`Device.DeviceInfo.SoftwareVersion`) is read directly. A partial path
/// (`Device.DeviceInfo.`) is first expanded with GetParameterNames (`NextLevel` false), unless
/// the device is known to take partial paths in GetParameterValues. Names are then read at most
/// [`GPV_BATCH`] at a time.
#[derive(Debug)]
pub struct Discovery {
    label: String,
    to_expand: VecDeque<String>,
    to_read: Vec<String>,
    waiting: Waiting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Nothing,
    Names,
    Values,
}

impl Discovery {
    /// Discovery of `paths`. With `partial_paths`, partial paths go straight into
    /// GetParameterValues.
    pub fn new(
        label: impl Into<String>,
        paths: impl IntoIterator<Item = String>,
        partial_paths: bool,
    ) -> Self {
        let (to_expand, to_read) = paths.into_iter().partition::<Vec<_>, _>(|path| {
            path.is_empty() || (path.ends_with('.') && !partial_paths)
        });
        Self {
            label: label.into(),
            to_expand: to_expand.into(),
            to_read,
            waiting: Waiting::Nothing,
        }
    }

    fn absorb(&mut self, body: Body, effects: &mut Effects) -> Result<(), JobFault> {
        match (self.waiting, body) {
            (Waiting::Names, Body::GetParameterNamesResponse(response)) => {
                self.to_read.extend(
                    response
                        .parameter_list
                        .into_iter()
                        .map(|info| info.name)
                        .filter(|name| !name.ends_with('.')),
                );
                Ok(())
            }
            (Waiting::Values, Body::GetParameterValuesResponse(response)) => {
                effects
                    .parameters
                    .extend(response.parameter_list.iter().map(ParameterValue::from));
                Ok(())
            }
            (Waiting::Names, other) => {
                Err(JobFault::unexpected("GetParameterNamesResponse", &other))
            }
            (_, other) => Err(JobFault::unexpected("GetParameterValuesResponse", &other)),
        }
    }
}

impl Job for Discovery {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn step(&mut self, answer: Option<Answer>, effects: &mut Effects) -> Step {
        match expect_response(answer) {
            Ok(Some(body)) => {
                if let Err(fault) = self.absorb(body, effects) {
                    return Step::Failed(fault);
                }
            }
            Ok(None) => {}
            Err(fault) => return Step::Failed(fault),
        }
        if let Some(path) = self.to_expand.pop_front() {
            self.waiting = Waiting::Names;
            return Step::Send(
                GetParameterNames {
                    parameter_path: path,
                    next_level: false,
                }
                .into(),
            );
        }
        if self.to_read.is_empty() {
            self.waiting = Waiting::Nothing;
            return Step::Done;
        }
        let rest = self.to_read.split_off(self.to_read.len().min(GPV_BATCH));
        let batch = std::mem::replace(&mut self.to_read, rest);
        self.waiting = Waiting::Values;
        Step::Send(
            GetParameterValues {
                parameter_names: batch,
            }
            .into(),
        )
    }
}
