//! Opening the connection of one hop: TCP to a vetted address, then TLS.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{IpAddr as PkiIpAddr, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use url::Host;

use crate::error::FetchError;
use crate::guard::{Vetted, check_addr};

/// A byte stream hyper can drive: plain TCP or TLS over it.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

pub(crate) type DialFuture<'a> = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send + 'a>>;

/// Opens TCP connections. Only takes [`Vetted`] addresses; the crate's tests
/// swap in a recording dialer to prove which addresses were (not) dialled.
pub(crate) trait Dial: Send + Sync {
    fn dial(&self, addr: Vetted) -> DialFuture<'_>;
}

/// The real dialer: one TCP connection attempt with a deadline.
#[derive(Debug)]
pub(crate) struct TcpDial {
    pub timeout: Duration,
}

impl Dial for TcpDial {
    fn dial(&self, addr: Vetted) -> DialFuture<'_> {
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, TcpStream::connect(addr.addr())).await {
                Ok(stream) => stream,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
            }
        })
    }
}

/// Tries the vetted addresses in order and returns the first connection. The
/// peer address the socket actually reached is checked again, so a dialer or
/// OS surprise cannot land us somewhere the policy refuses.
pub(crate) async fn tcp(
    dial: &dyn Dial,
    addrs: &[Vetted],
    allow: &[SocketAddr],
) -> Result<TcpStream, FetchError> {
    let mut last = None;
    for &addr in addrs {
        match dial.dial(addr).await {
            Ok(stream) => {
                check_addr(stream.peer_addr()?, allow)?;
                // Small requests: do not wait for Nagle.
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(source) => last = Some((addr.addr(), source)),
        }
    }
    match last {
        Some((addr, source)) => Err(FetchError::Connect { addr, source }),
        None => Err(FetchError::Io(io::Error::other("no address to connect to"))),
    }
}

/// The TLS client settings: Mozilla's roots (webpki-roots), ring, HTTP/1.1 only.
pub(crate) fn tls_config() -> Result<Arc<rustls::ClientConfig>, FetchError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| FetchError::Config("TLS provider has no safe protocol version"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Runs the TLS handshake over an already-checked TCP stream. SNI and
/// certificate verification use the URL's host, never the resolved address.
pub(crate) async fn tls(
    config: Arc<rustls::ClientConfig>,
    stream: TcpStream,
    host: &Host<String>,
) -> Result<Box<dyn Io>, FetchError> {
    let name = match host {
        Host::Domain(d) => ServerName::try_from(d.clone())
            .map_err(|_| FetchError::InvalidUrl(format!("host {d:?} is not a TLS server name")))?,
        Host::Ipv4(ip) => ServerName::IpAddress(PkiIpAddr::from(std::net::IpAddr::V4(*ip))),
        Host::Ipv6(ip) => ServerName::IpAddress(PkiIpAddr::from(std::net::IpAddr::V6(*ip))),
    };
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(FetchError::Tls)?;
    Ok(Box::new(stream))
}
