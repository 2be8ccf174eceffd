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
use crate::ha::Ha;
use crate::ledger::pg::{Fence, FenceSet};
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
    #[error("voting: {0}")]
    Voting(#[from] crate::round::ContextError),
    #[error("{0}")]
    Control(#[from] crate::api::control::ControlError),
    #[error("{0}")]
    Locked(#[from] super::lock::LockError),
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
    voting: Arc<RwLock<crate::round::Voting>>,
    rounds: crate::round::Coordinator,
    ha: Ha,
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

    /// The round's world (DAO adapter, ledger, voters); swapped on reload.
    pub fn voting(&self) -> crate::round::Voting {
        self.inner
            .voting
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Starts or joins voting rounds.
    pub fn rounds(&self) -> &crate::round::Coordinator {
        &self.inner.rounds
    }

    /// This daemon's role among the daemons of its ledger.
    pub fn ha(&self) -> &Ha {
        &self.inner.ha
    }

    /// Cancelled when the daemon starts stopping; long work watches it.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }
}

/// Runs the daemon until SIGTERM/SIGINT. Returns once everything is drained
/// (or the drain timeout passed).
pub async fn run(settings: Settings, log: Option<LogHandle>) -> Result<(), DaemonError> {
    let notifier = Notifier::default();
    notifier.status("starting");
    // Before the chain or the ledger is touched: a second daemon leaves both alone.
    let _state_lock = super::lock::StateLock::acquire(&settings.ledger_path)?;
    let metrics = Metrics::new()?;
    let (heartbeat, pings) = Heartbeat::new(settings.config.watchdog.heartbeat_timeout);
    // The pool starts without any chain reachable; its health component
    // keeps /health/ready at 503 until an endpoint is verified.
    let chain = crate::chain::Pool::from_settings(&settings, metrics.registry())?;
    let shutdown = CancellationToken::new();
    let ha_config = &settings.config.ha;
    // One fence per lease group of the nodes, each with whether this
    // daemon prefers it.
    let fences: Vec<(Arc<Fence>, bool)> = if ha_config.enabled {
        crate::config::lease_groups(&settings.config.nodes)
            .into_iter()
            .map(|group| {
                let preferred = ha_config.prefers(&group);
                (
                    Arc::new(Fence::new(ha_config.resolved_id(), group, ha_config.lease)),
                    preferred,
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let ha_metrics = crate::ha::HaMetrics::register(metrics.registry())?;
    let ha = if ha_config.enabled {
        Ha::elected(
            &ha_config.resolved_id(),
            fences.clone(),
            shutdown.clone(),
            ha_metrics,
            notifier.clone(),
        )
    } else {
        Ha::single(shutdown.clone(), ha_metrics, notifier.clone())
    };
    // The daemon's own writes (key acks, marking what a failed leader
    // left) need one lease; a round's need every lease it votes for.
    let any_lease = ha_config
        .enabled
        .then(|| FenceSet::any(fences.iter().map(|(f, _)| f.clone()).collect()));
    let voting =
        crate::round::Voting::build(&settings, chain.provider(), metrics.registry(), any_lease)
            .await?;
    // With HA the leader does this when it takes the lease: a standby
    // starting up must not touch the leader's running round.
    if !ha_config.enabled {
        crate::round::interrupt_unfinished(&voting.ledger, None).await;
    }
    // The missed-round alert reads this gauge: carry it across restarts.
    if let Ok(Some(ms)) = voting.ledger.last_success().await {
        voting.metrics.last_success.set(ms as f64 / 1000.0);
    }
    let voting = Arc::new(RwLock::new(voting));
    // What the last round saw of the DAO and the nodes (pause, no voting
    // power): degraded, never unready — the daemon still serves and votes.
    let dao_component = StaticComponent::new("dao", ComponentReport::up());
    let gate_ha = ha.clone();
    let rounds = crate::round::Coordinator::new(
        crate::round::runner(voting.clone(), notifier.clone(), dao_component.clone()),
        Arc::new(move || gate_ha.admit()),
    );
    let daemon = Daemon {
        inner: Arc::new(Inner {
            config_path: settings.source.clone(),
            settings: RwLock::new(Arc::new(settings)),
            metrics,
            health: HealthRegistry::default(),
            heartbeat,
            notifier: notifier.clone(),
            started_at: Instant::now(),
            shutdown,
            chain,
            voting,
            rounds,
            ha,
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
    daemon.health().register(dao_component);
    daemon
        .health()
        .register(Arc::new(daemon.voting().keys.clone()));
    daemon
        .health()
        .register(daemon.chain().health_component_with(daemon.voting().heads));
    if !fences.is_empty() {
        daemon.health().register(Arc::new(daemon.ha().clone()));
        elect(&daemon, fences, &mut tasks);
    }
    for prober in daemon.chain().probe_tasks(daemon.shutdown_token()) {
        tasks.spawn(prober);
    }
    let checked = daemon.clone();
    tasks.spawn(crate::round::check_at_start(
        move || checked.voting(),
        daemon.shutdown_token(),
    ));

    let settings = daemon.settings();
    follow_chain(&daemon, &settings, &mut tasks)?;
    let control = crate::api::control::ControlServer::bind(&settings.control_socket).await?;
    tasks.spawn(control.serve(daemon.clone(), daemon.shutdown_token()));
    let stuck_grace = Duration::from_secs(60);
    let watched = daemon.clone();
    daemon.heartbeat().add_check(
        "round",
        Arc::new(move || {
            let limit = watched.voting().round.deadline + stuck_grace;
            match watched.rounds().running_for() {
                Some(t) if t > limit => Err(format!(
                    "a round has run for {} (deadline {} + {} grace)",
                    humantime::format_duration(Duration::from_secs(t.as_secs())),
                    humantime::format_duration(watched.voting().round.deadline),
                    humantime::format_duration(stuck_grace)
                )),
                _ => Ok(()),
            }
        }),
    );
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
    // With HA the elector starts it, once this daemon leads.
    if settings.config.round.on_start && !settings.config.ha.enabled {
        // Not awaited: the report goes to the log, the ledger and the API.
        let _ticket = daemon.rounds().trigger(crate::round::Trigger::Startup);
    }

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
    let drained = tokio::time::timeout(drain, async {
        while tasks.join_next().await.is_some() {}
        // A running round sees the cancelled token, stops sending and records
        // where it stands; give it the same drain time.
        while daemon.rounds().running_for().is_some() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
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

/// Each node's lease group, by name, for the reload's restart warning.
fn lease_group_of_nodes(settings: &Settings) -> Vec<(&str, &str)> {
    let mut groups: Vec<(&str, &str)> = settings
        .config
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.ha_group()))
        .collect();
    groups.sort_unstable();
    groups
}

/// `ha.enabled`: a lease task per lease group, each on a database
/// connection of its own.
fn elect(daemon: &Daemon, fences: Vec<(Arc<Fence>, bool)>, tasks: &mut JoinSet<()>) {
    let Some(target) = daemon.voting().ledger.postgres_target().cloned() else {
        // Refused by the configuration check (ha.enabled needs postgres).
        tracing::error!("ha.enabled without a PostgreSQL ledger: this daemon stays a standby");
        return;
    };
    let settings = daemon.settings();
    for (fence, preferred) in fences {
        let voting = daemon.clone();
        let elector = crate::ha::Elector {
            ha: daemon.ha().clone(),
            asks_back: settings
                .config
                .ha
                .preferred_groups
                .iter()
                .any(|g| g == fence.group()),
            fence,
            preferred,
            target: target.clone(),
            voting: Arc::new(move || voting.voting()),
            rounds: daemon.rounds().clone(),
            on_start: settings.config.round.on_start,
        };
        tasks.spawn(elector.run(daemon.shutdown_token()));
    }
}

/// The follower: new heads over the endpoints' `ws_url`s for every round's
/// confirmation and, with `round.on_new_proposal`, the DAO's new proposals
/// and the task that turns them into rounds. Without either there is
/// nothing to follow: rounds poll for heads.
fn follow_chain(
    daemon: &Daemon,
    settings: &Settings,
    tasks: &mut JoinSet<()>,
) -> Result<(), DaemonError> {
    let endpoints = ws_endpoints(settings);
    let round = &settings.config.round;
    if endpoints.is_empty() && !round.on_new_proposal {
        return Ok(());
    }
    let voting = daemon.voting();
    let proposals = round.on_new_proposal.then(|| {
        let (found, proposals) = tokio::sync::mpsc::channel(64);
        tasks.spawn(crate::follow::start_rounds(
            proposals,
            daemon.rounds().clone(),
            round.new_proposal_debounce,
            daemon.shutdown_token(),
        ));
        crate::follow::Proposals {
            dao: voting.dao.address(),
            topic: voting.dao.proposal_created_topic(),
            found,
        }
    });
    let follower = crate::follow::Follower {
        proposals,
        heads: voting.heads.clone(),
        provider: daemon.chain().provider(),
        endpoints,
        poll: round.new_proposal_poll,
        timeout: FOLLOW_TIMEOUT,
        metrics: crate::follow::FollowMetrics::register(daemon.metrics().registry())?,
    };
    tasks.spawn(follower.run(daemon.shutdown_token()));
    Ok(())
}

/// The endpoints' WebSocket URLs, in priority order.
fn ws_endpoints(settings: &Settings) -> Vec<crate::follow::WsEndpoint> {
    let mut endpoints: Vec<(u32, crate::follow::WsEndpoint)> = settings
        .config
        .rpc
        .endpoints
        .iter()
        .zip(&settings.rpc_ws_urls)
        .filter_map(|(ep, ws)| {
            ws.as_ref().map(|url| {
                (
                    ep.priority,
                    crate::follow::WsEndpoint {
                        name: ep.name.clone(),
                        url: url.clone(),
                    },
                )
            })
        })
        .collect();
    endpoints.sort_by_key(|(priority, _)| *priority);
    endpoints.into_iter().map(|(_, e)| e).collect()
}

/// Connect, subscribe and ping answers of the follower's WebSocket.
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(10);

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
                (
                    "ledger",
                    old.config.ledger.kind != new.config.ledger.kind
                        || old.ledger_postgres.as_ref().map(|t| t.conninfo.expose())
                            != new.ledger_postgres.as_ref().map(|t| t.conninfo.expose())
                        || old.config.ledger.sslmode != new.config.ledger.sslmode
                        || old.config.ledger.ca_file != new.config.ledger.ca_file,
                ),
                ("control.socket", old.control_socket != new.control_socket),
                (
                    "ha",
                    format!("{:?}", old.config.ha) != format!("{:?}", new.config.ha),
                ),
                (
                    "nodes[].ha.group",
                    lease_group_of_nodes(&old) != lease_group_of_nodes(&new),
                ),
                (
                    "rpc",
                    format!("{:?}", old.config.rpc) != format!("{:?}", new.config.rpc)
                        || old.config.chain.id != new.config.chain.id,
                ),
                (
                    "dao",
                    format!("{:?}", old.config.dao.kind) != format!("{:?}", new.config.dao.kind)
                        || old.config.dao.address != new.config.dao.address,
                ),
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
            let rebuilt = daemon.voting().reloaded(&new);
            match rebuilt {
                Ok(v) => {
                    *daemon
                        .inner
                        .voting
                        .write()
                        .unwrap_or_else(|p| p.into_inner()) = v
                }
                Err(e) => {
                    tracing::error!(error = %e, "reload refused: the voting settings cannot be applied");
                    notifier.ready(&format!("{} (reload refused: {e})", ready_status(&old)));
                    return;
                }
            }
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
