//! One pass over the page's tags, gathering the raw values each field may
//! come from. The head is read whole; once the body starts, only
//! `max_body_scan_bytes` more (JSON-LD, bylines, a fallback picture).
//! Nothing here decides precedence: that is `fields.rs`.
use std::collections::HashMap;

use crate::html::{self, Flow, Tag};
use crate::{date, jsonld, text};

/// Texts of body elements that the rules look for, in order of trust
/// within each field (as metascraper's selectors, without a DOM).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Rule {
    /// `[itemprop~=author]`
    ItempropAuthor,
    /// `[rel=author]`
    RelAuthor,
    /// `a[class*=author]`
    AuthorClassLink,
    /// `[class*=author] a`
    LinkInAuthorClass,
    /// `a[href*="/author/"]`
    AuthorHrefLink,
    /// `[class*=author]`
    AuthorClass,
    /// `[class*=byline]`
    Byline,
    /// `h1[class*=title]`, `.post-title`, `.entry-title`
    HeadingTitle,
    /// The first `<h1>`.
    H1,
    /// The first `<p>` long enough to be a summary.
    Paragraph,
    /// A date written in the body: `[itemprop=datePublished]`,
    /// `[class*=date]`, `.time`, `[class*=timestamp]`, `.published`,
    /// `.post-meta`, `<time>` without `datetime`. Kept only when its text
    /// holds a date ([`date::from_text`]), already normalised.
    DateText,
}

const RULES: usize = 11;
/// Shortest paragraph taken as a description, characters.
const MIN_PARAGRAPH_CHARS: usize = 50;

impl Rule {
    fn index(self) -> usize {
        self as usize
    }
}

/// An element whose text (or whose descendants) we are waiting for.
struct Open<'a> {
    /// `None` for a region (`[class*=author]`, `[class*=logo]`) that only
    /// tells us we are inside it.
    rule: Option<Rule>,
    region: Region,
    name: &'a str,
    depth: u32,
    start: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Region {
    None,
    Author,
    Logo,
    Svg,
    Article,
}

/// Everything the page says, raw (entities not yet decoded).
#[derive(Default)]
pub struct Raw<'a> {
    /// `<meta>` content by lower-cased `property`, `name`, `itemprop` and
    /// `http-equiv`; the first occurrence of each key wins.
    pub meta: HashMap<String, &'a str>,
    pub title: Option<&'a str>,
    pub base: Option<&'a str>,
    pub canonical: Option<&'a str>,
    pub lang: Option<&'a str>,
    /// Icon links with their largest declared size.
    pub icons: Vec<(&'a str, u32)>,
    pub image_src: Option<&'a str>,
    pub oembed: Option<&'a str>,
    pub jsonld: jsonld::Facts,
    /// Inline scripts, kept only for site rules that read them.
    pub scripts: Vec<&'a str>,
    pub first_img: Option<&'a str>,
    /// The first such picture inside an `<article>`.
    pub article_img: Option<&'a str>,
    pub poster: Option<&'a str>,
    /// `<video src>` and `<video><source src type>`, in page order.
    pub videos: Vec<(&'a str, Option<&'a str>)>,
    /// `<time datetime>` / `[itemprop*=date] content`.
    pub time: Option<&'a str>,
    /// A valid date in an attribute of a body element marked
    /// `itemprop=datePublished|dateCreated` (`content`, `datetime`, `title`:
    /// Blogger's `<abbr title>`).
    pub date_attr: Option<&'a str>,
    /// `[class*=logo] img[alt]`
    pub logo_alt: Option<&'a str>,
    /// Cleaned text found by each [`Rule`].
    pub texts: [Option<String>; RULES],
}

impl Raw<'_> {
    /// The text a body rule found.
    pub fn text(&self, rule: Rule) -> Option<&str> {
        self.texts[rule.index()].as_deref()
    }
}

/// Limits of one pass.
pub struct Limits {
    pub want_scripts: bool,
    pub body_budget: usize,
    pub max_capture: usize,
}

/// The tags this pass tells apart, classified once per tag.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Name {
    Meta,
    Link,
    Title,
    Script,
    Base,
    Html,
    Head,
    Body,
    Img,
    Video,
    Source,
    Svg,
    Time,
    H1,
    A,
    P,
    Article,
    /// Other elements that never have content.
    Void,
    Other,
}

