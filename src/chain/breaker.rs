//! A circuit breaker per endpoint. It is a plain state machine: the caller
//! passes the current time in, so the rules are tested without sleeping.
//!
//! ```text
//!            N consecutive failures, or error rate >= R over the window
//!            (with at least min_requests in it)
//!   Closed ─────────────────────────────────────────────▶ Open(cool-down c)
//!     ▲                                                     │
//!     │ success (probe or trial call)                       │ c has passed
//!     │                                                     ▼
//!     └──────────────────────────────────────────────── HalfOpen
//!                                                           │ failure
//!                                     Open(min(2c, max)) ◀──┘
//! ```
//!
//! The cool-down starts at `cooldown` and doubles after each failed trial, up
//! to `max_cooldown`; closing resets it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::BreakerConfig;

/// What the breaker allows right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls flow normally.
    Closed,
    /// No calls until the cool-down has passed.
    Open,
    /// The cool-down has passed: the next success closes, a failure reopens.
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// A state change worth logging and exporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Opened {
        cooldown: Duration,
    },
    /// A trial in half-open failed: open again with a longer cool-down.
    Reopened {
        cooldown: Duration,
    },
    HalfOpened,
    Closed,
}

#[derive(Debug, Clone, Copy)]
enum Inner {
    Closed,
    Open { until: Instant, cooldown: Duration },
    HalfOpen { cooldown: Duration },
}

#[derive(Debug)]
pub struct Breaker {
    cfg: BreakerConfig,
    inner: Inner,
    consecutive_failures: u32,
    /// Outcomes inside `cfg.window`: (when, failed).
    window: VecDeque<(Instant, bool)>,
    opened_total: u64,
}

impl Breaker {
    pub fn new(cfg: BreakerConfig) -> Self {
        Breaker {
            cfg,
            inner: Inner::Closed,
            consecutive_failures: 0,
            window: VecDeque::new(),
            opened_total: 0,
        }
    }

    /// The state at `now`; an elapsed cool-down turns Open into HalfOpen here.
    pub fn state(&mut self, now: Instant) -> (BreakerState, Option<Transition>) {
        if let Inner::Open { until, cooldown } = self.inner
            && now >= until
        {
            self.inner = Inner::HalfOpen { cooldown };
            return (BreakerState::HalfOpen, Some(Transition::HalfOpened));
        }
        (self.peek(), None)
    }

