//! The storage contract, run against every backend: each test below runs
//! as `sqlite::name` and `postgres::name` (see `support`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use kaifang_store::{
    AdminGrant, ConversationKind, Error, EventBody, MemberChange, NewMessage, Role,
};
use support::{Backend, open};

fn msg(conversation_id: i64, sender_id: i64, body: &str, txn: Option<&str>) -> NewMessage {
    NewMessage {
        client_txn_id: txn.map(Into::into),
        ..NewMessage::text(conversation_id, sender_id, body)
    }
}

async fn handles_are_unique(backend: Backend) {
    let f = open(backend).await;
    f.store
        .create_user("alice", "Alice", "h", AdminGrant::Yes)
        .await
        .unwrap();
    let again = f
        .store
        .create_user("alice", "Other", "h", AdminGrant::No)
        .await;
    assert!(matches!(again, Err(Error::HandleTaken)));
    let auth = f.store.user_auth("alice").await.unwrap().unwrap();
    assert_eq!(auth.password_hash, "h");
    assert!(auth.user.is_admin);
}

/// "The first account is an administrator" is decided inside the write:
/// twenty sign-ups racing on an empty store make exactly one.
async fn concurrent_first_accounts_make_exactly_one_admin(backend: Backend) {
    let f = open(backend).await;
    let store = std::sync::Arc::new(f.store);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create_user(&format!("user{i}"), "U", "h", AdminGrant::IfFirst)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut admins = 0;
    for task in tasks {
        admins += usize::from(task.await.unwrap().is_admin);
    }
    assert_eq!(admins, 1);
    // A later `IfFirst` is not first.
    let late = store
        .create_user("late", "L", "h", AdminGrant::IfFirst)
        .await
        .unwrap();
    assert!(!late.is_admin);
}

async fn the_last_administrator_cannot_be_removed(backend: Backend) {
    let f = open(backend).await;
    f.store
        .create_user("root", "R", "h", AdminGrant::IfFirst)
        .await
        .unwrap();
    f.store
        .create_user("bob", "B", "h", AdminGrant::No)
        .await
        .unwrap();
    let last = f.store.set_admin("root", false).await;
    assert!(matches!(last, Err(Error::Conflict(_))), "{last:?}");
    assert!(
        f.store
            .user_by_handle("root")
            .await
            .unwrap()
            .unwrap()
            .is_admin
    );
    assert!(f.store.set_admin("bob", true).await.unwrap().is_admin);
    assert!(!f.store.set_admin("root", false).await.unwrap().is_admin);
    assert!(
        !f.store
            .user_by_handle("root")
            .await
            .unwrap()
            .unwrap()
            .is_admin
    );
    let unknown = f.store.set_admin("nobody", true).await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
}

async fn sessions_can_be_revoked(backend: Backend) {
    let f = open(backend).await;
    let u = f
        .store
        .create_user("alice", "Alice", "h", AdminGrant::No)
        .await
        .unwrap();
    let token = [7u8; 32];
    f.store.create_session(u.id, token).await.unwrap();
    assert_eq!(f.store.session_user(token).await.unwrap(), Some(u.id));
    f.store.revoke_session(token).await.unwrap();
    assert_eq!(f.store.session_user(token).await.unwrap(), None);
    assert_eq!(f.store.session_user([8u8; 32]).await.unwrap(), None);
    // Among several: the revoked one and the unknown one have ended.
    f.store.create_session(u.id, [9u8; 32]).await.unwrap();
    let ended = f
        .store
        .ended_sessions(vec![token, [8u8; 32], [9u8; 32]])
        .await
        .unwrap();
    assert_eq!(ended, vec![token, [8u8; 32]]);
    assert!(f.store.ended_sessions(Vec::new()).await.unwrap().is_empty());
}

async fn a_pair_has_one_direct_conversation(backend: Backend) {
    let f = open(backend).await;
    let a = f
        .store
        .create_user("alice", "A", "h", AdminGrant::No)
        .await
        .unwrap();
    let b = f
        .store
        .create_user("bob", "B", "h", AdminGrant::No)
        .await
        .unwrap();
    let (c1, created) = f.store.open_direct(a.id, b.id).await.unwrap();
    assert!(created);
    assert_eq!(c1.kind, ConversationKind::Direct);
    assert_eq!(c1.members.len(), 2);
    let (c2, created) = f.store.open_direct(b.id, a.id).await.unwrap();
    assert!(!created);
    assert_eq!(c1.id, c2.id);
    assert!(f.store.open_direct(a.id, a.id).await.is_err());
}

