#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Decision cost per message on a realistic stream, cold and warm, beside the
//! hot-cache figure of `benches/engine.rs`.
//!
//! The stream: 100,000 one-link messages (Chinese and English chat text
//! around the link) whose hosts are drawn from 50,000 distinct hosts with a
//! Zipf(1) popularity — the registry's platforms (with www./m./item.
//! subdomains) take the top ranks, as real traffic's most shared hosts are
//! the big platforms; the long tail is unregistered sites, 1% of them on the
//! threat list and a few look-alikes of registered domains. Every URL has its
//! own path and id, and a third carry tracking parameters. Contexts mix
//! direct chats and groups of 3–500 members. The 1,000,000-domain blocklist
//! is loaded and every cache has its default size
//! ([`LinkEngineSettings::default`], [`kaifang_policy::EngineSettings`]).
//!
//! - **cold**: a new engine (empty host and decision caches) reads the
//!   stream once;
//! - **warm**: the same engine reads the same stream again;
//! - **hot**: one message repeated 100,000 times (everything cached).
//!
//! Each message is timed on its own with `Instant`, whose own cost is
//! measured and printed beside the figures (it is included in them).
//!
//! `cargo bench -p kaifang-policy --bench stream`
//! (`-- --messages N --hosts N` for another size).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kaifang_links::{Blocklists, Registry};
use kaifang_policy::{
    Context, ConversationKind, DEFAULT_POLICY, LinkEngine, LinkEngineSettings, PolicyEngine, Role,
};

/// A small deterministic generator (SplitMix64): the same stream every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Draws ranks 0..n with probability ∝ 1/(rank+1).
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for k in 1..=n {
            sum += 1.0 / k as f64;
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Self { cdf }
    }
    fn draw(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

/// The blocklist: the same shape as `benches/engine.rs`'s.
fn blocked(i: usize) -> String {
    format!("bad{i:07x}.example-{}.com", i % 97)
}

fn synthetic_list(n: usize) -> String {
    let mut s = String::with_capacity(n * 28);
    for i in 0..n {
        s.push_str(&blocked(i));
        s.push('\n');
    }
    s
}

const WORDS: &[&str] = &[
    "shop", "blog", "news", "video", "food", "travel", "tech", "music", "cloud", "game", "photo",
    "daily", "home", "market", "study", "health", "auto", "style", "book", "film",
];
const TLDS: &[&str] = &[
    "com", "cn", "net", "org", "com.cn", "io", "co.uk", "de", "jp", "info",
];
/// Hosts one edit away from registered domains (the look-alike fact).
const LOOKALIKES: &[&str] = &[
    "taobao.co",
    "taob4o.com",
    "jdd.com",
    "douyln.com",
    "weixn.qq.com.cn",
    "youtub.com",
];

/// 50,000 distinct hosts, most popular first.
fn hosts(registry: &Registry, n: usize, rng: &mut Rng) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(n);
    for p in registry.platforms() {
        for d in &p.domains {
            for prefix in ["", "www.", "m.", "item."] {
                out.push(format!("{prefix}{d}"));
            }
        }
    }
    out.extend(LOOKALIKES.iter().map(|h| (*h).to_owned()));
    let mut i = 0usize;
    while out.len() < n {
        i += 1;
        if i.is_multiple_of(100) {
            // 1% of the tail is on the threat list.
            out.push(blocked(rng.below(1_000_000)));
        } else {
            let w = WORDS[rng.below(WORDS.len())];
            let t = TLDS[rng.below(TLDS.len())];
            let sub = if rng.below(4) == 0 { "www." } else { "" };
            out.push(format!("{sub}{w}{i}.{t}"));
        }
    }
    out.truncate(n);
    out
}

const TEMPLATES: &[(&str, &str)] = &[
    ("快来看 ", " 超便宜，今天下单明天到！"),
    ("Have you seen this? ", " it is a classic, really."),
    ("这个链接你打开看看：", "，我觉得不错"),
    ("", " ← the thing I mentioned at lunch"),
    ("明天的活动详情在这里 ", " 大家记得报名哦"),
    ("fyi ", ""),
];

fn message(host: &str, rng: &mut Rng) -> String {
    let (before, after) = TEMPLATES[rng.below(TEMPLATES.len())];
    let id = rng.next() % 10_000_000;
    let tracking = if rng.below(3) == 0 {
        "&utm_source=wechat&spm=a21"
    } else {
        ""
    };
    format!("{before}https://{host}/item/{id}?id={id}{tracking}{after}")
}

fn context(rng: &mut Rng) -> Context {
    if rng.below(2) == 0 {
        Context {
            conversation_kind: ConversationKind::Direct,
            member_count: 2,
            sender_role: Role::Member,
        }
    } else {
        Context {
            conversation_kind: ConversationKind::Group,
            member_count: [3, 8, 40, 120, 500][rng.below(5)],
            sender_role: if rng.below(10) == 0 {
                Role::Admin
            } else {
                Role::Member
            },
        }
    }
}

struct Figures {
    median: Duration,
    p99: Duration,
    mean: Duration,
}

fn figures(mut ns: Vec<u64>) -> Figures {
    ns.sort_unstable();
    let at = |q: f64| Duration::from_nanos(ns[((ns.len() - 1) as f64 * q).round() as usize]);
    Figures {
        median: at(0.5),
        p99: at(0.99),
        mean: Duration::from_nanos(ns.iter().sum::<u64>() / ns.len() as u64),
    }
}

