//! `/faults`: listing and deletion (deleting a task's fault deletes the task, as in GenieACS).

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::Value;

use super::document::fault_json;
use super::error::ApiError;
use super::query::Scalar;
use super::{ListParams, Listing, with_store};
use crate::acs::Acs;
use crate::store::FaultFilter;

pub(super) fn routes() -> Router<Arc<Acs>> {
    Router::new()
        .route("/faults", get(list))
        .route("/faults/", get(list))
        .route("/faults/{id}", delete(remove))
}

/// `GET /faults/`.
async fn list(
    State(acs): State<Arc<Acs>>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let listing = Listing::parse(&params?.0)?;
    let mut filter = FaultFilter::default();
    for (path, value) in listing.query.required_equalities() {
        if let ("device", Scalar::String(device)) = (path, value) {
            filter.device = device.parse().ok();
        }
    }
    let faults = with_store(&acs, move |store| store.faults(&filter)).await?;
    let docs = faults.iter().map(fault_json);
    Ok(Json(listing.select(docs, Value::clone)))
}

/// `DELETE /faults/{id}`; the id is `<device id>:task_<task id>`, URL-encoded.
async fn remove(
    State(acs): State<Arc<Acs>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<(), ApiError> {
    let id = path?.0;
    with_store(&acs, move |store| store.delete_fault(&id)).await
}
