//! What only the PostgreSQL backend has: migrations shared by servers that
//! start together, and a database that may not answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use kaifang_store::{Error, PgConfig, PgStore};
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
    assert_eq!(versions, [1, 2, 3, 4, 5]);
    drop((a, b, client));
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
