//! Per-domain preview rules and hidden previews, run against every backend
//! (`sqlite::name` and `postgres::name`, see `support`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use kaifang_store::{
    AdminGrant, Error, EventBody, MessageEdit, NewMessage, RuleList, chat_refusal,
    preview_rule_refusal,
};
use support::{Backend, open};

const NOW: i64 = 1_800_000_000_000;

/// Rules are added once, listed oldest first with who added them, removed;
/// each change bumps the revision and is audited in the same write; a
/// repeat or a missing rule changes nothing and audits nothing; the rules
/// outlive a reopen.
async fn rules_are_stored_audited_and_revised(backend: Backend) {
    let f = open(backend).await;
    let store = &f.store;
    let root = store
        .create_user("root", "R", "h", AdminGrant::Yes)
        .await
        .unwrap();
    let start = store.preview_rules().await.unwrap();
    assert_eq!((start.revision, start.rules.len()), (0, 0));
    assert_eq!(store.preview_rules_revision().await.unwrap(), 0);

    let added = store
        .add_preview_rule(RuleList::Deny, "*.example.com", root.id, NOW, 10)
        .await
        .unwrap()
        .expect("added");
    assert_eq!(
        (
            added.list,
            added.pattern.as_str(),
            added.created_by.as_str(),
            added.created_at
        ),
        (RuleList::Deny, "*.example.com", "root", NOW)
    );
    // The same text on the other list is another rule.
    store
        .add_preview_rule(RuleList::Allow, "*.example.com", root.id, NOW + 1, 10)
        .await
        .unwrap()
        .expect("added to allow");
    let again = store
        .add_preview_rule(RuleList::Deny, "*.example.com", root.id, NOW + 2, 10)
        .await
        .unwrap();
    assert!(again.is_none(), "a repeat adds nothing");
    let set = store.preview_rules().await.unwrap();
    assert_eq!(set.revision, 2);
    let listed: Vec<_> = set
        .rules
        .iter()
        .map(|r| (r.list, r.pattern.as_str()))
        .collect();
    assert_eq!(
        listed,
        vec![
            (RuleList::Deny, "*.example.com"),
            (RuleList::Allow, "*.example.com")
        ]
    );

    assert!(
        !store
            .remove_preview_rule(RuleList::Deny, "other.test", root.id, NOW + 3)
            .await
            .unwrap()
    );
    assert!(
        store
            .remove_preview_rule(RuleList::Allow, "*.example.com", root.id, NOW + 4)
            .await
            .unwrap()
    );
    assert_eq!(store.preview_rules_revision().await.unwrap(), 3);

    let audit = store.audit_log(10).await.unwrap();
    let actions: Vec<_> = audit
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("preview_rules.remove", "root"),
            ("preview_rules.add", "root"),
            ("preview_rules.add", "root"),
        ],
        "one entry per change, newest first; repeats are not audited"
    );
    let detail: serde_json::Value = serde_json::from_str(&audit[0].detail).unwrap();
    assert_eq!(
        detail,
        serde_json::json!({"list": "allow", "rule": "*.example.com"})
    );
    assert_eq!(audit[0].at, NOW + 4);

    drop(f.store);
    let (reopened, _events) = f.place.reopen().await;
    let set = reopened.preview_rules().await.unwrap();
    assert_eq!(set.revision, 3);
    assert_eq!(set.rules.len(), 1);
    assert_eq!(set.rules[0].pattern, "*.example.com");
}

/// Past `max_rules` (both lists counted) an add is refused and leaves no
/// trace: no rule, no revision, no audit entry. A repeat at the limit is
/// still a harmless repeat.
async fn the_rule_limit_is_kept(backend: Backend) {
    let f = open(backend).await;
    let store = &f.store;
    let root = store
        .create_user("root", "R", "h", AdminGrant::Yes)
        .await
        .unwrap();
    store
        .add_preview_rule(RuleList::Deny, "a.test", root.id, NOW, 2)
        .await
        .unwrap();
    store
        .add_preview_rule(RuleList::Allow, "b.test", root.id, NOW, 2)
        .await
        .unwrap();
    let full = store
        .add_preview_rule(RuleList::Deny, "c.test", root.id, NOW, 2)
        .await;
    assert!(
        matches!(full, Err(Error::Conflict(why)) if why == preview_rule_refusal::FULL),
        "{full:?}"
    );
    let repeat = store
        .add_preview_rule(RuleList::Deny, "a.test", root.id, NOW, 2)
        .await
        .unwrap();
    assert!(repeat.is_none());
    let set = store.preview_rules().await.unwrap();
    assert_eq!((set.revision, set.rules.len()), (2, 2));
    assert_eq!(store.audit_log(10).await.unwrap().len(), 2);
}

