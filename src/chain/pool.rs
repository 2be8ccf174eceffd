//! The pool: endpoints built from the configuration, the tower `Service`
//! alloy's `RpcClient` uses as its transport, snapshots for reports, and the
//! prober tasks.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::task::{Context, Poll};
use std::time::Instant;

use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::client::RpcClient;
use alloy::rpc::json_rpc::{RequestPacket, ResponsePacket};
use alloy::transports::{TransportError, TransportFut};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::endpoint::{ChainCheck, Endpoint, EndpointState, View};
use super::error::BuildError;
use super::health::RpcHealth;
use super::metrics::PoolMetrics;
use super::{call, probe};
use crate::config::{ProbeConfig, RetryConfig, RpcConfig, Secret, Settings};
use crate::service::HealthComponent;

/// A pool of RPC endpoints behind one alloy transport. Cheap to clone; all
/// clones share endpoints, breakers and rate limiters.
#[derive(Clone)]
pub struct Pool {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub chain_id: u64,
    pub endpoints: Vec<Endpoint>,
    pub retry: RetryConfig,
    pub probe: ProbeConfig,
    pub metrics: PoolMetrics,
    /// Advances once per call to rotate among endpoints of equal rank.
    pub rotation: AtomicUsize,
    /// Woken when a probe finds an endpoint answering, for calls waiting
    /// while every breaker is open.
    pub recovered: tokio::sync::Notify,
    is_local: bool,
}

/// One endpoint as `/health` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointSnapshot {
    pub name: String,
    /// Redacted: no credentials, no key-like path segments, no query.
    pub url: String,
    pub priority: u32,
    pub state: EndpointState,
    /// Right chain verified, breaker closed, not lagging.
    pub healthy: bool,
    pub chain_verified: bool,
    /// The chain id a quarantined endpoint reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_chain_id: Option<u64>,
    pub head_block: Option<u64>,
    /// Blocks behind the best head among the endpoints.
    pub lag: Option<u64>,
    pub last_error: Option<&'static str>,
    pub last_error_detail: Option<String>,
    pub last_error_age_seconds: Option<u64>,
    pub p50_latency_ms: Option<f64>,
    /// Failed share of the outcomes in the breaker's window.
    pub error_ratio: Option<f64>,
    pub breaker_opens: u64,
    pub answered: u64,
    pub failed: u64,
    /// Where calls try this endpoint now: 1 first; `None` while it cannot
    /// take calls (breaker open, quarantined). Healthy fast endpoints come
    /// first by priority, then half-open, lagging and much slower ones.
    pub rank: Option<usize>,
    /// Its median latency is over the hedging factor × the fastest healthy
    /// endpoint's: used after the fast ones, whatever its priority.
    pub slow: bool,
    /// Optional methods (`eth_simulateV1`, `eth_getBlockReceipts`):
    /// `unknown` until asked, then `supported` or `unsupported`.
    pub methods: std::collections::BTreeMap<&'static str, super::capability::Support>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PoolSnapshot {
    pub chain_id: u64,
    pub healthy_endpoints: usize,
    pub best_head: Option<u64>,
    pub endpoints: Vec<EndpointSnapshot>,
}

impl PoolSnapshot {
    pub fn endpoint(&self, name: &str) -> Option<&EndpointSnapshot> {
        self.endpoints.iter().find(|e| e.name == name)
    }
}

