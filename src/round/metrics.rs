//! Round, vote and wallet metrics, declared in one place.

use prometheus::{
    Gauge, GaugeVec, Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry,
};

#[derive(Clone)]
pub struct RoundMetrics {
    pub rounds: IntCounterVec,
    pub round_duration: Histogram,
    pub proposals_open: IntGauge,
    pub votes: IntCounterVec,
    pub decisions: IntCounterVec,
    pub wallet_eth: GaugeVec,
    pub wallet_voting_power: GaugeVec,
    pub insufficient_funds: IntCounterVec,
    pub pending_txs: IntGauge,
    pub last_success: Gauge,
}

impl RoundMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = RoundMetrics {
            rounds: IntCounterVec::new(
                Opts::new(
                    "govnode_rounds_total",
                    "Voting rounds by outcome (success, partial, failed).",
                ),
                &["outcome"],
            )?,
            round_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "govnode_round_duration_seconds",
                    "Wall time of a voting round, from trigger to the last receipt.",
                )
                .buckets(vec![
                    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
                ]),
            )?,
            proposals_open: IntGauge::new(
                "govnode_proposals_open",
                "Proposals open for voting at the last round's head block.",
            )?,
            votes: IntCounterVec::new(
                Opts::new(
                    "govnode_votes_total",
                    "Votes by node and outcome (confirmed, reverted, abandoned, failed, external).",
                ),
                &["node", "outcome"],
            )?,
            decisions: IntCounterVec::new(
                Opts::new(
                    "govnode_decisions_total",
                    "Strategy decisions by strategy and vote.",
                ),
                &["strategy", "vote"],
            )?,
            wallet_eth: GaugeVec::new(
                Opts::new(
                    "govnode_wallet_balance_eth",
                    "Gas balance of each node's wallet, in ETH.",
                ),
                &["node"],
            )?,
            wallet_voting_power: GaugeVec::new(
                Opts::new(
                    "govnode_wallet_voting_power",
                    "Voting power of each node (voting-token balance or delegated votes), in whole tokens.",
                ),
                &["node"],
            )?,
            insufficient_funds: IntCounterVec::new(
                Opts::new(
                    "govnode_wallet_insufficient_funds_total",
                    "Rounds in which a node was skipped because its wallet could not pay for gas.",
                ),
                &["node"],
            )?,
            pending_txs: IntGauge::new(
                "govnode_pending_transactions",
                "Vote transactions sent and not yet mined.",
            )?,
            last_success: Gauge::new(
                "govnode_last_successful_round_timestamp_seconds",
                "Unix time at which the last successful round finished.",
            )?,
        };
        registry.register(Box::new(m.rounds.clone()))?;
        registry.register(Box::new(m.round_duration.clone()))?;
        registry.register(Box::new(m.proposals_open.clone()))?;
        registry.register(Box::new(m.votes.clone()))?;
        registry.register(Box::new(m.decisions.clone()))?;
        registry.register(Box::new(m.wallet_eth.clone()))?;
        registry.register(Box::new(m.wallet_voting_power.clone()))?;
        registry.register(Box::new(m.insufficient_funds.clone()))?;
        registry.register(Box::new(m.pending_txs.clone()))?;
        registry.register(Box::new(m.last_success.clone()))?;
        Ok(m)
    }
}
