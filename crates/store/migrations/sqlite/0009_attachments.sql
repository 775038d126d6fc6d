-- Attachments: one row per upload; the bytes live in the blob store
-- (a folder of files named by their SHA-256, see docs/operating.md), so
-- two uploads of the same bytes share one file.
CREATE TABLE attachments (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    uploader_id     INTEGER NOT NULL REFERENCES users(id),
    message_id      INTEGER REFERENCES messages(id), -- NULL until a send carries it
    name            TEXT NOT NULL,
    content_type    TEXT NOT NULL,                   -- sniffed from the bytes
    size            INTEGER NOT NULL,
    sha256          TEXT NOT NULL,                   -- hex; the blob
    thumb_sha256    TEXT,                            -- hex; images only
    width           INTEGER,
    height          INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX attachments_message ON attachments(message_id);
CREATE INDEX attachments_unsent ON attachments(created_at) WHERE message_id IS NULL;
CREATE INDEX attachments_sha256 ON attachments(sha256);
CREATE INDEX attachments_thumb ON attachments(thumb_sha256);

-- What a message carries, as a JSON array written with the message.
ALTER TABLE messages ADD COLUMN attachments TEXT;
