//! Full-text search, run against every backend: Chinese inside sentences,
//! queries taken literally, the index following every change of the text,
//! membership, and paging.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use kaifang_store::{AdminGrant, MemberChange, Message, NewMessage, SearchQuery, UserId};
use support::{Backend, Fixture, Place, open};

fn send(conversation_id: i64, sender_id: UserId, body: &str) -> NewMessage {
    NewMessage::text(conversation_id, sender_id, body)
}

fn query(user: UserId, text: &str) -> SearchQuery {
    SearchQuery {
        user,
        text: text.into(),
        conversation: None,
        before: None,
        limit: 50,
        short_scan: 10_000,
    }
}

/// The texts found, newest first.
async fn found(f: &Fixture, q: SearchQuery) -> Vec<String> {
    let page = f.store.search(q).await.unwrap();
    page.hits.into_iter().map(|m| m.body).collect()
}

async fn users(f: &Fixture, handles: &[&str]) -> Vec<UserId> {
    let mut out = Vec::new();
    for h in handles {
        let u = f
            .store
            .create_user(h, h, "h", AdminGrant::No)
            .await
            .unwrap();
        out.push(u.id);
    }
    out
}

async fn post(f: &Fixture, c: i64, from: UserId, body: &str) -> Message {
    f.store.append_message(send(c, from, body)).await.unwrap().0
}

/// Runs SQL on the fixture's database directly, as another writer would
/// (an edit or recall that does not exist yet, a clean-up job).
async fn raw(place: &Place, sql: &str) {
    match place {
        Place::Sqlite(dir) => {
            let conn = rusqlite::Connection::open(dir.path().join("db/kaifang.db")).unwrap();
            conn.execute_batch(sql).unwrap();
        }
        Place::Postgres(db) => {
            let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let task = tokio::spawn(connection);
            client.batch_execute(sql).await.unwrap();
            drop(client);
            task.await.unwrap().unwrap();
        }
    }
}

async fn chinese_words_are_found_inside_sentences(backend: Backend) {
    let f = open(backend).await;
    let [a, b] = users(&f, &["alice", "bob"]).await[..] else {
        unreachable!()
    };
    let (c, _) = f.store.open_direct(a, b).await.unwrap();
    post(&f, c.id, a, "明天下午三点在淘宝直播间见").await;
    post(&f, c.id, b, "See you at the Live Stream").await;
    post(&f, c.id, b, "直接说吧").await;
    let live = ["明天下午三点在淘宝直播间见"];
    // Two characters (the window), three and more (the index).
    assert_eq!(found(&f, query(b, "直播")).await, live);
    assert_eq!(found(&f, query(b, "直播间")).await, live);
    assert_eq!(found(&f, query(b, "三点在淘宝直播")).await, live);
    assert_eq!(found(&f, query(b, "直")).await.len(), 2);
    assert!(found(&f, query(b, "直播室")).await.is_empty());
    // ASCII letters match either case, on both paths.
    assert_eq!(
        found(&f, query(a, "live stream")).await,
        ["See you at the Live Stream"]
    );
    assert_eq!(
        found(&f, query(a, "LI")).await,
        ["See you at the Live Stream"]
    );
}

