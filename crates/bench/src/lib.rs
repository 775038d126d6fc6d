//! Kaifang's load generator. It drives a running server through the public
//! API only (HTTP and WebSocket on the address it is given) and measures the
//! scenarios of `docs/benchmarks.md`:
//!
//! - A: one sender, sequential messages into a direct conversation.
//! - B: several senders at once into one group.
//! - C: send-to-receipt latency at a steady rate.
//! - D: fan-out to a large group, every member on a WebSocket.
//! - E: idle WebSocket connections held, and server memory per connection.
//!
//! Given several nodes of one cluster, it spreads its clients over them
//! (see [`Placement`]); C and D then time delivery from one node to another.
//!
//! Every loop is bounded in count and in time.
#![deny(missing_docs)]

mod placement;
mod scenario;
mod stats;

pub use placement::Placement;
pub use scenario::{Options, Report, run};
pub use stats::Summary;

use thiserror::Error;

/// What a benchmark run can fail with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A call to the server failed.
    #[error("{0}")]
    Client(#[from] kaifang_client::Error),
    /// A scenario ran past its time bound.
    #[error("scenario {0} did not finish within its time bound")]
    Timeout(&'static str),
    /// No server was given.
    #[error("no server to run against")]
    NoServer,
    /// A server URL is not an `http` or `https` URL.
    #[error("not an http(s) server URL: {0:?}")]
    BadUrl(String),
    /// The server answered something unexpected.
    #[error("unexpected: {0}")]
    Unexpected(String),
}
