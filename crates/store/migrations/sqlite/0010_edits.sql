-- Everyday chat: edits, recalls, replies and reactions.
-- An edited message keeps its place and says when it was last edited.
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
-- A recalled message (by its sender, or by a group admin) keeps its place
-- with no text, links or previews, like an operator removal, but says who.
ALTER TABLE messages ADD COLUMN recalled_at INTEGER;
ALTER TABLE messages ADD COLUMN recalled_by INTEGER REFERENCES users(id);
-- The seq of the message this one replies to, in the same conversation.
ALTER TABLE messages ADD COLUMN reply_to INTEGER;

-- One row per (message, person, emoji).
CREATE TABLE reactions (
    message_id  INTEGER NOT NULL REFERENCES messages(id),
    user_id     INTEGER NOT NULL REFERENCES users(id),
    emoji       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);
