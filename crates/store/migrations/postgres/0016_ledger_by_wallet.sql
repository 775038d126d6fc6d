-- A wallet's transactions over a span of days, oldest first (issue 10,
-- reconciliation): without it, the statement comparison scans the whole
-- ledger, since the (wallet, kind, provider_ref) key does not order by time.
CREATE INDEX ledger_transactions_wallet_time
    ON ledger_transactions(wallet, created_at, id);
