-- People: whether a user can be found in the directory by a part of their
-- handle or display name. On by default (as Slack's member directory);
-- a user who turns it off is found only by their exact handle, which they
-- give out themselves.
ALTER TABLE users ADD COLUMN discoverable INTEGER NOT NULL DEFAULT 1;
