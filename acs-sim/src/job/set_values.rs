//! One SetParameterValues, as a job (TR-069 Amd 6 A.3.2.1).

use schemas::Body;
use schemas::model;
use schemas::rpc::types::ParameterValueStruct;
use schemas::rpc::{ParameterKey, SetParameterValues};

use crate::job::{Answer, Effects, Job, JobFault, Step, expect_response};
use crate::store::{Credentials, ParameterValue};

/// Sets parameter values in one SetParameterValues, which the CPE applies all or none of
/// (A.3.2.1: "the CPE MUST apply the changes to all of the specified Parameters atomically").
///
/// On a SetParameterValuesResponse (either Status: applied, or committed and applied at the
/// next reboot) the values go into [`Effects::parameters`], so the store shows them, and the
/// Connection Request credentials given with [`SetValues::provisioning`] into
/// [`Effects::credentials`]. A parameter TR-181 marks hidden (a password) is recorded with the
/// empty value a GetParameterValues would read back.
#[derive(Debug)]
pub struct SetValues {
    label: String,
    parameters: Vec<ParameterValueStruct>,
    key: ParameterKey,
    credentials: Option<Credentials>,
    sent: bool,
}

impl SetValues {
    /// Sets `parameters` (full names), with `key` as the new `ManagementServer.ParameterKey`.
    pub fn new(
        label: impl Into<String>,
        parameters: Vec<ParameterValueStruct>,
        key: ParameterKey,
    ) -> Self {
        Self {
            label: label.into(),
            parameters,
            key,
            credentials: None,
            sent: false,
        }
    }

    /// The same job, which also provisions `credentials` (its parameters must carry them):
    /// once the CPE accepts, the ACS uses them for Connection Requests.
    pub fn provisioning(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    fn applied(&self, effects: &mut Effects) {
        effects
            .parameters
            .extend(self.parameters.iter().map(recorded));
        if let Some(credentials) = &self.credentials {
            effects.credentials = Some(credentials.clone());
        }
    }
}

/// What the store keeps of a value set: the value, or the empty string for a parameter that
/// reads back empty (TR-181 `hidden`/`secured`).
fn recorded(parameter: &ParameterValueStruct) -> ParameterValue {
    let mut value = ParameterValue::from(parameter);
    if model::parameter(&model::template_of(&parameter.name)).is_some_and(|info| info.hidden) {
        value.value.clear();
    }
    value
}

impl Job for SetValues {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn step(&mut self, answer: Option<Answer>, effects: &mut Effects) -> Step {
        if !self.sent {
            self.sent = true;
            return Step::Send(Body::from(SetParameterValues {
                parameter_list: self.parameters.clone(),
                parameter_key: self.key.clone(),
            }));
        }
        match expect_response(answer) {
            Ok(Some(Body::SetParameterValuesResponse(_))) => {
                self.applied(effects);
                Step::Done
            }
            Ok(Some(other)) => {
                Step::Failed(JobFault::unexpected("SetParameterValuesResponse", &other))
            }
            Ok(None) => Step::Failed(JobFault::invalid("no answer to SetParameterValues")),
            Err(fault) => Step::Failed(fault),
        }
    }
}
