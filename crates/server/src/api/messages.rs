//! `POST` and `GET /api/v1/conversations/{id}/messages`.
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Json, Path, Query};
use crate::error::ApiResult;
use crate::service::accounts::Caller;
use crate::service::conversations::Conversations;
use crate::service::messaging::Messaging;
use crate::wire::MessageView;

/// A message to send.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// UTF-8 text, at most `limits.max_message_bytes`.
    pub body: String,
    /// Makes the send idempotent: repeating it returns the original.
    pub client_txn_id: Option<String>,
    /// Ids of the caller's uploads into this conversation
    /// (`POST /api/v1/conversations/{id}/attachments`) that the message
    /// carries; each is sent once (another id: 404). With attachments the
    /// text may be empty. At most `attachments.max_per_message`.
    #[serde(default)]
    pub attachments: Vec<i64>,
    /// The seq of a message of this conversation this one replies to.
    pub reply_to: Option<i64>,
}

/// History paging.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Only messages with a smaller `seq` (default: from the newest).
    pub before_seq: Option<i64>,
    /// How many (default 50, at most `limits.max_history_page`).
    pub limit: Option<u32>,
}

/// A page of history.
#[derive(Serialize, ToSchema)]
pub struct History<'a> {
    /// Oldest first.
    pub messages: Vec<MessageView<'a>>,
}

/// Sends a message (201), or returns the original for a repeated `client_txn_id` (200).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "messages", request_body = SendMessage,
    params(("id" = i64, Path)),
    responses((status = 201, body = MessageView), (status = 200, body = MessageView, description = "repeated client_txn_id"),
              (status = 400, description = "empty text without attachments, an attachment listed twice, or reply_to names no message of this conversation"),
              (status = 404, description = "no such conversation, or not a member, or an attachment that is not the caller's unsent upload into it"), (status = 413), (status = 422, description = "a link is blocked"),
              (status = 429)), security(("bearer" = [])))]
pub async fn send(
    State(messaging): State<Arc<Messaging>>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<SendMessage>,
) -> ApiResult<Response> {
    let (message, created) = messaging
        .send(
            &caller,
            id,
            req.body,
            req.client_txn_id,
            req.attachments,
            req.reply_to,
        )
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(MessageView::of(&message))).into_response())
}

/// A page of history, oldest first.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "messages",
    params(("id" = i64, Path), HistoryQuery),
    responses((status = 200, body = History), (status = 404)), security(("bearer" = [])))]
pub async fn history(
    State(conversations): State<Arc<Conversations>>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Response> {
    let messages = conversations
        .history(&caller, id, q.before_seq, q.limit)
        .await?;
    let page = History {
        messages: messages.iter().map(MessageView::of).collect(),
    };
    Ok(axum::Json(page).into_response())
}
