//! One RPC endpoint as the pool sees it: its wire, rate limiter, breaker,
//! chain check, head and statistics. State changes are logged (with the
//! endpoint's name and redacted URL) and exported here, where they happen.

use std::num::NonZeroU32;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use alloy::rpc::json_rpc::{Id, Request, RequestPacket, ResponsePacket, ResponsePayload};
use bytes::Bytes;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Serialize;
use serde_json::value::RawValue;

use super::breaker::{Breaker, BreakerState, Transition};
use super::capability::Capabilities;
use super::classify::FailureClass;
use super::error::{BuildError, EndpointFailure};
use super::http::{Expect, Wire, interpret};
use super::metrics::PoolMetrics;
use super::stats::Stats;
use crate::config::{BreakerConfig, EndpointConfig, Secret};

/// An endpoint's state as reported in `/health` and the state metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointState {
    Closed,
    Open,
    HalfOpen,
    /// It reported another chain id; never used until a probe shows the right one.
    Quarantined,
}

impl EndpointState {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointState::Closed => "closed",
            EndpointState::Open => "open",
            EndpointState::HalfOpen => "half_open",
            EndpointState::Quarantined => "quarantined",
        }
    }
}

/// Whether the endpoint's chain id has been checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChainCheck {
    Unverified,
    Verified,
    Wrong(u64),
}

struct Live {
    breaker: Breaker,
    chain: ChainCheck,
    head: Option<u64>,
    lagging: bool,
    last_error: Option<(EndpointFailure, Instant)>,
    stats: Stats,
    published: Option<EndpointState>,
}

/// What selection reads, taken under one lock (cheap: on every call).
#[derive(Debug, Clone, Copy)]
pub(crate) struct View {
    pub state: EndpointState,
    pub chain: ChainCheck,
    pub head: Option<u64>,
}

/// A [`View`] plus the statistics reports show.
#[derive(Debug, Clone)]
pub(crate) struct Detail {
    pub view: View,
    pub last_error: Option<(EndpointFailure, Instant)>,
    pub p50: Option<Duration>,
    pub error_ratio: Option<f64>,
    pub opened_total: u64,
    pub answered: u64,
    pub failed: u64,
}

pub(crate) struct Endpoint {
    pub name: String,
    pub priority: u32,
    pub timeout: Duration,
    wire: Wire,
    limiter: DefaultDirectRateLimiter,
    live: Mutex<Live>,
    verify_lock: tokio::sync::Mutex<()>,
    metrics: PoolMetrics,
    /// Which optional methods it has (learned from its answers).
    pub capabilities: Capabilities,
}

impl Endpoint {
    pub fn new(
        cfg: &EndpointConfig,
        url: &Secret,
        breaker: &BreakerConfig,
        metrics: PoolMetrics,
    ) -> Result<Self, BuildError> {
        let rate_error = || BuildError::RateLimit {
            endpoint: cfg.name.clone(),
        };
        let rps = NonZeroU32::new(cfg.max_rps).ok_or_else(rate_error)?;
        let burst = NonZeroU32::new(cfg.burst).ok_or_else(rate_error)?;
        let endpoint = Endpoint {
            name: cfg.name.clone(),
            priority: cfg.priority,
            timeout: cfg.timeout,
            wire: Wire::new(&cfg.name, url, cfg.timeout)?,
            limiter: RateLimiter::direct(Quota::per_second(rps).allow_burst(burst)),
            live: Mutex::new(Live {
                breaker: Breaker::new(breaker.clone()),
                chain: ChainCheck::Unverified,
                head: None,
                lagging: false,
                last_error: None,
                stats: Stats::default(),
                published: None,
            }),
            verify_lock: tokio::sync::Mutex::new(()),
            metrics,
            capabilities: Capabilities::default(),
        };
        endpoint.publish(&mut endpoint.lock());
        Ok(endpoint)
    }

    pub fn url(&self) -> &str {
        self.wire.redacted_url()
    }

    fn lock(&self) -> MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn view(&self, now: Instant) -> View {
        let mut live = self.lock();
        self.advance(&mut live, now)
    }

    pub fn detail(&self, now: Instant) -> Detail {
        let mut live = self.lock();
        Detail {
            view: self.advance(&mut live, now),
            last_error: live.last_error.clone(),
            p50: live.stats.quantile(0.5),
            error_ratio: live.breaker.error_ratio(),
            opened_total: live.breaker.opened_total(),
            answered: live.stats.answered,
            failed: live.stats.failed,
        }
    }

    /// The median of the recent answers' latencies, once there are some.
    pub fn median_latency(&self) -> Option<Duration> {
        self.lock().stats.quantile(0.5)
    }

    /// See `Stats::record_outpaced`.
    pub fn record_outpaced(&self, at_least: Duration) {
        self.lock().stats.record_outpaced(at_least);
    }

