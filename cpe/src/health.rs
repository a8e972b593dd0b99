//! The agent's components and their health, as `cpe status` shows them and `cpe status --check`
//! judges them (ARCHITECTURE.md, "Snapshot and restore": the health check after a restore).
//!
//! Each component says what it is doing in one line and whether that is healthy; the agent is
//! healthy when every component is.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::control::Status;

/// The component names, in the order `cpe status` lists them.
pub const COMPONENTS: [&str; 6] = [
    "agent",
    "cwmp",
    "connection-request",
    "cloud-tunnel",
    "transfers",
    "dhcp-intake",
];

/// One component of the running agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// One of [`COMPONENTS`].
    pub name: String,
    /// What it is doing, one line (and why it is unhealthy, when it is).
    pub state: String,
    /// Whether it does what it should.
    pub healthy: bool,
}

impl Component {
    /// A component named `name` in `state`.
    pub fn new(name: &str, state: impl Into<String>, healthy: bool) -> Self {
        Self {
            name: name.to_owned(),
            state: state.into(),
            healthy,
        }
    }
}

/// How many components are healthy, out of how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Healthy components.
    pub healthy: usize,
    /// All components.
    pub total: usize,
}

impl Health {
    /// The count over `components`.
    pub fn of(components: &[Component]) -> Self {
        Self {
            healthy: components.iter().filter(|c| c.healthy).count(),
            total: components.len(),
        }
    }

    /// Whether every component is healthy (and there is at least one).
    pub fn is_healthy(self) -> bool {
        self.total > 0 && self.healthy == self.total
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "health: {} of {} healthy", self.healthy, self.total)
    }
}

/// `cpe status --json`: the status, with the health count beside its components.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// The agent's status.
    #[serde(flatten)]
    pub status: &'a Status,
    /// The count over its components.
    pub health: Health,
}

/// The components table of `cpe status`: one line each (name, `ok` or `UNHEALTHY`, state),
/// then the `health: N of N healthy` line.
pub fn render(components: &[Component]) -> String {
    let width = components.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut out = String::from("Components:\n");
    for c in components {
        let mark = if c.healthy { "ok" } else { "UNHEALTHY" };
        out.push_str(&format!("  {:<width$}  {mark:<9}  {}\n", c.name, c.state));
    }
    out.push_str(&format!("{}\n", Health::of(components)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn components(health: &[bool]) -> Vec<Component> {
        COMPONENTS
            .iter()
            .zip(health)
            .map(|(name, healthy)| Component::new(name, "state", *healthy))
            .collect()
    }

    #[test]
    fn every_component_healthy_is_n_of_n() {
        let health = Health::of(&components(&[true; 6]));
        assert_eq!(health.to_string(), "health: 6 of 6 healthy");
        assert!(health.is_healthy());
    }

    #[test]
    fn one_unhealthy_component_makes_the_agent_unhealthy() {
        let health = Health::of(&components(&[true, false, true, true, true, true]));
        assert_eq!(health.to_string(), "health: 5 of 6 healthy");
        assert!(!health.is_healthy());
    }

    #[test]
    fn no_component_is_not_healthy() {
        assert!(!Health::of(&[]).is_healthy());
    }

    #[test]
    fn the_table_marks_the_unhealthy_component_and_ends_with_the_count() {
        let table = render(&[
            Component::new("agent", "running", true),
            Component::new("cwmp", "last session failed", false),
        ]);
        assert_eq!(
            table,
            "Components:\n  agent  ok         running\n  cwmp   UNHEALTHY  last session failed\n\
             health: 1 of 2 healthy\n"
        );
    }
}
