//! `GET /api/v1/previews` and `GET /api/v1/previews/image`.
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::Query;
use crate::error::{ApiError, ApiResult};
use crate::service::accounts::Caller;
use crate::service::previews::Previews;

/// Which URL.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UrlQuery {
    /// An absolute http(s) URL.
    pub url: String,
}

fn checked(url: &str) -> ApiResult<url::Url> {
    let parsed =
        url::Url::parse(url).map_err(|e| ApiError::bad_request(format!("invalid url: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ApiError::bad_request(
            "only http and https URLs have previews",
        ));
    }
    Ok(parsed)
}

/// The preview of a URL (cached; fetched on a miss).
#[utoipa::path(get, path = "/api/v1/previews", tag = "previews", params(UrlQuery),
    responses((status = 200, description = "`{url,title,description,image,icon,publisher,author,date,lang,price,currency,video,kind}`"),
              (status = 400), (status = 404, description = "no preview could be made (`/problems/not-found`), or previews are turned off on this server (`/problems/turned-off`)"),
              (status = 422, description = "the operator's per-domain preview rules exclude the URL's host (`/problems/preview-rule`)")), security(("bearer" = [])))]
pub async fn preview(
    State(previews): State<Arc<Previews>>,
    _caller: Caller,
    Query(q): Query<UrlQuery>,
) -> ApiResult<Response> {
    let url = checked(&q.url)?;
    let json = previews.preview_on_request(url.as_str()).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        json.to_string(),
    )
        .into_response())
}

/// An image, fetched by the server under the same rules as previews, so
/// that clients never contact third parties themselves.
#[utoipa::path(get, path = "/api/v1/previews/image", tag = "previews", params(UrlQuery),
    responses((status = 200, description = "the image bytes"), (status = 400), (status = 404, description = "previews are turned off on this server (`/problems/turned-off`)"),
               (status = 422, description = "not an image, too large, unreachable or not allowed; the reason is generic, the detail is in the server's log")),
    security(("bearer" = [])))]
pub async fn image(
    State(previews): State<Arc<Previews>>,
    _caller: Caller,
    Query(q): Query<UrlQuery>,
) -> ApiResult<Response> {
    let url = checked(&q.url)?;
    let image = previews.image(url.as_str()).await?;
    Ok(super::attachments::inert(
        image.body,
        &image.content_type,
        "private, max-age=86400",
    ))
}
