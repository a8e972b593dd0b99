//! What the agent tests share.

pub(crate) mod acs;
pub(crate) mod auth;
pub(crate) mod cr;
pub(crate) mod cwmp;
pub(crate) mod pki;
pub(crate) mod readme;

use std::path::Path;

/// Checks CWMP envelopes against the BBF schemas (`validate-cwmp`).
pub(crate) use schemas::testing::validate_envelopes as validate;

/// An agent's configuration for tests: this ACS, this state directory, the Connection Request
/// server on a free loopback port, and `file` for the rest.
pub(crate) fn agent_config(
    file: cpe::config::FileConfig,
    acs_url: &str,
    state_dir: &Path,
) -> cpe::config::Config {
    cpe::config::Config::resolve(
        file,
        cpe::config::Overrides {
            acs_url: Some(acs_url.to_owned()),
            state_dir: Some(state_dir.to_owned()),
            connreq_listen: Some("127.0.0.1:0".into()),
            ..cpe::config::Overrides::default()
        },
    )
    .unwrap()
}

/// An agent running in its own task until [`Running::stop`].
pub(crate) struct Running {
    stop: std::sync::Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Starts an agent with `config`.
    pub(crate) async fn start(config: cpe::config::Config) -> Self {
        Self::spawn(cpe::agent::Agent::start(config).await.unwrap())
    }

    /// Runs an agent already started.
    pub(crate) fn spawn(agent: cpe::agent::Agent) -> Self {
        let stop = std::sync::Arc::new(tokio::sync::Notify::new());
        let stopped = stop.clone();
        let task = tokio::spawn(agent.run_until(async move { stopped.notified().await }));
        Self { stop, task }
    }

    /// Asks the agent to stop and waits until it has.
    pub(crate) async fn stop(self) {
        self.stop.notify_one();
        tokio::time::timeout(std::time::Duration::from_secs(30), self.task)
            .await
            .expect("the agent stops")
            .unwrap();
    }
}
