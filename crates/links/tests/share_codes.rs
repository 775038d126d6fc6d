//! Share codes (issue 12): the made-up corpus in `tests/share_codes/corpus.jsonl` (share texts in the
//! platforms' formats, and look-alikes: prices, emoticons, hashtags), and the bad-input cases.
//! `cargo test -p kaifang-links --test share_codes -- --nocapture` prints precision and recall.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use kaifang_links::{Registry, extract};

const CORPUS: &str = include_str!("share_codes/corpus.jsonl");

fn found(registry: &Registry, text: &str) -> Vec<(String, String)> {
    let urls: Vec<_> = extract(text)
        .iter()
        .map(|u| u.byte_start..u.byte_end)
        .collect();
    registry
        .find_share_codes(text, &urls, 1_000)
        .iter()
        .map(|c| {
            let platform = registry.platforms()[c.platform].id.clone();
            (c.code.to_owned(), platform)
        })
        .collect()
}

#[test]
fn corpus_precision_and_recall() {
    let registry = Registry::builtin().unwrap();
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    let (mut positives, mut lookalikes) = (0, 0);
    let mut misses = Vec::new();
    for line in CORPUS.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = case["text"].as_str().unwrap();
        let expected: Vec<(String, String)> = case["codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c[0].as_str().unwrap().to_owned(),
                    c[1].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        if expected.is_empty() {
            lookalikes += 1;
        } else {
            positives += 1;
        }
        let got = found(&registry, text);
        // A code found with the wrong platform is both a false positive and a miss.
        for g in &got {
            if expected.contains(g) {
                tp += 1;
            } else {
                fp += 1;
                misses.push(format!("false positive {g:?} in {text:?}"));
            }
        }
        for e in &expected {
            if !got.contains(e) {
                fn_ += 1;
                misses.push(format!("missed {e:?} in {text:?}"));
            }
        }
    }
    let precision = 100.0 * tp as f64 / (tp + fp).max(1) as f64;
    let recall = 100.0 * tp as f64 / (tp + fn_).max(1) as f64;
    println!(
        "share codes: {positives} share texts, {lookalikes} look-alikes: precision {precision:.1}% ({tp}/{}), recall {recall:.1}% ({tp}/{})",
        tp + fp,
        tp + fn_
    );
    for m in &misses {
        println!("  {m}");
    }
    assert!(positives >= 100 && lookalikes >= 100, "corpus too small");
    assert!(precision >= 98.0, "precision {precision:.1}% < 98%");
    assert!(recall >= 95.0, "recall {recall:.1}% < 95%");
}

#[test]
fn full_and_half_width_delimiters_are_both_codes() {
    let registry = Registry::builtin().unwrap();
    for (text, code) in [
        ("￥Ab3dE5fG7hK￥", "￥Ab3dE5fG7hK￥"),
        ("¥Ab3dE5fG7hK¥", "¥Ab3dE5fG7hK¥"),
        ("＄Ab3dE5fG7hK＄", "＄Ab3dE5fG7hK＄"),
        ("$Ab3dE5fG7hK$", "$Ab3dE5fG7hK$"),
        ("(Ab3dE5fG7hK) 打开淘宝", "(Ab3dE5fG7hK)"),
        ("（Ab3dE5fG7hK） 打开淘宝", "（Ab3dE5fG7hK）"),
        ("Tlp:/ 复制打开抖音", "Tlp:/"),
        ("Tlp：/ 复制打开抖音", "Tlp：/"),
    ] {
        let got = found(&registry, text);
        assert_eq!(got.len(), 1, "{text}: {got:?}");
        assert_eq!(got[0].0, code, "{text}");
    }
    // Brackets without a cue are ordinary parentheses.
    assert!(found(&registry, "(Ab3dE5fG7hK)").is_empty());
}

