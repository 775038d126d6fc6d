//! Behind a reverse proxy: per-address limits see each real client, not the
//! proxy they share, and only proxies the operator trusts are believed.
//!
//! The test client connects from 127.0.0.1, which the "proxied" servers
//! trust and connections from 127.0.0.2 are not; the limit observed is the
//! per-address sign-up limit (two an hour here).
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::{PASSWORD, TestServer};

const TRUSTING: &str = "[http]\ntrusted_proxies = [\"127.0.0.1/32\"]\n";
const LIMIT: (&str, &str) = ("KAIFANG_AUTH__SIGNUPS_PER_ADDRESS_PER_HOUR", "2");

fn client_from(from: &str) -> reqwest::Client {
    let ip: IpAddr = from.parse().unwrap();
    reqwest::Client::builder()
        .local_address(ip)
        .build()
        .unwrap()
}

/// Signs up `handle`, with `X-Forwarded-For: forwarded` if given; the status.
async fn sign_up(http: &reqwest::Client, url: &str, handle: &str, forwarded: Option<&str>) -> u16 {
    sign_up_with(http, url, handle, "x-forwarded-for", forwarded).await
}

async fn sign_up_with(
    http: &reqwest::Client,
    url: &str,
    handle: &str,
    header: &str,
    forwarded: Option<&str>,
) -> u16 {
    let handle = format!("user_{handle}");
    let mut request = http
        .post(format!("{url}/api/v1/accounts"))
        .json(&json!({"handle": handle, "password": PASSWORD}));
    if let Some(chain) = forwarded {
        request = request.header(header, chain);
    }
    request.send().await.unwrap().status().as_u16()
}

/// Two users behind one trusted proxy: one using up its sign-ups leaves the
/// other's intact, and prepending a fake address does not escape the limit.
#[tokio::test]
async fn clients_behind_a_trusted_proxy_have_their_own_limits() {
    let server = TestServer::start_full(&[LIMIT], Some(TRUSTING));
    let (url, proxy) = (&server.url, client_from("127.0.0.1"));
    let first = Some("203.0.113.1");
    assert_eq!(sign_up(&proxy, url, "a1", first).await, 201);
    assert_eq!(sign_up(&proxy, url, "a2", first).await, 201);
    assert_eq!(sign_up(&proxy, url, "a3", first).await, 429);
    // The client wrote the left part; the proxy appended its real address.
    let prepended = Some("198.51.100.9, 203.0.113.1");
    assert_eq!(sign_up(&proxy, url, "a4", prepended).await, 429);
    // Another client behind the same proxy is not affected.
    let second = Some("203.0.113.2");
    assert_eq!(sign_up(&proxy, url, "b1", second).await, 201);
    assert_eq!(sign_up(&proxy, url, "b2", second).await, 201);
}

/// With `proxy_header = "forwarded"`, RFC 7239's `for=` names the client,
/// and `X-Forwarded-For`, which such a proxy passes on from the client
/// unchanged, is ignored.
#[tokio::test]
async fn the_forwarded_header_when_the_proxies_write_it() {
    let toml = format!("{TRUSTING}proxy_header = \"forwarded\"\n");
    let server = TestServer::start_full(&[LIMIT], Some(&toml));
    let (url, proxy) = (&server.url, client_from("127.0.0.1"));
    let first = Some("for=\"[2001:db8::1]:4711\";proto=https");
    for (i, expected) in [201, 201, 429].into_iter().enumerate() {
        let handle = format!("v6{i}");
        assert_eq!(
            sign_up_with(&proxy, url, &handle, "forwarded", first).await,
            expected
        );
    }
    let second = Some("for=192.0.2.60;proto=https");
    assert_eq!(
        sign_up_with(&proxy, url, "v4a", "forwarded", second).await,
        201
    );
    // X-Forwarded-For is not read: these count as the proxy's own.
    for (i, expected) in [201, 201, 429].into_iter().enumerate() {
        let forged = format!("203.0.113.{i}");
        let handle = format!("x{i}");
        assert_eq!(sign_up(&proxy, url, &handle, Some(&forged)).await, expected);
    }
}

/// Anyone can send `X-Forwarded-For`: from a peer that is not trusted (on
/// a server that trusts another, and on one that trusts none) a different
/// forged address per request does not escape the peer's limit.
#[tokio::test]
async fn a_forged_header_from_an_untrusted_peer_is_ignored() {
    let trusting = TestServer::start_full(&[LIMIT], Some(TRUSTING));
    let plain = TestServer::start_with(&[LIMIT]);
    for (server, from) in [(&trusting, "127.0.0.2"), (&plain, "127.0.0.1")] {
        let http = client_from(from);
        let mut statuses = Vec::new();
        for i in 0..3 {
            let forged = format!("203.0.113.{}", 10 + i);
            statuses.push(sign_up(&http, &server.url, &format!("f{i}"), Some(&forged)).await);
        }
        assert_eq!(statuses, [201, 201, 429], "from {from} to {}", server.url);
    }
}

/// A chain of 100 hops is answered, and the client is its right-most hop
/// (the proxy's word), however the 99 before it vary.
#[tokio::test]
async fn a_chain_of_a_hundred_hops_finds_the_client() {
    let server = TestServer::start_full(&[LIMIT], Some(TRUSTING));
    let (url, proxy) = (&server.url, client_from("127.0.0.1"));
    let chain = |seed: u32| {
        let mut hops: Vec<String> = (0..99)
            .map(|i| format!("198.51.{}.{}", (seed + i) % 256, i))
            .collect();
        hops.push("203.0.113.77".into());
        hops.join(", ")
    };
    let started = Instant::now();
    for (i, expected) in [201, 201, 429].into_iter().enumerate() {
        let hops = chain(i as u32 * 7);
        assert_eq!(hops.split(',').count(), 100);
        assert_eq!(
            sign_up(&proxy, url, &format!("h{i}"), Some(&hops)).await,
            expected
        );
    }
    // A different right-most hop is a different client.
    assert_eq!(sign_up(&proxy, url, "h9", Some("203.0.113.78")).await, 201);
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A malformed entry stops the server at start, in one line naming the
/// setting and the entry, with a non-zero exit.
#[test]
fn a_malformed_trusted_proxy_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kaifang.toml");
    std::fs::write(&config, "[http]\ntrusted_proxies = [\"10.0.0.0/33\"]\n").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_kaifang"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("KAIFANG_LISTEN", "127.0.0.1:0")
        .env("KAIFANG_DATA_DIR", dir.path().join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = crate::server::refused_start(
        child,
        Duration::from_secs(30),
        "the server started with a malformed trusted_proxies entry",
    );
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("listening"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("trusted_proxies"), "{stderr}");
    assert!(stderr.contains("10.0.0.0/33"), "{stderr}");
}
