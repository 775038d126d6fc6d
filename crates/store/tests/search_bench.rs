//! Search latency over a large history, on each backend. Ignored by
//! default (it fills a million messages); run it in release:
//!
//! ```text
//! KAIFANG_SEARCH_BENCH_MESSAGES=1000000 cargo test --release -p kaifang-store \
//!     --test search_bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! Input: `KAIFANG_SEARCH_BENCH_MESSAGES` messages (default 1,000,000) in
//! 100 groups of 5 members, spread evenly; the searching user is in 20 of
//! them (a fifth of the messages). Texts are 6 to 14 words drawn with a
//! fixed seed: 60% Chinese sentences (no spaces) of two-character words,
//! 40% English sentences; one message in 5,000 carries a rare word.
//! The fill writes straight through SQL in batches (not through the store's
//! send path, which would take hours here), then builds the index: on
//! SQLite by the indexer's own statement over every row (the watermark
//! then covers them all), on PostgreSQL by the migration's own statement. Then 200 queries (see `QUERIES`) run one
//! after the other, newest-first pages of 20, each timed; the caches are
//! whatever the fill left (warm), which the figures are labelled with.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use kaifang_store::{AdminGrant, SearchQuery, UserId};
use support::{Backend, Place, open};

const GROUPS: usize = 100;
const MEMBER_OF_EVERY: usize = 5;
const BATCH: usize = 1_000;

const ZH: &[&str] = &[
    "明天", "下午", "三点", "淘宝", "直播", "开会", "周末", "吃饭", "电影", "项目", "报告", "朋友",
    "快递", "价格", "优惠", "链接", "视频", "音乐", "旅行", "天气", "工作", "老师", "同学", "晚上",
    "今天", "我们", "你们", "已经", "可以", "没有", "知道", "现在", "时候", "问题", "地方", "东西",
    "北京", "上海", "深圳", "杭州", "火车", "飞机", "医院", "学校", "公司", "手机", "电脑", "照片",
];
const EN: &[&str] = &[
    "the", "meeting", "tomorrow", "stream", "package", "price", "discount", "link", "video",
    "music", "travel", "weather", "work", "teacher", "tonight", "today", "we", "you", "already",
    "can", "not", "know", "now", "time", "problem", "place", "thing", "train", "plane", "school",
    "company", "phone", "computer", "photo", "shop", "live", "see", "at", "and", "for",
];
const RARE: &[&str] = &["麒麟", "zebra", "量子计算", "xylophone"];

/// (class, query): 2 characters (the window), 3, and 4 or more (the index).
const QUERIES: &[(&str, &str)] = &[
    ("2 chars", "直播"),
    ("2 chars", "开会"),
    ("2 chars", "麒麟"),
    ("2 chars", "we"),
    ("3 chars", "直播间"),
    ("3 chars", "淘宝直"),
    ("3 chars", "liv"),
    ("3 chars", "zeb"),
    ("4+ chars", "明天下午"),
    ("4+ chars", "meeting tomorrow"),
    ("4+ chars", "量子计算"),
    ("4+ chars", "xylophone"),
    ("4+ chars", "package"),
    ("4+ chars", "北京的火车"),
];

/// A small fixed-seed generator (xorshift), so that every run has the same input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn text(rng: &mut Rng) -> String {
    let words = 6 + rng.below(9);
    let chinese = rng.below(10) < 6;
    let mut parts: Vec<&str> = (0..words)
        .map(|_| {
            if chinese {
                ZH[rng.below(ZH.len())]
            } else {
                EN[rng.below(EN.len())]
            }
        })
        .collect();
    if rng.below(5_000) == 0 {
        let at = rng.below(parts.len());
        parts[at] = RARE[rng.below(RARE.len())];
    }
    if chinese {
        parts.concat()
    } else {
        parts.join(" ")
    }
}

/// Rows `(conversation, seq, sender, body, created_at)` in sending order.
fn messages(
    total: usize,
    groups: &[(i64, UserId)],
) -> impl Iterator<Item = (i64, i64, i64, String, i64)> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut seqs = vec![0i64; groups.len()];
    (0..total).map(move |n| {
        let g = n % groups.len();
        seqs[g] += 1;
        let (conversation, sender) = groups[g];
        let at = 1_700_000_000_000 + n as i64 * 1_000;
        (conversation, seqs[g], sender, text(&mut rng), at)
    })
}