    /// The state without advancing time (for reports).
    pub fn peek(&self) -> BreakerState {
        match self.inner {
            Inner::Closed => BreakerState::Closed,
            Inner::Open { .. } => BreakerState::Open,
            Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// When an open breaker lets a trial through.
    pub fn open_until(&self) -> Option<Instant> {
        match self.inner {
            Inner::Open { until, .. } => Some(until),
            _ => None,
        }
    }

    /// How often this breaker has opened (from closed) since start.
    pub fn opened_total(&self) -> u64 {
        self.opened_total
    }

    pub fn on_success(&mut self, now: Instant) -> Option<Transition> {
        match self.state(now).0 {
            BreakerState::HalfOpen => {
                self.inner = Inner::Closed;
                self.window.clear();
                self.consecutive_failures = 0;
                Some(Transition::Closed)
            }
            BreakerState::Closed => {
                self.record(now, false);
                self.consecutive_failures = 0;
                None
            }
            // A late answer to a call sent before the breaker opened proves
            // little; the cool-down and a trial decide.
            BreakerState::Open => None,
        }
    }

    /// A good answer to a probe sent by the prober: unlike a late answer to
    /// a call, it was asked after the breaker opened, so it closes the
    /// breaker from any state — the endpoint answers well now.
    pub fn on_probe_success(&mut self, now: Instant) -> Option<Transition> {
        match self.state(now).0 {
            BreakerState::Closed => self.on_success(now),
            BreakerState::Open | BreakerState::HalfOpen => {
                self.inner = Inner::Closed;
                self.window.clear();
                self.consecutive_failures = 0;
                Some(Transition::Closed)
            }
        }
    }

    pub fn on_failure(&mut self, now: Instant) -> Option<Transition> {
        match self.state(now).0 {
            BreakerState::Open => None,
            BreakerState::HalfOpen => {
                let cooldown = match self.inner {
                    Inner::HalfOpen { cooldown } => {
                        cooldown.saturating_mul(2).min(self.cfg.max_cooldown)
                    }
                    _ => self.cfg.cooldown,
                };
                self.open(now, cooldown);
                Some(Transition::Reopened { cooldown })
            }
            BreakerState::Closed => {
                self.record(now, true);
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                if self.consecutive_failures >= self.cfg.failure_threshold || self.rate_exceeded() {
                    let cooldown = self.cfg.cooldown;
                    self.open(now, cooldown);
                    // Counted per outage: a reopen after a failed trial is the same one.
                    self.opened_total += 1;
                    Some(Transition::Opened { cooldown })
                } else {
                    None
                }
            }
        }
    }

    fn open(&mut self, now: Instant, cooldown: Duration) {
        self.inner = Inner::Open {
            until: now + cooldown,
            cooldown,
        };
        self.consecutive_failures = 0;
        self.window.clear();
    }

    fn record(&mut self, now: Instant, failed: bool) {
        while let Some(&(at, _)) = self.window.front() {
            if now.duration_since(at) > self.cfg.window {
                self.window.pop_front();
            } else {
                break;
            }
        }
        self.window.push_back((now, failed));
    }

    fn rate_exceeded(&self) -> bool {
        let total = self.window.len();
        if total == 0 || total < self.cfg.min_requests as usize {
            return false;
        }
        let failed = self.window.iter().filter(|(_, f)| *f).count();
        failed as f64 / total as f64 >= self.cfg.error_rate
    }

    /// Failures / outcomes in the current window, for reports.
    pub fn error_ratio(&self) -> Option<f64> {
        let total = self.window.len();
        (total > 0).then(|| self.window.iter().filter(|(_, f)| *f).count() as f64 / total as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BreakerConfig {
        BreakerConfig {
            failure_threshold: 3,
            error_rate: 0.5,
            window: Duration::from_secs(10),
            min_requests: 6,
            cooldown: Duration::from_secs(2),
            max_cooldown: Duration::from_secs(5),
        }
    }

    #[test]
    fn opens_after_consecutive_failures_and_not_before() {
        let t0 = Instant::now();
        let mut b = Breaker::new(cfg());
        assert_eq!(b.on_failure(t0), None);
        assert_eq!(b.on_failure(t0), None);
        assert_eq!(
            b.on_failure(t0),
            Some(Transition::Opened {
                cooldown: Duration::from_secs(2)
            })
        );
        assert_eq!(b.state(t0).0, BreakerState::Open);
        assert_eq!(b.opened_total(), 1);
    }

    #[test]
    fn a_success_resets_the_consecutive_count() {
        let t0 = Instant::now();
        let mut b = Breaker::new(cfg());
        b.on_failure(t0);
        b.on_failure(t0);
        b.on_success(t0);
        b.on_failure(t0);
        b.on_failure(t0);
        assert_eq!(b.peek(), BreakerState::Closed);
    }

    #[test]
    fn opens_on_error_rate_once_enough_requests_are_seen() {
        let t0 = Instant::now();
        let mut b = Breaker::new(cfg());
        // fail, ok, fail, ok, fail: 3/5 failed but fewer than min_requests.
        for i in 0..5 {
            if i % 2 == 0 {
                assert_eq!(b.on_failure(t0), None);
            } else {
                b.on_success(t0);
            }
        }
        b.on_success(t0);
        // Six outcomes, three failed: the rate is judged on the next failure (4 of 7).
        assert!(matches!(b.on_failure(t0), Some(Transition::Opened { .. })));
    }

    #[test]
    fn old_outcomes_leave_the_window() {
        let t0 = Instant::now();
        let mut b = Breaker::new(cfg());
        for _ in 0..2 {
            b.on_failure(t0);
            b.on_success(t0);
        }
        let later = t0 + Duration::from_secs(11);
        for _ in 0..4 {
            b.on_success(later);
        }
        // The four old outcomes are gone: 1 failure in 5 does not open.
        assert_eq!(b.on_failure(later), None);
        assert_eq!(b.error_ratio(), Some(0.2));
    }

    #[test]
    fn half_opens_after_cooldown_and_closes_on_success() {
        let t0 = Instant::now();
        let mut b = Breaker::new(cfg());
        for _ in 0..3 {
            b.on_failure(t0);
        }
        assert_eq!(
            b.state(t0 + Duration::from_millis(1999)).0,
            BreakerState::Open
        );
        assert_eq!(
            b.state(t0 + Duration::from_secs(2)),
            (BreakerState::HalfOpen, Some(Transition::HalfOpened))
        );
        assert_eq!(
            b.on_success(t0 + Duration::from_secs(2)),
            Some(Transition::Closed)
        );
        assert_eq!(b.peek(), BreakerState::Closed);
    }

    #[test]
    fn failed_trials_double_the_cooldown_up_to_the_maximum() {
        let mut now = Instant::now();
        let mut b = Breaker::new(cfg());
        for _ in 0..3 {
            b.on_failure(now);
        }
        let mut seen = Vec::new();
        for _ in 0..4 {
            now = b.open_until().unwrap();
            match b.on_failure(now) {
                Some(Transition::Reopened { cooldown }) => seen.push(cooldown.as_secs()),
                other => panic!("expected a reopen, got {other:?}"),
            }
        }
        assert_eq!(seen, vec![4, 5, 5, 5]);
        assert_eq!(b.opened_total(), 1, "one outage");
        // Closing resets the cool-down to its base value.
        now = b.open_until().unwrap();
        b.on_success(now);
        for _ in 0..3 {
            b.on_failure(now);
        }
        assert_eq!(b.open_until(), Some(now + Duration::from_secs(2)));
    }

    #[test]
    fn a_good_probe_closes_an_open_breaker_at_once() {
        let t0 = Instant::now();
        let mut b = Breaker::new(cfg());
        for _ in 0..3 {
            b.on_failure(t0);
        }
        assert_eq!(b.on_probe_success(t0), Some(Transition::Closed));
        assert_eq!(b.peek(), BreakerState::Closed);
        // And the next outage starts again from the base cool-down.
        for _ in 0..3 {
            b.on_failure(t0);
        }
        assert_eq!(b.open_until(), Some(t0 + Duration::from_secs(2)));
    }

    #[test]
    fn outcomes_while_open_change_nothing() {
        let t0 = Instant::now();
        let mut b = Breaker::new(cfg());
        for _ in 0..3 {
            b.on_failure(t0);
        }
        let until = b.open_until();
        assert_eq!(b.on_success(t0), None);
        assert_eq!(b.on_failure(t0), None);
        assert_eq!(b.open_until(), until);
        assert_eq!(b.opened_total(), 1);
    }
}
