//! The output: a [`Preview`] and its [`PreviewKind`], and the oEmbed merge.
use serde::Serialize;

use crate::text;

/// What the page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PreviewKind {
    /// A product for sale (has a price, or says it is a product).
    Product,
    /// A video.
    Video,
    /// An article.
    Article,
    /// Anything else.
    #[default]
    Page,
}

/// A link preview; `None` (JSON `null`) where the page does not say.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Preview {
    /// The canonical URL (og:url, `<link rel=canonical>`, else the page's).
    pub url: String,
    /// Title.
    pub title: Option<String>,
    /// Summary.
    pub description: Option<String>,
    /// Picture (absolute http(s) URL).
    pub image: Option<String>,
    /// Site icon (the largest declared, else `/favicon.ico`).
    pub icon: Option<String>,
    /// Site or publisher name.
    pub publisher: Option<String>,
    /// Author's name; several joined with " and ".
    pub author: Option<String>,
    /// Publication date (else modification date), RFC 3339 in UTC with
    /// milliseconds: `2021-09-17T00:00:00.000Z`.
    pub date: Option<String>,
    /// Language code, lower case (`zh`, `en`).
    pub lang: Option<String>,
    /// Price, as written (`199.00`).
    pub price: Option<String>,
    /// ISO 4217 currency (`CNY`).
    pub currency: Option<String>,
    /// A playable video file (absolute http(s) URL); player pages are not kept.
    pub video: Option<String>,
    /// What the page is.
    pub kind: PreviewKind,
    /// The page's oEmbed endpoint, if it advertises one. Not part of the
    /// preview's JSON: the caller may fetch it (through its safe fetcher)
    /// and call [`apply_oembed`].
    #[serde(skip)]
    pub oembed_url: Option<String>,
}

fn http_url(s: String) -> Option<String> {
    let u = url::Url::parse(&s).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| u.to_string())
}

/// Merges an oEmbed answer (JSON) into a preview: fills what the page left
/// empty (title, author, publisher, thumbnail) and marks videos. Anything
/// that is not an oEmbed object changes nothing.
pub fn apply_oembed(preview: &mut Preview, json: &[u8]) {
    let Ok(serde_json::Value::Object(v)) = serde_json::from_slice(json) else {
        return;
    };
    let s = |k: &str, max| v.get(k)?.as_str().and_then(|s| text::text(s, max));
    let fill = |slot: &mut Option<String>, value: Option<String>| {
        if slot.is_none() {
            *slot = value;
        }
    };
    fill(&mut preview.title, s("title", 300));
    fill(&mut preview.author, s("author_name", 200));
    fill(&mut preview.publisher, s("provider_name", 200));
    fill(
        &mut preview.image,
        s("thumbnail_url", 2_048).and_then(http_url),
    );
    if s("type", 16).as_deref() == Some("video") && preview.kind == PreviewKind::Page {
        preview.kind = PreviewKind::Video;
    }
}
