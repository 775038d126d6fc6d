//! `/api/v1/admin/…`: policy versions, scheduling, reports, fairness,
//! replay, audit. Everyone but operator administrators gets 404.
use std::sync::Arc;

use axum::Json as JsonBody;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use kaifang_policy::FairnessReport;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::extract::{Json, Path, Query};
use crate::error::{ApiError, ApiResult};
use crate::service::accounts::Caller;
use crate::service::governance::{
    ActivationView, AuditLog, Diff, GovernanceService, PolicyHistory, Replay, Report, VersionView,
    now_ms,
};

/// A policy to propose.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Propose {
    /// Cedar text.
    pub text: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
}

/// When to activate.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Activate {
    /// RFC 3339 instant; omitted: now.
    pub at: Option<String>,
}

/// Roll back to a version.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// The version to put back in force.
    pub to: i64,
}

/// A candidate policy.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// Cedar text.
    pub text: String,
    /// Range start, RFC 3339 (replay; default 30 days ago).
    pub from: Option<String>,
    /// Range end, RFC 3339 (replay; default now).
    pub to: Option<String>,
}

/// Two versions.
#[derive(Deserialize, IntoParams)]
pub struct DiffQuery {
    /// Older version.
    pub from: i64,
    /// Newer version.
    pub to: i64,
}

/// A time range and a format.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// RFC 3339 (default 30 days before `to`).
    pub from: Option<String>,
    /// RFC 3339 (default now).
    pub to: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

fn instant(text: Option<&str>, default: i64) -> ApiResult<i64> {
    match text {
        None => Ok(default),
        Some(t) => time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
            .map_err(|e| ApiError::bad_request(format!("{t:?} is not an RFC 3339 instant: {e}"))),
    }
}

fn range(from: Option<&str>, to: Option<&str>) -> ApiResult<(i64, i64)> {
    let to = instant(to, now_ms() + 1)?;
    let from = instant(from, to - 30 * 86_400_000)?;
    Ok((from, to))
}

/// Proposes a version (validated; not yet in force).
#[utoipa::path(post, path = "/api/v1/admin/policies", tag = "admin", request_body = Propose,
    responses((status = 201, body = VersionView), (status = 404, description = "not an admin"), (status = 422, description = "invalid policy, with Cedar's message")), security(("bearer" = [])))]
pub async fn propose(
    State(g): State<Arc<GovernanceService>>,
    caller: Caller,
    Json(req): Json<Propose>,
) -> ApiResult<(StatusCode, JsonBody<VersionView>)> {
    let v = g.propose(&caller, &req.text, &req.comment).await?;
    Ok((StatusCode::CREATED, JsonBody(v)))
}

/// Versions, activations and the version in force.
#[utoipa::path(get, path = "/api/v1/admin/policies", tag = "admin", responses((status = 200, body = PolicyHistory), (status = 404)), security(("bearer" = [])))]
pub async fn history(
    State(g): State<Arc<GovernanceService>>,
    caller: Caller,
) -> ApiResult<JsonBody<PolicyHistory>> {
    Ok(JsonBody(g.history(&caller).await?))
}

/// One version (0: the start-up policy).
#[utoipa::path(get, path = "/api/v1/admin/policies/{id}", tag = "admin", params(("id" = i64, Path)), responses((status = 200, body = VersionView), (status = 404)), security(("bearer" = [])))]
pub async fn version(
    State(g): State<Arc<GovernanceService>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<JsonBody<VersionView>> {
    Ok(JsonBody(g.version(&caller, id).await?))
}

/// A line diff between two versions.
#[utoipa::path(get, path = "/api/v1/admin/policies/diff", tag = "admin", params(DiffQuery), responses((status = 200, body = Diff), (status = 404)), security(("bearer" = [])))]
pub async fn diff(
    State(g): State<Arc<GovernanceService>>,
    caller: Caller,
    Query(q): Query<DiffQuery>,
) -> ApiResult<JsonBody<Diff>> {
    Ok(JsonBody(g.diff(&caller, q.from, q.to).await?))
}

/// Schedules a version (now, or at a future instant).
#[utoipa::path(post, path = "/api/v1/admin/policies/{id}/activate", tag = "admin", params(("id" = i64, Path)), request_body = Activate,
    responses((status = 201, body = ActivationView), (status = 400, description = "malformed or past instant"), (status = 404)), security(("bearer" = [])))]
pub async fn activate(
    State(g): State<Arc<GovernanceService>>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<Activate>,
) -> ApiResult<(StatusCode, JsonBody<ActivationView>)> {
    let a = g.activate(&caller, id, req.at.as_deref()).await?;
    Ok((StatusCode::CREATED, JsonBody(a)))
}

