//! Orders, the ledger, idempotency keys and notification nonces, run
//! against every backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use futures_util::future::join_all;
use kaifang_store::{
    AdminGrant, EntryLeg, Error, IDEMPOTENCY_WINDOW_MS, IdempotencyKey, LedgerTransaction,
    NewOrder, NewTransaction, Order, OrderTotals, PaymentCount, TransactionKind,
};
use support::{Backend, Fixture, open};

const T0: i64 = 1_700_000_000_000;

fn new_order(buyer: i64, amount_minor: i64, now: i64) -> NewOrder {
    NewOrder {
        buyer,
        conversation_id: Some(7),
        message_id: Some(70),
        link_index: Some(0),
        merchant: "taobao".into(),
        wallet: "alipay".into(),
        amount_minor,
        currency: "CNY".into(),
        state: "created".into(),
        now,
    }
}

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey {
        key: k.into(),
        caller: "user:1".into(),
        window_ms: IDEMPOTENCY_WINDOW_MS,
    }
}

fn leg(account: &str, amount_minor: i64) -> EntryLeg {
    EntryLeg {
        account: account.into(),
        amount_minor,
        currency: "CNY".into(),
    }
}

/// The provider's side pays the merchant `amount`.
fn payment(order_id: i64, provider_ref: &str, amount: i64) -> NewTransaction {
    NewTransaction {
        order_id,
        kind: TransactionKind::Payment,
        provider_ref: provider_ref.into(),
        amount_minor: amount,
        entries: vec![
            leg("provider:alipay", -amount),
            leg("merchant:taobao", amount),
        ],
        now: T0,
    }
}

/// The merchant returns `amount` through the provider.
fn refund(order_id: i64, provider_ref: &str, amount: i64) -> NewTransaction {
    NewTransaction {
        order_id,
        kind: TransactionKind::Refund,
        provider_ref: provider_ref.into(),
        amount_minor: amount,
        entries: vec![
            leg("merchant:taobao", -amount),
            leg("provider:alipay", amount),
        ],
        now: T0,
    }
}

async fn order_of(f: &Fixture, amount: i64, k: &str) -> Order {
    let buyer = f
        .store
        .create_user(&format!("buyer{k}"), "Buyer", "h", AdminGrant::No)
        .await
        .unwrap();
    f.store
        .create_order(new_order(buyer.id, amount, T0), key(k))
        .await
        .unwrap()
        .0
}

async fn balance(f: &Fixture, account: &str) -> i64 {
    let b = f.store.balances(account).await.unwrap();
    assert!(b.iter().all(|b| b.currency == "CNY"), "{b:?}");
    b.iter().map(|b| b.balance_minor).sum()
}

async fn same_key_same_parameters_returns_the_first_order(backend: Backend) {
    let f = open(backend).await;
    let buyer = f
        .store
        .create_user("alice", "Alice", "h", AdminGrant::No)
        .await
        .unwrap();
    let (first, replayed) = f
        .store
        .create_order(new_order(buyer.id, 12_800, T0), key("k1"))
        .await
        .unwrap();
    assert!(!replayed);
    assert_eq!(first.state, "created");
    assert_eq!(first.amount_minor, 12_800);
    // A retry a minute later, same parameters: the same order, no new one.
    let (again, replayed) = f
        .store
        .create_order(new_order(buyer.id, 12_800, T0 + 60_000), key("k1"))
        .await
        .unwrap();
    assert!(replayed);
    assert_eq!(again, first);
    // Another key makes another order.
    let (other, replayed) = f
        .store
        .create_order(new_order(buyer.id, 12_800, T0), key("k2"))
        .await
        .unwrap();
    assert!(!replayed);
    assert_ne!(other.id, first.id);
    // The same key from another caller is another key.
    let mut theirs = key("k1");
    theirs.caller = "user:2".into();
    let (third, replayed) = f
        .store
        .create_order(new_order(buyer.id, 100, T0), theirs)
        .await
        .unwrap();
    assert!(!replayed);
    assert_ne!(third.id, first.id);
}

