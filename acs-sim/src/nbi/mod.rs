//! The northbound REST API (axum), compatible with GenieACS's NBI (default port 7557), so
//! GenieACS clients and scripts drive acs-sim unchanged.
//!
//! | Endpoint | GenieACS | Notes |
//! |---|---|---|
//! | `GET /devices/?query=&projection=&skip=&limit=` | same | [`query`] subset; `sort` is not supported (ordered by id) |
//! | `DELETE /devices/{id}` | same | with its tasks and faults |
//! | `POST /devices/{id}/tags/{tag}`, `DELETE ...` | same | |
//! | `POST /devices/{id}/tasks[?connection_request][&timeout=ms]` | same | see below; also `{"command", "params"}` bodies ([`task`]) |
//! | `POST /devices/{id}/objects/{name}/refresh` | none | a `refreshObject` task, same answers as `tasks` |
//! | `GET /tasks/?query=&projection=&skip=&limit=` | same | tasks carry an extra `status` |
//! | `GET /tasks/{id}` | none | one task (some Python clients call it) |
//! | `DELETE /tasks/{id}`, `POST /tasks/{id}/retry` | same | retrying a task that is not faulted is `409` |
//! | `GET /faults/?query=&projection=&skip=&limit=`, `DELETE /faults/{id}` | same | id `<device>:task_<task id>`, URL-encoded |
//! | `/files/...` | same | built by [`crate::files`] ([`crate::files::nbi_routes`]) |
//! | `GET /health` | none | [`crate::health`]: 200 when every component is healthy, else 503 |
//! | `GET /api/stats`, `GET /metrics` | none | call-home statistics, JSON and Prometheus text ([`crate::stats`]) |
//!
//! Path segments are percent-decoded once, so a device id (which holds `%XX` escapes itself,
//! see [`DeviceId`]) arrives encoded twice, as GenieACS clients send it.
//!
//! **Posting a task.** The task is checked ([`task::parse`]) and queued. Without
//! `connection_request` the answer is `202 Task queued but not processed`. With it, the ACS
//! sends a Connection Request (TR-069 §3.2.2). If that fails the answer is `202` and, as in
//! GenieACS, the reason phrase is the Connection Request error; the same text is also in the
//! `X-Connection-Request-Error` header, for clients that cannot read reason phrases. If it
//! succeeds, the request waits up to `timeout` ms (default 3000, at most [`MAX_TIMEOUT`]) for
//! the task to leave the queue: `200 OK` when the device answered it, `202 Task faulted` (with
//! the fault under `"fault"`) when it faulted, `202 Task queued but not processed` otherwise.
//! The body is the task JSON in every case. After a Connection Request that reached the
//! device, the `X-Connection-Request-Path` header says how: `http`, or `cloud` when the URL
//! was unreachable and the cloud tunnel carried it ([`crate::connreq`]).
//!
//! **Errors** are `{"message": "..."}`: `400` bad input, `404` unknown device, task, fault or
//! route, `405` wrong method, `409` a state conflict, `413` a body over [`BODY_LIMIT`], `500`
//! a store failure.

mod devices;
mod document;
mod error;
mod faults;
pub mod query;
mod stats;
mod submit;
pub mod task;
mod tasks;
mod wait;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

pub use self::submit::{CONNECTION_REQUEST_ERROR, CONNECTION_REQUEST_PATH};

use self::document::Projection;
use self::error::ApiError;
use self::query::{Document, Query};
use crate::acs::Acs;
use crate::store::{DeviceId, Store, StoreError, TaskId};

/// The largest request body read; larger is `413`.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// How long a `?connection_request` post waits when it names no `timeout` (GenieACS's default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(3000);
/// The longest `timeout` accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// A `?timeout=` in milliseconds, `default` when absent; refused above [`MAX_TIMEOUT`] with the
/// message a 400 carries. The cloud server's REST API reads its timeouts the same way.
pub(crate) fn requested_timeout(ms: Option<u64>, default: Duration) -> Result<Duration, String> {
    let timeout = ms.map_or(default, Duration::from_millis);
    if timeout > MAX_TIMEOUT {
        return Err(format!(
            "timeout must be at most {} ms",
            MAX_TIMEOUT.as_millis()
        ));
    }
    Ok(timeout)
}

/// The REST API's routes.
pub fn router(acs: Arc<Acs>) -> Router {
    Router::new()
        .merge(devices::routes())
        .merge(submit::routes())
        .merge(tasks::routes())
        .merge(faults::routes())
        .merge(stats::routes())
        // Before the fallbacks, so that those answer the file routes' unknown paths and
        // methods too. The file upload reads its body raw, under the file store's own limit.
        .merge(crate::files::nbi_routes())
        .merge(crate::health::routes())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(acs)
}

/// Serves the REST API on `listener` until `shutdown` completes, then lets open requests
/// finish (a `?connection_request` wait lasts at most its `timeout`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    acs: Arc<Acs>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let _listening = acs.components().listening("nbi", listener.local_addr()?);
    axum::serve(listener, router(acs))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Runs a store call on the blocking pool (the store is synchronous).
async fn with_store<T, F>(acs: &Arc<Acs>, call: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
{
    let acs = Arc::clone(acs);
    tokio::task::spawn_blocking(move || call(acs.store.as_ref()))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("store call failed: {e}"),
            )
        })?
        .map_err(ApiError::from)
}

/// A device id from a (decoded) path segment; one that cannot be an id names no device.
fn device_id(raw: &str) -> Result<DeviceId, ApiError> {
    raw.parse()
        .map_err(|e| ApiError::not_found(format!("device {raw:?} not found: {e}")))
}

/// A task id from a path segment; one that cannot be an id names no task.
fn task_id(raw: &str) -> Result<TaskId, ApiError> {
    raw.parse()
        .map_err(|e| ApiError::not_found(format!("task {raw:?} not found: {e}")))
}

/// `?query=&projection=&skip=&limit=` of the collection endpoints.
#[derive(Debug, Default, Deserialize)]
struct ListParams {
    query: Option<String>,
    projection: Option<String>,
    skip: Option<usize>,
    limit: Option<usize>,
}

/// [`ListParams`], parsed.
struct Listing {
    query: Query,
    projection: Option<Projection>,
    skip: usize,
    limit: usize,
}

impl Listing {
    fn parse(params: &ListParams) -> Result<Self, ApiError> {
        let query = match params.query.as_deref().map(str::trim) {
            None | Some("") => Query::all(),
            Some(text) => Query::parse(text)?,
        };
        Ok(Self {
            query,
            projection: params.projection.as_deref().and_then(Projection::parse),
            skip: params.skip.unwrap_or(0),
            limit: params.limit.unwrap_or(usize::MAX),
        })
    }

    /// The matching items, paged and projected, as JSON.
    fn select<T: Document>(
        &self,
        items: impl IntoIterator<Item = T>,
        to_json: impl Fn(&T) -> Value,
    ) -> Vec<Value> {
        items
            .into_iter()
            .filter(|item| self.query.matches(item))
            .skip(self.skip)
            .take(self.limit)
            .map(|item| {
                let doc = to_json(&item);
                match &self.projection {
                    Some(projection) => projection.apply(&doc),
                    None => doc,
                }
            })
            .collect()
    }
}