/// Puts an earlier version back in force now.
#[utoipa::path(post, path = "/api/v1/admin/policies/rollback", tag = "admin", request_body = Rollback, responses((status = 201, body = ActivationView), (status = 404)), security(("bearer" = [])))]
pub async fn rollback(
    State(g): State<Arc<GovernanceService>>,
    caller: Caller,
    Json(req): Json<Rollback>,
) -> ApiResult<(StatusCode, JsonBody<ActivationView>)> {
    let a = g.rollback(&caller, req.to).await?;
    Ok((StatusCode::CREATED, JsonBody(a)))
}

/// Cancels a pending activation.
#[utoipa::path(delete, path = "/api/v1/admin/activations/{id}", tag = "admin", params(("id" = i64, Path)), responses((status = 200, body = ActivationView), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn cancel(
    State(g): State<Arc<GovernanceService>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<JsonBody<ActivationView>> {
    Ok(JsonBody(g.cancel(&caller, id).await?))
}

fn csv(report: &Report) -> String {
    let mut out = String::from("owner,platform,conversation_kind,treatment,count,share\n");
    for r in &report.rows {
        let field = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_owned()
            }
        };
        out.push_str(&format!(
            "{},{},{},{},{},{:.4}\n",
            field(&r.owner),
            field(&r.platform),
            r.conversation_kind,
            r.treatment,
            r.count,
            r.share
        ));
    }
    out
}

fn report_response(report: Report, format: Option<&str>) -> ApiResult<Response> {
    match format.unwrap_or("json") {
        "json" => Ok(JsonBody(report).into_response()),
        "csv" => Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            csv(&report),
        )
            .into_response()),
        other => Err(ApiError::bad_request(format!(
            "format is json or csv, not {other:?}"
        ))),
    }
}

/// The transparency report: counts and shares per owner, platform,
/// conversation kind and treatment, the versions in force, moderation's
/// figures, and payments by merchant, wallet and outcome with the wallet
/// picker's order in force.
#[utoipa::path(get, path = "/api/v1/admin/reports/links", tag = "admin", params(RangeQuery),
    responses((status = 200, description = "the report; `format=csv`: the rows as CSV",
                content((Report = "application/json"), (String = "text/csv"))),
              (status = 400, description = "inverted or too long range"), (status = 404)), security(("bearer" = [])))]
pub async fn report(
    State(g): State<Arc<GovernanceService>>,
    caller: Caller,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Response> {
    let (from, to) = range(q.from.as_deref(), q.to.as_deref())?;
    report_response(
        g.report(Some(&caller), from, to).await?,
        q.format.as_deref(),
    )
}

/// The same report, public and aggregated, when `governance.public_report` is on.
#[utoipa::path(get, path = "/api/v1/public/reports/links", tag = "admin", params(RangeQuery),
    responses((status = 200, description = "the report; `format=csv`: the rows as CSV",
                content((Report = "application/json"), (String = "text/csv"))),
              (status = 404, description = "not published")))]
pub async fn public_report(
    State(g): State<Arc<GovernanceService>>,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Response> {
    let (from, to) = range(q.from.as_deref(), q.to.as_deref())?;
    report_response(g.report(None, from, to).await?, q.format.as_deref())
}

/// The non-discrimination matrix of the policy in force.
#[utoipa::path(get, path = "/api/v1/admin/fairness", tag = "admin", responses((status = 200), (status = 404)), security(("bearer" = [])))]
pub async fn fairness(
    State(g): State<Arc<GovernanceService>>,
    caller: Caller,
) -> ApiResult<JsonBody<FairnessReport>> {
    Ok(JsonBody(g.fairness(&caller, None).await?))
}

/// The non-discrimination matrix of a candidate policy.
#[utoipa::path(post, path = "/api/v1/admin/fairness", tag = "admin", request_body = Candidate, responses((status = 200), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn fairness_of(
    State(g): State<Arc<GovernanceService>>,
    caller: Caller,
    Json(req): Json<Candidate>,
) -> ApiResult<JsonBody<FairnessReport>> {
    Ok(JsonBody(g.fairness(&caller, Some(&req.text)).await?))
}

/// What a candidate policy would change over the logged links.
#[utoipa::path(post, path = "/api/v1/admin/replay", tag = "admin", request_body = Candidate, responses((status = 200, body = Replay), (status = 400), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn replay(
    State(g): State<Arc<GovernanceService>>,
    caller: Caller,
    Json(req): Json<Candidate>,
) -> ApiResult<JsonBody<Replay>> {
    let (from, to) = range(req.from.as_deref(), req.to.as_deref())?;
    Ok(JsonBody(g.replay(&caller, &req.text, from, to).await?))
}

/// The audit log, newest first (`governance.audit_page` entries).
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", responses((status = 200, body = AuditLog), (status = 404)), security(("bearer" = [])))]
pub async fn audit(
    State(g): State<Arc<GovernanceService>>,
    caller: Caller,
) -> ApiResult<JsonBody<AuditLog>> {
    Ok(JsonBody(g.audit_log(&caller).await?))
}
