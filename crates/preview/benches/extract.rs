#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Extraction throughput over the whole link-preview corpus (MB/s).
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn corpus() -> Vec<(url::Url, Vec<u8>)> {
    let dir = match std::env::var_os("KAIFANG_CORPORA") {
        Some(d) => PathBuf::from(d).join("link-preview"),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/link-preview")
        }
    };
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let name = f["name"].as_str().unwrap();
            let url = url::Url::parse(f["page_url"].as_str().unwrap()).unwrap();
            (
                url,
                std::fs::read(dir.join(name).join("input.html")).unwrap(),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let pages = corpus();
    let bytes: usize = pages.iter().map(|(_, b)| b.len()).sum();
    let cfg = kaifang_preview::ExtractConfig::default();
    let mut g = c.benchmark_group("preview");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    g.bench_function("extract_corpus", |b| {
        b.iter(|| {
            for (url, html) in &pages {
                std::hint::black_box(kaifang_preview::extract(
                    html,
                    url,
                    Some("text/html; charset=utf-8"),
                    &cfg,
                ));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
