//! `metrics.listen`: `/metrics` on a listener of its own (for a scraper on
//! a private address) and gone from the public one; and what it serves is
//! well-formed Prometheus text that a scraper can ingest.
use std::collections::HashMap;

use crate::{TestServer, id, user};

const TOKEN: &str = "scrape-me-91c2";

async fn get(url: &str, bearer: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{url}/metrics"));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

fn content_type(answer: &reqwest::Response) -> String {
    answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_separate_metrics_listener_takes_metrics_off_the_public_one() {
    let server = TestServer::start_with(&[("KAIFANG_METRICS__LISTEN", "127.0.0.1:0")]);
    let metrics_url = server
        .metrics_url
        .clone()
        .expect("the server names its metrics listener");
    assert_ne!(metrics_url, server.url);

    // Public listener: no metrics, a problem like any unknown page.
    let public = get(&server.url, None).await;
    assert_eq!(public.status().as_u16(), 404);
    assert_eq!(content_type(&public), "application/problem+json");
    assert!(!public.text().await.unwrap().contains("kaifang_"));

    // The API itself is where it was.
    let alice = user(&server, "alice").await;
    user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    alice.send(c, "counted", None).await.unwrap();

    // The metrics listener: no token needed, and it counts the public
    // listener's traffic (one store, one set of counters).
    let answer = get(&metrics_url, None).await;
    assert_eq!(answer.status().as_u16(), 200);
    assert!(content_type(&answer).starts_with("text/plain"));
    let text = answer.text().await.unwrap();
    assert!(
        text.lines().any(|l| l == "kaifang_messages_sent_total 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "kaifang_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1"
        ),
        "the public 404 is counted: {text}"
    );
    check_exposition(&text);

    // Only /metrics (and /healthz for probes) live there: not the API.
    let api = reqwest::get(format!("{metrics_url}/api/v1/openapi.json"))
        .await
        .unwrap();
    assert_eq!(api.status().as_u16(), 404);
    let health = reqwest::get(format!("{metrics_url}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test]
async fn the_metrics_listener_still_asks_for_the_token_when_one_is_set() {
    let server = TestServer::start_with(&[
        ("KAIFANG_METRICS__LISTEN", "127.0.0.1:0"),
        ("KAIFANG_METRICS__TOKEN", TOKEN),
    ]);
    let metrics_url = server.metrics_url.clone().expect("metrics listener");
    let refused = get(&metrics_url, None).await;
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(content_type(&refused), "application/problem+json");
    let answer = get(&metrics_url, Some(TOKEN)).await;
    assert_eq!(answer.status().as_u16(), 200);
    check_exposition(&answer.text().await.unwrap());
    // The token does not bring metrics back to the public listener.
    assert_eq!(get(&server.url, Some(TOKEN)).await.status().as_u16(), 404);
}

/// A `metrics.listen` address that cannot be bound stops the server at
/// start, in one line naming the address.
#[test]
fn a_metrics_address_in_use_refuses_to_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = crate::server::serve_refused(
        dir.path(),
        None,
        &[("KAIFANG_METRICS__LISTEN", addr.as_str())],
        "the server started with its metrics address taken",
    );
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}

/// Checks the text exposition format (0.0.4) as Prometheus parses it:
/// every sample belongs to a family declared once by `# TYPE` before it,
/// names and labels are well-formed, values are numbers, a histogram's
/// buckets are cumulative and end at `+Inf` equal to `_count`.
/// (CI also runs `promtool check metrics` on a live server's output.)
fn check_exposition(text: &str) {
    let mut types: HashMap<String, String> = HashMap::new();
    // (family, labels without `le`) → bucket counts in order, and `_count`.
    let mut buckets: HashMap<String, Vec<(String, f64)>> = HashMap::new();
    let mut counts: HashMap<String, f64> = HashMap::new();
    assert!(text.ends_with('\n'), "the exposition ends with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(valid_name(name), "{line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            let before = types.insert(name.to_owned(), kind.to_owned());
            assert!(before.is_none(), "family declared twice: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            assert!(valid_name(rest.split(' ').next().unwrap()), "{line}");
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
        let (series, value) = line.rsplit_once(' ').expect("name and value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, parse_labels(labels, line)),
            None => (series, Vec::new()),
        };
        assert!(valid_name(name), "{line}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(name);
        let kind = types
            .get(family)
            .unwrap_or_else(|| panic!("sample before its # TYPE: {line}"));
        if kind == "counter" || name.ends_with("_bucket") || name.ends_with("_count") {
            assert!(value >= 0.0, "negative counter: {line}");
        }
        let key = |labels: &[(String, String)]| {
            let rest: Vec<String> = labels
                .iter()
                .filter(|(k, _)| k != "le")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("{family}{{{}}}", rest.join(","))
        };
        if kind == "histogram" && name.ends_with("_bucket") {
            let le = labels
                .iter()
                .find(|(k, _)| k == "le")
                .unwrap_or_else(|| panic!("bucket without le: {line}"));
            buckets
                .entry(key(&labels))
                .or_default()
                .push((le.1.clone(), value));
        } else if kind == "histogram" && name.ends_with("_count") {
            counts.insert(key(&labels), value);
        }
    }
    assert!(!buckets.is_empty(), "no histogram to check:\n{text}");
    for (series, list) in &buckets {
        let bounds: Vec<f64> = list
            .iter()
            .map(|(le, _)| match le.as_str() {
                "+Inf" => f64::INFINITY,
                v => v.parse().expect("le is a number"),
            })
            .collect();
        assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{series}: {list:?}");
        assert_eq!(bounds.last(), Some(&f64::INFINITY), "{series}");
        assert!(
            list.windows(2).all(|w| w[0].1 <= w[1].1),
            "{series}: {list:?}"
        );
        assert_eq!(
            Some(list.last().unwrap().1),
            counts.get(series).copied(),
            "{series}"
        );
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `a="x",b="y"}` → pairs; label values may hold escaped quotes.
fn parse_labels(text: &str, line: &str) -> Vec<(String, String)> {
    let body = text.strip_suffix('}').unwrap_or_else(|| panic!("{line}"));
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
        assert!(valid_name(name), "label name {name:?}: {line}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    Some((_, 'n')) => value.push('\n'),
                    other => panic!("bad escape {other:?}: {line}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value: {line}"),
            }
        };
        out.push((name.to_owned(), value));
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    out
}
