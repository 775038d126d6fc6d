//! The client's address behind reverse proxies.
//!
//! Per-address limits (sign-ups, sign-in back-off) key on the client's
//! address. Behind a proxy the TCP peer is the proxy, shared by everyone, so
//! one attacker's failures would lock out the whole site. When the peer is
//! in `http.trusted_proxies`, the address is read from the header the proxy
//! writes (`http.proxy_header`), walking its hops from the right (the hop
//! the trusted proxy appended) past every trusted proxy; the first hop that
//! is not one is the client. Hops left of it were written by the client and
//! may be forged, so they are never read. From any other peer the headers
//! are ignored: anyone can send them.
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A network, `address/prefix` (`10.0.0.0/8`, `fd00::/8`); a bare address
/// is the network of that one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `addr` is inside the network. IPv4-mapped IPv6 addresses
    /// (`::ffff:10.0.0.1`, what a dual-stack listener reports) count as
    /// their IPv4 address.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, addr.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refuse = || format!("`{text}` is not an address or a network like 10.0.0.0/8");
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| refuse())?;
        let network = network.to_canonical();
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= bits && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(refuse()),
            },
        };
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Which header the trusted proxies write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, Caddy, HAProxy).
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    #[serde(rename = "forwarded")]
    Forwarded,
}

/// The client's address as the accept loop found it, for the `ClientAddr`
/// extractor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientIp(pub IpAddr);

/// How to find the client behind proxies: the parsed `http.*` proxy
/// settings.
#[derive(Debug, Clone)]
pub(crate) struct Proxies {
    pub trusted: Vec<Cidr>,
    pub header: ProxyHeader,
    pub max_hops: usize,
}

impl Proxies {
    pub fn new(settings: &crate::config::HttpSettings) -> Self {
        Self {
            trusted: settings.trusted_proxies.clone(),
            header: settings.proxy_header,
            max_hops: settings.max_forwarded_hops,
        }
    }

    fn trusts(&self, addr: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(addr))
    }

    /// The client's address for a request from `peer` carrying `headers`.
    ///
    /// At most `max_hops` hops are read, from the right: a chain longer than
    /// that through trusted proxies ends at the last hop read. A hop that is
    /// not an address (`unknown`, an obfuscated RFC 7239 name, garbage)
    /// stops the walk at the trusted proxy that wrote it, which is never
    /// wrong about itself.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if self.trusted.is_empty() || !self.trusts(peer) {
            return peer;
        }
        let name = match self.header {
            ProxyHeader::XForwardedFor => "x-forwarded-for",
            ProxyHeader::Forwarded => "forwarded",
        };
        let mut client = peer;
        // Repeated header lines form one list, in order. Hops are split
        // lazily from the right, so a long header costs only the hops read.
        let lines: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let hops = lines.iter().rev().flat_map(|line| line.rsplit(','));
        for hop in hops.take(self.max_hops) {
            let parsed = match self.header {
                ProxyHeader::XForwardedFor => parse_address(hop.trim()),
                ProxyHeader::Forwarded => forwarded_for(hop),
            };
            let Some(addr) = parsed else { break };
            client = addr;
            if !self.trusts(addr) {
                break;
            }
        }
        client
    }
}

/// The `for=` value of one RFC 7239 element (`for=1.2.3.4;proto=https`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        parse_address(value.trim().trim_matches('"'))
    })
}

/// An address, bare or with a port: `1.2.3.4`, `1.2.3.4:80`, `::1`,
/// `[::1]`, `[::1]:80`.
fn parse_address(text: &str) -> Option<IpAddr> {
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Some(addr.to_canonical());
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        return inside.parse::<IpAddr>().ok().map(|a| a.to_canonical());
    }
    let (host, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn proxies(trusted: &[&str], header: ProxyHeader) -> Proxies {
        Proxies {
            trusted: trusted.iter().map(|t| t.parse().unwrap()).collect(),
            header,
            max_hops: 20,
        }
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_contain() {
        let net: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped counts");
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.1")));
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "nonsense",
            "::/129",
            "1.2.3.4/",
            "1.2.3.4/+8",
        ] {
            let refused = bad.parse::<Cidr>().unwrap_err();
            assert!(refused.contains(bad), "{refused}");
        }
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let p = proxies(&["10.0.0.0/8"], ProxyHeader::XForwardedFor);
        let h = headers("x-forwarded-for", &["6.6.6.6, 203.0.113.5, 10.0.0.2"]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("203.0.113.5"));
        // Repeated lines are one list.
        let h = headers("x-forwarded-for", &["6.6.6.6", "203.0.113.5:4711"]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("203.0.113.5"));
        // All trusted: the left-most.
        let h = headers("x-forwarded-for", &["10.9.9.9, 10.0.0.2"]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.9.9.9"));
        // Garbage stops at the proxy that wrote it.
        let h = headers("x-forwarded-for", &["203.0.113.5, unknown"]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        // No header: the proxy itself.
        assert_eq!(p.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
    }

    #[test]
    fn an_untrusted_peer_cannot_forge() {
        let p = proxies(&["10.0.0.0/8"], ProxyHeader::XForwardedFor);
        let h = headers("x-forwarded-for", &["203.0.113.5"]);
        assert_eq!(p.client(ip("198.51.100.1"), &h), ip("198.51.100.1"));
        let none = proxies(&[], ProxyHeader::XForwardedFor);
        assert_eq!(none.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        // The header the proxies do not write is ignored even from them.
        let f = headers("forwarded", &["for=203.0.113.5"]);
        assert_eq!(p.client(ip("10.0.0.1"), &f), ip("10.0.0.1"));
    }

    #[test]
    fn forwarded_elements_name_their_for() {
        let p = proxies(&["10.0.0.0/8"], ProxyHeader::Forwarded);
        let h = headers(
            "forwarded",
            &[
                r#"for=6.6.6.6, For="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.3;by=10.0.0.1"#,
            ],
        );
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("2001:db8:cafe::17"));
        let hidden = headers("forwarded", &["for=_hidden"]);
        assert_eq!(p.client(ip("10.0.0.1"), &hidden), ip("10.0.0.1"));
    }

    #[test]
    fn long_chains_stop_at_the_hop_cap() {
        let p = proxies(&["10.0.0.0/8"], ProxyHeader::XForwardedFor);
        let mut chain: Vec<String> = vec!["203.0.113.5".into()];
        chain.extend((0..99).map(|i| format!("10.0.0.{}", i % 250)));
        let h = headers("x-forwarded-for", &[&chain.join(", ")]);
        // 100 hops, all but the first trusted: the walk gives up after 20,
        // at a trusted hop, never reaching the forgeable left end.
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip(&chain[80]));
    }
}
