//! Everyday chat: mentions on messages, read markers synced to a user's
//! devices, mutes, read receipts and typing indicators (issue #14).
use std::time::{Duration, Instant};

use kaifang_client::{Client, EventStream};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{PASSWORD, TestServer, id, status, user};

async fn next(stream: &mut EventStream) -> Value {
    tokio::time::timeout(Duration::from_secs(10), stream.next_event())
        .await
        .expect("an event within 10 s")
        .expect("stream open")
        .expect("valid event")
}

/// The next event of `kind`, skipping others (joins, own messages).
async fn next_of(stream: &mut EventStream, kind: &str) -> Value {
    loop {
        let e = next(stream).await;
        if e["type"] == kind {
            return e;
        }
    }
}

/// Another device (session) of an existing user.
async fn device(server: &TestServer, handle: &str) -> Client {
    let mut c = Client::new(&server.url).unwrap();
    c.sign_in(handle, PASSWORD).await.unwrap();
    c
}

async fn put_read(c: &Client, conversation: i64, seq: i64) -> Result<Value, kaifang_client::Error> {
    c.raw(
        Method::PUT,
        &format!("/api/v1/conversations/{conversation}/read"),
        Some(&json!({ "seq": seq })),
    )
    .await
}

fn listed(list: &Value, conversation: i64) -> Value {
    list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == conversation)
        .cloned()
        .expect("conversation listed")
}

#[tokio::test]
async fn mentions_name_members_only_and_all_follows_the_group_size() {
    let server = TestServer::start_with(&[("KAIFANG_CHAT__MENTION_ALL_MAX_MEMBERS", "2")]);
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let _carol = user(&server, "carol").await;
    let _dave = user(&server, "dave").await;
    let small = id(&alice.create_group("two", &["bob".into()]).await.unwrap());
    let large = id(&alice
        .create_group("three", &["bob".into(), "dave".into()])
        .await
        .unwrap());
    let direct = id(&alice.open_direct("bob").await.unwrap());
    let mut bob_stream = bob.stream(None).await.unwrap();

    // carol exists but is not a member; ghost does not exist: plain text.
    let m = alice
        .send(large, "@bob @carol @ghost 看一下", None)
        .await
        .unwrap();
    assert_eq!(m["mentions"], json!({ "all": false, "handles": ["bob"] }));
    assert_eq!(
        m["body"], "@bob @carol @ghost 看一下",
        "the text is untouched"
    );
    let e = next_of(&mut bob_stream, "message").await;
    assert_eq!(e["message"]["mentions"]["handles"], json!(["bob"]));

    // @all: anyone in a group of at most 2, only owner/admins above.
    let m = bob.send(small, "@all hi", None).await.unwrap();
    assert_eq!(m["mentions"]["all"], true);
    let m = bob.send(large, "@all hi", None).await.unwrap();
    assert_eq!(m["mentions"]["all"], false, "a plain member of 3 > 2");
    let m = alice.send(large, "@all hi", None).await.unwrap();
    assert_eq!(m["mentions"]["all"], true, "the owner may");
    let m = bob.send(direct, "@all hi", None).await.unwrap();
    assert_eq!(m["mentions"]["all"], true, "direct chats always may");

    // History and the long poll carry them too.
    let history = bob.history(large, None, 50).await.unwrap();
    assert_eq!(
        history["messages"][0]["mentions"]["handles"],
        json!(["bob"])
    );
    let polled = bob.poll(Some("c1.0"), 0).await.unwrap();
    assert!(
        polled["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"]["mentions"]["all"] == true)
    );
}

