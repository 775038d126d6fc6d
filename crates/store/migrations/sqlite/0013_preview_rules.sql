-- Per-domain preview rules: the operator's allowlist and denylist, one
-- pattern a row in its canonical text (`example.com`, `*.example.com`,
-- `domain:example.com`). The revision counts changes, so that every node
-- can tell with one small read whether its copy is stale.
CREATE TABLE preview_rules (
    id          INTEGER PRIMARY KEY,
    list        TEXT NOT NULL CHECK (list IN ('allow', 'deny')),
    pattern     TEXT NOT NULL,
    created_by  INTEGER NOT NULL REFERENCES users(id),
    created_at  INTEGER NOT NULL,
    UNIQUE (list, pattern)
);
CREATE TABLE preview_rules_revision (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    revision  INTEGER NOT NULL
);
INSERT INTO preview_rules_revision (id, revision) VALUES (1, 0);

-- A sender hid the previews of their message: none is shown or attached
-- again, whatever fetch was still in flight.
ALTER TABLE messages ADD COLUMN previews_hidden_at INTEGER;
