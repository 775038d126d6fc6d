//! Settings of the fetcher. Every limit lives here with its default.

use std::net::SocketAddr;
use std::time::Duration;

/// The user agent sent by default: `kaifang-preview/<crate version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("kaifang-preview/", env!("CARGO_PKG_VERSION"));

/// Hyper refuses header caps below this many bytes.
pub const MIN_HEADER_BYTES: usize = 8 * 1024;

/// Settings of a [`Fetcher`](crate::Fetcher). Start from [`FetchConfig::default`]
/// and change fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchConfig {
    /// Bytes read from the network for a page or JSON document. A page longer
    /// than this is cut and returned with `truncated: true` (the `<head>` is at
    /// the top); JSON longer than this is refused. Default 2 MiB.
    pub max_body_bytes: usize,
    /// Bytes after decompression for a page or JSON document, enforced while
    /// decoding so that gzip and brotli bombs stop early. Same truncate/refuse
    /// rule as `max_body_bytes`. Default 2 MiB.
    pub max_decompressed_bytes: usize,
    /// Bytes of an image, raw and decoded; larger images are refused. Default 5 MiB.
    pub max_image_bytes: usize,
    /// Bytes of the response head (status line and headers). At least
    /// [`MIN_HEADER_BYTES`]. Default 32 KiB.
    pub max_header_bytes: usize,
    /// Number of response headers. Default 64.
    pub max_headers: usize,
    /// Deadline for the whole fetch: every lookup, connection, redirect and the
    /// body. A server that drips bytes fails here. Default 5 s.
    pub total_timeout: Duration,
    /// Deadline for one TCP connection attempt. Default 2 s.
    pub connect_timeout: Duration,
    /// Redirects followed (each one re-checked). Default 5.
    pub max_redirects: usize,
    /// `User-Agent` header. Default [`DEFAULT_USER_AGENT`].
    pub user_agent: String,
    /// The only way to reach a non-public address: exact `ip:port` pairs that
    /// are allowed although the address policy denies them (for tests and for
    /// operators who deliberately preview an internal host). Default empty.
    pub allow_addresses: Vec<SocketAddr>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 2 * 1024 * 1024,
            max_decompressed_bytes: 2 * 1024 * 1024,
            max_image_bytes: 5 * 1024 * 1024,
            max_header_bytes: 32 * 1024,
            max_headers: 64,
            total_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            max_redirects: 5,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            allow_addresses: Vec::new(),
        }
    }
}
