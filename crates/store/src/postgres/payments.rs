//! [`Payments`] for PostgreSQL. Every write runs in the write transaction
//! under the write lock, so the ledger's checks and the rows they guard
//! commit together or not at all, and concurrent duplicates (two deliveries
//! of one notification) are seen one after the other.
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::PgStore;
use super::read::{corrupt, execute, query, query_one, query_opt};
use crate::payments::check_balanced;
use crate::{
    Balance, Error, IdempotencyKey, LedgerEntry, LedgerTransaction, NewOrder, NewTransaction,
    Order, OrderTotals, PaymentCount, Payments, Timestamp, TransactionKind, asset_limited,
};

const ORDER_COLUMNS: &str = "id, buyer_id, conversation_id, message_id, link_index, merchant, \
     wallet, amount_minor, currency, state, provider_ref, created_at, updated_at";

fn order_from(r: &Row) -> Result<Order, Error> {
    Ok(Order {
        id: r.try_get(0)?,
        buyer: r.try_get(1)?,
        conversation_id: r.try_get(2)?,
        message_id: r.try_get(3)?,
        link_index: r.try_get(4)?,
        merchant: r.try_get(5)?,
        wallet: r.try_get(6)?,
        amount_minor: r.try_get(7)?,
        currency: r.try_get(8)?,
        state: r.try_get(9)?,
        provider_ref: r.try_get(10)?,
        created_at: r.try_get(11)?,
        updated_at: r.try_get(12)?,
    })
}

async fn order<C: GenericClient>(c: &C, id: i64) -> Result<Option<Order>, Error> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1");
    let row = query_opt(c, &sql, &[&id]).await?;
    row.as_ref().map(order_from).transpose()
}

async fn totals<C: GenericClient>(c: &C, order_id: i64) -> Result<OrderTotals, Error> {
    // SUM of BIGINT is NUMERIC in PostgreSQL: cast back.
    let r = query_one(
        c,
        "SELECT COALESCE(SUM(CASE WHEN kind = 'payment' THEN amount_minor END), 0)::BIGINT, \
                COALESCE(SUM(CASE WHEN kind = 'refund' THEN amount_minor END), 0)::BIGINT \
         FROM ledger_transactions WHERE order_id = $1",
        &[&order_id],
    )
    .await?;
    Ok(OrderTotals {
        paid_minor: r.try_get(0)?,
        refunded_minor: r.try_get(1)?,
    })
}

