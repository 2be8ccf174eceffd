//! The daemon: one handle ([`Daemon`]) that owns the configuration, metrics
//! and health, and the supervisor loop that answers heartbeats, reloads on
//! SIGHUP and stops on SIGTERM/SIGINT.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::health::{ComponentReport, HealthRegistry, StaticComponent};
use super::heartbeat::{Heartbeat, run_watchdog};
use super::notify::{Notifier, watchdog_interval};
use crate::config::{LoadEnv, Settings};
use crate::telemetry::{LogHandle, Metrics};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot install the {signal} handler: {reason}")]
    Signal {
        signal: &'static str,
        reason: String,
    },
    #[error("metrics registry: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("RPC pool: {0}")]
    Chain(#[from] crate::chain::BuildError),
}

/// Shared state every component reaches through. Cheap to clone.
#[derive(Clone)]
pub struct Daemon {
    inner: Arc<Inner>,
}

struct Inner {
    settings: RwLock<Arc<Settings>>,
    config_path: PathBuf,
    metrics: Metrics,
    health: HealthRegistry,
    heartbeat: Heartbeat,
    notifier: Notifier,
    started_at: Instant,
    shutdown: CancellationToken,
    chain: crate::chain::Pool,
}

impl Daemon {
    pub fn settings(&self) -> Arc<Settings> {
        self.inner
            .settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn health(&self) -> &HealthRegistry {
        &self.inner.health
    }

    pub fn heartbeat(&self) -> &Heartbeat {
        &self.inner.heartbeat
    }

    pub fn notifier(&self) -> &Notifier {
        &self.inner.notifier
    }

    pub fn uptime(&self) -> Duration {
        self.inner.started_at.elapsed()
    }

    /// The RPC endpoint pool: the only way to reach the chain.
    pub fn chain(&self) -> &crate::chain::Pool {
        &self.inner.chain
    }

    /// Cancelled when the daemon starts stopping; long work watches it.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }
}

/// Runs the daemon until SIGTERM/SIGINT. Returns once everything is drained
/// (or the drain timeout passed).
pub async fn run(settings: Settings, log: Option<LogHandle>) -> Result<(), DaemonError> {
    let notifier = Notifier;
    notifier.status("starting");
    let metrics = Metrics::new()?;
    let (heartbeat, pings) = Heartbeat::new(settings.config.watchdog.heartbeat_timeout);
    // The pool starts without any chain reachable; its health component
    // keeps /health/ready at 503 until an endpoint is verified.
    let chain = crate::chain::Pool::from_settings(&settings, metrics.registry())?;
    let daemon = Daemon {
        inner: Arc::new(Inner {
            config_path: settings.source.clone(),
            settings: RwLock::new(Arc::new(settings)),
            metrics,
            health: HealthRegistry::default(),
            heartbeat,
            notifier: notifier.clone(),
            started_at: Instant::now(),
            shutdown: CancellationToken::new(),
            chain,
        }),
    };
    let mut hangup = signal(SignalKind::hangup()).map_err(|e| DaemonError::Signal {
        signal: "SIGHUP",
        reason: e.to_string(),
    })?;
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| DaemonError::Signal {
        signal: "SIGTERM",
        reason: e.to_string(),
    })?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| DaemonError::Signal {
        signal: "SIGINT",
        reason: e.to_string(),
    })?;

    let mut tasks = JoinSet::new();
    let runtime_component = StaticComponent::new("runtime", ComponentReport::up());
    daemon.health().register(runtime_component.clone());
    daemon.health().register(daemon.chain().health_component());
    for prober in daemon.chain().probe_tasks(daemon.shutdown_token()) {
        tasks.spawn(prober);
    }

    let settings = daemon.settings();
    if settings.config.api.enabled {
        let server = crate::api::Server::bind(daemon.clone())
            .await
            .map_err(|e| DaemonError::Listen {
                addr: settings.config.api.listen.to_string(),
                reason: e.to_string(),
            })?;
        tasks.spawn(server.serve(daemon.shutdown_token()));
    }
    tasks.spawn(run_watchdog(
        daemon.heartbeat().clone(),
        notifier.clone(),
        watchdog_interval(),
        runtime_component,
        daemon.shutdown_token(),
    ));

    let ready_status = ready_status(&settings);
    notifier.ready(&ready_status);
    tracing::info!(
        config = %daemon.inner.config_path.display(),
        nodes = settings.config.nodes.len(),
        endpoints = settings.config.rpc.endpoints.len(),
        api = settings.config.api.enabled,
        "govnode ready"
    );

    supervise(
        &daemon,
        pings,
        log.as_ref(),
        &mut hangup,
        &mut terminate,
        &mut interrupt,
    )
    .await;

    notifier.stopping();
    tracing::info!("stopping");
    daemon.inner.shutdown.cancel();
    let drain = daemon.settings().config.shutdown.drain_timeout;
    let drained =
        tokio::time::timeout(drain, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            timeout = %humantime::format_duration(drain),
            "drain timeout passed; abandoning unfinished work"
        );
        tasks.abort_all();
    }
    tracing::info!("stopped");
    Ok(())
}

