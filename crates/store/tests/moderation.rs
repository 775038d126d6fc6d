//! Moderation storage, run against every backend: complaints filed once,
//! the penalty ladder counted in the transaction that upholds, appeals that
//! lift a penalty and take its strike back, and the moderator role.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use kaifang_store::{
    AdminGrant, CaseState, Decision, Error, NewComplaint, PenaltyState, Rung, UserId,
    moderation_refusal as refusal,
};
use support::{Backend, open};

const NOW: i64 = 1_800_000_000_000;
const HOUR: i64 = 3_600_000;

/// WeChat's ladder: restricted until appealed, then 12 hours, a day, a week.
const LADDER: [Rung; 4] = [
    Rung {
        state: PenaltyState::Restricted,
        duration_ms: None,
    },
    Rung {
        state: PenaltyState::Suspended,
        duration_ms: Some(12 * HOUR),
    },
    Rung {
        state: PenaltyState::Suspended,
        duration_ms: Some(24 * HOUR),
    },
    Rung {
        state: PenaltyState::Suspended,
        duration_ms: Some(168 * HOUR),
    },
];

fn complaint(reporter: UserId, message_id: i64, domain: &str, now: i64) -> NewComplaint {
    NewComplaint {
        reporter,
        conversation_id: 1,
        message_id,
        link_index: 0,
        url: format!("https://{domain}/x"),
        domain: domain.into(),
        platform: "taobao".into(),
        owner: "alibaba".into(),
        reason: "fraud".into(),
        note: "fake shop".into(),
        now,
    }
}

fn decision(id: i64, by: UserId, now: i64) -> Decision {
    Decision {
        id,
        by,
        note: "checked".into(),
        now,
    }
}

fn conflict<T: std::fmt::Debug>(r: Result<T, Error>, why: &str) {
    match r {
        Err(Error::Conflict(text)) => assert_eq!(text, why),
        other => panic!("expected 'conflict: {why}', got {other:?}"),
    }
}

