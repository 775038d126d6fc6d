//! Error types of the crate.

use std::path::PathBuf;

/// Errors from normalisation, suffix lists and blocklists.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not a URL the WHATWG parser accepts (bad host, bad port, …).
    #[error("not a valid URL: {0}")]
    InvalidUrl(#[from] url::ParseError),
    /// The URL has a scheme other than `http` or `https`; such links are not linkified.
    #[error("unsupported URL scheme `{0}` (only http and https are links)")]
    UnsupportedScheme(String),
    /// The URL parsed but has no host (for example `http:///x`).
    #[error("URL has no host")]
    NoHost,
    /// The input is longer than [`NormaliseConfig::max_input_len`](crate::NormaliseConfig::max_input_len).
    #[error("URL is {len} bytes, over the limit of {max}")]
    TooLong {
        /// Length of the input in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// A file (blocklist, suffix list, registry) could not be read; the path is named.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A Public Suffix List file could not be parsed.
    #[error("invalid public suffix list {name}: {message}")]
    SuffixList {
        /// Where the list came from (a path or `<string>`).
        name: String,
        /// The parser's message.
        message: String,
    },
    /// More blocklists were loaded than [`Blocklists::MAX_LISTS`](crate::Blocklists::MAX_LISTS).
    #[error("too many blocklists: at most {max}")]
    TooManyLists {
        /// The maximum number of lists.
        max: usize,
    },
    /// Too many domains for the compact blocklist index (over 4 GiB of names).
    #[error("blocklists too large")]
    ListsTooLarge,
}

/// Errors from loading a platform registry (`platforms.toml`); each names the line and field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// TOML syntax error or a value of the wrong type / a missing field.
    #[error("line {line}: {}{message}", field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Syntax {
        /// 1-based line of the error (0 if the parser gave no position).
        line: usize,
        /// The field concerned, when known.
        field: Option<String>,
        /// The parser's message.
        message: String,
    },
    /// A field has a value that is not allowed (empty id, bad domain, bad identifier, …).
    #[error("line {line}: field `{field}`: {message}")]
    InvalidValue {
        /// 1-based line of the value.
        line: usize,
        /// The field name.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A platform names an owner that is not in the `[owners]` table of the same file.
    #[error("line {line}: field `owner`: unknown owner `{owner}` (add [owners.{owner}])")]
    UnknownOwner {
        /// 1-based line of the `owner` value.
        line: usize,
        /// The owner id.
        owner: String,
    },
    /// Two platforms in one file have the same id, or two claim the same domain.
    #[error("line {line}: field `{field}`: `{value}` is already used by platform `{other}`")]
    Duplicate {
        /// 1-based line of the second occurrence.
        line: usize,
        /// `id` or `domains`.
        field: String,
        /// The duplicated value.
        value: String,
        /// The platform that already has it.
        other: String,
    },
    /// The registry file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}