#[tokio::test]
async fn read_markers_move_forward_and_reach_only_the_readers_devices() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let carol = user(&server, "carol").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    for text in ["one", "two", "three"] {
        bob.send(c, text, None).await.unwrap();
    }
    let listed_before = listed(&alice.conversations().await.unwrap(), c);
    assert_eq!(
        (
            &listed_before["unread"],
            &listed_before["read_seq"],
            &listed_before["muted"]
        ),
        (&json!(3), &json!(0), &json!(false))
    );

    let phone = device(&server, "alice").await;
    let mut laptop_stream = alice.stream(None).await.unwrap();
    let mut phone_stream = phone.stream(None).await.unwrap();
    let mut bob_stream = bob.stream(None).await.unwrap();
    server.wait_for_clients(3).await;

    let state = put_read(&alice, c, 2).await.unwrap();
    assert_eq!(
        (&state["read_seq"], &state["unread"]),
        (&json!(2), &json!(1))
    );
    for stream in [&mut laptop_stream, &mut phone_stream] {
        let e = next(stream).await;
        assert_eq!(e["type"], "read");
        assert_eq!(
            (&e["conversation_id"], &e["seq"], &e["unread"]),
            (&json!(c), &json!(2), &json!(1))
        );
        assert!(e.get("cursor").is_none(), "not in the log: {e}");
    }
    // Never backwards: seq 1 changes nothing and tells nobody; the next
    // event the phone sees is the move to 3.
    let state = put_read(&phone, c, 1).await.unwrap();
    assert_eq!(state["read_seq"], 2);
    put_read(&phone, c, 99).await.unwrap();
    let e = next(&mut phone_stream).await;
    assert_eq!(
        (&e["type"], &e["seq"], &e["unread"]),
        (&json!("read"), &json!(3), &json!(0))
    );
    assert_eq!(
        listed(&alice.conversations().await.unwrap(), c)["unread"],
        0
    );

    // Bob (read receipts off) heard none of it: his next event is alice's message.
    alice.send(c, "control", None).await.unwrap();
    let e = next(&mut bob_stream).await;
    assert_eq!(
        (&e["type"], &e["message"]["body"]),
        (&json!("message"), &json!("control"))
    );

    // A waiting long poll gets the event too, and it does not move the cursor.
    bob.send(c, "four", None).await.unwrap();
    let since = alice.poll(None, 0).await.unwrap()["next"]
        .as_str()
        .unwrap()
        .to_owned();
    let poller = alice.clone();
    let from = since.clone();
    let poll = tokio::spawn(async move { poller.poll(Some(&from), 10_000).await.unwrap() });
    server.wait_for_clients(4).await;
    put_read(&phone, c, 5).await.unwrap();
    let answer = poll.await.unwrap();
    assert_eq!(answer["events"][0]["type"], "read");
    assert_eq!(answer["events"][0]["seq"], 5);
    assert_eq!(
        answer["next"],
        json!(since),
        "an ephemeral event has no cursor"
    );

    // Outsiders and bad input.
    assert_eq!(status(put_read(&carol, c, 1).await), 404);
    assert_eq!(status(put_read(&alice, c + 1000, 1).await), 404);
    assert_eq!(status(put_read(&alice, c, -1).await), 400);
    let wrong = alice
        .raw(
            Method::PUT,
            &format!("/api/v1/conversations/{c}/read"),
            Some(&json!({ "seq": "x" })),
        )
        .await;
    assert_eq!(status(wrong), 400);
}

#[tokio::test]
async fn mutes_are_per_user_and_reach_the_users_devices() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let carol = user(&server, "carol").await;
    let g = id(&alice.create_group("g", &["bob".into()]).await.unwrap());
    let phone = device(&server, "alice").await;
    let mut phone_stream = phone.stream(None).await.unwrap();
    server.wait_for_clients(1).await;
    let path = format!("/api/v1/conversations/{g}/mute");

    let state = alice.raw(Method::PUT, &path, None).await.unwrap();
    assert_eq!(state["muted"], true);
    let e = next(&mut phone_stream).await;
    assert_eq!(
        (&e["type"], &e["conversation_id"], &e["muted"]),
        (&json!("mute"), &json!(g), &json!(true))
    );
    assert_eq!(
        listed(&phone.conversations().await.unwrap(), g)["muted"],
        true
    );
    assert_eq!(
        listed(&bob.conversations().await.unwrap(), g)["muted"],
        false
    );

    let state = phone.raw(Method::DELETE, &path, None).await.unwrap();
    assert_eq!(state["muted"], false);
    assert_eq!(next(&mut phone_stream).await["muted"], false);
    assert_eq!(
        listed(&alice.conversations().await.unwrap(), g)["muted"],
        false
    );

    assert_eq!(status(carol.raw(Method::PUT, &path, None).await), 404);
    assert_eq!(status(carol.raw(Method::DELETE, &path, None).await), 404);
}

