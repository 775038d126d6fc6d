//! One error type for the whole API: every failure becomes an
//! `application/problem+json` answer (RFC 9457). Internal details are logged,
//! never sent to the client.
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::problem_lang::{self, Lang};

/// An API failure, ready to become a problem+json response. Boxed so that
/// `Result<T, ApiError>` stays small on the happy path.
#[derive(Debug)]
pub struct ApiError(Box<Failure>);

#[derive(Debug)]
struct Failure {
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: String,
    retry_after: Option<u64>,
    extra: Option<serde_json::Value>,
}

/// The `Retry-After` of a 503 for an unreachable database: the pool tries a
/// new connection on every request, so a client may as well come back soon.
const DATABASE_RETRY_AFTER_SECS: u64 = 1;

tokio::task_local! {
    /// The id of the request being answered, set by `api::request_id` for
    /// the whole of its handling, so that every problem can name it.
    pub(crate) static REQUEST_ID: std::sync::Arc<str>;
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    /// The id in the `X-Request-Id` header and in the server's log lines,
    /// so an operator can find what the client was not told.
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<std::sync::Arc<str>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    extra: Option<&'a serde_json::Value>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self(Box::new(Failure {
            status,
            kind,
            title,
            detail: detail.into(),
            retry_after: None,
            extra: None,
        }))
    }
    /// 400: the request is malformed or a value is out of range.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }
    /// 401: no valid token.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail,
        )
    }
    /// 403: a member whose role does not allow the change.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }
    /// 404: missing, or not visible to the caller.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("no such {what}"),
        )
    }
    /// 404 for a feature this server has turned off (e.g. previews): to a
    /// client the same as something the server does not have, which is
    /// what it already handles; the problem type says why. Not 503, which
    /// promises that retrying later may help.
    pub fn turned_off(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "turned-off",
            "Turned off on this server",
            detail,
        )
    }
    /// 405: the path exists, the method does not (the router adds `Allow`).
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            "this path does not answer that method; see the Allow header",
        )
    }
    /// 409: contradicts the current state.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }
    /// 413: the body is over the size cap.
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Request too large",
            detail,
        )
    }
    /// 422: understood, but refused by a rule (e.g. a blocked link).
    pub fn unprocessable(
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, kind, title, detail)
    }
    /// 429 with `Retry-After`.
    pub fn too_many(detail: impl Into<String>, retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            detail,
        );
        e.0.retry_after = Some(retry_after_secs.max(1));
        e
    }
    /// 503 with `Retry-After`: the server is at a capacity limit.
    pub fn unavailable(detail: impl Into<String>, retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Busy",
            detail,
        );
        e.0.retry_after = Some(retry_after_secs.max(1));
        e
    }
    /// 503 with `Retry-After`: the database cannot be reached. The cause
    /// is logged (it may name hosts), the client learns only to retry.
    pub fn database_unavailable(cause: &(dyn std::error::Error + 'static)) -> Self {
        // With its causes: "error communicating with the server" alone
        // does not say whether it was a reset, a refusal or a timeout.
        let mut text = cause.to_string();
        let mut source = cause.source();
        while let Some(s) = source {
            let s_text = s.to_string();
            if !text.ends_with(&s_text) {
                text.push_str(": ");
                text.push_str(&s_text);
            }
            source = s.source();
        }
        tracing::warn!(cause = %text, "database unavailable");
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database-unavailable",
            "Database unavailable",
            "the server cannot reach its database; retry later (a send retried \
             with the same client_txn_id is stored at most once)",
        );
        e.0.retry_after = Some(DATABASE_RETRY_AFTER_SECS);
        e
    }
    /// 500; the cause is logged, the client sees a generic message.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server could not complete the request; it has been logged",
        )
    }
    /// Adds members to the problem object (e.g. the links that were refused).
    pub fn with_extra(mut self, extra: serde_json::Value) -> Self {
        self.0.extra = Some(extra);
        self
    }
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let this = *self.0;
        let lang = problem_lang::current();
        let (title, detail) = match lang {
            Lang::Zh => (
                problem_lang::title_zh(this.kind).unwrap_or(this.title),
                problem_lang::detail_zh(&this.detail).unwrap_or(&this.detail),
            ),
            Lang::En => (this.title, this.detail.as_str()),
        };
        let problem = Problem {
            kind: format!("/problems/{}", this.kind),
            title,
            status: this.status.as_u16(),
            detail,
            request_id: REQUEST_ID.try_with(|id| id.clone()).ok(),
            extra: this.extra.as_ref(),
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (this.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        // The title depends on Accept-Language: caches must key on it.
        headers.insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(problem_lang::code(lang)),
        );
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Language"));
        if let Some(secs) = this.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<kaifang_store::Error> for ApiError {
    fn from(e: kaifang_store::Error) -> Self {
        use kaifang_store::Error as E;
        match e {
            E::HandleTaken => Self::conflict("that handle is taken"),
            E::NotFound(what) => Self::not_found(what),
            E::Forbidden(why) => Self::forbidden(why),
            E::Conflict(why) => Self::conflict(why),
            e @ E::IdempotencyMismatch => Self::unprocessable(
                "idempotency-key-reused",
                "Idempotency key reused",
                e.to_string(),
            ),
            E::Ledger(why) => Self::conflict(why),
            e @ E::Replay => Self::conflict(e.to_string()),
            e @ E::Unavailable(_) => {
                crate::metrics::database_error();
                Self::database_unavailable(&e)
            }
            other => {
                crate::metrics::database_error();
                Self::internal(other)
            }
        }
    }
}

impl From<crate::service::error::Error> for ApiError {
    fn from(e: crate::service::error::Error) -> Self {
        use crate::service::error::Error as E;
        match e {
            E::Invalid(detail) => Self::bad_request(detail),
            E::Unauthenticated(why) => Self::unauthorized(why),
            E::Forbidden(why) => Self::forbidden(why),
            E::NotFound(what) => Self::not_found(&what),
            E::Conflict(why) => Self::conflict(why),
            E::TooLarge(why) => Self::too_large(why),
            E::Refused {
                kind,
                title,
                detail,
                extra,
            } => {
                let e = Self::unprocessable(kind, title, detail);
                match extra {
                    Some(extra) => e.with_extra(*extra),
                    None => e,
                }
            }
            E::TurnedOff(what) => Self::turned_off(what),
            E::RateLimited { why, retry_after } => Self::too_many(why, retry_after),
            E::Busy { why, retry_after } => Self::unavailable(why, retry_after),
            E::Store(e) => e.into(),
            // `Internal` and any variant added later: logged, not shown.
            other => Self::internal(other),
        }
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use axum::response::IntoResponse;

    use super::ApiError;
    use crate::service::error::Error as E;

    /// Each service refusal keeps its meaning at the edge: the status, the
    /// wait for limits, and never the text of an internal cause.
    #[tokio::test]
    async fn service_errors_become_problems_without_internal_detail() {
        let cases = [
            (E::invalid("bad"), 400, None),
            (E::Unauthenticated("who"), 401, None),
            (E::Forbidden("role".into()), 403, None),
            (E::not_found("conversation"), 404, None),
            (E::TurnedOff("previews off"), 404, None),
            (E::conflict("taken"), 409, None),
            (E::too_large("big"), 413, None),
            (E::refused("link-blocked", "Link blocked", "no"), 422, None),
            (E::rate_limited("slow down", 3), 429, Some("3")),
            (E::busy("hashing", 0), 503, Some("1")),
            (E::Store(kaifang_store::Error::HandleTaken), 409, None),
            (
                E::Store(kaifang_store::Error::Unavailable(
                    "connect 10.1.2.3:5432: refused".into(),
                )),
                503,
                Some("1"),
            ),
            (E::internal("dial 10.1.2.3:80: refused"), 500, None),
        ];
        for (error, status, retry_after) in cases {
            let label = format!("{error:?}");
            let response = ApiError::from(error).into_response();
            assert_eq!(response.status().as_u16(), status, "{label}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json",
                "{label}"
            );
            assert_eq!(
                response
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap()),
                retry_after,
                "{label}"
            );
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            let body = String::from_utf8(body.to_vec()).unwrap();
            assert!(!body.contains("10.1.2.3"), "{label}: {body}");
        }
    }
}
