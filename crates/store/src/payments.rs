//! Orders, the double-entry ledger, idempotency keys and notification
//! nonces (issue 10, item 5). The store keeps order states as strings that
//! the service validates with `kaifang-pay`'s state machine; here the only
//! rule about states is compare-and-set. Amounts are `i64` minor units with
//! an ISO 4217 code, as in `kaifang-pay`'s `Money`, and no float is used.
//!
//! The ledger's rules hold inside the store's write transaction, so no
//! caller can break them: every transaction's entries sum to zero per
//! currency, no asset-limited account goes below zero, refunds never pass
//! what was paid, and a provider reference is recorded once.
use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::{Error, Timestamp, UserId};

/// How long an idempotency key answers with its first result by default:
/// 24 hours, as Stripe keeps them. After it, the key may be used again.
pub const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// An order to create, priced by the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// Who buys.
    pub buyer: UserId,
    /// The conversation of the product card, if the order came from one.
    pub conversation_id: Option<i64>,
    /// The message of the product card.
    pub message_id: Option<i64>,
    /// The link's index in that message.
    pub link_index: Option<i64>,
    /// The merchant (a commerce platform id of `data/wallets.toml`).
    pub merchant: String,
    /// The wallet chosen (a wallet id of `data/wallets.toml`).
    pub wallet: String,
    /// The price in minor units; never negative.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// The state the order starts in (`created`).
    pub state: String,
    /// Now, in ms since the epoch.
    pub now: Timestamp,
}

impl NewOrder {
    /// SHA-256 (hex) of the parameters that define the request: everything
    /// but `now`. Each field is written after its length, so no two
    /// different requests share an encoding.
    pub fn fingerprint(&self) -> String {
        let opt = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let fields = [
            self.buyer.to_string(),
            opt(self.conversation_id),
            opt(self.message_id),
            opt(self.link_index),
            self.merchant.clone(),
            self.wallet.clone(),
            self.amount_minor.to_string(),
            self.currency.clone(),
            self.state.clone(),
        ];
        let mut h = Sha256::new();
        for f in &fields {
            h.update((f.len() as u64).to_be_bytes());
            h.update(f.as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// An idempotency key as the caller sent it (Stripe's rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The `Idempotency-Key` header's value.
    pub key: String,
    /// Who sent it: keys of different callers never meet.
    pub caller: String,
    /// How long the key answers with its first result, in ms
    /// ([`IDEMPOTENCY_WINDOW_MS`] by default); an older key is reused.
    pub window_ms: i64,
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Its id.
    pub id: i64,
    /// See [`NewOrder`].
    pub buyer: UserId,
    /// See [`NewOrder`].
    pub conversation_id: Option<i64>,
    /// See [`NewOrder`].
    pub message_id: Option<i64>,
    /// See [`NewOrder`].
    pub link_index: Option<i64>,
    /// See [`NewOrder`].
    pub merchant: String,
    /// See [`NewOrder`].
    pub wallet: String,
    /// See [`NewOrder`].
    pub amount_minor: i64,
    /// See [`NewOrder`].
    pub currency: String,
    /// The current state (a `kaifang-pay` state name).
    pub state: String,
    /// The provider's trade reference, once known.
    pub provider_ref: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// What a ledger transaction records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionKind {
    /// The buyer's payment, confirmed by the provider.
    Payment,
    /// Money returned to the buyer; never more than was paid in total.
    Refund,
    /// A provider's fee.
    Fee,
}

impl TransactionKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Refund => "refund",
            Self::Fee => "fee",
        }
    }

    /// The kind stored under `name`.
    pub fn parse(name: &str) -> Result<Self, Error> {
        match name {
            "payment" => Ok(Self::Payment),
            "refund" => Ok(Self::Refund),
            "fee" => Ok(Self::Fee),
            other => Err(Error::Corrupt(format!("unknown ledger kind {other:?}"))),
        }
    }
}

/// One leg of a transaction: a positive amount adds to the account's
/// balance, a negative one takes from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryLeg {
    /// `buyer:<id>`, `merchant:<id>`, `provider:<wallet>`, `fees`, …
    pub account: String,
    /// Signed minor units.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// A ledger transaction to record for an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransaction {
    /// The order it belongs to.
    pub order_id: i64,
    /// Payment, refund or fee.
    pub kind: TransactionKind,
    /// The provider's reference of this movement (trade number, refund
    /// number): the same reference of the same kind and wallet records once.
    pub provider_ref: String,
    /// The amount moved, in the order's currency (what the refund check
    /// adds up); positive.
    pub amount_minor: i64,
    /// The legs; per currency they must sum to zero.
    pub entries: Vec<EntryLeg>,
    /// Now, in ms since the epoch.
    pub now: Timestamp,
}

/// A recorded entry, as an order's history lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The transaction it belongs to.
    pub transaction_id: i64,
    /// The transaction's kind.
    pub kind: TransactionKind,
    /// The transaction's provider reference.
    pub provider_ref: String,
    /// See [`EntryLeg`].
    pub account: String,
    /// See [`EntryLeg`].
    pub amount_minor: i64,
    /// See [`EntryLeg`].
    pub currency: String,
    /// When it was recorded.
    pub created_at: Timestamp,
}

/// A recorded transaction, as a reconciliation reads it: one line per
/// money movement, without its legs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerTransaction {
    /// Its id.
    pub id: i64,
    /// The order it belongs to.
    pub order_id: i64,
    /// Payment, refund or fee.
    pub kind: TransactionKind,
    /// The wallet of its order.
    pub wallet: String,
    /// The provider's reference of this movement.
    pub provider_ref: String,
    /// The amount moved; positive.
    pub amount_minor: i64,
    /// The order's ISO 4217 code.
    pub currency: String,
    /// When it was recorded.
    pub created_at: Timestamp,
}

