//! The one error type of the crate.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::addresses::AddrClass;

/// Why a fetch failed. Every failure is closed: nothing is returned that did
/// not pass every check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The configuration is unusable (for example a header cap below hyper's
    /// 8 KiB floor, or a user agent that is not a valid header value).
    #[error("invalid fetch configuration: {0}")]
    Config(&'static str),
    /// The URL (or a redirect's `Location`) is not an absolute URL with a host.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The URL's scheme is not `http` or `https` (`file:`, `ftp:`, `data:`, `javascript:`, …).
    #[error("scheme {0:?} is not allowed; only http and https are")]
    BadScheme(String),
    /// The URL carries a user name or password (`user:pass@host`).
    #[error("URLs with credentials are not allowed")]
    Credentials,
    /// The host is, or resolves to, an address that is not public and is not in
    /// `allow_addresses`. Nothing was sent to it.
    #[error("address {addr} is {class} and may not be fetched")]
    Blocked {
        /// The refused address, with the port that would have been used.
        addr: SocketAddr,
        /// Why the address is refused.
        class: AddrClass,
    },
    /// Name resolution failed.
    #[error("could not resolve {host}: {source}")]
    Resolve {
        /// The host name that was looked up.
        host: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// The resolver returned no address for the host.
    #[error("{0} has no addresses")]
    NoAddresses(String),
    /// Connecting to every checked address failed (the last error is kept).
    #[error("could not connect to {addr}: {source}")]
    Connect {
        /// The last address tried.
        addr: SocketAddr,
        /// The connection error (a timeout shows as `TimedOut`).
        source: io::Error,
    },
    /// The TLS handshake failed (untrusted certificate, wrong name, not TLS, …).
    #[error("TLS handshake failed: {0}")]
    Tls(io::Error),
    /// The server broke HTTP/1.1 (malformed response, connection closed early, …).
    #[error("HTTP protocol error: {0}")]
    Http(hyper::Error),
    /// The response head (status line and headers) exceeded `max_header_bytes`
    /// or `max_headers`.
    #[error("response headers too large")]
    HeaderTooLarge,
    /// The whole fetch, all redirects and the body included, took longer than
    /// `total_timeout`.
    #[error("fetch took longer than {0:?}")]
    Timeout(Duration),
    /// More than `max_redirects` redirects.
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    /// A redirect pointed back at a URL already visited in this fetch.
    #[error("redirect loop at {0}")]
    RedirectLoop(String),
    /// A redirect status without a usable `Location` header.
    #[error("redirect without a valid Location header")]
    BadRedirect,
    /// The final response had a non-success status.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The content type is not one this call accepts; the body was not read.
    #[error("unsupported content type {0:?}")]
    UnsupportedContentType(Option<String>),
    /// The `Content-Encoding` is not identity, gzip, deflate or br.
    #[error("unsupported content encoding {0:?}")]
    UnsupportedEncoding(String),
    /// The body (raw or decompressed) exceeded its cap, for calls that refuse
    /// partial bodies (JSON, images).
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    /// The compressed body is corrupt.
    #[error("could not decode the body: {0}")]
    Decode(io::Error),
    /// Another I/O error on the connection.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl FetchError {
    /// True for [`FetchError::Blocked`]: the request was refused by the address
    /// policy before anything was sent.
    pub fn is_blocked(&self) -> bool {
        matches!(self, Self::Blocked { .. })
    }

    pub(crate) fn from_hyper(err: hyper::Error) -> Self {
        if err.is_parse_too_large() {
            Self::HeaderTooLarge
        } else {
            Self::Http(err)
        }
    }
}
