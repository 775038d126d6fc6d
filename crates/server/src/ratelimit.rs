//! In-memory rate limits: token buckets for request rates, fixed windows
//! for counts, and exponential back-off for failed sign-ins. Keys are short
//! strings such as `login:alice@192.0.2.1`.
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

/// Counts events per key in fixed windows (e.g. sign-ups per address).
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
}

/// Exponential back-off after failures, per key. The first `free`
/// failures cost nothing; each one after that doubles the wait before the
/// key may try again (`base`, `2 × base`, … up to `max`). Attempts are
/// reserved before the work they guard, so concurrent attempts cannot
/// exceed what the failures so far allow. A key quiet for `max` after its
/// last failure is forgotten.
pub struct Backoff {
    free: u32,
    base: Duration,
    max: Duration,
    sweep_at: usize,
    state: Mutex<HashMap<String, Attempts>>,
}

#[derive(Default)]
struct Attempts {
    failures: u32,
    /// Reserved and not yet settled.
    pending: u32,
    /// No attempt before this instant.
    until: Option<Instant>,
    last_failure: Option<Instant>,
}

impl Backoff {
    /// Back-off after `free` failures, from `base` doubling up to `max`.
    pub fn new(free: u32, base: Duration, max: Duration, sweep_at: usize) -> Self {
        Self {
            free,
            base,
            max: max.max(base),
            sweep_at,
            state: Mutex::new(HashMap::new()),
        }
    }

    fn stale(&self, a: &Attempts, now: Instant) -> bool {
        a.pending == 0
            && a.last_failure
                .is_none_or(|at| now.duration_since(at) >= self.max)
    }

    /// Reserves one attempt for `key`, or says how many seconds to wait.
    /// Within the free failures, as many attempts may run at once as
    /// failures remain; past them, one at a time once the wait is over.
    pub fn reserve(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let Ok(mut state) = self.state.lock() else {
            return Err(1);
        };
        if state.len() > self.sweep_at {
            state.retain(|_, a| !self.stale(a, now));
        }
        let entry = state.entry(key.to_owned()).or_default();
        if self.stale(entry, now) {
            *entry = Attempts::default();
        }
        if let Some(until) = entry.until
            && now < until
        {
            return Err(seconds(until - now));
        }
        let allowed = self.free.saturating_sub(entry.failures).max(1);
        if entry.pending >= allowed {
            // The verdicts still running decide whether a wait follows.
            return Err(seconds(self.base));
        }
        entry.pending += 1;
        Ok(())
    }

    /// Settles a reservation as a failure; past the free ones, sets the wait.
    pub fn fail(&self, key: &str) {
        let now = Instant::now();
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let entry = state.entry(key.to_owned()).or_default();
        entry.pending = entry.pending.saturating_sub(1);
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = Some(now);
        if let Some(over) = entry.failures.checked_sub(self.free) {
            entry.until = Some(now + self.wait(over));
        }
    }

    /// Settles a reservation without counting a failure; with `forget`, the
    /// key's failures are forgotten too (a right password).
    pub fn release(&self, key: &str, forget: bool) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if let Some(entry) = state.get_mut(key) {
            entry.pending = entry.pending.saturating_sub(1);
            if forget {
                entry.failures = 0;
                entry.until = None;
                entry.last_failure = None;
            }
        }
    }

    /// The wait after the `over`-th failure past the free ones (0-based).
    fn wait(&self, over: u32) -> Duration {
        let factor = 2u32.saturating_pow(over.min(31));
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// Whole seconds, rounded up, at least 1 (for `Retry-After`).
fn seconds(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
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
    }

    #[test]
    fn backoff_reserves_atomically_and_doubles() {
        let b = Backoff::new(2, Duration::from_secs(1), Duration::from_secs(8), 100);
        // Two free failures: two attempts may run at once, not a third.
        assert!(b.reserve("k").is_ok());
        assert!(b.reserve("k").is_ok());
        assert_eq!(b.reserve("k"), Err(1));
        b.fail("k");
        b.fail("k");
        // Past the free ones each failure doubles the wait, up to the cap.
        assert_eq!(b.wait(0), Duration::from_secs(1));
        assert_eq!(b.wait(1), Duration::from_secs(2));
        assert_eq!(b.wait(2), Duration::from_secs(4));
        assert_eq!(b.wait(3), Duration::from_secs(8));
        assert_eq!(b.wait(40), Duration::from_secs(8));
        assert_eq!(b.reserve("k"), Err(1));
        assert!(b.reserve("other").is_ok());
    }

    #[test]
    fn a_released_reservation_frees_its_place_and_forget_clears() {
        let b = Backoff::new(1, Duration::from_secs(60), Duration::from_secs(60), 100);
        assert!(b.reserve("k").is_ok());
        assert!(b.reserve("k").is_err());
        b.release("k", false);
        assert!(b.reserve("k").is_ok());
        b.fail("k");
        assert_eq!(b.reserve("k"), Err(60));
        b.release("k", true);
        assert!(b.reserve("k").is_ok());
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(seconds(Duration::from_millis(1)), 1);
        assert_eq!(seconds(Duration::from_secs(2)), 2);
        assert_eq!(seconds(Duration::from_millis(2001)), 3);
        assert_eq!(seconds(Duration::ZERO), 1);
    }
}
