//! Why a policy was refused.

use thiserror::Error;

/// A policy text the engine refuses. The messages keep Cedar's full
/// diagnostic text (every error, with line, column and help) so the operator
/// sees exactly what Cedar said.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The text is not valid Cedar syntax.
    #[error("the policy does not parse:\n{0}")]
    Parse(String),
    /// The policies parse but do not type-check against the Kaifang schema
    /// (strict validation): an unknown attribute, a wrong type, an unknown action…
    #[error("the policy does not validate against the Kaifang schema:\n{0}")]
    Validation(String),
    /// The text contains policy templates; nothing links them here, so they
    /// would silently never apply.
    #[error("policy templates are not supported (template {0})")]
    Template(String),
    /// Two policies carry the same `@id`, so decisions could not say which one decided.
    #[error("two policies share the id {0:?}; every @id must be unique")]
    DuplicateId(String),
    /// The text is longer than `EngineSettings::max_policy_bytes`.
    #[error("the policy is {bytes} bytes, over the limit of {max}")]
    TooLarge {
        /// Length of the text.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// Parentheses, brackets or braces nest deeper than `EngineSettings::max_nesting`.
    #[error("line {line}: expressions nest deeper than {max} levels")]
    TooDeep {
        /// Line where the limit was passed.
        line: usize,
        /// The limit.
        max: usize,
    },
    /// The loading thread could not be started or died (out of memory, or a
    /// stack overflow the limits did not prevent).
    #[error("the policy could not be loaded: {0}")]
    Load(String),
    /// The built-in schema did not load. A bug in this crate, never the operator's text.
    #[error("the built-in Kaifang schema is invalid:\n{0}")]
    Schema(String),
}
