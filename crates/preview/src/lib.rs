//! Link-preview metadata from HTML, with no I/O: give it the bytes of a page
//! (any charset), its URL and its `Content-Type`, get a [`Preview`].
//!
//! Precedence, field by field: Open Graph, then Twitter cards, then JSON-LD,
//! then plain HTML (`<meta name>`, `<title>`, `<link>`), then site rules
//! (`mp.weixin.qq.com`) and guesses from the body (bylines, the first
//! picture). All URLs come out absolute (against `<base href>` when present)
//! and http(s) only; text is entity-decoded, whitespace-collapsed, trimmed
//! and capped. One linear pass over the head and a bounded part of the body;
//! never fails, never panics.
//!
//! ```
//! let page = r#"<html lang="zh-CN"><head><meta property="og:title" content="保温杯 &amp; 茶杯">
//!   <meta property="og:image" content="/img/1.jpg"><script type="application/ld+json">
//!   {"@type":"Product","offers":{"price":"199.00","priceCurrency":"CNY"}}</script></head></html>"#;
//! let url = url::Url::parse("https://item.taobao.com/item.htm?id=1").unwrap();
//! let p = kaifang_preview::extract(page.as_bytes(), &url, None, &Default::default());
//! assert_eq!(p.title.as_deref(), Some("保温杯 & 茶杯"));
//! assert_eq!(p.image.as_deref(), Some("https://item.taobao.com/img/1.jpg"));
//! assert_eq!((p.price.as_deref(), p.kind), (Some("199.00"), kaifang_preview::PreviewKind::Product));
//! ```
#![deny(missing_docs)]

mod charset;
mod collect;
mod config;
mod date;
mod fields;
mod html;
mod jsonld;
mod preview;
mod site_rules;
mod text;

use url::Url;

pub use config::ExtractConfig;
pub use preview::{Preview, PreviewKind, apply_oembed};

/// Extracts the preview of a page. Never fails: unknown fields are `None`.
pub fn extract(
    html: &[u8],
    page_url: &Url,
    content_type: Option<&str>,
    cfg: &ExtractConfig,
) -> Preview {
    let bytes = &html[..html.len().min(cfg.max_scan_bytes)];
    let page = charset::decode(bytes, content_type);
    let host = page_url.host_str().unwrap_or("");
    let raw = collect::collect(
        &page,
        collect::Limits {
            want_scripts: site_rules::wants_scripts(host),
            body_budget: cfg.max_body_scan_bytes,
            max_capture: cfg.max_capture_bytes,
        },
    );
    let base = raw
        .base
        .and_then(|b| page_url.join(&text::decode_entities(b.trim())).ok())
        .unwrap_or_else(|| page_url.clone());
    let site = site_rules::apply(host, &raw.scripts);
    let c = fields::Ctx {
        raw: &raw,
        base,
        cfg,
    };
    let (price, currency) = fields::price(&c);
    let mut p = Preview {
        url: fields::canonical(&c, page_url),
        title: fields::title(&c, &site),
        description: fields::description(&c, &site),
        image: fields::image(&c, &site),
        icon: fields::icon(&c),
        publisher: fields::publisher(&c, &site),
        author: fields::author(&c),
        date: fields::date(&c),
        lang: fields::lang(&c),
        price,
        currency,
        video: fields::video(&c),
        kind: PreviewKind::Page,
        oembed_url: c.url_of(raw.oembed),
    };
    p.kind = fields::kind(&c, &p);
    p
}
