//! Round, vote and wallet metrics, declared in one place.

use prometheus::{
    Gauge, GaugeVec, Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

#[derive(Clone)]
pub struct RoundMetrics {
    pub rounds: IntCounterVec,
    pub round_duration: Histogram,
    pub proposals_open: IntGauge,
    pub votes: IntCounterVec,
    pub decisions: IntCounterVec,
    pub wallet_wei: GaugeVec,
    pub wallet_voting_power: GaugeVec,
    pub insufficient_funds: IntCounterVec,
    pub pending_txs: IntGauge,
    pub last_success: Gauge,
    pub dao_paused: IntGauge,
    pub no_voting_power: IntGaugeVec,
    pub deferred: IntCounterVec,
    pub spent_24h: GaugeVec,
    pub spend_limit_reached: IntCounterVec,
    pub progress: IntGaugeVec,
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
            wallet_wei: GaugeVec::new(
                Opts::new(
                    "govnode_wallet_balance_wei",
                    "Gas balance of each node's wallet, in wei (the chain's base unit).",
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
            dao_paused: IntGauge::new(
                "govnode_dao_paused",
                "1 while the DAO refuses votes (AssetDAO paused()) at the last round's head, else 0.",
            )?,
            no_voting_power: IntGaugeVec::new(
                Opts::new(
                    "govnode_node_without_voting_power",
                    "1 for a node whose voting power was 0 at the last round (its votes are not sent), else 0.",
                ),
                &["node"],
            )?,
            deferred: IntCounterVec::new(
                Opts::new(
                    "govnode_votes_deferred_total",
                    "Votes a round did not send or that the chain did not count, for a cause that passes (fee_ceiling, spend_limit, paused, transient); retried by a later round.",
                ),
                &["node", "cause"],
            )?,
            spent_24h: GaugeVec::new(
                Opts::new(
                    "govnode_wallet_spent_24h_wei",
                    "Gas a node's votes cost in the last 24 hours (mined fees plus the most its unmined ones can cost), in wei.",
                ),
                &["node"],
            )?,
            spend_limit_reached: IntCounterVec::new(
                Opts::new(
                    "govnode_spend_limit_reached_total",
                    "Rounds in which a node's votes waited because round.daily_spend_limit was reached.",
                ),
                &["node"],
            )?,
            progress: IntGaugeVec::new(
                Opts::new(
                    "govnode_round_progress",
                    "The running round's progress in its phase: count=done (votes broadcast while sending, mined while confirming) and count=total; both 0 when no round runs.",
                ),
                &["count"],
            )?,
        };
        for count in ["done", "total"] {
            m.progress.with_label_values(&[count]);
        }
        registry.register(Box::new(m.rounds.clone()))?;
        registry.register(Box::new(m.round_duration.clone()))?;
        registry.register(Box::new(m.proposals_open.clone()))?;
        registry.register(Box::new(m.votes.clone()))?;
        registry.register(Box::new(m.decisions.clone()))?;
        registry.register(Box::new(m.wallet_wei.clone()))?;
        registry.register(Box::new(m.wallet_voting_power.clone()))?;
        registry.register(Box::new(m.insufficient_funds.clone()))?;
        registry.register(Box::new(m.pending_txs.clone()))?;
        registry.register(Box::new(m.last_success.clone()))?;
        registry.register(Box::new(m.dao_paused.clone()))?;
        registry.register(Box::new(m.no_voting_power.clone()))?;
        registry.register(Box::new(m.deferred.clone()))?;
        registry.register(Box::new(m.spent_24h.clone()))?;
        registry.register(Box::new(m.spend_limit_reached.clone()))?;
        registry.register(Box::new(m.progress.clone()))?;
        Ok(m)
    }

    /// `govnode_round_progress`: the running round's place in its phase.
    pub fn set_progress(&self, done: u64, total: u64) {
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.progress.with_label_values(&["done"]).set(clamp(done));
        self.progress
            .with_label_values(&["total"])
            .set(clamp(total));
    }
}
