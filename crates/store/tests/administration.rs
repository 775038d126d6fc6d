//! Operator administration storage, run against every backend: invite
//! codes, suspension, reset codes and the account list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use kaifang_store::{AdminGrant, Error, EventBody, InvitedSignUp, NewMessage, refusal};
use support::{Backend, open};

const NOW: i64 = 1_800_000_000_000;

fn digest(n: u8) -> [u8; 32] {
    [n; 32]
}

fn invited(code: u8, handle: &str, now: i64) -> InvitedSignUp {
    InvitedSignUp {
        code_hash: digest(code),
        now,
        handle: handle.into(),
        display_name: handle.into(),
        password_hash: "h".into(),
        admin: AdminGrant::No,
    }
}

fn refused(r: Result<impl std::fmt::Debug, Error>, why: &str) {
    match r {
        Err(Error::Forbidden(text)) => assert_eq!(text, why),
        other => panic!("expected 'forbidden: {why}', got {other:?}"),
    }
}

async fn invites_count_their_uses_and_say_why_they_refuse(backend: Backend) {
    let f = open(backend).await;
    let root = f
        .store
        .create_user("root", "R", "h", AdminGrant::Yes)
        .await
        .unwrap();
    let two = f
        .store
        .create_invite(root.id, digest(1), NOW + 1_000, 2)
        .await
        .unwrap();
    assert_eq!(
        (two.uses, two.max_uses, two.created_by.as_str()),
        (0, 2, "root")
    );
    // A taken handle fails without using the code.
    refused_taken(f.store.sign_up_with_invite(invited(1, "root", NOW)).await);
    let a = f
        .store
        .sign_up_with_invite(invited(1, "alice", NOW))
        .await
        .unwrap();
    assert!(!a.is_admin);
    f.store
        .sign_up_with_invite(invited(1, "bob", NOW))
        .await
        .unwrap();
    refused(
        f.store.sign_up_with_invite(invited(1, "carol", NOW)).await,
        refusal::INVITE_USED_UP,
    );
    // The instant of expiry is already too late.
    let expired = f
        .store
        .create_invite(root.id, digest(2), NOW, 5)
        .await
        .unwrap();
    refused(
        f.store.sign_up_with_invite(invited(2, "carol", NOW)).await,
        refusal::INVITE_EXPIRED,
    );
    refused(
        f.store.sign_up_with_invite(invited(9, "carol", NOW)).await,
        refusal::INVITE_INVALID,
    );
    let three = f
        .store
        .create_invite(root.id, digest(3), NOW + 1_000, 5)
        .await
        .unwrap();
    let revoked = f.store.revoke_invite(three.id, NOW).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(NOW));
    // Revoking again keeps the first time.
    let again = f.store.revoke_invite(three.id, NOW + 5).await.unwrap();
    assert_eq!(again.revoked_at, Some(NOW));
    refused(
        f.store.sign_up_with_invite(invited(3, "carol", NOW)).await,
        refusal::INVITE_INVALID,
    );
    assert!(matches!(
        f.store.revoke_invite(999, NOW).await,
        Err(Error::NotFound(_))
    ));
    let list = f.store.invites().await.unwrap();
    let uses: Vec<(i64, i64)> = list.iter().map(|i| (i.id, i.uses)).collect();
    assert_eq!(uses, vec![(three.id, 0), (expired.id, 0), (two.id, 2)]);
    // Nobody was created by the refused attempts.
    assert!(f.store.user_by_handle("carol").await.unwrap().is_none());
}

fn refused_taken(r: Result<impl std::fmt::Debug, Error>) {
    assert!(matches!(r, Err(Error::HandleTaken)), "{r:?}");
}

