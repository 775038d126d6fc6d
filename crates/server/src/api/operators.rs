//! `/api/v1/admin/invites`, `/api/v1/admin/users` and
//! `/api/v1/admin/messages`: invite codes, the account list, suspension,
//! password-reset codes and removing messages. Everyone but operator
//! administrators gets 404.
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use kaifang_store::{Account, Invite};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Json, Path, Query};
use crate::error::ApiResult;
use crate::service::accounts::Caller;
use crate::service::admins::Admins;
use crate::service::attachments::AttachmentService;

/// An invite code to make.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NewInvite {
    /// How many accounts it may create (default 1; at most `auth.invite_max_uses`).
    pub max_uses: Option<u32>,
    /// How long it is valid, seconds (default `auth.invite_default_seconds`;
    /// at most `auth.invite_max_seconds`).
    pub valid_seconds: Option<u64>,
}

/// An invite code's record; the code itself is shown only once, at creation.
#[derive(Serialize, ToSchema)]
pub struct InviteView {
    /// Invite id (to revoke it).
    pub id: i64,
    /// Who made it.
    pub created_by: String,
    /// When, Unix ms.
    pub created_at: i64,
    /// From when it is refused, Unix ms.
    pub expires_at: i64,
    /// Accounts it may create.
    pub max_uses: i64,
    /// Accounts it has created.
    pub uses: i64,
    /// When it was revoked, Unix ms.
    pub revoked_at: Option<i64>,
}

impl From<Invite> for InviteView {
    fn from(i: Invite) -> Self {
        Self {
            id: i.id,
            created_by: i.created_by,
            created_at: i.created_at,
            expires_at: i.expires_at,
            max_uses: i.max_uses,
            uses: i.uses,
            revoked_at: i.revoked_at,
        }
    }
}

/// A new invite code.
#[derive(Serialize, ToSchema)]
pub struct CreatedInvite {
    /// The code to hand over (shown once: only its digest is kept).
    pub code: String,
    /// Its record.
    pub invite: InviteView,
}

/// Every invite, newest first.
#[derive(Serialize, ToSchema)]
pub struct InviteList {
    /// The invites.
    pub invites: Vec<InviteView>,
}

/// An account as operators see it.
#[derive(Serialize, ToSchema)]
pub struct AccountView {
    /// Id.
    pub user_id: i64,
    /// Handle.
    pub handle: String,
    /// Display name.
    pub display_name: String,
    /// Operator administrator.
    pub is_admin: bool,
    /// Suspended: cannot sign in.
    pub suspended: bool,
    /// Since when, Unix ms.
    pub suspended_at: Option<i64>,
    /// Created, Unix ms.
    pub created_at: i64,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        Self {
            user_id: a.user.id,
            handle: a.user.handle,
            display_name: a.user.display_name,
            is_admin: a.user.is_admin,
            suspended: a.suspended_at.is_some(),
            suspended_at: a.suspended_at,
            created_at: a.user.created_at,
        }
    }
}

/// One page of accounts, by id.
#[derive(Serialize, ToSchema)]
pub struct AccountPage {
    /// The accounts.
    pub users: Vec<AccountView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<i64>,
}

/// Which page.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Accounts with a greater id (default: from the first).
    pub after: Option<i64>,
    /// How many (default 50; at most `limits.max_users_page`).
    pub limit: Option<u32>,
}

/// A one-time password-reset code.
#[derive(Serialize, ToSchema)]
pub struct ResetCode {
    /// Whose password it resets.
    pub handle: String,
    /// The code to hand to its owner (shown once).
    pub code: String,
    /// From when it is refused, Unix ms.
    pub expires_at: i64,
}

/// Makes an invite code (audited). With `auth.registration = "invite"`,
/// sign-ups must give one.
#[utoipa::path(post, path = "/api/v1/admin/invites", tag = "admin", request_body = NewInvite,
    responses((status = 201, body = CreatedInvite), (status = 400, description = "uses or validity out of range"),
              (status = 404, description = "not an administrator")),
    security(("bearer" = [])))]
pub async fn create_invite(
    State(admins): State<Arc<Admins>>,
    caller: Caller,
    Json(req): Json<NewInvite>,
) -> ApiResult<(StatusCode, axum::Json<CreatedInvite>)> {
    let made = admins
        .create_invite(&caller, req.max_uses, req.valid_seconds)
        .await?;
    let body = CreatedInvite {
        code: made.code,
        invite: made.record.into(),
    };
    Ok((StatusCode::CREATED, axum::Json(body)))
}

/// Every invite, newest first, without codes.
#[utoipa::path(get, path = "/api/v1/admin/invites", tag = "admin",
    responses((status = 200, body = InviteList), (status = 404, description = "not an administrator")),
    security(("bearer" = [])))]
pub async fn invites(
    State(admins): State<Arc<Admins>>,
    caller: Caller,
) -> ApiResult<axum::Json<InviteList>> {
    let invites = admins.invites(&caller).await?;
    Ok(axum::Json(InviteList {
        invites: invites.into_iter().map(Into::into).collect(),
    }))
}

