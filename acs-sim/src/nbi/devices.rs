//! `/devices`: listing with `?query=` and `?projection=`, deletion, tags.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::document::device_json;
use super::error::ApiError;
use super::query::{self, Scalar};
use super::{ListParams, Listing, device_id, with_store};
use crate::acs::Acs;
use crate::store::DeviceFilter;

pub(super) fn routes() -> Router<Arc<Acs>> {
    Router::new()
        .route("/devices", get(list))
        .route("/devices/", get(list))
        .route("/devices/{id}", delete(remove))
        .route("/devices/{id}/tags/{tag}", post(tag).delete(untag))
}

/// `GET /devices/`.
async fn list(
    State(acs): State<Arc<Acs>>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let listing = Listing::parse(&params?.0)?;
    let filter = store_filter(&listing.query);
    let devices = with_store(&acs, move |store| store.devices(&filter)).await?;
    Ok(Json(listing.select(devices, device_json)))
}

/// The part of `query` the store can apply (equality on `_id` and `_tags`), to narrow the
/// devices read before the whole query is evaluated.
fn store_filter(query: &query::Query) -> DeviceFilter {
    let narrowing: Vec<DeviceFilter> = query
        .required_equalities()
        .into_iter()
        .filter_map(|(path, value)| match (path, value) {
            ("_id", Scalar::String(id)) => id.parse().ok().map(DeviceFilter::Id),
            ("_tags", Scalar::String(tag)) => Some(DeviceFilter::Tag(tag.clone())),
            _ => None,
        })
        .collect();
    DeviceFilter::And(narrowing)
}

/// `DELETE /devices/{id}`.
async fn remove(
    State(acs): State<Arc<Acs>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<(), ApiError> {
    let id = device_id(&path?.0)?;
    with_store(&acs, move |store| store.delete_device(&id)).await
}

/// `POST /devices/{id}/tags/{tag}`.
async fn tag(
    State(acs): State<Arc<Acs>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(), ApiError> {
    let (id, tag) = path?.0;
    let id = device_id(&id)?;
    with_store(&acs, move |store| store.add_tag(&id, &tag)).await
}

/// `DELETE /devices/{id}/tags/{tag}`.
async fn untag(
    State(acs): State<Arc<Acs>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(), ApiError> {
    let (id, tag) = path?.0;
    let id = device_id(&id)?;
    with_store(&acs, move |store| store.remove_tag(&id, &tag)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DeviceId;

    #[test]
    fn store_filter_narrows_by_id_and_tag_only() {
        let query = query::Query::parse(
            r#"{"_id": "A-B", "_tags": "lab", "$or": [{"_tags": "x"}], "Device.X": "1"}"#,
        )
        .unwrap();
        assert_eq!(
            store_filter(&query),
            DeviceFilter::And(vec![
                DeviceFilter::Id(DeviceId::new("A", "", "B")),
                DeviceFilter::Tag("lab".into()),
            ])
        );
        let unparsable = query::Query::parse(r#"{"_id": "not-a-device-id"}"#).unwrap();
        assert_eq!(store_filter(&unparsable), DeviceFilter::And(vec![]));
    }
}
