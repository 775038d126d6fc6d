#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Replay of a candidate policy over 1,000,000 logged links, through the
//! admin API in-process (`POST /api/v1/admin/replay`).
use axum::http::StatusCode;
use criterion::{Criterion, criterion_group, criterion_main};
use kaifang_store::{ConversationKind, LinkShare, Role, SqliteConfig, SqliteStore, Store};

const LINKS: usize = 1_000_000;

mod common;
use common::{call, json};

fn share(i: usize, now: i64) -> LinkShare {
    let platforms = [
        ("taobao", "alibaba", "commerce"),
        ("douyin", "bytedance", "video"),
        ("jd", "jd", "commerce"),
        ("wechat", "tencent", "messaging"),
    ];
    let (platform, owner, category) = platforms[i % platforms.len()];
    LinkShare {
        at: now - (i as i64 % 86_400_000),
        message_id: None,
        conversation_kind: if i.is_multiple_of(3) {
            ConversationKind::Direct
        } else {
            ConversationKind::Group
        },
        member_count: 3 + (i % 40) as i64,
        sender_role: Role::Member,
        platform: platform.into(),
        owner: owner.into(),
        category: category.into(),
        domain: format!("{platform}.com"),
        lists: vec![],
        bidi: false,
        mixed_script: false,
        treatment: if i.is_multiple_of(3) {
            "live".into()
        } else {
            "inert".into()
        },
        preview: i.is_multiple_of(3),
        policy_version: 0,
        policies: vec!["groups-rival-platforms-inert".into()],
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (router, token) = rt.block_on(async {
        let (router, token) = common::start(dir.path()).await;
        let store = SqliteStore::open(
            SqliteConfig::new(dir.path().join("kaifang.db")),
            tokio::sync::mpsc::unbounded_channel().0,
        )
        .unwrap();
        let now = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        for chunk in (0..LINKS).collect::<Vec<_>>().chunks(20_000) {
            store
                .log_refused_shares(chunk.iter().map(|&i| share(i, now)).collect())
                .await
                .unwrap();
        }
        (router, token)
    });
    let open = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../policies/examples/groups-open.cedar"
    ))
    .unwrap();
    let body = serde_json::json!({ "text": open }).to_string();
    let (status, answer) = rt.block_on(call(
        &router,
        json("POST", "/api/v1/admin/replay", body.clone(), Some(&token)),
    ));
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let v: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(v["replayed"].as_u64(), Some(LINKS as u64));
    let mut g = c.benchmark_group("governance");
    g.sample_size(10);
    g.bench_function("replay_1m_links", |b| {
        b.to_async(&rt).iter(|| {
            call(
                &router,
                json("POST", "/api/v1/admin/replay", body.clone(), Some(&token)),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
