//! Jobs: the ACS's work inside a session, one RPC at a time.
//!
//! A [`Job`] is a small sans-IO state machine. The session driver asks it for its first request
//! (`step(None, ..)`), sends it, and hands back the CPE's answer (`step(Some(answer), ..)`)
//! until the job says [`Step::Done`] or [`Step::Failed`]. What the job learned about the
//! device (parameter values, provisioned credentials) goes into [`Effects`], which the driver
//! writes to the store. A queued REST task, a scenario rule and a parameter discovery are all
//! jobs, so one driver runs them all.

mod discovery;
mod set_values;
pub mod task;

pub use discovery::Discovery;
pub use set_values::SetValues;

use schemas::Body;
use schemas::rpc::SoapFault;

use crate::store::{Credentials, ParameterValue};

/// GetParameterValues asks for at most this many names at once (a CPE that must answer one
/// huge request may run out of memory; GenieACS batches the same way).
pub const GPV_BATCH: usize = 32;

/// The CPE's answer to the job's last request.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// The CPE's response (its type is checked by the job).
    Response(Body),
    /// The CPE refused the request (TR-069 A.5).
    Fault(SoapFault),
}

/// What a job wants next.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Send this ACS request.
    Send(Body),
    /// The job is complete.
    Done,
    /// The job failed; record this fault.
    Failed(JobFault),
}

/// What a job learned about the device, to be written to the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Parameter values seen or set.
    pub parameters: Vec<ParameterValue>,
    /// Connection Request credentials now in force on the device.
    pub credentials: Option<Credentials>,
}

/// One unit of ACS work inside a session.
pub trait Job: Send {
    /// A short label for logs and the lab timeline, e.g. `getParameterValues`.
    fn label(&self) -> String;
    /// The next request, given the answer to the previous one (`None` on the first call).
    fn step(&mut self, answer: Option<Answer>, effects: &mut Effects) -> Step;
}

/// Why a job failed, as the store's fault record will show it (GenieACS fault `code`,
/// `message`, `detail`).
#[derive(Clone, Debug, PartialEq)]
pub struct JobFault {
    /// `cwmp.<FaultCode>` for a CPE fault (GenieACS's spelling), else a short word such as
    /// `invalid_response`.
    pub code: String,
    /// Human-readable reason.
    pub message: String,
    /// Structured detail (the CWMP fault as JSON), or `null`.
    pub detail: serde_json::Value,
}

impl JobFault {
    /// The CPE's CWMP fault, as GenieACS records it.
    pub fn from_soap(fault: &SoapFault) -> Self {
        match &fault.detail {
            Some(detail) => Self {
                code: format!("cwmp.{}", detail.fault_code.code()),
                message: detail.fault_string.clone(),
                detail: serde_json::json!({
                    "faultCode": detail.fault_code.code().to_string(),
                    "faultString": detail.fault_string,
                    "setParameterValuesFault": detail.set_parameter_values_fault.iter().map(|f| {
                        serde_json::json!({
                            "parameterName": f.parameter_name,
                            "faultCode": f.fault_code.code().to_string(),
                            "faultString": f.fault_string,
                        })
                    }).collect::<Vec<_>>(),
                }),
            },
            None => Self {
                code: format!("cwmp.{}", fault.kind.as_str()),
                message: fault.fault_string.clone(),
                detail: serde_json::Value::Null,
            },
        }
    }

    /// The CPE answered with something other than the expected response.
    pub fn unexpected(expected: &str, got: &Body) -> Self {
        Self {
            code: "invalid_response".to_owned(),
            message: format!("expected {expected}, the CPE answered {}", got.name()),
            detail: serde_json::Value::Null,
        }
    }

    /// A fault in the job's own arguments (bad task JSON, unknown file).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            code: "invalid_arguments".to_owned(),
            message: message.into(),
            detail: serde_json::Value::Null,
        }
    }
}

/// The answer to a request, or the fault that ends the job: the usual first line of a `step`.
pub fn expect_response(answer: Option<Answer>) -> Result<Option<Body>, JobFault> {
    match answer {
        None => Ok(None),
        Some(Answer::Response(body)) => Ok(Some(body)),
        Some(Answer::Fault(fault)) => Err(JobFault::from_soap(&fault)),
    }
}

#[cfg(test)]
mod tests;
