//! Metrics of the new-proposal follower.

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

#[derive(Clone)]
pub struct FollowMetrics {
    /// New `ProposalCreated` logs, by how they were found.
    pub proposals: IntCounterVec,
    /// 1 while the endpoint's subscription is open.
    pub subscription_up: IntGaugeVec,
    /// Subscriptions that ended or could not start.
    pub subscription_drops: IntCounterVec,
}

impl FollowMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = FollowMetrics {
            proposals: IntCounterVec::new(
                Opts::new(
                    "govnode_new_proposals_total",
                    "New proposals seen by round.on_new_proposal, by source (subscription, catch_up, poll).",
                ),
                &["source"],
            )?,
            subscription_up: IntGaugeVec::new(
                Opts::new(
                    "govnode_subscription_up",
                    "1 while the endpoint's WebSocket subscription to new proposals is open.",
                ),
                &["endpoint"],
            )?,
            subscription_drops: IntCounterVec::new(
                Opts::new(
                    "govnode_subscription_drops_total",
                    "WebSocket subscriptions that dropped or could not start, by endpoint.",
                ),
                &["endpoint"],
            )?,
        };
        registry.register(Box::new(m.proposals.clone()))?;
        registry.register(Box::new(m.subscription_up.clone()))?;
        registry.register(Box::new(m.subscription_drops.clone()))?;
        Ok(m)
    }
}
