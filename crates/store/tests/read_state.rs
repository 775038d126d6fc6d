//! Read markers, mutes, read-receipt settings and stored mentions, run
//! against every backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use kaifang_store::{AdminGrant, Error, EventBody, MemberChange, NewMessage, User};
use support::{Backend, Fixture, open};

fn msg(conversation_id: i64, sender_id: i64, body: &str) -> NewMessage {
    NewMessage::text(conversation_id, sender_id, body)
}

async fn users(f: &Fixture, handles: &[&str]) -> Vec<User> {
    let mut out = Vec::new();
    for h in handles {
        out.push(
            f.store
                .create_user(h, h, "h", AdminGrant::No)
                .await
                .unwrap(),
        );
    }
    out
}

fn not_found<T: std::fmt::Debug>(r: Result<T, Error>) {
    assert!(matches!(r, Err(Error::NotFound(_))), "{r:?}");
}

async fn markers_only_move_forward_and_count_what_others_sent(backend: Backend) {
    let f = open(backend).await;
    let u = users(&f, &["alice", "bob", "carol"]).await;
    let (alice, bob, carol) = (u[0].id, u[1].id, u[2].id);
    let (c, _) = f.store.open_direct(alice, bob).await.unwrap();
    for text in ["one", "two", "three"] {
        f.store.append_message(msg(c.id, bob, text)).await.unwrap();
    }
    f.store
        .append_message(msg(c.id, alice, "four"))
        .await
        .unwrap();

    let fresh = f.store.read_marker(c.id, alice).await.unwrap().unwrap();
    // Alice's own message is not unread for her.
    assert_eq!((fresh.read_seq, fresh.last_seq, fresh.unread), (0, 4, 3));

    let (two, moved) = f.store.mark_read(c.id, alice, 2).await.unwrap();
    assert!(moved);
    assert_eq!((two.read_seq, two.unread), (2, 1));
    // Never backwards: an older device's late report changes nothing.
    let (still, moved) = f.store.mark_read(c.id, alice, 1).await.unwrap();
    assert!(!moved);
    assert_eq!((still.read_seq, still.unread), (2, 1));
    // A seq past the newest message is clamped to it.
    let (all, moved) = f.store.mark_read(c.id, alice, 99).await.unwrap();
    assert!(moved);
    assert_eq!((all.read_seq, all.unread), (4, 0));
    let (_, moved) = f.store.mark_read(c.id, alice, 4).await.unwrap();
    assert!(!moved, "marking the same seq again is not a move");

    // Each member has a marker of their own.
    let b = f.store.read_marker(c.id, bob).await.unwrap().unwrap();
    assert_eq!((b.read_seq, b.unread), (0, 1));

    // Non-members and unknown conversations are "not found".
    not_found(f.store.mark_read(c.id, carol, 1).await);
    not_found(f.store.mark_read(c.id + 1000, alice, 1).await);
    assert_eq!(f.store.read_marker(c.id, carol).await.unwrap(), None);
}

async fn removed_messages_are_not_unread(backend: Backend) {
    let f = open(backend).await;
    let u = users(&f, &["alice", "bob"]).await;
    let (c, _) = f.store.open_direct(u[0].id, u[1].id).await.unwrap();
    let (spam, _) = f
        .store
        .append_message(msg(c.id, u[1].id, "spam"))
        .await
        .unwrap();
    f.store
        .append_message(msg(c.id, u[1].id, "hi"))
        .await
        .unwrap();
    f.store.remove_message(spam.id, 1).await.unwrap();
    let m = f.store.read_marker(c.id, u[0].id).await.unwrap().unwrap();
    assert_eq!(m.unread, 1);
}

