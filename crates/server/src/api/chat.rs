//! `PATCH` and `DELETE /api/v1/conversations/{id}/messages/{seq}` (edit,
//! recall), `PUT`/`DELETE .../messages/{seq}/reactions/{emoji}` and
//! `DELETE .../messages/{seq}/previews` (the sender hides the previews).
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{Json, Path};
use crate::error::ApiResult;
use crate::service::accounts::Caller;
use crate::service::attachments::AttachmentService;
use crate::service::chat::ChatService;
use crate::wire::MessageView;

/// A message's new text.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    /// UTF-8 text, at most `limits.max_message_bytes`.
    pub body: String,
}

/// Edits one of the caller's messages; members get an `edit` event with
/// the message as it now is (`edited_at` set). Its links are decided again
/// by the policy in force.
#[utoipa::path(patch, path = "/api/v1/conversations/{id}/messages/{seq}", tag = "messages",
    request_body = EditMessage,
    params(("id" = i64, Path), ("seq" = i64, Path, description = "the message's position")),
    responses((status = 200, body = MessageView),
              (status = 400, description = "empty text"),
              (status = 404, description = "no such conversation or message, not a member, or not the caller's message"),
              (status = 409, description = "recalled, removed, or past chat.edit_window_ms"),
              (status = 413), (status = 422, description = "a link is blocked")),
    security(("bearer" = [])))]
pub async fn edit(
    State(chat): State<Arc<ChatService>>,
    caller: Caller,
    Path((id, seq)): Path<(i64, i64)>,
    Json(req): Json<EditMessage>,
) -> ApiResult<Response> {
    let message = chat.edit(&caller, id, seq, req.body).await?;
    Ok(axum::Json(MessageView::of(&message)).into_response())
}

/// Recalls a message: its sender within `chat.recall_window_ms`, or a
/// group's admin or owner at any time. Its text, links, previews and
/// reactions are deleted; it stays in the history as a placeholder
/// (`recalled`, `recalled_by`) and members get a `recall` event.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/messages/{seq}", tag = "messages",
    params(("id" = i64, Path), ("seq" = i64, Path, description = "the message's position")),
    responses((status = 204, description = "recalled"),
              (status = 404, description = "no such conversation or message, not a member, or someone else's message and not a group admin"),
              (status = 409, description = "already recalled or removed, or past chat.recall_window_ms")),
    security(("bearer" = [])))]
pub async fn recall(
    State(chat): State<Arc<ChatService>>,
    State(files): State<Arc<AttachmentService>>,
    caller: Caller,
    Path((id, seq)): Path<(i64, i64)>,
) -> ApiResult<StatusCode> {
    let message_id = chat.recall(&caller, id, seq).await?;
    // As for an operator's removal: after the recall committed, its files
    // go too (a failure leaves bytes, never the text).
    if let Err(error) = files.message_removed(message_id).await {
        tracing::warn!(%error, message_id, "could not delete a recalled message's attachments");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Adds the caller's reaction (one emoji, percent-encoded in the path);
/// members get a `reaction` event. Adding it again changes nothing.
#[utoipa::path(put, path = "/api/v1/conversations/{id}/messages/{seq}/reactions/{emoji}", tag = "messages",
    params(("id" = i64, Path), ("seq" = i64, Path), ("emoji" = String, Path, description = "exactly one emoji")),
    responses((status = 204, description = "the reaction is there"),
              (status = 400, description = "not exactly one emoji"),
              (status = 404, description = "no such conversation or message, or not a member"),
              (status = 409, description = "the message was recalled or removed")),
    security(("bearer" = [])))]
pub async fn react(
    State(chat): State<Arc<ChatService>>,
    caller: Caller,
    Path((id, seq, emoji)): Path<(i64, i64, String)>,
) -> ApiResult<StatusCode> {
    chat.react(&caller, id, seq, emoji, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes the caller's reaction back; members get a `reaction` event
/// (`on: false`). Taking back one that is not there changes nothing.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/messages/{seq}/reactions/{emoji}", tag = "messages",
    params(("id" = i64, Path), ("seq" = i64, Path), ("emoji" = String, Path, description = "exactly one emoji")),
    responses((status = 204, description = "the reaction is not there"),
              (status = 400, description = "not exactly one emoji"),
              (status = 404, description = "no such conversation or message, or not a member"),
              (status = 409, description = "the message was recalled or removed")),
    security(("bearer" = [])))]
pub async fn unreact(
    State(chat): State<Arc<ChatService>>,
    caller: Caller,
    Path((id, seq, emoji)): Path<(i64, i64, String)>,
) -> ApiResult<StatusCode> {
    chat.react(&caller, id, seq, emoji, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Hides the previews of one of the caller's messages, for every member
/// and for good; members get a `previews_hidden` event and the message
/// reads `previews_hidden: true` from then on. Hiding them again changes
/// nothing.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/messages/{seq}/previews", tag = "messages",
    params(("id" = i64, Path), ("seq" = i64, Path, description = "the message's position")),
    responses((status = 204, description = "the message shows no preview"),
              (status = 404, description = "no such conversation or message, not a member, or not the caller's message"),
              (status = 409, description = "the message was recalled or removed")),
    security(("bearer" = [])))]
pub async fn hide_previews(
    State(chat): State<Arc<ChatService>>,
    caller: Caller,
    Path((id, seq)): Path<(i64, i64)>,
) -> ApiResult<StatusCode> {
    chat.hide_previews(&caller, id, seq).await?;
    Ok(StatusCode::NO_CONTENT)
}
