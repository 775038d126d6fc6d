//! Connection hygiene: half-open sockets and idle connections are closed
//! after their timeouts, and the connection caps answer clearly. Raw TCP on
//! loopback, so that the test controls every byte.
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::{TestServer, user};

/// Half-open sockets held at once (the figure; `ulimit -n` here is
/// 20,000 and both ends of each socket are open).
const HALF_OPEN: usize = 1_000;

/// A complete request on a kept-alive connection.
const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

fn address(server: &TestServer) -> String {
    server
        .url
        .strip_prefix("http://")
        .expect("http URL")
        .to_owned()
}

/// Reads until the server closes; a reset counts as closed too (the bytes
/// read before it are kept).
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server did not close the connection in time");
    all
}

/// Reads one response (head and `content-length` body) and leaves the
/// connection open.
async fn read_response(stream: &mut TcpStream) -> (String, String) {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .expect("read");
        assert!(n > 0, "closed before a complete answer: {all:?}");
        all.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&all).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .expect("content-length")
                .parse()
                .unwrap();
            if body.len() >= length {
                return (head.to_owned(), body.to_owned());
            }
        }
    }
}

#[tokio::test]
async fn half_open_sockets_do_not_stop_others_and_are_closed_after_the_header_timeout() {
    let header_timeout = Duration::from_millis(10_000);
    let server = TestServer::start_with(&[("KAIFANG_HTTP__HEADER_READ_TIMEOUT_MS", "10000")]);
    let addr = address(&server);
    let started = Instant::now();
    let mut held = Vec::with_capacity(HALF_OPEN);
    for _ in 0..HALF_OPEN {
        let opened = Instant::now();
        let mut socket = TcpStream::connect(&addr).await.unwrap();
        // A request line and half a header: never finished.
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .unwrap();
        held.push((opened, socket));
    }

    // A normal client is served while all of them are held.
    let asked = Instant::now();
    let answer = timeout(
        Duration::from_secs(5),
        reqwest::get(format!("{}/healthz", server.url)),
    )
    .await
    .expect("a normal client is answered within 5 s")
    .unwrap();
    assert_eq!(answer.text().await.unwrap(), "ok");
    eprintln!(
        "{HALF_OPEN} half-open sockets opened in {:?}; a normal request took {:?}",
        asked - started,
        asked.elapsed()
    );
    let mut buf = [0u8; 1];
    for (_, socket) in &held {
        let state = socket.try_read(&mut buf);
        assert!(
            matches!(&state, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "a half-open socket was no longer held when the normal client was served: {state:?}"
        );
    }

    // Each is then closed by the server, not before its header timeout.
    for (opened, socket) in &mut held {
        let rest = read_until_closed(socket, Duration::from_secs(60)).await;
        assert!(rest.is_empty(), "no answer is owed: {rest:?}");
        assert!(
            opened.elapsed() >= header_timeout,
            "closed after {:?}, before the header timeout",
            opened.elapsed()
        );
    }
    eprintln!(
        "all closed {:?} after the first was opened",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(1_500);
    let server = TestServer::start_with(&[("KAIFANG_HTTP__IDLE_TIMEOUT_MS", "1500")]);
    let mut socket = TcpStream::connect(address(&server)).await.unwrap();
    let asked = Instant::now();
    socket.write_all(HEALTH).await.unwrap();
    let (head, body) = read_response(&mut socket).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, "ok");
    assert!(
        !head.to_ascii_lowercase().contains("connection: close"),
        "the connection should be kept alive: {head}"
    );
    let rest = read_until_closed(&mut socket, idle + Duration::from_secs(10)).await;
    assert!(rest.is_empty(), "{rest:?}");
    assert!(
        asked.elapsed() >= idle,
        "closed after {:?}",
        asked.elapsed()
    );

    // The idle timeout is a wait between requests: a long poll outlasting
    // it is still answered.
    let alice = user(&server, "alice").await;
    let waited = Instant::now();
    let events = alice.poll(None, 3_000).await.unwrap();
    assert!(waited.elapsed() >= Duration::from_millis(3_000));
    assert_eq!(events["events"], serde_json::json!([]), "{events}");
}

#[tokio::test]
async fn past_max_connections_a_new_connection_gets_503_and_is_closed() {
    let server = TestServer::start_with(&[("KAIFANG_HTTP__MAX_CONNECTIONS", "2")]);
    let addr = address(&server);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut socket = TcpStream::connect(&addr).await.unwrap();
        socket.write_all(HEALTH).await.unwrap();
        let (head, _) = read_response(&mut socket).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        held.push(socket);
    }

    let mut third = TcpStream::connect(&addr).await.unwrap();
    // The server may answer before reading: the write may meet a closed
    // socket, which is fine, the answer is what counts.
    let _ = third.write_all(HEALTH).await;
    let answer = read_until_closed(&mut third, Duration::from_secs(10)).await;
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("an answer");
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(
        head.contains("content-type: application/problem+json"),
        "{head}"
    );
    assert!(head.contains("retry-after: 1"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert!(
        head.contains(&format!("content-length: {}", body.len())),
        "{head}"
    );
    let problem: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(problem["status"], 503);
    assert_eq!(problem["type"], "/problems/unavailable");

    // Once one of the two leaves, a new connection is served again (the
    // server notices the close asynchronously: bounded retries).
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut socket = TcpStream::connect(&addr).await.unwrap();
        let _ = socket.write_all(HEALTH).await;
        let answer = read_until_closed_or_answer(&mut socket).await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(
            Instant::now() < deadline,
            "no connection served after one left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The start of an answer: a served connection stays open, a refused one
/// is closed.
async fn read_until_closed_or_answer(stream: &mut TcpStream) -> String {
    let mut buf = [0u8; 4096];
    let n = timeout(Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn past_stream_max_connections_a_new_stream_is_closed_with_1013() {
    let server = TestServer::start_with(&[("KAIFANG_STREAM__MAX_CONNECTIONS", "1")]);
    let alice = user(&server, "alice").await;
    let _first = alice.stream(None).await.unwrap();

    // A handshake by hand, so that the close frame's code can be read.
    let mut socket = TcpStream::connect(address(&server)).await.unwrap();
    let request = format!(
        "GET /api/v1/stream?access_token={} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        alice.token().unwrap()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let all = read_until_closed(&mut socket, Duration::from_secs(10)).await;
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head")
        + 4;
    let head = String::from_utf8_lossy(&all[..end]);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // A server's frame is unmasked: FIN + opcode 8 (close), a short
    // length, then the code in network order.
    let frame = &all[end..];
    assert!(frame.len() >= 4, "no close frame: {frame:?}");
    assert_eq!(frame[0], 0x88, "not a close frame: {frame:?}");
    assert_eq!(u16::from_be_bytes([frame[2], frame[3]]), 1013);
}
