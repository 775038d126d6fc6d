-- Full-text search over message text (docs/search.md). The trigram
-- tokenizer indexes every run of three characters, so a search finds text
-- inside Chinese, which has no spaces between words, as well as inside
-- English words. External content: the index holds only the trigrams; the
-- text stays in `messages`.
CREATE VIRTUAL TABLE messages_search USING fts5(
    body, content = 'messages', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO messages_search (messages_search) VALUES ('rebuild');

-- The index follows every change of the text, whoever makes it: a send,
-- an operator's removal, an edit or a recall. An external-content index
-- forgets a row only when told its old text, hence 'delete' with old.body.
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_search (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_search (messages_search, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER messages_search_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_search (messages_search, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_search (rowid, body) VALUES (new.id, new.body);
END;
