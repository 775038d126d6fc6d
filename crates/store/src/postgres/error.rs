//! How PostgreSQL's and the pool's errors become the store's backend-neutral
//! [`Error`]: the only place that converts them, so `?` works inside this
//! backend while the public error type names no PostgreSQL type.
use tokio_postgres::error::SqlState;

use crate::Error;

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        if is_unreachable(&e) {
            Error::Unavailable(Box::new(e))
        } else {
            Error::Backend(Box::new(e))
        }
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        use deadpool_postgres::PoolError as P;
        match e {
            // The database's own error (e.g. "connection refused"), without
            // the pool's wrapper that repeats it.
            P::Backend(e) => e.into(),
            // Every connection busy (or opening one hung) for the whole of
            // `database.acquire_timeout_ms`: a database that stopped
            // answering looks exactly like this, and so does overload.
            e @ P::Timeout(_) => Error::Unavailable(Box::new(e)),
            e => Error::Backend(Box::new(e)),
        }
    }
}

/// Whether `e` says the database cannot be reached, as opposed to refusing
/// a statement: the connection is closed or broke (an I/O error, possibly
/// while connecting), or the server says it is shutting down or starting
/// (SQLSTATE class 08, 57P01–57P03). These are what a retry later can fix.
fn is_unreachable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let code = code.code();
        return code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03");
    }
    // No SQLSTATE: the failure happened below the protocol.
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
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
