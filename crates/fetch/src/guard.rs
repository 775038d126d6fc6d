//! The checks every hop passes before a single byte is sent: scheme,
//! credentials, host, and every address the host stands for.

use std::net::{IpAddr, SocketAddr};

use url::{Host, Url};

use crate::addresses::{AddrClass, classify};
use crate::error::FetchError;
use crate::resolve::Resolve;

/// Whether a hop speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

/// A URL that passed the static checks.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub scheme: Scheme,
    /// The host as the URL spells it after WHATWG parsing: a lowercase
    /// (punycode) domain or a canonical IP.
    pub host: Host<String>,
    pub port: u16,
}

/// An address that passed the address policy. Only [`vet`] builds one, and
/// the connector only accepts this type, so an unchecked address cannot be
/// dialled by mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Vetted(SocketAddr);

impl Vetted {
    pub fn addr(self) -> SocketAddr {
        self.0
    }
}

/// Scheme, credentials and host checks. The host was already parsed by the
/// WHATWG `url` crate, so `2130706433`, `017700000001`, `0x7f.1` and `127.1`
/// all arrive here as `Host::Ipv4(127.0.0.1)`.
pub(crate) fn check_url(url: &Url) -> Result<Target, FetchError> {
    let scheme = match url.scheme() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => return Err(FetchError::BadScheme(other.to_owned())),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchError::Credentials);
    }
    let host = url
        .host()
        .ok_or_else(|| FetchError::InvalidUrl(url.as_str().to_owned()))?
        .to_owned();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| FetchError::InvalidUrl(url.as_str().to_owned()))?;
    Ok(Target { scheme, host, port })
}

/// Whether `addr` may be dialled: public, or listed exactly (ip and port) in `allow`.
pub(crate) fn check_addr(addr: SocketAddr, allow: &[SocketAddr]) -> Result<Vetted, FetchError> {
    let class = classify(addr.ip());
    if class == AddrClass::Public || allow.contains(&addr) {
        Ok(Vetted(addr))
    } else {
        Err(FetchError::Blocked { addr, class })
    }
}

/// Turns the target into the addresses to dial. IP literals are used as they
/// are; names go to `resolver` exactly once. If any answer is refused the
/// whole hop is refused: a name that mixes public and private answers is
/// suspicious, and trying only the public ones would let an attacker probe.
pub(crate) async fn vet(
    target: &Target,
    resolver: &dyn Resolve,
    allow: &[SocketAddr],
) -> Result<Vec<Vetted>, FetchError> {
    let ips: Vec<IpAddr> = match &target.host {
        Host::Ipv4(ip) => vec![IpAddr::V4(*ip)],
        Host::Ipv6(ip) => vec![IpAddr::V6(*ip)],
        Host::Domain(name) => resolver
            .resolve(name, target.port)
            .await
            .map_err(|source| FetchError::Resolve {
                host: name.clone(),
                source,
            })?
            .into_iter()
            .map(|sa| sa.ip())
            .collect(),
    };
    if ips.is_empty() {
        return Err(FetchError::NoAddresses(target.host.to_string()));
    }
    ips.into_iter()
        .map(|ip| check_addr(SocketAddr::new(ip, target.port), allow))
        .collect()
}
