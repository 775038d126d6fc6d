//! Percentiles over latency samples.
use serde::Serialize;
use std::time::Duration;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Samples.
    pub n: usize,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Summary {
    /// Summarises the samples (nearest-rank percentiles).
    pub fn of(samples: &mut [Duration]) -> Self {
        samples.sort();
        let at = |q: f64| -> f64 {
            if samples.is_empty() {
                return 0.0;
            }
            let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            samples[rank - 1].as_secs_f64() * 1000.0
        };
        Self {
            n: samples.len(),
            p50_ms: at(0.50),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let sum = Summary::of(&mut s);
        assert_eq!(
            (sum.p50_ms, sum.p95_ms, sum.p99_ms, sum.max_ms),
            (50.0, 95.0, 99.0, 100.0)
        );
        assert_eq!(Summary::of(&mut []).n, 0);
    }
}
