//! Name resolution, pluggable so that tests (and operators with their own DNS)
//! can supply answers.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

/// The future returned by [`Resolve::resolve`].
pub type ResolveFuture<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;

/// Resolves a host name to socket addresses.
///
/// The fetcher calls this once per hop, checks every returned address against
/// the address policy and then connects to one of those very addresses; it
/// never resolves the name a second time, so an answer that changes between
/// lookups (DNS rebinding) cannot slip past the check. Only the IP of each
/// returned address is used; the port always comes from the URL.
pub trait Resolve: Send + Sync {
    /// Looks up `host` (a domain name, never an IP literal) for `port`.
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a>;
}

/// The operating system's resolver, through [`tokio::net::lookup_host`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}
