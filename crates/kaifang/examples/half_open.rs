//! Measures what half-open sockets cost a running server: holds N
//! connections that sent half a request, and reports the server's memory
//! (RSS), its open descriptors and a normal client's latency before, while they are held, and
//! after the server has had `wait` seconds to close them. The figures in
//! `docs/security.md` ("Connections") come from here.
//!
//! `cargo run -p kaifang --example half_open -- <addr> <server-pid> <sockets> <wait-seconds>`
//!
//! Loopback only: it refuses any other address. Every loop is bounded.
use std::error::Error;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Normal requests timed at each step.
const SAMPLES: usize = 20;
/// How long one connection attempt may take (a server out of descriptors
/// stops accepting, and the kernel's queue fills).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Unanswered normal requests after which a step stops sampling.
const GIVE_UP: usize = 3;
/// Connections opened at once while building up the half-open set.
const BATCH: usize = 100;

const NO_ANSWER: &str = "no answer in 10 s";

type Result<T> = std::result::Result<T, Box<dyn Error>>;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, pid, sockets, wait] = args.as_slice() else {
        return Err("usage: half_open <addr> <server-pid> <sockets> <wait-seconds>".into());
    };
    let addr: SocketAddr = addr.parse()?;
    if !addr.ip().is_loopback() {
        return Err("loopback addresses only".into());
    }
    let (pid, sockets, wait): (u32, usize, u64) = (pid.parse()?, sockets.parse()?, wait.parse()?);

    report("before", addr, pid).await?;
    let started = Instant::now();
    let mut held = Vec::with_capacity(sockets);
    let mut failed = 0;
    while held.len() + failed < sockets {
        let batch = BATCH.min(sockets - held.len() - failed);
        for socket in open_half(addr, batch).await {
            match socket {
                Ok(socket) => held.push(socket),
                Err(_) => failed += 1,
            }
        }
    }
    println!(
        "opened {} half-open sockets in {:?}; {failed} connection attempts failed or timed out",
        held.len(),
        started.elapsed()
    );
    report("held", addr, pid).await?;

    let deadline = Instant::now() + Duration::from_secs(wait);
    let mut open = held.len();
    while Instant::now() < deadline && open > 0 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        open = held.iter().filter(|s| still_open(s)).count();
    }
    println!(
        "{} of {} closed by the server {:?} after the first was opened",
        held.len() - open,
        held.len(),
        started.elapsed()
    );
    report("after", addr, pid).await?;
    Ok(())
}

/// Opens `n` connections concurrently, each sending half a request.
async fn open_half(addr: SocketAddr, n: usize) -> Vec<Result<TcpStream>> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            tokio::spawn(async move {
                let mut socket = timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
                    .await
                    .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
                socket
                    .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                    .await?;
                Ok::<_, std::io::Error>(socket)
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for task in tasks {
        out.push(match task.await {
            Ok(Ok(socket)) => Ok(socket),
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(e.into()),
        });
    }
    out
}

/// True while the server has neither closed nor reset the socket.
fn still_open(socket: &TcpStream) -> bool {
    let mut buf = [0u8; 1];
    matches!(socket.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// Prints the server's RSS and the latency of `SAMPLES` normal requests,
/// each on a new connection, with the status lines seen.
async fn report(step: &str, addr: SocketAddr, pid: u32) -> Result<()> {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))?
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .map(|l| l.trim_start_matches("VmRSS:").trim().to_owned())
        .unwrap_or_default();
    // Open descriptors: what runs out first when sockets are held.
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count();
    let mut times = Vec::with_capacity(SAMPLES);
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..SAMPLES {
        if statuses.get(NO_ANSWER).copied().unwrap_or(0) >= GIVE_UP {
            break;
        }
        let asked = Instant::now();
        let status = match timeout(Duration::from_secs(10), one_request(addr)).await {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => format!("error: {e}"),
            Err(_) => NO_ANSWER.to_owned(),
        };
        times.push(asked.elapsed());
        *statuses.entry(status).or_default() += 1;
    }
    times.sort();
    println!(
        "{step}: server RSS {rss}, {fds} open descriptors; normal request p50 {:?}, max {:?}; {statuses:?}",
        times[times.len() / 2],
        times[times.len() - 1]
    );
    Ok(())
}

/// One `GET /healthz` on a new connection; its status line.
async fn one_request(addr: SocketAddr) -> Result<String> {
    let mut socket = TcpStream::connect(addr).await?;
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await?;
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await?;
    let text = String::from_utf8_lossy(&answer);
    Ok(text.lines().next().unwrap_or("(empty)").to_owned())
}
