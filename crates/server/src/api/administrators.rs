//! `PUT` and `DELETE /api/v1/admin/administrators/{handle}`: grant and
//! revoke the operator administrator role. Everyone but administrators
//! gets 404.
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::Path;
use crate::error::ApiResult;
use crate::service::accounts::Caller;
use crate::service::admins::Admins;

/// An account's administrator role.
#[derive(Serialize, ToSchema)]
pub struct Administrator {
    /// The account's id.
    pub user_id: i64,
    /// Its handle.
    pub handle: String,
    /// Whether it is an operator administrator now.
    pub is_admin: bool,
}

/// Makes an account an operator administrator (idempotent; audited).
#[utoipa::path(put, path = "/api/v1/admin/administrators/{handle}", tag = "admin",
    params(("handle" = String, Path, description = "the account's handle")),
    responses((status = 200, body = Administrator), (status = 401, description = "no valid token"),
              (status = 404, description = "no such account, or the caller is not an administrator"),
              (status = 429, description = "too many requests",
               headers(("Retry-After" = u64, description = "seconds to wait")))),
    security(("bearer" = [])))]
pub async fn grant(
    State(admins): State<Arc<Admins>>,
    caller: Caller,
    Path(handle): Path<String>,
) -> ApiResult<axum::Json<Administrator>> {
    let user = admins.grant(&caller, &handle).await?;
    Ok(axum::Json(Administrator {
        user_id: user.id,
        handle: user.handle,
        is_admin: user.is_admin,
    }))
}

/// Takes the operator administrator role from an account (idempotent;
/// audited). Takes effect at that account's next request.
#[utoipa::path(delete, path = "/api/v1/admin/administrators/{handle}", tag = "admin",
    params(("handle" = String, Path, description = "the account's handle")),
    responses((status = 204, description = "the account is not an administrator"),
              (status = 401, description = "no valid token"),
              (status = 404, description = "no such account, or the caller is not an administrator"),
              (status = 409, description = "it is the last administrator"),
              (status = 429, description = "too many requests",
               headers(("Retry-After" = u64, description = "seconds to wait")))),
    security(("bearer" = [])))]
pub async fn revoke(
    State(admins): State<Arc<Admins>>,
    caller: Caller,
    Path(handle): Path<String>,
) -> ApiResult<StatusCode> {
    admins.revoke(&caller, &handle).await?;
    Ok(StatusCode::NO_CONTENT)
}
