//! People: `GET /api/v1/users` finds people by handle prefix or display
//! name, hides those who chose not to be found (except by exact handle),
//! refuses bad or too-fast queries with problems; `PATCH /api/v1/me`
//! changes the name others see in their member lists.
use kaifang_client::Client;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{PASSWORD, TestServer, id, refused};

async fn person(server: &TestServer, handle: &str, name: &str) -> Client {
    let mut c = Client::new(&server.url).unwrap();
    c.sign_up(handle, PASSWORD, Some(name)).await.unwrap();
    c.sign_in(handle, PASSWORD).await.unwrap();
    c
}

/// `(handle, display_name)` of each person found, in the server's order.
async fn find(client: &Client, q: &str) -> Vec<(String, String)> {
    let page = client
        .raw(Method::GET, &format!("/api/v1/users?q={q}"), None)
        .await
        .unwrap();
    page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let field = |k: &str| u[k].as_str().unwrap().to_owned();
            (field("handle"), field("display_name"))
        })
        .collect()
}

fn handles(found: &[(String, String)]) -> Vec<&str> {
    found.iter().map(|(h, _)| h.as_str()).collect()
}

#[tokio::test]
async fn people_are_found_by_handle_prefix_and_display_name() {
    let server = TestServer::start();
    let alice = person(&server, "alice", "Alice Liddell").await;
    person(&server, "alicia", "Alicia").await;
    person(&server, "wang_fang", "王芳").await;
    person(&server, "bob", "Bob from Alice Springs").await;

    let found = find(&alice, "ali").await;
    assert_eq!(handles(&found), ["alice", "alicia", "bob"]);
    assert_eq!(found[0].1, "Alice Liddell");
    // Any part of a display name, either case; a leading @ is a handle's.
    assert_eq!(handles(&find(&alice, "SPRINGS").await), ["bob"]);
    assert_eq!(handles(&find(&alice, "%E8%8A%B3").await), ["wang_fang"]);
    assert_eq!(handles(&find(&alice, "%40wang").await), ["wang_fang"]);
    assert!(find(&alice, "nobody").await.is_empty());
}

#[tokio::test]
async fn a_user_who_is_not_discoverable_is_found_only_by_exact_handle() {
    let server = TestServer::start();
    let alice = person(&server, "alice", "Alice").await;
    let bob = person(&server, "bobby", "Bob Hidden").await;
    let profile = bob
        .raw(Method::GET, "/api/v1/me/profile", None)
        .await
        .unwrap();
    assert_eq!(profile["discoverable"], true, "discoverable by default");

    let edit = json!({ "discoverable": false });
    let after = bob
        .raw(Method::PATCH, "/api/v1/me", Some(&edit))
        .await
        .unwrap();
    assert_eq!(after["discoverable"], false);
    assert_eq!(after["display_name"], "Bob Hidden", "the name stays");

    assert!(find(&alice, "bob").await.is_empty());
    assert!(find(&alice, "hidden").await.is_empty());
    assert_eq!(handles(&find(&alice, "bobby").await), ["bobby"]);
    // And found by exact handle, a chat can be started.
    alice.open_direct("bobby").await.unwrap();
}

#[tokio::test]
async fn bad_queries_are_400_and_strangers_401() {
    let server = TestServer::start();
    let alice = person(&server, "alice", "Alice").await;
    let users = |q: &str| format!("/api/v1/users?q={q}");
    assert_eq!(refused(alice.raw(Method::GET, &users(""), None).await), 400);
    assert_eq!(
        refused(alice.raw(Method::GET, &users("%20%20"), None).await),
        400
    );
    assert_eq!(
        refused(alice.raw(Method::GET, &users(&"a".repeat(65)), None).await),
        400
    );
    assert_eq!(
        refused(alice.raw(Method::GET, &users("a%00b"), None).await),
        400
    );
    assert_eq!(
        refused(alice.raw(Method::GET, "/api/v1/users", None).await),
        400
    );
    // 64 characters is still a query.
    assert!(find(&alice, &"a".repeat(64)).await.is_empty());

    let anonymous = Client::new(&server.url).unwrap();
    assert_eq!(
        refused(anonymous.raw(Method::GET, &users("ali"), None).await),
        401
    );
    let edit = json!({ "display_name": "x" });
    assert_eq!(
        refused(
            anonymous
                .raw(Method::PATCH, "/api/v1/me", Some(&edit))
                .await
        ),
        401
    );
    for bad in [
        json!({ "display_name": "" }),
        json!({ "display_name": "a".repeat(65) }),
        json!({ "display_name": "a\u{7}b" }),
        json!({ "handle": "mallory" }),
    ] {
        let status = refused(alice.raw(Method::PATCH, "/api/v1/me", Some(&bad)).await);
        assert_eq!(status, 400, "{bad}");
    }
    let me = alice.raw(Method::GET, "/api/v1/me", None).await.unwrap();
    assert_eq!(me["display_name"], "Alice", "refused edits change nothing");
}

#[tokio::test]
async fn looking_up_too_fast_is_429() {
    let server = TestServer::start_with(&[
        ("KAIFANG_DIRECTORY__LOOKUPS_PER_SECOND", "1"),
        ("KAIFANG_DIRECTORY__LOOKUPS_BURST", "2"),
    ]);
    let alice = person(&server, "alice", "Alice").await;
    find(&alice, "a").await;
    find(&alice, "al").await;
    let third = alice.raw(Method::GET, "/api/v1/users?q=ali", None).await;
    assert_eq!(refused(third), 429);
    // Another user has a bucket of their own.
    let bob = person(&server, "bob", "Bob").await;
    assert_eq!(handles(&find(&bob, "ali").await), ["alice"]);
}

#[tokio::test]
async fn a_new_display_name_shows_in_the_member_lists_others_read() {
    let server = TestServer::start();
    let alice = person(&server, "alice", "Alice").await;
    let bob = person(&server, "bob", "Bob").await;
    let direct = id(&alice.open_direct("bob").await.unwrap());
    alice.send(direct, "before", None).await.unwrap();

    let edit = json!({ "display_name": "  Alice L.  " });
    let after = alice
        .raw(Method::PATCH, "/api/v1/me", Some(&edit))
        .await
        .unwrap();
    assert_eq!(after["display_name"], "Alice L.", "trimmed");
    alice.send(direct, "after", None).await.unwrap();

    // Bob's list names the sender of the newest message by the new name.
    let list = bob.conversations().await.unwrap();
    let conv = list
        .as_array()
        .or_else(|| list["conversations"].as_array())
        .unwrap()
        .iter()
        .find(|c| c["id"] == direct)
        .unwrap()
        .clone();
    let sender = conv["last_message"]["sender"].as_str().unwrap();
    assert_eq!(sender, "alice");
    let name_of = |c: &Value, handle: &str| {
        c["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["handle"] == handle)
            .map(|m| m["display_name"].clone())
    };
    assert_eq!(name_of(&conv, sender), Some(json!("Alice L.")));
    assert_eq!(name_of(&conv, "bob"), Some(json!("Bob")));
    assert_eq!(
        alice.raw(Method::GET, "/api/v1/me", None).await.unwrap()["display_name"],
        "Alice L."
    );
    // The directory finds the new name.
    assert_eq!(handles(&find(&bob, "l.").await), ["alice"]);
}
