//! The scenarios. Each creates its own accounts (a random prefix per run),
//! so runs against the same server do not interfere.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use kaifang_client::{Client, EventStream};
use rand::Rng;
use serde::Serialize;
use serde_json::Value;

use crate::{Error, Placement, Summary};

/// What to run and how much.
#[derive(Debug, Clone)]
pub struct Options {
    /// Server base URLs (loopback): one server, or several nodes of one
    /// cluster to spread the clients over (see [`Placement`]).
    pub servers: Vec<String>,
    /// Which scenarios, e.g. `abcde`.
    pub scenarios: String,
    /// A: sequential messages.
    pub a_messages: usize,
    /// B: concurrent senders.
    pub b_senders: usize,
    /// B: messages per sender.
    pub b_messages: usize,
    /// C: messages per second.
    pub c_rate: u32,
    /// C: messages.
    pub c_messages: usize,
    /// D: group members, all connected.
    pub d_members: usize,
    /// D: messages.
    pub d_messages: usize,
    /// E: idle connections to open.
    pub e_connections: usize,
    /// Parallel requests while setting up accounts and connections.
    pub setup_concurrency: usize,
    /// Time bound of each scenario.
    pub time_limit: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            servers: vec!["http://127.0.0.1:8080".into()],
            scenarios: "abcde".into(),
            a_messages: 1_000,
            b_senders: 8,
            b_messages: 500,
            c_rate: 50,
            c_messages: 500,
            d_members: 1_000,
            d_messages: 20,
            e_connections: 15_000,
            setup_concurrency: 16,
            time_limit: Duration::from_secs(300),
        }
    }
}

/// Messages per second.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Messages sent and acknowledged.
    pub messages: usize,
    /// Wall time.
    pub seconds: f64,
    /// Messages per second.
    pub per_second: f64,
}

/// Fan-out to a group.
#[derive(Debug, Clone, Serialize)]
pub struct Fanout {
    /// Members, each on a WebSocket.
    pub members: usize,
    /// Time from send start until every member had the message.
    pub all_members: Summary,
}

/// Idle connections.
#[derive(Debug, Clone, Serialize)]
pub struct Idle {
    /// Asked for.
    pub requested: usize,
    /// Held open at once.
    pub held: usize,
    /// Resident memory added per connection, bytes (every server's summed).
    pub rss_per_connection_bytes: Option<u64>,
    /// Why opening stopped early, if it did.
    pub stopped_by: Option<String>,
}

/// All figures of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The servers, and which of them each side used.
    pub servers: Option<Placement>,
    /// A: sequential sends.
    pub a_sequential: Option<Throughput>,
    /// B: concurrent sends into one group.
    pub b_concurrent: Option<Throughput>,
    /// C: latency at a steady rate (sender on the first server, receiver
    /// on the second if there is one).
    pub c_latency: Option<Summary>,
    /// D: fan-out to a large group.
    pub d_fanout: Option<Fanout>,
    /// E: idle connections.
    pub e_idle: Option<Idle>,
}

const PASSWORD: &str = "kaifang-bench-password";

struct Run {
    opts: Options,
    placement: Placement,
    prefix: String,
    next_user: AtomicUsize,
}

