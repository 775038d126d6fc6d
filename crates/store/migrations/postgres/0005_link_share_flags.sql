-- The link facts replay needs besides the domain: bidi controls near the
-- link (the code makes such links inert whatever the policy says) and a
-- mixed-script host (policies may read it). Rows logged before this
-- migration read as false: replay cannot know their flags.
ALTER TABLE link_shares ADD COLUMN bidi BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE link_shares ADD COLUMN mixed_script BOOLEAN NOT NULL DEFAULT FALSE;
