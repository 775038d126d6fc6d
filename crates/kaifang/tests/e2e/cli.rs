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
    // Everyday chat: reply, edit, react, recall.
    let reply = ok(&kaifang(
        &server,
        &b,
        &["send", &id, "hi", "--reply-to", "1"],
    ));
    assert_eq!(reply["reply"]["sender"], "alice");
    let edited = ok(&kaifang(&server, &a, &["edit", &id, "1", "你好, bob"]));
    assert!(edited["edited_at"].is_string());
    ok(&kaifang(&server, &b, &["react", &id, "1", "👍"]));
    let history = ok(&kaifang(&server, &a, &["history", &id]));
    assert_eq!(history["messages"][0]["body"], "你好, bob");
    assert_eq!(history["messages"][0]["reactions"][0]["users"][0], "bob");
    let refused = kaifang(&server, &b, &["react", &id, "1", "ok"]);
    assert!(!refused.status.success());
    ok(&kaifang(&server, &a, &["recall", &id, "1"]));
    let history = ok(&kaifang(&server, &b, &["history", &id]));
    assert_eq!(history["messages"][0]["recalled"], true);
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

/// A free loopback port below the ephemeral range, which servers started
/// on port 0 (the other tests') draw from: a server can stop and a new one
/// take the same port without another test's server taking it meanwhile.
fn port_outside_the_ephemeral_range() -> u16 {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .unwrap_or_else(|_| "32768 60999".into());
    let low: u16 = range.split_whitespace().next().unwrap().parse().unwrap();
    let start = low - 1 - (std::process::id() % 4000) as u16;
    (2000..start)
        .rev()
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port")
}

/// `kaifang tail` across a graceful restart: the server is stopped with
/// SIGTERM (its streams close with 1012) and a new one starts on the same
/// data and port; tail reconnects by itself and prints every message
/// exactly once, in order, those sent before and after the restart.
#[tokio::test]
async fn tail_resumes_across_a_server_restart_without_loss_or_duplicates() {
    use std::io::BufRead;
    let port = port_outside_the_ephemeral_range();
    let listen = format!("127.0.0.1:{port}");
    let mut server = TestServer::start_with(&[("KAIFANG_LISTEN", &listen)]);
    let alice = crate::user(&server, "alice").await;
    let bob = crate::user(&server, "bob").await;
    let direct = crate::id(&alice.open_direct("bob").await.unwrap());

    let dir = tempfile::tempdir().unwrap();
    let mut tail = Command::new(env!("CARGO_BIN_EXE_kaifang"))
        .args(["--server", &server.url, "--client-config"])
        .arg(dir.path().join("bob.json"))
        .args(["tail", "--count", "10", "--give-up-after", "60"])
        .env("KAIFANG_TOKEN", bob.token().unwrap())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, printed) = std::sync::mpsc::channel();
    let stdout = std::io::BufReader::new(tail.stdout.take().unwrap());
    let reader = std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut seen: Vec<serde_json::Value> = Vec::new();
    let read = |seen: &mut Vec<serde_json::Value>, n: usize| {
        while seen.len() < n {
            let line = printed
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("tail printed {} lines, not {n}", seen.len()));
            seen.push(serde_json::from_str(&line).unwrap());
        }
    };

    server.wait_for_clients(1).await;
    for i in 0..5 {
        alice.send(direct, &format!("m{i}"), None).await.unwrap();
    }
    read(&mut seen, 5);

    server.sigterm();
    let (status, _) = server.wait_exit(std::time::Duration::from_secs(30));
    assert!(status.success(), "{status}");
    server.restart();
    assert!(server.url.ends_with(&format!(":{port}")), "{}", server.url);
    // A new client: the old one's kept-alive connections died with the server.
    let alice = kaifang_client::Client::new(&server.url)
        .unwrap()
        .with_token(alice.token().unwrap());
    for i in 5..10 {
        alice.send(direct, &format!("m{i}"), None).await.unwrap();
    }
    read(&mut seen, 10);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = tail.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = tail.kill();
            let _ = tail.wait();
            panic!("tail did not stop after --count 10");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(status.success(), "{status}");
    // Its output is complete once the reader has met its end.
    reader.join().unwrap();
    assert_eq!(
        printed.try_iter().count(),
        0,
        "tail printed more than 10 lines"
    );
    let bodies: Vec<&str> = seen
        .iter()
        .map(|e| e["message"]["body"].as_str().unwrap_or_default())
        .collect();
    let expected: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    assert_eq!(bodies, expected);
}
