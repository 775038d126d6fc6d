//! Link-engine hot path per chat message, against the `linkify` crate's finder on the same messages.
//! `cargo bench -p kaifang-links --bench links`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use kaifang_links::{Blocklists, NormaliseConfig, Registry, extract, normalise};
use linkify::{LinkFinder, LinkKind};

const MESSAGES: &[(&str, &str)] = &[
    (
        "zh_one_url",
        "快来看 https://item.taobao.com/item.htm?id=678&spm=a21 超便宜，今天下单明天到！",
    ),
    (
        "en_one_url",
        "Have you seen this? https://www.youtube.com/watch?v=dQw4w9WgXcQ it is a classic, really.",
    ),
    (
        "zh_schemeless",
        "京东这个便宜 jd.com/100012043978.html 快买吧，不然就没了哦朋友们！",
    ),
    (
        "no_url",
        "好的，我们明天下午三点在老地方见面吧，记得带上那本书，还有上次说的东西",
    ),
];

/// Synthetic threat list: `n` distinct domains, one a line.
fn synthetic_list(n: usize) -> String {
    let mut s = String::with_capacity(n * 24);
    for i in 0..n {
        s.push_str(&format!("bad{i:07x}.example-{}.com\n", i % 97));
    }
    s
}

fn per_message(c: &mut Criterion) {
    let registry = Registry::builtin().unwrap();
    let cfg = NormaliseConfig::default();
    let mut lists = Blocklists::new();
    lists
        .add_list("malware", &synthetic_list(1_000_000))
        .unwrap();
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url]).url_must_have_scheme(false);

    let mut g = c.benchmark_group("message");
    for (name, text) in MESSAGES {
        g.bench_with_input(BenchmarkId::new("extract", name), text, |b, t| {
            b.iter(|| extract(black_box(t)).len())
        });
        g.bench_with_input(BenchmarkId::new("linkify", name), text, |b, t| {
            b.iter(|| finder.links(black_box(t)).count())
        });
        g.bench_with_input(
            BenchmarkId::new("extract_classify_blocklist", name),
            text,
            |b, t| {
                b.iter(|| {
                    let mut n = 0usize;
                    for f in extract(black_box(t)) {
                        n += registry.classify(f.host).platform.id.len()
                            + lists.mask_for(f.host) as usize;
                    }
                    n
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("extract_normalise_classify", name),
            text,
            |b, t| {
                b.iter(|| {
                    let mut n = 0usize;
                    for f in extract(black_box(t)) {
                        if let Ok(u) = normalise(f.url, &cfg) {
                            let p = registry.classify(&u.host).platform;
                            n += p.id.len() + lists.mask_for(&u.host) as usize;
                        }
                    }
                    n
                })
            },
        );
    }
    g.finish();

    let mut g = c.benchmark_group("lookup");
    g.bench_function("classify_host", |b| {
        b.iter(|| {
            registry
                .classify(black_box("item.taobao.com"))
                .platform
                .id
                .len()
        })
    });
    g.bench_function("blocklist_1m_miss", |b| {
        b.iter(|| lists.mask_for(black_box("item.taobao.com")))
    });
    g.bench_function("blocklist_1m_hit", |b| {
        b.iter(|| lists.mask_for(black_box("www.bad00abcde.example-3.com")))
    });
    g.finish();
}

fn blocklist_load(c: &mut Criterion) {
    let text = synthetic_list(1_000_000);
    let mut g = c.benchmark_group("blocklist");
    g.sample_size(10);
    g.bench_function("load_1m_domains", |b| {
        b.iter(|| {
            let mut l = Blocklists::new();
            l.add_list("malware", black_box(&text)).unwrap();
            l.len()
        })
    });
    g.finish();
    let mut l = Blocklists::new();
    l.add_list("malware", &text).unwrap();
    eprintln!(
        "blocklist: {} domains, ~{} MiB heap",
        l.len(),
        l.heap_bytes() / (1 << 20)
    );
}

criterion_group!(benches, per_message, blocklist_load);
criterion_main!(benches);
