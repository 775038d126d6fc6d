#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Decision cost per chat message: the whole pipeline (extract → normalise →
//! classify → threat lists → decide) with a 1,000,000-domain blocklist and the
//! default policy loaded, and the policy step alone (cache hit and Cedar miss).
//! `CARGO_TARGET_DIR=/work/target-policy cargo bench -p kaifang-policy --bench engine`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use kaifang_links::{Blocklists, Registry};
use kaifang_policy::{
    Context, ConversationKind, DEFAULT_POLICY, EngineSettings, LinkEngine, LinkEngineSettings,
    LinkFacts, PolicyEngine, Role,
};

const GROUP: Context = Context {
    conversation_kind: ConversationKind::Group,
    member_count: 40,
    sender_role: Role::Member,
};

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
        "no_url",
        "好的，我们明天下午三点在老地方见面吧，记得带上那本书，还有上次说的东西",
    ),
    (
        "no_url_en",
        "ok see you tomorrow at three in the usual place, bring the book and the other thing we said",
    ),
];

fn synthetic_list(n: usize) -> String {
    let mut s = String::with_capacity(n * 28);
    for i in 0..n {
        s.push_str(&format!("bad{i:07x}.example-{}.com\n", i % 97));
    }
    s
}

fn pipeline(c: &mut Criterion) {
    let mut lists = Blocklists::new();
    lists
        .add_list("malware", &synthetic_list(1_000_000))
        .unwrap();
    let engine = LinkEngine::new(
        Arc::new(PolicyEngine::new(DEFAULT_POLICY, "tencent").unwrap()),
        Arc::new(Registry::builtin().unwrap()),
        Arc::new(lists),
        LinkEngineSettings::default(),
    );
    let mut g = c.benchmark_group("policy/evaluate");
    for (name, text) in MESSAGES {
        // Warm the decision cache, as a running server's is.
        engine.evaluate(text, &GROUP);
        g.bench_with_input(BenchmarkId::from_parameter(name), text, |b, t| {
            b.iter(|| engine.evaluate(black_box(t), black_box(&GROUP)))
        });
    }
    g.finish();

    // Where the time of one URL goes.
    let text = MESSAGES[0].1;
    let registry = Registry::builtin().unwrap();
    let cfg = kaifang_links::NormaliseConfig::default();
    let url = kaifang_links::extract(text)[0].url;
    let host = kaifang_links::normalise(url, &cfg).unwrap().host;
    let mut g = c.benchmark_group("policy/steps");
    g.bench_function("extract", |b| {
        b.iter(|| kaifang_links::extract(black_box(text)))
    });
    g.bench_function("normalise", |b| {
        b.iter(|| kaifang_links::normalise(black_box(url), &cfg))
    });
    g.bench_function("classify", |b| {
        b.iter(|| registry.classify(black_box(&host)).platform.id.len())
    });
    g.finish();
}

fn decide(c: &mut Criterion) {
    let engine = PolicyEngine::new(DEFAULT_POLICY, "tencent").unwrap();
    let facts = LinkFacts {
        platform: "taobao".into(),
        owner: "alibaba".into(),
        category: "commerce".into(),
        domain: "taobao.com".into(),
        ..LinkFacts::default()
    };
    engine.decide(&GROUP, &facts);
    c.bench_function("policy/decide_cache_hit", |b| {
        b.iter(|| engine.decide(black_box(&GROUP), black_box(&facts)))
    });
    let uncached = PolicyEngine::with_settings(
        DEFAULT_POLICY,
        "tencent",
        EngineSettings {
            cache_capacity: 0,
            ..EngineSettings::default()
        },
    )
    .unwrap();
    c.bench_function("policy/decide_cedar_uncached", |b| {
        b.iter(|| uncached.decide(black_box(&GROUP), black_box(&facts)))
    });
}

criterion_group!(benches, pipeline, decide);
criterion_main!(benches);