async fn same_key_other_parameters_is_refused(backend: Backend) {
    let f = open(backend).await;
    let buyer = f
        .store
        .create_user("alice", "Alice", "h", AdminGrant::No)
        .await
        .unwrap();
    let (first, _) = f
        .store
        .create_order(new_order(buyer.id, 12_800, T0), key("k1"))
        .await
        .unwrap();
    let r = f
        .store
        .create_order(new_order(buyer.id, 12_900, T0 + 1), key("k1"))
        .await;
    assert!(matches!(r, Err(Error::IdempotencyMismatch)), "{r:?}");
    let mut other_wallet = new_order(buyer.id, 12_800, T0 + 1);
    other_wallet.wallet = "wechat-pay".into();
    let r = f.store.create_order(other_wallet, key("k1")).await;
    assert!(matches!(r, Err(Error::IdempotencyMismatch)), "{r:?}");
    // The refusal created nothing: the key still answers with the first order.
    let (again, replayed) = f
        .store
        .create_order(new_order(buyer.id, 12_800, T0 + 2), key("k1"))
        .await
        .unwrap();
    assert!(replayed);
    assert_eq!(again.id, first.id);
}

async fn a_key_past_its_window_is_new_again_and_pruned(backend: Backend) {
    let f = open(backend).await;
    let buyer = f
        .store
        .create_user("alice", "Alice", "h", AdminGrant::No)
        .await
        .unwrap();
    let (first, _) = f
        .store
        .create_order(new_order(buyer.id, 12_800, T0), key("k1"))
        .await
        .unwrap();
    let later = T0 + IDEMPOTENCY_WINDOW_MS;
    // Past the window, other parameters are no longer a mismatch.
    let (second, replayed) = f
        .store
        .create_order(new_order(buyer.id, 500, later), key("k1"))
        .await
        .unwrap();
    assert!(!replayed);
    assert_ne!(second.id, first.id);
    assert_eq!(second.amount_minor, 500);
    // A shorter window given by the caller applies too.
    let mut short = key("k2");
    short.window_ms = 1_000;
    f.store
        .create_order(new_order(buyer.id, 1, T0), short.clone())
        .await
        .unwrap();
    let (_, replayed) = f
        .store
        .create_order(new_order(buyer.id, 1, T0 + 999), short.clone())
        .await
        .unwrap();
    assert!(replayed);
    let (_, replayed) = f
        .store
        .create_order(new_order(buyer.id, 1, T0 + 1_000), short)
        .await
        .unwrap();
    assert!(!replayed);
    // Pruning removes what is older than the cut-off, and only that.
    assert_eq!(f.store.prune_idempotency_keys(T0 + 1_000).await.unwrap(), 0);
    assert_eq!(f.store.prune_idempotency_keys(later + 1).await.unwrap(), 2);
    let (third, replayed) = f
        .store
        .create_order(new_order(buyer.id, 500, later + 2), key("k1"))
        .await
        .unwrap();
    assert!(!replayed);
    assert_ne!(third.id, second.id);
}

