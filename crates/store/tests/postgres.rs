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
    // Every migration file's number (`0009_attachments.sql`: 9), gaps allowed.
    let mut files: Vec<i64> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
            .unwrap()
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".sql")?.split('_').next()?.parse().ok()
            })
            .collect();
    files.sort_unstable();
    assert_eq!(versions, files);
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
                    mentions: None,
                    attachments: Vec::new(),
                    reply_to: None,
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
/// store's protocol: the write lock, then the insert of the newest id plus
/// one) takes an event id and stays open; then this store starts a send. The test waits until
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
    let send = move |body: &str| NewMessage::text(conversation_id, sender_id, body);
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
            "INSERT INTO events (id, conversation_id, kind, message_id, data, created_at) \
             SELECT COALESCE(MAX(id), 0) + 1, $1::BIGINT, 'preview', $2::BIGINT, $3::TEXT, 0 \
             FROM events RETURNING id",
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

/// Polls `future` once: a write is queued for the store's writer task by
/// then (the writer guarantees that of its first poll), and the returned
/// future waits for the answer.
async fn queue<F: std::future::Future + Unpin>(mut future: F) -> F {
    std::future::poll_fn(|cx| {
        assert!(
            std::pin::Pin::new(&mut future).poll(cx).is_pending(),
            "answered while the writer was held up"
        );
        std::task::Poll::Ready(())
    })
    .await;
    future
}

/// How many sessions of this test's database wait for an advisory lock,
/// and the process id of one of them.
async fn lock_waiters(watcher: &tokio_postgres::Client) -> (i64, Option<i32>) {
    let row = watcher
        .query_one(
            "SELECT COUNT(*), MIN(l.pid) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// Writes queued while a transaction is open all join the next one (group
/// commit), each in its own savepoint. Forced here: an outside writer holds
/// the write lock while the store's writer waits for it with a first send,
/// and eight more writes queue meanwhile; then the lock is released. In
/// that one batch, a send by a non-member (refused before any statement
/// fails) and a sign-up with a taken handle (a unique violation, which
/// aborts PostgreSQL's transaction until its savepoint is rolled back) fail
/// with their own errors, and only they fail; two sends with the same
/// `client_txn_id` make one message, the second answering with the
/// original; the event ids stay without holes, in the log and the fan-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_failing_write_in_a_batch_fails_alone() {
    let db = TestDb::create().await;
    let (sink, mut events) = tokio::sync::mpsc::unbounded_channel();
    let store = Arc::new(
        PgStore::connect(PgConfig::new(db.url.clone()), sink)
            .await
            .unwrap(),
    );
    let alice = store
        .create_user("alice", "Alice", "x", AdminGrant::No)
        .await
        .unwrap();
    let bob = store
        .create_user("bob", "Bob", "x", AdminGrant::No)
        .await
        .unwrap();
    let eve = store
        .create_user("eve", "Eve", "x", AdminGrant::No)
        .await
        .unwrap();
    let (direct, _) = store.open_direct(alice.id, bob.id).await.unwrap();
    let send = move |sender_id, body: &str, txn: Option<&str>| NewMessage {
        client_txn_id: txn.map(Into::into),
        ..NewMessage::text(direct.id, sender_id, body)
    };

    let mut outside = raw(&db.url).await;
    let tx = outside.transaction().await.unwrap();
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
        .await
        .unwrap();
    let first = {
        let store = store.clone();
        tokio::spawn(async move { store.append_message(send(alice.id, "first", None)).await })
    };
    let watcher = raw(&db.url).await;
    wait_for("the store's writer to wait for the lock", || async {
        lock_waiters(&watcher).await.0 == 1
    })
    .await;

    let s = &store;
    let m1 = queue(s.append_message(send(alice.id, "one", None))).await;
    let refused = queue(s.append_message(send(eve.id, "let me in", None))).await;
    let retried_a = queue(s.append_message(send(bob.id, "txn", Some("t1")))).await;
    let taken = queue(s.create_user("alice", "Again", "x", AdminGrant::No)).await;
    let retried_b = queue(s.append_message(send(bob.id, "txn again", Some("t1")))).await;
    let signed_up = queue(s.create_user("carol", "Carol", "x", AdminGrant::No)).await;
    let m2 = queue(s.append_message(send(alice.id, "two", None))).await;
    let opened = queue(s.open_direct(alice.id, eve.id)).await;
    tx.commit().await.unwrap();

    let (first, _) = first.await.unwrap().unwrap();
    let (m1, created) = m1.await.unwrap();
    assert!(created);
    assert!(matches!(refused.await, Err(Error::NotFound(_))));
    let (original, created) = retried_a.await.unwrap();
    assert!(created);
    assert!(matches!(taken.await, Err(Error::HandleTaken)));
    let (again, created) = retried_b.await.unwrap();
    assert!(!created, "the retry made a second message");
    assert_eq!(again, original);
    assert_eq!(signed_up.await.unwrap().handle, "carol");
    let (m2, created) = m2.await.unwrap();
    assert!(created);
    let (opened, created) = opened.await.unwrap();
    assert!(created);

    let stored = store.messages(direct.id, None, 100).await.unwrap();
    let bodies: Vec<&str> = stored.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["first", "one", "txn", "two"]);
    let seqs: Vec<i64> = stored.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert_eq!((first.seq, m1.seq, original.seq, m2.seq), (1, 2, 3, 4));
    assert_eq!(store.user_by_handle("alice").await.unwrap().unwrap(), alice);
    assert_eq!(
        store.conversation(opened.id).await.unwrap().unwrap(),
        opened
    );
    assert!(store.role(direct.id, eve.id).await.unwrap().is_none());

    let logged = store.events_after(0, 1_000).await.unwrap();
    let ids: Vec<i64> = logged.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=store.head().await.unwrap()).collect::<Vec<_>>());
    let mut fanned_out = Vec::new();
    while let Ok(batch) = events.try_recv() {
        fanned_out.extend(batch);
    }
    assert_eq!(fanned_out, logged, "the fan-out differs from the log");
    drop((store, outside, watcher));
}

