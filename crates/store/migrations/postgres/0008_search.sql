-- Full-text search over message text (docs/search.md): a trigram index
-- (pg_trgm, a contrib extension the database owner may create since
-- PostgreSQL 13) that serves `body ILIKE '%…%'`. It indexes every run of
-- three characters, so it finds text inside Chinese, which has no spaces
-- between words. It is an index of the column itself, so every change of
-- the text (a send, an operator's removal, an edit, a recall, a delete)
-- updates it in the same transaction: no trigger is needed.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX messages_body_trgm ON messages USING gin (body gin_trgm_ops);
