//! Per-client (IP address) request limits with `governor`. The limiter is
//! rebuilt when a reload changes the configured quota.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::RateLimitConfig;

type Limiter = DefaultKeyedRateLimiter<IpAddr>;

pub struct ClientLimits {
    current: RwLock<(u32, u32, Arc<Limiter>)>,
    clock: DefaultClock,
}

impl ClientLimits {
    pub fn new(cfg: &RateLimitConfig) -> Self {
        ClientLimits {
            current: RwLock::new((cfg.per_second, cfg.burst, Arc::new(build(cfg)))),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(wait)` when the client must back off for `wait`.
    pub fn check(&self, cfg: &RateLimitConfig, client: IpAddr) -> Result<(), Duration> {
        let limiter = {
            let current = self.current.read().unwrap_or_else(|p| p.into_inner());
            if current.0 == cfg.per_second && current.1 == cfg.burst {
                Some(current.2.clone())
            } else {
                None
            }
        };
        let limiter = match limiter {
            Some(l) => l,
            None => {
                let fresh = Arc::new(build(cfg));
                *self.current.write().unwrap_or_else(|p| p.into_inner()) =
                    (cfg.per_second, cfg.burst, fresh.clone());
                fresh
            }
        };
        limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets idle clients so the table does not grow without bound.
    pub fn sweep(&self) {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        current.2.retain_recent();
        current.2.shrink_to_fit();
    }
}

fn build(cfg: &RateLimitConfig) -> Limiter {
    // Validation guarantees both are at least 1; MIN keeps this total anyway.
    let rate = NonZeroU32::new(cfg.per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(cfg.burst).unwrap_or(NonZeroU32::MIN);
    Limiter::keyed(Quota::per_second(rate).allow_burst(burst))
}

/// `Retry-After` is in whole seconds, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_each_client_separately() {
        let cfg = RateLimitConfig {
            per_second: 1,
            burst: 2,
        };
        let limits = ClientLimits::new(&cfg);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(limits.check(&cfg, a).is_ok());
        assert!(limits.check(&cfg, a).is_ok());
        assert!(limits.check(&cfg, a).is_err());
        assert!(limits.check(&cfg, b).is_ok());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
