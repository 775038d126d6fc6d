//! `GET /healthz`, `GET /metrics`, `GET /api/v1/openapi.json`.
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;

use crate::Settings;
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;

/// Liveness: answers `ok` while the server runs; a node of a cluster whose
/// message bus is unreachable answers `degraded: message bus unreachable`,
/// still with 200: it serves its clients, reading other nodes' events from
/// the database.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200,
    description = "`ok`, or `degraded: message bus unreachable` (a cluster node serving without its bus)")))]
pub async fn healthz(State(state): State<crate::AppState>) -> &'static str {
    match &state.bus {
        Some(bus) if !bus.connected() => "degraded: message bus unreachable",
        _ => "ok",
    }
}

/// Prometheus metrics: requests, latencies, connected clients, messages
/// sent. With `metrics.token` set, only for `Authorization: Bearer <token>`;
/// with `metrics.listen` set, only on that listener (404 here).
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, description = "Prometheus text format"),
    (status = 401, description = "`metrics.token` is set and the request does not carry it"),
    (status = 404, description = "`metrics.listen` is set: metrics are served on that address instead")))]
pub async fn metrics(
    State(metrics): State<Arc<Metrics>>,
    State(settings): State<Arc<Settings>>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    if let Some(expected) = &settings.metrics.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if !given.is_some_and(|given| same_secret(given, expected)) {
            return Err(ApiError::unauthorized(
                "send Authorization: Bearer <metrics.token>",
            ));
        }
    }
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    ))
}

/// Compares digests, so the time taken says nothing about how much of a
/// guess was right.
fn same_secret(given: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(given), Sha256::digest(expected));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// This document, with the limits of the settings the server runs with.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "system", responses((status = 200, description = "OpenAPI 3.1")))]
pub async fn openapi(State(state): State<crate::AppState>) -> impl IntoResponse {
    axum::Json(super::contract::document(&state.settings))
}