/// A batch whose transaction fails is answered with the failure, every
/// write in it, and none of it is committed. Forced here: the store's
/// writer commits a first send and then waits for the write lock, which an
/// outside writer took in between, with five writes queued; the writer's
/// session is then ended by the database (as when it restarts). All five
/// hear "database unavailable", nothing of them is stored, and the store
/// writes again afterwards on a fresh connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_batch_answers_every_write_with_the_failure() {
    let db = TestDb::create().await;
    let (sink, _events) = tokio::sync::mpsc::unbounded_channel();
    // One batch in flight at a time, so that the five writes queued behind
    // the first send make one batch, whatever the timing: with two, some
    // sends could leave early on the first send's connection, and the rest
    // would wait for the lock the test holds until they are answered.
    let config = PgConfig {
        pipeline_depth: 1,
        ..PgConfig::new(db.url.clone())
    };
    let store = Arc::new(PgStore::connect(config, sink).await.unwrap());
    let alice = store
        .create_user("alice", "Alice", "x", AdminGrant::No)
        .await
        .unwrap();
    let bob = store
        .create_user("bob", "Bob", "x", AdminGrant::No)
        .await
        .unwrap();
    let (direct, _) = store.open_direct(alice.id, bob.id).await.unwrap();
    let send = move |body: &str| NewMessage::text(direct.id, alice.id, body);
    let head = store.head().await.unwrap();

    // Outside writer 1 holds the lock; the store's writer waits with a
    // first send; five writes queue behind it.
    let mut outside_1 = raw(&db.url).await;
    let tx_1 = outside_1.transaction().await.unwrap();
    tx_1.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
        .await
        .unwrap();
    let first = {
        let store = store.clone();
        tokio::spawn(async move { store.append_message(send("first")).await })
    };
    let watcher = raw(&db.url).await;
    wait_for("the store's writer to wait for the lock", || async {
        lock_waiters(&watcher).await.0 == 1
    })
    .await;
    let s = &store;
    let queued = vec![
        queue(s.append_message(send("a"))).await,
        queue(s.append_message(send("b"))).await,
        queue(s.append_message(send("c"))).await,
    ];
    let signed_up = queue(s.create_user("carol", "Carol", "x", AdminGrant::No)).await;
    let opened = queue(s.open_direct(bob.id, alice.id)).await;
    // Outside writer 2 queues for the lock after the store's writer, so it
    // gets it between the first send's commit and the next batch.
    let outside_2 = Arc::new(raw(&db.url).await);
    let locked_2 = {
        let outside_2 = outside_2.clone();
        tokio::spawn(async move {
            outside_2
                .batch_execute(&format!(
                    "BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
                ))
                .await
                .unwrap();
        })
    };
    wait_for("outside writer 2 to wait for the lock", || async {
        lock_waiters(&watcher).await.0 == 2
    })
    .await;
    tx_1.commit().await.unwrap();
    let (first, _) = first.await.unwrap().unwrap();
    locked_2.await.unwrap();
    wait_for("the store's writer to wait for the lock again", || async {
        lock_waiters(&watcher).await.0 == 1
    })
    .await;
    // Outside writer 2 holds the lock: the one waiting is the store's writer.
    let writer_pid = lock_waiters(&watcher).await.1;
    let ended: bool = watcher
        .query_one("SELECT pg_terminate_backend($1)", &[&writer_pid.unwrap()])
        .await
        .unwrap()
        .get(0);
    assert!(ended);

    for answer in queued {
        let e = answer.await.unwrap_err();
        assert!(matches!(e, Error::Unavailable(_)), "{e:?}");
    }
    assert!(matches!(signed_up.await, Err(Error::Unavailable(_))));
    assert!(matches!(opened.await, Err(Error::Unavailable(_))));
    outside_2.batch_execute("COMMIT").await.unwrap();

    let stored = store.messages(direct.id, None, 10).await.unwrap();
    assert_eq!(stored, std::slice::from_ref(&first));
    assert!(store.user_by_handle("carol").await.unwrap().is_none());
    assert_eq!(store.head().await.unwrap(), head + 1);
    let (after, _) = store.append_message(send("after")).await.unwrap();
    assert_eq!(after.seq, first.seq + 1);
    assert_eq!(store.head().await.unwrap(), head + 2);
    drop((store, outside_1, outside_2, watcher));
}

