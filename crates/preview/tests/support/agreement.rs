//! Agreement with metascraper's fixtures (`shared/corpora/link-preview`),
//! shared by the corpus test and the `corpus` example. URLs are compared
//! after normalisation, text after whitespace collapse with metascraper's
//! smart quotes and `…` folded back, dates exactly (both are UTC ISO 8601
//! with milliseconds).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use kaifang_preview::Preview;
use serde_json::Value;

/// The fields compared, in print order.
pub const FIELDS: [&str; 9] = [
    "title",
    "description",
    "image",
    "publisher",
    "url",
    "lang",
    "author",
    "date",
    "video",
];
const URL_FIELDS: [&str; 3] = ["image", "url", "video"];

/// `$KAIFANG_CORPORA/link-preview`, else `shared/corpora/link-preview`
/// beside the repository.
pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("KAIFANG_CORPORA") {
        Some(dir) => PathBuf::from(dir).join("link-preview"),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/link-preview")
        }
    }
}

/// One fixture: its name, page URL, bytes and expected values.
pub struct Fixture {
    pub name: String,
    pub url: url::Url,
    pub html: Vec<u8>,
    pub expected: Value,
}

/// Every fixture listed in `index.json`.
pub fn load() -> Vec<Fixture> {
    let dir = corpus_dir();
    let index = std::fs::read(dir.join("index.json")).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (set KAIFANG_CORPORA to the folder holding link-preview/)",
            dir.display()
        )
    });
    let index: Value = serde_json::from_slice(&index).unwrap();
    index["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|fx| {
            let name = fx["name"].as_str().unwrap().to_owned();
            let read = |f: &str| std::fs::read(dir.join(&name).join(f)).unwrap();
            let expected: Value = serde_json::from_slice(&read("expected.json")).unwrap();
            let url = url::Url::parse(expected["page_url"].as_str().unwrap()).unwrap();
            Fixture {
                html: read("input.html"),
                name,
                url,
                expected,
            }
        })
        .collect()
}

fn fold(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| match c {
            '‘' | '’' => '\'',
            '“' | '”' => '"',
            c => c,
        })
        .collect();
    let s = s.replace('…', "...");
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Percent-decoding until stable: metascraper's normalize-url decodes
/// where we keep the page's encoding; both name the same resource.
fn unescape(s: &str) -> String {
    let mut cur = s.to_owned();
    for _ in 0..3 {
        let bytes = cur.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if bytes[i] == b'%'
                && let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        let next = String::from_utf8_lossy(&out).into_owned();
        if next == cur {
            break;
        }
        cur = next;
    }
    cur
}

fn norm_url(s: &str) -> String {
    let once = match url::Url::parse(s) {
        Ok(mut u) => {
            u.set_fragment(None);
            let mut out = u.to_string();
            if out.ends_with('/') && u.path() == "/" && u.query().is_none() {
                out.pop();
            }
            out.replace("://www.", "://")
        }
        Err(_) => s.to_owned(),
    };
    unescape(&once)
}

fn field<'a>(p: &'a Preview, name: &str) -> Option<&'a str> {
    match name {
        "title" => p.title.as_deref(),
        "description" => p.description.as_deref(),
        "image" => p.image.as_deref(),
        "publisher" => p.publisher.as_deref(),
        "author" => p.author.as_deref(),
        "lang" => p.lang.as_deref(),
        "url" => Some(p.url.as_str()),
        "video" => p.video.as_deref(),
        "date" => p.date.as_deref(),
        _ => None,
    }
}

/// One field's pairs (ours, metascraper's expected value), by outcome.
/// Agreement on values is kept apart from agreement on absence: "both
/// empty" says nothing about how well a value is found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// Both have a value, and they agree.
    pub same: usize,
    /// Neither has a value.
    pub both_empty: usize,
    /// Both have a value, and they differ.
    pub differ: usize,
    /// We have a value, they have none.
    pub ours_only: usize,
    /// They have a value, we have none.
    pub theirs_only: usize,
}

impl Count {
    /// Pairs where at least one side has a value: what value agreement is
    /// out of.
    pub fn with_value(&self) -> usize {
        self.same + self.differ + self.ours_only + self.theirs_only
    }

    /// Every pair compared.
    pub fn pairs(&self) -> usize {
        self.with_value() + self.both_empty
    }

    /// One line: value agreement, then absence, then each kind of
    /// disagreement.
    pub fn describe(&self) -> String {
        format!(
            "values {:>2}/{:<2} {:>5.1}%  both empty {:>2}  differ {}  ours only {}  theirs only {}",
            self.same,
            self.with_value(),
            100.0 * self.value_rate(),
            self.both_empty,
            self.differ,
            self.ours_only,
            self.theirs_only
        )
    }

    /// The share of agreeing values among pairs with a value (1.0 when no
    /// pair has one: nothing to disagree on).
    pub fn value_rate(&self) -> f64 {
        match self.with_value() {
            0 => 1.0,
            n => self.same as f64 / n as f64,
        }
    }
}

/// Per field, its pairs by outcome.
pub type Tally = BTreeMap<&'static str, Count>;

/// Compares previews (in fixture order) with the expected values; returns
/// the tally and one line per disagreement.
pub fn compare(fixtures: &[Fixture], previews: &[Preview]) -> (Tally, Vec<String>) {
    let mut tally = Tally::new();
    let mut misses = Vec::new();
    for (fx, p) in fixtures.iter().zip(previews) {
        for f in FIELDS {
            let Some(want) = fx.expected.get(f) else {
                continue;
            };
            let got = field(p, f);
            let e = tally.entry(f).or_default();
            let (outcome, agrees) = match (want.as_str(), got) {
                (None, None) => (&mut e.both_empty, true),
                (None, Some(_)) => (&mut e.ours_only, false),
                (Some(_), None) => (&mut e.theirs_only, false),
                (Some(w), Some(g)) => {
                    let same = if URL_FIELDS.contains(&f) {
                        norm_url(w) == norm_url(g)
                    } else if f == "date" {
                        w == g
                    } else {
                        fold(w) == fold(g)
                    };
                    if same {
                        (&mut e.same, true)
                    } else {
                        (&mut e.differ, false)
                    }
                }
            };
            *outcome += 1;
            if !agrees {
                misses.push(format!("{}.{f}: want {want} got {got:?}", fx.name));
            }
        }
    }
    (tally, misses)
}

/// The share of agreeing values of `field` among pairs with a value.
pub fn rate(tally: &Tally, field: &str) -> f64 {
    tally.get(field).map_or(0.0, Count::value_rate)
}
