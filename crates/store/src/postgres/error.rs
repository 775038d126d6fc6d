//! How PostgreSQL's and the pool's errors become the store's backend-neutral
//! [`Error`]: the only place that converts them, so `?` works inside this
//! backend while the public error type names no PostgreSQL type.
use tokio_postgres::error::SqlState;

use crate::Error;

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        Error::Backend(Box::new(e))
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            // The database's own error (e.g. "connection refused"), without
            // the pool's wrapper that repeats it.
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            e => Error::Backend(Box::new(e)),
        }
    }
}

/// Whether `e` is a unique-constraint violation (SQLite's backend maps the
/// same case, a `ConstraintViolation`, to [`Error::HandleTaken`]).
pub(super) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// A failed migration, with PostgreSQL's reason kept as the source.
pub(super) fn migration(version: u32, source: tokio_postgres::Error) -> Error {
    Error::Migration {
        version,
        source: Box::new(source),
    }
}