async fn fill(place: &Place, total: usize, groups: &[(i64, UserId)]) {
    match place {
        Place::Sqlite(dir) => {
            let mut conn = rusqlite::Connection::open(dir.path().join("db/kaifang.db")).unwrap();
            let tx = conn.transaction().unwrap();
            {
                let mut insert = tx
                    .prepare(
                        "INSERT INTO messages (conversation_id, seq, sender_id, body, created_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .unwrap();
                for (c, seq, sender, body, at) in messages(total, groups) {
                    insert
                        .execute(rusqlite::params![c, seq, sender, body, at])
                        .unwrap();
                }
            }
            tx.execute_batch(
                "UPDATE conversations SET last_seq = \
                 (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conversation_id = conversations.id); \
                 INSERT INTO messages_search (rowid, body) SELECT id, body FROM messages \
                 WHERE id > (SELECT indexed_through FROM search_state); \
                 UPDATE search_state SET indexed_through = (SELECT MAX(id) FROM messages); \
                 ANALYZE;",
            )
            .unwrap();
            tx.commit().unwrap();
        }
        Place::Postgres(db) => {
            let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client
                .batch_execute("DROP INDEX messages_body_trgm")
                .await
                .unwrap();
            let rows: Vec<_> = messages(total, groups).collect();
            for chunk in rows.chunks(BATCH) {
                let mut sql = String::from(
                    "INSERT INTO messages (conversation_id, seq, sender_id, body, created_at) VALUES ",
                );
                let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = Vec::new();
                for (i, (c, seq, sender, body, at)) in chunk.iter().enumerate() {
                    let b = i * 5;
                    if i > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&format!(
                        "(${},${},${},${},${})",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5
                    ));
                    params.push(c);
                    params.push(seq);
                    params.push(sender);
                    params.push(body);
                    params.push(at);
                }
                client.execute(&sql, &params).await.unwrap();
            }
            // The migration's own index, built once over the filled table.
            let migration = include_str!("../migrations/postgres/0008_search.sql");
            let create = migration
                .lines()
                .find(|l| l.starts_with("CREATE INDEX"))
                .unwrap();
            client.batch_execute(create).await.unwrap();
            client
                .batch_execute(
                    "UPDATE conversations SET last_seq = \
                     (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conversation_id = conversations.id); \
                     ANALYZE;",
                )
                .await
                .unwrap();
        }
    }
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1_000.0)
}

async fn bench(backend: Backend) {
    let total: usize = std::env::var("KAIFANG_SEARCH_BENCH_MESSAGES")
        .map(|v| v.parse().expect("a number of messages"))
        .unwrap_or(1_000_000);
    let f = open(backend).await;
    let mut users = Vec::new();
    for n in 0..50 {
        let u = f
            .store
            .create_user(&format!("u{n}"), "u", "h", AdminGrant::No)
            .await
            .unwrap();
        users.push(u.id);
    }
    let me = users[0];
    let mut groups = Vec::new();
    for g in 0..GROUPS {
        let owner = users[1 + g % 49];
        let mut members: Vec<UserId> = (1..4).map(|k| users[1 + (g + k * 7) % 49]).collect();
        if g % MEMBER_OF_EVERY == 0 {
            members.push(me);
        } else {
            members.push(users[1 + (g + 30) % 49]);
        }
        members.retain(|m| *m != owner);
        members.dedup();
        let c = f
            .store
            .create_group(owner, &format!("g{g}"), &members)
            .await
            .unwrap();
        groups.push((c.id, owner));
    }
    let started = Instant::now();
    fill(&f.place, total, &groups).await;
    let filled = started.elapsed();

    let rounds = 200 / QUERIES.len() + 1;
    let mut all = Vec::new();
    let mut by_class: std::collections::BTreeMap<&str, Vec<Duration>> = Default::default();
    let mut hits: std::collections::BTreeMap<&str, usize> = Default::default();
    for round in 0..rounds {
        for (class, q) in QUERIES {
            if all.len() == 200 {
                break;
            }
            let query = SearchQuery {
                user: me,
                text: (*q).into(),
                conversation: None,
                before: None,
                limit: 20,
                short_scan: 20_000,
            };
            let t = Instant::now();
            let page = f.store.search(query).await.unwrap();
            let took = t.elapsed();
            if round == 0 {
                hits.insert(*q, page.hits.len());
            }
            all.push(took);
            by_class.entry(class).or_default().push(took);
        }
    }
    println!(
        "\n== {backend:?}: {total} messages ({} searchable by the user), filled in {:.1} s",
        total / MEMBER_OF_EVERY,
        filled.as_secs_f64()
    );
    for (class, mut times) in by_class {
        times.sort();
        println!(
            "{class:>9}: n={:3} median {} p95 {} max {}",
            times.len(),
            ms(quantile(&times, 0.5)),
            ms(quantile(&times, 0.95)),
            ms(*times.last().unwrap())
        );
    }
    all.sort();
    println!(
        "      all: n={:3} median {} p95 {} max {}",
        all.len(),
        ms(quantile(&all, 0.5)),
        ms(quantile(&all, 0.95)),
        ms(*all.last().unwrap())
    );
    println!("first-page hits (of 20): {hits:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fills a million messages: run in release, see the file's doc"]
async fn search_latency_sqlite() {
    bench(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fills a million messages: run in release, see the file's doc"]
async fn search_latency_postgres() {
    bench(Backend::Postgres).await;
}
