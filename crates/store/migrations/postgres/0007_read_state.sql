-- Everyday chat: mentions, mutes and read receipts. The read marker itself
-- is memberships.read_seq (0001): the seq of the newest message the member
-- has read, per membership period, never moved backwards.

-- Who a message mentions, as JSON ({"all":bool,"users":[{"id","handle"}]});
-- NULL when it mentions nobody (most messages).
ALTER TABLE messages ADD COLUMN mentions TEXT;

-- A member who muted the conversation gets no notifications for it (the
-- client decides; the server only keeps and syncs the flag).
ALTER TABLE memberships ADD COLUMN muted BOOLEAN NOT NULL DEFAULT FALSE;

-- Read receipts in direct chats, off by default (as in WeChat): a user sees
-- the other member's receipts only while sending their own.
ALTER TABLE users ADD COLUMN read_receipts BOOLEAN NOT NULL DEFAULT FALSE;
