-- Governance: policy versions, their scheduled activations, the audit log.
CREATE TABLE policy_versions (
    id          INTEGER PRIMARY KEY,
    text        TEXT NOT NULL,
    author_id   INTEGER NOT NULL REFERENCES users(id),
    created_at  INTEGER NOT NULL,
    comment     TEXT NOT NULL DEFAULT ''
);

-- The version in force at instant t is the activation with the greatest
-- effective_from <= t (latest id on ties) that was not cancelled.
CREATE TABLE policy_activations (
    id              INTEGER PRIMARY KEY,
    version_id      INTEGER NOT NULL REFERENCES policy_versions(id),
    effective_from  INTEGER NOT NULL,
    created_by      INTEGER NOT NULL REFERENCES users(id),
    created_at      INTEGER NOT NULL,
    cancelled_at    INTEGER
);

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor_id  INTEGER NOT NULL REFERENCES users(id),
    action    TEXT NOT NULL,
    detail    TEXT NOT NULL
);
