//! Refusing oversized request bodies so that the client actually reads the
//! refusal.
//!
//! If the server answers 413 and closes while part of the body is still
//! unread, the kernel resets the connection and the client may lose the
//! answer along with it (it then sees "connection closed before message
//! completed" instead of a 413). So a body that declares an oversized
//! length is read and thrown away, up to `limits.max_drain_bytes` and for a
//! bounded time (`limits.drain_timeout_ms`), before the problem+json answer
//! goes out. Bodies without a declared length are still capped by
//! `DefaultBodyLimit`. The drain comes before authentication, so anyone may
//! make the server read that much once per request: it is bounded by both
//! settings, as any upload is.
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use crate::error::ApiError;

/// The caps the middleware needs, copied out of the settings.
#[derive(Clone, Copy)]
pub(crate) struct BodyCaps {
    pub max_body: usize,
    pub max_drain: usize,
    pub drain_time: Duration,
    /// `attachments.max_bytes`, the cap of uploads instead of `max_body`.
    pub max_upload: usize,
    /// `attachments.max_avatar_bytes`, the cap of an avatar upload.
    pub max_avatar: usize,
}

/// Whether a request is an avatar upload (`PUT /api/v1/me/avatar`).
fn is_avatar(request: &Request) -> bool {
    request.method() == axum::http::Method::PUT && request.uri().path() == "/api/v1/me/avatar"
}

/// Whether a request is an attachment upload, whose body has its own cap.
fn is_upload(request: &Request) -> bool {
    request.method() == axum::http::Method::POST
        && request
            .uri()
            .path()
            .strip_prefix("/api/v1/conversations/")
            .is_some_and(|rest| rest.ends_with("/attachments") && rest.matches('/').count() == 1)
}

pub(crate) async fn refuse_oversized(
    State(caps): State<BodyCaps>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(len) = declared else {
        return next.run(request).await;
    };
    let cap = if is_upload(&request) {
        caps.max_upload
    } else if is_avatar(&request) {
        caps.max_avatar
    } else {
        caps.max_body
    };
    if len <= cap as u64 {
        return next.run(request).await;
    }
    if len <= caps.max_drain as u64 {
        let body = request.into_body();
        let _ = tokio::time::timeout(caps.drain_time, drain(body)).await;
    }
    let mut response = ApiError::too_large(format!(
        "the request body is {len} bytes; the largest accepted is {cap}"
    ))
    .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

async fn drain(body: Body) {
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        if chunk.is_err() {
            return;
        }
    }
}
