-- Accounts, sessions, conversations, memberships, messages and the event log.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    handle        TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

-- Tokens are stored as SHA-256 digests: a database leak does not leak sessions.
CREATE TABLE sessions (
    token_hash  BLOB PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE conversations (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,            -- 'direct' | 'group'
    title       TEXT,
    direct_key  TEXT UNIQUE,              -- 'small_id:large_id' for direct conversations
    last_seq    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

-- One row per membership period, so that catch-up can tell which events a
-- member was entitled to: those between joined_event and left_event.
CREATE TABLE memberships (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    user_id         INTEGER NOT NULL REFERENCES users(id),
    role            TEXT NOT NULL,        -- 'owner' | 'admin' | 'member'
    joined_event    INTEGER NOT NULL,
    left_event      INTEGER,
    read_seq        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX memberships_user ON memberships(user_id, conversation_id);
CREATE UNIQUE INDEX memberships_current ON memberships(conversation_id, user_id) WHERE left_event IS NULL;

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    seq             INTEGER NOT NULL,
    sender_id       INTEGER NOT NULL REFERENCES users(id),
    body            TEXT NOT NULL,
    client_txn_id   TEXT,
    links           TEXT NOT NULL DEFAULT '[]',
    previews        TEXT,                 -- JSON object: URL -> preview
    created_at      INTEGER NOT NULL,
    UNIQUE (conversation_id, seq)
);
CREATE UNIQUE INDEX messages_txn ON messages(conversation_id, sender_id, client_txn_id)
    WHERE client_txn_id IS NOT NULL;

-- The event log: the cursor a client holds is an id in this table. Ids only
-- grow: the newest row is never deleted (retention trims the oldest), so a
-- plain rowid never reuses one and spares AUTOINCREMENT's extra write.
CREATE TABLE events (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL,
    kind            TEXT NOT NULL,        -- 'message' | 'member' | 'preview'
    message_id      INTEGER,
    data            TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX events_conversation ON events(conversation_id, id);