async fn suspension_ends_sessions_and_restoring_allows_new_ones(backend: Backend) {
    let f = open(backend).await;
    f.store
        .create_user("root", "R", "h", AdminGrant::Yes)
        .await
        .unwrap();
    let bob = f
        .store
        .create_user("bob", "B", "h", AdminGrant::No)
        .await
        .unwrap();
    f.store.create_session(bob.id, digest(1)).await.unwrap();
    f.store.create_session(bob.id, digest(2)).await.unwrap();
    f.store.revoke_session(digest(2)).await.unwrap();
    f.store.create_session(bob.id, digest(3)).await.unwrap();
    let (account, mut ended) = f.store.set_suspended("bob", Some(NOW)).await.unwrap();
    ended.sort();
    assert_eq!(account.suspended_at, Some(NOW));
    assert_eq!(ended, vec![digest(1), digest(3)], "only the live sessions");
    for token in [1, 3] {
        assert_eq!(f.store.session_user(digest(token)).await.unwrap(), None);
    }
    let (again, _) = f.store.set_suspended("bob", Some(NOW + 9)).await.unwrap();
    assert_eq!(again.suspended_at, Some(NOW), "the first time is kept");
    // A session created after the suspension (a sign-in that raced it) is
    // refused too.
    f.store.create_session(bob.id, digest(4)).await.unwrap();
    assert_eq!(f.store.session_user(digest(4)).await.unwrap(), None);
    let stored = f.store.account(bob.id).await.unwrap().unwrap();
    assert_eq!(stored.suspended_at, Some(NOW));

    let (restored, none) = f.store.set_suspended("bob", None).await.unwrap();
    assert_eq!((restored.suspended_at, none.len()), (None, 0));
    assert_eq!(f.store.session_user(digest(1)).await.unwrap(), None);
    assert_eq!(f.store.session_user(digest(4)).await.unwrap(), Some(bob.id));

    let admin = f.store.set_suspended("root", Some(NOW)).await;
    assert!(matches!(admin, Err(Error::Conflict(_))), "{admin:?}");
    let unknown = f.store.set_suspended("nobody", Some(NOW)).await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
}

async fn reset_codes_work_once_and_end_every_session(backend: Backend) {
    let f = open(backend).await;
    let root = f
        .store
        .create_user("root", "R", "h", AdminGrant::Yes)
        .await
        .unwrap();
    let bob = f
        .store
        .create_user("bob", "B", "old", AdminGrant::No)
        .await
        .unwrap();
    f.store.create_session(bob.id, digest(7)).await.unwrap();
    let issued = f
        .store
        .create_password_reset("bob", root.id, digest(1), NOW + 1_000)
        .await
        .unwrap();
    assert_eq!(issued.id, bob.id);
    let (user, ended) = f
        .store
        .redeem_password_reset(digest(1), NOW, "new")
        .await
        .unwrap();
    assert_eq!((user.id, ended), (bob.id, vec![digest(7)]));
    assert_eq!(
        f.store
            .user_auth("bob")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "new"
    );
    assert_eq!(f.store.session_user(digest(7)).await.unwrap(), None);
    refused(
        f.store.redeem_password_reset(digest(1), NOW, "again").await,
        refusal::RESET_USED,
    );
    // A newer code retires the older one.
    f.store
        .create_password_reset("bob", root.id, digest(2), NOW + 1_000)
        .await
        .unwrap();
    f.store
        .create_password_reset("bob", root.id, digest(3), NOW + 1_000)
        .await
        .unwrap();
    refused(
        f.store.redeem_password_reset(digest(2), NOW, "x").await,
        refusal::RESET_USED,
    );
    refused(
        f.store
            .redeem_password_reset(digest(3), NOW + 1_000, "x")
            .await,
        refusal::RESET_EXPIRED,
    );
    refused(
        f.store.redeem_password_reset(digest(9), NOW, "x").await,
        refusal::RESET_INVALID,
    );
    assert_eq!(
        f.store
            .user_auth("bob")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "new",
        "refused codes change nothing"
    );
    let unknown = f
        .store
        .create_password_reset("nobody", root.id, digest(4), NOW)
        .await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
}

