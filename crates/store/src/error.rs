use thiserror::Error;

/// Everything a storage operation can fail with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The handle is already taken by another account.
    #[error("the handle is already taken")]
    HandleTaken,
    /// The named row does not exist, or the caller may not see it (the API
    /// answers both the same way so as not to reveal existence).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller is a member but its role does not allow the change.
    #[error("not allowed: {0}")]
    Forbidden(&'static str),
    /// The request contradicts the data (e.g. adding a member already there).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The database file could not be opened, read or written.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// Creating the data folder or another file operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Stored JSON could not be read back (a corrupted or foreign database).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The writer thread is gone: the store is shutting down or crashed.
    #[error("the storage writer has stopped")]
    WriterGone,
    /// A schema migration failed; the database is left at its previous version.
    #[error("migration {version} failed: {source}")]
    Migration {
        /// The migration that failed.
        version: u32,
        /// Why it failed.
        source: rusqlite::Error,
    },
}
