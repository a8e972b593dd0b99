//! `GET /api/stats` (the call-home statistics as JSON: the rows in the table's order, then the
//! sessions) and `GET /metrics` (the same figures in the Prometheus text format), see
//! [`crate::stats`].

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::acs::Acs;

pub(super) fn routes() -> Router<Arc<Acs>> {
    Router::new()
        .route("/api/stats", get(stats))
        .route("/metrics", get(metrics))
}

async fn stats(State(acs): State<Arc<Acs>>) -> impl IntoResponse {
    axum::Json(acs.stats.snapshot(|_| 0))
}

async fn metrics(State(acs): State<Arc<Acs>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, cpe::stats::prometheus::CONTENT_TYPE)],
        crate::stats::metrics_page(&acs.stats),
    )
}
