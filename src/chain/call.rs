//! One call through the pool: pick an endpoint, send, and on an endpoint
//! failure move on to the next one, inside the call's deadline and attempt
//! budget.
//!
//! Rules:
//! - Candidates: endpoints that are not quarantined and whose breaker is not
//!   open. Closed, non-lagging endpoints come first, half-open and lagging
//!   ones are a last resort, and so are endpoints whose median latency is
//!   more than `HEDGE_FACTOR` times the fastest healthy endpoint's (a slow
//!   primary is left for a fast fallback). Within a rank: lower `priority`
//!   first, the faster before the slow ones, then round-robin among equals.
//! - An endpoint is used only once its `eth_chainId` has been checked (by the
//!   prober, or inline before its first use).
//! - Each attempt needs a permit of the endpoint's rate limiter; the call
//!   waits for one rather than failing, as long as the deadline allows.
//! - After a failure the call moves at once to an endpoint not yet tried in
//!   this round; when every candidate has been tried it waits (exponential
//!   backoff with full jitter) and starts a new round.
//! - When every endpoint's breaker is open, the call waits (within its
//!   deadline) for the first cool-down to end or a probe to find an endpoint
//!   answering, instead of failing at once.
//! - A repeatable call (a read, or a raw transaction: the same signed bytes
//!   mine at most once) that its endpoint has not answered within
//!   `HEDGE_FACTOR` × the fastest healthy endpoint's median latency is
//!   hedged: the same request goes to the next healthy endpoint too, the
//!   first good answer wins and the other attempt is dropped (cancelled). A
//!   slow primary thus costs a call a few fast round trips, not its own
//!   latency; a hedge that wins counts as a failover. A hedged send's
//!   answers are read by the raw-transaction rule ("already known" is sent).
//! - A raw transaction one endpoint accepted is copied, in the background,
//!   to every other healthy endpoint this call has not tried.
//! - JSON-RPC error answers are returned as they are, never retried.
//! - A call that must not run twice (`eth_sendTransaction`, dev-chain
//!   controls) is not repeated after a failure that may have executed it
//!   (timeout, broken connection, 5xx, unreadable answer); failures that
//!   prove it never ran (refused connection, 429) still fail over.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use alloy::rpc::json_rpc::{RequestPacket, ResponsePacket};
use alloy::transports::TransportError;
use bytes::Bytes;

use super::backoff::Backoff;
use super::capability::{self, OptionalMethod, Support};
use super::classify::{FailureClass, is_repeatable, method_label};
use super::endpoint::{ChainCheck, EndpointState, View};
use super::error::{AttemptFailure, EndpointFailure, PoolError};
use super::pool::{Shared, best_head};
use super::raw_tx::RawTx;

pub(crate) async fn call(
    shared: Arc<Shared>,
    req: RequestPacket,
) -> Result<ResponsePacket, TransportError> {
    let method = describe(&req);
    if let RequestPacket::Single(r) = &req
        && let Some(m) = OptionalMethod::of(r.method())
        && shared
            .endpoints
            .iter()
            .all(|ep| ep.capabilities.get(m) == Support::Unsupported)
    {
        return Ok(capability::not_found_answer(r.id().clone(), m));
    }
    let mut call = Call::new(&shared, &req, method.clone());
    let result = call.run().await;
    let answered_by = call.answered_by;
    // Endpoints this call tried were given the bytes already.
    let tried = std::mem::take(&mut call.tried);
    if let Err(e) = &result {
        tracing::warn!(method = %method, error = %e, "RPC call failed");
    }
    if let (Ok(_), Some(index)) = (&result, answered_by)
        && RawTx::from_request(&req).is_some()
    {
        spread_send(&shared, &req, index, &tried);
    }
    result.map_err(TransportError::from)
}

