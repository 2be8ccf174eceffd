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

use super::health::{ComponentReport, HealthRegistry, Named, StaticComponent};
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
    #[error("DAO {dao}: no chain {chain} (a configuration check let it through)")]
    NoChain { dao: String, chain: String },
}

/// Shared state every component reaches through. Cheap to clone.
///
/// A handle looks at one DAO (the first one unless [`Daemon::for_dao`]
/// chose another): [`Daemon::voting`], [`Daemon::rounds`],
/// [`Daemon::chain`] and [`Daemon::settings`] are that DAO's.
#[derive(Clone)]
pub struct Daemon {
    inner: Arc<Inner>,
    world: usize,
}

/// One DAO the daemon votes in: its round's world and its rounds.
struct DaoWorld {
    name: String,
    chain: String,
    voting: Arc<RwLock<crate::round::Voting>>,
    rounds: crate::round::Coordinator,
}

/// The settings, daemon-wide and as each DAO sees them.
struct SettingsViews {
    all: Arc<Settings>,
    /// In `daos` order.
    daos: Vec<Arc<Settings>>,
}

impl SettingsViews {
    fn new(all: Settings) -> Self {
        let daos = all.dao_views().into_iter().map(Arc::new).collect();
        SettingsViews {
            all: Arc::new(all),
            daos,
        }
    }
}

struct Inner {
    settings: RwLock<SettingsViews>,
    config_path: PathBuf,
    metrics: Metrics,
    health: HealthRegistry,
    heartbeat: Heartbeat,
    notifier: Notifier,
    started_at: Instant,
    shutdown: CancellationToken,
    /// One pool per chain, by chain name.
    pools: Vec<(String, crate::chain::Pool)>,
    /// At least one, in `daos` order.
    worlds: Vec<DaoWorld>,
    ha: Ha,
}

impl Daemon {
    /// This handle's DAO's view of the settings.
    pub fn settings(&self) -> Arc<Settings> {
        let views = self
            .inner
            .settings
            .read()
            .unwrap_or_else(|p| p.into_inner());
        views
            .daos
            .get(self.world)
            .cloned()
            .unwrap_or_else(|| views.all.clone())
    }

    /// The settings of every DAO and chain.
    pub fn all_settings(&self) -> Arc<Settings> {
        self.inner
            .settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .all
            .clone()
    }

    /// Every DAO's name, in `daos` order.
    pub fn dao_names(&self) -> Vec<String> {
        self.inner.worlds.iter().map(|w| w.name.clone()).collect()
    }

    /// This handle's DAO.
    pub fn dao_name(&self) -> &str {
        &self.world().name
    }

    /// The chain this handle's DAO lives on.
    pub fn chain_name(&self) -> &str {
        &self.world().chain
    }

    /// Whether the daemon votes in more than one DAO.
    pub fn many_daos(&self) -> bool {
        self.inner.worlds.len() > 1
    }

    /// The same daemon looking at DAO `name`.
    pub fn for_dao(&self, name: &str) -> Option<Daemon> {
        let world = self.inner.worlds.iter().position(|w| w.name == name)?;
        Some(Daemon {
            inner: self.inner.clone(),
            world,
        })
    }

    /// A handle per DAO, in `daos` order.
    pub fn each_dao(&self) -> Vec<Daemon> {
        (0..self.inner.worlds.len())
            .map(|world| Daemon {
                inner: self.inner.clone(),
                world,
            })
            .collect()
    }

