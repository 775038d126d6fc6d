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
    let eve_since = eve.poll(None, 0).await.unwrap()["next"]
        .as_str()
        .unwrap()
        .to_owned();
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
    // Eve is in nothing. A later conversation with her is the signal that
    // the server got past all of the group's events: the first thing she
    // hears, by poll or stream, is her own conversation, never the group.
    let d = id(&owner.open_direct("eve").await.unwrap());
    let polled = eve.poll(Some(&eve_since), 10_000).await.unwrap();
    let events = polled["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| e["conversation_id"] == d),
        "{events:?}"
    );
    assert_eq!(next(&mut eve_stream).await["conversation_id"], d);
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
    // Send only once the poll is waiting, so it must be woken.
    server.wait_for_clients(1).await;
    alice.send(c, "wake up", None).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got["events"][0]["message"]["body"], "wake up");
    assert_eq!(got["next"], got["events"][0]["cursor"]);
}

/// Every pair at the same step; bounded, as a pair that failed never comes.
async fn meet(barrier: &tokio::sync::Barrier) {
    tokio::time::timeout(Duration::from_secs(20), barrier.wait())
        .await
        .expect("every pair reached this step");
}

/// "Now" covers every write acknowledged before it was asked for: the
/// events of a conversation created just before are not news to a poll
/// from "now", even while the fan-out is still delivering them. Eight
/// pairs go at once and every group has 30 more members, so that the
/// fan-out has work queued when a creation is acknowledged.
#[tokio::test]
async fn a_cursor_for_now_covers_every_acknowledged_write() {
    const PAIRS: usize = 8;
    const ROUNDS: usize = 25; // 200 repetitions in all
    let server = std::sync::Arc::new(TestServer::start());
    let mut extras = Vec::new();
    for k in 0..30 {
        user(&server, &format!("extra{k}")).await;
        extras.push(format!("extra{k}"));
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(PAIRS));
    let started = std::time::Instant::now();
    let mut pairs = Vec::new();
    for pair in 0..PAIRS {
        let alice = user(&server, &format!("alice{pair}")).await;
        let bob = user(&server, &format!("bob{pair}")).await;
        let (server, barrier) = (server.clone(), barrier.clone());
        let mut members = extras.clone();
        members.push(format!("bob{pair}"));
        pairs.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                let g = id(&alice.create_group("g", &members).await.unwrap());
                // Bob waits from "now"; Alice sends once every Bob waits.
                let mut waiter = {
                    let bob = bob.clone();
                    tokio::spawn(async move { bob.poll(None, 10_000).await.unwrap() })
                };
                tokio::select! {
                    () = server.wait_for_clients(PAIRS as u64) => {}
                    early = &mut waiter => panic!(
                        "a poll from now answered before anything was sent: {:?}",
                        early.unwrap()
                    ),
                }
                // Seen by all before anyone sends (one answer lowers it).
                meet(&barrier).await;
                let body = format!("{pair}/{round}");
                alice.send(g, &body, None).await.unwrap();
                let got = tokio::time::timeout(Duration::from_secs(10), waiter)
                    .await
                    .expect("the poll answered in time")
                    .unwrap();
                assert_eq!(got["events"][0]["message"]["body"], body, "{got}");
                // Then from the cursor it gave: nothing more.
                let rest = bob.poll(got["next"].as_str(), 0).await.unwrap();
                assert_eq!(rest["events"], serde_json::json!([]));
                // Every poll has ended before the next round counts them.
                server.wait_for_clients(0).await;
                meet(&barrier).await;
            }
        }));
    }
    for p in pairs {
        tokio::time::timeout(Duration::from_secs(120), p)
            .await
            .expect("200 repetitions within 2 minutes")
            .unwrap();
    }
    eprintln!("200 repetitions in {:?}", started.elapsed());
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
    // In step with the reader, so that only the stuck client can fall
    // behind (a reader slowed by a loaded machine would be resynced too):
    // each message reaches the reader while the stuck one holds the rest.
    let started = std::time::Instant::now();
    for i in 0..n {
        alice.send(c, &format!("{i:03}{body}"), None).await.unwrap();
        let e = next(&mut reader).await;
        assert_eq!(e["type"], "message", "message {i}: {e}");
        assert!(
            e["message"]["body"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{i:03}"))
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{n} messages took over a minute"
    );
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
