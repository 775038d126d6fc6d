//! `POST /api/v1/links/evaluate` and the interstitial page `GET /go`.
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kaifang_policy::{Context, ConversationKind, LinkKind, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::Json;
use super::go_page::{self, Lang};
use crate::error::ApiResult;
use crate::service::accounts::Caller;
use crate::service::links::{LinkDecision, Links};

/// Text to evaluate.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Evaluate {
    /// The message text.
    pub text: String,
    /// `direct` or `group`.
    #[schema(value_type = String)]
    pub conversation_kind: ConversationKind,
    /// Members, for policies that read it (default 2 for direct, 3 for group).
    pub member_count: Option<u32>,
    /// The sender's role (default `member`).
    #[schema(value_type = Option<String>)]
    pub sender_role: Option<Role>,
}

/// The decisions.
#[derive(Serialize, ToSchema)]
pub struct Evaluation {
    /// One per link, in order.
    pub links: Vec<LinkDecision>,
    /// The policy version that decided.
    pub policy_version: i64,
}

/// Decides the links of a text without sending anything.
#[utoipa::path(post, path = "/api/v1/links/evaluate", tag = "links", request_body = Evaluate,
    responses((status = 200, body = Evaluation), (status = 400), (status = 413)), security(("bearer" = [])))]
pub async fn evaluate(
    State(links): State<Arc<Links>>,
    _caller: Caller,
    Json(req): Json<Evaluate>,
) -> ApiResult<Response> {
    let ctx = Context {
        conversation_kind: req.conversation_kind,
        member_count: req.member_count.unwrap_or(match req.conversation_kind {
            ConversationKind::Direct => 2,
            ConversationKind::Group => 3,
        }),
        sender_role: req.sender_role.unwrap_or(Role::Member),
    };
    let (links, policy_version) = links.evaluate(&req.text, &ctx);
    Ok(axum::Json(Evaluation {
        links,
        policy_version,
    })
    .into_response())
}

/// Interstitial parameters.
#[derive(Deserialize, IntoParams)]
pub struct GoQuery {
    /// Destination.
    pub url: String,
    /// The conversation kind the link was shared in (default `direct`).
    pub kind: Option<String>,
    /// Page language, `zh` or `en` (default: from `Accept-Language`).
    pub lang: Option<String>,
}

/// The page a `warn` link opens: the destination's full host with its
/// registrable domain emphasised, its platform and owner, why the page
/// appears and the policy, then Continue / Go back (Copy link for inert
/// links), in zh or en. The decision is made again here; nothing in the
/// query is trusted but the URL. Not a link: a 400 page, never a redirect.
#[utoipa::path(get, path = "/go", tag = "links", params(GoQuery),
    responses(
        (status = 200, description = "the warning page", content_type = "text/html", body = String),
        (status = 400, description = "not a valid http(s) link: an explanation page", content_type = "text/html", body = String)))]
pub async fn go(
    State(links): State<Arc<Links>>,
    headers: HeaderMap,
    query: Result<Query<GoQuery>, QueryRejection>,
) -> Response {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    // A person followed this link: a malformed query (no `url`, or two)
    // gets the explanation page too, not a problem document.
    let Ok(Query(q)) = query else {
        let page = go_page::invalid(Lang::choose(None, accept), "a malformed query");
        return html_page(StatusCode::BAD_REQUEST, page);
    };
    let lang = Lang::choose(q.lang.as_deref(), accept);
    let group = q.kind.as_deref() == Some("group");
    let ctx = Context {
        conversation_kind: if group {
            ConversationKind::Group
        } else {
            ConversationKind::Direct
        },
        member_count: 3,
        sender_role: Role::Member,
    };
    let (decisions, _) = links.evaluate(&q.url, &ctx);
    let named = decisions.into_iter().find(|n| {
        // A payment URL is a URL too (a deep link has no canonical http(s) form, below).
        matches!(n.decision.kind, LinkKind::Url | LinkKind::Payment)
            && n.decision.start == 0
            && n.decision.url.len() == q.url.trim().len()
    });
    let valid = named.as_ref().and_then(|n| {
        let canonical = n.decision.canonical.as_deref()?;
        let parsed = url::Url::parse(canonical).ok()?;
        matches!(parsed.scheme(), "http" | "https").then_some(n)
    });
    let (status, page) = match valid {
        Some(link) => (
            StatusCode::OK,
            go_page::render(&go_page::Page {
                link,
                group,
                requested: &q.url,
                lang,
            }),
        ),
        None => (
            StatusCode::BAD_REQUEST,
            go_page::invalid(lang, "not a single http(s) URL"),
        ),
    };
    html_page(status, page)
}

/// The `/go` page's answer: HTML under a strict content security policy,
/// never sent on to the destination as a referrer.
fn html_page(status: StatusCode, page: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'self'; script-src 'self'; base-uri 'none'; \
                 form-action 'none'; frame-ancestors 'none'",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::VARY, "Accept-Language"),
        ],
        page,
    )
        .into_response()
}
