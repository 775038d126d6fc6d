//! `GET /api/v1/search` and `kaifang search`: Chinese found inside a
//! sentence, only in the caller's conversations, gone once an operator
//! removes the message; bad queries refused with problems, at once.
use std::time::{Duration, Instant};

use kaifang_client::Client;
use reqwest::Method;
use serde_json::Value;

use crate::{TestServer, id, refused, user};

const LIVE: &str = "明天下午三点在淘宝直播间见";

async fn hits(client: &Client, q: &str) -> Vec<Value> {
    let page = client.search(q, None, None, None).await.unwrap();
    page["results"].as_array().unwrap().clone()
}

#[tokio::test]
async fn members_find_chinese_words_until_they_leave_or_it_is_removed() {
    let server = TestServer::start();
    let root = user(&server, "root").await;
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let carol = user(&server, "carol").await;
    let direct = id(&alice.open_direct("bob").await.unwrap());
    let sent = alice.send(direct, LIVE, None).await.unwrap();
    alice.send(direct, "later, unrelated", None).await.unwrap();
    let group = id(&alice
        .create_group("周末", &["bob".into(), "carol".into()])
        .await
        .unwrap());
    alice.send(group, "直播 starts at 3", None).await.unwrap();

    let found = hits(&bob, "直播").await;
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0]["conversation_id"], group);
    let hit = &found[1];
    assert_eq!(
        (
            hit["id"].as_i64(),
            hit["conversation_id"].as_i64(),
            hit["seq"].as_i64(),
            hit["sender"].as_str(),
            hit["snippet"].as_str(),
        ),
        (
            sent["id"].as_i64(),
            Some(direct),
            Some(1),
            Some("alice"),
            Some(LIVE)
        )
    );
    assert_eq!(hit["created_at"], sent["created_at"]);
    // Three characters and more go through the index.
    assert_eq!(hits(&bob, "淘宝直播间").await.len(), 1);
    // Only this conversation; someone else's is 404, as everywhere.
    let only = bob.search("直播", Some(direct), None, None).await.unwrap();
    assert_eq!(only["results"].as_array().unwrap().len(), 1);
    assert_eq!(
        refused(carol.search("直播", Some(direct), None, None).await),
        404
    );
    assert_eq!(hits(&carol, "直播").await.len(), 1);
    // Carol leaves the group: nothing of it any more.
    carol.remove_member(group, "carol").await.unwrap();
    assert!(hits(&carol, "直播").await.is_empty());
    assert!(hits(&carol, "starts at").await.is_empty());

    // An operator removes the message: its text is found no more.
    let path = format!("/api/v1/admin/messages/{}", id(&sent));
    root.raw(Method::DELETE, &path, None).await.unwrap();
    for reader in [&alice, &bob] {
        let left = hits(reader, "直播").await;
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(left[0]["conversation_id"], group);
        assert!(hits(reader, "淘宝直播间").await.is_empty());
    }
}

#[tokio::test]
async fn bad_queries_are_refused_with_problems_at_once() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let every = r#"" * ( ) : ^ NEAR AND OR - % _ \"#;
    alice.send(c, every, None).await.unwrap();
    alice
        .send(c, "near and far, 100 percent", None)
        .await
        .unwrap();

    let started = Instant::now();
    let huge = "a".repeat(10_000);
    assert_eq!(refused(alice.search(&huge, None, None, None).await), 400);
    let huge_chinese = "直".repeat(257);
    assert_eq!(
        refused(alice.search(&huge_chinese, None, None, None).await),
        400
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(refused(alice.search("", None, None, None).await), 400);
    assert_eq!(refused(alice.search("  \t ", None, None, None).await), 400);
    assert_eq!(
        refused(alice.search("a\u{0}b", None, None, None).await),
        400
    );
    assert_eq!(refused(alice.search("ok", None, None, Some(0)).await), 400);
    assert_eq!(refused(alice.search("ok", None, None, Some(51)).await), 400);
    assert_eq!(
        refused(alice.raw(Method::GET, "/api/v1/search", None).await),
        400
    );
    let anonymous = Client::new(&server.url).unwrap();
    assert_eq!(refused(anonymous.search("ok", None, None, None).await), 401);

    // Operators and wildcards are text: each finds only what contains it.
    let texts = |found: Vec<Value>| -> Vec<String> {
        found
            .iter()
            .map(|h| h["snippet"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(texts(hits(&alice, every).await), [every]);
    assert_eq!(
        texts(hits(&alice, "NEAR AND").await),
        ["near and far, 100 percent", every]
    );
    assert!(hits(&alice, "near OR far").await.is_empty());
    assert!(hits(&alice, "n*r").await.is_empty());
    assert_eq!(texts(hits(&alice, "%").await), [every]);
    assert_eq!(texts(hits(&alice, "_ \\").await), [every]);
    assert!(hits(&alice, "1_0").await.is_empty());
}

#[tokio::test]
async fn searching_too_fast_is_429() {
    let server = TestServer::start_with(&[
        ("KAIFANG_SEARCH__QUERIES_PER_SECOND", "1"),
        ("KAIFANG_SEARCH__QUERIES_BURST", "2"),
    ]);
    let alice = user(&server, "alice").await;
    alice.search("one", None, None, None).await.unwrap();
    alice.search("two", None, None, None).await.unwrap();
    assert_eq!(refused(alice.search("three", None, None, None).await), 429);
    // Another user has a bucket of their own.
    let bob = user(&server, "bob").await;
    bob.search("one", None, None, None).await.unwrap();
}

#[test]
fn the_cli_searches() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let run = |handle: &str, args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kaifang"))
            .args(["--server", &server.url, "--client-config"])
            .arg(dir.path().join(format!("{handle}.json")))
            .args(args)
            .env_remove("KAIFANG_TOKEN")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null)
    };
    for h in ["alice", "bob"] {
        run(h, &["account", "create", h, "--password", crate::PASSWORD]);
        run(h, &["login", h, "--password", crate::PASSWORD]);
    }
    let c = id(&run("alice", &["conversation", "create", "--with", "bob"]));
    run("alice", &["send", &c.to_string(), LIVE]);
    let found = run("bob", &["search", "直播"]);
    assert_eq!(found["results"][0]["snippet"], LIVE);
}
