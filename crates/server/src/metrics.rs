//! Prometheus metrics, kept with atomics and small maps, rendered as text at
//! `GET /metrics`.
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Requests that failed on a database error (the store's own failure, not
/// a refusal such as "not found"). A static, because the error conversion
/// that sees them (`error.rs`) has no state; one server per process.
static DATABASE_ERRORS: AtomicU64 = AtomicU64::new(0);

/// Counts one request that failed on a database error.
pub fn database_error() {
    DATABASE_ERRORS.fetch_add(1, Ordering::Relaxed);
}

/// The server's counters.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    connected: AtomicI64,
    messages: AtomicU64,
    bus: BusCounters,
}

/// The cluster's counters, shown only when a bus is configured.
#[derive(Default)]
struct BusCounters {
    configured: AtomicBool,
    connected: AtomicBool,
    published: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
    gap_rereads: AtomicU64,
    resync_rereads: AtomicU64,
    lag: AtomicU64,
}

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        if let Ok(mut map) = self.requests.lock() {
            *map.entry((method.to_owned(), route.to_owned(), status))
                .or_default() += 1;
        }
        if let Ok(mut map) = self.latency.lock() {
            let h = map.entry(route.to_owned()).or_default();
            let secs = took.as_secs_f64();
            for (i, bound) in BUCKETS.iter().enumerate() {
                if secs <= *bound {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += secs;
        }
    }

    /// Adjusts the connected real-time clients gauge.
    pub fn clients_connected(&self, delta: i64) {
        self.connected.fetch_add(delta, Ordering::Relaxed);
    }

    /// Counts one stored message.
    pub fn message_sent(&self) {
        self.messages.fetch_add(1, Ordering::Relaxed);
    }

    /// Shows the bus's metrics from now on (a bus is configured).
    pub fn bus_configured(&self) {
        self.bus.configured.store(true, Ordering::Relaxed);
    }

    /// Whether the bus is reachable.
    pub fn bus_connected(&self, up: bool) {
        self.bus.connected.store(up, Ordering::Relaxed);
    }

    /// Counts one message published on the bus.
    pub fn bus_published(&self) {
        self.bus.published.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one message received from the bus.
    pub fn bus_received(&self) {
        self.bus.received.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one message not published because the queue was full.
    pub fn bus_dropped(&self) {
        self.bus.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one re-read of the database after a gap in the event ids.
    pub fn gap_reread(&self) {
        self.bus.gap_rereads.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one re-read started by the periodic resync.
    pub fn resync_reread(&self) {
        self.bus.resync_rereads.fetch_add(1, Ordering::Relaxed);
    }

    /// Events the database had that this node had not delivered, at the
    /// last resync.
    pub fn catch_up_lag(&self, events: i64) {
        self.bus
            .lag
            .store(u64::try_from(events).unwrap_or(0), Ordering::Relaxed);
    }

    fn render_bus(&self, out: &mut String) {
        let b = &self.bus;
        if !b.configured.load(Ordering::Relaxed) {
            return;
        }
        let rows: [(&str, &str, &str, u64); 7] = [
            (
                "kaifang_bus_connected",
                "gauge",
                "1 while the message bus is reachable, 0 while degraded.",
                u64::from(b.connected.load(Ordering::Relaxed)),
            ),
            (
                "kaifang_bus_published_total",
                "counter",
                "Messages published on the bus.",
                b.published.load(Ordering::Relaxed),
            ),
            (
                "kaifang_bus_received_total",
                "counter",
                "Messages received from other nodes.",
                b.received.load(Ordering::Relaxed),
            ),
            (
                "kaifang_bus_dropped_total",
                "counter",
                "Messages not published: the publish queue was full.",
                b.dropped.load(Ordering::Relaxed),
            ),
            (
                "kaifang_bus_gap_rereads_total",
                "counter",
                "Database re-reads after a gap in the event ids (a lost or late bus message).",
                b.gap_rereads.load(Ordering::Relaxed),
            ),
            (
                "kaifang_bus_resync_rereads_total",
                "counter",
                "Database re-reads started by the periodic resync (events the bus did not bring).",
                b.resync_rereads.load(Ordering::Relaxed),
            ),
            (
                "kaifang_bus_catch_up_lag_events",
                "gauge",
                "Events the database had and this node had not delivered, at the last resync.",
                b.lag.load(Ordering::Relaxed),
            ),
        ];
        for (name, kind, help, value) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP kaifang_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE kaifang_http_requests_total counter\n");
        if let Ok(map) = self.requests.lock() {
            for ((method, route, status), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "kaifang_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP kaifang_http_request_duration_seconds Time to answer.\n");
        out.push_str("# TYPE kaifang_http_request_duration_seconds histogram\n");
        if let Ok(map) = self.latency.lock() {
            for (route, h) in map.iter() {
                for (bound, n) in BUCKETS.iter().zip(h.counts.iter()) {
                    let _ = writeln!(
                        out,
                        "kaifang_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                    );
                }
                let _ = writeln!(
                    out,
                    "kaifang_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                     kaifang_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                     kaifang_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count, h.sum, h.count
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP kaifang_connected_clients Real-time clients connected now.\n\
             # TYPE kaifang_connected_clients gauge\n\
             kaifang_connected_clients {}\n\
             # HELP kaifang_messages_sent_total Messages stored.\n\
             # TYPE kaifang_messages_sent_total counter\n\
             kaifang_messages_sent_total {}",
            self.connected.load(Ordering::Relaxed),
            self.messages.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP kaifang_database_errors_total Requests that failed on a database error.\n\
             # TYPE kaifang_database_errors_total counter\n\
             kaifang_database_errors_total {}",
            DATABASE_ERRORS.load(Ordering::Relaxed)
        );
        if let Some((open, max)) = descriptors() {
            let _ = writeln!(
                out,
                "# HELP process_open_fds Open file descriptors (connections, streams, files).\n\
                 # TYPE process_open_fds gauge\n\
                 process_open_fds {open}\n\
                 # HELP process_max_fds The process's limit of open file descriptors.\n\
                 # TYPE process_max_fds gauge\n\
                 process_max_fds {max}"
            );
        }
        self.render_bus(&mut out);
        if let Some(rss) = resident_bytes() {
            let _ = writeln!(
                out,
                "# HELP process_resident_memory_bytes Resident memory of the server process.\n\
                 # TYPE process_resident_memory_bytes gauge\n\
                 process_resident_memory_bytes {rss}"
            );
        }
        out
    }
}

/// Middleware counting every request by its route template (never the raw
/// path, so ids do not explode the label set).
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let response = next.run(request).await;
    metrics.request(&method, &route, response.status().as_u16(), start.elapsed());
    response
}

/// Open descriptors and their soft limit, from `/proc/self` (Linux); `None`
/// elsewhere.
fn descriptors() -> Option<(usize, u64)> {
    let open = std::fs::read_dir("/proc/self/fd").ok()?.count();
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    Some((open, soft.parse().ok()?))
}

/// Resident memory from `/proc/self/status` (Linux); `None` elsewhere.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