async fn create<C: GenericClient>(
    c: &C,
    o: &NewOrder,
    k: &IdempotencyKey,
) -> Result<(Order, bool), Error> {
    let fingerprint = o.fingerprint();
    let found = query_opt(
        c,
        "SELECT fingerprint, order_id, created_at FROM idempotency_keys \
         WHERE caller = $1 AND key = $2",
        &[&k.caller, &k.key],
    )
    .await?;
    if let Some(row) = found {
        let (stored, order_id, created_at): (String, i64, i64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        if created_at > o.now - k.window_ms {
            if stored != fingerprint {
                return Err(Error::IdempotencyMismatch);
            }
            let first = order(c, order_id)
                .await?
                .ok_or_else(|| corrupt("keyed order"))?;
            return Ok((first, true));
        }
        // Past its window: the key is free again.
        execute(
            c,
            "DELETE FROM idempotency_keys WHERE caller = $1 AND key = $2",
            &[&k.caller, &k.key],
        )
        .await?;
    }
    let id: i64 = query_one(
        c,
        "INSERT INTO orders (buyer_id, conversation_id, message_id, link_index, merchant, wallet, \
         amount_minor, currency, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
        &[
            &o.buyer,
            &o.conversation_id,
            &o.message_id,
            &o.link_index,
            &o.merchant,
            &o.wallet,
            &o.amount_minor,
            &o.currency,
            &o.state,
            &o.now,
        ],
    )
    .await?
    .try_get(0)?;
    execute(
        c,
        "INSERT INTO idempotency_keys (caller, key, fingerprint, order_id, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
        &[&k.caller, &k.key, &fingerprint, &id, &o.now],
    )
    .await?;
    let created = order(c, id).await?.ok_or_else(|| corrupt("new order"))?;
    Ok((created, false))
}

async fn record<C: GenericClient>(c: &C, t: &NewTransaction) -> Result<(i64, bool), Error> {
    check_balanced(t)?;
    let o = order(c, t.order_id)
        .await?
        .ok_or(Error::NotFound("order"))?;
    let kind = t.kind.as_str();
    let existing = query_opt(
        c,
        "SELECT id, order_id FROM ledger_transactions \
         WHERE wallet = $1 AND kind = $2 AND provider_ref = $3",
        &[&o.wallet, &kind, &t.provider_ref],
    )
    .await?;
    if let Some(row) = existing {
        let (id, order_id): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        if order_id != t.order_id {
            return Err(Error::Conflict(
                "this provider reference is recorded for another order",
            ));
        }
        return Ok((id, false));
    }
    if t.kind == TransactionKind::Refund {
        let sum = totals(c, t.order_id).await?;
        if sum.refunded_minor.saturating_add(t.amount_minor) > sum.paid_minor {
            return Err(Error::Ledger("the refunds would pass what was paid"));
        }
    }
    let id: i64 = query_one(
        c,
        "INSERT INTO ledger_transactions \
         (order_id, kind, wallet, provider_ref, amount_minor, currency, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[
            &t.order_id,
            &kind,
            &o.wallet,
            &t.provider_ref,
            &t.amount_minor,
            &o.currency,
            &t.now,
        ],
    )
    .await?
    .try_get(0)?;
    for e in &t.entries {
        execute(
            c,
            "INSERT INTO ledger_entries (transaction_id, account, amount_minor, currency) \
             VALUES ($1, $2, $3, $4)",
            &[&id, &e.account, &e.amount_minor, &e.currency],
        )
        .await?;
        let balance: i64 = query_one(
            c,
            "INSERT INTO ledger_balances (account, currency, balance_minor) VALUES ($1, $2, $3) \
             ON CONFLICT (account, currency) \
             DO UPDATE SET balance_minor = ledger_balances.balance_minor + EXCLUDED.balance_minor \
             RETURNING balance_minor",
            &[&e.account, &e.currency, &e.amount_minor],
        )
        .await?
        .try_get(0)?;
        // The write rolls every row of this call back on this error.
        if balance < 0 && asset_limited(&e.account) {
            return Err(Error::Ledger("an account would go below zero"));
        }
    }
    Ok((id, true))
}

#[async_trait]
impl Payments for PgStore {
    async fn create_order(
        &self,
        new: NewOrder,
        key: IdempotencyKey,
    ) -> Result<(Order, bool), Error> {
        self.write(move |tx, _| Box::pin(async move { create(tx, &new, &key).await }))
            .await
    }

    async fn order(&self, id: i64) -> Result<Option<Order>, Error> {
        order(&self.client().await?, id).await
    }

    async fn last_paid_wallet(&self, buyer: crate::UserId) -> Result<Option<String>, Error> {
        let rows = query(
            &self.client().await?,
            "SELECT wallet FROM orders WHERE buyer_id = $1 \
             AND state IN ('paid', 'partially_refunded', 'refunded') \
             ORDER BY id DESC LIMIT 1",
            &[&buyer],
        )
        .await?;
        rows.first()
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(Error::from)
    }

    async fn set_order_state(
        &self,
        id: i64,
        from: &str,
        to: &str,
        provider_ref: Option<&str>,
        now: Timestamp,
    ) -> Result<Order, Error> {
        let (from, to, provider_ref) = (
            from.to_owned(),
            to.to_owned(),
            provider_ref.map(str::to_owned),
        );
        self.write(move |tx, _| {
            Box::pin(async move {
                let n = execute(
                    tx,
                    "UPDATE orders SET state = $3, updated_at = $5, \
                     provider_ref = COALESCE($4, provider_ref) \
                     WHERE id = $1 AND state = $2",
                    &[&id, &from, &to, &provider_ref, &now],
                )
                .await?;
                let current = order(tx, id).await?.ok_or(Error::NotFound("order"))?;
                if n == 0 {
                    return Err(Error::Conflict("the order's state changed meanwhile"));
                }
                Ok(current)
            })
        })
        .await
    }

    async fn record(&self, transaction: NewTransaction) -> Result<(i64, bool), Error> {
        self.write(move |tx, _| Box::pin(async move { record(tx, &transaction).await }))
            .await
    }

