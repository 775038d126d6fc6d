//! Sign-out and privileges take effect at once: a signed-out session's
//! streams close, a demoted administrator's next admin request is refused.
use std::time::{Duration, Instant};

use kaifang_client::Client;
use reqwest::Method;

use crate::{PASSWORD, TestServer, id, status, user};

#[tokio::test]
async fn signing_out_closes_that_sessions_streams() {
    let server = TestServer::start();
    let bob = user(&server, "bob").await;
    let mut alice = user(&server, "alice").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    // A second session of alice's, which stays signed in.
    let mut other = Client::new(&server.url).unwrap();
    other.sign_in("alice", PASSWORD).await.unwrap();

    let mut signed_out = alice.stream(None).await.unwrap();
    let mut stays = other.stream(None).await.unwrap();
    // A long poll of the session that signs out, waiting when it does.
    let poller = alice.clone();
    let poll = tokio::spawn(async move { poller.poll(None, 20_000).await });
    server.wait_for_clients(3).await;

    let asked = Instant::now();
    alice.sign_out().await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), signed_out.next_text())
        .await
        .expect("the stream closes within 5 s");
    assert!(end.is_none(), "expected the close, got {end:?}");
    assert_eq!(signed_out.close_frame(), Some((4001, "signed out")));
    let polled = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("the long poll ends within 5 s")
        .unwrap();
    assert_eq!(status(polled), 401);
    assert!(asked.elapsed() < Duration::from_secs(5));

    // A message sent afterwards reaches the other session, not the closed one.
    bob.send(c, "after sign-out", None).await.unwrap();
    let e = tokio::time::timeout(Duration::from_secs(10), stays.next_event())
        .await
        .expect("an event within 10 s")
        .expect("stream open")
        .expect("valid event");
    assert_eq!(e["message"]["body"], "after sign-out");
    assert!(signed_out.next_text().await.is_none());
}

async fn audit_status(c: &Client) -> u16 {
    match c.raw(Method::GET, "/api/v1/admin/audit", None).await {
        Ok(_) => 200,
        Err(e) => status::<()>(Err(e)),
    }
}

#[tokio::test]
async fn administrators_are_granted_and_revoked_at_once() {
    let server = TestServer::start();
    let root = user(&server, "root").await; // first account: administrator
    let bob = user(&server, "bob").await;
    let carol = user(&server, "carol").await;
    let path = |h: &str| format!("/api/v1/admin/administrators/{h}");

    // Non-administrators learn nothing, not even that the endpoint exists.
    assert_eq!(
        status(carol.raw(Method::PUT, &path("carol"), None).await),
        404
    );
    assert_eq!(
        status(carol.raw(Method::DELETE, &path("root"), None).await),
        404
    );
    assert_eq!(audit_status(&bob).await, 404);

    let granted = root.raw(Method::PUT, &path("bob"), None).await.unwrap();
    assert_eq!(granted["is_admin"], true);
    assert_eq!(audit_status(&bob).await, 200);
    assert_eq!(
        status(root.raw(Method::PUT, &path("nobody"), None).await),
        404
    );

    // Demoted: the very next admin request is refused.
    root.raw(Method::DELETE, &path("bob"), None).await.unwrap();
    assert_eq!(audit_status(&bob).await, 404);
    assert_eq!(bob.me().await.unwrap()["is_admin"], false);

    // The last administrator stays.
    assert_eq!(
        status(root.raw(Method::DELETE, &path("root"), None).await),
        409
    );
    assert_eq!(audit_status(&root).await, 200);

    // Both changes are in the audit log.
    let log = root
        .raw(Method::GET, "/api/v1/admin/audit", None)
        .await
        .unwrap()
        .to_string();
    assert!(
        log.contains("admin.grant") && log.contains("admin.revoke"),
        "{log}"
    );
}

#[tokio::test]
async fn the_audit_log_answers_its_newest_page() {
    let server = TestServer::start_with(&[("KAIFANG_GOVERNANCE__AUDIT_PAGE", "2")]);
    let root = user(&server, "root").await;
    user(&server, "bob").await;
    let path = "/api/v1/admin/administrators/bob";
    // Three audited actions: grant, revoke, grant.
    for method in [Method::PUT, Method::DELETE, Method::PUT] {
        root.raw(method, path, None).await.unwrap();
    }
    let log = root
        .raw(Method::GET, "/api/v1/admin/audit", None)
        .await
        .unwrap();
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["admin.grant", "admin.revoke"],
        "newest first, two"
    );
}

#[test]
fn administrators_can_be_managed_from_the_cli() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("root.json");
    let kaifang = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kaifang"))
            .args(["--server", &server.url, "--client-config"])
            .arg(&session)
            .args(args)
            .env_remove("KAIFANG_TOKEN")
            .output()
            .unwrap()
    };
    for args in [
        &["account", "create", "root", "--password", PASSWORD][..],
        &["account", "create", "bob", "--password", PASSWORD],
        &["login", "root", "--password", PASSWORD],
        &["admin", "grant", "bob"],
    ] {
        let out = kaifang(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let is_admin = |handle: &str| {
        runtime.block_on(async {
            let mut c = Client::new(&server.url).unwrap();
            c.sign_in(handle, PASSWORD).await.unwrap();
            c.me().await.unwrap()["is_admin"] == true
        })
    };
    assert!(is_admin("bob"));
    assert!(kaifang(&["admin", "revoke", "bob"]).status.success());
    assert!(!is_admin("bob"));
    let last = kaifang(&["admin", "revoke", "root"]);
    assert!(!last.status.success(), "the last administrator was removed");
    assert!(is_admin("root"));
}