async fn the_ledger_balances_and_refuses_an_unbalanced_transaction(backend: Backend) {
    let f = open(backend).await;
    let o = order_of(&f, 12_800, "a").await;
    let (_, recorded) = f.store.record(payment(o.id, "T1", 12_800)).await.unwrap();
    assert!(recorded);
    let fee = NewTransaction {
        order_id: o.id,
        kind: TransactionKind::Fee,
        provider_ref: "T1".into(),
        amount_minor: 77,
        entries: vec![leg("merchant:taobao", -77), leg("fees", 77)],
        now: T0,
    };
    f.store.record(fee).await.unwrap();
    assert_eq!(balance(&f, "merchant:taobao").await, 12_723);
    assert_eq!(balance(&f, "fees").await, 77);
    assert_eq!(balance(&f, "provider:alipay").await, -12_800);
    // Every account together sums to zero.
    let entries = f.store.order_entries(o.id).await.unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries.iter().map(|e| e.amount_minor).sum::<i64>(), 0);
    assert_eq!(entries[0].kind, TransactionKind::Payment);
    assert_eq!(entries[3].kind, TransactionKind::Fee);

    let mut unbalanced = payment(o.id, "T2", 100);
    unbalanced.entries[1].amount_minor = 99;
    let r = f.store.record(unbalanced).await;
    assert!(matches!(r, Err(Error::Ledger(_))), "{r:?}");
    // Balanced in sum but not per currency.
    let mut mixed = payment(o.id, "T3", 100);
    mixed.entries[1].currency = "USD".into();
    let r = f.store.record(mixed).await;
    assert!(matches!(r, Err(Error::Ledger(_))), "{r:?}");
    let mut one_leg = payment(o.id, "T4", 100);
    one_leg.entries.truncate(1);
    one_leg.entries[0].amount_minor = 0;
    let r = f.store.record(one_leg).await;
    assert!(matches!(r, Err(Error::Ledger(_))), "{r:?}");
    // Nothing of the refused ones was kept.
    assert_eq!(f.store.order_entries(o.id).await.unwrap().len(), 4);
    assert_eq!(balance(&f, "merchant:taobao").await, 12_723);
    assert_eq!(
        f.store.order_totals(o.id).await.unwrap(),
        OrderTotals {
            paid_minor: 12_800,
            refunded_minor: 0
        }
    );
}

async fn no_asset_limited_account_goes_negative(backend: Backend) {
    let f = open(backend).await;
    let o = order_of(&f, 1_000, "a").await;
    f.store.record(payment(o.id, "T1", 1_000)).await.unwrap();
    // A fee larger than what the merchant holds.
    let fee = NewTransaction {
        order_id: o.id,
        kind: TransactionKind::Fee,
        provider_ref: "F1".into(),
        amount_minor: 1_001,
        entries: vec![leg("merchant:taobao", -1_001), leg("fees", 1_001)],
        now: T0,
    };
    let r = f.store.record(fee).await;
    assert!(matches!(r, Err(Error::Ledger(_))), "{r:?}");
    // A buyer account that never received anything cannot pay.
    let from_buyer = NewTransaction {
        order_id: o.id,
        kind: TransactionKind::Fee,
        provider_ref: "F2".into(),
        amount_minor: 1,
        entries: vec![leg("buyer:1", -1), leg("fees", 1)],
        now: T0,
    };
    let r = f.store.record(from_buyer).await;
    assert!(matches!(r, Err(Error::Ledger(_))), "{r:?}");
    assert_eq!(balance(&f, "merchant:taobao").await, 1_000);
    assert_eq!(balance(&f, "fees").await, 0);
    assert_eq!(balance(&f, "buyer:1").await, 0);
    // Exactly down to zero is fine.
    let fee = NewTransaction {
        order_id: o.id,
        kind: TransactionKind::Fee,
        provider_ref: "F3".into(),
        amount_minor: 1_000,
        entries: vec![leg("merchant:taobao", -1_000), leg("fees", 1_000)],
        now: T0,
    };
    f.store.record(fee).await.unwrap();
    assert_eq!(balance(&f, "merchant:taobao").await, 0);
}

async fn a_duplicate_notification_records_once(backend: Backend) {
    let f = open(backend).await;
    let o = order_of(&f, 12_800, "a").await;
    let (id, recorded) = f.store.record(payment(o.id, "T1", 12_800)).await.unwrap();
    assert!(recorded);
    let (again, recorded) = f.store.record(payment(o.id, "T1", 12_800)).await.unwrap();
    assert!(!recorded);
    assert_eq!(again, id);
    assert_eq!(balance(&f, "merchant:taobao").await, 12_800);
    assert_eq!(f.store.order_entries(o.id).await.unwrap().len(), 2);
    // The same reference for another order is a conflict, not a silent no-op.
    let other = order_of(&f, 12_800, "b").await;
    let r = f.store.record(payment(other.id, "T1", 12_800)).await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
}

