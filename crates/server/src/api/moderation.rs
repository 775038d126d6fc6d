//! Link complaints and what follows them: `/api/v1/complaints` (members
//! report, and read their own reports' outcomes), `/api/v1/moderation/*`
//! (the moderators' queues and decisions), `/api/v1/penalties` (open
//! figures, and appeals) and `/api/v1/admin/moderators` (the role).
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use kaifang_store::{Appeal, CaseState, Complaint, Penalty};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Json, Path, Query};
use crate::error::ApiResult;
use crate::service::accounts::Caller;
use crate::service::error::Error;
use crate::service::moderation::{ComplaintOutcome, ModerationService, Report};

/// A report about one link of a message.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComplaint {
    /// The conversation.
    pub conversation_id: i64,
    /// The message's sequence number in it.
    pub seq: i64,
    /// Which of the message's links, from 0 (the order of its `links`).
    pub link_index: usize,
    /// `inducement` (inducing shares or follows), `fraud`, `rumour`, `spam`
    /// (ads and spam), `vulgar`, `malware` or `phishing`.
    pub reason: String,
    /// Anything the moderators should know (at most `moderation.max_note_chars`).
    #[serde(default)]
    pub note: String,
}

/// A complaint. `reporter` is shown to moderators only.
#[derive(Serialize, ToSchema)]
pub struct ComplaintView {
    /// Complaint id.
    pub id: i64,
    /// Who reported (moderators' views only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporter: Option<String>,
    /// The conversation.
    pub conversation_id: i64,
    /// The message's id.
    pub message_id: i64,
    /// The link's index in the message.
    pub link_index: i64,
    /// The link as written.
    pub url: String,
    /// Its registrable domain: what a strike counts against.
    pub domain: String,
    /// Its platform id.
    pub platform: String,
    /// Its owner id.
    pub owner: String,
    /// The reason.
    pub reason: String,
    /// The reporter's note.
    pub note: String,
    /// When filed, Unix ms.
    pub created_at: i64,
    /// `open`, `upheld` or `dismissed`.
    pub state: String,
    /// When decided, Unix ms.
    pub decided_at: Option<i64>,
    /// The moderator's note.
    pub decision_note: String,
}

impl ComplaintView {
    fn of(c: Complaint, moderator: bool) -> Self {
        Self {
            id: c.id,
            reporter: moderator.then_some(c.reporter),
            conversation_id: c.conversation_id,
            message_id: c.message_id,
            link_index: c.link_index,
            url: c.url,
            domain: c.domain,
            platform: c.platform,
            owner: c.owner,
            reason: c.reason,
            note: c.note,
            created_at: c.created_at,
            state: c.state.as_str().to_owned(),
            decided_at: c.decided_at,
            decision_note: c.decision_note,
        }
    }
}

/// A penalty on a domain.
#[derive(Serialize, ToSchema)]
pub struct PenaltyView {
    /// Penalty id (to appeal against it).
    pub id: i64,
    /// The registrable domain.
    pub domain: String,
    /// Its platform id.
    pub platform: String,
    /// Its owner id.
    pub owner: String,
    /// Which strike within `moderation.strike_window_days` it was.
    pub strike: i64,
    /// `restricted` (until an appeal is granted) or `suspended`.
    pub state: String,
    /// From when, Unix ms.
    pub starts_at: i64,
    /// Until when, Unix ms; null for a restriction.
    pub ends_at: Option<i64>,
    /// When a granted appeal lifted it, Unix ms.
    pub lifted_at: Option<i64>,
    /// Whether it applies now.
    pub in_force: bool,
}

impl From<Penalty> for PenaltyView {
    fn from(p: Penalty) -> Self {
        Self {
            in_force: p.in_force(crate::now_ms()),
            id: p.id,
            domain: p.domain,
            platform: p.platform,
            owner: p.owner,
            strike: p.strike,
            state: p.state.as_str().to_owned(),
            starts_at: p.starts_at,
            ends_at: p.ends_at,
            lifted_at: p.lifted_at,
        }
    }
}