impl Pool {
    /// Builds the pool; `urls` are in `rpc.endpoints` order. Metrics are
    /// registered in `registry`.
    pub fn new(
        chain_id: u64,
        rpc: &RpcConfig,
        urls: &[Secret],
        registry: &prometheus::Registry,
    ) -> Result<Self, BuildError> {
        if rpc.endpoints.is_empty() {
            return Err(BuildError::NoEndpoints);
        }
        if urls.len() != rpc.endpoints.len() {
            return Err(BuildError::UrlCount {
                endpoints: rpc.endpoints.len(),
                urls: urls.len(),
            });
        }
        let metrics = PoolMetrics::register(registry)?;
        let endpoints = rpc
            .endpoints
            .iter()
            .zip(urls)
            .map(|(cfg, url)| Endpoint::new(cfg, url, &rpc.breaker, metrics.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let is_local = urls
            .iter()
            .all(|u| alloy::transports::utils::guess_local_url(u.expose()));
        Ok(Pool {
            shared: Arc::new(Shared {
                chain_id,
                endpoints,
                retry: rpc.retry.clone(),
                probe: rpc.probe.clone(),
                metrics,
                rotation: AtomicUsize::new(0),
                recovered: tokio::sync::Notify::new(),
                is_local,
            }),
        })
    }

    pub fn from_settings(
        settings: &Settings,
        registry: &prometheus::Registry,
    ) -> Result<Self, BuildError> {
        Pool::new(
            settings.config.chain.id,
            &settings.config.rpc,
            &settings.rpc_urls,
            registry,
        )
    }

    pub fn chain_id(&self) -> u64 {
        self.shared.chain_id
    }

    /// An alloy client whose every request goes through the pool.
    pub fn client(&self) -> RpcClient {
        RpcClient::new(self.clone(), self.shared.is_local)
    }

    /// A provider without fillers (nonces, gas and fees are the caller's
    /// business) on top of [`Pool::client`].
    pub fn provider(&self) -> DynProvider {
        ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_client(self.client())
            .erased()
    }

    /// The `rpc` health component.
    pub fn health_component(&self) -> Arc<dyn HealthComponent> {
        Arc::new(RpcHealth::new(self.clone()))
    }

    /// [`Pool::health_component`] that also says how new heads are followed.
    pub fn health_component_with(&self, heads: super::Heads) -> Arc<dyn HealthComponent> {
        Arc::new(RpcHealth::with_heads(self.clone(), heads))
    }

    pub fn snapshot(&self) -> PoolSnapshot {
        let now = Instant::now();
        let details: Vec<_> = self
            .shared
            .endpoints
            .iter()
            .map(|e| e.detail(now))
            .collect();
        let views: Vec<View> = details.iter().map(|d| d.view).collect();
        let best = best_head(&views);
        let ranked = call::rank_endpoints(&self.shared, &views, 0);
        let endpoints: Vec<EndpointSnapshot> = self
            .shared
            .endpoints
            .iter()
            .zip(details)
            .enumerate()
            .map(|(index, (ep, d))| {
                let v = d.view;
                let place = ranked.iter().position(|r| r.index == index);
                let lag = v.head.zip(best).map(|(h, b)| b.saturating_sub(h));
                EndpointSnapshot {
                    name: ep.name.clone(),
                    url: ep.url().to_owned(),
                    priority: ep.priority,
                    state: v.state,
                    healthy: self.shared.is_healthy(&v, best),
                    chain_verified: v.chain == ChainCheck::Verified,
                    reported_chain_id: match v.chain {
                        ChainCheck::Wrong(id) => Some(id),
                        _ => None,
                    },
                    head_block: v.head,
                    lag,
                    last_error: d.last_error.as_ref().map(|(f, _)| f.class.as_str()),
                    last_error_detail: d.last_error.as_ref().map(|(f, _)| f.detail.clone()),
                    last_error_age_seconds: d
                        .last_error
                        .as_ref()
                        .map(|(_, at)| now.saturating_duration_since(*at).as_secs()),
                    p50_latency_ms: d.p50.map(|p| p.as_secs_f64() * 1000.0),
                    error_ratio: d.error_ratio,
                    breaker_opens: d.opened_total,
                    answered: d.answered,
                    failed: d.failed,
                    rank: place.map(|p| p + 1),
                    slow: place.is_some_and(|p| ranked[p].slow),
                    methods: ep.capabilities.report(),
                }
            })
            .collect();
        PoolSnapshot {
            chain_id: self.shared.chain_id,
            healthy_endpoints: endpoints.iter().filter(|e| e.healthy).count(),
            best_head: best,
            endpoints,
        }
    }

    /// Probes every endpoint once, concurrently (chain id, head, latency).
    pub async fn probe_all(&self) {
        let shared = &self.shared;
        futures::future::join_all(
            (0..shared.endpoints.len()).map(|i| probe::probe_endpoint(shared, i)),
        )
        .await;
    }

    /// One prober loop per endpoint, for the caller to spawn; each ends when
    /// `shutdown` is cancelled.
    pub fn probe_tasks(
        &self,
        shutdown: CancellationToken,
    ) -> Vec<impl Future<Output = ()> + Send + 'static> {
        (0..self.shared.endpoints.len())
            .map(|i| probe::run_prober(self.shared.clone(), i, shutdown.clone()))
            .collect()
    }

    /// Spawns [`Pool::probe_tasks`] on the current runtime.
    pub fn spawn_probers(&self, shutdown: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
        self.probe_tasks(shutdown)
            .into_iter()
            .map(tokio::spawn)
            .collect()
    }
}

impl Shared {
    pub fn views(&self, now: Instant) -> Vec<View> {
        self.endpoints.iter().map(|e| e.view(now)).collect()
    }

    pub fn lagging(&self, view: &View, best: Option<u64>) -> bool {
        match (view.head, best) {
            (Some(h), Some(b)) => b.saturating_sub(h) > self.probe.max_head_lag,
            _ => false,
        }
    }

    /// Sets `govnode_rpc_endpoint_rank` from the order calls would try the
    /// endpoints in now (after every probe).
    pub fn publish_ranks(&self) {
        let views = self.views(Instant::now());
        let ranked = call::rank_endpoints(self, &views, 0);
        for (index, ep) in self.endpoints.iter().enumerate() {
            let place = ranked.iter().position(|r| r.index == index);
            self.metrics
                .set_rank(&ep.name, place.map(|p| p + 1).unwrap_or_default());
        }
    }

    /// Whether some endpoint could take a call now (breaker not open, not
    /// quarantined).
    pub fn any_usable(&self, now: Instant) -> bool {
        self.views(now)
            .iter()
            .any(|v| matches!(v.state, EndpointState::Closed | EndpointState::HalfOpen))
    }

    pub fn is_healthy(&self, view: &View, best: Option<u64>) -> bool {
        view.state == EndpointState::Closed
            && view.chain == ChainCheck::Verified
            && !self.lagging(view, best)
    }
}

/// The highest head among endpoints on the right chain.
pub(crate) fn best_head(views: &[View]) -> Option<u64> {
    views
        .iter()
        .filter(|v| v.chain == ChainCheck::Verified)
        .filter_map(|v| v.head)
        .max()
}

impl tower::Service<RequestPacket> for Pool {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Back-pressure happens per call (rate-limit permits, deadlines).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: RequestPacket) -> Self::Future {
        Box::pin(call::call(self.shared.clone(), req))
    }
}
