//! Edits, recalls, replies and reactions, run against every backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use kaifang_store::{
    AdminGrant, ConversationKind, Error, EventBody, LinkShare, MessageEdit, NewMessage, Quote,
    Reaction, ReactionChange, Role, chat_refusal,
};
use support::{Backend, Fixture, open};

const NOW: i64 = 1_800_000_000_000;

fn share(at: i64) -> LinkShare {
    LinkShare {
        at,
        message_id: None,
        conversation_kind: ConversationKind::Direct,
        member_count: 2,
        sender_role: Role::Member,
        platform: "jd".into(),
        owner: "jd".into(),
        category: "commerce".into(),
        domain: "jd.com".into(),
        lists: vec![],
        bidi: false,
        mixed_script: false,
        treatment: "live".into(),
        preview: true,
        policy_version: 0,
        policies: vec![],
    }
}

/// alice and bob in a direct conversation; returns (alice, bob, conversation).
async fn pair(f: &Fixture) -> (i64, i64, i64) {
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
    (a.id, b.id, c.id)
}

fn text(conversation_id: i64, sender_id: i64, body: &str) -> NewMessage {
    NewMessage::text(conversation_id, sender_id, body)
}

fn drain(f: &mut Fixture) {
    while f.events.try_recv().is_ok() {}
}

/// An edit replaces the text and links, marks the message edited, logs its
/// link shares, drops the old previews, and its event carries the message
/// as it now is — also when read back from the log.
async fn an_edit_replaces_the_text_and_is_marked(backend: Backend) {
    let mut f = open(backend).await;
    let (a, b, c) = pair(&f).await;
    let (m, _) = f
        .store
        .append_message(NewMessage {
            links: r#"[{"url":"https://example.com/old"}]"#.into(),
            ..text(c, a, "see example.com/old")
        })
        .await
        .unwrap();
    f.store
        .attach_preview(m.id, "https://example.com/old", r#"{"title":"old page"}"#)
        .await
        .unwrap();
    drain(&mut f);
    let head = f.store.head().await.unwrap();
    let event = f
        .store
        .edit_message(MessageEdit {
            message_id: m.id,
            editor: a,
            body: "now jd.com".into(),
            links: r#"[{"url":"https://jd.com"}]"#.into(),
            shares: vec![share(NOW)],
            mentions: None,
            at: NOW,
        })
        .await
        .unwrap();
    assert_eq!(event.id, head + 1);
    let EventBody::Edit(edited) = &event.body else {
        panic!("{event:?}");
    };
    assert_eq!(
        (
            edited.seq,
            edited.body.as_str(),
            edited.edited_at,
            edited.previews.as_deref()
        ),
        (m.seq, "now jd.com", Some(NOW), None)
    );
    assert_eq!(f.events.try_recv().unwrap(), vec![event.clone()]);
    let history = f.store.messages(c, None, 10).await.unwrap();
    assert_eq!(&history[0], edited);
    // The log replays the edit with the message as it is, and no longer
    // holds the old page's preview.
    let log = f.store.events_for(b, 0, 100).await.unwrap();
    assert_eq!(log.last(), Some(&event));
    assert!(!format!("{log:?}").contains("old page"));
    let logged = f.store.shares(NOW - 1, NOW + 1, 0, 10).await.unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].1.message_id, Some(m.id));
    assert_eq!(logged[0].1.domain, "jd.com");
    // An editor who is not a member is refused.
    let outsider = f
        .store
        .create_user("carol", "C", "h", AdminGrant::No)
        .await
        .unwrap();
    let refused = f
        .store
        .edit_message(MessageEdit {
            message_id: m.id,
            editor: outsider.id,
            body: "x".into(),
            links: "[]".into(),
            shares: vec![],
            mentions: None,
            at: NOW,
        })
        .await;
    assert!(matches!(refused, Err(Error::NotFound(_))), "{refused:?}");
}