async fn concurrent_duplicate_notifications_record_once(backend: Backend) {
    let f = open(backend).await;
    let o = order_of(&f, 12_800, "a").await;
    let results = join_all((0..8).map(|_| f.store.record(payment(o.id, "T1", 12_800)))).await;
    let mut ids = Vec::new();
    let mut recorded = 0;
    for r in results {
        let (id, now) = r.unwrap();
        ids.push(id);
        recorded += usize::from(now);
    }
    assert_eq!(recorded, 1);
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert_eq!(balance(&f, "merchant:taobao").await, 12_800);
    assert_eq!(f.store.order_entries(o.id).await.unwrap().len(), 2);
}

async fn a_refund_larger_than_paid_is_refused(backend: Backend) {
    let f = open(backend).await;
    let o = order_of(&f, 10_000, "a").await;
    // Nothing paid yet: no refund at all.
    let r = f.store.record(refund(o.id, "R0", 1)).await;
    assert!(matches!(r, Err(Error::Ledger(_))), "{r:?}");
    f.store.record(payment(o.id, "T1", 10_000)).await.unwrap();
    // More than paid, even though the merchant's balance would cover it
    // thanks to another order.
    let other = order_of(&f, 5_000, "b").await;
    f.store
        .record(payment(other.id, "T2", 5_000))
        .await
        .unwrap();
    let r = f.store.record(refund(o.id, "R1", 10_001)).await;
    assert!(matches!(r, Err(Error::Ledger(_))), "{r:?}");
    f.store.record(refund(o.id, "R2", 6_000)).await.unwrap();
    // 6 000 + 4 001 would pass 10 000; 4 000 reaches it exactly.
    let r = f.store.record(refund(o.id, "R3", 4_001)).await;
    assert!(matches!(r, Err(Error::Ledger(_))), "{r:?}");
    f.store.record(refund(o.id, "R4", 4_000)).await.unwrap();
    assert_eq!(
        f.store.order_totals(o.id).await.unwrap(),
        OrderTotals {
            paid_minor: 10_000,
            refunded_minor: 10_000
        }
    );
    assert_eq!(balance(&f, "merchant:taobao").await, 5_000);
}

async fn a_stale_state_transition_is_refused(backend: Backend) {
    let f = open(backend).await;
    let o = order_of(&f, 100, "a").await;
    let pending = f
        .store
        .set_order_state(o.id, "created", "pending", Some("ALI-1"), T0 + 5)
        .await
        .unwrap();
    assert_eq!(pending.state, "pending");
    assert_eq!(pending.provider_ref.as_deref(), Some("ALI-1"));
    assert_eq!(pending.updated_at, T0 + 5);
    // Someone else read "created" before the move: their change is refused.
    let r = f
        .store
        .set_order_state(o.id, "created", "cancelled", None, T0 + 6)
        .await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
    let paid = f
        .store
        .set_order_state(o.id, "pending", "paid", None, T0 + 7)
        .await
        .unwrap();
    assert_eq!(paid.state, "paid");
    assert_eq!(paid.provider_ref.as_deref(), Some("ALI-1"));
    assert_eq!(f.store.order(o.id).await.unwrap(), Some(paid));
    let r = f
        .store
        .set_order_state(o.id + 1000, "created", "pending", None, T0)
        .await;
    assert!(matches!(r, Err(Error::NotFound(_))), "{r:?}");
    // Of two racing moves from the same state, exactly one wins.
    let o2 = order_of(&f, 100, "b").await;
    let results = join_all((0..6).map(|i| {
        let to = if i % 2 == 0 { "pending" } else { "cancelled" };
        f.store.set_order_state(o2.id, "created", to, None, T0)
    }))
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(Error::Conflict(_))))
    );
}