async fn sequence_numbers_have_no_gaps_and_txn_ids_deduplicate(backend: Backend) {
    let f = open(backend).await;
    let a = f
        .store
        .create_user("alice", "A", "h", AdminGrant::No)
        .await
        .unwrap();
    let b = f
        .store
        .create_user("bob", "B", "h", AdminGrant::No)
        .await
        .unwrap();
    let (c, _) = f.store.open_direct(a.id, b.id).await.unwrap();
    // Concurrent sends share transactions; seq must still be 1..=n.
    let mut tasks = Vec::new();
    let store = std::sync::Arc::new(f.store);
    for i in 0..50 {
        let store = store.clone();
        let sender = if i % 2 == 0 { a.id } else { b.id };
        tasks.push(tokio::spawn(async move {
            store
                .append_message(msg(c.id, sender, &format!("m{i}"), None))
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap().1);
    }
    let all = store.messages(c.id, None, 100).await.unwrap();
    let seqs: Vec<i64> = all.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());

    let (first, created) = store
        .append_message(msg(c.id, a.id, "hi", Some("t1")))
        .await
        .unwrap();
    assert!(created);
    let (again, created) = store
        .append_message(msg(c.id, a.id, "hi (retry)", Some("t1")))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(first, again);
    // The same txn id from another sender is another message.
    let (other, created) = store
        .append_message(msg(c.id, b.id, "yo", Some("t1")))
        .await
        .unwrap();
    assert!(created);
    assert_ne!(other.id, first.id);

    let page = store.messages(c.id, Some(51), 10).await.unwrap();
    assert_eq!(page.first().unwrap().seq, 41);
    assert_eq!(page.last().unwrap().seq, 50);
}

/// Writes from many threads at once, some alone and some together (then
/// sharing a transaction): every acknowledged write is there once, numbered
/// without gaps, and the fan-out sees events in id order.
async fn concurrent_writes_on_both_paths_keep_events_in_order(backend: Backend) {
    let mut f = open(backend).await;
    let a = f
        .store
        .create_user("alice", "A", "h", AdminGrant::No)
        .await
        .unwrap();
    let b = f
        .store
        .create_user("bob", "B", "h", AdminGrant::No)
        .await
        .unwrap();
    let (c, _) = f.store.open_direct(a.id, b.id).await.unwrap();
    let store = std::sync::Arc::new(f.store);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                // Some tasks pause, so that batches of every size occur.
                if t % 2 == 0 && i % 5 == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
                store
                    .append_message(msg(c.id, a.id, &format!("{t}/{i}"), None))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut ids = Vec::new();
    while let Ok(batch) = f.events.try_recv() {
        ids.extend(
            batch
                .iter()
                .filter(|e| matches!(e.body, EventBody::Message(_)))
                .map(|e| e.id),
        );
    }
    assert_eq!(ids.len(), 400);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "events out of order");
    let all = store.messages(c.id, None, 500).await.unwrap();
    let seqs: Vec<i64> = all.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=400).collect::<Vec<_>>());
}

async fn non_members_cannot_send(backend: Backend) {
    let f = open(backend).await;
    let a = f
        .store
        .create_user("alice", "A", "h", AdminGrant::No)
        .await
        .unwrap();
    let b = f
        .store
        .create_user("bob", "B", "h", AdminGrant::No)
        .await
        .unwrap();
    let e = f
        .store
        .create_user("eve", "E", "h", AdminGrant::No)
        .await
        .unwrap();
    let (c, _) = f.store.open_direct(a.id, b.id).await.unwrap();
    let r = f
        .store
        .append_message(msg(c.id, e.id, "let me in", None))
        .await;
    assert!(matches!(r, Err(Error::NotFound(_))));
    let r = f
        .store
        .append_message(msg(9999, a.id, "nowhere", None))
        .await;
    assert!(matches!(r, Err(Error::NotFound(_))));
}

