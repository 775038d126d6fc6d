//! An HTTP(S) fetcher that cannot be turned against the server's own network.
//!
//! Used for link previews, oEmbed JSON and the image proxy. Every hop of a
//! fetch — the first request and each redirect, followed by hand — checks the
//! scheme (`http`/`https`), refuses credentials in the URL, resolves the host
//! once through a [`Resolve`]r, checks **every** answer against the
//! [address rules](classify), and connects to one of those checked addresses
//! (so DNS rebinding cannot swap the address between check and use). Bodies
//! are read through caps, decompressed under a cap, and the whole fetch runs
//! under one deadline.
//!
//! Non-public addresses are reachable only when listed, ip and port exactly,
//! in [`FetchConfig::allow_addresses`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), kaifang_fetch::FetchError> {
//! use kaifang_fetch::{FetchConfig, Fetcher};
//!
//! let fetcher = Fetcher::new(FetchConfig::default())?;
//! let url = url::Url::parse("https://example.com/").map_err(|e| {
//!     kaifang_fetch::FetchError::InvalidUrl(e.to_string())
//! })?;
//! let page = fetcher.fetch_page(&url).await?;
//! println!("{} bytes from {}", page.body.len(), page.final_url);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod addresses;
mod body;
mod config;
mod connect;
mod error;
mod fetcher;
mod guard;
mod media;
mod resolve;

#[cfg(test)]
mod tests;

pub use addresses::{AddrClass, classify, embedded_v4, is_public};
pub use config::{DEFAULT_USER_AGENT, FetchConfig, MIN_HEADER_BYTES};
pub use error::FetchError;
pub use fetcher::Fetcher;
pub use media::{Image, ImageHead, Page};
pub use resolve::{Resolve, ResolveFuture, SystemResolver};
