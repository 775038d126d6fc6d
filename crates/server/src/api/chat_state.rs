//! A member's chat state: `PUT /api/v1/conversations/{id}/read`,
//! `PUT`/`DELETE /api/v1/conversations/{id}/mute`,
//! `POST /api/v1/conversations/{id}/typing` and
//! `GET`/`PUT /api/v1/me/read-receipts`.
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use kaifang_store::ReadMarker;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Json, Path};
use crate::error::ApiResult;
use crate::service::accounts::Caller;
use crate::service::chat_state::ChatState;

/// Where the caller has read to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// The `seq` of the newest message read; a smaller one than the
    /// marker's changes nothing, a larger one than the newest message is
    /// taken as the newest.
    #[schema(minimum = 0)]
    pub seq: i64,
}

/// The caller's state in a conversation.
#[derive(Serialize, ToSchema)]
pub struct MemberState {
    /// The conversation.
    pub conversation_id: i64,
    /// The newest message `seq` the caller has read.
    pub read_seq: i64,
    /// Messages after it that others sent (removed ones not counted).
    pub unread: i64,
    /// Whether the caller muted the conversation.
    pub muted: bool,
}

impl From<ReadMarker> for MemberState {
    fn from(m: ReadMarker) -> Self {
        Self {
            conversation_id: m.conversation_id,
            read_seq: m.read_seq,
            unread: m.unread,
            muted: m.muted,
        }
    }
}

/// Read receipts (direct chats): sent, and so seen, only when both members
/// have them on.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadReceipts {
    /// On or off (off by default).
    pub enabled: bool,
}

/// Moves the caller's read marker forward (never backwards); the caller's
/// other devices get a `read` event, and the other member of a direct chat
/// a `receipt` event when both have read receipts on.
#[utoipa::path(put, path = "/api/v1/conversations/{id}/read", tag = "chat state", request_body = MarkRead,
    params(("id" = i64, Path)),
    responses((status = 200, body = MemberState), (status = 400, description = "negative seq"),
              (status = 404, description = "no such conversation, or not a member")), security(("bearer" = [])))]
pub async fn mark_read(
    State(chat): State<Arc<ChatState>>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<MarkRead>,
) -> ApiResult<axum::Json<MemberState>> {
    let marker = chat.mark_read(&caller, id, req.seq).await?;
    Ok(axum::Json(marker.into()))
}

/// Mutes the conversation for the caller (their devices get a `mute` event).
#[utoipa::path(put, path = "/api/v1/conversations/{id}/mute", tag = "chat state",
    params(("id" = i64, Path)),
    responses((status = 200, body = MemberState), (status = 404, description = "no such conversation, or not a member")), security(("bearer" = [])))]
pub async fn mute(
    State(chat): State<Arc<ChatState>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<MemberState>> {
    Ok(axum::Json(chat.set_muted(&caller, id, true).await?.into()))
}

/// Unmutes the conversation for the caller.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/mute", tag = "chat state",
    params(("id" = i64, Path)),
    responses((status = 200, body = MemberState), (status = 404, description = "no such conversation, or not a member")), security(("bearer" = [])))]
pub async fn unmute(
    State(chat): State<Arc<ChatState>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<MemberState>> {
    Ok(axum::Json(chat.set_muted(&caller, id, false).await?.into()))
}

/// Tells the other member of a direct chat that the caller is typing (a
/// `typing` event, never stored). At most one per
/// `chat.typing_min_interval_ms` is relayed; the others are answered 204
/// all the same and dropped.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/typing", tag = "chat state",
    params(("id" = i64, Path)),
    responses((status = 204, description = "relayed, or dropped as too soon after the last"),
              (status = 404, description = "no such conversation, or not a member"),
              (status = 422, description = "a group: typing indicators are for direct chats")), security(("bearer" = [])))]
pub async fn typing(
    State(chat): State<Arc<ChatState>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    chat.typing(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the caller sends (and sees) read receipts.
#[utoipa::path(get, path = "/api/v1/me/read-receipts", tag = "chat state",
    responses((status = 200, body = ReadReceipts)), security(("bearer" = [])))]
pub async fn read_receipts(
    State(chat): State<Arc<ChatState>>,
    caller: Caller,
) -> ApiResult<axum::Json<ReadReceipts>> {
    let enabled = chat.read_receipts(&caller).await?;
    Ok(axum::Json(ReadReceipts { enabled }))
}

/// Turns the caller's read receipts on or off.
#[utoipa::path(put, path = "/api/v1/me/read-receipts", tag = "chat state", request_body = ReadReceipts,
    responses((status = 200, body = ReadReceipts)), security(("bearer" = [])))]
pub async fn set_read_receipts(
    State(chat): State<Arc<ChatState>>,
    caller: Caller,
    Json(req): Json<ReadReceipts>,
) -> ApiResult<axum::Json<ReadReceipts>> {
    chat.set_read_receipts(&caller, req.enabled).await?;
    Ok(axum::Json(req))
}
