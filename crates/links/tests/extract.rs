//! Extraction behaviour beyond the conformance corpora: Chinese text, IP literals, bidi flags,
//! hostile input (time stays linear), caps, and properties of spans.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use kaifang_links::{ExtractConfig, extract, extract_with};
use proptest::prelude::*;

fn urls(text: &str) -> Vec<&str> {
    extract(text).into_iter().map(|f| f.url).collect()
}

/// Generous bound for debug builds on a shared 2-core machine; linear scanning takes a few ms.
const HOSTILE_BUDGET: Duration = Duration::from_secs(2);

#[test]
fn chinese_text_around_urls() {
    let text = "看看这个https://item.taobao.com/item.htm?id=123很好";
    let found = extract(text);
    assert_eq!(found.len(), 1);
    let f = &found[0];
    assert_eq!(f.url, "https://item.taobao.com/item.htm?id=123");
    assert_eq!((f.start, f.end), (4, 43));
    assert_eq!((f.start_utf16, f.end_utf16), (4, 43));
    assert_eq!(&text[f.byte_start..f.byte_end], f.url);
    assert_eq!(f.byte_start, 12);
    assert!(f.has_scheme && !f.bidi_nearby);
    assert_eq!(f.host, "item.taobao.com");
    assert_eq!(extract("看 WWW.TaoBao.com/x")[0].host, "WWW.TaoBao.com");
    assert_eq!(
        extract("go https://[2001:db8::1]:8443/")[0].host,
        "[2001:db8::1]"
    );

    assert_eq!(
        urls("快来看 jd.com/123.html，超便宜！"),
        ["jd.com/123.html"]
    );
    assert_eq!(urls("打开www.taobao.com。"), ["www.taobao.com"]);
    assert_eq!(
        urls("链接：https://b23.tv/abc123）看"),
        ["https://b23.tv/abc123"]
    );
    assert_eq!(
        urls("「https://v.douyin.com/iRNBho6/」"),
        ["https://v.douyin.com/iRNBho6/"]
    );
}

#[test]
fn utf16_offsets_count_surrogate_pairs() {
    let text = "😀 https://example.com 😀";
    let f = &extract(text)[0];
    assert_eq!((f.start, f.end), (2, 21));
    assert_eq!((f.start_utf16, f.end_utf16), (3, 22));
}

#[test]
fn not_links() {
    for text in [
        "mail me at someone@example.com",
        "version 1.2.3 and 10.0.1",
        "report.pdf and photo.jpeg and archive.tar.gz",
        "http://no-tld and http://localhost/",
        "ftp://example.com/file and mailto:a@example.com",
        "4.4.4.4 is a resolver",
        "...:::///...",
    ] {
        assert_eq!(urls(text), Vec::<&str>::new(), "{text}");
    }
}

#[test]
fn ports_idn_punycode_and_ip_literals() {
    assert_eq!(
        urls("see http://example.com:8080/x."),
        ["http://example.com:8080/x"]
    );
    assert_eq!(urls("http://例子.中国/路径"), ["http://例子.中国/"]);
    assert_eq!(
        urls("http://xn--fsqu00a.xn--fiqs8s/a"),
        ["http://xn--fsqu00a.xn--fiqs8s/a"]
    );
    assert_eq!(
        urls("go http://192.0.2.1:8080/a?b=1, ok"),
        ["http://192.0.2.1:8080/a?b=1"]
    );
    assert_eq!(
        urls("go https://[2001:db8::1]:8443/x)"),
        ["https://[2001:db8::1]:8443/x"]
    );
    assert_eq!(
        urls("http://999.1.1.1/ http://[zz::1]/"),
        Vec::<&str>::new()
    );
}

#[test]
fn brackets_and_trailing_punctuation() {
    assert_eq!(
        urls("(see https://en.wikipedia.org/wiki/Foo_(bar))"),
        ["https://en.wikipedia.org/wiki/Foo_(bar)"]
    );
    assert_eq!(
        urls("see https://example.com/path!!!..."),
        ["https://example.com/path"]
    );
}

#[test]
fn bidi_controls_are_flagged() {
    let f = &extract("http://example.com/\u{202E}fdp.exe")[0];
    assert_eq!(f.url, "http://example.com/");
    assert!(f.bidi_nearby);
    let g = extract("a \u{202E}evil.com x http://fine.com");
    assert_eq!(g.len(), 2);
    assert!(g[0].bidi_nearby);
    assert!(!g[1].bidi_nearby);
}

#[test]
fn hostile_punctuation_is_linear() {
    let pattern = ".:/";
    let text: String = pattern.chars().cycle().take(16 * 1024).collect();
    for t in [
        text,
        ".".repeat(16 * 1024),
        "a.".repeat(8 * 1024),
        "http://".repeat(2400),
        "a-".repeat(8 * 1024) + ".com",
    ] {
        let start = Instant::now();
        let found = extract(&t);
        assert!(
            start.elapsed() < HOSTILE_BUDGET,
            "{:?} for {}…",
            start.elapsed(),
            &t[..10]
        );
        assert!(found.len() <= 100);
    }
}

#[test]
fn ten_thousand_urls() {
    let text: String = (0..10_000)
        .map(|i| format!("https://example.com/{i} "))
        .collect();
    let start = Instant::now();
    let capped = extract(&text);
    assert_eq!(capped.len(), 100, "default cap");
    let all = extract_with(&text, &ExtractConfig::with_max_urls(20_000));
    assert_eq!(all.len(), 10_000);
    assert_eq!(all[9_999].url, "https://example.com/9999");
    assert!(start.elapsed() < HOSTILE_BUDGET, "{:?}", start.elapsed());
    assert!(extract_with(&text, &ExtractConfig::with_max_urls(0)).is_empty());
}

#[test]
fn over_long_urls_are_not_links() {
    let long = format!("https://example.com/{}", "a".repeat(5000));
    assert!(extract(&long).is_empty());
    let fits = format!("https://example.com/{}", "a".repeat(4000));
    assert_eq!(urls(&fits), [fits.as_str()]);
    let long_label = format!("http://{}.com", "a".repeat(64));
    assert!(extract(&long_label).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn spans_are_consistent(text in "(\\PC|[.:/?#()\\[\\]@ \u{202E}中。a-z0-9]){0,80}") {
        check_spans(&text);
    }

    #[test]
    fn spans_are_consistent_around_urls(
        pre in "\\PC{0,8}", host in "[a-z中]{1,6}\\.(com|cn|中国|x)", path in "[/a-z0-9().,!?=&#%-]{0,12}", post in "\\PC{0,8}"
    ) {
        check_spans(&format!("{pre}https://{host}{path}{post} {host}{path}"));
    }
}

fn check_spans(text: &str) {
    let found = extract(text);
    let mut last_end = 0;
    for f in &found {
        assert!(text.is_char_boundary(f.byte_start) && text.is_char_boundary(f.byte_end));
        assert!(f.byte_start < f.byte_end && f.byte_start >= last_end);
        last_end = f.byte_end;
        assert_eq!(&text[f.byte_start..f.byte_end], f.url);
        assert_eq!(text[..f.byte_start].chars().count(), f.start);
        assert_eq!(text[..f.byte_end].chars().count(), f.end);
        assert_eq!(text[..f.byte_start].encode_utf16().count(), f.start_utf16);
        assert_eq!(text[..f.byte_end].encode_utf16().count(), f.end_utf16);
    }
}