/// An appeal against a penalty.
#[derive(Serialize, ToSchema)]
pub struct AppealView {
    /// Appeal id.
    pub id: i64,
    /// The penalty.
    pub penalty_id: i64,
    /// Its domain.
    pub domain: String,
    /// Who appealed.
    pub appellant: String,
    /// Their case.
    pub note: String,
    /// When, Unix ms.
    pub created_at: i64,
    /// `open`, `granted` or `refused`.
    pub state: String,
    /// When decided, Unix ms.
    pub decided_at: Option<i64>,
    /// The moderator's note.
    pub decision_note: String,
}

impl From<Appeal> for AppealView {
    fn from(a: Appeal) -> Self {
        Self {
            id: a.id,
            penalty_id: a.penalty_id,
            domain: a.domain,
            appellant: a.appellant,
            note: a.note,
            created_at: a.created_at,
            state: a.state.as_str().to_owned(),
            decided_at: a.decided_at,
            decision_note: a.decision_note,
        }
    }
}

/// Complaints.
#[derive(Serialize, ToSchema)]
pub struct ComplaintList {
    /// Oldest first in the queue; newest first for one's own.
    pub complaints: Vec<ComplaintView>,
}

/// Penalties, newest first.
#[derive(Serialize, ToSchema)]
pub struct PenaltyList {
    /// The penalties.
    pub penalties: Vec<PenaltyView>,
}

/// Appeals, oldest first.
#[derive(Serialize, ToSchema)]
pub struct AppealList {
    /// The appeals.
    pub appeals: Vec<AppealView>,
}

/// Which part of a queue.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// `open` (default), a closed state, or `all`.
    pub state: Option<String>,
    /// Complaints with an id above this (paging; default 0).
    pub after: Option<i64>,
}

fn state_of(query: Option<&str>) -> Result<Option<CaseState>, Error> {
    match query {
        None => Ok(Some(CaseState::Open)),
        Some("all") => Ok(None),
        Some(name) => CaseState::parse(name)
            .map(Some)
            .ok_or_else(|| Error::invalid(format!("unknown state {name:?}"))),
    }
}

/// A moderator's decision.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// For a complaint `upheld` or `dismissed`; for an appeal `granted` or `refused`.
    pub outcome: String,
    /// Why (at most `moderation.max_note_chars`).
    #[serde(default)]
    pub note: String,
}

/// A complaint decided, with the penalty an upheld one cost its domain.
#[derive(Serialize, ToSchema)]
pub struct Decided {
    /// The complaint.
    pub complaint: ComplaintView,
    /// The penalty, when upheld.
    pub penalty: Option<PenaltyView>,
}

/// An appeal's case.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppeal {
    /// What was fixed, and why the penalty should go.
    #[serde(default)]
    pub note: String,
}

/// Every moderator.
#[derive(Serialize, ToSchema)]
pub struct Moderators {
    /// Handles, from `moderation.moderators` and granted through the API.
    pub moderators: Vec<String>,
}

/// Reports a link in a message the caller can read. The same report again
/// answers 200 with the first one.
#[utoipa::path(post, path = "/api/v1/complaints", tag = "moderation", request_body = NewComplaint,
    responses((status = 201, body = ComplaintView), (status = 200, body = ComplaintView, description = "reported before"),
              (status = 400, description = "unknown reason, note too long, or no link at that index"),
              (status = 401, description = "no valid token"),
              (status = 404, description = "no such message for the caller"),
              (status = 429, description = "more than moderation.complaints_per_hour",
               headers(("Retry-After" = u64, description = "seconds to wait")))),
    security(("bearer" = [])))]
pub async fn report(
    State(moderation): State<Arc<ModerationService>>,
    caller: Caller,
    Json(req): Json<NewComplaint>,
) -> ApiResult<(StatusCode, axum::Json<ComplaintView>)> {
    let report = Report {
        conversation_id: req.conversation_id,
        seq: req.seq,
        link_index: req.link_index,
        reason: req.reason,
        note: req.note,
    };
    let (complaint, created) = moderation.report(&caller, report).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(ComplaintView::of(complaint, false))))
}

