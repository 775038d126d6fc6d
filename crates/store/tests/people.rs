//! Profiles and the user directory, run against every backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use kaifang_store::{AdminGrant, BlobId, Error, NewAttachment, ProfileEdit, User, avatar_tag};
use support::{Backend, Fixture, open};

async fn user(f: &Fixture, handle: &str, name: &str) -> User {
    f.store
        .create_user(handle, name, "h", AdminGrant::No)
        .await
        .unwrap()
}

async fn found(f: &Fixture, q: &str, limit: u32) -> Vec<String> {
    let hits = f.store.find_users(q, limit).await.unwrap();
    hits.into_iter().map(|p| p.handle).collect()
}

async fn hide(f: &Fixture, u: &User) {
    let edit = ProfileEdit {
        display_name: None,
        discoverable: Some(false),
    };
    f.store.edit_profile(u.id, edit).await.unwrap();
}

async fn finds_by_handle_prefix_then_display_name(backend: Backend) {
    let f = open(backend).await;
    user(&f, "alice", "Alice Liddell").await;
    user(&f, "alicia", "Alicia Keys").await;
    user(&f, "bob", "Bob of Alice Springs").await;
    user(&f, "carol", "Carol").await;
    user(&f, "wang_fang", "王芳").await;
    // Exact handle first, then other prefixes, then names containing it.
    assert_eq!(found(&f, "alice", 10).await, ["alice", "bob"]);
    assert_eq!(found(&f, "ali", 10).await, ["alice", "alicia", "bob"]);
    // ASCII letters match either case, in handles and names alike.
    assert_eq!(found(&f, "ALI", 10).await, ["alice", "alicia", "bob"]);
    assert_eq!(found(&f, "springs", 10).await, ["bob"]);
    assert_eq!(found(&f, "芳", 10).await, ["wang_fang"]);
    // `_` is a character, not a wildcard.
    assert_eq!(found(&f, "wang_", 10).await, ["wang_fang"]);
    assert!(found(&f, "a_ice", 10).await.is_empty());
    assert!(found(&f, "zed", 10).await.is_empty());
    // The limit holds, the best matches kept.
    assert_eq!(found(&f, "ali", 2).await, ["alice", "alicia"]);
}

async fn a_hidden_user_is_found_only_by_exact_handle(backend: Backend) {
    let f = open(backend).await;
    let alice = user(&f, "alice", "Alice").await;
    user(&f, "alicia", "Alicia").await;
    hide(&f, &alice).await;
    assert_eq!(found(&f, "ali", 10).await, ["alicia"]);
    assert_eq!(found(&f, "alice", 10).await, ["alice"]);
    let hit = f.store.find_users("alice", 10).await.unwrap();
    assert!(!hit[0].discoverable);
}

async fn suspended_users_are_never_found(backend: Backend) {
    let f = open(backend).await;
    user(&f, "alice", "Alice").await;
    f.store.set_suspended("alice", Some(1)).await.unwrap();
    assert!(found(&f, "alice", 10).await.is_empty());
}

async fn edits_change_the_profile_and_member_lists(backend: Backend) {
    let f = open(backend).await;
    let alice = user(&f, "alice", "Alice").await;
    let bob = user(&f, "bob", "Bob").await;
    let (c, _) = f.store.open_direct(alice.id, bob.id).await.unwrap();
    let before = f.store.profile(alice.id).await.unwrap().unwrap();
    assert_eq!(before.display_name, "Alice");
    assert!(before.discoverable, "discoverable by default");

    let edit = ProfileEdit {
        display_name: Some("Alice L.".into()),
        discoverable: None,
    };
    let after = f.store.edit_profile(alice.id, edit).await.unwrap();
    assert_eq!(after.display_name, "Alice L.");
    assert!(after.discoverable, "a field not given stays");
    assert_eq!(found(&f, "l.", 10).await, ["alice"]);

    let conv = f.store.conversation(c.id).await.unwrap().unwrap();
    let names: Vec<_> = conv
        .members
        .iter()
        .map(|m| m.display_name.as_str())
        .collect();
    assert!(
        names.contains(&"Alice L.") && names.contains(&"Bob"),
        "{names:?}"
    );

    let gone = f.store.edit_profile(9_999, ProfileEdit::default()).await;
    assert!(matches!(gone, Err(Error::NotFound(_))), "{gone:?}");
    assert!(f.store.profile(9_999).await.unwrap().is_none());
}