fn ready_status(settings: &Settings) -> String {
    let c = &settings.config;
    let api = if c.api.enabled {
        format!("API on {}", c.api.listen)
    } else {
        "API disabled".to_owned()
    };
    format!(
        "ready: {} node(s), {} RPC endpoint(s), chain {}, {}",
        c.nodes.len(),
        c.rpc.endpoints.len(),
        c.chain.id,
        api
    )
}

/// The daemon's own loop. Heartbeats are answered here, so a wedged loop
/// stops the watchdog.
async fn supervise(
    daemon: &Daemon,
    mut pings: mpsc::Receiver<oneshot::Sender<()>>,
    log: Option<&LogHandle>,
    hangup: &mut tokio::signal::unix::Signal,
    terminate: &mut tokio::signal::unix::Signal,
    interrupt: &mut tokio::signal::unix::Signal,
) {
    loop {
        tokio::select! {
            Some(reply) = pings.recv() => {
                // Fault injection for tests: a sleep here blocks the loop like a real wedge.
                fail::fail_point!("heartbeat-wedge");
                let _ = reply.send(());
            }
            _ = hangup.recv() => reload(daemon, log),
            _ = terminate.recv() => { tracing::info!(signal = "SIGTERM", "stop requested"); return; }
            _ = interrupt.recv() => { tracing::info!(signal = "SIGINT", "stop requested"); return; }
        }
    }
}

/// Reloads the configuration. An invalid file is refused and the running
/// configuration stays; systemd is told `READY=1` either way so that
/// `systemctl reload` does not hang.
fn reload(daemon: &Daemon, log: Option<&LogHandle>) {
    let notifier = daemon.notifier();
    notifier.reloading();
    tracing::info!(config = %daemon.inner.config_path.display(), "reloading configuration");
    let old = daemon.settings();
    match crate::config::load(&daemon.inner.config_path, &LoadEnv::from_process()) {
        Err(e) => {
            for line in e.report().lines() {
                tracing::error!(problem = %line.trim(), "reload refused");
            }
            notifier.ready(&format!(
                "{} (reload refused: invalid configuration, see the journal)",
                ready_status(&old)
            ));
        }
        Ok(new) => {
            for (what, changed) in [
                (
                    "api",
                    old.config.api.listen != new.config.api.listen
                        || old.config.api.enabled != new.config.api.enabled,
                ),
                ("ledger.path", old.ledger_path != new.ledger_path),
                ("control.socket", old.control_socket != new.control_socket),
            ] {
                if changed {
                    tracing::warn!(setting = what, "changed; takes effect after a restart");
                }
            }
            if let Some(handle) = log
                && let Err(e) = handle.set_level(&new.config.log.level)
            {
                tracing::error!(error = %e, "log level not changed");
            }
            daemon
                .heartbeat()
                .set_budget(new.config.watchdog.heartbeat_timeout);
            let status = ready_status(&new);
            *daemon
                .inner
                .settings
                .write()
                .unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
            tracing::info!("configuration reloaded");
            notifier.ready(&status);
        }
    }
}
