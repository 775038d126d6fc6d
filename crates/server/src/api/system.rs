//! `GET /healthz`, `GET /metrics`, `GET /api/v1/openapi.json`.
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::metrics::Metrics;

/// Liveness: answers `ok` while the server runs.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, description = "ok")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Prometheus metrics: requests, latencies, connected clients, messages sent.
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    )
}

/// This document, with the limits of the settings the server runs with.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "system", responses((status = 200, description = "OpenAPI 3.1")))]
pub async fn openapi(State(state): State<crate::AppState>) -> impl IntoResponse {
    axum::Json(super::contract::document(&state.settings))
}
