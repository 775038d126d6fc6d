//! Conformance against the shared URL-extraction corpora (twitter-text and linkify-it fixtures).
//! Run with `cargo test -p kaifang-links --test conformance -- --nocapture` to see the rates.
//! The corpora are found at `$KAIFANG_CORPORA/url-extraction` or, by default, at
//! `<workspace>/../shared/corpora/url-extraction`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use kaifang_links::extract;
use serde_json::Value;

fn corpus_dir() -> PathBuf {
    match std::env::var_os("KAIFANG_CORPORA") {
        Some(dir) => PathBuf::from(dir).join("url-extraction"),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/url-extraction")
        }
    }
}

#[derive(Default)]
struct Tally {
    total: usize,
    passed: usize,
    failed: Vec<String>,
}

impl Tally {
    fn rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            100.0 * self.passed as f64 / self.total as f64
        }
    }
}

/// How a case is judged, per the corpus README.
#[derive(Clone, Copy)]
enum Judge {
    /// Exact ordered list equality, plus `[start, end)` code-point indices where given.
    Exact,
    /// Only the first extracted URL is compared with `expected[0]` (linkify-it links.txt).
    First,
}

fn run(file: &str, judge: Judge, keep: impl Fn(&Value) -> bool) -> Tally {
    let path = corpus_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut t = Tally::default();
    for line in text.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        if !keep(&case) {
            continue;
        }
        let input = case["text"].as_str().unwrap();
        let expected: Vec<&str> = case["expected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let found = extract(input);
        let got: Vec<&str> = found.iter().map(|f| f.url).collect();
        let ok = match judge {
            Judge::Exact => {
                let indices_ok = case
                    .get("indices")
                    .and_then(Value::as_array)
                    .is_none_or(|idx| {
                        let want: Vec<(u64, u64)> = idx
                            .iter()
                            .map(|p| (p[0].as_u64().unwrap(), p[1].as_u64().unwrap()))
                            .collect();
                        let have: Vec<(u64, u64)> = found
                            .iter()
                            .map(|f| (f.start as u64, f.end as u64))
                            .collect();
                        want == have
                    });
                got == expected && indices_ok
            }
            Judge::First => got.first() == expected.first(),
        };
        t.total += 1;
        if ok {
            t.passed += 1;
        } else {
            t.failed.push(format!(
                "{}: {:?} expected {:?} got {:?}",
                case["id"], input, expected, got
            ));
        }
    }
    println!("{file}: {}/{} passed ({:.1}%)", t.passed, t.total, t.rate());
    for f in &t.failed {
        println!("  FAIL {f}");
    }
    t
}

fn all(_: &Value) -> bool {
    true
}

fn twitter_text_agrees(case: &Value) -> bool {
    case["twitter_text_agrees"].as_bool() == Some(true)
}

#[test]
fn twitter_text_urls() {
    let t = run("twitter-text-urls.jsonl", Judge::Exact, all);
    assert_eq!(t.total, 108);
    assert!(
        t.rate() >= 98.0,
        "twitter-text conformance {:.1}% < 98%",
        t.rate()
    );
}

#[test]
fn twitter_text_tlds() {
    let t = run("twitter-text-tlds.jsonl", Judge::Exact, all);
    assert_eq!(
        t.passed, t.total,
        "every TLD of twitter-text's list is compiled in"
    );
}

#[test]
fn linkify_it_links() {
    let all_cases = run("linkify-it-links.jsonl", Judge::First, all);
    let agreed = run("linkify-it-links.jsonl", Judge::First, twitter_text_agrees);
    println!(
        "linkify-it-links.jsonl (cases where twitter-text agrees): {:.1}%",
        agreed.rate()
    );
    // Our convention is twitter-text's: where it agrees with linkify-it we must too.
    assert!(agreed.rate() >= 98.0, "{:.1}%", agreed.rate());
    assert!(all_cases.rate() >= 60.0, "{:.1}%", all_cases.rate());
}

#[test]
fn linkify_it_not_links() {
    let all_cases = run("linkify-it-not-links.jsonl", Judge::Exact, all);
    let agreed = run(
        "linkify-it-not-links.jsonl",
        Judge::Exact,
        twitter_text_agrees,
    );
    println!(
        "linkify-it-not-links.jsonl (cases where twitter-text agrees): {:.1}%",
        agreed.rate()
    );
    assert!(agreed.rate() >= 98.0, "{:.1}%", agreed.rate());
    assert!(all_cases.rate() >= 85.0, "{:.1}%", all_cases.rate());
}
