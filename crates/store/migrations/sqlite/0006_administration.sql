-- Operator administration: suspended accounts, invite codes and one-time
-- password-reset codes. Codes are stored as SHA-256 digests, like session
-- tokens: a database leak does not leak a usable code.
ALTER TABLE users ADD COLUMN suspended_at INTEGER;

-- A message an administrator removed keeps its place (seq) with no text.
ALTER TABLE messages ADD COLUMN removed_at INTEGER;

CREATE TABLE invites (
    id          INTEGER PRIMARY KEY,
    code_hash   BLOB NOT NULL UNIQUE,
    created_by  INTEGER NOT NULL REFERENCES users(id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    max_uses    INTEGER NOT NULL,
    uses        INTEGER NOT NULL DEFAULT 0,
    revoked_at  INTEGER
);

-- At most one live code per account: issuing a new one retires the old.
CREATE TABLE password_resets (
    code_hash   BLOB PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    created_by  INTEGER NOT NULL REFERENCES users(id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX password_resets_user ON password_resets(user_id);
