//! `GET /api/v1/search`: the caller's messages that contain a text.
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::Query;
use crate::error::ApiResult;
use crate::service::accounts::Caller;
use crate::service::search::{self, SearchService};
use crate::wire::rfc3339;

/// What to look for.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// The text, taken literally (no operators or wildcards), found
    /// anywhere in a message, Chinese included; ASCII letters match either
    /// case. 1 to `search.max_query_chars` characters after trimming.
    pub q: String,
    /// Only this conversation (404 unless the caller is a member).
    pub conversation: Option<i64>,
    /// Only messages with a smaller id: the previous page's `next_before`.
    pub before: Option<i64>,
    /// Hits per page (default 20, at most `search.max_results`).
    pub limit: Option<u32>,
}

/// One message that contains the text.
#[derive(Serialize, ToSchema)]
pub struct SearchHit {
    /// Message id.
    pub id: i64,
    /// Its conversation.
    pub conversation_id: i64,
    /// Its position there (open the history at `before_seq = seq + 1`).
    pub seq: i64,
    /// Sender's handle.
    pub sender: String,
    /// Up to 120 characters of the text around the first match, with `…`
    /// where it is cut.
    pub snippet: String,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// A page of hits.
#[derive(Serialize, ToSchema)]
pub struct SearchResults {
    /// Newest first.
    pub results: Vec<SearchHit>,
    /// Pass as `before` for the next page; absent when there is nothing
    /// older to look through. A query of one or two characters looks
    /// through `search.short_query_scan` messages per page, so a page may
    /// have fewer hits than `limit` (even none) and still a `next_before`.
    pub next_before: Option<i64>,
}

/// Searches the messages of the conversations the caller is in now.
#[utoipa::path(get, path = "/api/v1/search", tag = "messages", params(SearchParams),
    responses((status = 200, body = SearchResults),
              (status = 400, description = "empty query, one longer than search.max_query_chars or with control characters, or limit outside 1 to search.max_results"),
              (status = 401, description = "no valid token"),
              (status = 404, description = "conversation given and the caller is not a member"),
              (status = 429, description = "more than search.queries_per_second")),
    security(("bearer" = [])))]
pub async fn search(
    State(service): State<Arc<SearchService>>,
    caller: Caller,
    Query(p): Query<SearchParams>,
) -> ApiResult<Response> {
    let req = search::Request {
        q: p.q,
        conversation: p.conversation,
        before: p.before,
        limit: p.limit,
    };
    let text = req.q.clone();
    let page = service.search(&caller, req).await?;
    let results = page
        .hits
        .into_iter()
        .map(|m| SearchHit {
            snippet: search::snippet(&m.body, &text),
            id: m.id,
            conversation_id: m.conversation_id,
            seq: m.seq,
            sender: m.sender,
            created_at: rfc3339(m.created_at),
        })
        .collect();
    let body = SearchResults {
        results,
        next_before: page.next_before,
    };
    Ok(axum::Json(body).into_response())
}