fn run(engine: &LinkEngine, stream: &[(String, Context)]) -> Figures {
    let mut ns = Vec::with_capacity(stream.len());
    for (text, ctx) in stream {
        let t = Instant::now();
        let decided = engine.evaluate(black_box(text), black_box(ctx));
        ns.push(t.elapsed().as_nanos() as u64);
        assert_eq!(decided.len(), 1, "{text}");
    }
    figures(ns)
}

fn print(label: &str, f: &Figures) {
    println!(
        "{label:<28} median {:>8.2?}  p99 {:>8.2?}  mean {:>8.2?}",
        f.median, f.p99, f.mean
    );
}

/// Where a cold link's time goes: each step alone, once per message.
fn steps(registry: &Registry, lists: &Blocklists, stream: &[(String, Context)]) {
    let cfg = kaifang_links::NormaliseConfig::default();
    let time = |label: &str, f: &mut dyn FnMut(&str) -> usize| {
        let mut ns = Vec::with_capacity(stream.len());
        for (text, _) in stream {
            let t = Instant::now();
            black_box(f(black_box(text)));
            ns.push(t.elapsed().as_nanos() as u64);
        }
        print(label, &figures(ns));
    };
    time("step extract", &mut |t| kaifang_links::extract(t).len());
    time("step share codes", &mut |t| {
        let urls: Vec<_> = kaifang_links::extract(t)
            .iter()
            .map(|f| f.byte_start..f.byte_end)
            .collect();
        registry.find_share_codes(t, &urls, 1_000).len()
    });
    let urls: Vec<String> = stream
        .iter()
        .map(|(t, _)| kaifang_links::extract(t)[0].url.to_owned())
        .collect();
    let normalised: Vec<_> = urls
        .iter()
        .map(|u| kaifang_links::normalise(u, &cfg).unwrap())
        .collect();
    let mut i = 0;
    time("step normalise", &mut |_| {
        i += 1;
        kaifang_links::normalise(&urls[i - 1], &cfg)
            .unwrap()
            .host
            .len()
    });
    // What the engine runs instead of `normalise`: the key alone, one allocation.
    let mut i = 0;
    time("step canonicalise", &mut |_| {
        i += 1;
        kaifang_links::canonicalise(&urls[i - 1], &cfg)
            .unwrap()
            .host()
            .len()
    });
    let mut i = 0;
    time("step classify", &mut |_| {
        i += 1;
        registry.classify(&normalised[i - 1].host).platform.id.len()
    });
    let mut i = 0;
    time("step threat lists", &mut |_| {
        i += 1;
        lists.mask_for(&normalised[i - 1].host) as usize
    });
    let mut i = 0;
    time("step lookalike", &mut |_| {
        i += 1;
        let d = normalised[i - 1]
            .registrable_domain
            .as_deref()
            .unwrap_or("");
        usize::from(registry.lookalike_of(d).is_some())
    });
}

/// Resident memory from /proc (Linux), in KiB; 0 elsewhere.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: do a short run.
    let full = std::env::args().any(|a| a == "--bench");
    let (messages, distinct) = if full {
        (arg("--messages", 100_000), arg("--hosts", 50_000))
    } else {
        (2_000, 1_000)
    };
    let registry = Arc::new(Registry::builtin().unwrap());
    let mut lists = Blocklists::new();
    lists
        .add_list("malware", &synthetic_list(1_000_000))
        .unwrap();
    let lists = Arc::new(lists);
    let policy = || Arc::new(PolicyEngine::new(DEFAULT_POLICY, "tencent").unwrap());

    let mut rng = Rng(20_210_917);
    let hosts = hosts(&registry, distinct, &mut rng);
    let zipf = Zipf::new(hosts.len());
    let stream: Vec<(String, Context)> = (0..messages)
        .map(|_| {
            let host = &hosts[zipf.draw(&mut rng)];
            (message(host, &mut rng), context(&mut rng))
        })
        .collect();
    let seen: std::collections::HashSet<&str> = stream
        .iter()
        .map(|(t, _)| {
            t.split("https://")
                .nth(1)
                .unwrap()
                .split('/')
                .next()
                .unwrap()
        })
        .collect();

    let clock = {
        let mut ns = Vec::with_capacity(100_000);
        for _ in 0..100_000 {
            let t = Instant::now();
            ns.push(black_box(t).elapsed().as_nanos() as u64);
        }
        figures(ns)
    };
    println!(
        "stream: {messages} one-link messages, {} distinct hosts drawn of {distinct} (Zipf 1), \
         1,000,000-domain blocklist, default cache sizes; Instant::now()+elapsed alone: median {:?}",
        seen.len(),
        clock.median
    );

    let engine = LinkEngine::new(
        policy(),
        Arc::clone(&registry),
        Arc::clone(&lists),
        LinkEngineSettings::default(),
    );
    let rss_before = rss_kib();
    print("cold", &run(&engine, &stream));
    print("warm", &run(&engine, &stream));
    println!(
        "the engine's caches after the stream: +{} KiB resident",
        rss_kib().saturating_sub(rss_before)
    );

    let big = LinkEngine::new(
        policy(),
        Arc::clone(&registry),
        Arc::clone(&lists),
        LinkEngineSettings {
            host_cache_capacity: 1 << 20,
            ..LinkEngineSettings::default()
        },
    );
    run(&big, &stream);
    print("warm, host cache never full", &run(&big, &stream));

    steps(&registry, &lists, &stream);

    let hot = LinkEngine::new(
        policy(),
        Arc::clone(&registry),
        Arc::clone(&lists),
        LinkEngineSettings::default(),
    );
    let one = vec![stream[0].clone(); messages];
    hot.evaluate(&one[0].0, &one[0].1);
    print("hot", &run(&hot, &one));
}
