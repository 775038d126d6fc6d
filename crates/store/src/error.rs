use thiserror::Error;

/// The error a storage backend reports, boxed so that this type names no
/// backend's library: each backend converts its own errors (SQLite's in
/// `sqlite/error.rs`) and another backend plugs in the same way.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

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
    /// An idempotency key came back with other parameters than the first
    /// time it was used (Stripe refuses this too).
    #[error("this idempotency key was used with other parameters")]
    IdempotencyMismatch,
    /// The ledger refused a transaction (unbalanced, a balance would go
    /// below zero, or refunds would pass what was paid).
    #[error("ledger refused: {0}")]
    Ledger(&'static str),
    /// A provider's notification nonce was seen before.
    #[error("this notification nonce was seen before")]
    Replay,
    /// The database could not be opened, read or written (the backend's own
    /// error is kept as the source).
    #[error("database error: {0}")]
    Backend(#[source] BackendError),
    /// The database cannot be reached right now (connection refused, lost,
    /// or no pooled connection free within the acquire timeout). Nothing
    /// was committed by the failed call unless its commit's answer was what
    /// got lost; a retry once the database is back is the remedy, and
    /// idempotent sends make that retry safe.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] BackendError),
    /// Creating the data folder or another file operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Stored JSON could not be read back (a corrupted or foreign database).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The writer thread is gone: the store is shutting down or crashed.
    #[error("the storage writer has stopped")]
    WriterGone,
    /// The database's schema is newer than this build knows: a newer
    /// version of Kaifang wrote it, and this one must not run on it.
    #[error(
        "the database is at schema version {found}, newer than this kaifang's {supported}: \
         run the newer kaifang, or restore a backup made before the upgrade"
    )]
    SchemaTooNew {
        /// The version the database records.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// A schema migration failed; the database is left at its previous version.
    #[error("migration {version} failed: {source}")]
    Migration {
        /// The migration that failed.
        version: u32,
        /// Why it failed, as the backend reported it.
        source: BackendError,
    },
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::error::Error as _;

    /// A backend other than SQLite reports its own error
    /// type through the same variants, and the cause stays readable.
    #[test]
    fn any_backend_error_fits_and_keeps_its_cause() {
        #[derive(Debug, Error)]
        #[error("connection reset by the database server")]
        struct OtherBackend;

        let e = Error::Backend(Box::new(OtherBackend));
        assert_eq!(
            e.to_string(),
            "database error: connection reset by the database server"
        );
        assert!(e.source().is_some_and(|s| s.is::<OtherBackend>()));

        let m = Error::Migration {
            version: 7,
            source: Box::new(OtherBackend),
        };
        assert!(m.to_string().starts_with("migration 7 failed"));
    }
}
