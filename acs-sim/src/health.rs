//! The health of a running acs-sim (issue 7, "safe stop and health"): every component with
//! its state and whether it is healthy, plus `"health": "N of M"`.
//!
//! `GET /health` on the REST listener answers the [`HealthReport`] as JSON, `200` when every
//! component is healthy and `503` with the same body otherwise (the convention of load
//! balancers' health checks). `acs-sim status` reads it back ([`fetch`]).
//!
//! The components:
//!
//! - the listeners (`cwmp`, `cwmps`, `nbi`, `files`): each registers itself in the ACS's
//!   [`Components`] while it serves ([`Components::listening`]) and shows `stopped` once its
//!   serve loop has ended;
//! - `store`: [`Store::health`](crate::store::Store::health) (for SQLite, the file read afresh
//!   on a connection of its own), on the blocking pool, unhealthy when it fails or takes over
//!   [`STORE_CHECK_TIMEOUT`];
//! - `connection-requests`: the Connection Request sender (TR-069 §3.2.2), which holds no
//!   connection between requests: its settings;
//! - `cloud`, when a cloud-management server is attached: serving or stopped.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::acs::Acs;

/// The path of the health endpoint on the REST listener.
pub const HEALTH_PATH: &str = "/health";
/// The longest the store's check may take before the store counts as unhealthy.
pub const STORE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One component's health.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentHealth {
    /// `cwmp`, `cwmps`, `nbi`, `files`, `store`, `connection-requests` or `cloud`.
    pub name: String,
    /// What it is doing, e.g. `listening on 127.0.0.1:7547`, or what is wrong.
    pub state: String,
    /// Whether it works.
    pub healthy: bool,
}

/// What `/health` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// Every component, listeners first (by name), then the store, the Connection Request
    /// sender and the cloud server.
    pub components: Vec<ComponentHealth>,
    /// `"N of M"`: how many of the components are healthy.
    pub health: String,
}

impl HealthReport {
    /// A report of `components`, with its `"N of M"`.
    pub fn new(components: Vec<ComponentHealth>) -> Self {
        let healthy = components.iter().filter(|c| c.healthy).count();
        let health = format!("{healthy} of {}", components.len());
        Self { components, health }
    }

    /// Whether every component is healthy.
    pub fn healthy(&self) -> bool {
        self.components.iter().all(|c| c.healthy)
    }

    /// The component named `name`.
    pub fn component(&self, name: &str) -> Option<&ComponentHealth> {
        self.components.iter().find(|c| c.name == name)
    }
}

impl std::fmt::Display for HealthReport {
    /// One line per component, `name: state (healthy|UNHEALTHY)`, then `health: N of M`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in &self.components {
            let verdict = if c.healthy { "healthy" } else { "UNHEALTHY" };
            writeln!(f, "{}: {} ({verdict})", c.name, c.state)?;
        }
        write!(f, "health: {}", self.health)
    }
}

/// The listeners of one ACS and their state. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Components {
    listeners: Arc<Mutex<BTreeMap<&'static str, ComponentHealth>>>,
}

impl Components {
    /// Records that the listener `name` serves on `local` until the returned guard drops;
    /// from then on it shows as stopped, unhealthy.
    pub fn listening(&self, name: &'static str, local: SocketAddr) -> Listening {
        self.set(name, format!("listening on {local}"), true);
        Listening {
            components: self.clone(),
            name,
            local,
        }
    }

    fn set(&self, name: &'static str, state: String, healthy: bool) {
        let entry = ComponentHealth {
            name: name.to_owned(),
            state,
            healthy,
        };
        self.lock().insert(name, entry);
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<&'static str, ComponentHealth>> {
        // Every update is a single insert: a panic elsewhere cannot leave it half done.
        self.listeners.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn listeners(&self) -> Vec<ComponentHealth> {
        self.lock().values().cloned().collect()
    }
}

/// A listener registered by [`Components::listening`]; marks it stopped when dropped.
#[derive(Debug)]
pub struct Listening {
    components: Components,
    name: &'static str,
    local: SocketAddr,
}

impl Drop for Listening {
    fn drop(&mut self) {
        let state = format!("stopped (was listening on {})", self.local);
        self.components.set(self.name, state, false);
    }
}

/// Checks every component of `acs` now.
pub async fn check(acs: &Arc<Acs>) -> HealthReport {
    let mut components = acs.components().listeners();
    components.push(store(acs).await);
    let connreq = &acs.config.connreq;
    components.push(ComponentHealth {
        name: "connection-requests".to_owned(),
        state: format!(
            "ready (timeout {} s, cloud fallback {})",
            connreq.timeout.as_secs(),
            if acs.cloud().is_some() { "on" } else { "off" }
        ),
        healthy: true,
    });
    if let Some(cloud) = acs.cloud() {
        let devices = cloud.devices();
        let online = devices.iter().filter(|d| d.online).count();
        let stopped = cloud.has_stopped();
        let state = if stopped {
            "stopped".to_owned()
        } else {
            format!("serving, {online} of {} devices online", devices.len())
        };
        components.push(ComponentHealth {
            name: "cloud".to_owned(),
            state,
            healthy: !stopped,
        });
    }
    HealthReport::new(components)
}

/// The store's check, bounded by [`STORE_CHECK_TIMEOUT`] (a check still running then is left
/// to finish on its blocking thread).
async fn store(acs: &Arc<Acs>) -> ComponentHealth {
    let checked = {
        let acs = Arc::clone(acs);
        tokio::task::spawn_blocking(move || acs.store.health())
    };
    let (state, healthy) = match tokio::time::timeout(STORE_CHECK_TIMEOUT, checked).await {
        Ok(Ok(Ok(state))) => (state, true),
        Ok(Ok(Err(error))) => (error.to_string(), false),
        Ok(Err(error)) => (format!("check failed: {error}"), false),
        Err(_) => (
            format!("no answer within {} s", STORE_CHECK_TIMEOUT.as_secs_f32()),
            false,
        ),
    };
    ComponentHealth {
        name: "store".to_owned(),
        state,
        healthy,
    }
}

/// `GET /health`, for [`crate::nbi::router`].
pub fn routes() -> Router<Arc<Acs>> {
    Router::new().route(HEALTH_PATH, get(health))
}

async fn health(State(acs): State<Arc<Acs>>) -> (StatusCode, Json<HealthReport>) {
    let report = check(&acs).await;
    let status = if report.healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report))
}