/// A sent transaction goes to every other healthy endpoint too, in the
/// background: a provider that drops it from its pool (or never gossips it)
/// no longer decides whether the vote is mined. Copies are the same signed
/// bytes, so at most one is mined; their answers ("already known" included)
/// only go to the debug log and the request metrics.
fn spread_send(shared: &Arc<Shared>, req: &RequestPacket, answered_by: usize, tried: &[usize]) {
    let Ok(body) = serde_json::to_vec(req).map(Bytes::from) else {
        return;
    };
    let now = Instant::now();
    let views = shared.views(now);
    let best = best_head(&views);
    for (index, view) in views.iter().enumerate() {
        if index == answered_by || tried.contains(&index) || !shared.is_healthy(view, best) {
            continue;
        }
        if shared.endpoints[index].try_permit(1).is_err() {
            continue;
        }
        let (shared, req, body) = (shared.clone(), req.clone(), body.clone());
        tokio::spawn(async move {
            let ep = &shared.endpoints[index];
            let copy = ep
                .exchange(&req, body, "eth_sendRawTransaction", ep.timeout)
                .await;
            tracing::debug!(endpoint = %ep.name, ok = copy.is_ok(), "copy of a sent transaction delivered");
        });
    }
}

struct Call<'a> {
    shared: &'a Shared,
    req: &'a RequestPacket,
    method: String,
    label: &'static str,
    repeatable: bool,
    /// A method some endpoints lack: those known to lack it are skipped.
    optional: Option<OptionalMethod>,
    deadline: Instant,
    rotation: usize,
    attempts: u32,
    tried: Vec<usize>,
    last: Option<AttemptFailure>,
    last_failed_on: Option<usize>,
    /// The endpoint whose answer the call returned.
    answered_by: Option<usize>,
}

enum Attempt {
    Answered(ResponsePacket),
    Quarantined,
    CutByDeadline(EndpointFailure),
    /// `sent`: the request itself went out (not only the chain check).
    Failed {
        failure: EndpointFailure,
        sent: bool,
    },
}

enum Pick {
    Endpoint(usize),
    AllTried,
    Nothing(String),
    Throttled(String),
}

impl<'a> Call<'a> {
    fn new(shared: &'a Shared, req: &'a RequestPacket, method: String) -> Self {
        Call {
            shared,
            req,
            label: match req {
                RequestPacket::Single(r) => method_label(r.method()),
                RequestPacket::Batch(_) => "batch",
            },
            repeatable: req.method_names().all(is_repeatable),
            optional: match req {
                RequestPacket::Single(r) => OptionalMethod::of(r.method()),
                RequestPacket::Batch(_) => None,
            },
            method,
            deadline: Instant::now() + shared.retry.call_deadline,
            rotation: shared.rotation.fetch_add(1, Ordering::Relaxed),
            attempts: 0,
            tried: Vec::new(),
            last: None,
            last_failed_on: None,
            answered_by: None,
        }
    }