#[tokio::test]
async fn read_receipts_reach_the_other_member_only_when_both_send_them() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    for text in ["one", "two"] {
        bob.send(c, text, None).await.unwrap();
    }
    let setting = bob
        .raw(Method::GET, "/api/v1/me/read-receipts", None)
        .await
        .unwrap();
    assert_eq!(setting, json!({ "enabled": false }), "off by default");
    let on = json!({ "enabled": true });
    alice
        .raw(Method::PUT, "/api/v1/me/read-receipts", Some(&on))
        .await
        .unwrap();
    let mut bob_stream = bob.stream(None).await.unwrap();
    server.wait_for_clients(1).await;

    // Alice sends receipts, Bob does not: he sees none of hers.
    put_read(&alice, c, 1).await.unwrap();
    bob.raw(Method::PUT, "/api/v1/me/read-receipts", Some(&on))
        .await
        .unwrap();
    put_read(&alice, c, 2).await.unwrap();
    let e = next(&mut bob_stream).await;
    assert_eq!(
        (&e["type"], &e["handle"], &e["seq"]),
        (&json!("receipt"), &json!("alice"), &json!(2)),
        "the first receipt bob gets is for seq 2: seq 1 was read while he had them off"
    );
    assert!(e.get("unread").is_none(), "alice's unread count stays hers");
}

#[tokio::test]
async fn typing_is_relayed_in_direct_chats_and_never_stored() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let carol = user(&server, "carol").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let g = id(&alice.create_group("g", &["bob".into()]).await.unwrap());
    let mut bob_stream = bob.stream(None).await.unwrap();
    let mut alice_stream = alice.stream(None).await.unwrap();
    server.wait_for_clients(2).await;
    let typing = |conversation: i64| format!("/api/v1/conversations/{conversation}/typing");

    assert_eq!(
        alice.raw(Method::POST, &typing(c), None).await.unwrap(),
        Value::Null
    );
    let e = next(&mut bob_stream).await;
    assert_eq!(
        (&e["type"], &e["handle"], &e["conversation_id"]),
        (&json!("typing"), &json!("alice"), &json!(c))
    );
    // The typist's own devices are not told; their next event is the control.
    bob.send(c, "control", None).await.unwrap();
    assert_eq!(next(&mut alice_stream).await["type"], "message");
    // Nothing in the log: from the beginning there are joins and the message.
    let all = bob.poll(Some("c1.0"), 0).await.unwrap();
    assert!(
        all["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] != "typing"),
        "{all}"
    );

    assert_eq!(status(alice.raw(Method::POST, &typing(g), None).await), 422);
    assert_eq!(status(carol.raw(Method::POST, &typing(c), None).await), 404);
    assert_eq!(
        status(carol.raw(Method::POST, &typing(c + 1000), None).await),
        404
    );
}

