//! Governance storage: versions, activations, share aggregates, audit; on
//! every backend (`sqlite::name` and `postgres::name`, see `support`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use kaifang_store::{AdminGrant, ConversationKind, Error, LinkShare, NewMessage, Role};
use support::{Backend, open};

fn share(at: i64, kind: ConversationKind, platform: &str, treatment: &str) -> LinkShare {
    LinkShare {
        at,
        message_id: None,
        conversation_kind: kind,
        member_count: 3,
        sender_role: Role::Member,
        platform: platform.into(),
        owner: "alibaba".into(),
        category: "commerce".into(),
        domain: "taobao.com".into(),
        lists: vec![],
        bidi: false,
        mixed_script: false,
        treatment: treatment.into(),
        preview: false,
        policy_version: 0,
        policies: vec!["groups-rival-platforms-inert".into()],
    }
}

async fn versions_activations_shares_and_audit(backend: Backend) {
    let f = open(backend).await;
    let store = f.store;
    let admin = store
        .create_user("admin", "A", "h", AdminGrant::Yes)
        .await
        .unwrap();
    let v1 = store
        .create_version(admin.id, "permit(principal, action, resource);", "open all")
        .await
        .unwrap();
    assert_eq!(
        (v1.id, v1.author.as_str(), v1.comment.as_str()),
        (1, "admin", "open all")
    );
    assert_eq!(store.versions().await.unwrap().len(), 1);
    assert!(store.version(99).await.unwrap().is_none());
    assert!(matches!(
        store.schedule(99, 10, admin.id).await,
        Err(Error::NotFound(_))
    ));

    let past = store.schedule(1, 1_000, admin.id).await.unwrap();
    let future = store.schedule(1, 5_000, admin.id).await.unwrap();
    assert!(matches!(
        store.cancel(past.id, 2_000).await,
        Err(Error::Conflict(_))
    ));
    let cancelled = store.cancel(future.id, 2_000).await.unwrap();
    assert_eq!(cancelled.cancelled_at, Some(2_000));
    assert!(matches!(
        store.cancel(future.id, 2_000).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(store.activations().await.unwrap().len(), 2);

    // Shares: logged with refused sends here; counted and paged by range.
    let mut shares = vec![share(100, ConversationKind::Group, "taobao", "inert"); 3];
    shares.push(share(200, ConversationKind::Direct, "taobao", "live"));
    shares.push(share(900, ConversationKind::Direct, "taobao", "live"));
    store.log_refused_shares(shares).await.unwrap();
    let counts = store.share_counts(0, 500).await.unwrap();
    let n = |kind: &str, t: &str| {
        counts
            .iter()
            .find(|c| c.conversation_kind == kind && c.treatment == t)
            .map(|c| c.count)
    };
    assert_eq!(
        (n("group", "inert"), n("direct", "live")),
        (Some(3), Some(1))
    );
    // Per time bucket: 100 → bucket 0, 200 → bucket 200 (of 200 ms).
    let series = store.share_series(0, 500, 200).await.unwrap();
    let at = |b: i64, kind: &str| {
        series
            .iter()
            .filter(|(t, c)| *t == b && c.conversation_kind == kind)
            .map(|(_, c)| c.count)
            .sum::<i64>()
    };
    assert_eq!((at(0, "group"), at(200, "direct")), (3, 1));
    let page = store.shares(0, 1_000, 0, 2).await.unwrap();
    assert_eq!(page.len(), 2);
    let rest = store.shares(0, 1_000, page[1].0, 10).await.unwrap();
    assert_eq!(rest.len(), 3);
    assert_eq!(rest[0].1.policies, ["groups-rival-platforms-inert"]);
    assert_eq!(store.prune_shares(150).await.unwrap(), 3);
    assert_eq!(store.shares(0, 1_000, 0, 10).await.unwrap().len(), 2);

    store
        .audit(admin.id, "policy.propose", "{\"version\":1}")
        .await
        .unwrap();
    let log = store.audit_log(10).await.unwrap();
    assert_eq!(
        (log[0].actor.as_str(), log[0].action.as_str()),
        ("admin", "policy.propose")
    );

    // Messages' shares land in the same log.
    let b = store
        .create_user("bob", "B", "h", AdminGrant::No)
        .await
        .unwrap();
    let (c, _) = store.open_direct(admin.id, b.id).await.unwrap();
    let mut s = share(300, ConversationKind::Direct, "jd", "live");
    s.owner = "jd".into();
    s.bidi = true;
    store
        .append_message(NewMessage {
            shares: vec![s],
            ..NewMessage::text(c.id, admin.id, "jd.com")
        })
        .await
        .unwrap();
    let counts = store.share_counts(250, 350).await.unwrap();
    assert_eq!(counts[0].platform, "jd");
    let logged = store.shares(250, 350, 0, 10).await.unwrap();
    assert!(logged[0].1.message_id.is_some());
    // Replay needs the flags back as they were logged.
    assert!(logged[0].1.bidi && !logged[0].1.mixed_script);
}

on_every_backend!(versions_activations_shares_and_audit);
