//! Issue 13, item 4: switches mean what they say. `preview.enabled = false`
//! stops every fetch; a refused image names no address; `KAIFANG_*`
//! variables that are not settings do not stop the server, unknown keys in
//! the settings file do.
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::{TestServer, id, urlencode, user};

/// An HTTP server on 127.0.0.1 that answers a page to anything and counts
/// every connection it accepts, so a fetch of any kind shows.
async fn counting_site() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        for _ in 0..100 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let body = "<title>a page</title>";
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
            });
        }
    });
    (port, hits)
}

async fn problem(r: reqwest::Response) -> (u16, String, serde_json::Value) {
    let status = r.status().as_u16();
    let ctype = r.headers()["content-type"].to_str().unwrap().to_owned();
    let header_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(ctype, "application/problem+json");
    assert_eq!(body["request_id"], header_id.as_str(), "{body}");
    (status, header_id, body)
}

#[tokio::test]
async fn with_previews_off_nothing_is_fetched() {
    let (port, hits) = counting_site().await;
    // Everything a fetch would need is in place: the name maps to the
    // loopback site and its address is allowed. Only the switch is off.
    let settings = format!(
        "[preview]\nenabled = false\nallow_addresses = [\"127.0.0.1:{port}\"]\n\
         [preview.resolve]\n\"item.taobao.com\" = \"127.0.0.1\"\n"
    );
    let server = TestServer::start_full(&[], Some(&settings));
    let alice = user(&server, "alice").await;
    let token = alice.token().unwrap().to_owned();
    let page = format!("http://item.taobao.com:{port}/item");
    let http = reqwest::Client::new();
    for path in ["previews", "previews/image"] {
        let r = http
            .get(format!(
                "{}/api/v1/{path}?url={}",
                server.url,
                urlencode(&page)
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let (status, _, body) = problem(r).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["type"], "/problems/turned-off", "{path}: {body}");
    }
    // A sent message says at once that no card will come: the decision is
    // made before the answer, so nothing is left running to fetch later.
    let _bob = user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let sent = alice.send(c, &format!("see {page}"), None).await.unwrap();
    assert_eq!(sent["links"][0]["treatment"], "live", "{sent}");
    assert_eq!(sent["links"][0]["preview"], false, "{sent}");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the site was contacted");
}

#[tokio::test]
async fn a_refused_image_names_no_address() {
    let server = TestServer::start();
    let alice = user(&server, "alice").await;
    let http = reqwest::Client::new();
    // Nothing is sent by either request: a literal address is checked
    // before any connection is made (kaifang_fetch's `vet` hands out only
    // `Vetted` addresses to dial), and 127.0.0.1:9 is loopback, not in
    // `preview.allow_addresses`; the name is in no `preview.resolve` and
    // the test servers run with system DNS off, so it is not even looked up.
    for (url, secrets) in [
        ("http://127.0.0.1:9/cat.png", &["127.0.0.1", "loopback"][..]),
        (
            "http://intranet.corp.test/cat.png",
            &["intranet.corp.test", "resolve", "DNS"][..],
        ),
    ] {
        let r = http
            .get(format!(
                "{}/api/v1/previews/image?url={}",
                server.url,
                urlencode(url)
            ))
            .bearer_auth(alice.token().unwrap())
            .send()
            .await
            .unwrap();
        let (status, request_id, body) = problem(r).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(request_id.len(), 16, "{request_id}");
        let detail = body["detail"].as_str().unwrap();
        for secret in secrets {
            assert!(
                !body.to_string().contains(secret),
                "the answer tells {secret:?}: {body}"
            );
        }
        assert!(
            [
                "the address is not allowed",
                "the image could not be fetched"
            ]
            .contains(&detail),
            "{detail}"
        );
    }
}

fn serve(env: &[(&str, &str)], config: Option<&std::path::Path>) -> std::process::Child {
    let dir = std::env::temp_dir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kaifang"));
    cmd.arg("serve");
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    cmd.env("KAIFANG_LISTEN", "127.0.0.1:0")
        .env("KAIFANG_LOG", "warn")
        .env("KAIFANG_PREVIEW__SYSTEM_DNS", "false")
        .env("KAIFANG_DATA_DIR", dir.join("unused"))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("start kaifang serve")
}

#[test]
fn variables_that_name_no_setting_are_warned_about_not_fatal() {
    let data = tempfile::tempdir().unwrap();
    let mut child = serve(
        &[
            ("KAIFANG_BIN", "/usr/bin/true"),
            ("KAIFANG_NOT_A_SETTING", "1"),
            ("KAIFANG_DATA_DIR", data.path().to_str().unwrap()),
        ],
        None,
    );
    let stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lines = BufReader::new(stdout).lines();
    let listening = loop {
        assert!(Instant::now() < deadline, "no listening line: {seen:?}");
        let Some(line) = lines.next() else {
            break false;
        };
        let line = line.unwrap();
        if line.starts_with("listening on ") {
            break true;
        }
        seen.push(line);
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(listening, "the server did not start: {seen:?}");
    // The log is on standard error.
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    seen.extend(log.lines().map(str::to_owned));
    let warning = seen
        .iter()
        .find(|l| l.contains("WARN"))
        .unwrap_or_else(|| panic!("no warning: {seen:?}"));
    assert!(warning.contains("KAIFANG_BIN"), "{warning}");
    assert!(warning.contains("KAIFANG_NOT_A_SETTING"), "{warning}");
}

#[test]
fn an_unknown_key_in_the_settings_file_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kaifang.toml");
    std::fs::write(&path, "[limits]\nmax_mesage_bytes = 10\n").unwrap();
    let mut child = serve(&[], Some(&path));
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "it started with a misspelt setting");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("max_mesage_bytes"), "{stderr}");
}

/// The operator, unlike the client, gets the detail: the log line of the
/// refusal carries the address and the request id the client was given.
#[tokio::test]
async fn the_log_has_what_the_answer_leaves_out() {
    let data = tempfile::tempdir().unwrap();
    let mut child = serve(
        &[
            ("KAIFANG_LOG", "info"),
            ("KAIFANG_DATA_DIR", data.path().to_str().unwrap()),
            ("KAIFANG_AUTH__ARGON2_MEMORY_KIB", "1024"),
            ("KAIFANG_AUTH__ARGON2_ITERATIONS", "1"),
        ],
        None,
    );
    // "listening on" is on standard output, the log on standard error.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    for pipe in [Box::new(stdout) as Box<dyn Read + Send>, Box::new(stderr)] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
    }
    let next = || {
        rx.recv_timeout(Duration::from_secs(30))
            .expect("a log line")
    };
    let url = loop {
        if let Some(url) = next().strip_prefix("listening on ") {
            break url.trim().to_owned();
        }
    };
    let mut alice = kaifang_client::Client::new(&url).unwrap();
    alice.sign_up("alice", crate::PASSWORD, None).await.unwrap();
    alice.sign_in("alice", crate::PASSWORD).await.unwrap();
    // As above: a literal loopback address outside `allow_addresses` is
    // refused before any connection is made.
    let r = reqwest::Client::new()
        .get(format!(
            "{url}/api/v1/previews/image?url={}",
            urlencode("http://127.0.0.1:9/cat.png")
        ))
        .bearer_auth(alice.token().unwrap())
        .send()
        .await
        .unwrap();
    let (status, request_id, _) = problem(r).await;
    assert_eq!(status, 422);
    // The line was written before the answer was sent: it is in the pipe.
    let line = loop {
        let line = next();
        if line.contains(&request_id) {
            break line;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("127.0.0.1:9"), "{line}");
}
