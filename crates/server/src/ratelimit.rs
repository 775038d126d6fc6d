//! In-memory rate limits: token buckets for request rates and fixed windows
//! for failure counts. Keys are short strings such as `login-handle:alice`.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A set of token buckets: `rate` tokens per second, at most `burst` saved.
pub struct Buckets {
    rate: f64,
    burst: f64,
    /// Keys tracked before the stale ones are swept (`limits.rate_limit_keys`).
    sweep_at: usize,
    state: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Buckets {
    /// Buckets refilling at `rate` per second up to `burst`; once more than
    /// `sweep_at` keys are tracked, keys whose bucket is full again are
    /// forgotten, so that a flood of distinct keys does not pile up.
    pub fn new(rate: u32, burst: u32, sweep_at: usize) -> Self {
        Self {
            rate: f64::from(rate.max(1)),
            burst: f64::from(burst.max(1)),
            sweep_at,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; on refusal, the seconds until one is back.
    pub fn take(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let Ok(mut state) = self.state.lock() else {
            return Ok(());
        };
        if state.len() > self.sweep_at {
            let full = Duration::from_secs_f64(self.burst / self.rate);
            state.retain(|_, (_, at)| now.duration_since(*at) < full);
        }
        let (tokens, at) = state.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate).ceil() as u64)
        }
    }
}

/// Counts events per key in fixed windows (e.g. failed sign-ins).
pub struct Window {
    limit: u32,
    length: Duration,
    sweep_at: usize,
    state: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Window {
    /// At most `limit` events per `length`; past `sweep_at` keys, those
    /// whose window has ended are forgotten.
    pub fn new(limit: u32, length: Duration, sweep_at: usize) -> Self {
        Self {
            limit,
            length,
            sweep_at,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Refuses (with seconds to wait) when `key` has used up its window.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let Ok(state) = self.state.lock() else {
            return Ok(());
        };
        match state.get(key) {
            Some((count, start))
                if *count >= self.limit && now.duration_since(*start) < self.length =>
            {
                Err((self.length - now.duration_since(*start)).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts one event for `key`.
    pub fn record(&self, key: &str) {
        let now = Instant::now();
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.len() > self.sweep_at {
            let length = self.length;
            state.retain(|_, (_, start)| now.duration_since(*start) < length);
        }
        let entry = state.entry(key.to_owned()).or_insert((0, now));
        if now.duration_since(entry.1) >= self.length {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
    }

    /// Forgets `key` (e.g. after a successful sign-in).
    pub fn clear(&self, key: &str) {
        if let Ok(mut state) = self.state.lock() {
            state.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_allow_a_burst_then_refuse() {
        let b = Buckets::new(1, 3, 100);
        assert!(b.take("k").is_ok());
        assert!(b.take("k").is_ok());
        assert!(b.take("k").is_ok());
        assert_eq!(b.take("k"), Err(1));
        assert!(b.take("other").is_ok());
    }

    #[test]
    fn windows_count_failures_per_key() {
        let w = Window::new(2, Duration::from_secs(60), 100);
        w.record("a");
        assert!(w.check("a").is_ok());
        w.record("a");
        assert!(w.check("a").is_err());
        assert!(w.check("b").is_ok());
        w.clear("a");
        assert!(w.check("a").is_ok());
    }
}
