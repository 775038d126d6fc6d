//! The accept loop. `axum::serve` has no header-read timeout, no idle
//! timeout and no connection cap, so a client that opens sockets and never
//! finishes a request holds each one (and its file descriptor) forever;
//! once descriptors run out, every client waits. This loop serves each
//! connection with hyper directly, where all three can be set.
//!
//! Timeouts, and why there are two mechanisms:
//! - hyper's `header_read_timeout` starts when a connection is accepted and
//!   again each time a kept-alive connection goes idle after a response,
//!   and stops when a request head is complete (hyper PR #3828; 1.12 here). It
//!   therefore is an idle timeout covering the head that follows, and is
//!   given `http.idle_timeout_ms`.
//! - A new connection must finish its first head within
//!   `http.header_read_timeout_ms`, usually shorter; a watchdog here drops
//!   the connection if no request has reached the service by then.
//!
//! Graceful shutdown is a signal to every connection (hyper's own
//! `graceful_shutdown`), then a wait until every connection's permit is
//! back; hyper-util's `GracefulShutdown` cannot watch an HTTP/1 connection
//! with upgrades.
//!
//! Only HTTP/1.1 is served. `axum::serve` also accepted cleartext HTTP/2
//! with prior knowledge (h2c), which no browser speaks and for which hyper
//! has neither timeout: a client could hold a connection by sending half a
//! preface.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tower::ServiceExt;

use crate::config::HttpSettings;
use crate::proxies::{ClientIp, Proxies};

/// Set once the server is asked to stop. Upgraded WebSockets and long polls
/// have left hyper's graceful shutdown, so they watch this themselves.
#[derive(Clone)]
pub(crate) struct Stopping(watch::Receiver<bool>);

impl Stopping {
    /// A signal and the sender that raises it.
    pub fn new() -> (watch::Sender<bool>, Self) {
        let (tx, rx) = watch::channel(false);
        (tx, Self(rx))
    }

    /// Completes once the server is stopping (at once if it already is).
    pub async fn signalled(&self) {
        let mut rx = self.0.clone();
        // An error means the sender is gone: the server is gone too.
        let _ = rx.wait_for(|stopping| *stopping).await;
    }
}

/// After a failed accept (most often: out of file descriptors), wait this
/// long before the next, so the loop does not spin while none are free.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The answer to a connection over `http.max_connections`: written as fixed
/// bytes, before reading anything, so refusing costs almost nothing.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/problem+json\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 141\r\n\
\r\n\
{\"type\":\"/problems/unavailable\",\"title\":\"Service unavailable\",\"status\":503,\
\"detail\":\"the server is at its connection limit; try again later\"}";

/// Accepts and serves connections until `shutdown` completes, then lets
/// requests in progress finish.
pub(crate) async fn serve(
    listener: TcpListener,
    router: axum::Router,
    settings: HttpSettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    // tokio's semaphore holds at most `MAX_PERMITS`, and all are taken at
    // once (a u32) to wait for the last connection at shutdown.
    let cap = settings
        .max_connections
        .min(Semaphore::MAX_PERMITS)
        .min(u32::MAX as usize);
    let permits = Arc::new(Semaphore::new(cap));
    let settings = Arc::new(settings);
    let (stop, stopping) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let served = serve_connection(
                    stream,
                    peer,
                    router.clone(),
                    settings.clone(),
                    stopping.clone(),
                );
                tokio::spawn(async move {
                    served.await;
                    drop(permit);
                });
            }
            Err(_) => {
                tokio::spawn(refuse(stream, settings.refusal_linger_ms));
            }
        }
    }
    drop(listener);
    // Idle connections close now; those with a request in progress close
    // after their answer. Every served connection holds a permit until it
    // ends, so having them all back means the last one has ended.
    let _ = stop.send(());
    let _ = permits.acquire_many(cap as u32).await;
}

/// Serves one connection over HTTP/1.1 (upgrades included), dropping it,
/// which closes the socket, if no request head is complete within
/// `http.header_read_timeout_ms`. Once upgraded to a WebSocket the socket
/// leaves hyper and this returns: `stream.max_connections` counts it then.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: axum::Router,
    settings: Arc<HttpSettings>,
    mut stopping: watch::Receiver<()>,
) {
    // Small answers (events, acknowledgements) should not wait for Nagle.
    let _ = stream.set_nodelay(true);
    let first_request = Arc::new(Notify::new());
    let signal = first_request.clone();
    let proxies = Proxies::new(&settings);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        signal.notify_one();
        // What `into_make_service_with_connect_info` would add, and the
        // client behind trusted proxies, which the `ClientAddr` extractor
        // reads.
        let client = proxies.client(peer.ip(), request.headers());
        request.extensions_mut().insert(ClientIp(client));
        request.extensions_mut().insert(ConnectInfo(peer));
        // A router never fails: its error type is `Infallible`.
        router.clone().oneshot(request.map(Body::new))
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(settings.idle_timeout_ms))
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    let header_deadline =
        tokio::time::sleep(Duration::from_millis(settings.header_read_timeout_ms));
    tokio::pin!(header_deadline);
    let (mut first_seen, mut stopped) = (false, false);
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                // Errors are the client's: a reset, a malformed head, the
                // idle timeout. hyper has answered what could be answered.
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended");
                }
                return;
            }
            () = first_request.notified(), if !first_seen => first_seen = true,
            () = &mut header_deadline, if !first_seen => return,
            _ = stopping.changed(), if !stopped => {
                stopped = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Answers 503 and closes. The client's request is read and discarded (for
/// at most `http.refusal_linger_ms`) after the answer: closing with unread
/// bytes would send a reset, which can destroy the answer before the client
/// reads it. The linger is short because refused sockets hold descriptors
/// too, uncounted by the cap.
async fn refuse(mut stream: TcpStream, linger_ms: u64) {
    let deadline = Duration::from_millis(linger_ms);
    let _ = tokio::time::timeout(deadline, async {
        stream.write_all(REFUSAL).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use axum::extract::ConnectInfo;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::{REFUSAL, serve};
    use crate::config::HttpSettings;

    /// The handlers' `ClientAddr` reads the peer from `ConnectInfo`; a
    /// missing one would silently become 0.0.0.0 and merge every client's
    /// per-address limits. And shutdown lets a request in progress finish.
    #[tokio::test]
    async fn handlers_see_the_peer_and_shutdown_waits_for_answers() {
        let started = std::sync::Arc::new(tokio::sync::Notify::new());
        let signal = started.clone();
        let router = axum::Router::new().route(
            "/",
            get(
                move |ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                    signal.notify_one();
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    peer.to_string()
                },
            ),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, router, HttpSettings::default(), async {
            let _ = stopped.await;
        }));
        let mut client = TcpStream::connect(addr).await.unwrap();
        let me = client.local_addr().unwrap();
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let reading = tokio::spawn(async move {
            let mut answer = Vec::new();
            client.read_to_end(&mut answer).await.unwrap();
            String::from_utf8(answer).unwrap()
        });
        // Ask to stop while the request is being handled.
        tokio::time::timeout(Duration::from_secs(10), started.notified())
            .await
            .expect("the request reaches its handler");
        stop.send(()).unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(10), reading)
            .await
            .expect("answered and closed")
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with(&me.to_string()), "{answer}");
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("serve returns once the last connection ended")
            .unwrap();
    }

    /// The refusal's declared length is its body's, and the body is the
    /// problem+json every other error is.
    #[test]
    fn the_refusal_is_a_well_formed_problem() {
        let text = std::str::from_utf8(REFUSAL).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let problem: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(problem["status"], 503);
    }
}