/// The writer keeps one connection for sends. When the database ends that
/// connection between sends (a restart, an administrator), the writer
/// takes a fresh one: the next send is refused as unavailable at worst
/// (the writer may not have seen the end yet), the one after it is stored,
/// and nothing is stored twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sends_go_on_after_the_senders_connection_is_ended() {
    let db = TestDb::create().await;
    let (sink, _events) = tokio::sync::mpsc::unbounded_channel();
    let store = PgStore::connect(PgConfig::new(db.url.clone()), sink)
        .await
        .unwrap();
    let alice = store
        .create_user("alice", "Alice", "x", AdminGrant::No)
        .await
        .unwrap();
    let bob = store
        .create_user("bob", "Bob", "x", AdminGrant::No)
        .await
        .unwrap();
    let (direct, _) = store.open_direct(alice.id, bob.id).await.unwrap();
    let send = |body: &str| NewMessage::text(direct.id, alice.id, body);
    store.append_message(send("before")).await.unwrap();

    let watcher = raw(&db.url).await;
    let ended: Vec<bool> = watcher
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE '%kaifang_append_messages%' \
             AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ended, [true], "the senders' connection was not found");

    let mut stored = vec!["before".to_string()];
    for attempt in 1..=2 {
        let body = format!("after {attempt}");
        match store.append_message(send(&body)).await {
            Ok(_) => {
                stored.push(body);
                break;
            }
            Err(Error::Unavailable(_)) if attempt == 1 => {}
            Err(e) => panic!("attempt {attempt}: {e:?}"),
        }
    }
    let bodies: Vec<String> = store
        .messages(direct.id, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, stored);
    drop((store, watcher));
}
