//! Precedence: which raw value becomes each field of the [`Preview`].
//! Open Graph, then Twitter cards, then JSON-LD, then plain HTML, then
//! the site rules and last-resort guesses from the body; exceptions are
//! commented where they are made (and listed in `docs/previews.md`).
use url::Url;

use crate::collect::{Raw, Rule};
use crate::site_rules::Found;
use crate::{ExtractConfig, Preview, PreviewKind, date, text};

/// File extensions of videos a client can play (as metascraper's list).
const VIDEO_EXTENSIONS: [&str; 12] = [
    "mp4", "m4v", "webm", "mov", "ogv", "ogg", "m3u8", "mkv", "avi", "flv", "3gp", "mpd",
];

pub struct Ctx<'r, 'a> {
    pub raw: &'r Raw<'a>,
    pub base: Url,
    pub cfg: &'r ExtractConfig,
}

impl<'a> Ctx<'_, 'a> {
    /// The first non-blank `<meta>` among `keys`.
    fn m(&self, keys: &[&str]) -> Option<&'a str> {
        keys.iter().find_map(|k| {
            self.raw
                .meta
                .get(*k)
                .copied()
                .filter(|v| !v.trim().is_empty())
        })
    }

    /// `href` resolved against the base; http(s) only.
    pub fn url_of(&self, href: Option<&str>) -> Option<String> {
        self.url(href)
    }

    fn url(&self, href: Option<&str>) -> Option<String> {
        let href = text::decode_entities(href?.trim());
        if href.is_empty() || href.len() > self.cfg.max_url_bytes {
            return None;
        }
        let u = self.base.join(&href).ok()?;
        matches!(u.scheme(), "http" | "https").then(|| u.to_string())
    }

    fn short(&self, s: Option<&str>) -> Option<String> {
        text::text(s?, self.cfg.max_short_chars)
    }
}

/// "By Jane Doe" → "Jane Doe"; URLs and over-long texts are no names.
fn author_name(s: &str) -> Option<String> {
    let s = s.trim();
    let s = ["by:", "by "]
        .iter()
        .find_map(|p| {
            s.get(..p.len())
                .filter(|h| h.eq_ignore_ascii_case(p))
                .map(|_| s[p.len()..].trim())
        })
        .unwrap_or(s);
    let url_like = s.contains("://") || s.starts_with("www.");
    (!s.is_empty() && !url_like && s.chars().count() <= 128).then(|| s.to_owned())
}

/// Body texts are trusted as names only with at least two words (as
/// metascraper's "strict" rules), and a byline must not be a date.
fn strict(s: &str) -> bool {
    let mut words = s.split_whitespace();
    let two = words.next().is_some() && words.next().is_some();
    two && !s.chars().next().is_some_and(|c| c.is_ascii_digit())
}

pub fn title(c: &Ctx, site: &Found) -> Option<String> {
    let max = c.cfg.max_title_chars;
    let t = |s: Option<&str>| text::text(s?, max);
    t(c.m(&["og:title"]))
        .or_else(|| t(c.m(&["twitter:title"])))
        .or_else(|| t(c.raw.jsonld.title.as_deref()))
        .or_else(|| t(c.raw.title))
        .or_else(|| t(site.title.as_deref()))
        .or_else(|| t(c.raw.text(Rule::HeadingTitle)))
        .or_else(|| t(c.raw.text(Rule::H1)))
}

pub fn description(c: &Ctx, site: &Found) -> Option<String> {
    let max = c.cfg.max_description_chars;
    let t = |s: Option<&str>| text::text(s?, max);
    t(c.m(&["og:description"]))
        .or_else(|| t(c.m(&["twitter:description"])))
        .or_else(|| t(c.raw.jsonld.description.as_deref()))
        .or_else(|| t(c.m(&["description", "dc.description"])))
        .or_else(|| t(site.description.as_deref()))
        .or_else(|| t(c.raw.text(Rule::Paragraph)))
}

pub fn image(c: &Ctx, site: &Found) -> Option<String> {
    c.url(c.m(&["og:image:secure_url", "og:image:url", "og:image"]))
        .or_else(|| c.url(c.m(&["twitter:image", "twitter:image:src"])))
        .or_else(|| c.url(c.raw.jsonld.image.as_deref()))
        .or_else(|| c.url(c.raw.image_src.or(c.m(&["image", "thumbnail"]))))
        .or_else(|| c.url(site.image.as_deref()))
        .or_else(|| c.url(c.raw.poster))
        .or_else(|| c.url(c.raw.article_img))
        .or_else(|| c.url(c.raw.first_img))
}

