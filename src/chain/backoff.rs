//! Exponential backoff with full jitter: the n-th retry waits a uniformly
//! random time in `[0, min(max, base · 2^(n-1))]`. Full jitter spreads the
//! retries of many concurrent calls instead of sending them in waves.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The upper bound of the wait before retry number `retry` (1-based).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        self.base.saturating_mul(1u32 << exp).min(self.max)
    }

    /// A random wait for retry number `retry` (1-based).
    pub fn delay(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(retry);
        if ceiling.is_zero() {
            return Duration::ZERO;
        }
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.random_range(0..=nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn backoff() -> Backoff {
        Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        }
    }

    #[test]
    fn ceiling_doubles_and_caps() {
        let b = backoff();
        let ms: Vec<u128> = (1..=6).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(ms, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn delays_stay_within_the_ceiling_and_spread_out() {
        let b = backoff();
        let mut rng = StdRng::seed_from_u64(7);
        for retry in 1..=8 {
            let ceiling = b.ceiling(retry);
            let samples: Vec<Duration> = (0..200).map(|_| b.delay(retry, &mut rng)).collect();
            assert!(samples.iter().all(|d| *d <= ceiling));
            // Full jitter: both halves of the range are used.
            assert!(samples.iter().any(|d| *d < ceiling / 2), "retry {retry}");
            assert!(samples.iter().any(|d| *d > ceiling / 2), "retry {retry}");
        }
    }

    #[test]
    fn zero_base_means_no_wait() {
        let b = Backoff {
            base: Duration::ZERO,
            max: Duration::ZERO,
        };
        assert_eq!(b.delay(3, &mut rand::rng()), Duration::ZERO);
    }
}
