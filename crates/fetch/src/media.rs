//! Content types each call accepts, and the response types callers get.

use bytes::Bytes;
use url::Url;

/// What a call wants; decides the accepted content types, caps and headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    Page,
    Json,
    Image,
}

impl Want {
    /// The `Accept` request header.
    pub fn accept_header(self) -> &'static str {
        match self {
            Self::Page => "text/html,application/xhtml+xml;q=0.9",
            Self::Json => "application/json,application/json+oembed;q=0.9,text/json;q=0.8",
            Self::Image => "image/avif,image/webp,image/png,image/jpeg,image/gif,image/*;q=0.8",
        }
    }

    /// Whether the media type `essence` (lowercase, without parameters) is acceptable.
    pub fn accepts(self, essence: &str) -> bool {
        match self {
            Self::Page => matches!(essence, "text/html" | "application/xhtml+xml"),
            Self::Json => {
                matches!(essence, "application/json" | "text/json")
                    || (essence.starts_with("application/") && essence.ends_with("+json"))
            }
            // SVG is a document that can carry scripts; a proxy must not relay it.
            Self::Image => {
                essence.starts_with("image/")
                    && essence.len() > "image/".len()
                    && essence != "image/svg+xml"
            }
        }
    }
}

/// The media type of a `Content-Type` value: lowercase, parameters dropped.
pub(crate) fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// An HTML page, ready for the extractor.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page {
    /// The URL after redirects; resolve relative links against this.
    pub final_url: Url,
    /// The HTTP status (always a 2xx).
    pub status: u16,
    /// The `Content-Type` header as sent (its `charset` parameter matters to the extractor).
    pub content_type: Option<String>,
    /// The decoded body, at most `max_decompressed_bytes` long.
    pub body: Bytes,
    /// True when the body was cut at a cap; the start of the page is intact.
    pub truncated: bool,
}

/// An image, complete and within `max_image_bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Image {
    /// The URL after redirects.
    pub final_url: Url,
    /// The media type (`image/…`, lowercase, without parameters).
    pub content_type: String,
    /// The image bytes.
    pub body: Bytes,
}

/// What a `HEAD` request says about an image.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageHead {
    /// The URL after redirects.
    pub final_url: Url,
    /// The media type (`image/…`, lowercase, without parameters).
    pub content_type: String,
    /// The `Content-Length`, when the server sent one.
    pub content_length: Option<u64>,
}
