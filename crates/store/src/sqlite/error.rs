//! How SQLite's errors become the store's backend-neutral [`Error`]: the only
//! place that converts a `rusqlite::Error`, so `?` works inside this backend
//! while the public error type names no SQLite type.
use crate::Error;

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Backend(Box::new(e))
    }
}

/// A failed migration, with SQLite's reason kept as the source.
pub(super) fn migration(version: u32, source: rusqlite::Error) -> Error {
    Error::Migration {
        version,
        source: Box::new(source),
    }
}