/// The caller's own reports, newest first, with their outcomes.
#[utoipa::path(get, path = "/api/v1/complaints", tag = "moderation",
    responses((status = 200, body = ComplaintList), (status = 401, description = "no valid token")),
    security(("bearer" = [])))]
pub async fn mine(
    State(moderation): State<Arc<ModerationService>>,
    caller: Caller,
) -> ApiResult<axum::Json<ComplaintList>> {
    let complaints = moderation.mine(&caller).await?;
    Ok(axum::Json(ComplaintList {
        complaints: complaints
            .into_iter()
            .map(|c| ComplaintView::of(c, false))
            .collect(),
    }))
}

/// The moderators' queue of complaints.
#[utoipa::path(get, path = "/api/v1/moderation/complaints", tag = "moderation", params(QueueQuery),
    responses((status = 200, body = ComplaintList), (status = 400, description = "unknown state"),
              (status = 401, description = "no valid token"), (status = 404, description = "not a moderator")),
    security(("bearer" = [])))]
pub async fn queue(
    State(moderation): State<Arc<ModerationService>>,
    caller: Caller,
    Query(q): Query<QueueQuery>,
) -> ApiResult<axum::Json<ComplaintList>> {
    let state = state_of(q.state.as_deref())?;
    let complaints = moderation
        .queue(&caller, state, q.after.unwrap_or(0))
        .await?;
    Ok(axum::Json(ComplaintList {
        complaints: complaints
            .into_iter()
            .map(|c| ComplaintView::of(c, true))
            .collect(),
    }))
}

/// Upholds (a strike against the domain) or dismisses an open complaint.
#[utoipa::path(post, path = "/api/v1/moderation/complaints/{id}/decision", tag = "moderation",
    params(("id" = i64, Path, description = "complaint id")), request_body = DecisionRequest,
    responses((status = 200, body = Decided), (status = 400, description = "unknown outcome, or note too long"),
              (status = 401, description = "no valid token"),
              (status = 404, description = "no such complaint, or not a moderator"),
              (status = 409, description = "already decided")),
    security(("bearer" = [])))]
pub async fn decide(
    State(moderation): State<Arc<ModerationService>>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<DecisionRequest>,
) -> ApiResult<axum::Json<Decided>> {
    let outcome = match req.outcome.as_str() {
        "upheld" => ComplaintOutcome::Upheld,
        "dismissed" => ComplaintOutcome::Dismissed,
        other => {
            return Err(Error::invalid(format!(
                "unknown outcome {other:?}: use upheld or dismissed"
            ))
            .into());
        }
    };
    let (complaint, penalty) = moderation.decide(&caller, id, outcome, &req.note).await?;
    Ok(axum::Json(Decided {
        complaint: ComplaintView::of(complaint, true),
        penalty: penalty.map(PenaltyView::from),
    }))
}

/// Penalties, newest first: open to every signed-in user.
#[utoipa::path(get, path = "/api/v1/penalties", tag = "moderation",
    responses((status = 200, body = PenaltyList), (status = 401, description = "no valid token")),
    security(("bearer" = [])))]
pub async fn penalties(
    State(moderation): State<Arc<ModerationService>>,
    _caller: Caller,
) -> ApiResult<axum::Json<PenaltyList>> {
    let penalties = moderation.penalties().await?;
    Ok(axum::Json(PenaltyList {
        penalties: penalties.into_iter().map(PenaltyView::from).collect(),
    }))
}

/// Appeals against a penalty in force: the domain owner's accounts
/// (`moderation.owner_accounts`) or an administrator.
#[utoipa::path(post, path = "/api/v1/penalties/{id}/appeals", tag = "moderation",
    params(("id" = i64, Path, description = "penalty id")), request_body = NewAppeal,
    responses((status = 201, body = AppealView), (status = 400, description = "note too long"),
              (status = 401, description = "no valid token"),
              (status = 404, description = "no such penalty, or not the caller's to appeal"),
              (status = 409, description = "no longer in force, or an appeal is already open")),
    security(("bearer" = [])))]
