-- Link complaints, strikes, penalties and appeals (issue 11), and operator
-- moderators. A complaint names the message and the link's index in it, and
-- copies the link's facts at the time, so that the queue and the report still
-- read after the message is edited or removed.
ALTER TABLE users ADD COLUMN is_moderator INTEGER NOT NULL DEFAULT 0;

CREATE TABLE complaints (
    id              INTEGER PRIMARY KEY,
    reporter_id     INTEGER NOT NULL REFERENCES users(id),
    conversation_id INTEGER NOT NULL,
    message_id      INTEGER NOT NULL,
    link_index      INTEGER NOT NULL,
    url             TEXT NOT NULL,
    domain          TEXT NOT NULL,
    platform        TEXT NOT NULL,
    owner           TEXT NOT NULL,
    reason          TEXT NOT NULL,
    note            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    -- 'open', 'upheld' or 'dismissed'.
    state           TEXT NOT NULL DEFAULT 'open',
    decided_by      INTEGER REFERENCES users(id),
    decided_at      INTEGER,
    decision_note   TEXT NOT NULL DEFAULT '',
    -- The same person reporting the same link twice gets the first report back.
    UNIQUE (reporter_id, message_id, link_index)
);
CREATE INDEX complaints_state ON complaints(state, id);
CREATE INDEX complaints_reporter_time ON complaints(reporter_id, created_at);

-- A penalty is what an upheld complaint cost its domain, on the ladder: the
-- n-th strike within the window takes the ladder's n-th rung (the last rung
-- for every strike after). ends_at is NULL for "restricted until appealed".
CREATE TABLE penalties (
    id            INTEGER PRIMARY KEY,
    domain        TEXT NOT NULL,
    platform      TEXT NOT NULL,
    owner         TEXT NOT NULL,
    complaint_id  INTEGER NOT NULL UNIQUE REFERENCES complaints(id),
    strike        INTEGER NOT NULL,
    -- 'restricted' or 'suspended'.
    state         TEXT NOT NULL,
    starts_at     INTEGER NOT NULL,
    ends_at       INTEGER,
    lifted_at     INTEGER,
    lifted_by     INTEGER REFERENCES users(id)
);
CREATE INDEX penalties_domain_time ON penalties(domain, starts_at);

CREATE TABLE appeals (
    id            INTEGER PRIMARY KEY,
    penalty_id    INTEGER NOT NULL REFERENCES penalties(id),
    appellant_id  INTEGER NOT NULL REFERENCES users(id),
    note          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    -- 'open', 'granted' or 'refused'.
    state         TEXT NOT NULL DEFAULT 'open',
    decided_by    INTEGER REFERENCES users(id),
    decided_at    INTEGER,
    decision_note TEXT NOT NULL DEFAULT ''
);
-- One open appeal per penalty at a time.
CREATE UNIQUE INDEX appeals_one_open ON appeals(penalty_id) WHERE state = 'open';