    async fn balances(&self, account: &str) -> Result<Vec<Balance>, Error> {
        let rows = query(
            &self.client().await?,
            "SELECT currency, balance_minor FROM ledger_balances \
             WHERE account = $1 ORDER BY currency",
            &[&account],
        )
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Balance {
                    currency: r.try_get(0)?,
                    balance_minor: r.try_get(1)?,
                })
            })
            .collect()
    }

    async fn order_entries(&self, order_id: i64) -> Result<Vec<LedgerEntry>, Error> {
        let rows = query(
            &self.client().await?,
            "SELECT t.id, t.kind, t.provider_ref, e.account, e.amount_minor, e.currency, \
                    t.created_at \
             FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id \
             WHERE t.order_id = $1 ORDER BY t.id, e.id",
            &[&order_id],
        )
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(1)?;
                Ok(LedgerEntry {
                    transaction_id: r.try_get(0)?,
                    kind: TransactionKind::parse(&kind)?,
                    provider_ref: r.try_get(2)?,
                    account: r.try_get(3)?,
                    amount_minor: r.try_get(4)?,
                    currency: r.try_get(5)?,
                    created_at: r.try_get(6)?,
                })
            })
            .collect()
    }

    async fn ledger_transactions(
        &self,
        wallet: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<LedgerTransaction>, Error> {
        let rows = query(
            &self.client().await?,
            "SELECT id, order_id, kind, wallet, provider_ref, amount_minor, currency, created_at \
             FROM ledger_transactions \
             WHERE wallet = $1 AND created_at >= $2 AND created_at < $3 \
             ORDER BY created_at, id",
            &[&wallet, &from, &to],
        )
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(2)?;
                Ok(LedgerTransaction {
                    id: r.try_get(0)?,
                    order_id: r.try_get(1)?,
                    kind: TransactionKind::parse(&kind)?,
                    wallet: r.try_get(3)?,
                    provider_ref: r.try_get(4)?,
                    amount_minor: r.try_get(5)?,
                    currency: r.try_get(6)?,
                    created_at: r.try_get(7)?,
                })
            })
            .collect()
    }

    async fn payment_counts(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<PaymentCount>, Error> {
        // SUM of BIGINT is NUMERIC: the cast back fails ("bigint out of
        // range") rather than wrap. COLLATE "C" sorts by bytes, as SQLite
        // does, whatever the database's locale.
        let rows = query(
            &self.client().await?,
            "SELECT merchant, wallet, state, currency, COUNT(*), SUM(amount_minor)::BIGINT \
             FROM orders WHERE created_at >= $1 AND created_at < $2 \
             GROUP BY merchant, wallet, state, currency \
             ORDER BY merchant COLLATE \"C\", wallet COLLATE \"C\", state COLLATE \"C\", \
                      currency COLLATE \"C\"",
            &[&from, &to],
        )
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PaymentCount {
                    merchant: r.try_get(0)?,
                    wallet: r.try_get(1)?,
                    state: r.try_get(2)?,
                    currency: r.try_get(3)?,
                    orders: r.try_get(4)?,
                    amount_minor: r.try_get(5)?,
                })
            })
            .collect()
    }

    async fn order_totals(&self, order_id: i64) -> Result<OrderTotals, Error> {
        totals(&self.client().await?, order_id).await
    }

    async fn remember_nonce(
        &self,
        provider: &str,
        nonce: &str,
        now: Timestamp,
    ) -> Result<(), Error> {
        let (provider, nonce) = (provider.to_owned(), nonce.to_owned());
        self.write(move |tx, _| {
            Box::pin(async move {
                let n = execute(
                    tx,
                    "INSERT INTO payment_nonces (provider, nonce, seen_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (provider, nonce) DO NOTHING",
                    &[&provider, &nonce, &now],
                )
                .await?;
                if n == 0 {
                    return Err(Error::Replay);
                }
                Ok(())
            })
        })
        .await
    }

    async fn prune_nonces(&self, before: Timestamp) -> Result<u64, Error> {
        execute(
            &self.client().await?,
            "DELETE FROM payment_nonces WHERE seen_at < $1",
            &[&before],
        )
        .await
    }

    async fn prune_idempotency_keys(&self, before: Timestamp) -> Result<u64, Error> {
        // Under the write lock: a key being created right now is not
        // deleted between its check and its insert.
        self.write(move |tx, _| {
            Box::pin(async move {
                execute(
                    tx,
                    "DELETE FROM idempotency_keys WHERE created_at < $1",
                    &[&before],
                )
                .await
            })
        })
        .await
    }
}
