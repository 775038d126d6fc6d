-- People: a user's avatar, the name of a blob in the attachments' blob
-- store (a square image, re-encoded without metadata). NULL: none. The
-- index serves "does anything still name this blob?" when an avatar or an
-- attachment is dropped, so shared bytes are never deleted under another.
ALTER TABLE users ADD COLUMN avatar_sha256 TEXT;
CREATE INDEX users_avatar ON users (avatar_sha256) WHERE avatar_sha256 IS NOT NULL;
