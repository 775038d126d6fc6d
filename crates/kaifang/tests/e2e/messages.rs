use reqwest::StatusCode;
use serde_json::json;

use crate::{TestServer, id, status, user};

#[tokio::test]
async fn messages_are_numbered_and_paged() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    for i in 1..=30 {
        let m = alice.send(c, &format!("message {i}"), None).await.unwrap();
        assert_eq!(m["seq"], i);
        assert_eq!(m["sender"], "alice");
        assert!(m["links"].is_array());
        assert!(m["created_at"].as_str().unwrap().ends_with('Z'));
    }
    let page = alice.history(c, None, 10).await.unwrap();
    let seqs: Vec<i64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (21..=30).collect::<Vec<_>>());
    let older = alice.history(c, Some(21), 10).await.unwrap();
    assert_eq!(older["messages"][0]["seq"], 11);
    assert_eq!(status(alice.history(c, None, 0).await), 400);
    assert_eq!(status(alice.history(c, None, 100_000).await), 400);
}

#[tokio::test]
async fn a_repeated_client_txn_id_returns_the_original() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/conversations/{c}/messages", server.url);
    let send = |body: &'static str| {
        http.post(&url)
            .bearer_auth(alice.token().unwrap())
            .json(&json!({"body": body, "client_txn_id": "txn-1"}))
            .send()
    };
    let first = send("hello").await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: serde_json::Value = first.json().await.unwrap();
    let again = send("hello (retried)").await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(first, again);
    let all = alice.history(c, None, 10).await.unwrap();
    assert_eq!(all["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn oversized_and_empty_messages_are_refused() {
    let server = TestServer::start_with(&[("KAIFANG_LIMITS__MAX_MESSAGE_BYTES", "100")]);
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    alice.send(c, &"好".repeat(33), None).await.unwrap(); // 99 bytes
    assert_eq!(status(alice.send(c, &"好".repeat(34), None).await), 413);
    assert_eq!(status(alice.send(c, "   ", None).await), 400);
    // A body over the request cap is refused before it is parsed.
    let huge = "x".repeat(200 * 1024);
    assert_eq!(status(alice.send(c, &huge, None).await), 413);
    assert_eq!(
        status(alice.send(c, "hi", Some(&"t".repeat(500))).await),
        400
    );
}

#[tokio::test]
async fn sending_too_fast_gets_429_with_retry_after() {
    let server = TestServer::start_with(&[
        ("KAIFANG_LIMITS__MESSAGES_PER_SECOND", "1"),
        ("KAIFANG_LIMITS__MESSAGES_BURST", "3"),
    ]);
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    for i in 0..3 {
        alice.send(c, &format!("{i}"), None).await.unwrap();
    }
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/conversations/{c}/messages", server.url))
        .bearer_auth(alice.token().unwrap())
        .json(&json!({"body": "one too many"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
}
