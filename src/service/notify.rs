//! sd_notify messages. Without `NOTIFY_SOCKET` (not started by systemd) every
//! call is a no-op, so the daemon runs the same way by hand.

use std::time::Duration;

use sd_notify::NotifyState;

/// Sends lifecycle messages to systemd. Failures are logged, never fatal:
/// systemd going away must not take the daemon down with it.
#[derive(Debug, Clone, Default)]
pub struct Notifier;

impl Notifier {
    fn send(&self, states: &[NotifyState<'_>]) {
        if std::env::var_os("NOTIFY_SOCKET").is_none() {
            return;
        }
        if let Err(e) = sd_notify::notify(states) {
            tracing::warn!(error = %e, "sd_notify failed");
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
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
