//! History-page read time, on each backend. Ignored by default (it times
//! reads rather than checking them); run it in release:
//!
//! ```text
//! cargo test --release -p kaifang-store --test history_bench -- \
//!     --ignored --nocapture --test-threads 1
//! ```
//!
//! Input: a group of 6 members with 500 messages sent through the store.
//! Every run of 50 messages holds 20 with reactions (3 each: two 👍, one
//! 🎉, from different members) and 10 replies (to the message 3 before,
//! or, for the first of each run after the first, to one on the page
//! before). Then 200
//! page reads of 50 (`Store::messages`), cycling through the 10 pages,
//! each timed. The data is small and freshly written: warm caches.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use kaifang_store::{AdminGrant, NewMessage, ReactionChange};
use support::{Backend, open};

const MESSAGES: i64 = 500;
const PAGE: u32 = 50;
const READS: usize = 200;
const NOW: i64 = 1_800_000_000_000;

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1_000.0)
}

async fn bench(backend: Backend) {
    let f = open(backend).await;
    let mut users = Vec::new();
    for n in 0..6 {
        let u = f
            .store
            .create_user(&format!("u{n}"), "u", "h", AdminGrant::No)
            .await
            .unwrap();
        users.push(u.id);
    }
    let c = f
        .store
        .create_group(users[0], "history", &users[1..])
        .await
        .unwrap()
        .id;
    let mut at = NOW;
    for n in 0..MESSAGES {
        // Seqs start at 1; within each run of 50, positions 4, 9, … reply.
        let seq = n + 1;
        let reply_to = (n % 5 == 4).then(|| {
            if n % 50 == 4 && n >= 50 {
                seq - 10
            } else {
                seq - 3
            }
        });
        let sender = users[(n % 6) as usize];
        let (m, _) = f
            .store
            .append_message(NewMessage {
                reply_to,
                ..NewMessage::text(c, sender, format!("message {seq}\nsecond line"))
            })
            .await
            .unwrap();
        if n % 5 == 0 || n % 5 == 2 {
            for (k, emoji) in [(1, "👍"), (2, "👍"), (3, "🎉")] {
                at += 1;
                f.store
                    .react(ReactionChange {
                        message_id: m.id,
                        user: users[((n + k) % 6) as usize],
                        emoji: emoji.into(),
                        on: true,
                        at,
                    })
                    .await
                    .unwrap();
            }
        }
    }
    let pages = (MESSAGES / i64::from(PAGE)) as usize;
    let mut times = Vec::with_capacity(READS);
    for n in 0..READS {
        let before = MESSAGES + 1 - (n % pages) as i64 * i64::from(PAGE);
        let t = Instant::now();
        let page = f.store.messages(c, Some(before), PAGE).await.unwrap();
        times.push(t.elapsed());
        // What the page must carry, so that a faster read is not a poorer one.
        assert_eq!(page.len(), PAGE as usize);
        assert_eq!(page.iter().filter(|m| !m.reactions.is_empty()).count(), 20);
        assert_eq!(page.iter().filter(|m| m.reply.is_some()).count(), 10);
    }
    let total: Duration = times.iter().sum();
    times.sort();
    println!(
        "\n== {backend:?}: {READS} reads of {PAGE}-message pages: median {} p95 {} max {} total {}",
        ms(quantile(&times, 0.5)),
        ms(quantile(&times, 0.95)),
        ms(*times.last().unwrap()),
        ms(total),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a timing run, not a check: see the file's doc"]
async fn history_page_sqlite() {
    bench(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a timing run, not a check: see the file's doc"]
async fn history_page_postgres() {
    bench(Backend::Postgres).await;
}