/// Avatars name blobs; the store says when an old one is no longer named
/// by anything (another user's avatar, an attachment), so that shared
/// bytes are never deleted under someone else.
async fn avatars_are_set_replaced_and_released_with_their_last_name(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    let alice = user(&f, "alice", "Alice").await;
    let bob = user(&f, "bob", "Bob").await;
    let (c, _) = s.open_direct(alice.id, bob.id).await.unwrap();
    let (one, two, three) = (BlobId::of(b"1"), BlobId::of(b"2"), BlobId::of(b"3"));

    let (p, released) = s.set_avatar(alice.id, Some(one.clone())).await.unwrap();
    assert_eq!((p.avatar.as_ref(), released), (Some(&one), None));
    assert_eq!(
        s.profile(alice.id).await.unwrap().unwrap().avatar,
        Some(one.clone())
    );
    assert_eq!(s.avatar_of("alice").await.unwrap(), Some(one.clone()));
    assert_eq!(s.avatar_of("bob").await.unwrap(), None);
    assert_eq!(s.avatar_of("nobody").await.unwrap(), None);
    let conv = s.conversation(c.id).await.unwrap().unwrap();
    let tags: Vec<_> = conv
        .members
        .iter()
        .map(|m| (m.handle.as_str(), m.avatar.clone()))
        .collect();
    assert!(
        tags.contains(&("alice", Some(avatar_tag(&one)))),
        "{tags:?}"
    );
    assert!(tags.contains(&("bob", None)), "{tags:?}");
    assert_eq!(avatar_tag(&one).len(), 16);

    // Bob picks the same picture: replacing Alice's keeps the bytes.
    s.set_avatar(bob.id, Some(one.clone())).await.unwrap();
    let (_, released) = s.set_avatar(alice.id, Some(two.clone())).await.unwrap();
    assert_eq!(released, None, "Bob's avatar still names it");
    // Setting the same avatar again releases nothing.
    let (_, released) = s.set_avatar(alice.id, Some(two.clone())).await.unwrap();
    assert_eq!(released, None);
    // Alice's old avatar is an attachment's bytes too.
    let upload = NewAttachment {
        conversation_id: c.id,
        uploader_id: alice.id,
        name: "two.png".into(),
        content_type: "image/png".into(),
        size: 1,
        blob: two.clone(),
        thumbnail: None,
        width: None,
        height: None,
        created_at: 1,
    };
    s.create_attachment(upload).await.unwrap();
    let (_, released) = s.set_avatar(alice.id, Some(three.clone())).await.unwrap();
    assert_eq!(released, None, "an attachment still names it");
    let (p, released) = s.set_avatar(alice.id, None).await.unwrap();
    assert_eq!((p.avatar, released), (None, Some(three)));
    let (_, released) = s.set_avatar(bob.id, None).await.unwrap();
    assert_eq!(released, Some(one));

    // An attachment whose bytes are someone's avatar keeps them.
    s.set_avatar(bob.id, Some(two.clone())).await.unwrap();
    let expired = s.expire_unsent_attachments(i64::MAX, 10).await.unwrap();
    assert!(
        expired.is_empty(),
        "Bob's avatar still names it: {expired:?}"
    );

    let gone = s.set_avatar(9_999, None).await;
    assert!(matches!(gone, Err(Error::NotFound(_))), "{gone:?}");
}

on_every_backend!(
    avatars_are_set_replaced_and_released_with_their_last_name,
    finds_by_handle_prefix_then_display_name,
    a_hidden_user_is_found_only_by_exact_handle,
    suspended_users_are_never_found,
    edits_change_the_profile_and_member_lists,
);