impl Run {
    /// New signed-in users, one per server given: the `k`th talks to
    /// `servers[k]` for the rest of the run.
    async fn users(&self, servers: Vec<String>) -> Result<Vec<(String, Client)>, Error> {
        let n = servers.len();
        let start = self.next_user.fetch_add(n, Ordering::Relaxed);
        let results: Vec<Result<(String, Client), Error>> = stream::iter(servers)
            .enumerate()
            .map(|(k, server)| {
                let handle = format!("{}_{}", self.prefix, start + k);
                async move {
                    let mut c = Client::new(&server)?;
                    c.sign_up(&handle, PASSWORD, None).await?;
                    c.sign_in(&handle, PASSWORD).await?;
                    Ok((handle, c))
                }
            })
            .buffered(self.opts.setup_concurrency.max(1))
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// `n` users of a scenario that mixes roles: round-robin over every server.
    async fn mixed_users(&self, n: usize) -> Result<Vec<(String, Client)>, Error> {
        let p = &self.placement;
        self.users((0..n).map(|i| p.any(i).to_owned()).collect())
            .await
    }

    /// One sender on the first server, then `n` receivers on the others.
    async fn sender_and_receivers(&self, n: usize) -> Result<Vec<(String, Client)>, Error> {
        let p = &self.placement;
        let servers = std::iter::once(p.senders.clone())
            .chain((0..n).map(|i| p.receiver(i).to_owned()))
            .collect();
        self.users(servers).await
    }

    async fn bounded<T>(
        &self,
        name: &'static str,
        f: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        tokio::time::timeout(self.opts.time_limit, f)
            .await
            .map_err(|_| Error::Timeout(name))?
    }
}

fn id(v: &Value) -> Result<i64, Error> {
    v["id"]
        .as_i64()
        .ok_or_else(|| Error::Unexpected(format!("no id in {v}")))
}

/// Runs the chosen scenarios.
pub async fn run(opts: Options) -> Result<Report, Error> {
    let prefix = format!("bk{:06x}", rand::thread_rng().gen_range(0..0xff_ffffu32));
    let placement = Placement::new(&opts.servers)?;
    let run = Run {
        opts: opts.clone(),
        placement: placement.clone(),
        prefix,
        next_user: AtomicUsize::new(0),
    };
    let mut report = Report {
        servers: Some(placement),
        ..Report::default()
    };
    let want = |c: char| opts.scenarios.contains(c);
    if want('a') {
        report.a_sequential = Some(run.bounded("A", a_sequential(&run)).await?);
    }
    if want('b') {
        report.b_concurrent = Some(run.bounded("B", b_concurrent(&run)).await?);
    }
    if want('c') {
        report.c_latency = Some(run.bounded("C", c_latency(&run)).await?);
    }
    if want('d') {
        report.d_fanout = Some(run.bounded("D", d_fanout(&run)).await?);
    }
    if want('e') {
        report.e_idle = Some(run.bounded("E", e_idle(&run)).await?);
    }
    Ok(report)
}

async fn a_sequential(run: &Run) -> Result<Throughput, Error> {
    let users = run.mixed_users(2).await?;
    let (sender, other) = (&users[0].1, &users[1].0);
    let c = id(&sender.open_direct(other).await?)?;
    let n = run.opts.a_messages;
    let start = Instant::now();
    for i in 0..n {
        sender
            .send(
                c,
                &format!("a {i} https://item.taobao.com/item.htm?id={i}"),
                None,
            )
            .await?;
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(Throughput {
        messages: n,
        seconds,
        per_second: n as f64 / seconds,
    })
}

async fn b_concurrent(run: &Run) -> Result<Throughput, Error> {
    let users = run.mixed_users(run.opts.b_senders.max(1)).await?;
    let members: Vec<String> = users[1..].iter().map(|(h, _)| h.clone()).collect();
    let g = id(&users[0].1.create_group("bench B", &members).await?)?;
    let per = run.opts.b_messages;
    let start = Instant::now();
    let tasks: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(s, (_, client))| {
            let client = client.clone();
            tokio::spawn(async move {
                for i in 0..per {
                    client.send(g, &format!("b {s} {i}"), None).await?;
                }
                Ok::<_, Error>(())
            })
        })
        .collect();
    for t in tasks {
        t.await.map_err(|e| Error::Unexpected(e.to_string()))??;
    }
    let seconds = start.elapsed().as_secs_f64();
    let n = per * users.len();
    Ok(Throughput {
        messages: n,
        seconds,
        per_second: n as f64 / seconds,
    })
}

/// Reads `prefix <i> …` message bodies from a stream and records when each
/// index first arrived, as nanoseconds since `base`.
fn record_arrivals(
    mut stream: EventStream,
    prefix: &'static str,
    base: Instant,
    arrivals: Arc<Vec<AtomicU64>>,
    counts: Arc<Vec<AtomicUsize>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(Ok(text)) = stream.next_text().await {
            let at = base.elapsed().as_nanos() as u64;
            let Ok(v) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let Some(body) = v["message"]["body"].as_str() else {
                continue;
            };
            let Some(i) = body
                .strip_prefix(prefix)
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            if let (Some(slot), Some(count)) = (arrivals.get(i), counts.get(i)) {
                slot.fetch_max(at, Ordering::Relaxed);
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
    })
}

async fn c_latency(run: &Run) -> Result<Summary, Error> {
    let users = run.sender_and_receivers(1).await?;
    let c = id(&users[0].1.open_direct(&users[1].0).await?)?;
    let n = run.opts.c_messages;
    let base = Instant::now();
    let arrivals: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let counts: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
    let receiver = record_arrivals(
        users[1].1.stream(None).await?,
        "c ",
        base,
        arrivals.clone(),
        counts.clone(),
    );
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(
        1.0 / f64::from(run.opts.c_rate.max(1)),
    ));
    let mut starts = Vec::with_capacity(n);
    for i in 0..n {
        ticker.tick().await;
        starts.push(base.elapsed());
        users[0].1.send(c, &format!("c {i}"), None).await?;
    }
    wait_for(&counts, 1, Duration::from_secs(10)).await;
    receiver.abort();
    let mut samples: Vec<Duration> = (0..n)
        .filter(|&i| counts[i].load(Ordering::Relaxed) > 0)
        .map(|i| {
            Duration::from_nanos(arrivals[i].load(Ordering::Relaxed)).saturating_sub(starts[i])
        })
        .collect();
    if samples.len() < n {
        return Err(Error::Unexpected(format!(
            "C: only {} of {n} messages arrived",
            samples.len()
        )));
    }
    Ok(Summary::of(&mut samples))
}

