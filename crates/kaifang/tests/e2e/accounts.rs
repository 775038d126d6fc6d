use kaifang_client::Client;
use reqwest::StatusCode;
use serde_json::json;

use crate::{PASSWORD, TestServer, status, user};

#[tokio::test]
async fn sign_up_sign_in_and_sign_out() {
    let server = TestServer::start();
    let mut alice = user(&server, "alice").await;
    let me = alice.me().await.unwrap();
    assert_eq!(me["handle"], "alice");
    assert_eq!(
        me["is_admin"], true,
        "the first account is an administrator"
    );
    let bob = user(&server, "bob").await;
    assert_eq!(bob.me().await.unwrap()["is_admin"], false);

    let token = alice.token().unwrap().to_owned();
    alice.sign_out().await.unwrap();
    let revoked = Client::new(&server.url).unwrap().with_token(token);
    assert_eq!(status(revoked.me().await), 401);
}

#[tokio::test]
async fn bad_accounts_are_refused_clearly() {
    let server = TestServer::start();
    let c = Client::new(&server.url).unwrap();
    c.sign_up("alice", PASSWORD, Some("爱丽丝 🌸"))
        .await
        .unwrap();
    assert_eq!(status(c.sign_up("alice", PASSWORD, None).await), 409);
    for bad in ["al", "Alice", "a-b", "alice!", &"x".repeat(33)] {
        assert_eq!(status(c.sign_up(bad, PASSWORD, None).await), 400, "{bad}");
    }
    assert_eq!(status(c.sign_up("shortpw", "short", None).await), 400);
    assert_eq!(
        status(
            c.sign_up("longname", PASSWORD, Some(&"名".repeat(65)))
                .await
        ),
        400
    );

    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/accounts", server.url))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = r.json().await.unwrap();
    for field in ["type", "title", "status", "detail"] {
        assert!(problem.get(field).is_some(), "problem lacks {field}");
    }
}

#[tokio::test]
async fn tokens_are_checked() {
    let server = TestServer::start();
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/me", server.url);
    let missing = http.get(&url).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let garbage = http
        .get(&url)
        .bearer_auth("kf_garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 401);
    assert_eq!(
        garbage.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn failed_sign_ins_are_rate_limited() {
    let server = TestServer::start_with(&[("KAIFANG_AUTH__LOGIN_FREE_FAILURES_PER_HANDLE", "3")]);
    let mut c = Client::new(&server.url).unwrap();
    c.sign_up("alice", PASSWORD, None).await.unwrap();
    for _ in 0..3 {
        assert_eq!(status(c.sign_in("alice", "wrong password").await), 401);
    }
    // From this address, even the right password now waits a while (other
    // addresses do not: see `signin.rs`).
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/sessions", server.url))
        .json(&json!({"handle": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
    // Another handle is not affected.
    c.sign_up("bob", PASSWORD, None).await.unwrap();
    c.sign_in("bob", PASSWORD).await.unwrap();
}
