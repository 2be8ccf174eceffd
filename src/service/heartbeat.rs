//! The watchdog only proves the daemon is alive if the daemon's own work loop
//! answers. A heartbeat is a round-trip through that loop (the supervisor)
//! plus every registered liveness check (e.g. "no round stuck past its
//! deadline"); `WATCHDOG=1` is sent only while all of it passes.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::health::{ComponentReport, StaticComponent, Status};
use super::notify::Notifier;

/// A named check that returns why the daemon is wedged, if it is.
pub type LivenessCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

#[derive(Clone)]
pub struct Heartbeat {
    ping: mpsc::Sender<oneshot::Sender<()>>,
    budget: Arc<RwLock<Duration>>,
    checks: Arc<RwLock<Vec<(String, LivenessCheck)>>>,
}

impl Heartbeat {
    /// The receiver goes to the supervisor loop, which must answer every ping.
    pub fn new(budget: Duration) -> (Self, mpsc::Receiver<oneshot::Sender<()>>) {
        let (tx, rx) = mpsc::channel(4);
        (
            Heartbeat {
                ping: tx,
                budget: Arc::new(RwLock::new(budget)),
                checks: Arc::new(RwLock::new(Vec::new())),
            },
            rx,
        )
    }

    pub fn set_budget(&self, budget: Duration) {
        *self.budget.write().unwrap_or_else(|p| p.into_inner()) = budget;
    }

    pub fn add_check(&self, name: impl Into<String>, check: LivenessCheck) {
        let name = name.into();
        let mut checks = self.checks.write().unwrap_or_else(|p| p.into_inner());
        checks.retain(|(n, _)| *n != name);
        checks.push((name, check));
    }

    /// One heartbeat: the supervisor's round-trip within the budget, then the checks.
    pub async fn check(&self) -> Result<(), String> {
        let budget = *self.budget.read().unwrap_or_else(|p| p.into_inner());
        let (tx, rx) = oneshot::channel();
        let round_trip = async {
            self.ping
                .send(tx)
                .await
                .map_err(|_| "the supervisor loop has stopped".to_owned())?;
            rx.await
                .map_err(|_| "the supervisor loop dropped the heartbeat".to_owned())
        };
        match tokio::time::timeout(budget, round_trip).await {
            Err(_) => {
                return Err(format!(
                    "the supervisor loop did not answer within {}",
                    humantime::format_duration(budget)
                ));
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(())) => {}
        }
        let checks = self
            .checks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for (name, check) in checks {
            check().map_err(|why| format!("{name}: {why}"))?;
        }
        Ok(())
    }
}

/// Pets systemd's watchdog at half its interval while heartbeats pass, and
/// keeps the `runtime` health component current. Without a systemd watchdog it
/// still runs the heartbeat (every 5 s) so that `/health` tells the truth.
pub async fn run_watchdog(
    heartbeat: Heartbeat,
    notifier: Notifier,
    interval: Option<Duration>,
    component: Arc<StaticComponent>,
    cancel: CancellationToken,
) {
    let period = interval
        .map(|i| i / 2)
        .unwrap_or(Duration::from_secs(5))
        .max(Duration::from_millis(10));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match heartbeat.check().await {
            Ok(()) => {
                if interval.is_some() {
                    notifier.watchdog();
                }
                if failing {
                    tracing::info!("heartbeat recovered");
                    notifier.health(None);
                    failing = false;
                }
                component.set(ComponentReport::up());
            }
            Err(why) => {
                if !failing {
                    tracing::error!(reason = %why, "heartbeat failed; withholding WATCHDOG=1");
                    notifier.health(Some(why.clone()));
                    failing = true;
                }
                component.set(ComponentReport {
                    status: Status::Down,
                    ready: false,
                    reasons: vec![why],
                    detail: serde_json::Value::Null,
                });
            }
        }
    }
}
