//! A scriptable HTTP/1.1 server on 127.0.0.1 for the fetcher's tests. It
//! listens on an ephemeral loopback port only, and every connection it serves
//! is bounded in bytes and time.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Hard ceilings so that a broken fetcher cannot make a test server run away.
const MAX_CONNECTION_TIME: Duration = Duration::from_secs(20);
const MAX_ENDLESS_BYTES: u64 = 10 * 1024 * 1024 * 1024;

/// What the server does with one request.
pub enum Reply {
    /// Write these bytes and close.
    Raw(Vec<u8>),
    /// Read the request and never answer (until the connection ceiling).
    Silent,
    /// Write the bytes one at a time, `every` apart.
    Drip { bytes: Vec<u8>, every: Duration },
    /// Write `head`, then `fill` forever (up to 10 GB), never buffering.
    Endless { head: Vec<u8>, fill: u8 },
}

/// A running test server; stops (with every connection) when dropped.
pub struct Server {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Server {
    /// Starts a server answering each request head with `handler(path)`.
    pub async fn start<F>(handler: F) -> Self
    where
        F: Fn(&str) -> Reply + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let (conns, reqs) = (connections.clone(), requests.clone());
        let task = tokio::spawn(async move {
            let mut tasks = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                conns.fetch_add(1, Ordering::SeqCst);
                let (handler, reqs) = (handler.clone(), reqs.clone());
                tasks.spawn(async move {
                    let served = serve(stream, move |h| handler(h), reqs);
                    let _ = tokio::time::timeout(MAX_CONNECTION_TIME, served).await;
                });
            }
        });
        Server {
            addr,
            connections,
            requests,
            task,
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{}", self.addr, path)).unwrap()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Request heads received so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    handler: impl Fn(&str) -> Reply,
    requests: Arc<Mutex<Vec<String>>>,
) {
    let Some(head) = read_head(&mut stream).await else {
        return;
    };
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    requests.lock().unwrap().push(head);
    match handler(&path) {
        Reply::Raw(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
        }
        Reply::Silent => tokio::time::sleep(MAX_CONNECTION_TIME).await,
        Reply::Drip { bytes, every } => {
            for b in bytes {
                if stream.write_all(&[b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(every).await;
            }
        }
        Reply::Endless { head, fill } => {
            if stream.write_all(&head).await.is_err() {
                return;
            }
            let chunk = vec![fill; 64 * 1024];
            let mut sent = 0u64;
            while sent < MAX_ENDLESS_BYTES {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
                sent += chunk.len() as u64;
            }
        }
    }
}

/// Reads up to the blank line ending the request head (at most 16 KiB).
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while buf.len() < 16 * 1024 {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            return Some(String::from_utf8_lossy(&buf).into_owned());
        }
    }
    None
}

/// A complete response with `Content-Length` and `Connection: close`.
pub fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A redirect to `location`.
pub fn redirect(status: &str, location: &str) -> Reply {
    Reply::Raw(response(status, &[("Location", location)], b""))
}

/// A 200 HTML page.
pub fn html(body: &str) -> Reply {
    Reply::Raw(response(
        "200 OK",
        &[("Content-Type", "text/html; charset=utf-8")],
        body.as_bytes(),
    ))
}