fn classify(name: &str) -> Name {
    let b = name.as_bytes();
    let mut buf = [0u8; 7];
    if b.len() > buf.len() {
        return Name::Other;
    }
    for (d, s) in buf.iter_mut().zip(b) {
        *d = s.to_ascii_lowercase();
    }
    match &buf[..b.len()] {
        b"meta" => Name::Meta,
        b"link" => Name::Link,
        b"title" => Name::Title,
        b"script" => Name::Script,
        b"base" => Name::Base,
        b"html" => Name::Html,
        b"head" => Name::Head,
        b"body" => Name::Body,
        b"img" => Name::Img,
        b"video" => Name::Video,
        b"source" => Name::Source,
        b"svg" => Name::Svg,
        b"time" => Name::Time,
        b"h1" => Name::H1,
        b"a" => Name::A,
        b"p" => Name::P,
        b"article" => Name::Article,
        b"area" | b"br" | b"col" | b"embed" | b"hr" | b"input" | b"track" | b"wbr" | b"param" => {
            Name::Void
        }
        _ => Name::Other,
    }
}

/// Whether attribute text may name an author, byline, title, logo or date
/// (most tags say none). SIMD substring search; word starts may be
/// capitalised ("Author", "Byline", "datePublished"), all-capital class
/// names are missed.
struct Hints {
    finders: [memchr::memmem::Finder<'static>; 8],
}

impl Hints {
    fn new() -> Self {
        Self {
            finders: [
                b"uthor".as_slice(),
                b"yline",
                b"itle",
                b"ogo",
                b"ate",
                b"ime",
                b"ublish",
                b"ost-meta",
            ]
            .map(memchr::memmem::Finder::new),
        }
    }