async fn group_membership_and_events_follow_the_rules(backend: Backend) {
    let mut f = open(backend).await;
    let o = f
        .store
        .create_user("owner", "O", "h", AdminGrant::No)
        .await
        .unwrap();
    let m = f
        .store
        .create_user("member", "M", "h", AdminGrant::No)
        .await
        .unwrap();
    let n = f
        .store
        .create_user("newbie", "N", "h", AdminGrant::No)
        .await
        .unwrap();
    let g = f
        .store
        .create_group(o.id, "Shoppers", &[m.id])
        .await
        .unwrap();
    assert_eq!(g.members.len(), 2);
    assert_eq!(g.members[0].role, Role::Owner);

    // A plain member cannot add; the owner can.
    let r = f
        .store
        .change_members(g.id, m.id, MemberChange::Add(n.id))
        .await;
    assert!(matches!(r, Err(Error::Forbidden(_))));
    f.store
        .change_members(g.id, o.id, MemberChange::Add(n.id))
        .await
        .unwrap();
    let (before, _) = f
        .store
        .append_message(msg(g.id, o.id, "welcome", None))
        .await
        .unwrap();

    // The newbie leaves; what it sees afterwards stops at its departure.
    let left = f
        .store
        .change_members(g.id, n.id, MemberChange::Leave)
        .await
        .unwrap();
    f.store
        .append_message(msg(g.id, o.id, "after", None))
        .await
        .unwrap();
    let r = f
        .store
        .append_message(msg(g.id, n.id, "still here?", None))
        .await;
    assert!(matches!(r, Err(Error::NotFound(_))));

    let seen = f.store.events_for(n.id, 0, 100).await.unwrap();
    let ids: Vec<i64> = seen.iter().map(|e| e.id).collect();
    assert_eq!(*ids.last().unwrap(), left.id);
    assert!(
        seen.iter()
            .any(|e| matches!(&e.body, EventBody::Message(x) if x.id == before.id))
    );
    assert!(
        !seen
            .iter()
            .any(|e| matches!(&e.body, EventBody::Message(x) if x.body == "after"))
    );
    // The member sees everything since the group began.
    let all = f.store.events_for(m.id, 0, 100).await.unwrap();
    assert!(
        all.iter()
            .any(|e| matches!(&e.body, EventBody::Message(x) if x.body == "after"))
    );

    // Ownership: the owner hands over, then leaving as a plain admin is fine.
    f.store
        .change_members(g.id, o.id, MemberChange::TransferOwnership(m.id))
        .await
        .unwrap();
    let g2 = f.store.conversation(g.id).await.unwrap().unwrap();
    let role = |h: &str| g2.members.iter().find(|x| x.handle == h).map(|x| x.role);
    assert_eq!(role("member"), Some(Role::Owner));
    assert_eq!(role("owner"), Some(Role::Admin));

    // The sink saw every committed event in id order.
    let mut sunk = Vec::new();
    while let Ok(batch) = f.events.try_recv() {
        sunk.extend(batch.into_iter().map(|e| e.id));
    }
    let mut sorted = sunk.clone();
    sorted.sort();
    assert_eq!(sunk, sorted);
    assert_eq!(*sunk.last().unwrap(), f.store.head().await.unwrap());
}

async fn an_owner_who_leaves_hands_the_group_on(backend: Backend) {
    let f = open(backend).await;
    let o = f
        .store
        .create_user("owner", "O", "h", AdminGrant::No)
        .await
        .unwrap();
    let m = f
        .store
        .create_user("member", "M", "h", AdminGrant::No)
        .await
        .unwrap();
    let g = f.store.create_group(o.id, "G", &[m.id]).await.unwrap();
    f.store
        .change_members(g.id, o.id, MemberChange::Leave)
        .await
        .unwrap();
    let g = f.store.conversation(g.id).await.unwrap().unwrap();
    assert_eq!(g.members.len(), 1);
    assert_eq!(g.members[0].role, Role::Owner);
}

async fn data_survives_reopening(backend: Backend) {
    let f = open(backend).await;
    let a = f
        .store
        .create_user("alice", "A", "h", AdminGrant::No)
        .await
        .unwrap();
    let b = f
        .store
        .create_user("bob", "B", "h", AdminGrant::No)
        .await
        .unwrap();
    let conv = f.store.open_direct(a.id, b.id).await.unwrap().0.id;
    f.store
        .append_message(msg(conv, a.id, "kept", None))
        .await
        .unwrap();
    drop(f.store);
    let (store, _events) = f.place.reopen().await;
    let all = store.messages(conv, None, 10).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].body, "kept");
}

