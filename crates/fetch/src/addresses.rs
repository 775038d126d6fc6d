//! Address rules: which IP addresses the fetcher may connect to.
//!
//! The rules are an allow-list in spirit: an IPv6 address is public only inside
//! global unicast `2000::/3` and outside the special-purpose blocks carved from
//! it; an IPv4 address is public unless it falls in one of the special-purpose
//! ranges of the IANA registry. Addresses that carry an IPv4 address inside an
//! IPv6 one (mapped, compatible, NAT64, 6to4) are judged by the IPv4 address,
//! because that is where the packets end up.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of address an IP is, as far as fetching is concerned.
///
/// Only [`AddrClass::Public`] may be fetched without an explicit exception in
/// [`FetchConfig::allow_addresses`](crate::FetchConfig::allow_addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddrClass {
    /// A globally routable unicast address.
    Public,
    /// `0.0.0.0` or `::`: connecting to it reaches this host.
    Unspecified,
    /// `127.0.0.0/8` or `::1`.
    Loopback,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`) or unique local `fc00::/7`.
    Private,
    /// Link-local `169.254/16` or `fe80::/10`.
    LinkLocal,
    /// Deprecated IPv6 site-local `fec0::/10`.
    SiteLocal,
    /// Carrier-grade NAT shared space `100.64/10`.
    SharedNat,
    /// A cloud provider's instance metadata service (for example `169.254.169.254`, `fd00:ec2::254`).
    CloudMetadata,
    /// Multicast `224/4` or `ff00::/8`.
    Multicast,
    /// Limited broadcast `255.255.255.255`.
    Broadcast,
    /// Documentation ranges (`192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`).
    Documentation,
    /// Benchmarking ranges (`198.18/15`, `2001:2::/48`).
    Benchmarking,
    /// Teredo tunnelling `2001::/32`: the real endpoint is hidden in the address.
    Teredo,
    /// Local-use NAT64 `64:ff9b:1::/48`: translated to a network-specific IPv4 address.
    LocalNat64,
    /// Anything else that is reserved or not globally routable (`0/8`, `192.0.0/24`, `240/4`,
    /// `100::/64`, the rest of `2001::/23`, IPv6 outside `2000::/3`, …).
    Reserved,
}

impl AddrClass {
    /// A short human-readable name, used in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::SiteLocal => "site-local",
            Self::SharedNat => "carrier-grade NAT",
            Self::CloudMetadata => "cloud metadata",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::Teredo => "Teredo",
            Self::LocalNat64 => "local-use NAT64",
            Self::Reserved => "reserved",
        }
    }
}

impl std::fmt::Display for AddrClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// True when `ip` is a globally routable unicast address that the fetcher may reach.
pub fn is_public(ip: IpAddr) -> bool {
    classify(ip) == AddrClass::Public
}

/// Classifies `ip`; see [`AddrClass`].
pub fn classify(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Instance metadata endpoints of the big clouds. Most already sit in denied
/// ranges; naming them gives a clearer error and guards against a range table
/// mistake.
const METADATA_V4: [Ipv4Addr; 4] = [
    Ipv4Addr::new(169, 254, 169, 254), // AWS, GCP, Azure, OpenStack, DigitalOcean…
    Ipv4Addr::new(169, 254, 170, 2),   // AWS ECS task metadata
    Ipv4Addr::new(100, 100, 100, 200), // Alibaba Cloud
    Ipv4Addr::new(192, 0, 0, 192),     // Oracle Cloud
];
const METADATA_V6: [Ipv6Addr; 1] = [Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)];

/// `(network, prefix length, class)`; first match wins, so narrower blocks come first.
const V4_RANGES: &[([u8; 4], u8, AddrClass)] = &[
    ([0, 0, 0, 0], 32, AddrClass::Unspecified),
    ([0, 0, 0, 0], 8, AddrClass::Reserved),
    ([10, 0, 0, 0], 8, AddrClass::Private),
    ([100, 64, 0, 0], 10, AddrClass::SharedNat),
    ([127, 0, 0, 0], 8, AddrClass::Loopback),
    ([169, 254, 0, 0], 16, AddrClass::LinkLocal),
    ([172, 16, 0, 0], 12, AddrClass::Private),
    ([192, 0, 0, 0], 24, AddrClass::Reserved),
    ([192, 0, 2, 0], 24, AddrClass::Documentation),
    ([192, 88, 99, 0], 24, AddrClass::Reserved), // deprecated 6to4 relay anycast
    ([192, 168, 0, 0], 16, AddrClass::Private),
    ([198, 18, 0, 0], 15, AddrClass::Benchmarking),
    ([198, 51, 100, 0], 24, AddrClass::Documentation),
    ([203, 0, 113, 0], 24, AddrClass::Documentation),
    ([224, 0, 0, 0], 4, AddrClass::Multicast),
    ([255, 255, 255, 255], 32, AddrClass::Broadcast),
    ([240, 0, 0, 0], 4, AddrClass::Reserved),
];

fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    if METADATA_V4.contains(&ip) {
        return AddrClass::CloudMetadata;
    }
    let bits = u32::from(ip);
    V4_RANGES
        .iter()
        .find(|(net, len, _)| in_prefix_v4(bits, u32::from_be_bytes(*net), *len))
        .map_or(AddrClass::Public, |(_, _, class)| *class)
}

fn in_prefix_v4(bits: u32, net: u32, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    bits & mask == net & mask
}

fn in_prefix_v6(bits: u128, net: u128, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    bits & mask == net & mask
}

fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    if METADATA_V6.contains(&ip) {
        return AddrClass::CloudMetadata;
    }
    if ip.is_unspecified() {
        return AddrClass::Unspecified;
    }
    if ip.is_loopback() {
        return AddrClass::Loopback;
    }
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let bits = u128::from(ip);
    let v6 = |s: [u16; 8]| u128::from(Ipv6Addr::from(s));
    // Narrow special blocks first, then the broad ones.
    let table: [(u128, u8, AddrClass); 13] = [
        (
            v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0]),
            48,
            AddrClass::LocalNat64,
        ),
        (v6([0x100, 0, 0, 0, 0, 0, 0, 0]), 64, AddrClass::Reserved), // discard-only
        (v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 32, AddrClass::Teredo),
        (
            v6([0x2001, 2, 0, 0, 0, 0, 0, 0]),
            48,
            AddrClass::Benchmarking,
        ),
        (v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 23, AddrClass::Reserved), // IETF protocol assignments
        (
            v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]),
            32,
            AddrClass::Documentation,
        ),
        (
            v6([0x3fff, 0, 0, 0, 0, 0, 0, 0]),
            20,
            AddrClass::Documentation,
        ),
        (v6([0x2000, 0, 0, 0, 0, 0, 0, 0]), 3, AddrClass::Public),
        (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0]), 7, AddrClass::Private),
        (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0]), 10, AddrClass::LinkLocal),
        (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0]), 10, AddrClass::SiteLocal),
        (v6([0xff00, 0, 0, 0, 0, 0, 0, 0]), 8, AddrClass::Multicast),
        // Everything outside 2000::/3 that is not named above.
        (0, 0, AddrClass::Reserved),
    ];
    table
        .iter()
        .find(|(net, len, _)| in_prefix_v6(bits, *net, *len))
        .map_or(AddrClass::Reserved, |(_, _, class)| *class)
}

/// The IPv4 address that traffic to `ip` really reaches, for the IPv6 forms that
/// embed one at a fixed place: IPv4-mapped `::ffff:0:0/96`, IPv4-compatible
/// `::/96`, well-known NAT64 `64:ff9b::/96` and 6to4 `2002::/16`.
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let pair = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let low = pair(s[6], s[7]);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        // `::` and `::1` are handled by the caller; everything else in ::/96 is compatible.
        [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(pair(hi, lo)),
        _ => None,
    }
}
