//! What only the PostgreSQL backend has: migrations shared by servers that
//! start together, and a database that may not answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kaifang_store::{AdminGrant, Error, EventId, NewMessage, PgConfig, PgStore, Store};
use support::TestDb;

/// Two servers starting at once on an empty database both come up, and
/// each migration is applied (and recorded) exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_starting_together_migrate_once() {
    let db = TestDb::create().await;
    let start = || {
        let (sink, events) = tokio::sync::mpsc::unbounded_channel();
        let config = PgConfig::new(db.url.clone());
        async move { (PgStore::connect(config, sink).await, events) }
    };
    let ((a, _ea), (b, _eb)) = tokio::join!(start(), start());
    let (a, b) = (a.unwrap(), b.unwrap());
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let versions: Vec<i64> = client
        .query(
            "SELECT version FROM kaifang_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6]);
    drop((a, b, client));
}

/// Two servers writing to one database at once (two stores, as two nodes
/// have): the event ids are 1..=n with no hole and no repeat, each store's
/// sink saw its own in id order, and both re-read the same log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_writers_make_event_ids_without_holes() {
    let db = TestDb::create().await;
    let (sink_a, mut events_a) = tokio::sync::mpsc::unbounded_channel();
    let (sink_b, mut events_b) = tokio::sync::mpsc::unbounded_channel();
    let a = std::sync::Arc::new(
        PgStore::connect(PgConfig::new(db.url.clone()), sink_a)
            .await
            .unwrap(),
    );
    let b = std::sync::Arc::new(
        PgStore::connect(PgConfig::new(db.url.clone()), sink_b)
            .await
            .unwrap(),
    );
    let alice = a
        .create_user("alice", "A", "h", AdminGrant::No)
        .await
        .unwrap();
    let bob = b
        .create_user("bob", "B", "h", AdminGrant::No)
        .await
        .unwrap();
    let (c, _) = a.open_direct(alice.id, bob.id).await.unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (store, sender) = if i % 2 == 0 {
                (a.clone(), alice.id)
            } else {
                (b.clone(), bob.id)
            };
            tokio::spawn(async move {
                let message = NewMessage {
                    conversation_id: c.id,
                    sender_id: sender,
                    body: format!("m{i}"),
                    client_txn_id: None,
                    links: "[]".into(),
                    shares: Vec::new(),
                };
                store.append_message(message).await.unwrap()
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let head = a.head().await.unwrap();
    let all = b.events_after(0, 1_000).await.unwrap();
    let ids: Vec<i64> = all.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=head).collect::<Vec<_>>());
    assert_eq!(a.events_after(0, 1_000).await.unwrap(), all);
    for events in [&mut events_a, &mut events_b] {
        let mut own = Vec::new();
        while let Ok(batch) = events.try_recv() {
            own.extend(batch.into_iter().map(|e| e.id));
        }
        assert!(
            own.windows(2).all(|w| w[0] < w[1]),
            "sink out of order: {own:?}"
        );
    }
}

