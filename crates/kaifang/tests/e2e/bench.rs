//! `kaifang bench` over two nodes of one cluster: the clients are spread
//! over both, and C and D send through the first node and receive on the
//! second, so that they time delivery between nodes.
use std::process::Command;

use serde_json::Value;

use crate::nodes::Pair;

/// The sum, over every status, of one route's requests in `/metrics`.
fn requests(metrics: &str, method: &str, route: &str) -> u64 {
    let prefix = format!("kaifang_http_requests_total{{method=\"{method}\",route=\"{route}\",");
    metrics
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn messages_stored(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("kaifang_messages_sent_total ")?.parse().ok())
        .unwrap_or_else(|| panic!("no kaifang_messages_sent_total in /metrics:\n{metrics}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_over_two_nodes_sends_on_the_first_and_receives_on_the_second() {
    let pair = Pair::start().await;
    let (a, b) = (pair.a.url.clone(), pair.b.url.clone());
    let urls = format!("{a},{b}");
    // Small counts; every scenario is bounded by --time-limit besides.
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_kaifang"))
            .args(["bench", "--url", &urls, "--scenarios", "abcd"])
            .args([
                "--a-messages",
                "10",
                "--b-senders",
                "4",
                "--b-messages",
                "5",
            ])
            .args(["--c-rate", "50", "--c-messages", "20"])
            .args([
                "--d-members",
                "6",
                "--d-messages",
                "3",
                "--time-limit",
                "60",
            ])
            .output()
            .expect("run kaifang bench")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON report");

    // The report names the nodes and the side each played.
    assert_eq!(report["servers"]["all"], serde_json::json!([a, b]));
    assert_eq!(report["servers"]["senders"], a.as_str());
    assert_eq!(report["servers"]["receivers"], serde_json::json!([b]));
    // Every message was acknowledged, and in C and D received.
    assert_eq!(report["a_sequential"]["messages"], 10);
    assert_eq!(report["b_concurrent"]["messages"], 20);
    assert_eq!(report["c_latency"]["n"], 20);
    assert_eq!(report["d_fanout"]["members"], 6);
    assert_eq!(report["d_fanout"]["all_members"]["n"], 3);

    // Where the clients really were, from each node's own counters. Sends:
    // A's sender and B's senders 1 and 3 (of 0–3) on the first node, B's 2
    // and 4 on the second, C's and D's only on the first: 10 + 2×5 + 20 + 3.
    let (ma, mb) = (pair.a.metrics().await, pair.b.metrics().await);
    assert_eq!(messages_stored(&ma), 43, "first node:\n{ma}");
    assert_eq!(messages_stored(&mb), 10, "second node:\n{mb}");
    // WebSockets: D's sender on the first node; C's receiver and D's five
    // other members on the second.
    assert_eq!(
        requests(&ma, "GET", "/api/v1/stream"),
        1,
        "first node:\n{ma}"
    );
    assert_eq!(
        requests(&mb, "GET", "/api/v1/stream"),
        6,
        "second node:\n{mb}"
    );
}

/// A malformed URL among the nodes is refused with one line and a
/// non-zero exit, before any traffic.
#[test]
fn bench_refuses_a_malformed_url() {
    let out = Command::new(env!("CARGO_BIN_EXE_kaifang"))
        .args([
            "bench",
            "--url",
            "http://127.0.0.1:1,not a url",
            "--scenarios",
            "a",
        ])
        .output()
        .expect("run kaifang bench");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not a url"), "{stderr}");
}
