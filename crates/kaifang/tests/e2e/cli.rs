use serde_json::json;
use std::process::Command;

use crate::TestServer;

fn kaifang(server: &TestServer, config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kaifang"))
        .args(["--server", &server.url, "--client-config"])
        .arg(config)
        .args(args)
        .env_remove("KAIFANG_TOKEN")
        .output()
        .expect("run kaifang")
}

fn ok(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

#[test]
fn the_two_minute_tour_works_from_the_cli() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("alice.json"), dir.path().join("bob.json"));
    ok(&kaifang(
        &server,
        &a,
        &["account", "create", "alice", "--password", "correct horse"],
    ));
    ok(&kaifang(
        &server,
        &b,
        &["account", "create", "bob", "--password", "correct horse"],
    ));
    ok(&kaifang(
        &server,
        &a,
        &["login", "alice", "--password", "correct horse"],
    ));
    ok(&kaifang(
        &server,
        &b,
        &["login", "bob", "--password", "correct horse"],
    ));
    let c = ok(&kaifang(
        &server,
        &a,
        &["conversation", "create", "--with", "bob"],
    ));
    let id = c["id"].to_string();
    let sent = ok(&kaifang(&server, &a, &["send", &id, "你好 bob"]));
    assert_eq!(sent["seq"], 1);
    let history = ok(&kaifang(&server, &b, &["history", &id]));
    assert_eq!(history["messages"][0]["body"], "你好 bob");
    let g = ok(&kaifang(
        &server,
        &a,
        &[
            "conversation",
            "create",
            "--title",
            "friends",
            "--members",
            "bob",
        ],
    ));
    assert_eq!(g["members"].as_array().unwrap().len(), 2);
    let tail = kaifang(&server, &b, &["tail", "--since", "c1.0", "--count", "3"]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&ok_raw(&tail))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    ok(&kaifang(&server, &a, &["logout"]));
}

fn ok_raw(out: &std::process::Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.clone()
}

#[test]
fn errors_are_one_line_with_a_non_zero_exit() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.json");
    let out = kaifang(&server, &cfg, &["send", "1", "hi"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("not signed in"));
    let out = kaifang(
        &server,
        &cfg,
        &["account", "create", "BAD!", "--password", "correct horse"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("handle"));
}

fn offline(args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kaifang"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn links_check_and_batch_extract_work_offline() {
    let out = offline(
        &[
            "links",
            "check",
            "--kind",
            "group",
            "看 https://item.taobao.com/item.htm?id=1",
        ],
        "",
    );
    let v = ok(&out);
    assert_eq!(v["links"][0]["treatment"], "inert");
    assert_eq!(v["links"][0]["policies"][0], "groups-rival-platforms-inert");
    let out = offline(
        &["links", "extract"],
        "{\"id\":\"a\",\"text\":\"see jd.com/1.html and 1.2.3\"}\n{\"id\":2,\"text\":\"none\"}\n",
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&ok_raw(&out))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"id":"a","urls":["jd.com/1.html"]}),
            serde_json::json!({"id":2,"urls":[]})
        ]
    );
    let bad = offline(
        &["links", "extract"],
        "{\"id\":1,\"text\":\"ok\"}\nnot json\n",
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("line 2"));
}

#[test]
fn preview_extract_reads_a_page_from_stdin() {
    let page = "<html lang=en><head><meta property=\"og:title\" content=\"Cup\"><meta property=\"product:price:amount\" content=\"9.90\"></head></html>";
    let v = ok(&offline(
        &["preview", "extract", "--page-url", "https://shop.test/p"],
        page,
    ));
    assert_eq!(
        (v["title"].as_str(), v["price"].as_str(), v["kind"].as_str()),
        (Some("Cup"), Some("9.90"), Some("product"))
    );
    let refused = offline(&["preview", "fetch", "http://127.0.0.1:9/"], "");
    assert!(
        !refused.status.success(),
        "loopback is refused before connecting"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("loopback"));
}

/// Batch `links check`: one decision line per case, in order; a malformed
/// line is named on stderr by number, the rest still decided, exit non-zero.
#[test]
fn links_check_decides_json_lines_in_order_and_names_bad_lines() {
    let input = concat!(
        "{\"id\":\"g\",\"text\":\"￥Ab3dE5fG7hK￥ 打开淘宝\",\"conversation_kind\":\"group\",\"members\":12}\n",
        "{\"id\":2,\"text\":\"￥Ab3dE5fG7hK￥ 打开淘宝\",\"conversation_kind\":\"direct\"}\n",
        "{\"id\":3,\"text\":\"看 https://item.taobao.com/item.htm?id=1\",\"conversation_kind\":\"channel\"}\n",
        "not json\n",
        "\n",
        "{\"id\":5,\"text\":\"no links here\"}\n",
    );
    let out = offline(&["links", "check"], input);
    assert!(!out.status.success(), "bad lines make the exit non-zero");
    let err = String::from_utf8_lossy(&out.stderr);
    let err_lines: Vec<&str> = err.lines().collect();
    assert!(err_lines.iter().any(|l| l.starts_with("line 3:")), "{err}");
    assert!(err_lines.iter().any(|l| l.starts_with("line 4:")), "{err}");
    // Not a terminal: no progress line.
    assert!(!err.contains("lines/s"), "{err}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&serde_json::Value> = lines.iter().map(|l| &l["id"]).collect();
    assert_eq!(ids, [&json!("g"), &json!(2), &json!(5)]);
    assert_eq!(lines[0]["links"][0]["kind"], "share_code");
    assert_eq!(lines[0]["links"][0]["platform"], "taobao");
    assert_eq!(lines[0]["links"][0]["treatment"], "inert");
    assert_eq!(lines[1]["links"][0]["treatment"], "live");
    assert_eq!(lines[2]["links"], json!([]));
    assert_eq!(lines[2]["policy_version"], 0);

    let clean = offline(
        &["links", "check", "-"],
        "{\"id\":1,\"text\":\"jd.com/1.html\"}\n",
    );
    assert_eq!(ok_raw(&clean).iter().filter(|&&b| b == b'\n').count(), 1);
}