/// "Article – Site Name" → "Site Name": the last part of a `<title>`
/// after a separator, when it is short enough to be a name.
fn publisher_from_title(title: &str) -> Option<String> {
    [" | ", " - ", " – ", " — ", " · ", " :: "]
        .iter()
        .filter_map(|sep| title.rsplit_once(sep).map(|(_, last)| last.trim()))
        .filter(|last| {
            !last.is_empty() && last.chars().count() <= 40 && last.split_whitespace().count() <= 5
        })
        .min_by_key(|last| last.len())
        .map(str::to_owned)
}

/// `[class*=logo] img[alt]`: "Los Angeles Rams logo" → "Los Angeles Rams";
/// file-like alts (`site_logo_black`) name nothing.
fn publisher_from_logo(alt: &str) -> Option<String> {
    let alt = text::text(alt, 80)?;
    let alt = alt
        .strip_suffix(" logo")
        .or_else(|| alt.strip_suffix(" Logo"))
        .unwrap_or(&alt);
    let file_like = !alt.contains(' ') && (alt.contains('_') || alt.contains('.'));
    let generic = alt.eq_ignore_ascii_case("logo") || alt.eq_ignore_ascii_case("home");
    (!file_like && !generic && !alt.is_empty()).then(|| alt.to_owned())
}

pub fn publisher(c: &Ctx, site: &Found) -> Option<String> {
    // JSON-LD's `publisher` names the publisher itself, so it comes before
    // og:site_name (which often names the domain: "NPR.org").
    c.short(c.raw.jsonld.publisher.as_deref())
        .or_else(|| c.short(c.m(&["og:site_name"])))
        .or_else(|| {
            c.short(c.m(&[
                "application-name",
                "apple-mobile-web-app-title",
                "publisher",
                "al:android:app_name",
                "al:iphone:app_name",
                "twitter:app:name:iphone",
                "twitter:app:name:googleplay",
            ]))
        })
        .or_else(|| c.short(site.publisher.as_deref()))
        .or_else(|| c.raw.logo_alt.and_then(publisher_from_logo))
        .or_else(|| {
            c.raw
                .title
                .and_then(|t| publisher_from_title(&text::decode_entities(t)))
        })
}

pub fn author(c: &Ctx) -> Option<String> {
    let clean = |s: Option<&str>| c.short(s).as_deref().and_then(author_name);
    let body = |r: Rule| clean(c.raw.text(r));
    let body_strict = |r: Rule| body(r).filter(|s| strict(s));
    clean(c.m(&["article:author"]))
        .or_else(|| clean(c.raw.jsonld.author.as_deref()))
        .or_else(|| clean(c.raw.jsonld.brand.as_deref()))
        .or_else(|| {
            clean(c.m(&[
                "author",
                "byl",
                "parsely-author",
                "dc.creator",
                "sailthru.author",
            ]))
        })
        .or_else(|| body(Rule::ItempropAuthor))
        .or_else(|| body(Rule::RelAuthor))
        .or_else(|| body_strict(Rule::AuthorClassLink))
        .or_else(|| body_strict(Rule::LinkInAuthorClass))
        .or_else(|| body_strict(Rule::AuthorHrefLink))
        .or_else(|| body_strict(Rule::AuthorClass))
        .or_else(|| body_strict(Rule::Byline))
        // A handle, not a name: the last resort.
        .or_else(|| clean(c.m(&["twitter:creator"]).map(|s| s.trim_start_matches('@'))))
}

pub fn date(c: &Ctx) -> Option<String> {
    let ld = &c.raw.jsonld;
    let published = [
        c.m(&[
            "article:published_time",
            "og:published_time",
            "video:release_date",
        ]),
        ld.published.as_deref(),
        c.m(&[
            "date",
            "pubdate",
            "publishdate",
            "dc.date",
            "dcterms.date",
            "datepublished",
        ]),
        c.raw.time,
        c.raw.date_attr,
    ];
    let modified = [
        c.m(&["article:modified_time", "og:updated_time"]),
        ld.modified.as_deref(),
        c.m(&["datemodified", "last-modified"]),
    ];
    published
        .into_iter()
        .chain(modified)
        .flatten()
        .find_map(|s| date::normalise(&text::decode_entities(s)))
        // Machine-readable dates first; then one written in the body.
        .or_else(|| c.raw.text(Rule::DateText).map(str::to_owned))
}