    async fn run(&mut self) -> Result<ResponsePacket, PoolError> {
        let body =
            serde_json::to_vec(self.req)
                .map(Bytes::from)
                .map_err(|e| PoolError::Serialize {
                    method: self.method.clone(),
                    reason: e.to_string(),
                })?;
        let raw_tx = RawTx::from_request(self.req);
        let backoff = Backoff {
            base: self.shared.retry.base_delay,
            max: self.shared.retry.max_delay,
        };
        let mut rounds = 0;
        loop {
            let index = match self.pick().await {
                Pick::Endpoint(i) => i,
                Pick::AllTried => {
                    rounds += 1;
                    let delay = backoff.delay(rounds, &mut rand::rng());
                    if Instant::now() + delay >= self.deadline {
                        return Err(self.deadline_exceeded());
                    }
                    tokio::time::sleep(delay).await;
                    self.tried.clear();
                    continue;
                }
                Pick::Nothing(why) => {
                    if self.wait_for_recovery().await {
                        continue;
                    }
                    return Err(PoolError::NoHealthyEndpoint {
                        method: self.method.clone(),
                        why,
                    });
                }
                Pick::Throttled(endpoint) => {
                    return Err(PoolError::Throttled {
                        method: self.method.clone(),
                        endpoint,
                        deadline: self.shared.retry.call_deadline,
                    });
                }
            };
            if self.last_failed_on.is_some_and(|prev| prev != index) {
                self.shared.metrics.failover();
            } else if self.attempts == 0 && self.passes_over_slow(index) {
                // Moved off a preferred endpoint because it is slow: a failover too.
                self.shared.metrics.failover();
            }
            // An optional method's answer must be read per endpoint (does it
            // have the method?): not hedged.
            if self.repeatable
                && self.optional.is_none()
                && let Some((partner, delay)) = self.hedge_partner(index)
                && self.shared.endpoints[index].view(Instant::now()).chain == ChainCheck::Verified
            {
                match self
                    .hedged(index, partner, delay, &body, raw_tx.as_ref())
                    .await
                {
                    Ok(packet) => return Ok(packet),
                    Err(failure) => {
                        self.note_failure(index, failure);
                        self.tried.push(index);
                        self.tried.push(partner);
                        if self.attempts >= self.shared.retry.max_attempts {
                            return Err(self.exhausted());
                        }
                        continue;
                    }
                }
            }
            let (failure, sent) = match self.attempt(index, &body, raw_tx.as_ref()).await {
                Attempt::Answered(packet) => {
                    if self.lacks_method(index, &packet) {
                        self.tried.push(index);
                        continue;
                    }
                    self.answered_by = Some(index);
                    return Ok(packet);
                }
                Attempt::Quarantined => {
                    self.tried.push(index);
                    continue;
                }
                Attempt::CutByDeadline(failure) => {
                    self.note_failure(index, failure);
                    return Err(self.deadline_exceeded());
                }
                Attempt::Failed { failure, sent } => (failure, sent),
            };
            let maybe_executed = sent && failure.class.maybe_executed();
            self.note_failure(index, failure);
            self.tried.push(index);
            if maybe_executed && !self.repeatable {
                return Err(self.not_repeated());
            }
            if self.attempts >= self.shared.retry.max_attempts {
                return Err(self.exhausted());
            }
        }
    }

    /// One attempt on one endpoint (its rate-limit permit is taken already).
    async fn attempt(&mut self, index: usize, body: &Bytes, raw_tx: Option<&RawTx>) -> Attempt {
        let ep = &self.shared.endpoints[index];
        self.attempts += 1;
        match ep.ensure_verified(self.shared.chain_id).await {
            Ok(true) => {}
            Ok(false) => {
                // Found on the wrong chain just now: not an attempt of this call.
                self.attempts -= 1;
                return Attempt::Quarantined;
            }
            // The chain check failed (and told the breaker); the call was not sent.
            Err(failure) => {
                return Attempt::Failed {
                    failure,
                    sent: false,
                };
            }
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Attempt::CutByDeadline(EndpointFailure::new(
                FailureClass::Timeout,
                "the call deadline passed before sending",
            ));
        }
        let timeout = ep.timeout.min(left);
        let sent = ep
            .exchange(self.req, body.clone(), self.label, timeout)
            .await;
        let settled = match (sent, raw_tx) {
            (Ok(packet), Some(tx)) => tx.settle(packet, ep, timeout).await,
            (other, _) => other,
        };
        match settled {
            Ok(packet) => {
                ep.record_success(Instant::now());
                Attempt::Answered(packet)
            }
            // The call's deadline cut the attempt short: not the endpoint's fault.
            Err(f) if f.class == FailureClass::Timeout && timeout < ep.timeout => {
                Attempt::CutByDeadline(f)
            }
            Err(failure) => {
                ep.record_failure(&failure, Instant::now());
                Attempt::Failed {
                    failure,
                    sent: true,
                }
            }
        }
    }

    /// Every breaker is open: waits until the soonest cool-down ends, a probe
    /// finds an endpoint answering, or the deadline. False when waiting
    /// cannot help (no endpoint ever verified, only quarantined ones, or no
    /// time left).
    async fn wait_for_recovery(&self) -> bool {
        let now = Instant::now();
        // Only endpoints that have answered on this chain before are worth
        // waiting for; one never reached fails the call at once.
        let soonest = self
            .shared
            .endpoints
            .iter()
            .filter(|ep| ep.view(now).chain == ChainCheck::Verified)
            .filter_map(|ep| ep.open_until())
            .min();
        let Some(soonest) = soonest else {
            return false;
        };
        if now >= self.deadline {
            return false;
        }
        // A wake-up missed between the check and the wait costs at most one
        // probe interval.
        let until = soonest
            .min(self.deadline)
            .min(now + self.shared.probe.interval);
        let recovered = self.shared.recovered.notified();
        let _ = tokio::time::timeout_at(tokio::time::Instant::from_std(until), recovered).await;
        true
    }

