//! `POST /api/v1/conversations/{id}/attachments`, `GET
//! /api/v1/attachments/{id}` and `GET /api/v1/attachments/{id}/thumbnail`.
//!
//! An upload is the raw bytes as the body (no multipart: nothing to parse
//! but the bytes themselves) with the file name in `?name=`; the type is
//! sniffed from the bytes, whatever `Content-Type` says. The answer's `id`
//! then goes into a send's `attachments`.
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use kaifang_store::Attachment;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Path, Query};
use crate::error::{ApiError, ApiResult};
use crate::service::accounts::Caller;
use crate::service::attachments::{AttachmentService, Download};
use crate::service::media;

/// The upload's file name.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// One path component (a name with `/`, `\` or `:` is refused), at
    /// most `attachments.max_name_bytes`.
    pub name: String,
}

/// The bytes of a file, as the body of an upload. Never built: it only
/// names the body's schema (a binary string) in the OpenAPI document.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct FileBytes(Vec<u8>);

/// An uploaded attachment.
#[derive(Serialize, ToSchema)]
pub struct AttachmentView {
    /// Its id: put it in a send's `attachments`.
    pub id: i64,
    /// The conversation it was uploaded into.
    pub conversation_id: i64,
    /// File name.
    pub name: String,
    /// Sniffed from the bytes: `image/png`, `image/jpeg`, `image/gif`,
    /// `image/webp`, `application/pdf` or `application/octet-stream`.
    pub content_type: String,
    /// Bytes stored (images: after re-encoding without metadata).
    pub size: i64,
    /// Whether `/api/v1/attachments/{id}/thumbnail` exists (images).
    pub thumbnail: bool,
    /// Image width.
    pub width: Option<i64>,
    /// Image height.
    pub height: Option<i64>,
}

impl AttachmentView {
    fn of(a: &Attachment) -> Self {
        Self {
            id: a.id,
            conversation_id: a.conversation_id,
            name: a.name.clone(),
            content_type: a.content_type.clone(),
            size: a.size,
            thumbnail: a.thumbnail.is_some(),
            width: a.width,
            height: a.height,
        }
    }
}

/// Reads the body, refusing it as soon as it passes `cap` bytes: an
/// oversized upload is never held whole.
pub(super) async fn read_capped(body: Body, cap: usize, setting: &str) -> ApiResult<Vec<u8>> {
    let mut out = Vec::new();
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| ApiError::bad_request("the upload was cut off"))?;
        if out.len() + chunk.len() > cap {
            return Err(ApiError::too_large(format!(
                "the upload has at most {cap} bytes ({setting})"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Uploads a file into a conversation (201). Send it with a message by its id.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/attachments", tag = "attachments",
    params(("id" = i64, Path), UploadQuery),
    request_body(content = FileBytes, content_type = "application/octet-stream", description = "the file's bytes; the type is sniffed from them"),
    responses((status = 201, body = AttachmentView),
              (status = 400, description = "a file name with a path, or an image that cannot be read"),
              (status = 404, description = "no such conversation, or not a member"),
              (status = 413, description = "over `attachments.max_bytes`, or an image over `attachments.max_image_pixels`")),
    security(("bearer" = [])))]
pub async fn upload(
    State(files): State<Arc<AttachmentService>>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> ApiResult<Response> {
    let bytes = read_capped(body, files.max_bytes(), "attachments.max_bytes").await?;
    let a = files.upload(&caller, id, q.name, bytes).await?;
    Ok((StatusCode::CREATED, axum::Json(AttachmentView::of(&a))).into_response())
}

/// `filename*` (RFC 6266 / 8187) with a plain ASCII `filename` beside it.
fn disposition(inline: bool, name: &str) -> HeaderValue {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    HeaderValue::from_str(&format!(
        "{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(HeaderValue::from_static("attachment"))
}

/// The bytes with the headers that keep a browser from running them:
/// only sniffed raster images are shown inline; everything else is a
/// download; nothing is re-sniffed; a page opened from it is sandboxed.
fn serve(d: Download) -> Response {
    let inline = media::is_raster_image(&d.content_type);
    // Private: only members may read it; not stored by shared caches.
    let mut response = inert(d.bytes, &d.content_type, "private, max-age=3600");
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        disposition(inline, &d.attachment.name),
    );
    response
}

/// Stored bytes as a response no browser will run: the type given (never
/// re-sniffed), and a sandbox for any page opened from it. Shared by
/// attachments, avatars and preview images.
pub(super) fn inert(bytes: impl IntoResponse, content_type: &str, cache: &'static str) -> Response {
    let content_type = HeaderValue::from_str(content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'; img-src 'self'"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// Downloads an attachment (members of its conversation only).
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "attachments",
    params(("id" = i64, Path)),
    responses((status = 200, description = "the bytes; `Content-Disposition: attachment` unless a PNG, JPEG, GIF or WebP image"),
              (status = 404, description = "no such attachment, or not a member of its conversation")),
    security(("bearer" = [])))]
pub async fn download(
    State(files): State<Arc<AttachmentService>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(serve(files.download(&caller, id, false).await?))
}

/// An image attachment's thumbnail (members of its conversation only).
#[utoipa::path(get, path = "/api/v1/attachments/{id}/thumbnail", tag = "attachments",
    params(("id" = i64, Path)),
    responses((status = 200, description = "a JPEG (for JPEG images) or PNG thumbnail"),
              (status = 404, description = "no such attachment, not an image, or not a member of its conversation")),
    security(("bearer" = [])))]
pub async fn thumbnail(
    State(files): State<Arc<AttachmentService>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(serve(files.download(&caller, id, true).await?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::response::IntoResponse;

    use super::*;

    /// A body of `n` chunks of 1,000 bytes with no declared length, which
    /// counts the chunks it was asked for.
    fn counted(n: usize, pulled: Arc<AtomicUsize>) -> Body {
        let chunks = futures_util::stream::iter(0..n).map(move |_| {
            pulled.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>(bytes::Bytes::from(vec![0u8; 1_000]))
        });
        Body::from_stream(chunks)
    }

    /// The cap holds while the body streams in: the read stops at the
    /// first chunk past it, without pulling the rest.
    #[tokio::test]
    async fn an_upload_is_refused_as_it_passes_the_cap() {
        let pulled = Arc::new(AtomicUsize::new(0));
        let refused = read_capped(counted(1_000, pulled.clone()), 5_500, "cap").await;
        let status = refused.expect_err("refused").into_response().status();
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(pulled.load(Ordering::SeqCst), 6);

        let whole = read_capped(counted(5, Arc::new(AtomicUsize::new(0))), 5_000, "cap").await;
        assert_eq!(whole.ok().map(|b| b.len()), Some(5_000));
    }

    #[test]
    fn names_are_quoted_safely_in_the_disposition() {
        let v = disposition(false, "报告 \"final\";.pdf");
        let text = v.to_str().unwrap();
        assert!(text.starts_with("attachment; filename=\"__ _final__.pdf\"; filename*=UTF-8''"));
        assert!(!text[12..].contains("\"final\""));
        assert!(text.ends_with("%E6%8A%A5%E5%91%8A%20%22final%22%3B.pdf"));
    }
}
