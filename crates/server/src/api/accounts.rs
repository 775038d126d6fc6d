//! `POST /api/v1/accounts`, `POST /api/v1/sessions`, `DELETE /api/v1/sessions/current`, `GET /api/v1/me`,
//! `POST /api/v1/account/password-reset`.
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ClientAddr, Json};
use crate::AppState;
use crate::error::ApiResult;
use crate::service::accounts::{Accounts, Caller};

/// Sign-up request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    /// 3–32 characters among `a-z`, `0-9`, `_`.
    pub handle: String,
    /// At least 8 characters.
    pub password: String,
    /// Any Unicode, length-capped; defaults to the handle.
    pub display_name: Option<String>,
    /// An invite code from an administrator: required when the server's
    /// `auth.registration` is `invite`, ignored when it is `open`.
    pub invite: Option<String>,
}

/// Redeeming a password-reset code.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// The one-time code an administrator gave.
    pub code: String,
    /// The new password.
    pub password: String,
}

/// A new account.
#[derive(Serialize, ToSchema)]
pub struct SignedUp {
    /// The account's id.
    pub user_id: i64,
    /// Its handle.
    pub handle: String,
}

/// Sign-in request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// Handle.
    pub handle: String,
    /// Password.
    pub password: String,
}

/// A new session.
#[derive(Serialize, ToSchema)]
pub struct Session {
    /// Bearer token: send as `Authorization: Bearer <token>`.
    pub token: String,
    /// The signed-in account.
    pub user_id: i64,
}

/// The caller's account.
#[derive(Serialize, ToSchema)]
pub struct Me {
    /// Id.
    pub user_id: i64,
    /// Handle.
    pub handle: String,
    /// Display name.
    pub display_name: String,
    /// Operator administrator.
    pub is_admin: bool,
    /// Moderates link complaints (administrators always do).
    pub is_moderator: bool,
}

/// Creates an account.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = SignUp,
    responses((status = 201, body = SignedUp), (status = 400, description = "invalid handle, password or name"),
              (status = 403, description = "sign-ups are closed, or need an invite code, or the invite code is not valid, has expired or is used up (the detail says which)"),
              (status = 409, description = "handle taken"),
              (status = 429, description = "too many sign-ups from this address",
               headers(("Retry-After" = u64, description = "seconds to wait"))),
              (status = 503, description = "too many passwords being checked at once",
               headers(("Retry-After" = u64, description = "seconds to wait")))))]
pub async fn sign_up(
    State(state): State<AppState>,
    ClientAddr(from): ClientAddr,
    Json(req): Json<SignUp>,
) -> ApiResult<impl IntoResponse> {
    let max_name = state.settings.limits.max_display_name_chars;
    let user = state
        .accounts
        .sign_up(
            &req.handle,
            &req.password,
            req.display_name.as_deref(),
            req.invite.as_deref(),
            max_name,
            from,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(SignedUp {
            user_id: user.id,
            handle: user.handle,
        }),
    ))
}

/// Sets a new password with a one-time code from an administrator. Every
/// session of the account ends (tokens refused, streams closed with 4001).
#[utoipa::path(post, path = "/api/v1/account/password-reset", tag = "accounts", request_body = PasswordReset,
    responses((status = 204, description = "the password is changed; sign in with it"),
              (status = 400, description = "the new password is too short or too long"),
              (status = 403, description = "the code is not valid, has expired or has been used (the detail says which)"),
              (status = 429, description = "too many attempts from this address",
               headers(("Retry-After" = u64, description = "seconds to wait"))),
              (status = 503, description = "too many passwords being hashed at once",
               headers(("Retry-After" = u64, description = "seconds to wait")))))]
pub async fn reset_password(
    State(state): State<AppState>,
    ClientAddr(from): ClientAddr,
    Json(req): Json<PasswordReset>,
) -> ApiResult<StatusCode> {
    let (user, sessions) = state
        .accounts
        .redeem_password_reset(&req.code, &req.password, from)
        .await?;
    for session in sessions {
        state.events.end_session(user.id, session);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Signs in and returns a bearer token.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "accounts", request_body = SignIn,
    responses((status = 201, body = Session), (status = 401, description = "wrong handle or password"),
              (status = 403, description = "the account is suspended"),
              (status = 429, description = "back-off after failed sign-ins for this handle or address",
               headers(("Retry-After" = u64, description = "seconds to wait"))),
              (status = 503, description = "too many passwords being checked at once",
               headers(("Retry-After" = u64, description = "seconds to wait")))))]
pub async fn sign_in(
    State(accounts): State<Arc<Accounts>>,
    ClientAddr(from): ClientAddr,
    Json(req): Json<SignIn>,
) -> ApiResult<impl IntoResponse> {
    let (token, user_id) = accounts.sign_in(&req.handle, &req.password, from).await?;
    Ok((StatusCode::CREATED, axum::Json(Session { token, user_id })))
}

/// Revokes the token used for this request and closes the streams opened
/// with it (WebSockets with close code 4001; long polls answer 401).
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "accounts",
    responses((status = 204), (status = 401)), security(("bearer" = [])))]
pub async fn sign_out(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    state.accounts.sign_out(&caller).await?;
    state.events.end_session(caller.user_id, caller.token_hash);
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts",
    responses((status = 200, body = Me), (status = 401)), security(("bearer" = [])))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::Json<Me>> {
    let user = state.accounts.me(&caller).await?;
    let is_moderator = state.moderation.can_moderate(user.id).await?;
    Ok(axum::Json(Me {
        is_moderator,
        user_id: user.id,
        handle: user.handle,
        display_name: user.display_name,
        is_admin: user.is_admin,
    }))
}