async fn accounts_come_in_pages_by_id(backend: Backend) {
    let f = open(backend).await;
    let mut ids = Vec::new();
    for (i, grant) in [AdminGrant::Yes, AdminGrant::No, AdminGrant::No]
        .into_iter()
        .enumerate()
    {
        let u = f
            .store
            .create_user(&format!("user{i}"), "U", "h", grant)
            .await
            .unwrap();
        ids.push(u.id);
    }
    f.store.set_suspended("user2", Some(NOW)).await.unwrap();
    let first = f.store.accounts(0, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|a| a.user.id).collect::<Vec<_>>(),
        ids[..2]
    );
    assert!(first[0].user.is_admin && first[0].suspended_at.is_none());
    let rest = f.store.accounts(first[1].user.id, 2).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(
        (rest[0].user.handle.as_str(), rest[0].suspended_at),
        ("user2", Some(NOW))
    );
    assert!(f.store.accounts(ids[2], 2).await.unwrap().is_empty());
}

/// A removed message keeps its place with no text, links or previews; a
/// removal event is logged and emitted, and the preview events (page text)
/// are gone from the log.
async fn a_removed_message_keeps_its_place_and_loses_its_text(backend: Backend) {
    let mut f = open(backend).await;
    let a = f
        .store
        .create_user("alice", "A", "h", AdminGrant::Yes)
        .await
        .unwrap();
    let b = f
        .store
        .create_user("bob", "B", "h", AdminGrant::No)
        .await
        .unwrap();
    let (c, _) = f.store.open_direct(a.id, b.id).await.unwrap();
    let send = |body: &str| NewMessage {
        conversation_id: c.id,
        sender_id: b.id,
        body: body.into(),
        client_txn_id: None,
        links: r#"[{"url":"https://example.com/secret"}]"#.into(),
        shares: Vec::new(),
        mentions: None,
        attachments: Vec::new(),
        reply_to: None,
    };
    let (gone, _) = f
        .store
        .append_message(send("the secret text"))
        .await
        .unwrap();
    let (kept, _) = f
        .store
        .append_message(NewMessage {
            links: "[]".into(),
            ..send("kept")
        })
        .await
        .unwrap();
    f.store
        .attach_preview(
            gone.id,
            "https://example.com/secret",
            r#"{"title":"secret page"}"#,
        )
        .await
        .unwrap();
    while f.events.try_recv().is_ok() {}
    let head = f.store.head().await.unwrap();

    let event = f.store.remove_message(gone.id, NOW).await.unwrap();
    // The next id, as every event's: ids have no holes and no repeats.
    assert_eq!(event.id, head + 1);
    assert_eq!(
        event.body,
        EventBody::Removal {
            message_id: gone.id,
            seq: gone.seq
        }
    );
    let emitted = f.events.try_recv().unwrap();
    assert_eq!(emitted, vec![event.clone()]);
    let history = f.store.messages(c.id, None, 10).await.unwrap();
    assert_eq!(history.len(), 2);
    let placeholder = &history[0];
    assert_eq!(
        (
            placeholder.seq,
            placeholder.body.as_str(),
            placeholder.links.as_str()
        ),
        (gone.seq, "", "[]")
    );
    assert_eq!(
        (placeholder.previews.as_deref(), placeholder.removed_at),
        (None, Some(NOW))
    );
    assert_eq!(
        (history[1].body.as_str(), history[1].removed_at),
        ("kept", None)
    );
    let log = f.store.events_for(a.id, 0, 100).await.unwrap();
    assert!(
        !log.iter()
            .any(|e| matches!(e.body, EventBody::Preview { .. }))
    );
    assert_eq!(log.last(), Some(&event));
    let text = format!("{log:?}");
    assert!(!text.contains("secret"), "{text}");
    assert_eq!(kept.seq, gone.seq + 1);

    let again = f.store.remove_message(gone.id, NOW).await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    let unknown = f.store.remove_message(9_999, NOW).await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
}

on_every_backend!(
    a_removed_message_keeps_its_place_and_loses_its_text,
    invites_count_their_uses_and_say_why_they_refuse,
    suspension_ends_sessions_and_restoring_allows_new_ones,
    reset_codes_work_once_and_end_every_session,
    accounts_come_in_pages_by_id,
);
