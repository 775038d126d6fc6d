//! People: `GET /api/v1/users` (the directory), `PATCH /api/v1/me` and
//! `GET /api/v1/me/profile`.
use std::sync::Arc;

use axum::extract::State;
use kaifang_store::{Profile, avatar_tag};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Json, Query};
use crate::error::ApiResult;
use crate::service::accounts::Caller;
use crate::service::people::{Edit, PeopleService};

/// Who to look for.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    /// The start of a handle (a leading `@` is ignored), or any part of a
    /// display name; ASCII letters match either case. 1 to
    /// `directory.max_query_chars` characters after trimming.
    pub q: String,
}

/// One person found.
#[derive(Serialize, ToSchema)]
pub struct UserHit {
    /// Handle.
    pub handle: String,
    /// Display name.
    pub display_name: String,
    /// The avatar's tag, or null: the avatar is at
    /// `/api/v1/users/{handle}/avatar?v={tag}`.
    pub avatar: Option<String>,
}

/// People found.
#[derive(Serialize, ToSchema)]
pub struct UserHits {
    /// The exact handle first, then handles starting with the query, then
    /// display names containing it; at most `directory.max_results`.
    pub users: Vec<UserHit>,
}

/// The caller's own profile.
#[derive(Serialize, ToSchema)]
pub struct ProfileView {
    /// Handle (never changes).
    pub handle: String,
    /// Display name.
    pub display_name: String,
    /// Whether the directory finds the caller by a part of their handle or
    /// name (default true); when false, only the exact handle does.
    pub discoverable: bool,
    /// The avatar's tag, or null (see `PUT /api/v1/me/avatar`).
    pub avatar: Option<String>,
}

impl From<Profile> for ProfileView {
    fn from(p: Profile) -> Self {
        Self {
            handle: p.handle,
            display_name: p.display_name,
            discoverable: p.discoverable,
            avatar: p.avatar.as_ref().map(avatar_tag),
        }
    }
}

/// What to change; absent fields stay.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileEditRequest {
    /// 1 to `limits.max_display_name_chars` characters, no control
    /// characters (trimmed).
    pub display_name: Option<String>,
    /// Whether partial matches find the caller.
    pub discoverable: Option<bool>,
}

/// Looks people up by handle prefix or display name. Users who turned
/// `discoverable` off are found only by their exact handle; suspended
/// accounts never.
#[utoipa::path(get, path = "/api/v1/users", tag = "people", params(UserQuery),
    responses((status = 200, body = UserHits),
              (status = 400, description = "empty query, one longer than directory.max_query_chars or with control characters"),
              (status = 401, description = "no valid token"),
              (status = 429, description = "more than directory.lookups_per_second")),
    security(("bearer" = [])))]
pub async fn find(
    State(people): State<Arc<PeopleService>>,
    caller: Caller,
    Query(p): Query<UserQuery>,
) -> ApiResult<axum::Json<UserHits>> {
    let users = people
        .find(&caller, &p.q)
        .await?
        .into_iter()
        .map(|p| UserHit {
            avatar: p.avatar.as_ref().map(avatar_tag),
            handle: p.handle,
            display_name: p.display_name,
        })
        .collect();
    Ok(axum::Json(UserHits { users }))
}

/// The caller's profile, with the discoverable flag.
#[utoipa::path(get, path = "/api/v1/me/profile", tag = "people",
    responses((status = 200, body = ProfileView), (status = 401, description = "no valid token")),
    security(("bearer" = [])))]
pub async fn profile(
    State(people): State<Arc<PeopleService>>,
    caller: Caller,
) -> ApiResult<axum::Json<ProfileView>> {
    Ok(axum::Json(people.profile(&caller).await?.into()))
}

/// Changes the caller's display name or discoverable flag. Others see the
/// new name in the member lists they read next.
#[utoipa::path(patch, path = "/api/v1/me", tag = "people", request_body = ProfileEditRequest,
    responses((status = 200, body = ProfileView),
              (status = 400, description = "display name empty, longer than limits.max_display_name_chars or with control characters; unknown field"),
              (status = 401, description = "no valid token")),
    security(("bearer" = [])))]
pub async fn edit(
    State(people): State<Arc<PeopleService>>,
    caller: Caller,
    Json(req): Json<ProfileEditRequest>,
) -> ApiResult<axum::Json<ProfileView>> {
    let edit = Edit {
        display_name: req.display_name,
        discoverable: req.discoverable,
    };
    Ok(axum::Json(people.edit(&caller, edit).await?.into()))
}
