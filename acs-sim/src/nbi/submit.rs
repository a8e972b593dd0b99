//! `POST /devices/{id}/tasks`: queue a task, optionally send a Connection Request and wait for
//! the device to carry it out (the answers are described in the [module docs](super)).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hyper::ext::ReasonPhrase;
use serde::Deserialize;
use serde_json::{Value, json};

use super::document::{fault_json, task_json};
use super::error::ApiError;
use super::task::{self, TaskRequest};
use super::wait::{Outcome, wait_for};
use super::{DEFAULT_TIMEOUT, device_id, with_store};
use crate::acs::{Acs, unix_now};
use crate::connreq;
use crate::store::{DeviceId, NewTask, TaskStatus};

/// GenieACS's reason phrase for a task the device has not carried out (yet).
const NOT_PROCESSED: &str = "Task queued but not processed";
/// GenieACS's reason phrase for a task the device answered with a fault.
const FAULTED: &str = "Task faulted";
/// Where the Connection Request error is repeated.
pub const CONNECTION_REQUEST_ERROR: HeaderName =
    HeaderName::from_static("x-connection-request-error");
/// Which way the Connection Request reached the device: `http` or `cloud` (the tunnel).
pub const CONNECTION_REQUEST_PATH: HeaderName =
    HeaderName::from_static("x-connection-request-path");
/// The longest reason phrase written; longer error texts are cut.
const MAX_REASON: usize = 200;

pub(super) fn routes() -> Router<Arc<Acs>> {
    Router::new()
        .route("/devices/{id}/tasks", post(post_task))
        .route("/devices/{id}/tasks/", post(post_task))
        .route("/devices/{id}/objects/{name}/refresh", post(refresh_object))
}

/// `?connection_request` (present or not, any value) and `?timeout=` (ms).
#[derive(Debug, Deserialize)]
struct SubmitParams {
    connection_request: Option<String>,
    timeout: Option<u64>,
}

impl SubmitParams {
    fn timeout(&self) -> Result<Duration, ApiError> {
        super::requested_timeout(self.timeout, DEFAULT_TIMEOUT).map_err(ApiError::bad_request)
    }
}

/// `POST /devices/{id}/tasks`.
async fn post_task(
    State(acs): State<Arc<Acs>>,
    path: Result<Path<String>, PathRejection>,
    params: Result<Query<SubmitParams>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let device = device_id(&path?.0)?;
    let params = params?.0;
    let request = task::parse(&body?)?;
    submit(&acs, device, request, &params).await
}

/// `POST /devices/{id}/objects/{name}/refresh`: a `refreshObject` task for `name`.
async fn refresh_object(
    State(acs): State<Arc<Acs>>,
    path: Result<Path<(String, String)>, PathRejection>,
    params: Result<Query<SubmitParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (device, object) = path?.0;
    let device = device_id(&device)?;
    let params = params?.0;
    let body = json!({"name": "refreshObject", "objectName": object}).to_string();
    let request = task::parse(body.as_bytes())?;
    submit(&acs, device, request, &params).await
}

async fn submit(
    acs: &Arc<Acs>,
    device: DeviceId,
    request: TaskRequest,
    params: &SubmitParams,
) -> Result<Response, ApiError> {
    let timeout = params.timeout()?;
    let new = NewTask {
        device: device.clone(),
        name: request.name,
        arguments: request.arguments,
        timestamp: unix_now(),
    };
    let task = with_store(acs, move |store| store.add_task(&new)).await?;
    if params.connection_request.is_none() {
        return Ok(answer(
            StatusCode::ACCEPTED,
            NOT_PROCESSED,
            task_json(&task, task.status),
        ));
    }
    // Subscribed before the Connection Request, so the session it opens cannot be missed.
    let mut changes = acs.subscribe();
    let path = match connreq::kick(acs, &device).await {
        Ok(path) => path,
        Err(error) => {
            let reason = reason_text(&error.to_string());
            let mut response = answer(StatusCode::ACCEPTED, &reason, task_json(&task, task.status));
            if let Ok(value) = HeaderValue::from_str(&reason) {
                response
                    .headers_mut()
                    .insert(CONNECTION_REQUEST_ERROR, value);
            }
            return Ok(response);
        }
    };
    let mut response = match wait_for(acs, &task.id, &mut changes, timeout).await? {
        Outcome::Done => answer(StatusCode::OK, "OK", task_json(&task, TaskStatus::Done)),
        Outcome::Faulted(task, fault) => {
            let mut body = task_json(&task, task.status);
            if let (Some(fault), Value::Object(body)) = (fault, &mut body) {
                body.insert("fault".into(), fault_json(&fault));
            }
            answer(StatusCode::ACCEPTED, FAULTED, body)
        }
        Outcome::Pending(task) => answer(
            StatusCode::ACCEPTED,
            NOT_PROCESSED,
            task_json(&task, task.status),
        ),
    };
    response.headers_mut().insert(
        CONNECTION_REQUEST_PATH,
        HeaderValue::from_static(path.as_str()),
    );
    Ok(response)
}

/// A JSON answer with a GenieACS reason phrase.
fn answer(status: StatusCode, reason: &str, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(reason) = ReasonPhrase::try_from(reason.as_bytes()) {
        response.extensions_mut().insert(reason);
    }
    response
}

/// `text` made fit for a reason phrase and a header value: printable ASCII, at most
/// [`MAX_REASON`] characters, never empty.
fn reason_text(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .take(MAX_REASON)
        .collect();
    if cleaned.trim().is_empty() {
        "Connection request failed".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_text_is_printable_ascii_and_bounded() {
        assert_eq!(reason_text("Device is offline"), "Device is offline");
        assert_eq!(reason_text("bad\r\nline é"), "bad??line ?");
        assert_eq!(reason_text(" "), "Connection request failed");
        assert_eq!(reason_text(&"x".repeat(500)).len(), MAX_REASON);
    }
}