async fn mutes_belong_to_one_member(backend: Backend) {
    let f = open(backend).await;
    let u = users(&f, &["alice", "bob", "carol"]).await;
    let (alice, bob, carol) = (u[0].id, u[1].id, u[2].id);
    let g = f.store.create_group(alice, "g", &[bob]).await.unwrap();
    let (d, _) = f.store.open_direct(alice, bob).await.unwrap();

    let muted = f.store.set_muted(g.id, alice, true).await.unwrap();
    assert!(muted.muted);
    let list = f.store.read_markers(alice).await.unwrap();
    let by_id = |id: i64| list.iter().find(|m| m.conversation_id == id).unwrap();
    assert!(by_id(g.id).muted);
    assert!(!by_id(d.id).muted, "muting one conversation mutes only it");
    assert!(!f.store.read_marker(g.id, bob).await.unwrap().unwrap().muted);
    // Muting twice is harmless; unmuting undoes it.
    assert!(f.store.set_muted(g.id, alice, true).await.unwrap().muted);
    assert!(!f.store.set_muted(g.id, alice, false).await.unwrap().muted);
    not_found(f.store.set_muted(g.id, carol, true).await);
}

async fn leaving_ends_the_state(backend: Backend) {
    let f = open(backend).await;
    let u = users(&f, &["alice", "bob"]).await;
    let (alice, bob) = (u[0].id, u[1].id);
    let g = f.store.create_group(alice, "g", &[bob]).await.unwrap();
    f.store
        .append_message(msg(g.id, alice, "hello"))
        .await
        .unwrap();
    f.store.mark_read(g.id, bob, 1).await.unwrap();
    f.store
        .change_members(g.id, bob, MemberChange::Leave)
        .await
        .unwrap();
    assert!(f.store.read_markers(bob).await.unwrap().is_empty());
    not_found(f.store.mark_read(g.id, bob, 1).await);
    not_found(f.store.set_muted(g.id, bob, true).await);
}

async fn read_receipts_are_off_until_turned_on(backend: Backend) {
    let f = open(backend).await;
    let u = users(&f, &["alice"]).await;
    assert!(!f.store.read_receipts(u[0].id).await.unwrap());
    f.store.set_read_receipts(u[0].id, true).await.unwrap();
    assert!(f.store.read_receipts(u[0].id).await.unwrap());
    f.store.set_read_receipts(u[0].id, false).await.unwrap();
    assert!(!f.store.read_receipts(u[0].id).await.unwrap());
    not_found(f.store.set_read_receipts(u[0].id + 1000, true).await);
}

async fn mentions_are_stored_with_the_message_and_go_with_its_text(backend: Backend) {
    let f = open(backend).await;
    let u = users(&f, &["alice", "bob"]).await;
    let (c, _) = f.store.open_direct(u[0].id, u[1].id).await.unwrap();
    let mentions = r#"{"all":false,"users":[{"id":2,"handle":"bob"}]}"#.to_owned();
    let (sent, _) = f
        .store
        .append_message(NewMessage {
            mentions: Some(mentions.clone()),
            attachments: Vec::new(),
            ..msg(c.id, u[0].id, "hi @bob")
        })
        .await
        .unwrap();
    assert_eq!(sent.mentions.as_deref(), Some(mentions.as_str()));
    let read = f.store.messages(c.id, None, 10).await.unwrap();
    assert_eq!(read[0].mentions.as_deref(), Some(mentions.as_str()));
    let plain = f
        .store
        .append_message(msg(c.id, u[0].id, "no one"))
        .await
        .unwrap()
        .0;
    assert_eq!(plain.mentions, None);
    // The catch-up path reads them too.
    let events = f.store.events_for(u[1].id, 0, 100).await.unwrap();
    let carried = events.iter().find_map(|e| match &e.body {
        EventBody::Message(m) if m.id == sent.id => m.mentions.clone(),
        _ => None,
    });
    assert_eq!(carried.as_deref(), Some(mentions.as_str()));
    // Removed by an administrator, a message no longer says whom it named.
    f.store.remove_message(sent.id, 1).await.unwrap();
    let read = f.store.messages(c.id, None, 10).await.unwrap();
    assert_eq!(read[0].mentions, None);
}

on_every_backend!(
    markers_only_move_forward_and_count_what_others_sent,
    removed_messages_are_not_unread,
    mutes_belong_to_one_member,
    leaving_ends_the_state,
    read_receipts_are_off_until_turned_on,
    mentions_are_stored_with_the_message_and_go_with_its_text,
);
