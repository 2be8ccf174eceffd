//! One configured receiver: its queue, its rate limit and the task that
//! drains them. `notify` is all a round calls, and it never waits.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::task::JoinHandle;

use super::deliver::{Policy, deliver};
use super::event::{Event, EventKind};
use super::metrics::WebhookMetrics;
use super::payload::{TargetKind, render};
use super::queue::DropOldestQueue;
use crate::config::Secret;

pub struct TargetSpec {
    pub name: String,
    pub kind: TargetKind,
    pub url: Secret,
    /// Empty means every event.
    pub events: HashSet<EventKind>,
    pub queue_capacity: usize,
    pub per_minute: NonZeroU32,
    pub policy: Policy,
}

pub struct Target {
    name: String,
    events: HashSet<EventKind>,
    queue: Arc<DropOldestQueue<Event>>,
    metrics: WebhookMetrics,
    worker: JoinHandle<()>,
}

impl Target {
    pub fn start(spec: TargetSpec, client: reqwest::Client, metrics: WebhookMetrics) -> Target {
        let queue = Arc::new(DropOldestQueue::new(spec.queue_capacity));
        let limiter = RateLimiter::direct(Quota::per_minute(spec.per_minute));
        let worker = tokio::spawn(drain(
            spec.name.clone(),
            spec.kind,
            spec.url,
            spec.policy,
            queue.clone(),
            limiter,
            client,
            metrics.clone(),
        ));
        Target {
            name: spec.name,
            events: spec.events,
            queue,
            metrics,
            worker,
        }
    }

    pub fn wants(&self, kind: EventKind) -> bool {
        self.events.is_empty() || self.events.contains(&kind)
    }

    pub fn notify(&self, event: Event) {
        if !self.wants(event.kind) {
            return;
        }
        if self.queue.push(event) {
            self.metrics.dropped.with_label_values(&[&self.name]).inc();
        }
        self.set_depth();
    }

    fn set_depth(&self) {
        let depth = i64::try_from(self.queue.len()).unwrap_or(i64::MAX);
        self.metrics
            .queue_depth
            .with_label_values(&[&self.name])
            .set(depth);
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // A reload replaces targets; the old worker must not keep posting.
        self.worker.abort();
    }
}

#[allow(clippy::too_many_arguments)]
async fn drain(
    name: String,
    kind: TargetKind,
    url: Secret,
    policy: Policy,
    queue: Arc<DropOldestQueue<Event>>,
    limiter: DefaultDirectRateLimiter,
    client: reqwest::Client,
    metrics: WebhookMetrics,
) {
    loop {
        let event = queue.pop().await;
        let depth = i64::try_from(queue.len()).unwrap_or(i64::MAX);
        metrics.queue_depth.with_label_values(&[&name]).set(depth);
        limiter.until_ready().await;
        let outcome = deliver(&client, &url, &render(&kind, &event), &policy).await;
        metrics
            .deliveries
            .with_label_values(&[&name, outcome.label()])
            .inc();
        if !matches!(outcome, super::deliver::Outcome::Delivered { .. }) {
            tracing::warn!(target_name = %name, event = event.kind.as_str(), ?outcome, "webhook delivery failed");
        }
    }
}