fn lang_code(s: &str) -> Option<String> {
    let code: String = s
        .trim()
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase();
    (code.len() == 2 || code.len() == 3).then_some(code)
}

pub fn lang(c: &Ctx) -> Option<String> {
    // The document's own `lang` beats og:locale, which CMSs often leave
    // at a default `en_US`.
    c.raw
        .lang
        .and_then(lang_code)
        .or_else(|| c.m(&["og:locale", "inlanguage"]).and_then(lang_code))
        .or_else(|| c.raw.jsonld.lang.as_deref().and_then(lang_code))
        .or_else(|| c.m(&["content-language", "language"]).and_then(lang_code))
}

/// A URL a client can play: a video file by its extension or declared
/// type. Player pages (`text/html`, `embedUrl`) are not videos to a chat
/// client, which would have to frame a third party to show them.
fn playable(c: &Ctx, src: Option<&str>, ty: Option<&str>) -> Option<String> {
    let u = c.url(src)?;
    let ty = ty.map(|t| t.trim().to_ascii_lowercase());
    if let Some(ty) = &ty {
        if ty.starts_with("video/") || ty.contains("mpegurl") {
            return Some(u);
        }
        if !ty.is_empty() {
            return None;
        }
    }
    let path = Url::parse(&u).ok()?.path().to_ascii_lowercase();
    let ext = path.rsplit_once('.').map(|(_, e)| e)?;
    VIDEO_EXTENSIONS.contains(&ext).then_some(u)
}

pub fn video(c: &Ctx) -> Option<String> {
    let og_type = c.m(&["og:video:type"]);
    playable(
        c,
        c.m(&["og:video:secure_url", "og:video:url", "og:video"]),
        og_type,
    )
    .or_else(|| {
        playable(
            c,
            c.m(&["twitter:player:stream"]),
            c.m(&["twitter:player:stream:content_type"]),
        )
    })
    .or_else(|| playable(c, c.raw.jsonld.video.as_deref(), None))
    .or_else(|| {
        c.raw
            .videos
            .iter()
            .find_map(|(src, ty)| playable(c, Some(src), *ty))
    })
}

pub fn icon(c: &Ctx) -> Option<String> {
    c.raw
        .icons
        .iter()
        .max_by_key(|(_, size)| *size)
        .and_then(|(href, _)| c.url(Some(href)))
        .or_else(|| c.base.join("/favicon.ico").ok().map(|u| u.to_string()))
}

pub fn canonical(c: &Ctx, page_url: &Url) -> String {
    c.url(c.m(&["og:url"]))
        .or_else(|| c.url(c.raw.canonical))
        .unwrap_or_else(|| page_url.to_string())
}

pub fn kind(c: &Ctx, p: &Preview) -> PreviewKind {
    let og_type = c.m(&["og:type"]).unwrap_or("").to_ascii_lowercase();
    let ld = c.raw.jsonld.kind;
    if p.price.is_some() || og_type.contains("product") || ld == Some("product") {
        PreviewKind::Product
    } else if og_type.starts_with("video") || ld == Some("video") || p.video.is_some() {
        PreviewKind::Video
    } else if og_type == "article" || ld == Some("article") {
        PreviewKind::Article
    } else {
        PreviewKind::Page
    }
}

pub fn price(c: &Ctx) -> (Option<String>, Option<String>) {
    let t = |s: Option<&str>, max| text::text(s?, max);
    let ld = &c.raw.jsonld;
    let price = t(c.m(&["product:price:amount", "og:price:amount"]), 32)
        .or_else(|| t(ld.price.as_deref(), 32));
    let currency = t(c.m(&["product:price:currency", "og:price:currency"]), 8)
        .or_else(|| t(ld.currency.as_deref(), 8));
    (price, currency)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_titles_and_logos() {
        assert_eq!(author_name("By Jane Doe").as_deref(), Some("Jane Doe"));
        assert_eq!(author_name("https://facebook.com/jane"), None);
        assert!(strict("Jane Doe") && !strict("Jane") && !strict("3 May 2016"));
        assert_eq!(
            publisher_from_title("Bob Dylan - Wikipedia").as_deref(),
            Some("Wikipedia")
        );
        assert_eq!(
            publisher_from_logo("Los Angeles Rams logo").as_deref(),
            Some("Los Angeles Rams")
        );
        assert_eq!(publisher_from_logo("audiense_logotype_black"), None);
    }
}
