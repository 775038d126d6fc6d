//! The server's log as operators collect it: `log.format = "json"` writes
//! one JSON object a line, carrying the request id a client sees in
//! `X-Request-Id`; text written to a pipe has no colour codes.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kaifang_client::Client;

use crate::PASSWORD;

/// A server whose standard error comes back line by line.
struct Logged {
    child: Child,
    url: String,
    lines: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(format: &str) -> Logged {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kaifang"))
        .arg("serve")
        .env("KAIFANG_LISTEN", "127.0.0.1:0")
        .env("KAIFANG_DATA_DIR", dir.path().join("data"))
        .env("KAIFANG_AUTH__ARGON2_MEMORY_KIB", "1024")
        .env("KAIFANG_AUTH__ARGON2_ITERATIONS", "1")
        .env("KAIFANG_PREVIEW__SYSTEM_DNS", "false")
        .env("KAIFANG_LOG", "info")
        .env("KAIFANG_LOG__FORMAT", format)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = stdout.next().expect("a line").unwrap();
    let url = first
        .strip_prefix("listening on ")
        .expect("listening")
        .to_owned();
    std::thread::spawn(move || for _ in stdout {});
    Logged {
        child,
        url,
        lines,
        _dir: dir,
    }
}

/// Lines until one satisfies `found` (bounded in time); all lines read.
fn read_until(lines: &mpsc::Receiver<String>, found: impl Fn(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                let done = found(&line);
                seen.push(line);
                if done {
                    return seen;
                }
            }
            Err(_) => panic!("not found in the log; it said:\n{}", seen.join("\n")),
        }
    }
}

/// Whether any value named `request_id` in `v` is `id`.
fn names_request(v: &serde_json::Value, id: &str) -> bool {
    match v {
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(k, inner)| (k == "request_id" && inner == id) || names_request(inner, id)),
        serde_json::Value::Array(items) => items.iter().any(|i| names_request(i, id)),
        _ => false,
    }
}

#[tokio::test]
async fn json_lines_carry_the_request_id_a_client_sees() {
    let server = start("json");
    let mut client = Client::new(&server.url).unwrap();
    client.sign_up("alice", PASSWORD, None).await.unwrap();
    let token = client.sign_in("alice", PASSWORD).await.unwrap();
    // An image the server cannot fetch (no DNS in tests): logged, with the
    // cause, for the request; the client gets a generic 422 and the id.
    let answer = reqwest::Client::new()
        .get(format!("{}/api/v1/previews/image", server.url))
        .query(&[("url", "https://pictures.invalid/cat.png")])
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 422);
    let id = answer.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let lines = read_until(&server.lines, |line| {
        serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| names_request(&v, &id))
    });
    for line in &lines {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(
            parsed["level"].is_string() && parsed["timestamp"].is_string(),
            "{line}"
        );
    }
    assert!(lines.iter().any(|l| l.contains("kaifang is listening")));
}

#[test]
fn text_written_to_a_pipe_has_no_colour_codes() {
    let server = start("text");
    let lines = read_until(&server.lines, |line| line.contains("kaifang is listening"));
    for line in lines {
        assert!(!line.contains('\u{1b}'), "escape codes in {line:?}");
        assert!(serde_json::from_str::<serde_json::Value>(&line).is_err());
    }
}
