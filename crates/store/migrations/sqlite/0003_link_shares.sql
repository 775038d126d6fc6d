-- The link-share log: one row per decided link, for the transparency report
-- and policy replay. Privacy: no message text, no URL path — only the
-- registrable domain.
CREATE TABLE link_shares (
    id                INTEGER PRIMARY KEY,
    at                INTEGER NOT NULL,
    message_id        INTEGER,            -- NULL when the send was refused (blocked)
    conversation_kind TEXT NOT NULL,
    member_count      INTEGER NOT NULL,
    sender_role       TEXT NOT NULL,
    platform          TEXT NOT NULL,
    owner             TEXT NOT NULL,
    category          TEXT NOT NULL,
    domain            TEXT NOT NULL,
    lists             TEXT NOT NULL,      -- JSON array of threat lists
    treatment         TEXT NOT NULL,
    preview           INTEGER NOT NULL,
    policy_version    INTEGER NOT NULL,
    policies          TEXT NOT NULL       -- JSON array of deciding policy ids
);
CREATE INDEX link_shares_at ON link_shares(at);
