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
//! Every loop is bounded in count and in time.
#![deny(missing_docs)]

mod scenario;
mod stats;

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
    /// The server answered something unexpected.
    #[error("unexpected: {0}")]
    Unexpected(String),
}
