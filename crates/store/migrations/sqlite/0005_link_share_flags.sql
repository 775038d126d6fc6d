-- The link facts replay needs besides the domain: bidi controls near the
-- link (the code makes such links inert whatever the policy says) and a
-- mixed-script host (policies may read it). Rows logged before this
-- migration read as 0: replay cannot know their flags.
ALTER TABLE link_shares ADD COLUMN bidi INTEGER NOT NULL DEFAULT 0;
ALTER TABLE link_shares ADD COLUMN mixed_script INTEGER NOT NULL DEFAULT 0;