/// Revokes an invite code (idempotent; audited): it creates no more accounts.
#[utoipa::path(delete, path = "/api/v1/admin/invites/{id}", tag = "admin",
    params(("id" = i64, Path, description = "the invite's id")),
    responses((status = 204, description = "revoked"),
              (status = 404, description = "no such invite, or not an administrator")),
    security(("bearer" = [])))]
pub async fn revoke_invite(
    State(admins): State<Arc<Admins>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    admins.revoke_invite(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accounts by id, a page at a time, with their administrator and
/// suspended flags.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", params(PageQuery),
    responses((status = 200, body = AccountPage), (status = 400, description = "limit out of range"),
              (status = 404, description = "not an administrator")),
    security(("bearer" = [])))]
pub async fn users(
    State(admins): State<Arc<Admins>>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> ApiResult<axum::Json<AccountPage>> {
    let page = admins.accounts(&caller, q.after, q.limit).await?;
    Ok(axum::Json(AccountPage {
        users: page.accounts.into_iter().map(Into::into).collect(),
        next_after: page.next_after,
    }))
}

/// Suspends an account (idempotent; audited): its tokens stop working and
/// its open streams close with code 4001 at once; signing in is refused
/// with 403 until it is restored.
#[utoipa::path(put, path = "/api/v1/admin/users/{handle}/suspension", tag = "admin",
    params(("handle" = String, Path, description = "the account's handle")),
    responses((status = 200, body = AccountView),
              (status = 404, description = "no such account, or not an administrator"),
              (status = 409, description = "an administrator: revoke the role first")),
    security(("bearer" = [])))]
pub async fn suspend(
    State(admins): State<Arc<Admins>>,
    caller: Caller,
    Path(handle): Path<String>,
) -> ApiResult<axum::Json<AccountView>> {
    Ok(axum::Json(admins.suspend(&caller, &handle).await?.into()))
}

/// Restores a suspended account (idempotent; audited): it may sign in
/// again; the sessions the suspension ended stay ended.
#[utoipa::path(delete, path = "/api/v1/admin/users/{handle}/suspension", tag = "admin",
    params(("handle" = String, Path, description = "the account's handle")),
    responses((status = 200, body = AccountView),
              (status = 404, description = "no such account, or not an administrator")),
    security(("bearer" = [])))]
pub async fn restore(
    State(admins): State<Arc<Admins>>,
    caller: Caller,
    Path(handle): Path<String>,
) -> ApiResult<axum::Json<AccountView>> {
    Ok(axum::Json(admins.restore(&caller, &handle).await?.into()))
}

/// A removed message.
#[derive(Serialize, ToSchema)]
pub struct RemovedMessage {
    /// The message.
    pub message_id: i64,
    /// Its conversation.
    pub conversation_id: i64,
    /// Its position there (it keeps it, as a placeholder).
    pub seq: i64,
}

/// Removes a message (audited): its text, links, previews and attachments
/// are deleted from the store (an attachment's bytes too, unless another
/// message carries the same bytes); it stays in the history as a
/// placeholder (`removed`), and the conversation's members get a
/// `removal` event.
#[utoipa::path(delete, path = "/api/v1/admin/messages/{id}", tag = "admin",
    params(("id" = i64, Path, description = "the message's id")),
    responses((status = 200, body = RemovedMessage),
              (status = 404, description = "no such message, or not an administrator"),
              (status = 409, description = "already removed")),
    security(("bearer" = [])))]
pub async fn remove_message(
    State(admins): State<Arc<Admins>>,
    State(files): State<Arc<AttachmentService>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<RemovedMessage>> {
    let (conversation_id, seq) = admins.remove_message(&caller, id).await?;
    // After the removal is committed (it is what the caller asked for and
    // already happened): a failure here leaves bytes, not the message.
    if let Err(error) = files.message_removed(id).await {
        tracing::warn!(%error, message_id = id, "could not delete a removed message's attachments");
    }
    Ok(axum::Json(RemovedMessage {
        message_id: id,
        conversation_id,
        seq,
    }))
}

/// Makes a one-time password-reset code for an account (audited, without
/// the code), valid for `auth.password_reset_seconds`; an earlier unused
/// code for it stops working. Its owner redeems it at
/// `POST /api/v1/account/password-reset`.
#[utoipa::path(post, path = "/api/v1/admin/users/{handle}/password-reset", tag = "admin",
    params(("handle" = String, Path, description = "the account's handle")),
    responses((status = 201, body = ResetCode),
              (status = 404, description = "no such account, or not an administrator")),
    security(("bearer" = [])))]
pub async fn reset_password(
    State(admins): State<Arc<Admins>>,
    caller: Caller,
    Path(handle): Path<String>,
) -> ApiResult<(StatusCode, axum::Json<ResetCode>)> {
    let made = admins.reset_password(&caller, &handle).await?;
    let body = ResetCode {
        handle: made.record.handle,
        code: made.code,
        expires_at: made.expires_at,
    };
    Ok((StatusCode::CREATED, axum::Json(body)))
}
