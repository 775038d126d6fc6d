//! `PUT`/`DELETE /api/v1/me/avatar` and `GET /api/v1/users/{handle}/avatar`.
//!
//! An avatar is uploaded as an attachment is: the raw image as the body,
//! capped while it streams in, its type sniffed from the bytes.
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;

use super::attachments::{FileBytes, inert, read_capped};
use super::extract::Path;
use super::people::ProfileView;
use crate::error::ApiResult;
use crate::service::accounts::Caller;
use crate::service::attachments::AttachmentService;

/// Sets the caller's avatar: a PNG, JPEG, GIF or WebP image, cut to its
/// centred square of at most `attachments.avatar_side` pixels and
/// re-encoded without metadata. The profile's `avatar` tag changes.
#[utoipa::path(put, path = "/api/v1/me/avatar", tag = "people",
    request_body(content = FileBytes, content_type = "application/octet-stream", description = "the image's bytes; the type is sniffed from them"),
    responses((status = 200, body = ProfileView),
              (status = 400, description = "not a PNG, JPEG, GIF or WebP image, or one that cannot be read"),
              (status = 401, description = "no valid token"),
              (status = 413, description = "over `attachments.max_avatar_bytes`, or an image over `attachments.max_image_pixels`")),
    security(("bearer" = [])))]
pub async fn set(
    State(files): State<Arc<AttachmentService>>,
    caller: Caller,
    body: Body,
) -> ApiResult<axum::Json<ProfileView>> {
    let cap = files.max_avatar_bytes();
    let bytes = read_capped(body, cap, "attachments.max_avatar_bytes").await?;
    Ok(axum::Json(files.set_avatar(&caller, bytes).await?.into()))
}

/// Removes the caller's avatar (also when there is none).
#[utoipa::path(delete, path = "/api/v1/me/avatar", tag = "people",
    responses((status = 200, body = ProfileView), (status = 401, description = "no valid token")),
    security(("bearer" = [])))]
pub async fn clear(
    State(files): State<Arc<AttachmentService>>,
    caller: Caller,
) -> ApiResult<axum::Json<ProfileView>> {
    Ok(axum::Json(files.clear_avatar(&caller).await?.into()))
}

/// A user's avatar, for any signed-in user. Member lists, the directory
/// and profiles carry its `avatar` tag: put it in `?v=` so that a new
/// avatar is never served from a cache.
#[utoipa::path(get, path = "/api/v1/users/{handle}/avatar", tag = "people",
    params(("handle" = String, Path), ("v" = Option<String>, Query, description = "the avatar tag, only to tell caches apart")),
    responses((status = 200, description = "a square PNG, or JPEG for a photo"),
              (status = 401, description = "no valid token"),
              (status = 404, description = "no such user, or no avatar")),
    security(("bearer" = [])))]
pub async fn get(
    State(files): State<Arc<AttachmentService>>,
    _caller: Caller,
    Path(handle): Path<String>,
) -> ApiResult<Response> {
    let image = files.avatar(&handle).await?;
    // A day: the address changes with the avatar (`?v=`).
    Ok(inert(
        image.bytes,
        image.content_type,
        "private, max-age=86400",
    ))
}
