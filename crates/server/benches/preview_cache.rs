#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! A preview cache hit through the whole API layer (routing, token check,
//! rate limit, cache, JSON answer), in-process: `GET /api/v1/previews`.
use axum::body::Body;
use axum::http::{Request, StatusCode};
use criterion::{Criterion, criterion_group, criterion_main};

mod common;
use common::call;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = "https://item.taobao.com/item.htm?id=678";
    let (router, token) = rt.block_on(async {
        let (router, token) = common::start(dir.path()).await;
        // A stored preview, as a fetch would have left it.
        let store = kaifang_store::SqliteStore::open(
            kaifang_store::SqliteConfig::new(dir.path().join("kaifang.db")),
            tokio::sync::mpsc::unbounded_channel().0,
        )
        .unwrap();
        let entry = kaifang_store::CachedPreview {
            fetched_at: 0,
            expires_at: i64::MAX,
            data: Some(r#"{"title":"保温杯","price":"199.00"}"#.into()),
        };
        kaifang_store::Store::cache_preview(&store, url, entry, 100)
            .await
            .unwrap();
        (router, token)
    });
    let uri = format!(
        "/api/v1/previews?url={}",
        url.replace('?', "%3F").replace('=', "%3D")
    );
    let req = || {
        Request::builder()
            .uri(&uri)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let (status, body) = rt.block_on(call(&router, req()));
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    c.bench_function("api/preview_cache_hit", |b| {
        b.to_async(&rt).iter(|| call(&router, req()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
