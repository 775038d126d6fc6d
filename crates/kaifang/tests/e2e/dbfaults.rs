//! A PostgreSQL database lost while the server runs: requests answer 503
//! with `Retry-After`, nothing acknowledged is lost, and the server
//! recovers by itself once the database is back. The database is "lost"
//! through a loopback forwarder this test owns, so the shared PostgreSQL
//! is never touched.
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::pgdb::PgDb;
use crate::{TestServer, id, user};

/// A TCP forwarder from a loopback port to PostgreSQL, on its own thread
/// and runtime (test servers start from blocking code, which must not stall
/// the forwarding of the server's first connections).
struct Forwarder {
    addr: SocketAddr,
    refusing: Arc<AtomicBool>,
    /// Bumped to cut every open connection.
    cuts: tokio::sync::watch::Sender<u64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Forwarder {
    fn start(target: SocketAddr) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let refusing = Arc::new(AtomicBool::new(false));
        let (cuts, watch) = tokio::sync::watch::channel(0u64);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let refuse = refusing.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::pin!(stopped);
                loop {
                    let accepted = tokio::select! {
                        _ = &mut stopped => return,
                        accepted = listener.accept() => accepted,
                    };
                    let Ok((mut client, _)) = accepted else {
                        continue;
                    };
                    // The generation before the flag: `cut` sets the flag
                    // before bumping it, so a connection let through here
                    // is cut by any later bump.
                    let generation = *watch.borrow();
                    if refuse.load(Ordering::SeqCst) {
                        // Accepted and closed at once: no database behind.
                        continue;
                    }
                    let mut watch = watch.clone();
                    tokio::spawn(async move {
                        let Ok(mut server) = tokio::net::TcpStream::connect(target).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = watch.wait_for(|g| *g != generation) => {}
                        }
                        // Both sockets dropped here: both ends see the loss.
                    });
                }
            });
        });
        Forwarder {
            addr,
            refusing,
            cuts,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The database is gone: open connections are cut, new ones closed.
    fn cut(&self) {
        self.refusing.store(true, Ordering::SeqCst);
        self.cuts.send_modify(|g| *g += 1);
    }

    /// The database is back.
    fn restore(&self) {
        self.refusing.store(false, Ordering::SeqCst);
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.cut();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `url` with its host and port replaced by the forwarder's.
fn through(url: &str, forwarder: &Forwarder) -> String {
    let mut url = url::Url::parse(url).unwrap();
    url.set_host(Some(&forwarder.addr.ip().to_string()))
        .unwrap();
    url.set_port(Some(forwarder.addr.port())).unwrap();
    url.to_string()
}

fn target_of(url: &str) -> SocketAddr {
    let url = url::Url::parse(url).unwrap();
    let host = url.host_str().unwrap();
    let port = url.port().unwrap_or(5432);
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .unwrap()
        .next()
        .unwrap()
}

/// A request while the database is gone: 503 problem+json with a
/// `Retry-After` of at least a second.
async fn assert_unavailable(response: reqwest::Response, what: &str) {
    assert_eq!(response.status().as_u16(), 503, "{what}");
    let headers = response.headers().clone();
    assert_eq!(
        headers["content-type"], "application/problem+json",
        "{what}"
    );
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1, "{what}: Retry-After {retry}");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/database-unavailable", "{what}");
    // The cause (hosts, ports) is for the log, not for the client.
    let text = problem.to_string();
    assert!(!text.contains("127.0.0.1"), "{what}: {text}");
}

/// Sends `text` with `txn` until the server acknowledges it, retrying on
/// 503 and on a lost connection as a client should; bounded.
async fn send_until_acknowledged(
    client: &kaifang_client::Client,
    conversation: i64,
    text: &str,
    txn: &str,
    refusals: &AtomicUsize,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match client.send(conversation, text, Some(txn)).await {
            Ok(message) => return message,
            Err(kaifang_client::Error::Api { status: 503, .. }) => {
                refusals.fetch_add(1, Ordering::SeqCst);
            }
            Err(kaifang_client::Error::Http(_)) => {}
            Err(other) => panic!("send {txn}: {other}"),
        }
        assert!(Instant::now() < deadline, "send {txn} never acknowledged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The database goes away in the middle of a stream of sends and comes
/// back: sends and reads answer 503 with `Retry-After` meanwhile, the
/// server needs no restart, and the conversation holds every acknowledged
/// message exactly once, with seq 1..=N in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_answers_503_and_the_server_recovers_by_itself() {
    const MESSAGES: usize = 40;
    let db = PgDb::create();
    let forwarder = Forwarder::start(target_of(&db.url));
    let url = through(&db.url, &forwarder);
    let server = TestServer::start_with(&[
        ("KAIFANG_DATABASE__URL", &url),
        ("KAIFANG_DATABASE__CONNECT_TIMEOUT_MS", "2000"),
        ("KAIFANG_DATABASE__ACQUIRE_TIMEOUT_MS", "2000"),
    ]);
    let alice = user(&server, "alice").await;
    let _bob = user(&server, "bob").await;
    let direct = id(&alice.open_direct("bob").await.unwrap());
    let probe = id(&alice
        .create_group("probe", &["bob".to_owned()])
        .await
        .unwrap());

    // One sender, sequential, each message retried with its own
    // client_txn_id until acknowledged.
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let refusals = Arc::new(AtomicUsize::new(0));
    let sender = {
        let (alice, acknowledged, refusals) =
            (alice.clone(), acknowledged.clone(), refusals.clone());
        tokio::spawn(async move {
            let mut acks = Vec::new();
            for i in 0..MESSAGES {
                let text = format!("message {i}");
                let txn = format!("txn-{i}");
                let m = send_until_acknowledged(&alice, direct, &text, &txn, &refusals).await;
                acks.push((text, m["id"].as_i64().unwrap(), m["seq"].as_i64().unwrap()));
                acknowledged.fetch_add(1, Ordering::SeqCst);
            }
            acks
        })
    };
    wait_until("ten acknowledged sends", || {
        acknowledged.load(Ordering::SeqCst) >= 10
    })
    .await;

    forwarder.cut();
    let http = reqwest::Client::new();
    let token = alice.token().unwrap().to_owned();
    let api = |path: &str| format!("{}/api/v1{path}", server.url);
    // The first request after the cut may still have found a connection
    // that was not yet seen closed; from then on, every one is a 503.
    let send = || {
        http.post(api(&format!("/conversations/{probe}/messages")))
            .bearer_auth(&token)
            .json(&serde_json::json!({"body": "while the database is away"}))
            .send()
    };
    let mut first = send().await.unwrap();
    if first.status().as_u16() != 503 {
        first = send().await.unwrap();
    }
    assert_unavailable(first, "send").await;
    for path in [
        "/conversations".to_owned(),
        format!("/conversations/{direct}/messages?limit=10"),
        "/events?timeout_ms=0".to_owned(),
    ] {
        let response = http
            .get(api(&path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_unavailable(response, &path).await;
    }
    wait_until("the sender to be refused", || {
        refusals.load(Ordering::SeqCst) >= 1
    })
    .await;

    forwarder.restore();
    let acks = tokio::time::timeout(Duration::from_secs(90), sender)
        .await
        .expect("the sender finished once the database was back")
        .unwrap();
    // The same process answered all along: no restart was needed.
    assert!(server.metrics().await.contains("kaifang_"));

    // Every acknowledged message is stored once, in order, seq 1..=N.
    let history = alice
        .history(direct, None, MESSAGES as u32 + 10)
        .await
        .unwrap();
    let mut stored: Vec<(String, i64, i64)> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["body"].as_str().unwrap().to_owned(),
                m["id"].as_i64().unwrap(),
                m["seq"].as_i64().unwrap(),
            )
        })
        .collect();
    stored.sort_by_key(|(_, _, seq)| *seq);
    assert_eq!(stored, acks);
    let seqs: Vec<i64> = stored.iter().map(|(_, _, seq)| *seq).collect();
    assert_eq!(seqs, (1..=MESSAGES as i64).collect::<Vec<_>>());
    drop(server);
    drop(forwarder);
}

/// Polls `condition` every 10 ms for at most 30 s.
async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
