//! The prober: every `rpc.probe.interval`, each endpoint is asked for its
//! chain id (a wrong one quarantines it) and its head block (too far behind
//! the best endpoint makes it a last resort). The results feed the breaker,
//! so an open breaker closes again once a probe succeeds after the cool-down.

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
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = probe_endpoint(&shared, index) => {}
        }
    }
}

/// One probe of one endpoint.
pub(crate) async fn probe_endpoint(shared: &Shared, index: usize) {
    let ep = &shared.endpoints[index];
    // An open breaker's cool-down is respected by the prober too: a failing
    // provider gets no traffic from us until its trial is due.
    if ep.view(Instant::now()).state == EndpointState::Open {
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
            ep.record_success(Instant::now());
            update_lags(shared);
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
