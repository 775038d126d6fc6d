-- Link previews, cached by canonical URL so that a restart keeps them.
-- A row with NULL data is a remembered failure (negative cache).
CREATE TABLE preview_cache (
    url         TEXT PRIMARY KEY,
    fetched_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    data        TEXT
);
CREATE INDEX preview_cache_expiry ON preview_cache(expires_at);