async fn a_replayed_nonce_is_refused(backend: Backend) {
    let f = open(backend).await;
    f.store
        .remember_nonce("wechat-pay", "n1", T0)
        .await
        .unwrap();
    let r = f.store.remember_nonce("wechat-pay", "n1", T0 + 1).await;
    assert!(matches!(r, Err(Error::Replay)), "{r:?}");
    // Nonces are per provider.
    f.store.remember_nonce("alipay", "n1", T0).await.unwrap();
    // Concurrent deliveries of one nonce: exactly one is accepted.
    let results = join_all((0..6).map(|_| f.store.remember_nonce("wechat-pay", "n2", T0))).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(Error::Replay)))
    );
    // Pruned nonces are forgotten.
    assert_eq!(f.store.prune_nonces(T0 + 1).await.unwrap(), 3);
    f.store
        .remember_nonce("wechat-pay", "n1", T0 + 2)
        .await
        .unwrap();
}

async fn a_wallets_transactions_over_a_span_oldest_first(backend: Backend) {
    const DAY: i64 = 24 * 60 * 60 * 1000;
    let f = open(backend).await;
    let o = order_of(&f, 10_000, "a").await;
    let o2 = order_of(&f, 2_000, "b").await;
    let buyer = f
        .store
        .create_user("wbuyer", "Buyer", "h", AdminGrant::No)
        .await
        .unwrap();
    let mut wechat = new_order(buyer.id, 3_000, T0);
    wechat.wallet = "wechat-pay".into();
    let (wechat, _) = f.store.create_order(wechat, key("w")).await.unwrap();
    let at = |mut t: NewTransaction, now: i64| {
        t.now = now;
        t
    };
    // Recorded out of time order, so that the order asked for is by time
    // and not by id; one just before the span, one exactly at its end.
    f.store
        .record(at(payment(o.id, "T0", 10_000), T0 - 1))
        .await
        .unwrap();
    let (late, _) = f
        .store
        .record(at(payment(o2.id, "T2", 2_000), T0 + DAY - 1))
        .await
        .unwrap();
    let (first, _) = f
        .store
        .record(at(refund(o.id, "R1", 4_000), T0))
        .await
        .unwrap();
    let fee = NewTransaction {
        order_id: o.id,
        kind: TransactionKind::Fee,
        provider_ref: "T0".into(),
        amount_minor: 60,
        entries: vec![leg("merchant:taobao", -60), leg("fees", 60)],
        now: T0 + 5,
    };
    let (fee, _) = f.store.record(fee).await.unwrap();
    f.store
        .record(at(refund(o2.id, "R2", 500), T0 + DAY))
        .await
        .unwrap();
    let mut theirs = payment(wechat.id, "W1", 3_000);
    theirs.entries[0].account = "provider:wechat-pay".into();
    f.store.record(at(theirs, T0 + 1)).await.unwrap();

    let day = f
        .store
        .ledger_transactions("alipay", T0, T0 + DAY)
        .await
        .unwrap();
    let line =
        |id, order_id, kind, provider_ref: &str, amount_minor, created_at| LedgerTransaction {
            id,
            order_id,
            kind,
            wallet: "alipay".into(),
            provider_ref: provider_ref.into(),
            amount_minor,
            currency: "CNY".into(),
            created_at,
        };
    assert_eq!(
        day,
        vec![
            line(first, o.id, TransactionKind::Refund, "R1", 4_000, T0),
            line(fee, o.id, TransactionKind::Fee, "T0", 60, T0 + 5),
            line(
                late,
                o2.id,
                TransactionKind::Payment,
                "T2",
                2_000,
                T0 + DAY - 1
            ),
        ]
    );
    // The next day starts where this one ended: no line in both.
    let next = f
        .store
        .ledger_transactions("alipay", T0 + DAY, T0 + 2 * DAY)
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].provider_ref, "R2");
    // The other wallet's line stays with it.
    let w = f
        .store
        .ledger_transactions("wechat-pay", T0 - DAY, T0 + 2 * DAY)
        .await
        .unwrap();
    assert_eq!(w.len(), 1);
    assert_eq!(
        (w[0].order_id, w[0].wallet.as_str()),
        (wechat.id, "wechat-pay")
    );
    // An empty or reversed span and an unknown wallet have nothing.
    for (wallet, from, to) in [
        ("alipay", T0, T0),
        ("alipay", T0 + DAY, T0),
        ("paypal", T0 - DAY, T0 + 2 * DAY),
    ] {
        let none = f.store.ledger_transactions(wallet, from, to).await.unwrap();
        assert!(none.is_empty(), "{wallet} {from} {to}: {none:?}");
    }
}

