use std::time::Duration;

use serde_json::Value;

use crate::{TestServer, id, status, user};

async fn next(stream: &mut kaifang_client::EventStream) -> Value {
    tokio::time::timeout(Duration::from_secs(10), stream.next_event())
        .await
        .expect("an event within 10 s")
        .expect("stream open")
        .expect("valid event")
}

#[tokio::test]
async fn the_websocket_delivers_in_real_time_and_resumes_from_a_cursor() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    // From the beginning: the two joins of the new conversation.
    let mut stream = bob.stream(Some("c1.0")).await.unwrap();
    let e = next(&mut stream).await;
    assert_eq!(e["type"], "member");
    assert_eq!(e["change"], "joined");
    next(&mut stream).await;

    alice.send(c, "first", None).await.unwrap();
    let e = next(&mut stream).await;
    assert_eq!(e["type"], "message");
    assert_eq!(e["message"]["body"], "first");
    let cursor = e["cursor"].as_str().unwrap().to_owned();
    drop(stream);

    // Missed while away: delivered on reconnect, in order, once each.
    for i in 0..5 {
        alice.send(c, &format!("missed {i}"), None).await.unwrap();
    }
    let mut stream = bob.stream(Some(&cursor)).await.unwrap();
    for i in 0..5 {
        let e = next(&mut stream).await;
        assert_eq!(e["message"]["body"], format!("missed {i}"));
    }
    alice.send(c, "live again", None).await.unwrap();
    assert_eq!(next(&mut stream).await["message"]["body"], "live again");
}

#[tokio::test]
async fn member_changes_are_events_and_outsiders_get_nothing() {
    let server = TestServer::start();
    let owner = user(&server, "owner").await;
    let carol = user(&server, "carol").await;
    let eve = user(&server, "eve").await;
    let g = id(&owner.create_group("g", &[]).await.unwrap());
    let mut carol_stream = carol.stream(None).await.unwrap();
    let mut eve_stream = eve.stream(None).await.unwrap();
    owner.add_member(g, "carol").await.unwrap();
    let e = next(&mut carol_stream).await;
    assert_eq!(
        (
            e["type"].as_str(),
            e["change"].as_str(),
            e["handle"].as_str()
        ),
        (Some("member"), Some("joined"), Some("carol"))
    );
    owner.send(g, "welcome carol", None).await.unwrap();
    assert_eq!(
        next(&mut carol_stream).await["message"]["body"],
        "welcome carol"
    );
    owner.remove_member(g, "carol").await.unwrap();
    let e = next(&mut carol_stream).await;
    assert_eq!(e["change"], "removed");
    owner.send(g, "after carol", None).await.unwrap();
    // Eve is in nothing: a long poll from her stays empty.
    let polled = eve.poll(None, 0).await.unwrap();
    let since = polled["next"].as_str().unwrap().to_owned();
    let polled = eve.poll(Some(&since), 300).await.unwrap();
    assert!(polled["events"].as_array().unwrap().is_empty());
    assert!(
        tokio::time::timeout(Duration::from_millis(300), eve_stream.next_event())
            .await
            .is_err()
    );
    // Carol's catch-up stops at her removal.
    let all = carol.poll(Some("c1.0"), 0).await.unwrap();
    let bodies: Vec<&str> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["message"]["body"].as_str())
        .collect();
    assert_eq!(bodies, ["welcome carol"]);
}

#[tokio::test]
async fn long_polling_waits_for_the_next_event() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let start = bob.poll(None, 0).await.unwrap();
    let since = start["next"].as_str().unwrap().to_owned();
    let waiter = tokio::spawn(async move { bob.poll(Some(&since), 10_000).await.unwrap() });
    tokio::time::sleep(Duration::from_millis(200)).await;
    alice.send(c, "wake up", None).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got["events"][0]["message"]["body"], "wake up");
    assert_eq!(got["next"], got["events"][0]["cursor"]);
}

#[tokio::test]
async fn bad_cursors_are_refused() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    assert_eq!(status(alice.poll(Some("garbage"), 0).await), 400);
    assert_eq!(
        status(alice.poll(Some("c1.999999"), 0).await),
        400,
        "a cursor from the future"
    );
    assert_eq!(status(alice.poll(None, 999_999).await), 400);
    assert!(alice.stream(Some("c1.999999")).await.is_err());
    let unauth = kaifang_client::Client::new(&server.url)
        .unwrap()
        .with_token("kf_nope");
    assert!(unauth.stream(None).await.is_err());
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_slow_the_others() {
    let server = TestServer::start_with(&[("KAIFANG_STREAM__QUEUE_CAPACITY", "8")]);
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    // Bob has one stream he never reads and one he reads.
    let mut stuck = bob.stream(None).await.unwrap();
    let mut reader = bob.stream(None).await.unwrap();
    let body = "x".repeat(16_000);
    let n = 400; // ~6 MB: more than the socket buffers hold
    let sender = {
        let alice = alice.clone();
        let body = body.clone();
        tokio::spawn(async move {
            for _ in 0..n {
                alice.send(c, &body, None).await.unwrap();
            }
        })
    };
    for _ in 0..n {
        let e = next(&mut reader).await;
        assert_eq!(e["type"], "message");
    }
    tokio::time::timeout(Duration::from_secs(30), sender)
        .await
        .unwrap()
        .unwrap();
    // The stuck client, when it finally reads, is told to resync.
    let mut last = Value::Null;
    while let Ok(Some(Ok(e))) =
        tokio::time::timeout(Duration::from_secs(5), stuck.next_event()).await
    {
        last = e;
    }
    assert_eq!(last["type"], "resync");
    assert!(last["cursor"].as_str().unwrap().starts_with("c1."));
}
