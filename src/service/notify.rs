//! sd_notify messages. Without `NOTIFY_SOCKET` (not started by systemd) every
//! call is a no-op, so the daemon runs the same way by hand.
//!
//! The `STATUS=` line is composed from the daemon's health and its last
//! event, not overwritten by whichever message came last: while the heartbeat
//! fails it starts with `unhealthy: …` even when a round finishes meanwhile,
//! and it says `ready` again once the heartbeat recovers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sd_notify::NotifyState;

/// Sends lifecycle messages to systemd. Failures are logged, never fatal:
/// systemd going away must not take the daemon down with it. Clones share
/// one status line.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    line: Arc<Mutex<StatusLine>>,
}

/// What `STATUS=` is made of.
#[derive(Debug, Default)]
struct StatusLine {
    /// `ready: 1 node(s), …` as the daemon last announced itself.
    ready: Option<String>,
    /// Why the heartbeat fails, while it does.
    unhealthy: Option<String>,
    /// The last event worth showing (a round's summary).
    last: Option<String>,
    /// `leader (…)` or `standby: …` with `ha.enabled`.
    role: Option<String>,
}

impl StatusLine {
    fn render(&self) -> String {
        let last = self
            .last
            .as_deref()
            .map(|l| format!("; last {l}"))
            .unwrap_or_default();
        let role = self
            .role
            .as_deref()
            .map(|r| format!("; {r}"))
            .unwrap_or_default();
        match (&self.unhealthy, &self.ready) {
            (Some(why), _) => format!("unhealthy: {why}{role}{last}"),
            (None, Some(ready)) => format!("{ready}{role}{last}"),
            (None, None) => format!("starting{role}{last}"),
        }
    }
}

impl Notifier {
    fn update(&self, f: impl FnOnce(&mut StatusLine)) -> String {
        let mut line = self.line.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut line);
        line.render()
    }

    /// Records the last event (e.g. a round's summary) and sends the line.
    pub fn event(&self, what: &str) {
        let status = self.update(|l| l.last = Some(what.to_owned()));
        self.status(&status);
    }

    /// The daemon's role (`ha.enabled`), shown on every status line after it.
    pub fn role(&self, role: Option<String>) {
        let status = self.update(|l| l.role = role);
        self.status(&status);
    }

    /// The heartbeat's verdict: `Some(why)` while it fails, `None` once it passes.
    pub fn health(&self, unhealthy: Option<String>) {
        let status = self.update(|l| l.unhealthy = unhealthy);
        self.status(&status);
    }

    fn send(&self, states: &[NotifyState<'_>]) {
        if std::env::var_os("NOTIFY_SOCKET").is_none() {
            return;
        }
        if let Err(e) = sd_notify::notify(states) {
            tracing::warn!(error = %e, "sd_notify failed");
        }
    }

    /// `READY=1` with `status` as the daemon's ready line (health and the
    /// last event still shape what `STATUS=` shows).
    pub fn ready(&self, status: &str) {
        let line = self.update(|l| l.ready = Some(status.to_owned()));
        self.send(&[NotifyState::Ready, NotifyState::Status(&line)]);
    }

    pub fn status(&self, status: &str) {
        self.send(&[NotifyState::Status(status)]);
    }

    /// `RELOADING=1` with `MONOTONIC_USEC`, as `Type=notify-reload` requires.
    pub fn reloading(&self) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => self.send(&[
                NotifyState::Reloading,
                now,
                NotifyState::Status("reloading configuration"),
            ]),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the monotonic clock for RELOADING=1");
                self.send(&[NotifyState::Reloading]);
            }
        }
    }

    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }

    pub fn watchdog(&self) {
        self.send(&[NotifyState::Watchdog]);
    }

    /// Asks systemd to treat the daemon as hung right now (`WATCHDOG=trigger`).
    pub fn watchdog_trigger(&self) {
        self.send(&[NotifyState::WatchdogTrigger]);
    }
}

/// The watchdog interval systemd expects, if it enabled one for this process.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_wins_over_the_last_event_until_it_recovers() {
        let n = Notifier::default();
        n.ready("ready: 1 node(s)");
        assert_eq!(n.update(|_| {}), "ready: 1 node(s)");
        n.health(Some("the supervisor loop did not answer".into()));
        n.event("round 3 success: 2 confirmed");
        assert_eq!(
            n.update(|_| {}),
            "unhealthy: the supervisor loop did not answer; last round 3 success: 2 confirmed"
        );
        n.health(None);
        assert_eq!(
            n.update(|_| {}),
            "ready: 1 node(s); last round 3 success: 2 confirmed"
        );
    }

    #[test]
    fn the_role_stays_on_the_line_through_events() {
        let n = Notifier::default();
        n.ready("ready: 1 node(s)");
        n.role(Some("standby: the leader is gov-b".into()));
        n.event("round 3 success: 2 confirmed");
        assert_eq!(
            n.update(|_| {}),
            "ready: 1 node(s); standby: the leader is gov-b; last round 3 success: 2 confirmed"
        );
    }
}