async fn the_last_paid_wallet_is_the_buyers_latest_paid_order(backend: Backend) {
    let f = open(backend).await;
    let first = order_of(&f, 100, "a").await;
    let buyer = first.buyer;
    assert_eq!(
        f.store.last_paid_wallet(buyer).await.unwrap(),
        None,
        "nothing paid yet"
    );
    f.store
        .set_order_state(first.id, "created", "paid", Some("T1"), T0)
        .await
        .unwrap();
    assert_eq!(
        f.store.last_paid_wallet(buyer).await.unwrap().as_deref(),
        Some("alipay")
    );
    // A later order with another wallet, not paid: the last choice is still the paid one.
    let mut other = new_order(buyer, 100, T0);
    other.wallet = "wechat-pay".into();
    let (second, _) = f.store.create_order(other, key("b")).await.unwrap();
    assert_eq!(
        f.store.last_paid_wallet(buyer).await.unwrap().as_deref(),
        Some("alipay")
    );
    // Paid, then refunded: it was still chosen and paid.
    f.store
        .set_order_state(second.id, "created", "refunded", None, T0)
        .await
        .unwrap();
    assert_eq!(
        f.store.last_paid_wallet(buyer).await.unwrap().as_deref(),
        Some("wechat-pay")
    );
    // Another buyer's orders say nothing about this one's.
    let stranger = order_of(&f, 100, "c").await;
    assert_eq!(
        f.store.last_paid_wallet(stranger.buyer).await.unwrap(),
        None
    );
}