/// Orders of one merchant × wallet × state × currency, as the
/// transparency report counts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentCount {
    /// The merchant (a commerce platform id).
    pub merchant: String,
    /// The wallet chosen.
    pub wallet: String,
    /// The orders' current state (a `kaifang-pay` state name).
    pub state: String,
    /// ISO 4217 code.
    pub currency: String,
    /// How many orders.
    pub orders: i64,
    /// The sum of their prices, in minor units.
    pub amount_minor: i64,
}

/// One account's balance in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// ISO 4217 code.
    pub currency: String,
    /// Signed minor units.
    pub balance_minor: i64,
}

/// What an order has been paid and refunded, from the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderTotals {
    /// The sum of its payments.
    pub paid_minor: i64,
    /// The sum of its refunds.
    pub refunded_minor: i64,
}

/// Whether the store keeps `account` from going below zero. Only a
/// provider's account stands for the world outside (money arrives from it
/// and returns to it), so only it may be negative; every account that holds
/// money for someone, and the fee account, is asset-limited.
pub fn asset_limited(account: &str) -> bool {
    !account.starts_with("provider:")
}

/// Checks a transaction's shape before it touches the database: a positive
/// amount, two or more non-zero legs, and per currency a zero sum.
pub(crate) fn check_balanced(t: &NewTransaction) -> Result<(), Error> {
    if t.amount_minor <= 0 {
        return Err(Error::Ledger("the amount must be positive"));
    }
    if t.entries.len() < 2 || t.entries.iter().any(|e| e.amount_minor == 0) {
        return Err(Error::Ledger(
            "a transaction needs two or more non-zero entries",
        ));
    }
    // i128: the sum of i64 legs cannot overflow it.
    let mut sums = std::collections::BTreeMap::<&str, i128>::new();
    for e in &t.entries {
        *sums.entry(e.currency.as_str()).or_default() += i128::from(e.amount_minor);
    }
    if sums.values().any(|s| *s != 0) {
        return Err(Error::Ledger("the entries do not sum to zero"));
    }
    Ok(())
}

/// Orders, ledger, idempotency keys and nonces.
#[async_trait]
pub trait Payments: Send + Sync + 'static {
    /// Creates `order` under `key`. Within the key's window, the same key
    /// with the same parameters returns the order it created first (and
    /// `true`: a replay); with other parameters it is refused with
    /// [`Error::IdempotencyMismatch`]. A key older than its window counts
    /// as new.
    async fn create_order(
        &self,
        order: NewOrder,
        key: IdempotencyKey,
    ) -> Result<(Order, bool), Error>;
    /// The order `id`, if any.
    async fn order(&self, id: i64) -> Result<Option<Order>, Error>;
    /// The wallet of the buyer's latest order that was paid (refunded since or not): the
    /// picker's "last choice". `None` when they never paid.
    async fn last_paid_wallet(&self, buyer: UserId) -> Result<Option<String>, Error>;
    /// Moves the order from `from` to `to` (and sets its provider
    /// reference when given). [`Error::Conflict`] when its state is no
    /// longer `from`: someone else moved it first.
    async fn set_order_state(
        &self,
        id: i64,
        from: &str,
        to: &str,
        provider_ref: Option<&str>,
        now: Timestamp,
    ) -> Result<Order, Error>;
    /// Records a transaction. Returns its id and whether it was recorded
    /// now (`false`: this provider reference was recorded before, and
    /// nothing changed). Refused with [`Error::Ledger`] when unbalanced,
    /// when an asset-limited account would go below zero, or when refunds
    /// would pass what was paid; nothing of it is kept then.
    async fn record(&self, transaction: NewTransaction) -> Result<(i64, bool), Error>;
    /// `account`'s balances, one per currency.
    async fn balances(&self, account: &str) -> Result<Vec<Balance>, Error>;
    /// Every entry of the order's transactions, oldest first.
    async fn order_entries(&self, order_id: i64) -> Result<Vec<LedgerEntry>, Error>;
    /// Every transaction of `wallet` recorded at `from` or later and before
    /// `to` (a half-open range, so consecutive days never share a line),
    /// oldest first (ties by id): what a reconciliation compares with the
    /// provider's statement of those days.
    async fn ledger_transactions(
        &self,
        wallet: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<LedgerTransaction>, Error>;
    /// Orders created at `from` or later and before `to` (half-open, as
    /// [`Payments::ledger_transactions`]), counted and summed per merchant ×
    /// wallet × current state × currency, sorted by those four. Each order
    /// counts once, in the state it is in now. A sum past `i64` is an error
    /// of the backend, never a wrapped figure.
    async fn payment_counts(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<PaymentCount>, Error>;
    /// What the order has been paid and refunded.
    async fn order_totals(&self, order_id: i64) -> Result<OrderTotals, Error>;
    /// Remembers a notification's nonce; [`Error::Replay`] when this
    /// provider sent it before.
    async fn remember_nonce(
        &self,
        provider: &str,
        nonce: &str,
        now: Timestamp,
    ) -> Result<(), Error>;
    /// Forgets nonces seen before `before` (outside the timestamp window,
    /// where the signature check refuses a replay anyway). Returns how many.
    async fn prune_nonces(&self, before: Timestamp) -> Result<u64, Error>;
    /// Deletes idempotency keys created before `before`. Returns how many.
    async fn prune_idempotency_keys(&self, before: Timestamp) -> Result<u64, Error>;
}