/// The byte-level pre-check that skips the scan on most messages must not lose a code: every
/// delimiter pair of every registered format, at the very start and the very end of a message.
#[test]
fn every_registered_delimiter_is_found_at_either_end_of_a_message() {
    let registry = Registry::builtin().unwrap();
    let mut checked = 0;
    for platform in registry.platforms() {
        for format in &platform.share_codes {
            // Mixes all three classes, so any `min_classes` is met once it is 3 long.
            let body: String = "aB3cD4eF5gH6iJ7kL8mN9pQ2rS3tU4vW5xY6zA7bC8dE9"
                .chars()
                .take(format.min_len.max(3).min(format.max_len))
                .collect();
            let cue = format.cues.first().map(String::as_str).unwrap_or("");
            for (open, close) in &format.delimiters {
                let code = format!("{open}{body}{close}");
                for text in [format!("{code} {cue}"), format!("{cue} {code}")] {
                    let got = found(&registry, &text);
                    assert!(
                        got.iter().any(|(c, _)| *c == code),
                        "{}: {text:?} gave {got:?}",
                        platform.id
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(
        checked >= 40,
        "only {checked} cases: the registry lost its formats?"
    );
}

#[test]
fn codes_split_across_lines_are_not_codes_but_one_per_line_are() {
    let registry = Registry::builtin().unwrap();
    assert!(found(&registry, "￥Ab3dE\n5fG7hK￥ 淘宝").is_empty());
    assert!(found(&registry, "￥\nAb3dE5fG7hK￥").is_empty());
    let two = found(&registry, "￥Ab3dE5fG7hK￥\n￥Zz9yX8wV7uT￥\n打开淘宝");
    assert_eq!(
        two.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        ["￥Ab3dE5fG7hK￥", "￥Zz9yX8wV7uT￥"]
    );
}

#[test]
fn a_code_inside_a_url_is_not_counted_twice() {
    let registry = Registry::builtin().unwrap();
    let text =
        "淘宝 https://s.click.taobao.com/t?e=(Ab3dE5fG7hK)&x=/Zz9yX8wV7uT/ 和 ￥Qq1wE2rT3yU￥";
    let got = found(&registry, text);
    assert_eq!(got, [("￥Qq1wE2rT3yU￥".to_owned(), "taobao".to_owned())]);
    // Without the URL spans the same codes would be found: the skipping is what prevents it.
    assert_eq!(registry.find_share_codes(text, &[], 10).len(), 3);
}

#[test]
fn codes_before_between_and_after_urls_are_all_found() {
    // Only the text between URLs is scanned: a code touching a URL's either end, or
    // alone between two URLs, must still be found.
    let registry = Registry::builtin().unwrap();
    let code = |c: &str| (c.to_owned(), "taobao".to_owned());
    let text =
        "￥Aa1bB2cC3dD￥https://a.example/x ￥Ee4fF5gG6hH￥ https://b.example/y￥Ii7jJ8kK9lL￥";
    assert_eq!(
        found(&registry, text),
        [
            code("￥Aa1bB2cC3dD￥"),
            code("￥Ee4fF5gG6hH￥"),
            code("￥Ii7jJ8kK9lL￥")
        ]
    );
    // A message that is all URL has nothing to scan.
    assert!(found(&registry, "https://s.click.taobao.com/t?e=(Ab3dE5fG7hK)").is_empty());
}

#[test]
fn spans_count_code_points_and_utf16_units() {
    let registry = Registry::builtin().unwrap();
    let text = "😀淘宝 ￥Ab3dE5fG7hK￥";
    let c = &registry.find_share_codes(text, &[], 10)[0];
    assert_eq!(&text[c.byte_start..c.byte_end], c.code);
    assert_eq!((c.start, c.end), (4, 17));
    assert_eq!((c.start_utf16, c.end_utf16), (5, 18));
}

#[test]
fn the_nearest_cue_names_the_platform() {
    let registry = Registry::builtin().unwrap();
    let text = "￥Ab3dE5fG7hK￥ 打开淘宝\n拼多多百亿补贴 ￥Zz9yX8wV7uT￥";
    let got = found(&registry, text);
    let platforms: Vec<&str> = got.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(platforms, ["taobao", "pinduoduo"]);
}

/// 16 KiB of nothing but code-like tokens: every one is a code, the scan stops at the cap, and
/// doubling the text does not much more than double the time (linear, not quadratic).
#[test]
fn sixteen_kib_of_code_like_tokens_is_linear_and_capped() {
    let registry = Registry::builtin().unwrap();
    let token = "(Ab3dE5fG7hK)￥Zz9yX8wV7uT￥淘宝 ";
    let make = |bytes: usize| token.repeat(bytes / token.len() + 1);
    let small = make(16 * 1024);
    assert!(small.len() >= 16 * 1024);
    let all = registry.find_share_codes(&small, &[], usize::MAX);
    assert_eq!(all.len(), 2 * (small.len() / token.len()));
    assert_eq!(registry.find_share_codes(&small, &[], 50).len(), 50);
    // Work, not wall time, is what is compared: the best of several runs of each size, with a
    // bound generous enough for a loaded machine (quadratic work would be 4x per doubling).
    let best = |text: &str| {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(registry.find_share_codes(text, &[], usize::MAX));
                t.elapsed()
            })
            .min()
            .unwrap()
    };
    let big = make(16 * 16 * 1024);
    let (t_small, t_big) = (best(&small), best(&big));
    assert!(
        t_big < t_small * 16 * 4 + Duration::from_millis(50),
        "16x the text took {t_big:?} vs {t_small:?}"
    );
}

#[test]
fn registry_errors_name_the_share_code_field() {
    let bad = "[owners.a]\nname = \"A\"\n[[platforms]]\nid = \"x\"\nname = \"X\"\nowner = \"a\"\ncategory = \"video\"\ndomains = [\"x.com\"]\n[[platforms.share_codes]]\ndelimiters = [[\"(\", \")\"]]\nlength = [8, 4]\n";
    let e = Registry::from_toml_str(bad).unwrap_err().to_string();
    assert!(e.contains("share_codes") && e.contains("length"), "{e}");
    let no_cue = bad.replace("[8, 4]", "[4, 8]\ncue_required = true");
    let e = Registry::from_toml_str(&no_cue).unwrap_err().to_string();
    assert!(e.contains("cue"), "{e}");
}