async fn previews_attach_to_messages_and_are_logged(backend: Backend) {
    let f = open(backend).await;
    let a = f
        .store
        .create_user("alice", "A", "h", AdminGrant::No)
        .await
        .unwrap();
    let b = f
        .store
        .create_user("bob", "B", "h", AdminGrant::No)
        .await
        .unwrap();
    let (c, _) = f.store.open_direct(a.id, b.id).await.unwrap();
    let (m, _) = f
        .store
        .append_message(msg(c.id, a.id, "see https://x.test/", None))
        .await
        .unwrap();
    let ev = f
        .store
        .attach_preview(m.id, "https://x.test/", r#"{"title":"X"}"#)
        .await
        .unwrap();
    let stored = f
        .store
        .messages(c.id, None, 1)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        stored.previews.as_deref(),
        Some(r#"{"https://x.test/":{"title":"X"}}"#)
    );
    let seen = f.store.events_for(b.id, ev.id - 1, 10).await.unwrap();
    assert!(matches!(&seen[0].body, EventBody::Preview { url, .. } if url == "https://x.test/"));
}

async fn the_preview_cache_is_bounded_and_remembers_failures(backend: Backend) {
    use kaifang_store::CachedPreview;
    let f = open(backend).await;
    let entry = |expires_at: i64, data: Option<&str>| CachedPreview {
        fetched_at: 1,
        expires_at,
        data: data.map(Into::into),
    };
    f.store
        .cache_preview("https://a.test/", entry(30, Some("{}")), 2)
        .await
        .unwrap();
    f.store
        .cache_preview("https://b.test/", entry(10, None), 2)
        .await
        .unwrap();
    assert_eq!(
        f.store
            .cached_preview("https://b.test/")
            .await
            .unwrap()
            .unwrap()
            .data,
        None
    );
    // A third entry evicts the one expiring soonest.
    f.store
        .cache_preview("https://c.test/", entry(20, Some("{}")), 2)
        .await
        .unwrap();
    assert!(
        f.store
            .cached_preview("https://b.test/")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.store
            .cached_preview("https://a.test/")
            .await
            .unwrap()
            .is_some()
    );
    // Replacing keeps one row per URL.
    f.store
        .cache_preview("https://a.test/", entry(40, Some("{\"t\":1}")), 2)
        .await
        .unwrap();
    let a = f
        .store
        .cached_preview("https://a.test/")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.expires_at, a.data.as_deref()), (40, Some("{\"t\":1}")));
}

/// What a node that missed events re-reads: every conversation's events
/// after a position, in id order, paged, the same as the sink delivered;
/// and the ids have no holes, so a missing one can be noticed.
async fn events_after_reads_every_conversation_in_order(backend: Backend) {
    let mut f = open(backend).await;
    let a = f
        .store
        .create_user("alice", "A", "h", AdminGrant::No)
        .await
        .unwrap();
    let b = f
        .store
        .create_user("bob", "B", "h", AdminGrant::No)
        .await
        .unwrap();
    let (direct, _) = f.store.open_direct(a.id, b.id).await.unwrap();
    let group = f.store.create_group(a.id, "G", &[b.id]).await.unwrap();
    let store = std::sync::Arc::new(f.store);
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let store = store.clone();
            let c = if i % 2 == 0 { direct.id } else { group.id };
            tokio::spawn(async move {
                store
                    .append_message(msg(c, a.id, &format!("m{i}"), None))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    // A refused send and a repeated one log nothing.
    assert!(
        store
            .append_message(msg(direct.id, 999, "x", None))
            .await
            .is_err()
    );
    let mut sunk = Vec::new();
    while let Ok(batch) = f.events.try_recv() {
        sunk.extend(batch);
    }
    let head = store.head().await.unwrap();
    let all = store.events_after(0, 1_000).await.unwrap();
    assert_eq!(all, sunk, "re-read differs from what was delivered");
    let ids: Vec<i64> = all.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=head).collect::<Vec<_>>(), "ids with holes");
    assert!(all.iter().any(|e| e.conversation_id == direct.id));
    assert!(all.iter().any(|e| e.conversation_id == group.id));
    // Paging from any position gives the same events.
    let mut paged = Vec::new();
    let mut after = 3;
    loop {
        let page = store.events_after(after, 7).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        paged.extend(page);
    }
    assert_eq!(paged, all[3..].to_vec());
    assert!(store.events_after(head, 10).await.unwrap().is_empty());
}

