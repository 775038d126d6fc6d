//! End-to-end tests: the real `kaifang` binary, driven over HTTP and
//! WebSocket on loopback. One binary, a module per topic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod administration;
mod attachments;
mod avatars;
mod backend;
mod backup;
mod bench;
mod chat;
mod chat_state;
mod checkpoint;
mod cli;
mod connections;
mod contract;
mod conversations;
mod dbfaults;
mod durability;
mod events;
mod governance;
mod limits;
mod links;
mod logs;
mod messages;
mod metrics_auth;
mod metrics_listener;
mod moderation;
mod nodes;
mod payment_faults;
mod payments;
mod people;
mod pgdb;
mod preview_rules;
mod previews;
mod privileges;
mod problem_lang;
mod proxies;
mod replay;
mod search;
mod server;
mod shutdown;
mod signin;
mod switches;
mod system;

use kaifang_client::Client;
pub use server::TestServer;

pub const PASSWORD: &str = "correct horse battery";

/// Signs up and signs in `handle`.
pub async fn user(server: &TestServer, handle: &str) -> Client {
    let mut c = Client::new(&server.url).unwrap();
    c.sign_up(handle, PASSWORD, None).await.unwrap();
    c.sign_in(handle, PASSWORD).await.unwrap();
    c
}

/// The HTTP status of a failed call.
pub fn status<T: std::fmt::Debug>(r: Result<T, kaifang_client::Error>) -> u16 {
    match r {
        Err(kaifang_client::Error::Api { status, .. }) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// The status and detail of a refusal, which must be problem+json.
pub fn refusal<T: std::fmt::Debug>(r: Result<T, kaifang_client::Error>) -> (u16, String) {
    match r {
        Err(kaifang_client::Error::Api {
            status,
            detail,
            problem,
            ..
        }) => {
            assert!(
                problem["type"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("/problems/")),
                "not a problem: {problem}"
            );
            (status, detail)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The status of a refusal, which must be problem+json.
pub fn refused<T: std::fmt::Debug>(r: Result<T, kaifang_client::Error>) -> u16 {
    refusal(r).0
}

pub fn id(v: &serde_json::Value) -> i64 {
    v["id"].as_i64().expect("id")
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
