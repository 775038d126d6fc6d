//! `GET /api/v1/events`: the event stream by long polling.
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::Query;
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::service::accounts::Caller;
use crate::wire::cursor;

/// Long-poll parameters.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PollQuery {
    /// The last cursor received; omitted: start from now.
    pub since: Option<String>,
    /// How long to wait for a first event, 0 to 30,000 ms (default 0).
    pub timeout_ms: Option<u64>,
}

/// Events after `since`, waiting up to `timeout_ms` for the first:
/// `{"events":[…],"next":"<cursor>"}`.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(PollQuery),
    responses((status = 200, description = "`{\"events\":[…],\"next\":\"<cursor>\"}`, each event as on the WebSocket"),
              (status = 400, description = "malformed or future cursor, or timeout out of range")), security(("bearer" = [])))]
pub async fn poll(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PollQuery>,
) -> ApiResult<Response> {
    let max = state.settings.limits.max_poll_ms;
    let wait = q.timeout_ms.unwrap_or(0);
    if wait > max {
        return Err(ApiError::bad_request(format!("timeout_ms is 0 to {max}")));
    }
    let events = Arc::clone(&state.events);
    let after = events.start(q.since.as_deref()).await?;
    let limit = state.settings.limits.max_events_page;
    let polled = events.poll(
        caller.user_id,
        caller.token_hash,
        after,
        Duration::from_millis(wait),
        limit,
    );
    // A stopping server answers a waiting poll at once, as if its wait had
    // ended, rather than holding shutdown for up to `limits.max_poll_ms`.
    let frames = tokio::select! {
        frames = polled => frames?,
        () = state.stopping.signalled() => Vec::new(),
    };
    // Ephemeral frames have no place in the log: they never move the cursor.
    let next = frames
        .iter()
        .filter(|f| !f.ephemeral)
        .map(|f| f.id)
        .max()
        .unwrap_or(after);
    // The frames are already JSON: splice them rather than re-serialize.
    let mut body =
        String::with_capacity(64 + frames.iter().map(|f| f.json.len() + 1).sum::<usize>());
    body.push_str("{\"events\":[");
    for (i, f) in frames.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(f.json.as_str());
    }
    body.push_str("],\"next\":\"");
    body.push_str(&cursor::encode(next));
    body.push_str("\"}");
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
