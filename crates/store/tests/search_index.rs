//! The SQLite search index is written between sends, not inside them
//! (`crates/store/src/sqlite/indexer.rs`): messages not indexed yet are
//! found by a scan, a full chunk is indexed at once, a short backlog when
//! the writer is idle, and the watermark survives deletions and restarts.
//! Each test chooses the pace, so which path serves a message is known.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kaifang_store::{
    AdminGrant, Message, NewMessage, Search, SearchPage, SearchQuery, SqliteConfig, SqliteStore,
    Store, UserId,
};
use tokio::sync::mpsc;

struct Db {
    store: SqliteStore,
    path: PathBuf,
    a: UserId,
    b: UserId,
    c: i64,
    _dir: Option<tempfile::TempDir>,
}

fn config(path: &Path, chunk: usize, idle_ms: u64) -> SqliteConfig {
    let mut config = SqliteConfig::new(path);
    config.search_index_chunk = chunk;
    config.search_index_idle_ms = idle_ms;
    config
}

async fn open(chunk: usize, idle_ms: u64) -> Db {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kaifang.db");
    let (sink, _events) = mpsc::unbounded_channel();
    let store = SqliteStore::open(config(&path, chunk, idle_ms), sink).unwrap();
    let a = store
        .create_user("alice", "alice", "h", AdminGrant::No)
        .await
        .unwrap()
        .id;
    let b = store
        .create_user("bob", "bob", "h", AdminGrant::No)
        .await
        .unwrap()
        .id;
    let (c, _) = store.open_direct(a, b).await.unwrap();
    Db {
        store,
        path,
        a,
        b,
        c: c.id,
        _dir: Some(dir),
    }
}

impl Db {
    async fn post(&self, body: &str) -> Message {
        let m = NewMessage::text(self.c, self.a, body);
        self.store.append_message(m).await.unwrap().0
    }

    async fn search(&self, text: &str, limit: u32, before: Option<i64>) -> SearchPage {
        let q = SearchQuery {
            user: self.b,
            text: text.into(),
            conversation: None,
            before,
            limit,
            short_scan: 10_000,
        };
        self.store.search(q).await.unwrap()
    }

    async fn found(&self, text: &str) -> Vec<String> {
        let page = self.search(text, 50, None).await;
        page.hits.into_iter().map(|m| m.body).collect()
    }

    fn raw(&self, sql: &str) {
        rusqlite::Connection::open(&self.path)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    }

    fn indexed_through(&self) -> i64 {
        rusqlite::Connection::open(&self.path)
            .unwrap()
            .query_row("SELECT indexed_through FROM search_state", [], |r| r.get(0))
            .unwrap()
    }

