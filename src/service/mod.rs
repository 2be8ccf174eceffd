//! The service lifecycle: sd_notify, heartbeat and watchdog, signals, health.

pub mod daemon;
pub mod health;
pub mod heartbeat;
pub mod lock;
pub mod notify;

pub use daemon::{Daemon, DaemonError, run};
pub use health::{ComponentReport, HealthComponent, HealthRegistry, StaticComponent, Status};
pub use notify::Notifier;
