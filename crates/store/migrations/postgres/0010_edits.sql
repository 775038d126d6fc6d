-- Everyday chat: edits, recalls, replies and reactions (SQLite's 0007
-- translated).
ALTER TABLE messages ADD COLUMN edited_at BIGINT;
ALTER TABLE messages ADD COLUMN recalled_at BIGINT;
ALTER TABLE messages ADD COLUMN recalled_by BIGINT REFERENCES users(id);
ALTER TABLE messages ADD COLUMN reply_to BIGINT;

CREATE TABLE reactions (
    message_id  BIGINT NOT NULL REFERENCES messages(id),
    user_id     BIGINT NOT NULL REFERENCES users(id),
    emoji       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);