    /// Waits (at most 10 s) until the index holds message `id`.
    async fn wait_indexed(&self, id: i64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.indexed_through() < id {
            assert!(Instant::now() < deadline, "message {id} never indexed");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A pace under which nothing is indexed while the test runs.
const NEVER: (usize, u64) = (1_000_000, 3_600_000);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_not_indexed_yet_are_found_by_the_scan() {
    let db = open(NEVER.0, NEVER.1).await;
    let live = db.post("明天下午三点在淘宝直播间见").await;
    db.post("See you at the Live Stream").await;
    db.post("50% off, snake_case").await;
    let edited = db.post("周五开会 meeting").await;
    db.post("plain text").await;

    assert_eq!(db.found("三点在淘宝直播").await, [live.body.as_str()]);
    assert_eq!(
        db.found("LIVE STREAM").await,
        ["See you at the Live Stream"]
    );
    assert_eq!(db.found("0% off").await, ["50% off, snake_case"]);
    assert_eq!(db.found("e_c").await, ["50% off, snake_case"]);
    assert!(db.found("f_s").await.is_empty());
    assert!(db.found("p%t").await.is_empty());
    assert!(db.found("直播室").await.is_empty());
    // An edit of a message not indexed yet: the scan reads the text as it is.
    db.raw(&format!(
        "UPDATE messages SET body = '周六开会 review' WHERE id = {}",
        edited.id
    ));
    assert!(db.found("meeting").await.is_empty());
    assert_eq!(db.found("周六开会").await, ["周六开会 review"]);
    // Pages run newest first through the scan too.
    let page = db.search("ee ", 1, None).await;
    assert_eq!(page.hits[0].body, "See you at the Live Stream");
    assert_eq!(page.next_before, Some(page.hits[0].id));
    // And none of it came from the index.
    assert_eq!(db.indexed_through(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_chunk_is_indexed_at_once_and_pages_cross_into_the_scan() {
    let db = open(2, NEVER.1).await;
    let m1 = db.post("abc one").await;
    let m2 = db.post("abc two").await;
    db.wait_indexed(m2.id).await;
    let m3 = db.post("abc three").await;
    assert_eq!(db.indexed_through(), m2.id, "one message is not a chunk");

    // Two pages of two: the first takes the scan's one hit and one from
    // the index, the second the index's last.
    let page = db.search("abc", 2, None).await;
    let bodies: Vec<_> = page.hits.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["abc three", "abc two"]);
    assert_eq!(page.next_before, Some(m2.id));
    let page = db.search("abc", 2, page.next_before).await;
    let bodies: Vec<_> = page.hits.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["abc one"]);
    assert_eq!(page.next_before, None);
    assert!(m3.id > m2.id);

    // Edits and deletions of indexed text move the index.
    db.raw(&format!(
        "UPDATE messages SET body = 'xyz one' WHERE id = {}",
        m1.id
    ));
    assert_eq!(db.found("abc").await, ["abc three", "abc two"]);
    assert_eq!(db.found("xyz").await, ["xyz one"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_given_again_after_a_deletion_is_still_found() {
    let db = open(2, NEVER.1).await;
    db.post("first message").await;
    let last = db.post("second message").await;
    db.wait_indexed(last.id).await;
    // Another writer deletes the newest message: SQLite will give its id
    // to the next one, which the index has not seen.
    db.raw(&format!(
        "DELETE FROM events WHERE message_id = {0}; DELETE FROM messages WHERE id = {0}",
        last.id
    ));
    assert!(db.found("second").await.is_empty());
    let again = db.post("third message").await;
    assert_eq!(again.id, last.id, "SQLite reuses the largest id");
    assert_eq!(db.found("third").await, ["third message"]);
    assert_eq!(
        db.found("message").await,
        ["third message", "first message"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_backlog_is_indexed_when_the_writer_is_idle_and_after_a_restart() {
    let db = open(1_000, 20).await;
    let m = db.post("idle indexing").await;
    db.wait_indexed(m.id).await;
    assert_eq!(db.found("indexing").await, ["idle indexing"]);

    // A backlog left by a stopped server is indexed by the next start.
    let mut db = open(NEVER.0, NEVER.1).await;
    let m = db.post("left behind").await;
    let dir = db._dir.take().unwrap();
    drop(db.store);
    let (sink, _events) = mpsc::unbounded_channel();
    let store = SqliteStore::open(config(&db.path, 1_000, 20), sink).unwrap();
    let db = Db {
        store,
        _dir: Some(dir),
        ..db
    };
    db.wait_indexed(m.id).await;
    assert_eq!(db.found("behind").await, ["left behind"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_go_on_while_indexing_fails_and_indexing_resumes_by_itself() {
    let db = open(1, 20).await;
    let first = db.post("before the failure").await;
    db.wait_indexed(first.id).await;
    // The index's table disappears (a broken file, an operator's mistake):
    // every indexing step now fails.
    db.raw("DROP TABLE messages_search");
    let during = db.post("sent while indexing fails").await;
    let after = db.post("sent after that").await;
    assert!(after.id > during.id, "sends are acknowledged as usual");
    // Still found by the scan, which fills this one-hit page without
    // asking the index (gone, so any page that reached it would fail).
    let page = db.search("indexing fails", 1, None).await;
    assert_eq!(page.hits[0].body, "sent while indexing fails");
    assert_eq!(db.indexed_through(), first.id);
    // The table comes back (empty): the writer's next try indexes the rest.
    db.raw(
        "CREATE VIRTUAL TABLE messages_search USING fts5(\
         body, content = 'messages', content_rowid = 'id', tokenize = 'trigram')",
    );
    db.wait_indexed(after.id).await;
    assert_eq!(db.found("sent after").await, ["sent after that"]);
}