    fn world(&self) -> &DaoWorld {
        // `run` builds at least one world and handles index only into it.
        &self.inner.worlds[self.world.min(self.inner.worlds.len() - 1)]
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

    /// The RPC endpoint pool of this DAO's chain: the only way to reach it.
    pub fn chain(&self) -> &crate::chain::Pool {
        let chain = &self.world().chain;
        let found = self.inner.pools.iter().find(|(name, _)| name == chain);
        // Every world's chain has a pool: `run` builds them together.
        &found.unwrap_or(&self.inner.pools[0]).1
    }

    /// Every chain's pool, by chain name.
    pub fn pools(&self) -> &[(String, crate::chain::Pool)] {
        &self.inner.pools
    }

    /// The round's world (DAO adapter, ledger, voters); swapped on reload.
    pub fn voting(&self) -> crate::round::Voting {
        self.world()
            .voting
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Starts or joins this DAO's voting rounds.
    pub fn rounds(&self) -> &crate::round::Coordinator {
        &self.world().rounds
    }

    /// How long the longest-running round of any DAO has run.
    pub fn any_round_running_for(&self) -> Option<Duration> {
        self.inner
            .worlds
            .iter()
            .filter_map(|w| w.rounds.running_for())
            .max()
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
    // The single-DAO form keeps its series as they were; with `daos:` each
    // DAO's and chain's series carry its name.
    let many = !settings.config.single_form;
    let views = settings.dao_views();
    // One pool per chain. A pool starts without any chain reachable; its
    // health component keeps /health/ready at 503 until an endpoint is verified.
    let mut pools: Vec<(String, crate::chain::Pool)> = Vec::new();
    for view in &views {
        let chain = view.chain_name().to_owned();
        if pools.iter().any(|(name, _)| *name == chain) {
            continue;
        }
        let registry = if many {
            metrics.child(&[("chain", &chain)])?
        } else {
            metrics.registry().clone()
        };
        let pool = crate::chain::Pool::from_settings(view, &registry)?;
        pools.push((chain, pool));
    }
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
    let mut wallet_locks: Vec<(u64, crate::round::WalletLocks)> = Vec::new();
    let mut worlds = Vec::new();
    let mut parts = Vec::new();
    for view in &views {
        let name = view.dao_name().to_owned();
        let chain = view.chain_name().to_owned();
        let pool = pools
            .iter()
            .find(|(n, _)| *n == chain)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| DaemonError::NoChain {
                dao: name.clone(),
                chain: chain.clone(),
            })?;
        let registry = if many {
            metrics.child(&[("dao", &name)])?
        } else {
            metrics.registry().clone()
        };
        let mut voting =
            crate::round::Voting::build(view, pool.provider(), &registry, any_lease.clone())
                .await?;
        let chain_id = view.config.chain.id;
        voting.wallets = match wallet_locks.iter().find(|(id, _)| *id == chain_id) {
            Some((_, locks)) => locks.clone(),
            None => {
                let locks = crate::round::WalletLocks::default();
                wallet_locks.push((chain_id, locks.clone()));
                locks
            }
        };
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
        let dao_component = StaticComponent::new(
            if many {
                format!("dao.{name}")
            } else {
                "dao".to_owned()
            },
            ComponentReport::up(),
        );
        let gate_ha = ha.clone();
        let rounds = crate::round::Coordinator::new(
            crate::round::runner(voting.clone(), notifier.clone(), dao_component.clone()),
            Arc::new(move || gate_ha.admit()),
        );
        worlds.push(DaoWorld {
            name,
            chain,
            voting,
            rounds,
        });
        parts.push((dao_component, registry));
    }
    let daemon = Daemon {
        inner: Arc::new(Inner {
            config_path: settings.source.clone(),
            settings: RwLock::new(SettingsViews::new(settings)),
            metrics,
            health: HealthRegistry::default(),
            heartbeat,
            notifier: notifier.clone(),
            started_at: Instant::now(),
            shutdown,
            pools,
            worlds,
            ha,
        }),
        world: 0,
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
    for (dao, (dao_component, _)) in daemon.each_dao().iter().zip(&parts) {
        let qualifier = daemon.many_daos().then(|| dao.dao_name().to_owned());
        daemon.health().register(dao_component.clone());
        daemon.health().register(Named::qualified(
            Arc::new(dao.voting().keys.clone()),
            qualifier.as_deref(),
        ));
    }
    for (chain, pool) in daemon.pools() {
        // The first DAO on the chain follows its heads for the pool's view.
        let heads = daemon
            .each_dao()
            .into_iter()
            .find(|d| d.chain_name() == chain)
            .map(|d| d.voting().heads)
            .unwrap_or_default();
        daemon.health().register(Named::qualified(
            pool.health_component_with(heads),
            daemon.many_daos().then_some(chain.as_str()),
        ));
        for prober in pool.probe_tasks(daemon.shutdown_token()) {
            tasks.spawn(prober);
        }
    }
    if !fences.is_empty() {
        daemon.health().register(Arc::new(daemon.ha().clone()));
        elect(&daemon, fences, &mut tasks);
    }
    for (dao, (_, registry)) in daemon.each_dao().into_iter().zip(&parts) {
        let checked = dao.clone();
        tasks.spawn(crate::round::check_at_start(
            move || checked.voting(),
            daemon.shutdown_token(),
        ));
        follow_chain(&dao, &dao.settings(), registry, &mut tasks)?;
    }

    let settings = daemon.all_settings();
    let control = crate::api::control::ControlServer::bind(&settings.control_socket).await?;
    tasks.spawn(control.serve(daemon.clone(), daemon.shutdown_token()));
    let stuck_grace = Duration::from_secs(60);
    let watched = daemon.each_dao();
    daemon.heartbeat().add_check(
        "round",
        Arc::new(move || {
            for dao in &watched {
                let deadline = dao.voting().round.deadline;
                if let Some(t) = dao.rounds().running_for()
                    && t > deadline + stuck_grace
                {
                    return Err(format!(
                        "a round of DAO {} has run for {} (deadline {} + {} grace)",
                        dao.dao_name(),
                        humantime::format_duration(Duration::from_secs(t.as_secs())),
                        humantime::format_duration(deadline),
                        humantime::format_duration(stuck_grace)
                    ));
                }
            }
            Ok(())
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
        endpoints = endpoint_count(&settings),
        daos = settings.config.daos.len(),
        chains = settings.config.chains.len(),
        api = settings.config.api.enabled,
        "govnode ready"
    );
    // With HA the elector starts it, once this daemon leads.
    if settings.config.round.on_start && !settings.config.ha.enabled {
        for dao in daemon.each_dao() {
            // Not awaited: the report goes to the log, the ledger and the API.
            let _ticket = dao.rounds().trigger(crate::round::Trigger::Startup);
        }
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
    let drain = daemon.all_settings().config.shutdown.drain_timeout;
    let drained = tokio::time::timeout(drain, async {
        while tasks.join_next().await.is_some() {}
        // A running round sees the cancelled token, stops sending and records
        // where it stands; give it the same drain time.
        while daemon.any_round_running_for().is_some() {
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
    let settings = daemon.all_settings();
    let daos: Vec<crate::ha::ElectedDao> = daemon
        .each_dao()
        .into_iter()
        .map(|dao| crate::ha::ElectedDao {
            rounds: dao.rounds().clone(),
            voting: Arc::new(move || dao.voting()),
        })
        .collect();
    for (fence, preferred) in fences {
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
            daos: daos.clone(),
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
    registry: &prometheus::Registry,
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
        metrics: crate::follow::FollowMetrics::register(registry)?,
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

/// RPC endpoints over every chain.
fn endpoint_count(settings: &Settings) -> usize {
    settings
        .config
        .chains
        .iter()
        .map(|c| c.rpc.endpoints.len())
        .sum()
}

fn ready_status(settings: &Settings) -> String {
    let c = &settings.config;
    let api = if c.api.enabled {
        format!("API on {}", c.api.listen)
    } else {
        "API disabled".to_owned()
    };
    if c.single_form {
        return format!(
            "ready: {} node(s), {} RPC endpoint(s), chain {}, {}",
            c.nodes.len(),
            c.rpc.endpoints.len(),
            c.chain.id,
            api
        );
    }
    format!(
        "ready: {} DAO(s) on {} chain(s), {} node(s), {} RPC endpoint(s), {}",
        c.daos.len(),
        c.chains.len(),
        c.nodes.len(),
        endpoint_count(settings),
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
    let old = daemon.all_settings();
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
                    format!("{:?}", old.config.chains) != format!("{:?}", new.config.chains),
                ),
                ("dao", dao_identities(&old) != dao_identities(&new)),
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
            // Each DAO takes its own view; a DAO added or removed waits for
            // the restart warned about above.
            let views = new.dao_views();
            let mut rebuilt = Vec::new();
            for dao in daemon.each_dao() {
                let Some(view) = views.iter().find(|v| v.dao_name() == dao.dao_name()) else {
                    continue;
                };
                match dao.voting().reloaded(view) {
                    Ok(v) => rebuilt.push((dao, v)),
                    Err(e) => {
                        tracing::error!(DAO = dao.dao_name(), error = %e, "reload refused: the voting settings cannot be applied");
                        notifier.ready(&format!("{} (reload refused: {e})", ready_status(&old)));
                        return;
                    }
                }
            }
            for (dao, v) in rebuilt {
                *dao.world()
                    .voting
                    .write()
                    .unwrap_or_else(|p| p.into_inner()) = v;
            }
            let status = ready_status(&new);
            *daemon
                .inner
                .settings
                .write()
                .unwrap_or_else(|p| p.into_inner()) = SettingsViews::new(new);
            tracing::info!("configuration reloaded");
            notifier.ready(&status);
        }
    }
}

/// Each DAO's name, chain, kind and contract: what only a restart changes.
fn dao_identities(settings: &Settings) -> Vec<(String, String, String, String)> {
    settings
        .config
        .daos
        .iter()
        .map(|d| {
            (
                d.name.clone(),
                d.chain.clone(),
                format!("{:?}", d.kind),
                d.address.to_ascii_lowercase(),
            )
        })
        .collect()
}