    /// Whether a slow endpoint of better priority was passed over for `index`.
    fn passes_over_slow(&self, index: usize) -> bool {
        let views = self.shared.views(Instant::now());
        let priority = self.shared.endpoints[index].priority;
        self.rank(&views)
            .iter()
            .any(|r| r.slow && r.priority < priority && r.index != index)
    }

    /// The endpoint to hedge a read on `index` with, and after how long:
    /// the best-ranked other healthy, verified endpoint, once latencies are known.
    fn hedge_partner(&self, index: usize) -> Option<(usize, Duration)> {
        let now = Instant::now();
        let views = self.shared.views(now);
        let best = best_head(&views);
        let fastest = self
            .shared
            .endpoints
            .iter()
            .zip(&views)
            .filter(|(_, v)| self.shared.is_healthy(v, best))
            .filter_map(|(ep, _)| ep.median_latency())
            .min()?;
        let delay = (fastest * HEDGE_FACTOR)
            .max(HEDGE_MIN_DELAY)
            .min(self.shared.endpoints[index].timeout);
        let partner = self
            .rank(&views)
            .into_iter()
            .find(|r| r.index != index && r.tier == 0 && !self.tried.contains(&r.index))?
            .index;
        Some((partner, delay))
    }

    /// Sends to `first` and, unless it answered within `delay`, to `second`
    /// as well; the first good answer wins and the other attempt is dropped.
    async fn hedged(
        &mut self,
        first: usize,
        second: usize,
        delay: Duration,
        body: &Bytes,
        raw_tx: Option<&RawTx>,
    ) -> Result<ResponsePacket, EndpointFailure> {
        use futures::future::{Either, select};
        let started = Instant::now();
        let left = self.deadline.saturating_duration_since(started);
        self.attempts += 1;
        let a = Box::pin(plain_attempt(
            self.shared,
            first,
            self.req,
            body.clone(),
            self.label,
            left,
            raw_tx,
        ));
        let shared = self.shared;
        let (req, label, calls) = (self.req, self.label, self.calls());
        let b = Box::pin(async move {
            tokio::time::sleep(delay).await;
            // The hedge takes a permit like any attempt; without one it waits out the first.
            if shared.endpoints[second].try_permit(calls).is_err() {
                return std::future::pending().await;
            }
            let left = left.saturating_sub(delay);
            plain_attempt(shared, second, req, body.clone(), label, left, raw_tx).await
        });
        match select(a, b).await {
            Either::Left((Ok(packet), _)) => {
                self.answered_by = Some(first);
                Ok(packet)
            }
            Either::Right((Ok(packet), _)) => {
                self.shared.endpoints[first].record_outpaced(started.elapsed());
                self.answered_by = Some(second);
                self.attempts += 1;
                self.shared.metrics.failover();
                tracing::debug!(slow = %self.shared.endpoints[first].name, answered = %self.shared.endpoints[second].name, "hedged read answered by the second endpoint");
                Ok(packet)
            }
            // One failed: the other may still answer.
            Either::Left((Err(f), other)) => {
                self.attempts += 1;
                self.note_failure(first, f.clone());
                let answer = settle_other(f, tokio::time::timeout(left, other).await);
                if answer.is_ok() {
                    self.answered_by = Some(second);
                    self.shared.metrics.failover();
                }
                answer
            }
            Either::Right((Err(f), other)) => {
                self.attempts += 1;
                let answer = settle_other(f, tokio::time::timeout(left, other).await);
                if answer.is_ok() {
                    self.answered_by = Some(first);
                }
                answer
            }
        }
    }

