//! The address policy over tables of addresses and host spellings. Nothing
//! here opens a connection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use kaifang_fetch::AddrClass::{self, *};
use kaifang_fetch::{classify, embedded_v4, is_public};
use url::{Host, Url};

fn check(table: &[(&str, AddrClass)]) {
    let mut wrong = Vec::new();
    for (text, expected) in table {
        let ip: IpAddr = text
            .parse()
            .unwrap_or_else(|_| panic!("bad test address {text}"));
        let got = classify(ip);
        if got != *expected {
            wrong.push(format!("{text}: expected {expected:?}, got {got:?}"));
        }
        assert_eq!(is_public(ip), *expected == Public, "{text}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn ipv4_table() {
    check(&[
        ("0.0.0.0", Unspecified),
        ("0.0.0.1", Reserved),
        ("0.255.255.255", Reserved),
        ("1.0.0.0", Public),
        ("1.1.1.1", Public),
        ("8.8.8.8", Public),
        ("9.255.255.255", Public),
        ("10.0.0.0", Private),
        ("10.0.0.1", Private),
        ("10.255.255.255", Private),
        ("11.0.0.0", Public),
        ("100.63.255.255", Public),
        ("100.64.0.0", SharedNat),
        ("100.127.255.255", SharedNat),
        ("100.128.0.0", Public),
        ("100.100.100.200", CloudMetadata),
        ("126.255.255.255", Public),
        ("127.0.0.0", Loopback),
        ("127.0.0.1", Loopback),
        ("127.0.0.2", Loopback),
        ("127.255.255.255", Loopback),
        ("128.0.0.0", Public),
        ("169.253.255.255", Public),
        ("169.254.0.0", LinkLocal),
        ("169.254.169.254", CloudMetadata),
        ("169.254.170.2", CloudMetadata),
        ("169.254.255.255", LinkLocal),
        ("169.255.0.0", Public),
        ("172.15.255.255", Public),
        ("172.16.0.0", Private),
        ("172.20.1.1", Private),
        ("172.31.255.255", Private),
        ("172.32.0.0", Public),
        ("192.0.0.0", Reserved),
        ("192.0.0.8", Reserved),
        ("192.0.0.170", Reserved),
        ("192.0.0.192", CloudMetadata),
        ("192.0.0.255", Reserved),
        ("192.0.1.0", Public),
        ("192.0.2.0", Documentation),
        ("192.0.2.255", Documentation),
        ("192.0.3.0", Public),
        ("192.88.99.1", Reserved),
        ("192.167.255.255", Public),
        ("192.168.0.0", Private),
        ("192.168.1.1", Private),
        ("192.168.255.255", Private),
        ("192.169.0.0", Public),
        ("198.17.255.255", Public),
        ("198.18.0.0", Benchmarking),
        ("198.19.255.255", Benchmarking),
        ("198.20.0.0", Public),
        ("198.51.99.255", Public),
        ("198.51.100.0", Documentation),
        ("198.51.100.255", Documentation),
        ("198.51.101.0", Public),
        ("203.0.112.255", Public),
        ("203.0.113.0", Documentation),
        ("203.0.113.255", Documentation),
        ("203.0.114.0", Public),
        ("223.255.255.255", Public),
        ("224.0.0.0", Multicast),
        ("224.0.0.251", Multicast),
        ("239.255.255.255", Multicast),
        ("240.0.0.0", Reserved),
        ("250.1.2.3", Reserved),
        ("255.255.255.254", Reserved),
        ("255.255.255.255", Broadcast),
    ]);
}

#[test]
fn ipv6_table() {
    check(&[
        ("::", Unspecified),
        ("::1", Loopback),
        ("::2", Reserved), // IPv4-compatible 0.0.0.2
        // IPv4-mapped: judged by the IPv4 address.
        ("::ffff:127.0.0.1", Loopback),
        ("::ffff:10.1.2.3", Private),
        ("::ffff:169.254.169.254", CloudMetadata),
        ("::ffff:0.0.0.0", Unspecified),
        ("::ffff:8.8.8.8", Public),
        // IPv4-compatible (deprecated): judged by the IPv4 address.
        ("::127.0.0.1", Loopback),
        ("::192.168.0.1", Private),
        ("::8.8.8.8", Public),
        // IPv4-translated ::ffff:0:0:0/96 is not routable.
        ("::ffff:0:7f00:1", Reserved),
        // NAT64 well-known prefix: judged by the IPv4 address.
        ("64:ff9b::7f00:1", Loopback),
        ("64:ff9b::a9fe:a9fe", CloudMetadata),
        ("64:ff9b::10.0.0.1", Private),
        ("64:ff9b::8.8.8.8", Public),
        ("64:ff9b:1::1", LocalNat64),
        ("64:ff9b:1:ffff::8.8.8.8", LocalNat64),
        ("64:ff9b:2::1", Reserved),
        ("100::", Reserved),
        ("100::ffff:ffff:ffff:ffff", Reserved),
        ("100:0:0:1::", Reserved),
        // 6to4: judged by the IPv4 address in bits 16..48.
        ("2002:7f00:1::", Loopback),
        ("2002:a00:1::1", Private),
        ("2002:a9fe:a9fe::", CloudMetadata),
        ("2002:808:808::1", Public),
        // Teredo and the rest of the IETF block.
        ("2001::", Teredo),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Teredo),
        ("2001:1::1", Reserved),
        ("2001:2::", Benchmarking),
        ("2001:2:0:ffff::1", Benchmarking),
        ("2001:3::1", Reserved),
        ("2001:10::1", Reserved),
        ("2001:1ff::1", Reserved),
        ("2001:200::1", Public),
        ("2001:db7:ffff::1", Public),
        ("2001:db8::", Documentation),
        ("2001:db8:ffff::1", Documentation),
        ("2001:db9::1", Public),
        ("2001:4860:4860::8888", Public),
        ("2606:4700:4700::1111", Public),
        ("2a00:1450:4001::1", Public),
        ("3fff::1", Documentation),
        ("3fff:fff::1", Documentation),
        ("3fff:1000::1", Public),
        ("3ffe::1", Public),
        // Outside 2000::/3.
        ("4000::1", Reserved),
        ("1000::1", Reserved),
        ("fc00::1", Private),
        ("fd12:3456::1", Private),
        ("fd00:ec2::254", CloudMetadata),
        ("fd00:ec2::253", Private),
        ("fdff:ffff::1", Private),
        ("fe80::1", LinkLocal),
        ("febf::1", LinkLocal),
        ("fec0::1", SiteLocal),
        ("feff::1", SiteLocal),
        ("ff00::", Multicast),
        ("ff02::1", Multicast),
        ("ff05::1:3", Multicast),
    ]);
}

#[test]
fn embedded_v4_is_found_only_at_fixed_places() {
    let cases: &[(&str, Option<&str>)] = &[
        ("::ffff:1.2.3.4", Some("1.2.3.4")),
        ("::1.2.3.4", Some("1.2.3.4")),
        ("64:ff9b::1.2.3.4", Some("1.2.3.4")),
        ("2002:102:304::", Some("1.2.3.4")),
        ("2001:db8::1.2.3.4", None),
        ("64:ff9b:1::1.2.3.4", None),
        ("fe80::1.2.3.4", None),
    ];
    for (v6, v4) in cases {
        let v6: Ipv6Addr = v6.parse().unwrap();
        let v4: Option<Ipv4Addr> = v4.map(|s| s.parse().unwrap());
        assert_eq!(embedded_v4(v6), v4, "{v6}");
    }
}

/// Every spelling the WHATWG parser accepts for a host ends as the canonical
/// address, and that address is what the policy judges.
#[test]
fn host_spellings_map_to_the_denied_address() {
    let cases: &[(&str, &str, AddrClass)] = &[
        ("127.0.0.1", "127.0.0.1", Loopback),
        ("2130706433", "127.0.0.1", Loopback),
        ("017700000001", "127.0.0.1", Loopback),
        ("0x7f000001", "127.0.0.1", Loopback),
        ("0x7f.1", "127.0.0.1", Loopback),
        ("0x7F.0.0.1", "127.0.0.1", Loopback),
        ("0177.0.0.1", "127.0.0.1", Loopback),
        ("0177.1", "127.0.0.1", Loopback),
        ("127.1", "127.0.0.1", Loopback),
        ("127.0.1", "127.0.0.1", Loopback),
        ("127.000.000.001", "127.0.0.1", Loopback),
        ("127.0.0.1.", "127.0.0.1", Loopback),
        ("%31%32%37%2e%30%2e%30%2e%31", "127.0.0.1", Loopback),
        ("１２７．０．０．１", "127.0.0.1", Loopback),
        ("0", "0.0.0.0", Unspecified),
        ("0x0", "0.0.0.0", Unspecified),
        ("10.1", "10.0.0.1", Private),
        ("167772161", "10.0.0.1", Private),
        ("0xa.0.0.1", "10.0.0.1", Private),
        ("0xA9FEA9FE", "169.254.169.254", CloudMetadata),
        ("2852039166", "169.254.169.254", CloudMetadata),
        ("0251.0376.0251.0376", "169.254.169.254", CloudMetadata),
        ("169.254.43518", "169.254.169.254", CloudMetadata),
        ("0xc0.0xa8.1", "192.168.0.1", Private),
        ("[::1]", "::1", Loopback),
        ("[0:0:0:0:0:0:0:1]", "::1", Loopback),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1", Loopback),
        ("[::ffff:7f00:1]", "::ffff:127.0.0.1", Loopback),
        (
            "[::ffff:a9fe:a9fe]",
            "::ffff:169.254.169.254",
            CloudMetadata,
        ),
        ("[64:ff9b::127.0.0.1]", "64:ff9b::7f00:1", Loopback),
        ("[FD00:EC2::254]", "fd00:ec2::254", CloudMetadata),
        ("[fe80::1]", "fe80::1", LinkLocal),
    ];
    for (spelling, canonical, class) in cases {
        let url = Url::parse(&format!("http://{spelling}/"))
            .unwrap_or_else(|e| panic!("{spelling}: {e}"));
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            other => panic!("{spelling} parsed as {other:?}"),
        };
        assert_eq!(ip, canonical.parse::<IpAddr>().unwrap(), "{spelling}");
        assert_eq!(classify(ip), *class, "{spelling}");
        assert!(!is_public(ip), "{spelling}");
    }
}
