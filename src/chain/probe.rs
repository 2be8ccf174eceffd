//! The prober: every `rpc.probe.interval`, each endpoint is asked for its
//! chain id (a wrong one quarantines it) and its head block (too far behind
//! the best endpoint makes it a last resort). The results feed the breaker:
//! a probe is due the moment a cool-down ends (not at the next tick), and a
//! good probe closes the breaker at once. While no endpoint is usable at all,
//! open endpoints are probed every interval despite their cool-down, so the
//! pool recovers within one interval of a provider's return instead of
//! waiting out a cool-down that doubled during the outage.

use std::sync::Arc;
use std::time::Instant;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::classify::FailureClass;
use super::endpoint::{ChainCheck, EndpointState, parse_quantity};
use super::error::EndpointFailure;
use super::pool::{Shared, best_head};

pub(crate) async fn run_prober(shared: Arc<Shared>, index: usize, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(shared.probe.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        // The cool-down's end is a probe time of its own.
        let trial = shared.endpoints[index]
            .open_until()
            .map(tokio::time::Instant::from_std);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
            _ = sleep_until_some(trial) => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = probe_endpoint(&shared, index) => {}
        }
        shared.publish_ranks();
    }
}

async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// One probe of one endpoint.
pub(crate) async fn probe_endpoint(shared: &Shared, index: usize) {
    let ep = &shared.endpoints[index];
    // An open breaker's cool-down is respected by the prober too — a failing
    // provider gets no traffic from us until its trial is due — unless no
    // endpoint can take a call at all: then finding one that is back matters more.
    if ep.view(Instant::now()).state == EndpointState::Open && shared.any_usable(Instant::now()) {
        return;
    }
    match ep.check_chain(shared.chain_id).await {
        Err(failure) => {
            ep.record_failure(&failure, Instant::now());
            return;
        }
        // A quarantined endpoint gets no other request, probes included.
        Ok(ChainCheck::Wrong(_)) => return,
        Ok(_) => {}
    }
    let head = ep
        .request("eth_blockNumber", "[]", ep.timeout)
        .await
        .and_then(|raw| {
            parse_quantity(&raw).ok_or_else(|| {
                EndpointFailure::new(
                    FailureClass::Malformed,
                    "eth_blockNumber did not answer a quantity",
                )
            })
        });
    match head {
        Err(failure) => ep.record_failure(&failure, Instant::now()),
        Ok(head) => {
            ep.set_head(head);
            ep.record_probe_success(Instant::now());
            update_lags(shared);
            shared.recovered.notify_waiters();
        }
    }
}

/// Recomputes every endpoint's lag against the best head.
fn update_lags(shared: &Shared) {
    let views = shared.views(Instant::now());
    let Some(best) = best_head(&views) else {
        return;
    };
    for (ep, view) in shared.endpoints.iter().zip(&views) {
        if let Some(head) = view.head
            && view.chain == ChainCheck::Verified
        {
            let lag = best.saturating_sub(head);
            ep.set_lag(lag > shared.probe.max_head_lag, lag, best);
        }
    }
}
