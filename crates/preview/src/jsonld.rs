//! JSON-LD: `Product` (offers price and currency), `VideoObject`,
//! `Article`-like types (author, date), and the page's `name`/`image`/
//! `publisher`, through `@graph` and arrays. The first value found wins.
use serde_json::Value;

/// What JSON-LD says about the page.
#[derive(Default, Debug)]
pub struct Facts {
    pub kind: Option<&'static str>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub image: Option<String>,
    /// Author names, several joined with " and ".
    pub author: Option<String>,
    /// A product's brand: who made it, when there is no author.
    pub brand: Option<String>,
    pub published: Option<String>,
    pub modified: Option<String>,
    pub publisher: Option<String>,
    pub lang: Option<String>,
    pub price: Option<String>,
    pub currency: Option<String>,
    pub video: Option<String>,
}

fn types(v: &Value) -> Vec<&str> {
    match &v["@type"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(a) => a.iter().find_map(string),
        Value::Object(_) => string(&v["name"]),
        _ => None,
    }
}

/// Names of people: a string, `{"name"}`, or an array of either.
fn names(v: &Value) -> Option<String> {
    let list: Vec<String> = match v {
        Value::Array(a) => a.iter().take(8).filter_map(string).collect(),
        v => string(v).into_iter().collect(),
    };
    (!list.is_empty()).then(|| list.join(" and "))
}

fn url_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Array(a) => a.iter().find_map(url_of),
        Value::Object(_) => url_of(&v["url"]).or_else(|| url_of(&v["contentUrl"])),
        _ => None,
    }
}

fn first<T>(slot: &mut Option<T>, value: impl FnOnce() -> Option<T>) {
    if slot.is_none() {
        *slot = value();
    }
}

const ARTICLES: [&str; 7] = [
    "Article",
    "NewsArticle",
    "BlogPosting",
    "Report",
    "ScholarlyArticle",
    "TechArticle",
    "ReportageNewsArticle",
];

/// Types that describe the page itself (not its site, breadcrumbs, or
/// the organisation behind it).
const MAIN: [&str; 8] = [
    "Product",
    "ProductGroup",
    "VideoObject",
    "WebPage",
    "ItemPage",
    "Recipe",
    "Event",
    "PodcastEpisode",
];

fn offers(f: &mut Facts, offers: &Value) {
    let offer = match offers {
        Value::Array(a) => a.first().unwrap_or(&Value::Null),
        o => o,
    };
    first(&mut f.price, || {
        string(&offer["price"]).or_else(|| string(&offer["lowPrice"]))
    });
    first(&mut f.currency, || string(&offer["priceCurrency"]));
}

fn visit(v: &Value, f: &mut Facts, depth: usize) {
    if depth > 8 {
        return;
    }
    match v {
        Value::Array(items) => items.iter().take(256).for_each(|i| visit(i, f, depth + 1)),
        Value::Object(map) => {
            if let Some(graph) = map.get("@graph") {
                visit(graph, f, depth + 1);
            }
            // Whoever the node is, its publisher and author are the page's.
            first(&mut f.publisher, || string(&v["publisher"]));
            first(&mut f.author, || names(&v["author"]));
            let t = types(v);
            let is = |list: &[&str]| t.iter().any(|x| list.contains(x));
            if is(&["Product", "ProductGroup"]) {
                first(&mut f.kind, || Some("product"));
                offers(f, &v["offers"]);
                first(&mut f.brand, || string(&v["brand"]));
            }
            if is(&["VideoObject"]) {
                first(&mut f.kind, || Some("video"));
                first(&mut f.video, || url_of(&v["contentUrl"]));
                first(&mut f.image, || url_of(&v["thumbnailUrl"]));
                first(&mut f.published, || string(&v["uploadDate"]));
            }
            if is(&ARTICLES) {
                first(&mut f.kind, || Some("article"));
                first(&mut f.title, || string(&v["headline"]));
            }
            if is(&ARTICLES) || is(&MAIN) {
                first(&mut f.published, || string(&v["datePublished"]));
                first(&mut f.modified, || string(&v["dateModified"]));
                first(&mut f.title, || string(&v["name"]));
                first(&mut f.description, || string(&v["description"]));
                first(&mut f.image, || url_of(&v["image"]));
                first(&mut f.lang, || string(&v["inLanguage"]));
            }
        }
        _ => {}
    }
}

/// Adds what one `<script type="application/ld+json">` says. Scripts
/// that are not JSON (comments, trailing semicolons) are skipped.
pub fn read(script: &str, f: &mut Facts) {
    let s = script.trim();
    let s = s
        .strip_prefix("<!--")
        .and_then(|s| s.strip_suffix("-->"))
        .unwrap_or(s)
        .trim()
        .trim_end_matches(';');
    if let Ok(v) = serde_json::from_str::<Value>(s) {
        visit(&v, f, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_videos_and_articles() {
        let mut f = Facts::default();
        read(
            r#"{"@context":"https://schema.org","@type":"Product","name":"保温杯","image":["https://img.test/a.jpg"],
                "brand":{"@type":"Brand","name":"象印"},
                "offers":{"@type":"Offer","price":"199.00","priceCurrency":"CNY"}}"#,
            &mut f,
        );
        assert_eq!(
            (f.kind, f.price.as_deref(), f.currency.as_deref()),
            (Some("product"), Some("199.00"), Some("CNY"))
        );
        assert_eq!(f.image.as_deref(), Some("https://img.test/a.jpg"));
        assert_eq!(f.brand.as_deref(), Some("象印"));

        let mut f = Facts::default();
        read(
            r#"{"@graph":[{"@type":"WebSite","name":"x"},{"@type":"NewsArticle","headline":"H",
                 "author":[{"@type":"Person","name":"Li Wei"},{"name":"Wang Fang"}],
                 "datePublished":"2021-09-17T08:00:00+08:00","publisher":{"name":"Caixin"}}]}"#,
            &mut f,
        );
        assert_eq!(
            (f.kind, f.author.as_deref(), f.publisher.as_deref()),
            (
                Some("article"),
                Some("Li Wei and Wang Fang"),
                Some("Caixin")
            )
        );
        assert_eq!(f.title.as_deref(), Some("H"));
        assert_eq!(f.published.as_deref(), Some("2021-09-17T08:00:00+08:00"));

        let mut f = Facts::default();
        read(
            r#"[{"@type":"VideoObject","name":"v","contentUrl":"https://v.test/1.mp4","thumbnailUrl":"https://v.test/1.jpg"}]"#,
            &mut f,
        );
        assert_eq!(
            (f.kind, f.video.as_deref(), f.image.as_deref()),
            (
                Some("video"),
                Some("https://v.test/1.mp4"),
                Some("https://v.test/1.jpg")
            )
        );

        let mut f = Facts::default();
        read(
            r#"<!-- {"@type":"Product","offers":[{"@type":"AggregateOffer","lowPrice":9.9,"priceCurrency":"USD"}]}; -->"#,
            &mut f,
        );
        assert_eq!(f.price.as_deref(), Some("9.9"));
        read("{not json", &mut f);
    }
}
