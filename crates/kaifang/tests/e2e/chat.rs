//! Issue 14 (items 1 and 2) end to end: edit, recall, reply and react,
//! seen live over the WebSocket and the long poll, in history, and each
//! refusal with its status.
use std::time::Duration;

use serde_json::{Value, json};

use crate::{TestServer, id, status, user};

async fn next(stream: &mut kaifang_client::EventStream) -> Value {
    tokio::time::timeout(Duration::from_secs(10), stream.next_event())
        .await
        .expect("an event within 10 s")
        .expect("stream open")
        .expect("valid event")
}

/// The next event of `kind`, skipping others (member events, previews).
async fn next_of(stream: &mut kaifang_client::EventStream, kind: &str) -> Value {
    for _ in 0..20 {
        let e = next(stream).await;
        if e["type"] == kind {
            return e;
        }
    }
    panic!("no {kind} event among the next 20");
}

#[tokio::test]
async fn edits_recalls_replies_and_reactions_reach_the_other_member_live() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let mut live = bob.stream(None).await.unwrap();
    let start = bob.poll(None, 0).await.unwrap();
    let since = start["next"].as_str().unwrap().to_owned();

    let hello = alice.send(c, "hello\nsecond line", None).await.unwrap();
    let seq = hello["seq"].as_i64().unwrap();
    assert_eq!(hello["edited_at"], Value::Null);
    assert_eq!(
        next_of(&mut live, "message").await["message"]["body"],
        "hello\nsecond line"
    );

    // A reply names the seq and quotes the first line.
    let reply = bob.reply(c, "hi yourself", seq).await.unwrap();
    assert_eq!(reply["reply_to"], seq);
    assert_eq!(
        reply["reply"],
        json!({"seq": seq, "sender": "alice", "text": "hello", "recalled": false, "removed": false})
    );
    next_of(&mut live, "message").await;

    // An edit: the new text, marked, and its links decided again.
    let edited = alice
        .edit(c, seq, "hello, see https://example.com/a")
        .await
        .unwrap();
    assert_eq!(edited["body"], "hello, see https://example.com/a");
    assert!(edited["edited_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(edited["links"][0]["url"], "https://example.com/a");
    let e = next_of(&mut live, "edit").await;
    assert_eq!(e["message"]["seq"], seq);
    assert_eq!(e["message"]["body"], "hello, see https://example.com/a");
    assert_eq!(e["message"]["edited_at"], edited["edited_at"]);

    // Reactions: counted and named, an event per change.
    bob.react(c, seq, "👍", true).await.unwrap();
    alice.react(c, seq, "👍", true).await.unwrap();
    let r = next_of(&mut live, "reaction").await;
    assert_eq!(
        (&r["seq"], &r["emoji"], &r["user"], &r["on"]),
        (&json!(seq), &json!("👍"), &json!("bob"), &json!(true))
    );
    assert_eq!(next_of(&mut live, "reaction").await["user"], "alice");
    alice.react(c, seq, "👍", false).await.unwrap();
    assert_eq!(next_of(&mut live, "reaction").await["on"], false);
    let history = bob.history(c, None, 10).await.unwrap();
    assert_eq!(
        history["messages"][0]["reactions"],
        json!([{"emoji": "👍", "users": ["bob"]}])
    );
    assert!(history["messages"][0]["edited_at"].is_string());

    // A recall: the placeholder, told apart from an operator removal, and
    // the reply's quote now says "recalled".
    alice.recall(c, seq).await.unwrap();
    let r = next_of(&mut live, "recall").await;
    assert_eq!((&r["seq"], &r["by"]), (&json!(seq), &json!("alice")));
    let history = bob.history(c, None, 10).await.unwrap();
    let gone = &history["messages"][0];
    assert_eq!(
        (
            &gone["body"],
            &gone["recalled"],
            &gone["removed"],
            &gone["recalled_by"]
        ),
        (&json!(""), &json!(true), &json!(false), &json!("alice"))
    );
    assert_eq!(gone["reactions"], json!([]));
    assert_eq!(history["messages"][1]["reply"]["recalled"], true);
    assert_eq!(history["messages"][1]["reply"]["text"], "");

    // The long poll saw the same changes, in order.
    let polled = bob.poll(Some(&since), 0).await.unwrap();
    let kinds: Vec<&str> = polled["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .filter(|k| *k != "preview")
        .collect();
    assert_eq!(
        kinds,
        [
            "message", "message", "edit", "reaction", "reaction", "reaction", "recall"
        ]
    );
}

#[tokio::test]
async fn refusals_have_their_statuses() {
    let server = TestServer::start_with(&[
        ("KAIFANG_CHAT__RECALL_WINDOW_MS", "1"),
        ("KAIFANG_CHAT__EDIT_WINDOW_MS", "1"),
    ]);
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let eve = user(&server, "eve").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let m = alice.send(c, "mine", None).await.unwrap();
    let seq = m["seq"].as_i64().unwrap();

    // Someone else's message: 404, as if it were not there.
    assert_eq!(status(bob.edit(c, seq, "not yours").await), 404);
    assert_eq!(status(bob.recall(c, seq).await), 404);
    // A non-member: 404 for everything.
    assert_eq!(status(eve.edit(c, seq, "x").await), 404);
    assert_eq!(status(eve.recall(c, seq).await), 404);
    assert_eq!(status(eve.react(c, seq, "👍", true).await), 404);
    assert_eq!(status(eve.reply(c, "x", seq).await), 404);
    // No such message.
    assert_eq!(status(alice.edit(c, 99, "x").await), 404);
    // A reply to a seq this conversation does not have: 400.
    assert_eq!(status(alice.reply(c, "x", 99).await), 400);
    assert_eq!(status(alice.reply(c, "x", 0).await), 400);
    // Not one emoji: 400, as problem+json.
    for bad in ["ok", "👍👍", "1", "👍 "] {
        assert_eq!(status(bob.react(c, seq, bad, true).await), 400, "{bad:?}");
    }
    let r = reqwest::Client::new()
        .put(format!(
            "{}/api/v1/conversations/{c}/messages/{seq}/reactions/x",
            server.url
        ))
        .bearer_auth(bob.token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    // An empty edit is refused like an empty send.
    assert_eq!(status(alice.edit(c, seq, "  ").await), 400);
    // Past the recall window (1 ms here): 409. The wait is before a
    // refusal that must come, not before asserting that nothing happened.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(status(alice.recall(c, seq).await), 409);
    // And past the edit window (1 ms here; 0 would be no limit).
    assert_eq!(status(alice.edit(c, seq, "too late").await), 409);
    // A recalled message can be neither edited nor recalled again.
    let fresh_server = TestServer::start();
    let alice2 = user(&fresh_server, "alice").await;
    user(&fresh_server, "bob").await;
    let c2 = id(&alice2.open_direct("bob").await.unwrap());
    alice2.send(c2, "oops", None).await.unwrap();
    alice2.recall(c2, 1).await.unwrap();
    assert_eq!(status(alice2.recall(c2, 1).await), 409);
    assert_eq!(status(alice2.edit(c2, 1, "back").await), 409);
}

#[tokio::test]
async fn group_admins_remove_any_message_and_members_only_their_own() {
    let server = TestServer::start_with(&[("KAIFANG_CHAT__RECALL_WINDOW_MS", "1")]);
    let owner = user(&server, "owner").await;
    let member = user(&server, "member").await;
    user(&server, "other").await;
    let g = id(&owner
        .create_group("team", &["member".into(), "other".into()])
        .await
        .unwrap());
    let by_member = member.send(g, "member's words", None).await.unwrap();
    let by_owner = owner.send(g, "owner's words", None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The window binds senders, not the group's admins.
    assert_eq!(
        status(member.recall(g, by_member["seq"].as_i64().unwrap()).await),
        409
    );
    assert_eq!(
        status(member.recall(g, by_owner["seq"].as_i64().unwrap()).await),
        404
    );
    owner
        .recall(g, by_member["seq"].as_i64().unwrap())
        .await
        .unwrap();
    let history = member.history(g, None, 10).await.unwrap();
    let gone = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["seq"] == by_member["seq"])
        .unwrap();
    assert_eq!(
        (&gone["recalled"], &gone["recalled_by"]),
        (&json!(true), &json!("owner"))
    );
}

#[tokio::test]
async fn an_edit_with_a_blocked_link_is_refused_and_the_text_stays() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("threats.txt");
    std::fs::write(&list, "evil-shop.top\n").unwrap();
    let server = TestServer::start_with(&[(
        "KAIFANG_LINKS__BLOCKLISTS",
        &format!("{{threats=\"{}\"}}", list.display()),
    )]);
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    alice.send(c, "an honest text", None).await.unwrap();
    match alice
        .edit(c, 1, "now https://login.evil-shop.top/win")
        .await
    {
        Err(kaifang_client::Error::Api {
            status, problem, ..
        }) => {
            assert_eq!(status, 422);
            assert_eq!(problem["links"][0]["treatment"], "blocked");
        }
        other => panic!("expected 422, got {other:?}"),
    }
    let h = alice.history(c, None, 10).await.unwrap();
    assert_eq!(h["messages"][0]["body"], "an honest text");
    assert_eq!(h["messages"][0]["edited_at"], Value::Null);
}

#[tokio::test]
async fn an_edit_mentions_whom_its_new_text_mentions() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let sent = alice.send(c, "hi @bob", None).await.unwrap();
    assert_eq!(sent["mentions"], json!({"all": false, "handles": ["bob"]}));
    let seq = sent["seq"].as_i64().unwrap();

    let edited = alice.edit(c, seq, "hi everyone").await.unwrap();
    assert_eq!(edited["mentions"], json!({"all": false, "handles": []}));
    let edited = alice.edit(c, seq, "hi @bob and @nobody").await.unwrap();
    assert_eq!(
        edited["mentions"],
        json!({"all": false, "handles": ["bob"]})
    );
    let history = alice.history(c, None, 10).await.unwrap();
    assert_eq!(
        history["messages"][0]["mentions"],
        json!({"all": false, "handles": ["bob"]})
    );
}