/// The sender hides a message's previews: they are gone from the message
/// and from the event log (they hold page text), the message says so in
/// history and events, one `PreviewsHidden` event is logged and delivered,
/// a late preview is not attached, a second hide changes nothing, and a
/// recalled message or a non-member is refused.
async fn hidden_previews_stay_hidden(backend: Backend) {
    let mut f = open(backend).await;
    let a = f
        .store
        .create_user("alice", "A", "h", AdminGrant::No)
        .await
        .unwrap()
        .id;
    let b = f
        .store
        .create_user("bob", "B", "h", AdminGrant::No)
        .await
        .unwrap()
        .id;
    let outsider = f
        .store
        .create_user("eve", "E", "h", AdminGrant::No)
        .await
        .unwrap()
        .id;
    let (c, _) = f.store.open_direct(a, b).await.unwrap();
    let (m, _) = f
        .store
        .append_message(NewMessage::text(c.id, a, "see https://example.com/a"))
        .await
        .unwrap();
    f.store
        .attach_preview(m.id, "https://example.com/a", r#"{"title":"page A"}"#)
        .await
        .unwrap();
    while f.events.try_recv().is_ok() {}

    assert!(matches!(
        f.store.hide_previews(m.id, outsider, NOW).await,
        Err(Error::NotFound(_))
    ));
    let event = f
        .store
        .hide_previews(m.id, a, NOW)
        .await
        .unwrap()
        .expect("hidden now");
    assert_eq!(
        event.body,
        EventBody::PreviewsHidden {
            message_id: m.id,
            seq: m.seq
        }
    );
    let sunk: Vec<_> = std::iter::from_fn(|| f.events.try_recv().ok())
        .flatten()
        .collect();
    assert_eq!(sunk, vec![event.clone()], "delivered once, as committed");

    let now = f.store.message_at(c.id, m.seq).await.unwrap().unwrap();
    assert_eq!(now.previews, None);
    assert_eq!(now.previews_hidden_at, Some(NOW));
    assert_eq!(now.body, "see https://example.com/a", "the text stays");
    let history = f.store.messages(c.id, None, 10).await.unwrap();
    assert_eq!(history[0].previews_hidden_at, Some(NOW));

    let log = f.store.events_for(b, 0, 100).await.unwrap();
    assert!(
        !log.iter()
            .any(|e| matches!(e.body, EventBody::Preview { .. })),
        "the page text left the event log"
    );
    assert_eq!(log.last().map(|e| &e.body), Some(&event.body));

    let late = f
        .store
        .attach_preview(m.id, "https://example.com/a", r#"{"title":"late"}"#)
        .await;
    assert!(
        matches!(late, Err(Error::Conflict(why)) if why == chat_refusal::PREVIEWS_HIDDEN),
        "{late:?}"
    );
    assert!(
        f.store
            .hide_previews(m.id, a, NOW + 1)
            .await
            .unwrap()
            .is_none()
    );
    let after = f.store.message_at(c.id, m.seq).await.unwrap().unwrap();
    assert_eq!(
        (after.previews, after.previews_hidden_at),
        (None, Some(NOW))
    );

    // An edit keeps them hidden: the sender chose so for the message.
    let edited = f
        .store
        .edit_message(MessageEdit {
            message_id: m.id,
            editor: a,
            body: "now https://example.com/b".into(),
            links: "[]".into(),
            shares: vec![],
            mentions: None,
            at: NOW + 1,
        })
        .await
        .unwrap();
    let EventBody::Edit(edited) = edited.body else {
        panic!("an edit event");
    };
    assert_eq!(edited.previews_hidden_at, Some(NOW));

    f.store.recall_message(m.id, a, NOW + 2).await.unwrap();
    assert!(matches!(
        f.store.hide_previews(m.id, a, NOW + 3).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        f.store.hide_previews(9_999, a, NOW).await,
        Err(Error::NotFound(_))
    ));
}

on_every_backend!(
    rules_are_stored_audited_and_revised,
    the_rule_limit_is_kept,
    hidden_previews_stay_hidden,
);