/// Why `acs-sim status` got no report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// The REST API's URL is not one this client reads.
    #[error("--nbi {url:?}: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The name does not resolve, nothing answers, or the answer did not come in time.
    #[error("acs-sim at {url} is unreachable: {message}")]
    Unreachable {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// Something answered, but not a health report.
    #[error("{url}{HEALTH_PATH} answered {status}, not a health report: {message}")]
    NotAReport {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Why the body is not a report.
        message: String,
    },
}

/// Reads `/health` of the acs-sim whose REST API is at `url` (`http://host:port`, path empty
/// or `/`); the whole exchange takes at most `timeout`. A `503` is a report too (unhealthy).
pub async fn fetch(url: &str, timeout: Duration) -> Result<HealthReport, StatusError> {
    let bad = |reason| StatusError::BadUrl {
        url: url.to_owned(),
        reason,
    };
    let uri: http::Uri = url.parse().map_err(|_| bad("not a URL"))?;
    if uri.scheme_str() != Some("http") {
        return Err(bad("must start with http://"));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(bad("must have no path or query (the REST API's base URL)"));
    }
    let authority = uri.authority().ok_or_else(|| bad("has no host"))?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(80);
    let unreachable = |message: String| StatusError::Unreachable {
        url: url.to_owned(),
        message,
    };
    let addr = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| unreachable(e.to_string()))?
        .next()
        .ok_or_else(|| unreachable(format!("{host} has no address")))?;
    let (status, body) = crate::lab::http::call(addr, "GET", HEALTH_PATH, &[], Vec::new(), timeout)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let not_a_report = |message: String| StatusError::NotAReport {
        url: url.trim_end_matches('/').to_owned(),
        status,
        message,
    };
    if status != 200 && status != 503 {
        return Err(not_a_report("expected 200 or 503".to_owned()));
    }
    serde_json::from_slice(&body).map_err(|e| not_a_report(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(name: &str, healthy: bool) -> ComponentHealth {
        ComponentHealth {
            name: name.to_owned(),
            state: "s".to_owned(),
            healthy,
        }
    }

    #[test]
    fn report_counts_healthy_components_and_prints_one_line_each() {
        let report = HealthReport::new(vec![component("a", true), component("b", false)]);
        assert_eq!(report.health, "1 of 2");
        assert!(!report.healthy());
        assert_eq!(
            report.to_string(),
            "a: s (healthy)\nb: s (UNHEALTHY)\nhealth: 1 of 2"
        );
    }

    #[test]
    fn a_listener_shows_stopped_once_its_guard_drops() {
        let components = Components::default();
        let local: SocketAddr = "127.0.0.1:7557".parse().unwrap();
        let guard = components.listening("nbi", local);
        assert_eq!(
            components.listeners(),
            [ComponentHealth {
                name: "nbi".to_owned(),
                state: "listening on 127.0.0.1:7557".to_owned(),
                healthy: true,
            }]
        );
        drop(guard);
        let after = components.listeners();
        assert_eq!(after[0].state, "stopped (was listening on 127.0.0.1:7557)");
        assert!(!after[0].healthy);
    }

    #[tokio::test]
    async fn fetch_refuses_urls_it_cannot_read_naming_the_flag() {
        for (url, reason) in [
            ("https://127.0.0.1:7557", "must start with http://"),
            ("http://127.0.0.1:7557/devices", "must have no path"),
            ("not a url", "not a URL"),
        ] {
            let error = fetch(url, Duration::from_secs(1)).await.unwrap_err();
            let text = error.to_string();
            assert!(
                text.starts_with("--nbi ") && text.contains(reason),
                "{text}"
            );
        }
    }
}