    pub fn last_error(&self) -> Option<EndpointFailure> {
        self.lock().last_error.as_ref().map(|(f, _)| f.clone())
    }

    /// Lets time act on the breaker (open → half-open) and reads the view.
    fn advance(&self, live: &mut Live, now: Instant) -> View {
        if let (_, Some(Transition::HalfOpened)) = live.breaker.state(now) {
            tracing::info!(endpoint = %self.name, url = %self.url(), "RPC endpoint breaker half-open: next success closes it");
        }
        self.publish(live);
        View {
            state: state_of(live),
            chain: live.chain,
            head: live.head,
        }
    }

    /// Takes `calls` rate-limit permits now (a JSON-RPC batch counts each
    /// call: providers do), or says how long until they are free. A batch
    /// larger than the burst takes the whole burst.
    pub fn try_permit(&self, calls: usize) -> Result<(), Duration> {
        let wanted = NonZeroU32::new(u32::try_from(calls).unwrap_or(u32::MAX).max(1))
            .unwrap_or(NonZeroU32::MIN);
        let checked = match self.limiter.check_n(wanted) {
            Ok(checked) => checked,
            Err(governor::InsufficientCapacity(burst)) => {
                match NonZeroU32::new(burst).map(|b| self.limiter.check_n(b)) {
                    Some(Ok(checked)) => checked,
                    _ => self.limiter.check(),
                }
            }
        };
        checked.map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Sends a request and reads the reply. Metrics and latency are recorded
    /// here; the breaker is told by the caller, which knows what the reply means.
    pub async fn exchange(
        &self,
        req: &RequestPacket,
        body: Bytes,
        method: &'static str,
        timeout: Duration,
    ) -> Result<ResponsePacket, EndpointFailure> {
        let started = Instant::now();
        let expect = Expect::of(req);
        let result = match self.wire.post(body, req.headers(), timeout).await {
            Ok((status, reply)) => interpret(&self.wire, &expect, status, &reply),
            Err(failure) => Err(failure),
        };
        let elapsed = started.elapsed();
        let outcome = match &result {
            Ok(packet) if packet.is_error() => "rpc_error",
            Ok(_) => "ok",
            Err(f) => f.class.as_str(),
        };
        self.metrics
            .request(&self.name, method, outcome, elapsed.as_secs_f64());
        if result.is_ok() {
            self.lock().stats.record_answer(elapsed);
        }
        result
    }

    /// A single call with a successful result, for probes and look-ups; waits
    /// for a rate-limit permit. A JSON-RPC error is a failure here.
    pub async fn request(
        &self,
        method: &'static str,
        params: &str,
        timeout: Duration,
    ) -> Result<Box<RawValue>, EndpointFailure> {
        let deadline = Instant::now() + timeout;
        if tokio::time::timeout(timeout, self.limiter.until_ready())
            .await
            .is_err()
        {
            return Err(EndpointFailure::new(
                FailureClass::Timeout,
                "no rate-limit permit within the timeout",
            ));
        }
        let bad = |e: serde_json::Error| {
            EndpointFailure::new(FailureClass::Malformed, format!("bad request: {e}"))
        };
        let params = RawValue::from_string(params.to_owned()).map_err(bad)?;
        let req = RequestPacket::Single(
            Request::new(method, Id::Number(0), params)
                .serialize()
                .map_err(bad)?,
        );
        let body = Bytes::from(serde_json::to_vec(&req).map_err(bad)?);
        let left = deadline.saturating_duration_since(Instant::now());
        match self.exchange(&req, body, method, left).await? {
            ResponsePacket::Single(r) => match r.payload {
                ResponsePayload::Success(v) => Ok(v),
                ResponsePayload::Failure(e) => Err(EndpointFailure::new(
                    FailureClass::Malformed,
                    format!(
                        "{method} answered JSON-RPC error {}: {}",
                        e.code,
                        self.wire.redact(&e.message)
                    ),
                )),
            },
            ResponsePacket::Batch(_) => Err(EndpointFailure::new(
                FailureClass::MissingResponse,
                format!("{method} answered with a batch"),
            )),
        }
    }

    pub fn record_success(&self, now: Instant) {
        let mut live = self.lock();
        if let Some(Transition::Closed) = live.breaker.on_success(now) {
            tracing::info!(endpoint = %self.name, url = %self.url(), "RPC endpoint breaker closed: endpoint answers again");
        }
        self.publish(&mut live);
    }

    /// A good probe: closes the breaker whatever its state (see
    /// [`Breaker::on_probe_success`]).
    pub fn record_probe_success(&self, now: Instant) {
        let mut live = self.lock();
        if let Some(Transition::Closed) = live.breaker.on_probe_success(now) {
            tracing::info!(endpoint = %self.name, url = %self.url(), "RPC endpoint breaker closed: a probe was answered well");
        }
        self.publish(&mut live);
    }

    /// When an open breaker's cool-down ends.
    pub fn open_until(&self) -> Option<Instant> {
        self.lock().breaker.open_until()
    }

    pub fn record_failure(&self, failure: &EndpointFailure, now: Instant) {
        let mut live = self.lock();
        live.stats.record_failure();
        live.last_error = Some((failure.clone(), now));
        match live.breaker.on_failure(now) {
            Some(Transition::Opened { cooldown }) => tracing::warn!(
                endpoint = %self.name,
                url = %self.url(),
                error_class = failure.class.as_str(),
                error = %failure.detail,
                cooldown = %humantime::format_duration(cooldown),
                "RPC endpoint breaker opened: not used until the cool-down has passed"
            ),
            Some(Transition::Reopened { cooldown }) => tracing::info!(
                endpoint = %self.name,
                url = %self.url(),
                error_class = failure.class.as_str(),
                error = %failure.detail,
                cooldown = %humantime::format_duration(cooldown),
                "RPC endpoint still failing: breaker open again with a longer cool-down"
            ),
            _ => tracing::debug!(
                endpoint = %self.name,
                url = %self.url(),
                error_class = failure.class.as_str(),
                error = %failure.detail,
                "RPC attempt failed"
            ),
        }
        self.publish(&mut live);
    }

    /// Checks `eth_chainId` (once at a time per endpoint) and records the verdict.
    pub async fn check_chain(&self, expected: u64) -> Result<ChainCheck, EndpointFailure> {
        let _one_at_a_time = self.verify_lock.lock().await;
        let raw = self.request("eth_chainId", "[]", self.timeout).await?;
        let reported = parse_quantity(&raw).ok_or_else(|| {
            EndpointFailure::new(
                FailureClass::Malformed,
                format!(
                    "eth_chainId answered {}, not a quantity",
                    self.wire.excerpt(raw.get().as_bytes())
                ),
            )
        })?;
        let mut live = self.lock();
        let before = live.chain;
        if reported == expected {
            live.chain = ChainCheck::Verified;
            if let ChainCheck::Wrong(old) = before {
                tracing::info!(endpoint = %self.name, url = %self.url(), chain_id = reported, previous_chain_id = old, "RPC endpoint reports the configured chain again: quarantine lifted");
            }
        } else {
            live.chain = ChainCheck::Wrong(reported);
            live.last_error = Some((
                EndpointFailure::new(
                    FailureClass::WrongChain,
                    format!("reports chain id {reported}, expected {expected}"),
                ),
                Instant::now(),
            ));
            if before != ChainCheck::Wrong(reported) {
                tracing::error!(endpoint = %self.name, url = %self.url(), chain_id = reported, expected_chain_id = expected, "RPC endpoint is on the wrong chain: quarantined, no call will use it");
            }
        }
        self.publish(&mut live);
        Ok(live.chain)
    }

    /// Verifies the chain before first use; false when the endpoint must not be used.
    pub async fn ensure_verified(&self, expected: u64) -> Result<bool, EndpointFailure> {
        match self.lock().chain {
            ChainCheck::Verified => return Ok(true),
            ChainCheck::Wrong(_) => return Ok(false),
            ChainCheck::Unverified => {}
        }
        match self.check_chain(expected).await {
            Ok(check) => Ok(check == ChainCheck::Verified),
            Err(failure) => {
                self.record_failure(&failure, Instant::now());
                Err(failure)
            }
        }
    }

    pub fn set_head(&self, head: u64) {
        self.lock().head = Some(head);
        self.metrics.set_head(&self.name, head);
    }

    /// Marks the endpoint lagging (or not) behind `best`; logs changes.
    pub fn set_lag(&self, lagging: bool, lag: u64, best: u64) {
        let mut live = self.lock();
        if live.lagging != lagging {
            if lagging {
                tracing::warn!(endpoint = %self.name, url = %self.url(), lag, best_head = best, "RPC endpoint lags behind the best head: used only as a last resort");
            } else {
                tracing::info!(endpoint = %self.name, url = %self.url(), lag, best_head = best, "RPC endpoint caught up with the best head");
            }
        }
        live.lagging = lagging;
    }

    fn publish(&self, live: &mut Live) {
        let now = state_of(live);
        if live.published != Some(now) {
            live.published = Some(now);
            self.metrics.set_state(&self.name, now);
        }
    }
}

fn state_of(live: &Live) -> EndpointState {
    if let ChainCheck::Wrong(_) = live.chain {
        return EndpointState::Quarantined;
    }
    match live.breaker.peek() {
        BreakerState::Closed => EndpointState::Closed,
        BreakerState::Open => EndpointState::Open,
        BreakerState::HalfOpen => EndpointState::HalfOpen,
    }
}

/// Parses a JSON-RPC quantity (`"0x7a69"`).
pub(crate) fn parse_quantity(raw: &RawValue) -> Option<u64> {
    let s: String = serde_json::from_str(raw.get()).ok()?;
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}
