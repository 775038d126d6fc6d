//! Several nodes: two `kaifang serve` processes on one PostgreSQL database
//! (always PostgreSQL, whatever `KAIFANG_TEST_BACKEND` says) and one NATS
//! server that each test starts itself on a free loopback port, so that it
//! can kill and restart it. Without PostgreSQL or `nats-server` these tests
//! fail, saying so.
use std::collections::HashMap;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kaifang_client::{Client, Error};
use serde_json::Value;

use crate::pgdb::PgDb;
use crate::{PASSWORD, TestServer, id, status, user};

/// `nats-server` (the Debian package installs it here; `.ci/run` does).
const NATS_SERVER: &str = "/usr/sbin/nats-server";

/// A `nats-server` process of this test's own.
pub struct Nats {
    child: Option<Child>,
    port: u16,
}

impl Nats {
    pub fn start() -> Nats {
        // A port that was free a moment ago; taken meanwhile, try another.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut nats = Nats { child: None, port };
            if nats.spawn() {
                return nats;
            }
        }
        panic!("could not start {NATS_SERVER} on a free loopback port");
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the process; whether it listens within 10 s.
    fn spawn(&mut self) -> bool {
        let child = Command::new(NATS_SERVER)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{NATS_SERVER} (apt package nats-server): {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && child.try_wait().unwrap().is_some()
            {
                self.child = None;
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        false
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.spawn() {
            assert!(Instant::now() < deadline, "nats-server did not restart");
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Two nodes, one database, one bus. Fields drop in order: the servers
/// before the database they use.
pub struct Pair {
    pub a: TestServer,
    pub b: TestServer,
    pub nats: Nats,
    _db: PgDb,
}

impl Pair {
    pub async fn start() -> Pair {
        let db = PgDb::create();
        let nats = Nats::start();
        let env = [
            ("KAIFANG_DATABASE__URL", db.url.as_str()),
            ("KAIFANG_BUS__URL", &nats.url()),
        ];
        let a = TestServer::start_with(&env);
        let b = TestServer::start_with(&env);
        let pair = Pair {
            a,
            b,
            nats,
            _db: db,
        };
        // The bus connects in the background: wait for it, so that the
        // tests exercise it and not only the resync.
        healthy(&pair.a, "ok").await;
        healthy(&pair.b, "ok").await;
        pair
    }
}

/// Waits (bounded) until `/healthz` answers `want`.
async fn healthy(server: &TestServer, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = reqwest::get(format!("{}/healthz", server.url))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = response.text().await.unwrap();
        if body == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz still says {body:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The value of an unlabelled metric.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

/// `handle`, signed in on `server` (the account exists).
async fn sign_in(server: &TestServer, handle: &str) -> Client {
    let mut c = Client::new(&server.url).unwrap();
    c.sign_in(handle, PASSWORD).await.unwrap();
    c
}

/// The next `n` events of a stream, each within a generous bound.
async fn events(stream: &mut kaifang_client::EventStream, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(15), stream.next_event())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} events arrived", out.len()));
        out.push(next.expect("stream open").expect("an event"));
    }
    out
}

/// A message sent on one node reaches, in order, a WebSocket and a long
/// poll on the other; a retry of its `client_txn_id` on the other node
/// returns the original message, stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_cross_nodes_in_order_and_retries_find_the_original() {
    let pair = Pair::start().await;
    let alice = user(&pair.a, "alice").await;
    user(&pair.a, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let bob = sign_in(&pair.b, "bob").await;
    let start = bob.poll(None, 0).await.unwrap()["next"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut stream = bob.stream(Some(&start)).await.unwrap();
    pair.b.wait_for_clients(1).await;

    const N: usize = 60;
    for i in 0..N {
        alice
            .send(c, &format!("m{i}"), Some(&format!("t{i}")))
            .await
            .unwrap();
    }
    let got = events(&mut stream, N).await;
    let bodies: Vec<&str> = got
        .iter()
        .map(|e| e["message"]["body"].as_str().unwrap())
        .collect();
    let want: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
    assert_eq!(bodies, want, "the stream on node B");
    let seqs: Vec<i64> = got
        .iter()
        .map(|e| e["message"]["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=N as i64).collect::<Vec<_>>());

    // A long poll on node B from the same cursor sees the same events.
    let mut polled = Vec::new();
    let mut since = start;
    while polled.len() < N {
        let page = bob.poll(Some(&since), 5_000).await.unwrap();
        since = page["next"].as_str().unwrap().to_owned();
        polled.extend(page["events"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(polled, got);

    // Alice's retry lands on node B: the original comes back.
    let alice_b = Client::new(&pair.b.url)
        .unwrap()
        .with_token(alice.token().unwrap());
    let original = alice.send(c, "once", Some("same")).await.unwrap();
    let retried = alice_b.send(c, "once (retry)", Some("same")).await.unwrap();
    assert_eq!(retried["id"], original["id"]);
    assert_eq!(retried["body"], "once");
    let history = bob.history(c, None, 200).await.unwrap();
    let onces = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["client_txn_id"] == "same")
        .count();
    assert_eq!(onces, 1);

    let metrics = pair.b.metrics().await;
    assert!(
        metric(&metrics, "kaifang_bus_received_total") > 0,
        "{metrics}"
    );
    assert_eq!(metric(&metrics, "kaifang_bus_connected"), 1);
    assert!(metric(&pair.a.metrics().await, "kaifang_bus_published_total") > 0);
}

/// A sign-out on node A: node B refuses the token and closes the session's
/// stream there (code 4001), within a bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_on_one_node_ends_the_session_on_the_other() {
    let pair = Pair::start().await;
    user(&pair.a, "alice").await;
    let mut on_a = sign_in(&pair.a, "alice").await;
    let on_b = Client::new(&pair.b.url)
        .unwrap()
        .with_token(on_a.token().unwrap());
    on_b.me().await.unwrap(); // cached on B now
    let mut stream = on_b.stream(None).await.unwrap();
    pair.b.wait_for_clients(1).await;

    on_a.sign_out().await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.next_text())
        .await
        .expect("node B's stream closes after the sign-out on node A");
    assert!(closed.is_none(), "expected a close, got {closed:?}");
    assert_eq!(stream.close_frame().map(|(code, _)| code), Some(4001));
    assert_eq!(status(on_b.me().await), 401);
}

/// One sender's record: what it got acknowledged, by client_txn_id.
type Acked = Vec<(String, i64)>;

/// The two nodes' addresses, as they are now (a restarted node has a new
/// port).
type Urls = Arc<std::sync::RwLock<[String; 2]>>;

fn url_of(urls: &Urls, i: usize) -> String {
    urls.read().unwrap()[i % 2].clone()
}

/// Sends `count` messages with idempotency keys, to node `first` first and,
/// when a node stops answering, to the next: a send whose answer was lost
/// is retried with the same key, so "acknowledged" is exact.
async fn sender(
    token: String,
    urls: Urls,
    first: usize,
    c: i64,
    tag: String,
    count: usize,
    acks: Arc<AtomicUsize>,
) -> Acked {
    let mut node = 0;
    let mut acked = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    for i in 0..count {
        let txn = format!("{tag}-{i}");
        loop {
            assert!(Instant::now() < deadline, "sender {tag} ran out of time");
            let client = Client::new(&url_of(&urls, first + node))
                .unwrap()
                .with_token(&token);
            let sent = tokio::time::timeout(
                Duration::from_secs(10),
                client.send(c, &format!("m {txn}"), Some(&txn)),
            )
            .await;
            match sent {
                Ok(Ok(m)) => {
                    acked.push((txn.clone(), m["id"].as_i64().unwrap()));
                    acks.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                Ok(Err(Error::Http(_))) | Err(_) => node += 1,
                Ok(Err(e)) if matches!(&e, Error::Api { status: 503, .. }) => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Ok(Err(e)) => panic!("send {txn}: {e}"),
            }
        }
    }
    acked
}

/// What one reader received: every event, in arrival order, and when it
/// had to reconnect, how long that took.
struct Received {
    events: Vec<Value>,
    reconnects: Vec<Duration>,
}

/// Reads the stream from `start` on node `first`; when the connection breaks,
/// reconnects to the next node with its last cursor. Stops once it has
/// `until` message events.
async fn reader(
    token: String,
    urls: Urls,
    first: usize,
    start: String,
    until: Arc<AtomicUsize>,
    done: Arc<AtomicUsize>,
) -> Received {
    let mut node = 0;
    let mut cursor = start;
    let mut received = Received {
        events: Vec::new(),
        reconnects: Vec::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut broken: Option<Instant> = None;
    loop {
        assert!(Instant::now() < deadline, "a reader ran out of time");
        let client = Client::new(&url_of(&urls, first + node))
            .unwrap()
            .with_token(&token);
        let Ok(mut stream) = client.stream(Some(&cursor)).await else {
            node += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        if let Some(at) = broken.take() {
            received.reconnects.push(at.elapsed());
        }
        loop {
            let wanted = until.load(Ordering::SeqCst);
            if wanted > 0 && received.events.len() >= wanted {
                done.fetch_add(1, Ordering::SeqCst);
                return received;
            }
            match tokio::time::timeout(Duration::from_millis(200), stream.next_event()).await {
                Err(_) => continue,
                Ok(Some(Ok(event))) => {
                    if let Some(c) = event["cursor"].as_str() {
                        cursor = c.to_owned();
                        received.events.push(event);
                    }
                }
                Ok(_) => {
                    broken = Some(Instant::now());
                    node += 1;
                    break;
                }
            }
        }
    }
}

/// Every event committed after `start` that `client` may see, read from
/// the database by long polls with no wait.
async fn committed(client: &Client, start: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut since = start.to_owned();
    loop {
        let page = client.poll(Some(&since), 0).await.unwrap();
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            return out;
        }
        since = page["next"].as_str().unwrap().to_owned();
        out.extend(events.iter().cloned());
    }
}

/// The invariants after a run: nothing acknowledged lost, nothing stored
/// twice, seq contiguous in every conversation, and each reader received
/// exactly the committed events after its cursor, in order, once.
async fn check(
    checker: &Client,
    conversations: &[i64],
    acked: &[Acked],
    readers: &[(Client, Received)],
    starts: &[String],
) {
    let acked: HashMap<&str, i64> = acked
        .iter()
        .flatten()
        .map(|(txn, id)| (txn.as_str(), *id))
        .collect();
    let mut stored = HashMap::new();
    for &c in conversations {
        let mut seqs = Vec::new();
        let mut before = None;
        loop {
            let page = checker.history(c, before, 200).await.unwrap();
            let msgs = page["messages"].as_array().unwrap().clone();
            if msgs.is_empty() {
                break;
            }
            before = msgs[0]["seq"].as_i64();
            for m in msgs {
                seqs.push(m["seq"].as_i64().unwrap());
                let txn = m["client_txn_id"].as_str().unwrap().to_owned();
                let again = stored.insert(txn.clone(), m["id"].as_i64().unwrap());
                assert!(again.is_none(), "{txn} stored twice");
            }
        }
        seqs.sort_unstable();
        assert_eq!(
            seqs,
            (1..=seqs.len() as i64).collect::<Vec<_>>(),
            "a gap in conversation {c}"
        );
    }
    for (txn, id) in &acked {
        assert_eq!(
            stored.get(*txn),
            Some(id),
            "acknowledged {txn} lost or changed"
        );
    }
    for (r, ((reader, got), start)) in readers.iter().zip(starts).enumerate() {
        let name = format!("reader{r}");
        let want = committed(reader, start).await;
        let got_cursors: Vec<&Value> = got.events.iter().map(|e| &e["cursor"]).collect();
        let want_cursors: Vec<&Value> = want.iter().map(|e| &e["cursor"]).collect();
        assert_eq!(
            got_cursors, want_cursors,
            "reader {name}: not exactly the committed events, in order"
        );
        assert_eq!(got.events, want, "reader {name}: an event differs");
    }
}

/// kill -9 one node while senders on both nodes write and readers on both
/// read; its clients move to the other node with their cursor; nothing
/// acknowledged is lost, nothing repeats, and every reader has every
/// committed event once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_a_node_under_load_loses_nothing() {
    let mut pair = Pair::start().await;
    run_under_load(&mut pair, Fault::KillNodeA).await;
}

/// NATS killed and restarted in the middle of a run: delivery goes on from
/// the database, and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restarting_nats_under_load_loses_nothing() {
    let mut pair = Pair::start().await;
    run_under_load(&mut pair, Fault::RestartNats).await;
}

/// Both nodes restarted one after the other (SIGTERM, start again) under
/// load: nothing lost; each reader's reconnection times are printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolling_restart_under_load_loses_nothing() {
    let mut pair = Pair::start().await;
    run_under_load(&mut pair, Fault::RollingRestart).await;
}

#[derive(Clone, Copy, PartialEq)]
enum Fault {
    KillNodeA,
    RestartNats,
    RollingRestart,
}

const SENDERS: usize = 3;
const PER_SENDER: usize = 100;

/// Senders on both nodes, a reader on each, one fault in the middle, then
/// the invariants.
async fn run_under_load(pair: &mut Pair, fault: Fault) {
    let checker = user(&pair.a, "checker").await;
    let readers: Vec<Client> = vec![
        user(&pair.a, "reader0").await,
        user(&pair.a, "reader1").await,
    ];
    let mut conversations = Vec::new();
    let mut tokens = Vec::new();
    for s in 0..SENDERS {
        let c = user(&pair.a, &format!("sender{s}")).await;
        let conv = c
            .create_group(
                &format!("g{s}"),
                &[
                    "checker".to_owned(),
                    "reader0".to_owned(),
                    "reader1".to_owned(),
                ],
            )
            .await
            .unwrap();
        conversations.push(id(&conv));
        tokens.push(c.token().unwrap().to_owned());
    }
    let urls: Urls = Arc::new(std::sync::RwLock::new([
        pair.a.url.clone(),
        pair.b.url.clone(),
    ]));
    // Reader 0 on node A, reader 1 on node B; each from "now".
    let until = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut starts = Vec::new();
    let mut reading = Vec::new();
    for (r, client) in readers.iter().enumerate() {
        let start = client.poll(None, 0).await.unwrap()["next"]
            .as_str()
            .unwrap()
            .to_owned();
        starts.push(start.clone());
        reading.push(tokio::spawn(reader(
            client.token().unwrap().to_owned(),
            urls.clone(),
            r,
            start,
            until.clone(),
            done.clone(),
        )));
    }
    pair.a.wait_for_clients(1).await;
    pair.b.wait_for_clients(1).await;

    let acks = Arc::new(AtomicUsize::new(0));
    let sending: Vec<_> = tokens
        .iter()
        .enumerate()
        .map(|(s, token)| {
            tokio::spawn(sender(
                token.clone(),
                urls.clone(),
                s % 2,
                conversations[s],
                format!("s{s}"),
                PER_SENDER,
                acks.clone(),
            ))
        })
        .collect();
    let total = SENDERS * PER_SENDER;
    wait_for(&acks, total / 3).await;
    match fault {
        Fault::KillNodeA => pair.a.kill_hard(),
        Fault::RestartNats => {
            pair.nats.kill();
            healthy(&pair.b, "degraded: message bus unreachable").await;
            let metrics = pair.b.metrics().await;
            assert_eq!(metric(&metrics, "kaifang_bus_connected"), 0);
            // Delivery goes on while the bus is down, from the database:
            // node B re-reads what node A commits meanwhile.
            let before = rereads(&metrics);
            let deadline = Instant::now() + Duration::from_secs(15);
            while rereads(&pair.b.metrics().await) <= before {
                assert!(
                    Instant::now() < deadline,
                    "node B never re-read while the bus was down"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            pair.nats.restart();
            healthy(&pair.a, "ok").await;
            healthy(&pair.b, "ok").await;
        }
        Fault::RollingRestart => {
            // Node A, then node B: stopped gracefully (streams closed with
            // 1012), started again, back on the bus, then the next.
            for which in 0..2 {
                let server = if which == 0 { &mut pair.a } else { &mut pair.b };
                server.sigterm();
                server.wait_exit(Duration::from_secs(30));
                server.restart();
                urls.write().unwrap()[which] = server.url.clone();
                healthy(server, "ok").await;
                let at = acks.load(Ordering::SeqCst);
                wait_for(&acks, (at + total / 6).min(total)).await;
            }
        }
    }
    let survivor = match fault {
        Fault::KillNodeA => pair.b.url.clone(),
        _ => pair.a.url.clone(),
    };
    let mut acked = Vec::new();
    for s in sending {
        acked.push(
            tokio::time::timeout(Duration::from_secs(150), s)
                .await
                .expect("senders finish")
                .unwrap(),
        );
    }
    assert_eq!(acked.iter().map(Vec::len).sum::<usize>(), total);
    // Readers stop once they hold every committed message event.
    until.store(total, Ordering::SeqCst);
    let mut received = Vec::new();
    for (r, task) in reading.into_iter().enumerate() {
        let got = tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("readers get everything")
            .unwrap();
        eprintln!(
            "reader {r}: {} events, reconnects took {:?}",
            got.events.len(),
            got.reconnects
        );
        // Asked on a node that is up, as itself.
        let me = Client::new(&survivor)
            .unwrap()
            .with_token(readers[r].token().unwrap());
        received.push((me, got));
    }
    let checker = Client::new(&survivor)
        .unwrap()
        .with_token(checker.token().unwrap());
    check(&checker, &conversations, &acked, &received, &starts).await;
    if fault == Fault::KillNodeA {
        assert!(
            !received[0].1.reconnects.is_empty(),
            "reader 0 never moved to node B"
        );
    }
    if fault == Fault::RollingRestart {
        for (r, (_, got)) in received.iter().enumerate() {
            assert!(!got.reconnects.is_empty(), "reader {r} never reconnected");
        }
    }
    eprintln!(
        "node B: {} re-reads from the database",
        rereads(&pair.b.metrics().await)
    );
}

/// Re-reads from the database a node made: after gaps, and by its resync.
fn rereads(metrics: &str) -> u64 {
    metric(metrics, "kaifang_bus_gap_rereads_total")
        + metric(metrics, "kaifang_bus_resync_rereads_total")
}

async fn wait_for(acks: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while acks.load(Ordering::SeqCst) < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} sends acknowledged",
            acks.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A bus with the embedded SQLite database is refused at start: one line,
/// a non-zero exit, before anything listens.
#[test]
fn a_bus_without_postgresql_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_kaifang"))
        .arg("serve")
        .env("KAIFANG_DATA_DIR", dir.path())
        .env("KAIFANG_LISTEN", "127.0.0.1:0")
        .env("KAIFANG_DATABASE__URL", "")
        .env("KAIFANG_BUS__URL", "nats://127.0.0.1:1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = crate::server::refused_start(
        child,
        Duration::from_secs(20),
        "the server started with a bus on SQLite",
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("kaifang:"))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert!(
        line.contains("bus.url") && line.contains("database.url"),
        "{line}"
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains("listening on"));
}

/// A node whose NATS is unreachable starts anyway and serves its own
/// clients from PostgreSQL, saying it is degraded in /healthz and
/// /metrics; other nodes' events and sign-outs reach it through the
/// database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_nats_a_node_serves_degraded_from_the_database() {
    let db = PgDb::create();
    // Port 1 on loopback: nothing listens there.
    let env = [
        ("KAIFANG_DATABASE__URL", db.url.as_str()),
        ("KAIFANG_BUS__URL", "nats://127.0.0.1:1"),
    ];
    let a = TestServer::start_with(&env);
    let b = TestServer::start_with(&env);
    healthy(&a, "degraded: message bus unreachable").await;
    assert_eq!(metric(&b.metrics().await, "kaifang_bus_connected"), 0);
    let alice = user(&a, "alice").await;
    user(&a, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let bob = sign_in(&b, "bob").await;
    let mut stream = bob.stream(None).await.unwrap();
    b.wait_for_clients(1).await;
    alice.send(c, "over the database", None).await.unwrap();
    let got = events(&mut stream, 1).await;
    assert_eq!(got[0]["message"]["body"], "over the database");
    // That first one may have come in the stream's own catch-up read, if
    // it committed before that read. The stream is live now, so the next
    // one can reach it only through node B's re-read of the database.
    alice.send(c, "and again", None).await.unwrap();
    let got = events(&mut stream, 1).await;
    assert_eq!(got[0]["message"]["body"], "and again");
    assert!(rereads(&b.metrics().await) > 0);

    // Bob signs out through node A; no bus tells node B, yet its stream
    // of that session closes and the token is refused there.
    let mut bob_on_a = Client::new(&a.url)
        .unwrap()
        .with_token(bob.token().unwrap());
    bob_on_a.sign_out().await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.next_text())
        .await
        .expect("node B closes the stream of a session signed out on node A");
    assert!(closed.is_none(), "expected a close, got {closed:?}");
    assert_eq!(stream.close_frame().map(|(code, _)| code), Some(4001));
    assert_eq!(status(bob.me().await), 401);
}
