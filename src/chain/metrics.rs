//! The pool's Prometheus metrics, declared in one place. Labels carry the
//! endpoint's configured name, never its URL.

use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts};

use super::EndpointState;

#[derive(Clone)]
pub(crate) struct PoolMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    state: IntGaugeVec,
    head: IntGaugeVec,
    failovers: IntCounter,
    rank: IntGaugeVec,
}

const STATES: [EndpointState; 4] = [
    EndpointState::Closed,
    EndpointState::Open,
    EndpointState::HalfOpen,
    EndpointState::Quarantined,
];

impl PoolMetrics {
    pub fn register(registry: &prometheus::Registry) -> Result<Self, prometheus::Error> {
        let requests = IntCounterVec::new(
            Opts::new(
                "govnode_rpc_requests_total",
                "JSON-RPC requests sent to each endpoint (probes included), by outcome.",
            ),
            &["endpoint", "method", "outcome"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "govnode_rpc_request_duration_seconds",
                "Time from sending a JSON-RPC request to an endpoint until its reply or failure.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["endpoint", "method"],
        )?;
        let state = IntGaugeVec::new(
            Opts::new(
                "govnode_rpc_endpoint_state",
                "1 for the endpoint's current state (closed, open, half_open, quarantined), 0 for the others.",
            ),
            &["endpoint", "state"],
        )?;
        let head = IntGaugeVec::new(
            Opts::new(
                "govnode_rpc_head_block",
                "Latest block number each endpoint reported to the prober.",
            ),
            &["endpoint"],
        )?;
        let rank = IntGaugeVec::new(
            Opts::new(
                "govnode_rpc_endpoint_rank",
                "Where calls try each endpoint now: 1 first, 2 next, ...; 0 while it cannot take calls (breaker open, quarantined).",
            ),
            &["endpoint"],
        )?;
        let failovers = IntCounter::new(
            "govnode_rpc_failovers_total",
            "Calls that moved to another endpoint after a failed attempt.",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(state.clone()))?;
        registry.register(Box::new(head.clone()))?;
        registry.register(Box::new(failovers.clone()))?;
        registry.register(Box::new(rank.clone()))?;
        Ok(PoolMetrics {
            requests,
            duration,
            state,
            head,
            failovers,
            rank,
        })
    }

    pub fn request(&self, endpoint: &str, method: &str, outcome: &str, seconds: f64) {
        self.requests
            .with_label_values(&[endpoint, method, outcome])
            .inc();
        self.duration
            .with_label_values(&[endpoint, method])
            .observe(seconds);
    }

    pub fn set_state(&self, endpoint: &str, current: EndpointState) {
        for s in STATES {
            self.state
                .with_label_values(&[endpoint, s.as_str()])
                .set(i64::from(s == current));
        }
    }

    pub fn set_head(&self, endpoint: &str, block: u64) {
        self.head
            .with_label_values(&[endpoint])
            .set(i64::try_from(block).unwrap_or(i64::MAX));
    }

    pub fn set_rank(&self, endpoint: &str, rank: usize) {
        self.rank
            .with_label_values(&[endpoint])
            .set(i64::try_from(rank).unwrap_or(i64::MAX));
    }

    pub fn failover(&self) {
        self.failovers.inc();
    }
}
