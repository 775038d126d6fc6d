//! [`Payments`] for the SQLite backend. Every write runs on the single
//! writer inside its own savepoint, so the ledger's checks and the rows
//! they guard commit together or not at all, and concurrent duplicates are
//! seen one after the other.
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use crate::payments::check_balanced;
use crate::{
    Balance, Error, IdempotencyKey, LedgerEntry, LedgerTransaction, NewOrder, NewTransaction,
    Order, OrderTotals, PaymentCount, Payments, Timestamp, TransactionKind, asset_limited,
};

const ORDER_COLUMNS: &str = "id, buyer_id, conversation_id, message_id, link_index, merchant, \
     wallet, amount_minor, currency, state, provider_ref, created_at, updated_at";

fn order_from(r: &Row<'_>) -> rusqlite::Result<Order> {
    Ok(Order {
        id: r.get(0)?,
        buyer: r.get(1)?,
        conversation_id: r.get(2)?,
        message_id: r.get(3)?,
        link_index: r.get(4)?,
        merchant: r.get(5)?,
        wallet: r.get(6)?,
        amount_minor: r.get(7)?,
        currency: r.get(8)?,
        state: r.get(9)?,
        provider_ref: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

fn order(conn: &Connection, id: i64) -> Result<Option<Order>, Error> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], order_from)
        .optional()?)
}

