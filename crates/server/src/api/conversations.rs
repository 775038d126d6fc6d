//! `/api/v1/conversations` and their members.
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kaifang_store::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Json, Path};
use crate::error::ApiResult;
use crate::service::accounts::Caller;
use crate::service::chat_state::ChatState;
use crate::service::conversations::Conversations;
use crate::wire::{ConversationView, MessageView};

/// Start a conversation: `{"kind":"direct","with":"bob"}` or
/// `{"kind":"group","title":"…","members":["bob","carol"]}`.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum NewConversation {
    /// A direct conversation with one other person.
    Direct {
        /// The other person's handle.
        with: String,
    },
    /// A group owned by the caller.
    Group {
        /// Title.
        title: String,
        /// Other members' handles.
        #[serde(default)]
        members: Vec<String>,
    },
}

/// A conversation in the caller's list.
#[derive(Serialize, ToSchema)]
pub struct ListedConversation<'a> {
    /// The conversation.
    #[serde(flatten)]
    pub conversation: ConversationView<'a>,
    /// Its newest message, if any. It may be older than `last_seq` when a message landed
    /// while the list was read; that message's event follows on the stream.
    pub last_message: Option<MessageView<'a>>,
    /// The newest message `seq` the caller has read (their read marker).
    pub read_seq: i64,
    /// Messages after the marker that others sent: the unread count.
    pub unread: i64,
    /// Whether the caller muted it.
    pub muted: bool,
}

/// The caller's conversations.
#[derive(Serialize, ToSchema)]
pub struct ConversationList<'a> {
    /// Newest activity first.
    pub conversations: Vec<ListedConversation<'a>>,
}

/// Add a member.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    /// The new member's handle.
    pub handle: String,
}

/// Change a member's role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    /// `admin`, `member`, or `owner` (hands ownership over).
    #[schema(value_type = String)]
    pub role: Role,
}

fn view(status: StatusCode, c: &kaifang_store::Conversation) -> Response {
    (status, axum::Json(ConversationView::of(c))).into_response()
}

/// Starts a direct conversation (200 when it already existed) or a group.
#[utoipa::path(post, path = "/api/v1/conversations", tag = "conversations", request_body = NewConversation,
    responses((status = 201, body = ConversationView), (status = 200, body = ConversationView, description = "the direct conversation already existed"),
              (status = 400), (status = 404, description = "unknown handle")), security(("bearer" = [])))]
pub async fn create(
    State(conversations): State<Arc<Conversations>>,
    caller: Caller,
    Json(req): Json<NewConversation>,
) -> ApiResult<Response> {
    match req {
        NewConversation::Direct { with } => {
            let (c, created) = conversations.open_direct(&caller, &with).await?;
            Ok(view(
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                &c,
            ))
        }
        NewConversation::Group { title, members } => {
            let c = conversations
                .create_group(&caller, &title, &members)
                .await?;
            Ok(view(StatusCode::CREATED, &c))
        }
    }
}

/// Lists the caller's conversations, each with `last_seq`, its newest
/// message, the caller's read marker, unread count and mute.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations",
    responses((status = 200, body = ConversationList)), security(("bearer" = [])))]
pub async fn list(
    State(conversations): State<Arc<Conversations>>,
    State(chat): State<Arc<ChatState>>,
    caller: Caller,
) -> ApiResult<Response> {
    let all = conversations.list(&caller).await?;
    let markers = chat.markers(&caller).await?;
    let listed = all
        .iter()
        .map(|s| {
            // A conversation joined between the two reads has no marker
            // yet: nothing read, and everything in it unread.
            let m = markers.get(&s.conversation.id);
            let mut conversation = ConversationView::of(&s.conversation);
            // The marker was read after the conversation, its unread count and `last_seq` in
            // one statement. A message that landed between the two reads is in that count, so
            // `last_seq` must say so too: a client counts only messages after `last_seq` as
            // new unread ones, and would count that one twice.
            if let Some(m) = m {
                conversation.last_seq = conversation.last_seq.max(m.last_seq);
            }
            ListedConversation {
                conversation,
                last_message: s.last_message.as_ref().map(MessageView::of),
                read_seq: m.map_or(0, |m| m.read_seq),
                unread: m.map_or(s.conversation.last_seq, |m| m.unread),
                muted: m.is_some_and(|m| m.muted),
            }
        })
        .collect();
    Ok(axum::Json(ConversationList {
        conversations: listed,
    })
    .into_response())
}

/// One conversation the caller belongs to.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations",
    params(("id" = i64, Path)), responses((status = 200, body = ConversationView), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    State(conversations): State<Arc<Conversations>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let c = conversations.get(&caller, id).await?;
    Ok(view(StatusCode::OK, &c))
}

/// Adds a member (group admins and owner).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/members", tag = "conversations", request_body = AddMember,
    params(("id" = i64, Path)), responses((status = 201, body = ConversationView), (status = 403), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn add_member(
    State(conversations): State<Arc<Conversations>>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<AddMember>,
) -> ApiResult<Response> {
    let c = conversations.add_member(&caller, id, &req.handle).await?;
    Ok(view(StatusCode::CREATED, &c))
}

/// Removes a member; with one's own handle, leaves.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/members/{handle}", tag = "conversations",
    params(("id" = i64, Path), ("handle" = String, Path)), responses((status = 204), (status = 403), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn remove_member(
    State(conversations): State<Arc<Conversations>>,
    caller: Caller,
    Path((id, handle)): Path<(i64, String)>,
) -> ApiResult<StatusCode> {
    conversations.remove_member(&caller, id, &handle).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes a member's role (owner only); `owner` hands ownership over.
#[utoipa::path(patch, path = "/api/v1/conversations/{id}/members/{handle}", tag = "conversations", request_body = ChangeRole,
    params(("id" = i64, Path), ("handle" = String, Path)), responses((status = 200, body = ConversationView), (status = 403), (status = 404), (status = 409, description = "the owner's role changes only by an ownership transfer")), security(("bearer" = [])))]
pub async fn change_role(
    State(conversations): State<Arc<Conversations>>,
    caller: Caller,
    Path((id, handle)): Path<(i64, String)>,
    Json(req): Json<ChangeRole>,
) -> ApiResult<Response> {
    let c = conversations
        .set_role(&caller, id, &handle, req.role)
        .await?;
    Ok(view(StatusCode::OK, &c))
}
