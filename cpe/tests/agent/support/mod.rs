//! What the agent tests share.

pub(crate) mod acs;
pub(crate) mod cr;
pub(crate) mod pki;

use std::path::Path;
use std::process::Command;

/// Checks CWMP envelopes against the BBF schemas (`validate-cwmp`); empty bodies are skipped.
/// Skips loudly when xmllint is missing, except in CI, where that fails.
pub(crate) fn validate(bodies: &[Vec<u8>]) {
    let validator =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/schemas-ref/validate-cwmp");
    if Command::new("xmllint").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "xmllint missing in CI");
        eprintln!("!!! SKIPPED schema validation: xmllint not found !!!");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = bodies
        .iter()
        .filter(|b| !b.is_empty())
        .enumerate()
        .map(|(i, body)| {
            let path = dir.path().join(format!("{i}.xml"));
            std::fs::write(&path, body).unwrap();
            path
        })
        .collect();
    if files.is_empty() {
        return;
    }
    let out = Command::new(validator).args(&files).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

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
        let agent = cpe::agent::Agent::start(config).await.unwrap();
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