/// 1,000 typing requests in about a second from one client: each answered
/// 204, at most one relayed per `chat.typing_min_interval_ms` (default
/// 1,000 ms), and another user's sends stay as fast as before the flood.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_typing_flood_is_throttled_and_does_not_slow_others() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let carol = user(&server, "carol").await;
    let _dave = user(&server, "dave").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let other = id(&carol.open_direct("dave").await.unwrap());
    let mut bob_stream = bob.stream(None).await.unwrap();
    server.wait_for_clients(1).await;

    async fn latencies(carol: &Client, conversation: i64, n: usize) -> Vec<Duration> {
        let mut out = Vec::new();
        for i in 0..n {
            let start = Instant::now();
            carol
                .send(conversation, &format!("m{i}"), None)
                .await
                .unwrap();
            out.push(start.elapsed());
        }
        out.sort();
        out
    }
    let before = latencies(&carol, other, 20).await;

    const REQUESTS: usize = 1_000;
    const WORKERS: usize = 10;
    let started = Instant::now();
    let mut flood = Vec::new();
    for w in 0..WORKERS {
        let alice = alice.clone();
        flood.push(tokio::spawn(async move {
            let path = format!("/api/v1/conversations/{c}/typing");
            for i in 0..REQUESTS / WORKERS {
                // Paced to about 1,000 a second in all, bounded in time.
                let due = started + Duration::from_micros(((i * WORKERS + w) * 1_000) as u64);
                tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
                let r = alice.raw(Method::POST, &path, None).await;
                assert_eq!(r.unwrap(), Value::Null, "every request is answered 204");
            }
        }));
    }
    let during = latencies(&carol, other, 20).await;
    for f in flood {
        tokio::time::timeout(Duration::from_secs(60), f)
            .await
            .expect("the flood ends within 60 s")
            .unwrap();
    }
    let elapsed = started.elapsed();

    // A control message after the flood: every typing event relayed is
    // queued before it.
    alice.send(c, "after the flood", None).await.unwrap();
    let mut relayed = 0u64;
    loop {
        let e = next(&mut bob_stream).await;
        match e["type"].as_str() {
            Some("typing") => relayed += 1,
            Some("message") => break,
            _ => {}
        }
    }
    let allowed = elapsed.as_millis() as u64 / 1_000 + 1;
    assert!(relayed >= 1, "the first notice is relayed");
    assert!(
        relayed <= allowed,
        "{relayed} typing events relayed in {elapsed:?}; at most {allowed}"
    );
    let median = |v: &[Duration]| v[v.len() / 2];
    eprintln!(
        "typing flood: {REQUESTS} requests in {elapsed:?}, {relayed} relayed; \
         other user's send median {:?} before, {:?} during (max {:?})",
        median(&before),
        median(&during),
        during.last().unwrap()
    );
    assert!(
        median(&during) <= median(&before) * 10 + Duration::from_millis(50),
        "sends slowed from {:?} to {:?}",
        median(&before),
        median(&during)
    );
}

/// Two nodes on one database and one bus: a typing notice sent on one node
/// reaches the other member streaming from the other node, and a read
/// marker moved on one node reaches the reader's device on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_and_read_markers_cross_nodes_on_the_bus() {
    let pair = crate::nodes::Pair::start().await;
    let alice = user(&pair.a, "alice").await;
    user(&pair.a, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let bob_on_b = device(&pair.b, "bob").await;
    let bob_on_a = device(&pair.a, "bob").await;
    let mut stream_b = bob_on_b.stream(None).await.unwrap();
    let mut stream_a = bob_on_a.stream(None).await.unwrap();
    pair.b.wait_for_clients(1).await;
    pair.a.wait_for_clients(1).await;
    // Once node B delivers this live, its fan-out knows the conversation.
    alice.send(c, "hello", None).await.unwrap();
    assert_eq!(next(&mut stream_b).await["type"], "message");

    let typing = format!("/api/v1/conversations/{c}/typing");
    alice.raw(Method::POST, &typing, None).await.unwrap();
    let e = next(&mut stream_b).await;
    assert_eq!(
        (&e["type"], &e["handle"]),
        (&json!("typing"), &json!("alice"))
    );

    put_read(&bob_on_b, c, 1).await.unwrap();
    let e = next_of(&mut stream_a, "read").await;
    assert_eq!((&e["conversation_id"], &e["seq"]), (&json!(c), &json!(1)));
}
