//! `/tasks`: listing, one task, deletion, retry.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::document::task_json;
use super::error::ApiError;
use super::query::Scalar;
use super::{ListParams, Listing, task_id, with_store};
use crate::acs::Acs;
use crate::store::TaskFilter;

pub(super) fn routes() -> Router<Arc<Acs>> {
    Router::new()
        .route("/tasks", get(list))
        .route("/tasks/", get(list))
        .route("/tasks/{id}", get(one).delete(remove))
        .route("/tasks/{id}/retry", post(retry))
}

/// `GET /tasks/`: queued, in-progress and faulted tasks, oldest first.
async fn list(
    State(acs): State<Arc<Acs>>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let listing = Listing::parse(&params?.0)?;
    let mut filter = TaskFilter::default();
    for (path, value) in listing.query.required_equalities() {
        match (path, value) {
            ("_id", Scalar::String(id)) => filter.id = id.parse().ok(),
            ("device", Scalar::String(device)) => filter.device = device.parse().ok(),
            _ => {}
        }
    }
    let tasks = with_store(&acs, move |store| store.tasks(&filter)).await?;
    let docs = tasks.iter().map(|task| task_json(task, task.status));
    Ok(Json(listing.select(docs, Value::clone)))
}

/// `GET /tasks/{id}`.
async fn one(
    State(acs): State<Arc<Acs>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = task_id(&path?.0)?;
    let filter = TaskFilter::default().id(id.clone());
    let task = with_store(&acs, move |store| store.tasks(&filter))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found(format!("task {:?} not found", id.as_str())))?;
    Ok(Json(task_json(&task, task.status)))
}

/// `DELETE /tasks/{id}`.
async fn remove(
    State(acs): State<Arc<Acs>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<(), ApiError> {
    let id = task_id(&path?.0)?;
    with_store(&acs, move |store| store.delete_task(&id)).await
}

/// `POST /tasks/{id}/retry`: a faulted task back to the queue, its fault cleared.
async fn retry(
    State(acs): State<Arc<Acs>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<(), ApiError> {
    let id = task_id(&path?.0)?;
    with_store(&acs, move |store| store.retry_task(&id)).await
}
