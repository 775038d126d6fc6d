//! The services' one error type. Services decide and say why they refused;
//! they build no HTTP answers. The API turns each variant into a
//! problem+json answer at the edge (`crate::error`), where internal causes
//! are logged and never sent; the CLI and tests can match on the variants.
use std::fmt;

/// Why a service refused or failed. Each variant names the answer a client
/// gets; the texts are written for the client, except [`Error::Internal`]
/// and the store's own failures, which are only logged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is malformed or a value is out of range.
    #[error("{0}")]
    Invalid(String),
    /// No valid session: a wrong password, a revoked or unknown token.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// A member whose role does not allow the change.
    #[error("{0}")]
    Forbidden(String),
    /// Missing, or not visible to the caller: the two are never told apart,
    /// so that outsiders learn nothing. Holds what was looked for.
    #[error("no such {0}")]
    NotFound(String),
    /// The request contradicts the current state.
    #[error("{0}")]
    Conflict(String),
    /// A value is over its size limit.
    #[error("{0}")]
    TooLarge(String),
    /// Understood, but refused by a rule (a blocked link, an invalid
    /// policy, an image that cannot be shown).
    #[error("{detail}")]
    Refused {
        /// A stable name for the rule, for clients (`/problems/<kind>`).
        kind: &'static str,
        /// A short human title.
        title: &'static str,
        /// What was refused and why.
        detail: String,
        /// Structured members for clients (e.g. the refused links); boxed
        /// so that every `Result` stays small on the happy path.
        extra: Option<Box<serde_json::Value>>,
    },
    /// A feature the operator turned off (e.g. `preview.enabled = false`):
    /// retrying will not help.
    #[error("{0}")]
    TurnedOff(&'static str),
    /// Over a rate limit.
    #[error("{why}")]
    RateLimited {
        /// Which limit.
        why: &'static str,
        /// Seconds until a retry can succeed.
        retry_after: u64,
    },
    /// The server is at capacity for this kind of work (e.g. password
    /// hashing); the client should retry.
    #[error("{why}")]
    Busy {
        /// Which capacity.
        why: &'static str,
        /// Seconds to wait before retrying.
        retry_after: u64,
    },
    /// Storage refused or failed; its own kinds (a taken handle, a missing
    /// row) keep their meaning, anything else is internal.
    #[error(transparent)]
    Store(#[from] kaifang_store::Error),
    /// A failure the client can do nothing about. The text is for the log.
    #[error("{0}")]
    Internal(String),
}

/// Shorthand for service results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// [`Error::Invalid`].
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::Invalid(detail.into())
    }
    /// [`Error::NotFound`].
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }
    /// [`Error::Conflict`].
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::Conflict(detail.into())
    }
    /// [`Error::TooLarge`].
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::TooLarge(detail.into())
    }
    /// [`Error::Refused`] without extra members.
    pub fn refused(kind: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::Refused {
            kind,
            title,
            detail: detail.into(),
            extra: None,
        }
    }
    /// [`Error::RateLimited`]; the wait is at least a second.
    pub fn rate_limited(why: &'static str, retry_after: u64) -> Self {
        Self::RateLimited {
            why,
            retry_after: retry_after.max(1),
        }
    }
    /// [`Error::Busy`]; the wait is at least a second.
    pub fn busy(why: &'static str, retry_after: u64) -> Self {
        Self::Busy {
            why,
            retry_after: retry_after.max(1),
        }
    }
    /// [`Error::Internal`], from any displayable cause.
    pub fn internal(cause: impl fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
}
