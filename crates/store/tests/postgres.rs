//! What only the PostgreSQL backend has: migrations shared by servers that
//! start together, and a database that may not answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use kaifang_store::{AdminGrant, Error, NewMessage, PgConfig, PgStore, Store};
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
    let Err(e @ Error::Backend(_)) = result else {
        panic!("connected to nothing? {:?}", result.err());
    };
    assert!(e.to_string().starts_with("database error"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
