//! Runs the extractor over the link-preview corpus on one thread and prints
//! speed and per-field agreement, as one JSON line with `--json` (read by
//! `scripts/bench-previews.sh` beside metascraper's figures).
//!
//!     cargo run --release -p kaifang-preview --example corpus -- --json
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/agreement.rs"]
mod agreement;

use std::time::{Duration, Instant};

use kaifang_preview::{ExtractConfig, extract};

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let fixtures = agreement::load();
    let cfg = ExtractConfig::default();
    let run = || -> Vec<_> {
        fixtures
            .iter()
            .map(|fx| extract(&fx.html, &fx.url, Some("text/html; charset=utf-8"), &cfg))
            .collect()
    };
    let previews = run();
    let (tally, _) = agreement::compare(&fixtures, &previews);
    // Whole-corpus passes for at least three seconds (at most 10,000); the
    // median pass is the figure.
    let mut times = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) && times.len() < 10_000 {
        let t = Instant::now();
        std::hint::black_box(run());
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let bytes: usize = fixtures.iter().map(|f| f.html.len()).sum();
    let agreement: serde_json::Map<String, serde_json::Value> = tally
        .iter()
        .map(|(f, c)| {
            let counts = serde_json::json!({
                "values": format!("{}/{}", c.same, c.with_value()),
                "both_empty": c.both_empty,
                "differ": c.differ,
                "ours_only": c.ours_only,
                "theirs_only": c.theirs_only,
            });
            (f.to_string(), counts)
        })
        .collect();
    let out = serde_json::json!({
        "tool": concat!("kaifang-preview ", env!("CARGO_PKG_VERSION")),
        "pages": fixtures.len(),
        "bytes": bytes,
        "passes": times.len(),
        "seconds": median,
        "mb_per_s": bytes as f64 / 1e6 / median,
        "agreement": agreement,
    });
    if json {
        println!("{out}");
    } else {
        println!("{}", serde_json::to_string_pretty(&out).unwrap());
    }
}