/// A recall empties the message (text, links, previews, reactions), says
/// who recalled it, logs a recall event distinct from a removal, and
/// refuses edits, reactions and a second recall.
async fn a_recalled_message_keeps_its_place_and_loses_its_text(backend: Backend) {
    let mut f = open(backend).await;
    let (a, b, c) = pair(&f).await;
    let (m, _) = f
        .store
        .append_message(NewMessage {
            links: r#"[{"url":"https://example.com/secret"}]"#.into(),
            ..text(c, a, "the secret text")
        })
        .await
        .unwrap();
    f.store
        .attach_preview(
            m.id,
            "https://example.com/secret",
            r#"{"title":"secret page"}"#,
        )
        .await
        .unwrap();
    let reaction = |on| ReactionChange {
        message_id: m.id,
        user: b,
        emoji: "👍".into(),
        on,
        at: NOW,
    };
    f.store.react(reaction(true)).await.unwrap();
    drain(&mut f);
    let event = f.store.recall_message(m.id, a, NOW).await.unwrap();
    assert_eq!(
        event.body,
        EventBody::Recall {
            message_id: m.id,
            seq: m.seq,
            by: "alice".into()
        }
    );
    assert_eq!(f.events.try_recv().unwrap(), vec![event.clone()]);
    let gone = f.store.message_at(c, m.seq).await.unwrap().unwrap();
    assert_eq!(
        (
            gone.body.as_str(),
            gone.links.as_str(),
            gone.previews.as_deref()
        ),
        ("", "[]", None)
    );
    assert_eq!(
        (
            gone.recalled_at,
            gone.recalled_by.as_deref(),
            gone.removed_at
        ),
        (Some(NOW), Some("alice"), None)
    );
    assert!(gone.reactions.is_empty());
    let log = f.store.events_for(b, 0, 100).await.unwrap();
    assert_eq!(log.last(), Some(&event));
    assert!(!format!("{log:?}").contains("secret"));

    let again = f.store.recall_message(m.id, a, NOW).await;
    assert!(
        matches!(again, Err(Error::Conflict(why)) if why == chat_refusal::RECALLED),
        "{again:?}"
    );
    let edit = f
        .store
        .edit_message(MessageEdit {
            message_id: m.id,
            editor: a,
            body: "back".into(),
            links: "[]".into(),
            shares: vec![],
            mentions: None,
            at: NOW,
        })
        .await;
    assert!(matches!(edit, Err(Error::Conflict(_))), "{edit:?}");
    let react = f.store.react(reaction(true)).await;
    assert!(matches!(react, Err(Error::Conflict(_))), "{react:?}");
    // A preview that arrives after the recall is refused, not attached.
    let late = f
        .store
        .attach_preview(
            m.id,
            "https://example.com/secret",
            r#"{"title":"secret page"}"#,
        )
        .await;
    assert!(matches!(late, Err(Error::Conflict(_))), "{late:?}");
    let unknown = f.store.recall_message(9_999, a, NOW).await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
    // An operator removal stays told apart from a recall.
    let (other, _) = f.store.append_message(text(c, b, "other")).await.unwrap();
    f.store.remove_message(other.id, NOW).await.unwrap();
    let removed = f.store.message_at(c, other.seq).await.unwrap().unwrap();
    assert_eq!((removed.removed_at, removed.recalled_at), (Some(NOW), None));
}

/// A reply carries the seq it answers and a quote of the original as it
/// is now: its first line, and "recalled" once it is.
async fn a_reply_quotes_the_original_as_it_is_now(backend: Backend) {
    let mut f = open(backend).await;
    let (a, b, c) = pair(&f).await;
    let (original, _) = f
        .store
        .append_message(text(c, a, "first line\nsecond line"))
        .await
        .unwrap();
    let (reply, _) = f
        .store
        .append_message(NewMessage {
            reply_to: Some(original.seq),
            ..text(c, b, "an answer")
        })
        .await
        .unwrap();
    let quote = Quote {
        seq: original.seq,
        sender: "alice".into(),
        text: "first line".into(),
        recalled: false,
        removed: false,
    };
    assert_eq!(reply.reply_to, Some(original.seq));
    assert_eq!(reply.reply.as_ref(), Some(&quote));
    let mut emitted = Vec::new();
    while let Ok(batch) = f.events.try_recv() {
        emitted.extend(batch);
    }
    assert!(
        emitted
            .iter()
            .any(|e| matches!(&e.body, EventBody::Message(m) if m.reply.as_ref() == Some(&quote)))
    );
    f.store.recall_message(original.id, a, NOW).await.unwrap();
    let read = f.store.message_at(c, reply.seq).await.unwrap().unwrap();
    assert_eq!(
        read.reply,
        Some(Quote {
            text: String::new(),
            recalled: true,
            ..quote
        })
    );
    let log = f.store.events_for(b, 0, 100).await.unwrap();
    let replayed = log
        .iter()
        .find_map(|e| match &e.body {
            EventBody::Message(m) if m.id == reply.id => Some(m.clone()),
            _ => None,
        })
        .unwrap();
    assert!(replayed.reply.unwrap().recalled);
}

