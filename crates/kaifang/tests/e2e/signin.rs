//! Sign-in under attack: a flood cannot exhaust memory, concurrent guesses
//! cannot beat the limit, someone else's guesses never lock the owner out,
//! and "the first account is an administrator" holds under a race.
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use kaifang_client::Client;
use serde_json::json;

use crate::{PASSWORD, TestServer};

/// A client whose connections come from `from` (any 127.0.0.0/8 address
/// reaches the server over loopback, and the server sees it as the client's).
fn client_from(from: &str) -> reqwest::Client {
    let ip: IpAddr = from.parse().unwrap();
    reqwest::Client::builder()
        .local_address(ip)
        .build()
        .unwrap()
}

/// One sign-in; the status and the `Retry-After` seconds if any.
async fn sign_in(http: &reqwest::Client, url: &str, handle: &str, password: &str) -> (u16, u64) {
    let r = http
        .post(format!("{url}/api/v1/sessions"))
        .json(&json!({"handle": handle, "password": password}))
        .send()
        .await
        .unwrap();
    let wait = r
        .headers()
        .get("retry-after")
        .map_or(0, |v| v.to_str().unwrap().parse().unwrap());
    (r.status().as_u16(), wait)
}

fn kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

const ARGON2_KIB: u64 = 19_456;
const HASHES: u64 = 2;

/// 1,000 simultaneous wrong sign-ins (each for its own unknown handle, so
/// that every one would cost a real argon2 hash) leave memory bounded by the
/// hashes allowed at once, not by the attempts: the rest wait in a short
/// queue or are told to come back (503 with `Retry-After`).
#[tokio::test]
async fn a_sign_in_flood_keeps_memory_flat() {
    let server = TestServer::start_with(&[
        ("KAIFANG_AUTH__ARGON2_MEMORY_KIB", &ARGON2_KIB.to_string()),
        ("KAIFANG_AUTH__MAX_CONCURRENT_HASHES", &HASHES.to_string()),
        ("KAIFANG_AUTH__HASH_QUEUE", "8"),
        // The per-address back-off would refuse most attempts before any
        // hashing; out of the way, the hashing bound alone is tested.
        ("KAIFANG_AUTH__LOGIN_FREE_FAILURES_PER_ADDRESS", "1000000"),
    ]);
    let pid = server.pid();
    let baseline = kib(pid, "VmRSS");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let attempts = (0..1000).map(|i| {
        let (http, url) = (http.clone(), server.url.clone());
        tokio::spawn(async move {
            let r = http
                .post(format!("{url}/api/v1/sessions"))
                .json(&json!({"handle": format!("nobody{i}"), "password": "wrong password"}))
                .send()
                .await
                .unwrap();
            let busy_answer_is_complete = r.status() != 503
                || (r.headers().contains_key("retry-after")
                    && r.headers()["content-type"] == "application/problem+json");
            (r.status().as_u16(), busy_answer_is_complete)
        })
    });
    let all = futures_join(attempts.collect());
    let answers = tokio::time::timeout(Duration::from_secs(180), all)
        .await
        .expect("1,000 sign-ins answered within 180 s");
    let mut by_status = BTreeMap::new();
    for (status, complete) in answers {
        assert!(complete, "a 503 without Retry-After or problem+json");
        *by_status.entry(status).or_insert(0) += 1;
    }
    let peak = kib(pid, "VmHWM");
    eprintln!(
        "flood: {by_status:?}; RSS {} MiB at start, peak {} MiB",
        baseline / 1024,
        peak / 1024
    );
    assert_eq!(
        by_status.keys().copied().collect::<Vec<_>>(),
        [401, 503],
        "every attempt is refused as wrong or as busy, and the bound was hit"
    );
    // The hashes allowed at once, plus 64 KiB per connection for its
    // buffers and task, plus 32 MiB of allocator slack. Without a bound,
    // 1,000 hashes would hold 1,000 x 19 MiB = 19 GiB.
    let bound = baseline + HASHES * ARGON2_KIB + 1000 * 64 + 32 * 1024;
    assert!(
        peak < bound,
        "peak RSS {} MiB over the bound {} MiB",
        peak / 1024,
        bound / 1024
    );
}

/// Joins spawned tasks, failing on a panicked one.
async fn futures_join<T: Send + 'static>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

