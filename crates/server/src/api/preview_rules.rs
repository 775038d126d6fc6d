//! `GET`, `POST` and `DELETE /api/v1/admin/preview-rules`: the operator's
//! per-domain preview rules (docs/previews.md, "Per-domain rules").
//! Everyone but administrators gets 404.
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::extract::{Json, Query};
use crate::error::ApiResult;
use crate::service::accounts::Caller;
use crate::service::preview_rules::{PreviewRuleService, RuleListing, RuleView, list_named};

/// A rule on a list.
#[derive(Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RuleRef {
    /// `allow` or `deny`.
    pub list: String,
    /// `example.com` (that host), `*.example.com` (its subdomains, not
    /// itself) or `domain:example.com` (every host of that registrable
    /// domain); case, a trailing dot and Unicode labels are normalised.
    pub rule: String,
}

/// Both lists and the limit.
#[utoipa::path(get, path = "/api/v1/admin/preview-rules", tag = "admin",
    responses((status = 200, body = RuleListing), (status = 401, description = "no valid token"),
              (status = 404, description = "the caller is not an administrator")),
    security(("bearer" = [])))]
pub async fn list(
    State(rules): State<Arc<PreviewRuleService>>,
    caller: Caller,
) -> ApiResult<axum::Json<RuleListing>> {
    Ok(axum::Json(rules.list(&caller).await?))
}

/// Adds a rule to a list (audited, `preview_rules.add`): 201 when added,
/// 200 when it was there already. Every node applies it within
/// `governance.poll_ms`.
#[utoipa::path(post, path = "/api/v1/admin/preview-rules", tag = "admin", request_body = RuleRef,
    responses((status = 201, body = RuleView, description = "added"),
              (status = 200, body = RuleView, description = "already on the list"),
              (status = 400, description = "not a list, or not a domain rule (the detail names the rule)"),
              (status = 401, description = "no valid token"),
              (status = 404, description = "the caller is not an administrator"),
              (status = 409, description = "preview.max_rules rules exist")),
    security(("bearer" = [])))]
pub async fn add(
    State(rules): State<Arc<PreviewRuleService>>,
    caller: Caller,
    Json(req): Json<RuleRef>,
) -> ApiResult<(StatusCode, axum::Json<RuleView>)> {
    let list = list_named(&req.list)?;
    let (view, added) = rules.add(&caller, list, &req.rule).await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(view)))
}

/// Removes a rule from a list (audited, `preview_rules.remove`).
#[utoipa::path(delete, path = "/api/v1/admin/preview-rules", tag = "admin", params(RuleRef),
    responses((status = 204, description = "removed"),
              (status = 400, description = "not a list, or not a domain rule (the detail names the rule)"),
              (status = 401, description = "no valid token"),
              (status = 404, description = "no such rule on that list, or the caller is not an administrator")),
    security(("bearer" = [])))]
pub async fn remove(
    State(rules): State<Arc<PreviewRuleService>>,
    caller: Caller,
    Query(req): Query<RuleRef>,
) -> ApiResult<StatusCode> {
    let list = list_named(&req.list)?;
    rules.remove(&caller, list, &req.rule).await?;
    Ok(StatusCode::NO_CONTENT)
}