/// Two hundred sends from twenty tasks at once, over four conversations,
/// with every send retried once at the same moment (the same
/// `client_txn_id`, as a client whose first answer got lost): on
/// PostgreSQL they share transactions (group commit). Every send is
/// acknowledged, each retry answers with the original, each conversation
/// is numbered 1..=50 without gaps, and the event log and the fan-out hold
/// one event per message, ids without holes, in order.
async fn concurrent_sends_and_retries_are_all_kept_once_in_order(backend: Backend) {
    let mut f = open(backend).await;
    let a = f
        .store
        .create_user("alice", "A", "h", AdminGrant::No)
        .await
        .unwrap();
    let mut conversations = Vec::new();
    for peer in ["bob", "carol", "dave", "erin"] {
        let p = f
            .store
            .create_user(peer, peer, "h", AdminGrant::No)
            .await
            .unwrap();
        conversations.push(f.store.open_direct(a.id, p.id).await.unwrap().0.id);
    }
    let head_before = f.store.head().await.unwrap();
    while f.events.try_recv().is_ok() {}
    let store = std::sync::Arc::new(f.store);
    let tasks: Vec<_> = (0..20)
        .map(|t| {
            let (store, conversations) = (store.clone(), conversations.clone());
            tokio::spawn(async move {
                let mut sent = Vec::new();
                for i in 0..10 {
                    let c = conversations[(t + i) % conversations.len()];
                    let txn = format!("{t}/{i}");
                    let m = |body: &str| msg(c, a.id, body, Some(&txn));
                    let (first, again) = tokio::join!(
                        store.append_message(m(&txn)),
                        store.append_message(m("retry"))
                    );
                    let (first, again) = (first.unwrap(), again.unwrap());
                    // Exactly one of the two created the message; both
                    // answer with it.
                    assert!(first.1 != again.1, "{txn}: {first:?} / {again:?}");
                    assert_eq!(first.0, again.0);
                    assert_eq!(first.0.body, txn);
                    sent.push(first.0);
                }
                sent
            })
        })
        .collect();
    let mut sent = Vec::new();
    for task in tasks {
        sent.extend(task.await.unwrap());
    }
    assert_eq!(sent.len(), 200);
    for &c in &conversations {
        let stored = store.messages(c, None, 500).await.unwrap();
        let seqs: Vec<i64> = stored.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (1..=50).collect::<Vec<_>>(), "conversation {c}");
        for m in &stored {
            assert!(sent.contains(m), "{m:?} was never acknowledged");
        }
    }
    let head = store.head().await.unwrap();
    let logged = store.events_after(head_before, 1_000).await.unwrap();
    let ids: Vec<i64> = logged.iter().map(|e| e.id).collect();
    assert_eq!(ids, (head_before + 1..=head).collect::<Vec<_>>());
    assert_eq!(ids.len(), 200);
    let mut fanned_out = Vec::new();
    while let Ok(batch) = f.events.try_recv() {
        fanned_out.extend(batch);
    }
    assert_eq!(fanned_out, logged, "the fan-out differs from the log");
}

on_every_backend!(
    handles_are_unique,
    concurrent_first_accounts_make_exactly_one_admin,
    the_last_administrator_cannot_be_removed,
    sessions_can_be_revoked,
    a_pair_has_one_direct_conversation,
    sequence_numbers_have_no_gaps_and_txn_ids_deduplicate,
    concurrent_writes_on_both_paths_keep_events_in_order,
    non_members_cannot_send,
    group_membership_and_events_follow_the_rules,
    an_owner_who_leaves_hands_the_group_on,
    data_survives_reopening,
    previews_attach_to_messages_and_are_logged,
    the_preview_cache_is_bounded_and_remembers_failures,
    events_after_reads_every_conversation_in_order,
    concurrent_sends_and_retries_are_all_kept_once_in_order,
);
