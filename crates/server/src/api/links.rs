//! `POST /api/v1/links/evaluate` and the interstitial page `GET /go`.
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kaifang_policy::{Context, ConversationKind, Role, Treatment};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Json, Query};
use crate::error::{ApiError, ApiResult};
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
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The page a `warn` link opens: it names the destination's platform and
/// owner and the policy, then offers the link. The decision is made again
/// here; nothing in the query is trusted but the URL.
#[utoipa::path(get, path = "/go", tag = "links", params(GoQuery),
    responses((status = 200, description = "an HTML page"), (status = 400)))]
pub async fn go(State(links): State<Arc<Links>>, Query(q): Query<GoQuery>) -> ApiResult<Response> {
    let kind = match q.kind.as_deref() {
        Some("group") => ConversationKind::Group,
        _ => ConversationKind::Direct,
    };
    let ctx = Context {
        conversation_kind: kind,
        member_count: 3,
        sender_role: Role::Member,
    };
    let (decisions, _) = links.evaluate(&q.url, &ctx);
    let named = decisions
        .into_iter()
        .find(|n| n.decision.start == 0 && n.decision.url.len() == q.url.trim().len())
        .ok_or_else(|| ApiError::bad_request("not a single http(s) URL"))?;
    let d = &named.decision;
    let canonical = d
        .canonical
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("not a valid http(s) URL"))?;
    let parsed = url::Url::parse(canonical).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ApiError::bad_request("only http and https links"));
    }
    let action = if d.treatment == Treatment::Blocked {
        "<p class=\"blocked\">This link is blocked and cannot be opened. 此链接已被屏蔽。</p>"
            .to_owned()
    } else {
        format!(
            "<p><a rel=\"noopener noreferrer nofollow\" href=\"{}\">Continue to {} · 继续访问</a></p>",
            escape(canonical),
            escape(&d.display_host)
        )
    };
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>Leaving Kaifang · 即将离开</title></head><body>\
         <h1>You are leaving Kaifang · 您即将离开</h1>\
         <p>Destination: <strong>{host}</strong> — platform <strong>{platform}</strong>, owned by <strong>{owner}</strong>.</p>\
         <p>Decided by policy: <code>{policies}</code></p>{action}</body></html>",
        host = escape(&d.display_host),
        platform = escape(&named.platform_name),
        owner = escape(&named.owner_name),
        policies = escape(&d.policies.join(", ")),
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; frame-ancestors 'none'",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        page,
    )
        .into_response())
}
