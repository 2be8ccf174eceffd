//! Only one round runs at a time. A trigger that arrives while a round runs
//! joins it (gets the same report) instead of starting a second one, so the
//! timer, an operator's curl and the on-start round can never overlap. A
//! standby (`ha.enabled`, another daemon holds the lease) starts none.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::report::RoundReport;
pub use crate::ha::{Admission, NotLeader};
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Who asked for the round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// `govnode round` over the control socket (the systemd timer).
    Control,
    /// `POST /api/v1/rounds` or the DLoop alias `POST /trigger-voting`.
    Api,
    /// `round.on_start`.
    Startup,
    /// `round.on_new_proposal`: the DAO created a proposal.
    NewProposal,
    /// `ha.enabled`: this daemon took the lease over from another one.
    Failover,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Control => "control",
            Trigger::Api => "api",
            Trigger::Startup => "startup",
            Trigger::NewProposal => "new_proposal",
            Trigger::Failover => "failover",
        }
    }
}

/// What a running round is doing, for progress output and `STATUS=`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub phase: String,
    pub done: u64,
    pub total: u64,
}

/// Runs one round to its end and returns its report. It must honour the
/// round deadline and the admission's token (the daemon stops, or a
/// leadership ends) itself, keep the admission until it ends, and never
/// panic.
pub type Runner = Arc<
    dyn Fn(Trigger, watch::Sender<Progress>, Admission) -> BoxFuture<'static, RoundReport>
        + Send
        + Sync,
>;

/// Whether a round may start now: what it may do, or why not.
pub type Gate = Arc<dyn Fn() -> Result<Admission, NotLeader> + Send + Sync>;

type SharedReport = Shared<BoxFuture<'static, Arc<RoundReport>>>;

struct Running {
    started: Instant,
    report: SharedReport,
    progress: watch::Receiver<Progress>,
}

/// Empties the coordinator's slot when the round's task ends, however it ends.
struct FreeOnDrop(Arc<Mutex<Option<Running>>>);

impl Drop for FreeOnDrop {
    fn drop(&mut self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// A handle on a round, started or joined.
pub struct Ticket {
    /// True when the trigger joined a round that was already running.
    pub joined: bool,
    pub progress: watch::Receiver<Progress>,
    report: SharedReport,
}

impl Ticket {
    pub async fn report(self) -> Arc<RoundReport> {
        self.report.await
    }
}

#[derive(Clone)]
pub struct Coordinator {
    runner: Runner,
    gate: Gate,
    current: Arc<Mutex<Option<Running>>>,
}

impl Coordinator {
    /// Rounds gated by `gate` (the daemon's role).
    pub fn new(runner: Runner, gate: Gate) -> Self {
        Coordinator {
            runner,
            gate,
            current: Arc::new(Mutex::new(None)),
        }
    }

    /// Starts a round, or joins the one that is running; refused on a
    /// standby, with who leads.
    pub fn trigger(&self, trigger: Trigger) -> Result<Ticket, NotLeader> {
        let admission = (self.gate)()?;
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(running) = current.as_ref() {
            tracing::info!(
                trigger = trigger.as_str(),
                "a round is already running; joining it"
            );
            return Ok(Ticket {
                joined: true,
                progress: running.progress.clone(),
                report: running.report.clone(),
            });
        }
        // A round is planning from the moment it exists, before its task runs.
        let (tx, rx) = watch::channel(Progress {
            phase: "planning".into(),
            done: 0,
            total: 0,
        });
        let run = (self.runner)(trigger, tx, admission);
        let slot = self.current.clone();
        let task = tokio::spawn(async move {
            // Cleared by the round's own task, so the next trigger starts afresh
            // even when nobody awaits this report, and by a guard, so a round
            // that panics does not hold the slot for ever.
            let _free = FreeOnDrop(slot);
            Arc::new(run.await)
        });
        let started = Instant::now();
        let started_at = super::now_rfc3339();
        let report: SharedReport = async move {
            match task.await {
                Ok(report) => report,
                Err(e) => {
                    let mut report =
                        RoundReport::crashed(format!("the round task ended abnormally: {e}"));
                    report.trigger = trigger.as_str().to_owned();
                    report.started_at = started_at;
                    report.duration_ms =
                        Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
                    Arc::new(report)
                }
            }
        }
        .boxed()
        .shared();
        // Drive it even if every ticket is dropped.
        tokio::spawn(report.clone());
        *current = Some(Running {
            started,
            report: report.clone(),
            progress: rx.clone(),
        });
        Ok(Ticket {
            joined: false,
            progress: rx,
            report,
        })
    }

    pub fn running_for(&self) -> Option<Duration> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|r| r.started.elapsed())
    }

    pub fn progress(&self) -> Option<Progress> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|r| r.progress.borrow().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tokio_util::sync::CancellationToken;

    fn always() -> Gate {
        Arc::new(|| Ok(Admission::everyone(CancellationToken::new())))
    }

    #[tokio::test]
    async fn second_trigger_joins_the_running_round() {
        let starts = Arc::new(AtomicU32::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let (s, g) = (starts.clone(), gate.clone());
        let runner: Runner = Arc::new(move |_t, _p, _c| {
            let n = s.fetch_add(1, Ordering::SeqCst) + 1;
            let g = g.clone();
            async move {
                g.notified().await;
                RoundReport::test_finished(n.into())
            }
            .boxed()
        });
        let c = Coordinator::new(runner, always());
        let first = c.trigger(Trigger::Control).unwrap();
        let second = c.trigger(Trigger::Api).unwrap();
        assert!(!first.joined);
        assert!(second.joined);
        gate.notify_one();
        let (a, b) = (first.report().await, second.report().await);
        assert_eq!(a.id, b.id);
        assert_eq!(starts.load(Ordering::SeqCst), 1);
        // Finished: the next trigger starts a new round.
        let third = c.trigger(Trigger::Control).unwrap();
        assert!(!third.joined);
        gate.notify_one();
        assert_eq!(third.report().await.id, 2);
    }

    #[tokio::test]
    async fn a_round_that_panics_is_reported_failed_with_its_trigger() {
        let runner: Runner = Arc::new(|_t, _p, _c| async { panic!("a bug in the round") }.boxed());
        let c = Coordinator::new(runner, always());
        let report = c.trigger(Trigger::Api).unwrap().report().await;
        assert_eq!(report.outcome, Some(crate::round::Outcome::Failed));
        assert_eq!(report.trigger, "api");
        assert!(report.duration_ms.is_some());
        assert!(
            report
                .error
                .as_deref()
                .is_some_and(|e| e.contains("ended abnormally")),
            "{report:?}"
        );
        // The slot is free again: the next trigger starts a round, not a join.
        assert!(!c.trigger(Trigger::Control).unwrap().joined);
    }

    #[tokio::test]
    async fn a_closed_gate_starts_no_round_and_says_why() {
        let starts = Arc::new(AtomicU32::new(0));
        let s = starts.clone();
        let runner: Runner = Arc::new(move |_t, _p, _c| {
            s.fetch_add(1, Ordering::SeqCst);
            async { RoundReport::test_finished(1) }.boxed()
        });
        let gate: Gate = Arc::new(|| Err(NotLeader("standby: the leader is b".into())));
        let c = Coordinator::new(runner, gate);
        let refused = c.trigger(Trigger::Control).err();
        assert_eq!(refused, Some(NotLeader("standby: the leader is b".into())));
        assert_eq!(starts.load(Ordering::SeqCst), 0);
        assert!(c.running_for().is_none());
    }
}
