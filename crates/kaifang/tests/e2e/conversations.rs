use crate::{TestServer, id, status, user};

#[tokio::test]
async fn a_direct_conversation_is_found_again() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let first = alice.open_direct("bob").await.unwrap();
    assert_eq!(first["kind"], "direct");
    assert_eq!(first["members"].as_array().unwrap().len(), 2);
    let again = bob.open_direct("alice").await.unwrap();
    assert_eq!(id(&first), id(&again));
    // The status tells created (201) from found (200).
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/conversations", server.url))
        .bearer_auth(alice.token().unwrap())
        .json(&serde_json::json!({"kind": "direct", "with": "bob"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(status(alice.open_direct("nobody").await), 404);
    assert_eq!(status(alice.open_direct("alice").await), 400);
}

#[tokio::test]
async fn groups_have_roles_and_outsiders_see_nothing() {
    let server = TestServer::start();
    let owner = user(&server, "owner").await;
    let member = user(&server, "member").await;
    let outsider = user(&server, "outsider").await;
    user(&server, "newbie").await;
    let g = owner
        .create_group("买买买 shoppers", &["member".into()])
        .await
        .unwrap();
    let gid = id(&g);
    assert_eq!(g["title"], "买买买 shoppers");
    assert_eq!(g["members"][0]["role"], "owner");

    // Outsiders: 404 for reading, writing and membership changes.
    assert_eq!(status(outsider.history(gid, None, 10).await), 404);
    assert_eq!(status(outsider.send(gid, "let me in", None).await), 404);
    assert_eq!(status(outsider.add_member(gid, "outsider").await), 404);
    assert_eq!(
        status(
            outsider
                .raw(
                    reqwest::Method::GET,
                    &format!("/api/v1/conversations/{gid}"),
                    None
                )
                .await
        ),
        404
    );
    // Unknown and malformed ids look the same as forbidden ones.
    assert_eq!(status(owner.history(999_999, None, 10).await), 404);
    assert_eq!(
        status(
            owner
                .raw(reqwest::Method::GET, "/api/v1/conversations/abc", None)
                .await
        ),
        404
    );

    // A plain member cannot add; the owner can.
    assert_eq!(status(member.add_member(gid, "newbie").await), 403);
    let g = owner.add_member(gid, "newbie").await.unwrap();
    assert_eq!(g["members"].as_array().unwrap().len(), 3);
    assert_eq!(status(owner.add_member(gid, "newbie").await), 409);

    // Removal: the removed member can no longer send.
    owner.remove_member(gid, "member").await.unwrap();
    assert_eq!(status(member.send(gid, "still here?", None).await), 404);

    // Roles: promote, hand over ownership, leave.
    let body = serde_json::json!({"role": "admin"});
    owner
        .raw(
            reqwest::Method::PATCH,
            &format!("/api/v1/conversations/{gid}/members/newbie"),
            Some(&body),
        )
        .await
        .unwrap();
    let body = serde_json::json!({"role": "owner"});
    let g = owner
        .raw(
            reqwest::Method::PATCH,
            &format!("/api/v1/conversations/{gid}/members/newbie"),
            Some(&body),
        )
        .await
        .unwrap();
    let role = |h: &str| {
        g["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["handle"] == h)
            .unwrap()["role"]
            .clone()
    };
    assert_eq!(role("newbie"), "owner");
    assert_eq!(role("owner"), "admin");
    owner.remove_member(gid, "owner").await.unwrap();
    assert_eq!(status(owner.history(gid, None, 10).await), 404);

    let list = outsider.conversations().await.unwrap();
    assert!(list["conversations"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_list_shows_last_seq_and_last_message() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = alice.open_direct("bob").await.unwrap();
    alice.send(id(&c), "one", None).await.unwrap();
    alice.send(id(&c), "two", None).await.unwrap();
    let list = alice.conversations().await.unwrap();
    let first = &list["conversations"][0];
    assert_eq!(first["last_seq"], 2);
    assert_eq!(first["last_message"]["body"], "two");
}