    fn any(&self, attrs: &str) -> bool {
        let b = attrs.as_bytes();
        // Names like `class` need at least `="` and one word.
        b.len() >= 6 && self.finders.iter().any(|f| f.find(b).is_some())
    }
}

const MAX_VIDEOS: usize = 16;
const MAX_ICONS: usize = 64;
const MAX_OPEN: usize = 16;

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Tags that separate words; inline ones (`a`, `em`, `span`…) do not.
const BREAKS: [&str; 17] = [
    "br",
    "p",
    "div",
    "li",
    "td",
    "th",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "section",
    "blockquote",
];

/// The text of an element's inner HTML: tags dropped, entities decoded,
/// whitespace collapsed.
fn inner_text(inner: &str, max_chars: usize) -> Option<String> {
    let mut out = String::with_capacity(inner.len().min(512));
    let mut rest = inner;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let tag = &rest[lt + 1..];
        let name = tag
            .trim_start_matches('/')
            .split(|c: char| !c.is_ascii_alphanumeric())
            .next()
            .unwrap_or("");
        if BREAKS.iter().any(|b| b.eq_ignore_ascii_case(name)) {
            out.push(' ');
        }
        rest = match tag.find('>') {
            Some(gt) => &tag[gt + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    text::text(&out, max_chars)
}

struct Scanner<'a> {
    raw: Raw<'a>,
    limits: Limits,
    hints: Hints,
    body_start: usize,
    open: Vec<Open<'a>>,
}

impl<'a> Scanner<'a> {
    fn rule_wanted(&self, rule: Rule) -> bool {
        self.raw.texts[rule.index()].is_none()
            && !self.open.iter().any(|o| o.rule == Some(rule))
            && self.open.len() < MAX_OPEN
    }

    fn inside(&self, region: Region) -> bool {
        self.open.iter().any(|o| o.region == region)
    }

    fn open(&mut self, tag: &Tag<'a>, rule: Option<Rule>, region: Region, start: usize) {
        if rule.is_none_or(|r| self.rule_wanted(r)) && self.open.len() < MAX_OPEN {
            self.open.push(Open {
                rule,
                region,
                name: tag.name,
                depth: 1,
                start,
            });
        }
    }

    /// Start and end tags against the elements being captured.
    fn track(&mut self, html: &'a str, tag: &Tag<'a>) {
        let max = self.limits.max_capture;
        let mut i = 0;
        while i < self.open.len() {
            let o = &mut self.open[i];
            if tag.offset.saturating_sub(o.start) > max {
                // Too long to be a name or a title: give up on this element.
                self.open.swap_remove(i);
                continue;
            }
            if o.name.eq_ignore_ascii_case(tag.name) {
                if tag.closing {
                    o.depth -= 1;
                } else if !tag.self_closing() {
                    o.depth += 1;
                }
            }
            if o.depth == 0 {
                let o = self.open.swap_remove(i);
                if let Some(rule) = o.rule {
                    let inner = html.get(o.start..tag.offset).unwrap_or("");
                    let max = if rule == Rule::Paragraph { 1_000 } else { 300 };
                    let text = inner_text(inner, max).filter(|t| {
                        rule != Rule::Paragraph || t.chars().count() >= MIN_PARAGRAPH_CHARS
                    });
                    let text = if rule == Rule::DateText {
                        text.and_then(|t| date::from_text(&t))
                    } else {
                        text
                    };
                    // A miss leaves the rule open for the next element.
                    self.raw.texts[rule.index()] = text;
                }
                continue;
            }
            i += 1;
        }
    }

    /// Opens captures for a body element that a rule names.
    fn body_rules(&mut self, tag: &Tag<'a>, name: Name, start: usize) {
        let void = matches!(
            name,
            Name::Meta | Name::Link | Name::Base | Name::Img | Name::Source | Name::Void
        );
        if tag.closing || void || tag.self_closing() {
            return;
        }
        let attrs = tag.attrs;
        let is_a = name == Name::A;
        if name == Name::H1 {
            self.open(tag, Some(Rule::H1), Region::None, start);
        }
        if name == Name::P {
            self.open(tag, Some(Rule::Paragraph), Region::None, start);
        }
        let link_in_author = is_a && self.inside(Region::Author);
        if !link_in_author && !self.hints.any(attrs) {
            return;
        }
        let class = html::attr(attrs, "class").unwrap_or("");
        if html::attr(attrs, "itemprop").is_some_and(|p| contains_ci(p, "author")) {
            self.open(tag, Some(Rule::ItempropAuthor), Region::None, start);
        }
        if html::attr(attrs, "rel").is_some_and(|r| r.trim().eq_ignore_ascii_case("author")) {
            self.open(tag, Some(Rule::RelAuthor), Region::None, start);
        }
        let author_class = contains_ci(class, "author");
        if is_a && author_class {
            self.open(tag, Some(Rule::AuthorClassLink), Region::None, start);
        }
        if link_in_author {
            self.open(tag, Some(Rule::LinkInAuthorClass), Region::None, start);
        }
        if is_a && html::attr(attrs, "href").is_some_and(|h| contains_ci(h, "/author/")) {
            self.open(tag, Some(Rule::AuthorHrefLink), Region::None, start);
        }
        if author_class {
            self.open(tag, Some(Rule::AuthorClass), Region::None, start);
            self.open(tag, None, Region::Author, start);
        }
        if contains_ci(class, "byline") {
            self.open(tag, Some(Rule::Byline), Region::None, start);
        }
        let title_class = class
            .split_ascii_whitespace()
            .any(|c| c == "post-title" || c == "entry-title");
        if title_class || (name == Name::H1 && contains_ci(class, "title")) {
            self.open(tag, Some(Rule::HeadingTitle), Region::None, start);
        }
        if contains_ci(class, "logo") {
            self.open(tag, None, Region::Logo, start);
        }
        self.date_rules(tag, class, start);
    }

    /// Dates written in the body, for pages with none in their metadata.
    fn date_rules(&mut self, tag: &Tag<'a>, class: &str, start: usize) {
        let attrs = tag.attrs;
        let date_prop = html::attr(attrs, "itemprop")
            .is_some_and(|p| contains_ci(p, "datepublished") || contains_ci(p, "datecreated"));
        if date_prop && self.raw.date_attr.is_none() {
            self.raw.date_attr = ["content", "datetime", "title"]
                .into_iter()
                .filter_map(|k| html::attr(attrs, k))
                .find(|v| date::normalise(&text::decode_entities(v)).is_some());
        }
        let date_class = class.split_ascii_whitespace().any(|c| {
            contains_ci(c, "date")
                || contains_ci(c, "timestamp")
                || ["time", "published", "pubdate", "post-meta", "posted-on"]
                    .iter()
                    .any(|k| c.eq_ignore_ascii_case(k))
        });
        if date_prop || date_class {
            self.open(tag, Some(Rule::DateText), Region::None, start);
        }
    }

    fn meta(&mut self, attrs: &'a str) {
        let Some(content) = html::attr(attrs, "content") else {
            return;
        };
        for key in ["property", "name", "itemprop", "http-equiv"] {
            if let Some(k) = html::attr(attrs, key) {
                // The first occurrence wins, as in browsers' and peers' readers.
                self.raw
                    .meta
                    .entry(k.trim().to_ascii_lowercase())
                    .or_insert(content);
            }
        }
    }

    fn link(&mut self, attrs: &'a str) {
        let Some(href) = html::attr(attrs, "href") else {
            return;
        };
        let rel = html::attr(attrs, "rel").unwrap_or("").to_ascii_lowercase();
        let rels: Vec<&str> = rel.split_ascii_whitespace().collect();
        let raw = &mut self.raw;
        if rels.contains(&"canonical") {
            raw.canonical.get_or_insert(href);
        }
        let icon = rels.iter().any(|r| {
            matches!(
                *r,
                "icon" | "apple-touch-icon" | "apple-touch-icon-precomposed"
            )
        });
        if icon && raw.icons.len() < MAX_ICONS {
            let size = html::attr(attrs, "sizes")
                .and_then(|s| s.split(['x', 'X']).next())
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(if rels.contains(&"icon") { 16 } else { 180 });
            raw.icons.push((href, size));
        }
        if rels.contains(&"image_src") {
            raw.image_src.get_or_insert(href);
        }
        let oembed = html::attr(attrs, "type")
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json+oembed"));
        if rels.contains(&"alternate") && oembed {
            raw.oembed.get_or_insert(href);
        }
    }

    fn on(&mut self, html: &'a str, tag: Tag<'a>) -> Flow {
        if tag.offset > self.body_start.saturating_add(self.limits.body_budget) {
            return Flow::Stop;
        }
        self.track(html, &tag);
        let name = classify(tag.name);
        if tag.closing {
            if name == Name::Head {
                self.enter_body(tag.offset);
            }
            return Flow::Continue;
        }
        let attrs = tag.attrs;
        self.body_rules(&tag, name, tag.content_start);
        match name {
            Name::Meta => self.meta(attrs),
            Name::Link => self.link(attrs),
            // An SVG's `<title>` names a picture, not the page.
            Name::Title if self.raw.title.is_none() && !self.inside(Region::Svg) => {
                self.raw.title = tag.text;
            }
            Name::Script => {
                let ld = html::attr(attrs, "type")
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/ld+json"));
                if let Some(text) = tag.text {
                    if ld {
                        jsonld::read(text, &mut self.raw.jsonld);
                    } else if self.limits.want_scripts {
                        self.raw.scripts.push(text);
                    }
                }
            }
            Name::Base => self.raw.base = self.raw.base.or(html::attr(attrs, "href")),
            Name::Html => self.raw.lang = self.raw.lang.or(html::attr(attrs, "lang")),
            Name::Body => self.enter_body(tag.offset),
            Name::Img => self.img(attrs),
            Name::Video | Name::Source => self.video(&tag, name == Name::Video),
            Name::Article if !tag.self_closing() => {
                self.open(&tag, None, Region::Article, tag.content_start);
            }
            Name::Svg if !tag.self_closing() => {
                self.open(&tag, None, Region::Svg, tag.content_start);
            }
            Name::Time if self.raw.time.is_none() => {
                self.raw.time = html::attr(attrs, "datetime");
                if self.raw.time.is_none() && !tag.closing && !tag.self_closing() {
                    self.open(&tag, Some(Rule::DateText), Region::None, tag.content_start);
                }
            }
            _ => {}
        }
        Flow::Continue
    }

    fn enter_body(&mut self, at: usize) {
        self.body_start = self.body_start.min(at);
    }

    fn img(&mut self, attrs: &'a str) {
        if self.raw.logo_alt.is_none() && self.inside(Region::Logo) {
            self.raw.logo_alt = html::attr(attrs, "alt");
        }
        let in_article = self.raw.article_img.is_none() && self.inside(Region::Article);
        if self.raw.first_img.is_some() && !in_article {
            return;
        }
        // Tracking pixels and placeholders are not pictures of the page.
        let tiny = ["width", "height"]
            .iter()
            .any(|a| html::attr(attrs, a).is_some_and(|v| v.trim() == "1" || v.trim() == "0"));
        let hidden = html::attr(attrs, "aria-hidden").is_some_and(|v| v == "true");
        let src = html::attr(attrs, "src").filter(|s| !s.trim_start().starts_with("data:"));
        if !tiny && !hidden && src.is_some() {
            self.raw.first_img = self.raw.first_img.or(src);
            if in_article {
                self.raw.article_img = src;
            }
        }
    }

    fn video(&mut self, tag: &Tag<'a>, is_video: bool) {
        let attrs = tag.attrs;
        if is_video && self.raw.poster.is_none() {
            self.raw.poster = html::attr(attrs, "poster");
        }
        // `<source>` also serves `<picture>` and `<audio>`: only inside a video.
        let in_video = is_video
            || self
                .open
                .iter()
                .any(|o| o.name.eq_ignore_ascii_case("video"));
        if let Some(src) = html::attr(attrs, "src")
            && in_video
            && self.raw.videos.len() < MAX_VIDEOS
        {
            self.raw.videos.push((src, html::attr(attrs, "type")));
        }
        if is_video && !tag.self_closing() && self.open.len() < MAX_OPEN {
            self.open.push(Open {
                rule: None,
                region: Region::None,
                name: tag.name,
                depth: 1,
                start: tag.content_start,
            });
        }
    }
}

/// Gathers the raw values of `html`.
pub fn collect(html: &str, limits: Limits) -> Raw<'_> {
    let mut s = Scanner {
        raw: Raw::default(),
        limits,
        hints: Hints::new(),
        body_start: usize::MAX,
        open: Vec::new(),
    };
    html::scan(html, |tag| s.on(html, tag));
    s.raw
}