async fn metacharacters_are_taken_literally(backend: Backend) {
    let f = open(backend).await;
    let [a, b] = users(&f, &["alice", "bob"]).await[..] else {
        unreachable!()
    };
    let (c, _) = f.store.open_direct(a, b).await.unwrap();
    let every = r#"" * ( ) : ^ NEAR AND OR - % _ \"#;
    for body in [
        every,
        "50% off",
        "snake_case",
        r"C:\temp",
        "abc, def",
        "near or far",
        "plain text",
    ] {
        post(&f, c.id, a, body).await;
    }
    assert_eq!(found(&f, query(b, every)).await, [every]);
    // FTS operators and wildcards: nothing but the literal text matches.
    assert_eq!(
        found(&f, query(b, "abc AND def")).await,
        Vec::<String>::new()
    );
    assert_eq!(found(&f, query(b, "pla*")).await, Vec::<String>::new());
    assert_eq!(found(&f, query(b, "NEAR")).await, ["near or far", every]);
    assert_eq!(found(&f, query(b, "\"plain\"")).await, Vec::<String>::new());
    assert_eq!(found(&f, query(b, "^ NEAR")).await, [every]);
    assert_eq!(found(&f, query(b, "( ) :")).await, [every]);
    // LIKE wildcards: `%` and `_` match only themselves, short or long.
    assert_eq!(found(&f, query(b, "%")).await, ["50% off", every]);
    assert_eq!(found(&f, query(b, "0%")).await, ["50% off"]);
    assert_eq!(found(&f, query(b, "_")).await, ["snake_case", every]);
    assert_eq!(found(&f, query(b, "e_c")).await, ["snake_case"]);
    assert_eq!(found(&f, query(b, "n_t")).await, Vec::<String>::new());
    assert_eq!(found(&f, query(b, "p%t")).await, Vec::<String>::new());
    assert_eq!(found(&f, query(b, r"\")).await, [r"C:\temp", every]);
    assert_eq!(found(&f, query(b, r":\t")).await, [r"C:\temp"]);
}

async fn the_index_follows_every_change_of_the_text(backend: Backend) {
    let f = open(backend).await;
    let [a, b] = users(&f, &["alice", "bob"]).await[..] else {
        unreachable!()
    };
    let (c, _) = f.store.open_direct(a, b).await.unwrap();
    let secret = post(&f, c.id, a, "密码是 hunter2").await;
    let edited = post(&f, c.id, a, "周五开会 meeting").await;
    let deleted = post(&f, c.id, a, "临时消息 scratch").await;
    assert_eq!(found(&f, query(b, "hunter2")).await, ["密码是 hunter2"]);

    // An operator's removal empties the text: neither path finds it.
    f.store.remove_message(secret.id, 1).await.unwrap();
    assert!(found(&f, query(b, "hunter2")).await.is_empty());
    assert!(found(&f, query(b, "密码")).await.is_empty());

    // Any other writer that changes or deletes the text (an edit, a
    // recall) moves the index with it.
    raw(
        &f.place,
        &format!(
            "UPDATE messages SET body = '周六开会 review' WHERE id = {}",
            edited.id
        ),
    )
    .await;
    assert!(found(&f, query(b, "周五开会")).await.is_empty());
    assert!(found(&f, query(b, "meeting")).await.is_empty());
    assert_eq!(found(&f, query(b, "周六开会")).await, ["周六开会 review"]);
    raw(
        &f.place,
        &format!(
            "DELETE FROM events WHERE message_id = {0}; DELETE FROM messages WHERE id = {0}",
            deleted.id
        ),
    )
    .await;
    assert!(found(&f, query(b, "scratch")).await.is_empty());
    assert!(found(&f, query(b, "临时")).await.is_empty());
    // The rest of the index is intact.
    assert_eq!(found(&f, query(b, "review")).await, ["周六开会 review"]);
}

async fn only_current_members_find_anything(backend: Backend) {
    let f = open(backend).await;
    let [a, b, c] = users(&f, &["alice", "bob", "carol"]).await[..] else {
        unreachable!()
    };
    let group = f.store.create_group(a, "计划", &[b]).await.unwrap();
    let (direct, _) = f.store.open_direct(a, c).await.unwrap();
    post(&f, group.id, a, "秘密计划 secret plan").await;
    post(&f, direct.id, a, "公开计划 public plan").await;

    assert_eq!(found(&f, query(a, "plan")).await.len(), 2);
    assert_eq!(found(&f, query(b, "plan")).await, ["秘密计划 secret plan"]);
    assert_eq!(found(&f, query(c, "计划")).await, ["公开计划 public plan"]);
    let mut only_group = query(c, "plan");
    only_group.conversation = Some(group.id);
    assert!(found(&f, only_group).await.is_empty());

    // Once bob leaves he finds nothing of the group, not even what he saw.
    f.store
        .change_members(group.id, b, MemberChange::Leave)
        .await
        .unwrap();
    assert!(found(&f, query(b, "plan")).await.is_empty());
    assert!(found(&f, query(b, "秘密")).await.is_empty());
    let mut own = query(a, "plan");
    own.conversation = Some(group.id);
    assert_eq!(found(&f, own).await, ["秘密计划 secret plan"]);
}

async fn pages_run_newest_first_and_short_queries_scan_a_window(backend: Backend) {
    let f = open(backend).await;
    let [a, b] = users(&f, &["alice", "bob"]).await[..] else {
        unreachable!()
    };
    let (c, _) = f.store.open_direct(a, b).await.unwrap();
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(post(&f, c.id, a, &format!("苹果 apple {n}")).await.id);
        post(&f, c.id, b, "other").await;
    }
    ids.reverse();
    // The index: pages of two, the last one ends the search.
    let mut q = query(b, "apple");
    q.limit = 2;
    let mut seen = Vec::new();
    loop {
        let page = f.store.search(q.clone()).await.unwrap();
        seen.extend(page.hits.iter().map(|m| m.id));
        match page.next_before {
            Some(next) => q.before = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ids);

    // Two characters look through `short_scan` messages at a time (the
    // other's messages count): the page says where to go on.
    let mut q = query(b, "苹果");
    q.short_scan = 4;
    let first = f.store.search(q.clone()).await.unwrap();
    assert_eq!(
        first.hits.iter().map(|m| m.id).collect::<Vec<_>>(),
        ids[..2]
    );
    let next = first
        .next_before
        .expect("the window ended, not the history");
    assert_eq!(next, ids[1]);
    q.before = Some(next);
    let mut rest = Vec::new();
    loop {
        let page = f.store.search(q.clone()).await.unwrap();
        rest.extend(page.hits.iter().map(|m| m.id));
        match page.next_before {
            Some(next) => q.before = Some(next),
            None => break,
        }
    }
    assert_eq!(rest, ids[2..]);
}

on_every_backend!(
    chinese_words_are_found_inside_sentences,
    metacharacters_are_taken_literally,
    the_index_follows_every_change_of_the_text,
    only_current_members_find_anything,
    pages_run_newest_first_and_short_queries_scan_a_window,
);
