//! Stopping with SIGTERM (systemd, container runtimes) during a burst of
//! sends: the process drains and exits 0 within `http.shutdown_timeout_ms`,
//! open WebSockets are told to reconnect (1012), waiting long polls are
//! answered, and every acknowledged send is in the history after a restart,
//! once.
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kaifang_client::{Client, Error};

use crate::{TestServer, id, user};

const SENDERS: usize = 8;
/// Each sender's bound, so that a signal that never lands cannot loop forever.
const MAX_SENDS: usize = 2_000;
const ACKS_BEFORE_SIGNAL: usize = 100;
const SHUTDOWN_MS: u64 = 5_000;

/// What one sender saw: its acknowledged transaction ids, with when each
/// answer arrived, and whether it was stopped by the server going away
/// (rather than by reaching `MAX_SENDS`).
struct Outcome {
    acked: Vec<(String, Instant)>,
    stopped: bool,
}

async fn sender(client: Client, c: i64, tag: usize, acks: Arc<AtomicUsize>) -> Outcome {
    let mut acked = Vec::new();
    for i in 0..MAX_SENDS {
        let txn = format!("s{tag}-{i}");
        match client.send(c, &txn, Some(&txn)).await {
            Ok(_) => {
                acked.push((txn, Instant::now()));
                acks.fetch_add(1, Ordering::SeqCst);
            }
            // The connection closed by the draining server, or refused.
            Err(Error::Http(_)) => {
                return Outcome {
                    acked,
                    stopped: true,
                };
            }
            // 503 from a server that is closing is not an acknowledgement.
            Err(Error::Api { status: 503, .. }) => {
                return Outcome {
                    acked,
                    stopped: true,
                };
            }
            Err(e) => panic!("send {txn}: {e}"),
        }
    }
    Outcome {
        acked,
        stopped: false,
    }
}

/// Every message body of a conversation, paging back from the newest.
async fn bodies(client: &Client, c: i64) -> Vec<String> {
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let page = client.history(c, before, 200).await.unwrap();
        let msgs = page["messages"].as_array().unwrap().clone();
        if msgs.is_empty() {
            return out;
        }
        before = msgs[0]["seq"].as_i64();
        out.extend(msgs.iter().map(|m| m["body"].as_str().unwrap().to_owned()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_a_burst_drains_and_loses_nothing() {
    let limit = SHUTDOWN_MS.to_string();
    let mut server = TestServer::start_with(&[
        ("KAIFANG_HTTP__SHUTDOWN_TIMEOUT_MS", &limit),
        ("KAIFANG_LIMITS__MESSAGES_PER_SECOND", "100000"),
        ("KAIFANG_LIMITS__MESSAGES_BURST", "100000"),
    ]);
    let alice = user(&server, "alice").await;
    let bob = user(&server, "bob").await;
    let c = id(&alice.open_direct("bob").await.unwrap());
    let mut stream = bob.stream(None).await.unwrap();
    // Carol, in no conversation, waits in a long poll that nothing answers
    // before the server stops.
    let carol = user(&server, "carol").await;
    let waiting = tokio::spawn(async move { carol.poll(None, 30_000).await });
    server.wait_for_clients(2).await;

    let acks = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|t| tokio::spawn(sender(alice.clone(), c, t, acks.clone())))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acks.load(Ordering::SeqCst) < ACKS_BEFORE_SIGNAL {
        assert!(Instant::now() < deadline, "the burst never got going");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let signalled = server.sigterm();

    let mut outcomes = Vec::new();
    for s in senders {
        let outcome = tokio::time::timeout(Duration::from_secs(60), s)
            .await
            .expect("senders end once the server stops")
            .unwrap();
        outcomes.push(outcome);
    }
    // The signal hit a burst in progress: every sender was cut off by it,
    // and sends were still being answered after it was sent.
    assert!(
        outcomes.iter().all(|o| o.stopped),
        "a sender ran out before the signal"
    );
    let after_signal = outcomes
        .iter()
        .flat_map(|o| &o.acked)
        .filter(|(_, at)| *at > signalled)
        .count();
    assert!(
        after_signal > 0,
        "no send was answered after the signal was sent"
    );

    // Bob's stream is told to reconnect; events before that are fine.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = stream.next_event().await {
            if event.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the WebSocket was not closed");
    assert_eq!(stream.close_frame().map(|(code, _)| code), Some(1012));

    // The long poll is answered (nothing new), not cut off.
    let polled = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the long poll ends")
        .unwrap()
        .expect("the long poll is answered");
    assert_eq!(polled["events"], serde_json::json!([]));

    let bound = Duration::from_millis(SHUTDOWN_MS);
    let (status, exited) = server.wait_exit(bound + Duration::from_secs(5));
    assert!(status.success(), "exit status {status}");
    let took = exited - signalled;
    assert!(took <= bound, "took {took:?}, over the {bound:?} bound");

    server.restart();
    let mut alice = Client::new(&server.url).unwrap();
    alice.sign_in("alice", crate::PASSWORD).await.unwrap();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for body in bodies(&alice, c).await {
        *counts.entry(body).or_default() += 1;
    }
    let duplicated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
    let acked: Vec<&String> = outcomes
        .iter()
        .flat_map(|o| &o.acked)
        .map(|(t, _)| t)
        .collect();
    let lost: Vec<_> = acked.iter().filter(|t| !counts.contains_key(**t)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged sends lost: {lost:?}",
        lost.len(),
        acked.len()
    );
    eprintln!(
        "{} acknowledged ({after_signal} after SIGTERM), exit after {took:?}",
        acked.len()
    );
}

/// A request that never finishes (its body never comes) cannot hold the
/// server past `http.shutdown_timeout_ms`: it waits for it that long, then
/// exits 0 anyway.
#[test]
fn a_request_that_never_finishes_delays_the_exit_only_to_the_bound() {
    use std::io::Write;
    let mut server = TestServer::start_with(&[("KAIFANG_HTTP__SHUTDOWN_TIMEOUT_MS", "1000")]);
    let addr = server.url.trim_start_matches("http://").to_owned();
    let mut stuck = std::net::TcpStream::connect(&addr).unwrap();
    stuck
        .write_all(
            b"POST /api/v1/accounts HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
        )
        .unwrap();
    // Nothing observable says the head was read; a request on another
    // connection, sent after it and answered, is the nearest sign. (Were
    // the head unread at the signal, the exit would be early: this test
    // would fail, not pass wrongly.)
    let mut other = std::net::TcpStream::connect(&addr).unwrap();
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut other, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let signalled = server.sigterm();
    let (status, exited) = server.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status}");
    let took = exited - signalled;
    assert!(
        took >= Duration::from_millis(1000) && took < Duration::from_millis(3000),
        "took {took:?}: it should wait for the request, up to the 1 s bound"
    );
    drop(stuck);
}

/// A stop asked for as soon as the server says it listens is graceful:
/// the signal handlers exist before "listening on" is printed, not from
/// whenever the accept loop first looks at them (which, with connections
/// already waiting, could be after the signal and its default action: a
/// kill). Five servers, each signalled at once.
#[test]
fn a_signal_right_after_start_is_a_clean_stop() {
    for _ in 0..5 {
        let mut server = TestServer::start();
        server.sigterm();
        let (status, _) = server.wait_exit(Duration::from_secs(10));
        assert!(status.success(), "exit status {status}");
    }
}
