-- Orders, the double-entry ledger, idempotency keys and notification nonces
-- (issue 10, item 5). Amounts are integer minor units with an ISO 4217 code;
-- states are kaifang-pay's names, validated by the service.
CREATE TABLE orders (
    id              INTEGER PRIMARY KEY,
    buyer_id        INTEGER NOT NULL REFERENCES users(id),
    conversation_id INTEGER,
    message_id      INTEGER,
    link_index      INTEGER,
    merchant        TEXT NOT NULL,
    wallet          TEXT NOT NULL,
    amount_minor    INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency        TEXT NOT NULL,
    state           TEXT NOT NULL,
    provider_ref    TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX orders_buyer ON orders(buyer_id, id);

-- One row per money movement. The same provider reference of the same kind
-- and wallet records once: a duplicate notification finds its row here.
CREATE TABLE ledger_transactions (
    id           INTEGER PRIMARY KEY,
    order_id     INTEGER NOT NULL REFERENCES orders(id),
    kind         TEXT NOT NULL,  -- 'payment', 'refund' or 'fee'
    wallet       TEXT NOT NULL,
    provider_ref TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    currency     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (wallet, kind, provider_ref)
);
CREATE INDEX ledger_transactions_order ON ledger_transactions(order_id, id);

-- The legs; per transaction and currency they sum to zero (checked by the
-- store before the insert, inside the same write transaction).
CREATE TABLE ledger_entries (
    id             INTEGER PRIMARY KEY,
    transaction_id INTEGER NOT NULL REFERENCES ledger_transactions(id),
    account        TEXT NOT NULL,
    amount_minor   INTEGER NOT NULL CHECK (amount_minor <> 0),
    currency       TEXT NOT NULL
);
CREATE INDEX ledger_entries_transaction ON ledger_entries(transaction_id, id);

-- Each account's running balance, updated with its entries, so that the
-- "never below zero" check reads one row.
CREATE TABLE ledger_balances (
    account       TEXT NOT NULL,
    currency      TEXT NOT NULL,
    balance_minor INTEGER NOT NULL,
    PRIMARY KEY (account, currency)
);

-- Stripe-style keys: the first answer (the order created) for the same
-- parameters, a refusal for other ones, until the caller's window passes.
CREATE TABLE idempotency_keys (
    caller      TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,  -- SHA-256 hex of the canonical parameters
    order_id    INTEGER NOT NULL REFERENCES orders(id),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (caller, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

-- Notification nonces seen within the timestamp window: a replay is refused.
CREATE TABLE payment_nonces (
    provider TEXT NOT NULL,
    nonce    TEXT NOT NULL,
    seen_at  INTEGER NOT NULL,
    PRIMARY KEY (provider, nonce)
);
CREATE INDEX payment_nonces_seen ON payment_nonces(seen_at);