/// The transparency report's counts: orders created in a half-open span,
/// per merchant × wallet × current state × currency, with their sums; one
/// order is counted once, in the state it is in now.
async fn orders_counted_by_merchant_wallet_state_and_currency(backend: Backend) {
    const HOUR: i64 = 60 * 60 * 1000;
    let f = open(backend).await;
    let buyer = f
        .store
        .create_user("counted", "Buyer", "h", AdminGrant::No)
        .await
        .unwrap();
    // (merchant, wallet, amount, currency, created at, state moved to)
    let plan = [
        ("taobao", "alipay", 12_800, "CNY", T0, Some("pending")),
        ("taobao", "alipay", 200, "CNY", T0 + 1, Some("pending")),
        ("taobao", "alipay", 999, "CNY", T0 + 2, None),
        (
            "taobao",
            "wechat-pay",
            5_000,
            "CNY",
            T0 + 3,
            Some("pending"),
        ),
        ("taobao", "wechat-pay", 700, "HKD", T0 + 4, None),
        ("jd", "wechat-pay", 300, "CNY", T0 + HOUR - 1, None),
        // Outside the span: just before it, and exactly at its end.
        ("taobao", "alipay", 1, "CNY", T0 - 1, None),
        ("taobao", "alipay", 1, "CNY", T0 + HOUR, None),
        // A zero price is a price: counted, summed as nothing.
        ("jd", "alipay", 0, "JPY", T0 + 5, None),
    ];
    let mut ids = Vec::new();
    for (i, (merchant, wallet, amount, currency, at, to)) in plan.into_iter().enumerate() {
        let mut o = new_order(buyer.id, amount, at);
        o.merchant = merchant.into();
        o.wallet = wallet.into();
        o.currency = currency.into();
        let (o, _) = f
            .store
            .create_order(o, key(&format!("c{i}")))
            .await
            .unwrap();
        if let Some(to) = to {
            f.store
                .set_order_state(o.id, "created", to, None, at)
                .await
                .unwrap();
        }
        ids.push(o.id);
    }
    // The first order moves on later (after the span): it counts in its
    // state now, once, and not in `pending` too.
    f.store
        .set_order_state(ids[0], "pending", "paid", Some("T1"), T0 + 2 * HOUR)
        .await
        .unwrap();

    let count =
        |merchant: &str, wallet: &str, state: &str, currency: &str, orders, amount| PaymentCount {
            merchant: merchant.into(),
            wallet: wallet.into(),
            state: state.into(),
            currency: currency.into(),
            orders,
            amount_minor: amount,
        };
    assert_eq!(
        f.store.payment_counts(T0, T0 + HOUR).await.unwrap(),
        vec![
            count("jd", "alipay", "created", "JPY", 1, 0),
            count("jd", "wechat-pay", "created", "CNY", 1, 300),
            count("taobao", "alipay", "created", "CNY", 1, 999),
            count("taobao", "alipay", "paid", "CNY", 1, 12_800),
            count("taobao", "alipay", "pending", "CNY", 1, 200),
            count("taobao", "wechat-pay", "created", "HKD", 1, 700),
            count("taobao", "wechat-pay", "pending", "CNY", 1, 5_000),
        ]
    );
    // Two currencies of one merchant and wallet stay apart, never summed.
    let wider = f.store.payment_counts(T0 - 1, T0 + HOUR + 1).await.unwrap();
    assert_eq!(
        wider.iter().find(
            |c| (c.merchant.as_str(), c.wallet.as_str(), c.state.as_str())
                == ("taobao", "alipay", "created")
        ),
        Some(&count("taobao", "alipay", "created", "CNY", 3, 1_001))
    );
    assert_eq!(wider.iter().map(|c| c.orders).sum::<i64>(), 9);
    // An empty, a reversed, and an unvisited span count nothing.
    for (from, to) in [(T0, T0), (T0 + HOUR, T0), (T0 + 3 * HOUR, T0 + 4 * HOUR)] {
        let none = f.store.payment_counts(from, to).await.unwrap();
        assert!(none.is_empty(), "{from} {to}: {none:?}");
    }
    // A sum past i64 is refused, not wrapped into a wrong figure.
    for i in 0..2 {
        let o = new_order(buyer.id, i64::MAX, T0 + 5 * HOUR);
        f.store
            .create_order(o, key(&format!("max{i}")))
            .await
            .unwrap();
    }
    let overflow = f.store.payment_counts(T0 + 5 * HOUR, T0 + 6 * HOUR).await;
    assert!(overflow.is_err(), "{overflow:?}");
}

on_every_backend!(
    the_last_paid_wallet_is_the_buyers_latest_paid_order,
    orders_counted_by_merchant_wallet_state_and_currency,
    a_wallets_transactions_over_a_span_oldest_first,
    same_key_same_parameters_returns_the_first_order,
    same_key_other_parameters_is_refused,
    a_key_past_its_window_is_new_again_and_pruned,
    the_ledger_balances_and_refuses_an_unbalanced_transaction,
    no_asset_limited_account_goes_negative,
    a_duplicate_notification_records_once,
    concurrent_duplicate_notifications_record_once,
    a_refund_larger_than_paid_is_refused,
    a_stale_state_transition_is_refused,
    a_replayed_nonce_is_refused,
);