pub async fn appeal(
    State(moderation): State<Arc<ModerationService>>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<NewAppeal>,
) -> ApiResult<(StatusCode, axum::Json<AppealView>)> {
    let appeal = moderation.appeal(&caller, id, &req.note).await?;
    Ok((StatusCode::CREATED, axum::Json(appeal.into())))
}

/// The moderators' queue of appeals.
#[utoipa::path(get, path = "/api/v1/moderation/appeals", tag = "moderation", params(QueueQuery),
    responses((status = 200, body = AppealList), (status = 400, description = "unknown state"),
              (status = 401, description = "no valid token"), (status = 404, description = "not a moderator")),
    security(("bearer" = [])))]
pub async fn appeals(
    State(moderation): State<Arc<ModerationService>>,
    caller: Caller,
    Query(q): Query<QueueQuery>,
) -> ApiResult<axum::Json<AppealList>> {
    let state = state_of(q.state.as_deref())?;
    let appeals = moderation.appeals(&caller, state).await?;
    Ok(axum::Json(AppealList {
        appeals: appeals.into_iter().map(AppealView::from).collect(),
    }))
}

/// Grants (lifting the penalty at once) or refuses an open appeal.
#[utoipa::path(post, path = "/api/v1/moderation/appeals/{id}/decision", tag = "moderation",
    params(("id" = i64, Path, description = "appeal id")), request_body = DecisionRequest,
    responses((status = 200, body = AppealView), (status = 400, description = "unknown outcome, or note too long"),
              (status = 401, description = "no valid token"),
              (status = 404, description = "no such appeal, or not a moderator"),
              (status = 409, description = "already decided")),
    security(("bearer" = [])))]
pub async fn decide_appeal(
    State(moderation): State<Arc<ModerationService>>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<DecisionRequest>,
) -> ApiResult<axum::Json<AppealView>> {
    let grant = match req.outcome.as_str() {
        "granted" => true,
        "refused" => false,
        other => {
            return Err(Error::invalid(format!(
                "unknown outcome {other:?}: use granted or refused"
            ))
            .into());
        }
    };
    let appeal = moderation
        .decide_appeal(&caller, id, grant, &req.note)
        .await?;
    Ok(axum::Json(appeal.into()))
}

/// Every moderator (administrators only).
#[utoipa::path(get, path = "/api/v1/admin/moderators", tag = "admin",
    responses((status = 200, body = Moderators), (status = 401, description = "no valid token"),
              (status = 404, description = "not an administrator")),
    security(("bearer" = [])))]
pub async fn moderators(
    State(moderation): State<Arc<ModerationService>>,
    caller: Caller,
) -> ApiResult<axum::Json<Moderators>> {
    Ok(axum::Json(Moderators {
        moderators: moderation.moderators(&caller).await?,
    }))
}

/// Makes an account a moderator (idempotent; audited).
#[utoipa::path(put, path = "/api/v1/admin/moderators/{handle}", tag = "admin",
    params(("handle" = String, Path, description = "the account's handle")),
    responses((status = 204, description = "granted"), (status = 401, description = "no valid token"),
              (status = 404, description = "no such account, or not an administrator")),
    security(("bearer" = [])))]
pub async fn grant_moderator(
    State(moderation): State<Arc<ModerationService>>,
    caller: Caller,
    Path(handle): Path<String>,
) -> ApiResult<StatusCode> {
    moderation.set_moderator(&caller, &handle, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Withdraws the moderator role (idempotent; audited). A handle in
/// `moderation.moderators` stays a moderator until the setting changes.
#[utoipa::path(delete, path = "/api/v1/admin/moderators/{handle}", tag = "admin",
    params(("handle" = String, Path, description = "the account's handle")),
    responses((status = 204, description = "withdrawn"), (status = 401, description = "no valid token"),
              (status = 404, description = "no such account, or not an administrator")),
    security(("bearer" = [])))]
pub async fn revoke_moderator(
    State(moderation): State<Arc<ModerationService>>,
    caller: Caller,
    Path(handle): Path<String>,
) -> ApiResult<StatusCode> {
    moderation.set_moderator(&caller, &handle, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
