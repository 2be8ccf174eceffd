//! Webhook metrics, labelled by target name (never by URL).

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

#[derive(Clone)]
pub struct WebhookMetrics {
    pub deliveries: IntCounterVec,
    pub dropped: IntCounterVec,
    pub queue_depth: IntGaugeVec,
}

impl WebhookMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let deliveries = IntCounterVec::new(
            Opts::new(
                "govnode_webhook_deliveries_total",
                "Notifications by target and how their delivery ended (delivered, rejected, gave_up).",
            ),
            &["target", "outcome"],
        )?;
        let dropped = IntCounterVec::new(
            Opts::new(
                "govnode_webhook_dropped_total",
                "Notifications dropped because the target's queue was full.",
            ),
            &["target"],
        )?;
        let queue_depth = IntGaugeVec::new(
            Opts::new(
                "govnode_webhook_queue_depth",
                "Notifications waiting in the target's queue.",
            ),
            &["target"],
        )?;
        registry.register(Box::new(deliveries.clone()))?;
        registry.register(Box::new(dropped.clone()))?;
        registry.register(Box::new(queue_depth.clone()))?;
        Ok(WebhookMetrics {
            deliveries,
            dropped,
            queue_depth,
        })
    }
}