/// Reactions: one row per person and emoji, counted and named in history,
/// an event per change, none for a change that changes nothing; a
/// non-member cannot react.
async fn reactions_are_counted_named_and_announced(backend: Backend) {
    let mut f = open(backend).await;
    let (a, b, c) = pair(&f).await;
    let (m, _) = f.store.append_message(text(c, a, "hello")).await.unwrap();
    drain(&mut f);
    // Each a millisecond after the one before: entries come in order of
    // their first reaction.
    let clock = std::sync::atomic::AtomicI64::new(NOW);
    let change = |user, emoji: &str, on| ReactionChange {
        message_id: m.id,
        user,
        emoji: emoji.into(),
        on,
        at: clock.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
    };
    let first = f.store.react(change(b, "👍", true)).await.unwrap().unwrap();
    assert_eq!(
        first.body,
        EventBody::Reaction {
            message_id: m.id,
            seq: m.seq,
            emoji: "👍".into(),
            user: "bob".into(),
            on: true
        }
    );
    assert_eq!(f.events.try_recv().unwrap(), vec![first.clone()]);
    assert!(
        f.store
            .react(change(b, "👍", true))
            .await
            .unwrap()
            .is_none()
    );
    f.store.react(change(a, "👍", true)).await.unwrap().unwrap();
    f.store.react(change(a, "🎉", true)).await.unwrap().unwrap();
    let history = f.store.messages(c, None, 10).await.unwrap();
    assert_eq!(
        history[0].reactions,
        vec![
            Reaction {
                emoji: "👍".into(),
                users: vec!["bob".into(), "alice".into()]
            },
            Reaction {
                emoji: "🎉".into(),
                users: vec!["alice".into()]
            },
        ]
    );
    let off = f
        .store
        .react(change(a, "👍", false))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(off.body, EventBody::Reaction { on: false, .. }));
    assert!(
        f.store
            .react(change(a, "👍", false))
            .await
            .unwrap()
            .is_none()
    );
    let now = f.store.message_at(c, m.seq).await.unwrap().unwrap();
    assert_eq!(now.reactions[0].users, vec!["bob".to_owned()]);
    let log = f.store.events_for(b, 0, 100).await.unwrap();
    assert_eq!(log.last(), Some(&off));
    let outsider = f
        .store
        .create_user("carol", "C", "h", AdminGrant::No)
        .await
        .unwrap();
    let refused = f.store.react(change(outsider.id, "👍", true)).await;
    assert!(matches!(refused, Err(Error::NotFound(_))), "{refused:?}");
}

/// A history page read at once gives each message its own reactions, in
/// the order they came, and each reply its own quote, also of a message
/// older than the page; the event log's replies carry theirs too.
async fn a_page_gives_each_message_its_own_reactions_and_quote(backend: Backend) {
    let f = open(backend).await;
    let (a, b, c) = pair(&f).await;
    let mut sent = Vec::new();
    for n in 1..=5 {
        let reply_to = match n {
            4 => Some(1),
            5 => Some(2),
            _ => None,
        };
        let (m, _) = f
            .store
            .append_message(NewMessage {
                reply_to,
                ..text(
                    c,
                    if n % 2 == 0 { b } else { a },
                    &format!("line {n}\nmore"),
                )
            })
            .await
            .unwrap();
        sent.push(m);
    }
    // Interleaved over two messages, a millisecond apart.
    let changes = [
        (sent[2].id, b, "🎉"),
        (sent[1].id, a, "👍"),
        (sent[2].id, a, "👍"),
        (sent[1].id, b, "❤️"),
        (sent[2].id, a, "🎉"),
    ];
    for (k, (message_id, user, emoji)) in changes.into_iter().enumerate() {
        f.store
            .react(ReactionChange {
                message_id,
                user,
                emoji: emoji.into(),
                on: true,
                at: NOW + k as i64,
            })
            .await
            .unwrap()
            .unwrap();
    }
    let reaction = |emoji: &str, users: &[&str]| Reaction {
        emoji: emoji.into(),
        users: users.iter().map(|u| (*u).to_owned()).collect(),
    };
    let quote = |seq, sender: &str, text: &str| Quote {
        seq,
        sender: sender.into(),
        text: text.into(),
        recalled: false,
        removed: false,
    };
    // The newest four: the message replied to by seq 4 is not among them.
    let page = f.store.messages(c, None, 4).await.unwrap();
    let seqs: Vec<i64> = page.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![2, 3, 4, 5]);
    assert_eq!(
        page[0].reactions,
        vec![reaction("👍", &["alice"]), reaction("❤️", &["bob"])]
    );
    assert_eq!(
        page[1].reactions,
        vec![
            reaction("🎉", &["bob", "alice"]),
            reaction("👍", &["alice"])
        ]
    );
    assert!(page[2].reactions.is_empty() && page[3].reactions.is_empty());
    assert_eq!(page[0].reply, None);
    assert_eq!(page[1].reply, None);
    assert_eq!(page[2].reply, Some(quote(1, "alice", "line 1")));
    assert_eq!(page[3].reply, Some(quote(2, "bob", "line 2")));
    // The same message read alone agrees with the page.
    let alone = f.store.message_at(c, 3).await.unwrap().unwrap();
    assert_eq!(alone.reactions, page[1].reactions);
    let log = f.store.events_for(b, 0, 100).await.unwrap();
    let replies: Vec<(i64, Option<Quote>)> = log
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Message(m) if m.reply_to.is_some() => Some((m.seq, m.reply.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        replies,
        vec![
            (4, Some(quote(1, "alice", "line 1"))),
            (5, Some(quote(2, "bob", "line 2")))
        ]
    );
}

on_every_backend!(
    an_edit_replaces_the_text_and_is_marked,
    a_recalled_message_keeps_its_place_and_loses_its_text,
    a_reply_quotes_the_original_as_it_is_now,
    reactions_are_counted_named_and_announced,
    a_page_gives_each_message_its_own_reactions_and_quote,
);
