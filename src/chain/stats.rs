//! Rolling statistics of one endpoint: latencies of the last answers and
//! running totals. The breaker keeps its own error window; these are for
//! operators (`/health`) and for ordering endpoints.

use std::collections::VecDeque;
use std::time::Duration;

/// Latencies kept for the percentiles.
const SAMPLES: usize = 128;

#[derive(Debug, Default)]
pub struct Stats {
    latencies: VecDeque<Duration>,
    pub answered: u64,
    pub failed: u64,
}

impl Stats {
    pub fn record_answer(&mut self, latency: Duration) {
        if self.latencies.len() == SAMPLES {
            self.latencies.pop_front();
        }
        self.latencies.push_back(latency);
        self.answered += 1;
    }

    /// A request another endpoint answered first, cancelled after
    /// `at_least`: a lower bound of this endpoint's latency. Without it an
    /// endpoint that turned slow keeps its fast median forever, since every
    /// request to it is hedged and cancelled before it answers.
    pub fn record_outpaced(&mut self, at_least: Duration) {
        if self.latencies.len() == SAMPLES {
            self.latencies.pop_front();
        }
        self.latencies.push_back(at_least);
    }

    pub fn record_failure(&mut self) {
        self.failed += 1;
    }

    /// The `q`-quantile (0.0–1.0) of the recent latencies.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.latencies.is_empty() {
            return None;
        }
        let mut sorted: Vec<Duration> = self.latencies.iter().copied().collect();
        sorted.sort_unstable();
        let rank = ((sorted.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        sorted.get(rank).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_recent_samples() {
        let mut s = Stats::default();
        assert_eq!(s.quantile(0.5), None);
        for ms in [5, 1, 3] {
            s.record_answer(Duration::from_millis(ms));
        }
        assert_eq!(s.quantile(0.5), Some(Duration::from_millis(3)));
        // Old samples fall out of the window.
        for _ in 0..SAMPLES {
            s.record_answer(Duration::from_millis(100));
        }
        assert_eq!(s.quantile(0.0), Some(Duration::from_millis(100)));
        assert_eq!(s.answered, 3 + SAMPLES as u64);
    }

    #[test]
    fn outpaced_requests_move_the_median_without_counting_answers() {
        let mut s = Stats::default();
        for _ in 0..3 {
            s.record_answer(Duration::from_millis(1));
        }
        for _ in 0..4 {
            s.record_outpaced(Duration::from_millis(30));
        }
        assert_eq!(s.quantile(0.5), Some(Duration::from_millis(30)));
        assert_eq!(s.answered, 3);
    }
}