/// 60 simultaneous wrong passwords against a limit of 10 free failures:
/// the attempts are reserved before the hash is checked, so at most 10 are
/// checked (401); the others are told to wait (429).
#[tokio::test]
async fn simultaneous_guesses_cannot_exceed_the_limit() {
    let server = TestServer::start_with(&[
        ("KAIFANG_AUTH__LOGIN_FREE_FAILURES_PER_HANDLE", "10"),
        // Long enough that no attempt of the 60 gets past the wait.
        ("KAIFANG_AUTH__LOGIN_BACKOFF_MS", "600000"),
    ]);
    let c = Client::new(&server.url).unwrap();
    c.sign_up("alice", PASSWORD, None).await.unwrap();
    let http = reqwest::Client::new();
    let guesses = (0..60).map(|i| {
        let (http, url) = (http.clone(), server.url.clone());
        tokio::spawn(async move { sign_in(&http, &url, "alice", &format!("guess {i}")).await.0 })
    });
    let statuses = tokio::time::timeout(Duration::from_secs(60), futures_join(guesses.collect()))
        .await
        .expect("answered within 60 s");
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + refused, 60, "{statuses:?}");
    assert!((1..=10).contains(&checked), "{checked} passwords checked");
}

/// Someone hammers alice's handle from one address: that address backs off,
/// each wait twice the last, while alice, from an address with no failures,
/// signs in at once.
#[tokio::test]
async fn the_owner_signs_in_while_another_address_backs_off() {
    let server = TestServer::start_with(&[
        ("KAIFANG_AUTH__LOGIN_FREE_FAILURES_PER_HANDLE", "3"),
        ("KAIFANG_AUTH__LOGIN_BACKOFF_MS", "1000"),
    ]);
    let url = &server.url;
    let c = Client::new(url).unwrap();
    c.sign_up("alice", PASSWORD, None).await.unwrap();
    let attacker = client_from("127.0.0.1");
    for _ in 0..3 {
        assert_eq!(sign_in(&attacker, url, "alice", "guess").await.0, 401);
    }
    let mut waits = Vec::new();
    for _ in 0..3 {
        // Straight after a failure past the free ones: told to wait.
        let (status, wait) = sign_in(&attacker, url, "alice", "guess").await;
        assert_eq!(status, 429);
        waits.push(wait);
        // Even the right password waits, from this address...
        assert_eq!(sign_in(&attacker, url, "alice", PASSWORD).await.0, 429);
        // ...but not from alice's own.
        let owner = client_from("127.0.0.2");
        assert_eq!(sign_in(&owner, url, "alice", PASSWORD).await.0, 201);
        // Once the wait is over, one more guess is checked (and fails).
        let deadline = Instant::now() + Duration::from_secs(wait + 5);
        loop {
            assert!(Instant::now() < deadline, "the wait did not end");
            match sign_in(&attacker, url, "alice", "guess").await.0 {
                429 => tokio::time::sleep(Duration::from_millis(100)).await,
                401 => break,
                other => panic!("unexpected {other}"),
            }
        }
    }
    assert_eq!(waits, [1, 2, 4], "each wait doubles the last");
}

/// Fifty failures from one address (an office behind one NAT) on many
/// handles leave the other accounts behind it free to sign in.
#[tokio::test]
async fn failures_from_a_shared_address_do_not_lock_out_its_other_users() {
    let server = TestServer::start();
    let url = &server.url;
    let c = Client::new(url).unwrap();
    c.sign_up("bob", PASSWORD, None).await.unwrap();
    let office = client_from("127.0.0.3");
    for i in 0..50 {
        let (status, _) = sign_in(&office, url, &format!("user{}", i % 10), "guess").await;
        assert_eq!(status, 401, "attempt {i}");
    }
    assert_eq!(sign_in(&office, url, "bob", PASSWORD).await.0, 201);
}

/// Ten simultaneous sign-ups on a fresh server make exactly one
/// administrator, on each of ten servers.
#[tokio::test]
async fn simultaneous_first_sign_ups_make_exactly_one_admin() {
    for round in 0..10 {
        let server = TestServer::start();
        let signups = (0..10).map(|i| {
            let url = server.url.clone();
            tokio::spawn(async move {
                let mut c = Client::new(&url).unwrap();
                let handle = format!("user{i}");
                c.sign_up(&handle, PASSWORD, None).await.unwrap();
                c.sign_in(&handle, PASSWORD).await.unwrap();
                c.me().await.unwrap()["is_admin"] == true
            })
        });
        let admins = futures_join(signups.collect())
            .await
            .into_iter()
            .filter(|a| *a)
            .count();
        assert_eq!(admins, 1, "round {round}");
    }
}
