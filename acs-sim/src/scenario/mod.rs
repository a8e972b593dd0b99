//! Declarative provisioning scenarios (TOML): what the ACS does on each Inform.

use crate::job::Job;
use crate::provision::DeviceContext;

/// A provisioning scenario: rules matched against each Inform.
#[derive(Debug, Default)]
pub struct Scenario {}

impl Scenario {
    /// The jobs to run in this session, in order, before queued tasks.
    pub fn jobs(&self, _device: &DeviceContext<'_>) -> Vec<Box<dyn Job>> {
        Vec::new()
    }
}
