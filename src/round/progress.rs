//! A round's progress within a phase, as `govnode round`, the API and the
//! status page show it: votes broadcast while sending, votes mined while
//! confirming. Wallets send side by side, so the count is shared.

use std::sync::atomic::{AtomicU64, Ordering};

/// Publishes `(phase, done, total)`: the coordinator's watch channel and
/// the `govnode_round_progress` gauge.
pub type SetProgress<'a> = &'a (dyn Fn(&str, u64, u64) + Send + Sync);

pub struct PhaseCounter<'a> {
    phase: &'static str,
    total: u64,
    done: AtomicU64,
    set: SetProgress<'a>,
}

impl<'a> PhaseCounter<'a> {
    /// Starts `phase` at 0 of `total`.
    pub fn start(phase: &'static str, total: u64, set: SetProgress<'a>) -> Self {
        set(phase, 0, total);
        PhaseCounter {
            phase,
            total,
            done: AtomicU64::new(0),
            set,
        }
    }

    /// One more done.
    pub fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        (self.set)(self.phase, done.min(self.total), self.total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn counts_up_from_zero_and_never_past_the_total() {
        let seen = Mutex::new(Vec::new());
        let set = |phase: &str, done: u64, total: u64| {
            seen.lock().unwrap().push((phase.to_owned(), done, total));
        };
        let counter = PhaseCounter::start("sending", 2, &set);
        counter.tick();
        counter.tick();
        counter.tick();
        let seen = seen.into_inner().unwrap();
        let done: Vec<u64> = seen.iter().map(|s| s.1).collect();
        assert_eq!(done, vec![0, 1, 2, 2]);
        assert!(seen.iter().all(|s| s.0 == "sending" && s.2 == 2));
    }
}