fn totals(conn: &Connection, order_id: i64) -> Result<OrderTotals, Error> {
    let (paid, refunded) = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(CASE WHEN kind = 'payment' THEN amount_minor END), 0), \
                    COALESCE(SUM(CASE WHEN kind = 'refund' THEN amount_minor END), 0) \
             FROM ledger_transactions WHERE order_id = ?1",
        )?
        .query_row([order_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(OrderTotals {
        paid_minor: paid,
        refunded_minor: refunded,
    })
}

fn create(conn: &Connection, o: &NewOrder, k: &IdempotencyKey) -> Result<(Order, bool), Error> {
    let fingerprint = o.fingerprint();
    let found: Option<(String, i64, i64)> = conn
        .prepare_cached(
            "SELECT fingerprint, order_id, created_at FROM idempotency_keys \
             WHERE caller = ?1 AND key = ?2",
        )?
        .query_row(params![k.caller, k.key], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    if let Some((stored, order_id, created_at)) = found {
        if created_at > o.now - k.window_ms {
            if stored != fingerprint {
                return Err(Error::IdempotencyMismatch);
            }
            let first =
                order(conn, order_id)?.ok_or_else(|| Error::Corrupt("keyed order".into()))?;
            return Ok((first, true));
        }
        // Past its window: the key is free again.
        conn.prepare_cached("DELETE FROM idempotency_keys WHERE caller = ?1 AND key = ?2")?
            .execute(params![k.caller, k.key])?;
    }
    conn.prepare_cached(
        "INSERT INTO orders (buyer_id, conversation_id, message_id, link_index, merchant, wallet, \
         amount_minor, currency, state, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
    )?
    .execute(params![
        o.buyer,
        o.conversation_id,
        o.message_id,
        o.link_index,
        o.merchant,
        o.wallet,
        o.amount_minor,
        o.currency,
        o.state,
        o.now
    ])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached(
        "INSERT INTO idempotency_keys (caller, key, fingerprint, order_id, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![k.caller, k.key, fingerprint, id, o.now])?;
    let created = order(conn, id)?.ok_or_else(|| Error::Corrupt("new order".into()))?;
    Ok((created, false))
}

fn record(conn: &Connection, t: &NewTransaction) -> Result<(i64, bool), Error> {
    check_balanced(t)?;
    let o = order(conn, t.order_id)?.ok_or(Error::NotFound("order"))?;
    let kind = t.kind.as_str();
    let existing: Option<(i64, i64)> = conn
        .prepare_cached(
            "SELECT id, order_id FROM ledger_transactions \
             WHERE wallet = ?1 AND kind = ?2 AND provider_ref = ?3",
        )?
        .query_row(params![o.wallet, kind, t.provider_ref], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if let Some((id, order_id)) = existing {
        if order_id != t.order_id {
            return Err(Error::Conflict(
                "this provider reference is recorded for another order",
            ));
        }
        return Ok((id, false));
    }
    if t.kind == TransactionKind::Refund {
        let sum = totals(conn, t.order_id)?;
        if sum.refunded_minor.saturating_add(t.amount_minor) > sum.paid_minor {
            return Err(Error::Ledger("the refunds would pass what was paid"));
        }
    }
    conn.prepare_cached(
        "INSERT INTO ledger_transactions \
         (order_id, kind, wallet, provider_ref, amount_minor, currency, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        t.order_id,
        kind,
        o.wallet,
        t.provider_ref,
        t.amount_minor,
        o.currency,
        t.now
    ])?;
    let id = conn.last_insert_rowid();
    for e in &t.entries {
        conn.prepare_cached(
            "INSERT INTO ledger_entries (transaction_id, account, amount_minor, currency) \
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![id, e.account, e.amount_minor, e.currency])?;
        let balance: i64 = conn
            .prepare_cached(
                "INSERT INTO ledger_balances (account, currency, balance_minor) \
                 VALUES (?1, ?2, ?3) \
                 ON CONFLICT (account, currency) \
                 DO UPDATE SET balance_minor = balance_minor + excluded.balance_minor \
                 RETURNING balance_minor",
            )?
            .query_row(params![e.account, e.currency, e.amount_minor], |r| r.get(0))?;
        // The savepoint rolls every row of this call back on this error.
        if balance < 0 && asset_limited(&e.account) {
            return Err(Error::Ledger("an account would go below zero"));
        }
    }
    Ok((id, true))
}

#[async_trait]
impl Payments for SqliteStore {
    async fn create_order(
        &self,
        new: NewOrder,
        key: IdempotencyKey,
    ) -> Result<(Order, bool), Error> {
        self.writer
            .run(move |conn, _| create(conn, &new, &key))
            .await
    }

    async fn order(&self, id: i64) -> Result<Option<Order>, Error> {
        self.read(move |c| order(c, id)).await
    }

    async fn last_paid_wallet(&self, buyer: crate::UserId) -> Result<Option<String>, Error> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT wallet FROM orders WHERE buyer_id = ?1 \
                 AND state IN ('paid', 'partially_refunded', 'refunded') \
                 ORDER BY id DESC LIMIT 1",
            )?
            .query_row([buyer], |r| r.get(0))
            .optional()?)
        })
        .await
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
        self.writer
            .run(move |conn, _| {
                let n = conn
                    .prepare_cached(
                        "UPDATE orders SET state = ?3, updated_at = ?5, \
                         provider_ref = COALESCE(?4, provider_ref) \
                         WHERE id = ?1 AND state = ?2",
                    )?
                    .execute(params![id, from, to, provider_ref, now])?;
                let current = order(conn, id)?.ok_or(Error::NotFound("order"))?;
                if n == 0 {
                    return Err(Error::Conflict("the order's state changed meanwhile"));
                }
                Ok(current)
            })
            .await
    }

    async fn record(&self, transaction: NewTransaction) -> Result<(i64, bool), Error> {
        self.writer
            .run(move |conn, _| record(conn, &transaction))
            .await
    }

    async fn balances(&self, account: &str) -> Result<Vec<Balance>, Error> {
        let account = account.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT currency, balance_minor FROM ledger_balances \
                 WHERE account = ?1 ORDER BY currency",
            )?;
            let rows = stmt.query_map([account], |r| {
                Ok(Balance {
                    currency: r.get(0)?,
                    balance_minor: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn order_entries(&self, order_id: i64) -> Result<Vec<LedgerEntry>, Error> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT t.id, t.kind, t.provider_ref, e.account, e.amount_minor, e.currency, \
                        t.created_at \
                 FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id \
                 WHERE t.order_id = ?1 ORDER BY t.id, e.id",
            )?;
            let rows = stmt.query_map([order_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (transaction_id, kind, provider_ref, account, amount_minor, currency, at) =
                    row?;
                out.push(LedgerEntry {
                    transaction_id,
                    kind: TransactionKind::parse(&kind)?,
                    provider_ref,
                    account,
                    amount_minor,
                    currency,
                    created_at: at,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn ledger_transactions(
        &self,
        wallet: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<LedgerTransaction>, Error> {
        let wallet = wallet.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, order_id, kind, wallet, provider_ref, amount_minor, currency, \
                        created_at \
                 FROM ledger_transactions \
                 WHERE wallet = ?1 AND created_at >= ?2 AND created_at < ?3 \
                 ORDER BY created_at, id",
            )?;
            let rows = stmt.query_map(params![wallet, from, to], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, i64>(7)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, order_id, kind, wallet, provider_ref, amount_minor, currency, at) = row?;
                out.push(LedgerTransaction {
                    id,
                    order_id,
                    kind: TransactionKind::parse(&kind)?,
                    wallet,
                    provider_ref,
                    amount_minor,
                    currency,
                    created_at: at,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn payment_counts(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<PaymentCount>, Error> {
        self.read(move |c| {
            // SQLite's SUM of integers fails with "integer overflow" rather
            // than wrap, so a figure is exact or absent.
            let mut stmt = c.prepare_cached(
                "SELECT merchant, wallet, state, currency, COUNT(*), SUM(amount_minor) \
                 FROM orders WHERE created_at >= ?1 AND created_at < ?2 \
                 GROUP BY merchant, wallet, state, currency \
                 ORDER BY merchant, wallet, state, currency",
            )?;
            let rows = stmt.query_map(params![from, to], |r| {
                Ok(PaymentCount {
                    merchant: r.get(0)?,
                    wallet: r.get(1)?,
                    state: r.get(2)?,
                    currency: r.get(3)?,
                    orders: r.get(4)?,
                    amount_minor: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn order_totals(&self, order_id: i64) -> Result<OrderTotals, Error> {
        self.read(move |c| totals(c, order_id)).await
    }

    async fn remember_nonce(
        &self,
        provider: &str,
        nonce: &str,
        now: Timestamp,
    ) -> Result<(), Error> {
        let (provider, nonce) = (provider.to_owned(), nonce.to_owned());
        self.writer
            .run(move |conn, _| {
                let n = conn
                    .prepare_cached(
                        "INSERT INTO payment_nonces (provider, nonce, seen_at) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (provider, nonce) DO NOTHING",
                    )?
                    .execute(params![provider, nonce, now])?;
                if n == 0 {
                    return Err(Error::Replay);
                }
                Ok(())
            })
            .await
    }

    async fn prune_nonces(&self, before: Timestamp) -> Result<u64, Error> {
        self.writer
            .run(move |conn, _| {
                let n = conn
                    .prepare_cached("DELETE FROM payment_nonces WHERE seen_at < ?1")?
                    .execute([before])?;
                Ok(n as u64)
            })
            .await
    }

    async fn prune_idempotency_keys(&self, before: Timestamp) -> Result<u64, Error> {
        self.writer
            .run(move |conn, _| {
                let n = conn
                    .prepare_cached("DELETE FROM idempotency_keys WHERE created_at < ?1")?
                    .execute([before])?;
                Ok(n as u64)
            })
            .await
    }
}