    /// Learns from an answer whether the endpoint has the call's optional
    /// method; true when it lacks it and another endpoint may have it (then
    /// the call moves on, as after a failure, without counting one).
    fn lacks_method(&self, index: usize, packet: &ResponsePacket) -> bool {
        let Some(m) = self.optional else {
            return false;
        };
        let ep = &self.shared.endpoints[index];
        let shown = capability::support_shown(packet);
        let before = ep.capabilities.set(m, shown);
        if shown != Support::Unsupported {
            return false;
        }
        if before != Support::Unsupported {
            tracing::info!(endpoint = %ep.name, url = %ep.url(), method = m.name(), "RPC endpoint lacks an optional method: it is not asked again, the per-transaction methods are used instead");
        }
        self.shared.endpoints.iter().enumerate().any(|(i, other)| {
            i != index
                && !self.tried.contains(&i)
                && other.capabilities.get(m) != Support::Unsupported
        })
    }

    fn note_failure(&mut self, index: usize, failure: EndpointFailure) {
        let ep = &self.shared.endpoints[index];
        self.last = Some(AttemptFailure {
            endpoint: ep.name.clone(),
            url: ep.url().to_owned(),
            failure,
        });
        self.last_failed_on = Some(index);
    }

    /// The next endpoint with a rate-limit permit taken, waiting for a
    /// permit when every preferred endpoint is at its limit.
    async fn pick(&self) -> Pick {
        loop {
            let now = Instant::now();
            let views = self.shared.views(now);
            let ranked = self.rank(&views);
            if ranked.is_empty() {
                return Pick::Nothing(self.summary(&views));
            }
            let untried: Vec<&Rank> = ranked
                .iter()
                .filter(|r| !self.tried.contains(&r.index))
                .collect();
            let Some(first) = untried.first() else {
                return Pick::AllTried;
            };
            let mut soonest: Option<(Duration, usize)> = None;
            for r in untried
                .iter()
                .take_while(|r| (r.tier, r.priority) == (first.tier, first.priority))
            {
                match self.shared.endpoints[r.index].try_permit(self.calls()) {
                    Ok(()) => return Pick::Endpoint(r.index),
                    Err(wait) if soonest.is_none_or(|(w, _)| wait < w) => {
                        soonest = Some((wait, r.index))
                    }
                    Err(_) => {}
                }
            }
            let (wait, index) = soonest.unwrap_or((Duration::ZERO, first.index));
            if now + wait >= self.deadline {
                return Pick::Throttled(self.shared.endpoints[index].name.clone());
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// JSON-RPC calls in the request (what the rate limit counts).
    fn calls(&self) -> usize {
        match self.req {
            RequestPacket::Single(_) => 1,
            RequestPacket::Batch(rs) => rs.len(),
        }
    }

    fn rank(&self, views: &[View]) -> Vec<Rank> {
        let mut ranked = rank_endpoints(self.shared, views, self.rotation);
        if let Some(m) = self.optional {
            ranked.retain(|r| {
                self.shared.endpoints[r.index].capabilities.get(m) != Support::Unsupported
            });
        }
        ranked
    }

    /// Why no endpoint can take the call, endpoint by endpoint.
    fn summary(&self, views: &[View]) -> String {
        self.shared
            .endpoints
            .iter()
            .zip(views)
            .map(|(ep, v)| {
                let err = ep
                    .last_error()
                    .map(|f| format!(", last error {f}"))
                    .unwrap_or_default();
                format!("{}: {}{err}", ep.name, v.state.as_str())
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn deadline_exceeded(&self) -> PoolError {
        PoolError::DeadlineExceeded {
            method: self.method.clone(),
            attempts: self.attempts,
            deadline: self.shared.retry.call_deadline,
            last_error: self.last.clone(),
        }
    }

    fn not_repeated(&self) -> PoolError {
        match &self.last {
            Some(last) => PoolError::MaybeExecuted {
                method: self.method.clone(),
                last_error: last.clone(),
            },
            None => self.deadline_exceeded(),
        }
    }

    fn exhausted(&self) -> PoolError {
        match &self.last {
            Some(last) => PoolError::AttemptsExhausted {
                method: self.method.clone(),
                attempts: self.attempts,
                last_error: last.clone(),
            },
            None => self.deadline_exceeded(),
        }
    }
}

/// The outcome of a hedge whose first finisher failed: the other's answer,
/// or the first failure when the other ran out of time too.
fn settle_other(
    first: EndpointFailure,
    other: Result<Result<ResponsePacket, EndpointFailure>, tokio::time::error::Elapsed>,
) -> Result<ResponsePacket, EndpointFailure> {
    match other {
        Ok(result) => result,
        Err(_) => Err(first),
    }
}

/// A read is hedged after this many times the fastest endpoint's median latency.
const HEDGE_FACTOR: u32 = 4;
/// ...but never sooner than this (local nodes answer in microseconds).
const HEDGE_MIN_DELAY: Duration = Duration::from_millis(25);

/// One attempt on an endpoint already verified, its permit taken; the
/// breaker is told. Dropping it cancels the request.
async fn plain_attempt(
    shared: &Shared,
    index: usize,
    req: &RequestPacket,
    body: Bytes,
    label: &'static str,
    left: Duration,
    raw_tx: Option<&RawTx>,
) -> Result<ResponsePacket, EndpointFailure> {
    let ep = &shared.endpoints[index];
    let timeout = ep.timeout.min(left);
    let answer = match (ep.exchange(req, body, label, timeout).await, raw_tx) {
        (Ok(packet), Some(tx)) => tx.settle(packet, ep, timeout).await,
        (other, _) => other,
    };
    match answer {
        Ok(packet) => {
            ep.record_success(Instant::now());
            Ok(packet)
        }
        Err(f) => {
            if !(f.class == FailureClass::Timeout && timeout < ep.timeout) {
                ep.record_failure(&f, Instant::now());
            }
            Err(f)
        }
    }
}

/// An endpoint whose median latency is more than `HEDGE_FACTOR` times the
/// fastest healthy one's (and not just by a few milliseconds).
/// The order calls try the usable endpoints in: tier (healthy and fast
/// first; half-open, lagging and much slower ones after), then priority,
/// then round-robin (`rotation`) among equals. Open and quarantined
/// endpoints are left out.
pub(crate) fn rank_endpoints(shared: &Shared, views: &[View], rotation: usize) -> Vec<Rank> {
    let n = views.len();
    let best = best_head(views);
    let medians: Vec<Option<Duration>> = shared
        .endpoints
        .iter()
        .map(|ep| ep.median_latency())
        .collect();
    let fastest = medians
        .iter()
        .zip(views)
        .filter(|(_, v)| shared.is_healthy(v, best))
        .filter_map(|(m, _)| *m)
        .min();
    let mut ranked: Vec<Rank> = views
        .iter()
        .enumerate()
        .filter_map(|(index, v)| {
            let slow = is_slow(medians[index], fastest);
            let tier = match v.state {
                EndpointState::Quarantined | EndpointState::Open => return None,
                EndpointState::HalfOpen => 1,
                EndpointState::Closed if shared.lagging(v, best) => 1,
                // Much slower than the fastest healthy endpoint: used after
                // the fast ones, whatever its priority.
                EndpointState::Closed if slow => 1,
                EndpointState::Closed => 0,
            };
            Some(Rank {
                index,
                tier,
                slow,
                priority: shared.endpoints[index].priority,
                turn: (index + n - rotation % n) % n,
            })
        })
        .collect();
    ranked.sort_by_key(|r| (r.tier, r.priority, r.slow, r.turn));
    ranked
}

fn is_slow(median: Option<Duration>, fastest: Option<Duration>) -> bool {
    match (median, fastest) {
        (Some(m), Some(f)) => m > f * HEDGE_FACTOR && m > f + HEDGE_MIN_DELAY,
        _ => false,
    }
}

pub(crate) struct Rank {
    pub index: usize,
    tier: u8,
    pub slow: bool,
    priority: u32,
    turn: usize,
}

/// The method for messages: its name, or "batch of N (first, …)".
fn describe(req: &RequestPacket) -> String {
    match req {
        RequestPacket::Single(r) => r.method().chars().take(64).collect(),
        RequestPacket::Batch(rs) => {
            let first: Vec<&str> = rs.iter().take(3).map(|r| r.method()).collect();
            let more = if rs.len() > 3 { ", …" } else { "" };
            format!("batch of {} ({}{more})", rs.len(), first.join(", "))
        }
    }
}