async fn complaints_are_filed_once_and_the_ladder_is_climbed(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    let amy = s
        .create_user("amy", "Amy", "h", AdminGrant::No)
        .await
        .unwrap();
    let mod_ = s
        .create_user("mo", "Mo", "h", AdminGrant::No)
        .await
        .unwrap();

    let (first, created) = s
        .file_complaint(complaint(amy.id, 10, "taobao.com", NOW))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(
        (first.state, first.reporter.as_str()),
        (CaseState::Open, "amy")
    );
    // The same report again is the same complaint, not a second one.
    let (again, created) = s
        .file_complaint(complaint(amy.id, 10, "taobao.com", NOW + 5))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again, first);
    let queue = s.complaints(Some(CaseState::Open), 0, 10).await.unwrap();
    assert_eq!(queue.len(), 1);

    // Strike 1: restricted with no end.
    let (upheld, p1) = s
        .uphold(
            decision(first.id, mod_.id, NOW + HOUR),
            NOW - 180 * 24 * HOUR,
            &LADDER,
        )
        .await
        .unwrap();
    assert_eq!(
        (upheld.state, upheld.decided_by.as_deref()),
        (CaseState::Upheld, Some("mo"))
    );
    assert_eq!(
        (p1.strike, p1.state, p1.ends_at),
        (1, PenaltyState::Restricted, None)
    );
    assert!(p1.in_force(NOW + 100 * HOUR));
    // Deciding it again is refused, whichever way.
    conflict(
        s.uphold(decision(first.id, mod_.id, NOW + HOUR), 0, &LADDER)
            .await,
        refusal::CLOSED,
    );
    conflict(
        s.dismiss(decision(first.id, mod_.id, NOW + HOUR)).await,
        refusal::CLOSED,
    );
    assert!(
        s.complaints(Some(CaseState::Open), 0, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Strikes 2 to 5: 12 hours, a day, a week, and a week again past the ladder's end.
    let mut ends = Vec::new();
    let mut suspensions = Vec::new();
    for (i, message) in (11..15).enumerate() {
        let t = NOW + 2 * HOUR + i as i64;
        let (c, _) = s
            .file_complaint(complaint(amy.id, message, "taobao.com", t))
            .await
            .unwrap();
        let (_, p) = s
            .uphold(decision(c.id, mod_.id, t), NOW - 180 * 24 * HOUR, &LADDER)
            .await
            .unwrap();
        assert_eq!((p.strike, p.state), (i as i64 + 2, PenaltyState::Suspended));
        ends.push(p.ends_at.unwrap() - t);
        suspensions.push(p);
    }
    assert_eq!(ends, [12 * HOUR, 24 * HOUR, 168 * HOUR, 168 * HOUR]);

    // Strikes older than the window do not count: a fresh window starts at 1.
    let (c, _) = s
        .file_complaint(complaint(amy.id, 20, "taobao.com", NOW + 3 * HOUR))
        .await
        .unwrap();
    let (_, p) = s
        .uphold(
            decision(c.id, mod_.id, NOW + 3 * HOUR),
            NOW + 3 * HOUR,
            &LADDER,
        )
        .await
        .unwrap();
    assert_eq!((p.strike, p.state), (1, PenaltyState::Restricted));

    // Another domain has its own count; a dismissal is no strike.
    let (d, _) = s
        .file_complaint(complaint(amy.id, 30, "jd.com", NOW))
        .await
        .unwrap();
    let dismissed = s.dismiss(decision(d.id, mod_.id, NOW + 1)).await.unwrap();
    assert_eq!(dismissed.state, CaseState::Dismissed);
    let (e, _) = s
        .file_complaint(complaint(amy.id, 31, "jd.com", NOW))
        .await
        .unwrap();
    let (_, p) = s
        .uphold(decision(e.id, mod_.id, NOW + 2), 0, &LADDER)
        .await
        .unwrap();
    assert_eq!(p.strike, 1);

    // In force: penalties without an end, or ending later.
    // The 12-hour suspension began at NOW + 2 h.
    let later = NOW + 15 * HOUR;
    let live = s.live_penalties(later).await.unwrap();
    assert!(live.iter().all(|p| p.in_force(later)));
    assert!(
        !live.iter().any(|p| p.id == suspensions[0].id),
        "the 12-hour suspension has ended"
    );
    assert!(
        live.iter().any(|p| p.id == suspensions[1].id),
        "the day has not"
    );
    assert!(
        live.iter().any(|p| p.id == p1.id),
        "the restriction has no end"
    );

    let counts = s.complaint_counts(NOW - 1, NOW + 10 * HOUR).await.unwrap();
    let of = |state: CaseState| {
        counts
            .iter()
            .filter(|c| c.state == state)
            .map(|c| c.count)
            .sum::<i64>()
    };
    assert_eq!((of(CaseState::Upheld), of(CaseState::Dismissed)), (7, 1));
    assert_eq!(s.complaints_by(amy.id, 100).await.unwrap().len(), 8);
    assert_eq!(s.complaints_by(mod_.id, 100).await.unwrap().len(), 0);
}

async fn a_granted_appeal_lifts_the_penalty_and_takes_its_strike_back(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    let amy = s
        .create_user("amy", "Amy", "h", AdminGrant::No)
        .await
        .unwrap();
    let owner = s
        .create_user("ali", "Ali", "h", AdminGrant::No)
        .await
        .unwrap();
    let mo = s
        .create_user("mo", "Mo", "h", AdminGrant::No)
        .await
        .unwrap();
    let (c, _) = s
        .file_complaint(complaint(amy.id, 1, "taobao.com", NOW))
        .await
        .unwrap();
    let (_, p) = s
        .uphold(decision(c.id, mo.id, NOW), 0, &LADDER)
        .await
        .unwrap();

    let appeal = s
        .file_appeal(p.id, owner.id, "page fixed", NOW + 1)
        .await
        .unwrap();
    assert_eq!(
        (
            appeal.state,
            appeal.appellant.as_str(),
            appeal.domain.as_str()
        ),
        (CaseState::Open, "ali", "taobao.com")
    );
    conflict(
        s.file_appeal(p.id, owner.id, "again", NOW + 2).await,
        refusal::APPEAL_OPEN,
    );
    // Refused: the penalty stays, and a new appeal may be filed.
    let refused = s
        .decide_appeal(decision(appeal.id, mo.id, NOW + 3), false)
        .await
        .unwrap();
    assert_eq!(refused.state, CaseState::Refused);
    assert!(s.penalty(p.id).await.unwrap().unwrap().in_force(NOW + 4));
    conflict(
        s.decide_appeal(decision(appeal.id, mo.id, NOW + 4), true)
            .await,
        refusal::CLOSED,
    );

    let second = s
        .file_appeal(p.id, owner.id, "really fixed", NOW + 5)
        .await
        .unwrap();
    let granted = s
        .decide_appeal(decision(second.id, mo.id, NOW + 6), true)
        .await
        .unwrap();
    assert_eq!(
        (granted.state, granted.decided_by.as_deref()),
        (CaseState::Granted, Some("mo"))
    );
    let lifted = s.penalty(p.id).await.unwrap().unwrap();
    assert_eq!(
        (lifted.lifted_at, lifted.lifted_by.as_deref()),
        (Some(NOW + 6), Some("mo"))
    );
    assert!(!lifted.in_force(NOW + 7));
    assert!(s.live_penalties(NOW + 7).await.unwrap().is_empty());
    conflict(
        s.file_appeal(p.id, owner.id, "late", NOW + 8).await,
        refusal::NOT_IN_FORCE,
    );
    assert_eq!(s.appeals(Some(CaseState::Open), 10).await.unwrap().len(), 0);
    let counts = s.penalty_counts(NOW - 1, NOW + 100).await.unwrap();
    assert_eq!(counts.len(), 1);
    assert_eq!(
        (counts[0].state, counts[0].count, counts[0].lifted),
        (PenaltyState::Restricted, 1, 1)
    );
    assert!(
        s.penalty_counts(NOW + 100, NOW + 200)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.appeals(None, 10).await.unwrap().len(), 2);

    // The lifted strike no longer counts: the next one is a first strike again.
    let (c2, _) = s
        .file_complaint(complaint(amy.id, 2, "taobao.com", NOW + 9))
        .await
        .unwrap();
    let (_, p2) = s
        .uphold(decision(c2.id, mo.id, NOW + 9), 0, &LADDER)
        .await
        .unwrap();
    assert_eq!((p2.strike, p2.state), (1, PenaltyState::Restricted));

    assert!(matches!(
        s.file_appeal(9_999, owner.id, "x", NOW).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        s.decide_appeal(decision(9_999, mo.id, NOW), true).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        s.uphold(decision(9_999, mo.id, NOW), 0, &LADDER).await,
        Err(Error::NotFound(_))
    ));
}

async fn concurrent_upholds_take_distinct_rungs(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    let amy = s
        .create_user("amy", "Amy", "h", AdminGrant::No)
        .await
        .unwrap();
    let mo = s
        .create_user("mo", "Mo", "h", AdminGrant::No)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for m in 0..6 {
        ids.push(
            s.file_complaint(complaint(amy.id, m, "taobao.com", NOW))
                .await
                .unwrap()
                .0
                .id,
        );
    }
    let upholds = ids
        .iter()
        .map(|&id| s.uphold(decision(id, mo.id, NOW + 1), 0, &LADDER));
    let mut strikes: Vec<i64> = futures_util::future::join_all(upholds)
        .await
        .into_iter()
        .map(|r| r.unwrap().1.strike)
        .collect();
    strikes.sort_unstable();
    assert_eq!(strikes, [1, 2, 3, 4, 5, 6]);
}

async fn moderators_are_granted_and_withdrawn_by_handle(backend: Backend) {
    let f = open(backend).await;
    let s = &f.store;
    let amy = s
        .create_user("amy", "Amy", "h", AdminGrant::No)
        .await
        .unwrap();
    s.create_user("bob", "Bob", "h", AdminGrant::No)
        .await
        .unwrap();
    assert!(!s.is_moderator(amy.id).await.unwrap());
    assert_eq!(s.set_moderator("amy", true).await.unwrap(), amy.id);
    s.set_moderator("bob", true).await.unwrap();
    assert!(s.is_moderator(amy.id).await.unwrap());
    assert_eq!(s.moderators().await.unwrap(), ["amy", "bob"]);
    s.set_moderator("amy", false).await.unwrap();
    assert_eq!(s.moderators().await.unwrap(), ["bob"]);
    assert!(matches!(
        s.set_moderator("nobody", true).await,
        Err(Error::NotFound(_))
    ));
    assert!(!s.is_moderator(9_999).await.unwrap());
}

on_every_backend!(
    complaints_are_filed_once_and_the_ladder_is_climbed,
    a_granted_appeal_lifts_the_penalty_and_takes_its_strike_back,
    concurrent_upholds_take_distinct_rungs,
    moderators_are_granted_and_withdrawn_by_handle,
);
