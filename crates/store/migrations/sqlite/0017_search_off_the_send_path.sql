-- The full-text index is written by the writer between sends, in chunks,
-- instead of by a trigger inside every send (crates/store/src/sqlite/indexer.rs,
-- docs/search.md). Every message up to `indexed_through` is in the index;
-- search reads the ones above it by a scan.
DROP TRIGGER messages_search_insert;
DROP TRIGGER messages_search_update;
DROP TRIGGER messages_search_delete;

CREATE TABLE search_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_through INTEGER NOT NULL
);
-- Until now the triggers indexed every message.
INSERT INTO search_state (id, indexed_through) SELECT 1, COALESCE(MAX(id), 0) FROM messages;

-- Changes to indexed text still move the index at once, whoever makes them.
CREATE TRIGGER messages_search_update AFTER UPDATE OF body ON messages
WHEN old.id <= (SELECT indexed_through FROM search_state) BEGIN
    INSERT INTO messages_search (messages_search, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_search (rowid, body) VALUES (new.id, new.body);
END;
-- SQLite gives a new row the largest id left plus one, which may be an id
-- deleted here: the watermark comes down to the largest id left, so that
-- such a row counts as not indexed yet.
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages
WHEN old.id <= (SELECT indexed_through FROM search_state) BEGIN
    INSERT INTO messages_search (messages_search, rowid, body) VALUES ('delete', old.id, old.body);
    UPDATE search_state SET indexed_through = (SELECT COALESCE(MAX(id), 0) FROM messages)
    WHERE indexed_through > (SELECT COALESCE(MAX(id), 0) FROM messages);
END;
