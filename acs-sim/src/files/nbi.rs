//! GenieACS's `/files` REST routes: upload with metadata headers, list (with `?query=`),
//! fetch, delete. Errors are JSON `{"message": "..."}`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use schemas::value::DateTime;
use serde_json::{Map, Value, json};

use super::response::file_response;
use super::{FileError, NewFile};
use crate::acs::Acs;
use crate::store::FileMeta;

/// The routes `PUT /files/{name}`, `GET /files` (and `/files/`), `GET`/`HEAD /files/{name}` and
/// `DELETE /files/{name}`, for the REST API to merge; the state is the shared [`Acs`].
pub fn nbi_routes() -> axum::Router<Arc<Acs>> {
    axum::Router::new()
        .route("/files", get(list))
        .route("/files/", get(list))
        .route("/files/{name}", get(fetch).put(upload).delete(remove))
}

/// A route's failure, answered as `{"message": "..."}`.
#[derive(Debug)]
struct ApiError(StatusCode, String);

impl From<FileError> for ApiError {
    fn from(error: FileError) -> Self {
        Self(error.status(), error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "message": self.1 }))).into_response()
    }
}

/// `PUT /files/{name}`: the body is the file; the `fileType`, `oui`, `productClass` and
/// `version` headers are its metadata.
async fn upload(
    State(acs): State<Arc<Acs>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let header = |key: &str| match headers.get(key) {
        None => Ok(String::new()),
        Some(value) => value
            .to_str()
            .map(str::to_owned)
            .map_err(|_| ApiError(StatusCode::BAD_REQUEST, format!("{key} is not ASCII text"))),
    };
    let file = NewFile {
        file_type: header("fileType")?,
        oui: header("oui")?,
        product_class: header("productClass")?,
        version: header("version")?,
        ..NewFile::named(name)
    };
    let meta = acs.files.put(&acs.store, file, body).await?;
    // GenieACS answers 201 with no body; the file's document costs nothing and lets clients
    // that parse every answer as JSON (pygenieacs) work.
    Ok((StatusCode::CREATED, Json(document(&meta).await)))
}

/// `GET /files/?query=<JSON>`: the files as GenieACS lists them.
async fn list(
    State(acs): State<Arc<Acs>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let query = match params.get("query") {
        None => Map::new(),
        Some(text) => match serde_json::from_str(text) {
            Ok(Value::Object(query)) => query,
            _ => {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    "query must be a JSON object".to_owned(),
                ));
            }
        },
    };
    let mut listed = Vec::new();
    for meta in acs.files.list(&acs.store).await? {
        let document = document(&meta).await;
        if matches(&document, &query)? {
            listed.push(document);
        }
    }
    Ok(Json(listed))
}

/// `GET`/`HEAD /files/{name}`: the bytes, with the file server's ETag and Range handling.
async fn fetch(
    State(acs): State<Arc<Acs>>,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let open = acs.files.open(&acs.store, &name).await?;
    let response = file_response(open, &headers, method == Method::HEAD)
        .await
        .map_err(FileError::from)?;
    Ok(response.map(Body::new))
}

/// `DELETE /files/{name}`.
async fn remove(
    State(acs): State<Arc<Acs>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    acs.files.delete(&acs.store, &name).await?;
    Ok(StatusCode::OK)
}

/// A file as GenieACS's GridFS lists it; `uploadDate` is when its blob was written.
async fn document(meta: &FileMeta) -> Value {
    let upload_date = tokio::fs::metadata(&meta.path)
        .await
        .and_then(|stat| stat.modified())
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .and_then(|since| {
            let secs = i64::try_from(since.as_secs()).ok()?;
            DateTime::from_unix(secs, since.subsec_millis() * 1_000_000)
        })
        .map(|time| time.to_string());
    json!({
        "_id": meta.name,
        "length": meta.size,
        "filename": meta.name,
        "uploadDate": upload_date,
        "metadata": {
            "fileType": meta.file_type,
            "oui": meta.oui,
            "productClass": meta.product_class,
            "version": meta.version,
        },
    })
}

/// Whether `document` matches a GenieACS (MongoDB) query of equalities on dotted paths, such as
/// `{"metadata.fileType": "1 Firmware Upgrade Image"}`. Operators (`$in`, `$regex`, ...) are
/// refused.
fn matches(document: &Value, query: &Map<String, Value>) -> Result<bool, ApiError> {
    let mut all = true;
    for (path, wanted) in query {
        if path.starts_with('$') || wanted.as_object().is_some_and(|o| !o.is_empty()) {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!("unsupported query on {path:?}: only equality is supported"),
            ));
        }
        let found = path
            .split('.')
            .try_fold(document, |value, key| value.get(key));
        all &= found == Some(wanted);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(value: Value) -> Map<String, Value> {
        let Value::Object(map) = value else {
            unreachable!()
        };
        map
    }

    #[test]
    fn queries_match_dotted_equalities() {
        let doc =
            json!({"_id": "fw", "length": 3, "metadata": {"fileType": "1 Firmware Upgrade Image"}});
        assert!(matches(&doc, &query(json!({}))).unwrap());
        assert!(matches(&doc, &query(json!({"_id": "fw", "length": 3}))).unwrap());
        assert!(
            matches(
                &doc,
                &query(json!({"metadata.fileType": "1 Firmware Upgrade Image"}))
            )
            .unwrap()
        );
        assert!(!matches(&doc, &query(json!({"_id": "other"}))).unwrap());
        assert!(!matches(&doc, &query(json!({"metadata.oui": "x"}))).unwrap());
    }

    #[test]
    fn query_operators_are_refused() {
        let doc = json!({"_id": "fw"});
        assert!(matches(&doc, &query(json!({"_id": {"$regex": "f"}}))).is_err());
        assert!(matches(&doc, &query(json!({"$or": []}))).is_err());
    }
}