/// A database that does not answer is an error naming the cause at once,
/// not a hang and not a panic.
#[tokio::test]
async fn an_unreachable_database_is_a_clear_error() {
    let (sink, _events) = tokio::sync::mpsc::unbounded_channel();
    // Port 1 on loopback: nothing listens there.
    let mut config = PgConfig::new("postgres://kaifang@127.0.0.1:1/kaifang");
    config.connect_timeout_ms = 2_000;
    let started = std::time::Instant::now();
    let result = PgStore::connect(config, sink).await;
    // Unavailable, not some other failure: retrying later can help.
    let Err(e @ Error::Unavailable(_)) = result else {
        panic!("connected to nothing? {:?}", result.err());
    };
    assert!(e.to_string().starts_with("database unavailable"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// The advisory-lock key every write transaction of the store takes
/// (`WRITE_LOCK` in src/postgres/mod.rs). A wrong value here makes the test
/// below time out waiting for the store's writer to queue behind it.
const WRITE_LOCK: i64 = 0x6b61_6966_616e_6702;

async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// Polls `condition` (async) every 10 ms for at most 30 s.
async fn wait_for<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The case a global id cursor gets wrong: a transaction holds an event id
/// it has not committed, and a transaction that started later tries to
/// write and commit first. Were the later one's event visible first, a
/// reader would move its cursor past the open one's id and never see it.
///
/// Forced here: an outside writer (another node, as raw SQL following the
/// store's protocol: the write lock, then the insert) takes an event id and
/// stays open; then this store starts a send. The test waits until
/// PostgreSQL shows the send queued on the lock, lets a reader tail by
/// cursor several times meanwhile, then commits the outside writer. The
/// reader's events are exactly the committed ones, in id order, each once,
/// and the send's event comes after the one that was open.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_later_transaction_cannot_commit_past_an_open_one() {
    let db = TestDb::create().await;
    let (sink, _events) = tokio::sync::mpsc::unbounded_channel();
    let store = Arc::new(
        PgStore::connect(PgConfig::new(db.url.clone()), sink)
            .await
            .unwrap(),
    );
    let alice = store
        .create_user("alice", "Alice", "x", AdminGrant::IfFirst)
        .await
        .unwrap();
    let bob = store
        .create_user("bob", "Bob", "x", AdminGrant::IfFirst)
        .await
        .unwrap();
    let (direct, _) = store.open_direct(alice.id, bob.id).await.unwrap();
    let (conversation_id, sender_id) = (direct.id, alice.id);
    let send = move |body: &str| NewMessage {
        conversation_id,
        sender_id,
        body: body.into(),
        client_txn_id: None,
        links: "[]".into(),
        shares: Vec::new(),
    };
    let (first, _) = store.append_message(send("before")).await.unwrap();

    // The reader: tails Bob's events by cursor until told to stop, then
    // reads once more to the end.
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (store, stop, reads) = (store.clone(), stop.clone(), reads.clone());
        let bob = bob.id;
        tokio::spawn(async move {
            let mut cursor: EventId = 0;
            let mut seen = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let stopping = stop.load(Ordering::SeqCst);
                let page = store.events_for(bob, cursor, 100).await.unwrap();
                reads.fetch_add(1, Ordering::SeqCst);
                for event in &page {
                    seen.push(event.id);
                    cursor = event.id;
                }
                if stopping && page.is_empty() {
                    return seen;
                }
                assert!(Instant::now() < deadline, "the reader ran for a minute");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    // The outside writer: the lock, an event id, and no commit yet.
    let mut outside = raw(&db.url).await;
    let tx = outside.transaction().await.unwrap();
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
        .await
        .unwrap();
    let open_id: i64 = tx
        .query_one(
            "INSERT INTO events (conversation_id, kind, message_id, data, created_at) \
             VALUES ($1, 'preview', $2, $3, 0) RETURNING id",
            &[
                &direct.id,
                &first.id,
                &r#"{"url":"https://example.com/","preview":{}}"#,
            ],
        )
        .await
        .unwrap()
        .get(0);

    // The later transaction: a send, which must not get ahead of it.
    let later = {
        let store = store.clone();
        tokio::spawn(async move { store.append_message(send("after")).await })
    };
    let watcher = raw(&db.url).await;
    wait_for("the send to queue behind the open transaction", || async {
        let waiting: i64 = watcher
            .query_one(
                "SELECT COUNT(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
                 WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        waiting == 1
    })
    .await;
    // The reader keeps reading while both transactions are open.
    let before = reads.load(Ordering::SeqCst);
    wait_for("the reader to read while both are open", || {
        let reads = reads.clone();
        async move { reads.load(Ordering::SeqCst) >= before + 5 }
    })
    .await;
    assert!(!later.is_finished(), "the later send committed first");

    tx.commit().await.unwrap();
    let (after, created) = later.await.unwrap().unwrap();
    assert!(created);
    stop.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();

    let committed: Vec<i64> = watcher
        .query("SELECT id FROM events ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seen, committed, "the reader skipped or repeated an event");
    let after_event: i64 = watcher
        .query_one(
            "SELECT id FROM events WHERE kind = 'message' AND message_id = $1",
            &[&after.id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(open_id < after_event, "{open_id} vs {after_event}");
    assert!(seen.contains(&open_id));
    drop((store, outside, watcher));
}