async fn wait_for(counts: &[AtomicUsize], each: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline && counts.iter().any(|c| c.load(Ordering::Relaxed) < each) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn d_fanout(run: &Run) -> Result<Fanout, Error> {
    let m = run.opts.d_members.max(2);
    // The sender is a member too and counts among those who must have it.
    let users = run.sender_and_receivers(m - 1).await?;
    let handles: Vec<String> = users[1..].iter().map(|(h, _)| h.clone()).collect();
    let g = id(&users[0].1.create_group("bench D", &handles).await?)?;
    let n = run.opts.d_messages;
    let base = Instant::now();
    let arrivals: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let counts: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
    let streams: Vec<Result<EventStream, kaifang_client::Error>> = stream::iter(users.iter())
        .map(|(_, c)| c.stream(None))
        .buffered(run.opts.setup_concurrency.max(1))
        .collect()
        .await;
    let mut readers = Vec::with_capacity(m);
    for s in streams {
        readers.push(record_arrivals(
            s?,
            "d ",
            base,
            arrivals.clone(),
            counts.clone(),
        ));
    }
    let mut starts = Vec::with_capacity(n);
    for i in 0..n {
        starts.push(base.elapsed());
        users[0].1.send(g, &format!("d {i}"), None).await?;
        // Let each message's fan-out finish before the next starts.
        wait_for(&counts[i..=i], m, Duration::from_secs(10)).await;
    }
    for r in &readers {
        r.abort();
    }
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        if counts[i].load(Ordering::Relaxed) < m {
            return Err(Error::Unexpected(format!(
                "D: message {i} reached {} of {m} members",
                counts[i].load(Ordering::Relaxed)
            )));
        }
        samples.push(
            Duration::from_nanos(arrivals[i].load(Ordering::Relaxed)).saturating_sub(starts[i]),
        );
    }
    Ok(Fanout {
        members: m,
        all_members: Summary::of(&mut samples),
    })
}

/// The resident memory of every server, summed.
async fn server_rss(servers: &[String]) -> Option<u64> {
    let mut sum = 0;
    for server in servers {
        let text = reqwest_free_get(server, "/metrics").await?;
        sum += text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .and_then(|v| v.trim().parse::<u64>().ok())?;
    }
    Some(sum)
}

/// A plain GET over a fresh TCP connection (the client library speaks JSON
/// only; /metrics is text).
async fn reqwest_free_get(server: &str, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = url::Url::parse(server).ok()?;
    let addr = format!("{}:{}", url.host_str()?, url.port_or_known_default()?);
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        url.host_str()?
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&out).into_owned();
    text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())
}

async fn e_idle(run: &Run) -> Result<Idle, Error> {
    let users = run.mixed_users(10).await?;
    let before = server_rss(&run.placement.all).await;
    let mut held = Vec::with_capacity(run.opts.e_connections);
    let mut stopped_by = None;
    let batch = 64;
    'open: while held.len() < run.opts.e_connections {
        let want = batch.min(run.opts.e_connections - held.len());
        let opened: Vec<Result<EventStream, kaifang_client::Error>> = stream::iter(0..want)
            .map(|k| users[(held.len() + k) % users.len()].1.stream(None))
            .buffer_unordered(run.opts.setup_concurrency.max(1))
            .collect()
            .await;
        for s in opened {
            match s {
                Ok(s) => held.push(s),
                Err(e) => {
                    stopped_by = Some(e.to_string());
                    break 'open;
                }
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = server_rss(&run.placement.all).await;
    let n = held.len();
    let per = match (before, after) {
        (Some(b), Some(a)) if n > 0 => Some(a.saturating_sub(b) / n as u64),
        _ => None,
    };
    drop(held);
    Ok(Idle {
        requested: run.opts.e_connections,
        held: n,
        rss_per_connection_bytes: per,
        stopped_by,
    })
}
