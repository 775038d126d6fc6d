//! `kaifang tail`: the live event stream, one JSON event per line, that
//! outlives the server's restarts. When the stream ends for a reason that
//! reconnecting can cure (close code 1012 "service restart" on a graceful
//! drain, 1013 "try again later", or a connection that just dropped), it
//! reconnects with backoff and resumes after the last event it printed, so
//! the output has every event once, in order.
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use kaifang_client::Client;
use serde_json::Value;

/// The close code of a stream whose session was signed out: reconnecting
/// cannot help.
const CLOSE_SIGNED_OUT: u16 = 4001;
/// First wait before reconnecting, doubled on each failure up to the cap.
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(5);

/// What `tail` was asked for.
pub struct Tail {
    /// Resume after this cursor; `None`: from now on.
    pub since: Option<String>,
    /// Stop after this many events.
    pub count: Option<u64>,
    /// Give up when no stream could be opened for this long.
    pub give_up_after: Duration,
}

/// Prints events until `count` is reached or the stream cannot go on.
pub async fn run(client: &Client, tail: Tail) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut printed = 0u64;
    let done = |printed: u64| tail.count.is_some_and(|n| printed >= n);
    // Without a cursor, "now" is pinned first: a reconnect must resume
    // from there, not from a later "now" that would skip what came between.
    let mut cursor = match tail.since {
        Some(c) => c,
        None => {
            let now = client.poll(None, 0).await?;
            for event in now["events"].as_array().into_iter().flatten() {
                if done(printed) {
                    return Ok(());
                }
                writeln!(out, "{event}")?;
                printed += 1;
            }
            out.flush()?;
            now["next"]
                .as_str()
                .context("the server sent no cursor")?
                .to_owned()
        }
    };
    let mut delay = FIRST_DELAY;
    let mut unreachable_since: Option<Instant> = None;
    while !done(printed) {
        let mut stream = match client.stream(Some(&cursor)).await {
            Ok(stream) => stream,
            Err(e) => {
                // A refusal (bad token, rejected cursor) will not change.
                if e.status()
                    .is_some_and(|s| (400..500).contains(&s) && s != 429)
                {
                    return Err(e.into());
                }
                let since = *unreachable_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= tail.give_up_after {
                    bail!(
                        "no stream for {} s, giving up: {e}",
                        tail.give_up_after.as_secs()
                    );
                }
                tokio::time::sleep(jitter(delay)).await;
                delay = (delay * 2).min(MAX_DELAY);
                continue;
            }
        };
        unreachable_since = None;
        // A stream that delivered, or lasted, was healthy: the backoff
        // starts over. One closed at once (1013) keeps backing off.
        let opened = Instant::now();
        let mut delivered = false;
        while !done(printed) {
            match stream.next_text().await {
                Some(Ok(text)) => {
                    let event: Value = serde_json::from_str(&text).with_context(|| {
                        format!("the server sent a frame that is not JSON: {text}")
                    })?;
                    let next = event["cursor"].as_str().map(str::to_owned);
                    // Too far behind: the server closes after naming where
                    // to resume; not an event, so not printed.
                    if event["type"] != "resync" {
                        writeln!(out, "{text}")?;
                        out.flush()?;
                        printed += 1;
                    }
                    if let Some(next) = next {
                        cursor = next;
                    }
                    delivered = true;
                }
                // The connection dropped: reconnect.
                Some(Err(_)) => break,
                None => match stream.close_frame() {
                    Some((CLOSE_SIGNED_OUT, _)) => bail!("the session was signed out"),
                    // 1012 (restart), 1013 (try again later), 1001, none.
                    _ => break,
                },
            }
        }
        if !done(printed) {
            if delivered || opened.elapsed() > MAX_DELAY {
                delay = FIRST_DELAY;
            }
            tokio::time::sleep(jitter(delay)).await;
            delay = (delay * 2).min(MAX_DELAY);
        }
    }
    Ok(())
}

/// `delay` plus up to half of it again, so that many clients cut off by one
/// restart do not all come back in the same instant.
fn jitter(delay: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    delay + delay.mul_f64(f64::from(nanos % 1000) / 2000.0)
}
