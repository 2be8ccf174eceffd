//! The round's one handle on notifications: it fans an event out to the
//! targets that want it and returns at once. Built from the settings at
//! start and rebuilt on reload, where a target whose settings did not change
//! keeps its queue and worker.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use super::deliver::Policy;
use super::event::{Event, EventKind};
use super::metrics::WebhookMetrics;
use super::payload::TargetKind;
use super::target::{Target, TargetSpec};
use crate::chain::Backoff;
use crate::config::{Secret, Settings, WebhookConfig, WebhookKind};

/// The labels `govnode_webhook_deliveries_total` can carry.
const OUTCOMES: [&str; 3] = ["delivered", "rejected", "gave_up"];

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("webhook HTTP client: {0}")]
    Client(String),
}

struct Running {
    config: WebhookConfig,
    url: Secret,
    target: Target,
}

#[derive(Clone)]
pub struct Hub {
    targets: Arc<Vec<Arc<Running>>>,
    metrics: WebhookMetrics,
    client: reqwest::Client,
    round_id: Option<i64>,
    /// Stamped on every event when the daemon votes in several DAOs.
    dao: Option<String>,
}

impl Hub {
    /// Starts a worker per configured target; needs a Tokio runtime.
    pub fn start(settings: &Settings, metrics: WebhookMetrics) -> Result<Hub, HubError> {
        // A redirect would carry the notification to a host the operator did not name.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| HubError::Client(e.without_url().to_string()))?;
        let empty = Hub {
            targets: Arc::new(Vec::new()),
            metrics,
            client,
            round_id: None,
            dao: None,
        };
        Ok(empty.reloaded(settings))
    }

    /// The targets of `settings`: unchanged ones are kept as they run, the
    /// others start afresh, and removed ones stop (with what they queued).
    pub fn reloaded(&self, settings: &Settings) -> Hub {
        let configs = &settings.config.webhooks;
        let mut targets = Vec::with_capacity(configs.len());
        for (config, url) in configs.iter().zip(&settings.webhook_urls) {
            let kept = self
                .targets
                .iter()
                .find(|r| r.config == *config && r.url == *url);
            let running = match kept {
                Some(r) => r.clone(),
                None => Arc::new(self.launch(config, url)),
            };
            targets.push(running);
        }
        let names: HashSet<&str> = configs.iter().map(|c| c.name.as_str()).collect();
        for gone in self.targets.iter().map(|r| r.config.name.as_str()) {
            if !names.contains(gone) {
                self.forget(gone);
            }
        }
        Hub {
            targets: Arc::new(targets),
            metrics: self.metrics.clone(),
            client: self.client.clone(),
            round_id: None,
            dao: (!settings.config.single_form).then(|| settings.dao_name().to_owned()),
        }
    }

    /// The same targets, stamping events with the round they belong to.
    pub fn in_round(&self, round_id: i64) -> Hub {
        Hub {
            round_id: Some(round_id),
            ..self.clone()
        }
    }

    /// Queues `event` for every target that wants it; never waits.
    pub fn notify(&self, mut event: Event) {
        if event.round_id.is_none() {
            event.round_id = self.round_id;
        }
        if event.dao.is_none() {
            event.dao.clone_from(&self.dao);
        }
        for running in self.targets.iter() {
            running.target.notify(event.clone());
        }
    }

    fn launch(&self, config: &WebhookConfig, url: &Secret) -> Running {
        let name = config.name.as_str();
        for outcome in OUTCOMES {
            self.metrics.deliveries.with_label_values(&[name, outcome]);
        }
        self.metrics.dropped.with_label_values(&[name]);
        self.metrics.queue_depth.with_label_values(&[name]).set(0);
        let spec = spec(config, url.clone());
        let events = match &config.events {
            None => "all".to_owned(),
            Some(list) => list
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(","),
        };
        tracing::info!(target_name = name, kind = ?config.kind, %events, "webhook target started");
        Running {
            config: config.clone(),
            url: url.clone(),
            target: Target::start(spec, self.client.clone(), self.metrics.clone()),
        }
    }

    /// A removed target's series would otherwise stay on the dashboard.
    fn forget(&self, name: &str) {
        for outcome in OUTCOMES {
            let _ = self
                .metrics
                .deliveries
                .remove_label_values(&[name, outcome]);
        }
        let _ = self.metrics.dropped.remove_label_values(&[name]);
        let _ = self.metrics.queue_depth.remove_label_values(&[name]);
        tracing::info!(target_name = name, "webhook target removed");
    }
}

fn spec(config: &WebhookConfig, url: Secret) -> TargetSpec {
    let kind = match config.kind {
        WebhookKind::Slack => TargetKind::Slack,
        WebhookKind::Discord => TargetKind::Discord,
        WebhookKind::Generic => TargetKind::Generic,
        WebhookKind::Telegram => TargetKind::Telegram {
            chat_id: config.chat_id.clone().unwrap_or_default(),
        },
    };
    TargetSpec {
        name: config.name.clone(),
        kind,
        url,
        events: config
            .events
            .iter()
            .flatten()
            .copied()
            .collect::<HashSet<EventKind>>(),
        queue_capacity: config.queue_size,
        per_minute: NonZeroU32::new(config.per_minute).unwrap_or(NonZeroU32::MIN),
        policy: Policy {
            timeout: config.timeout,
            max_attempts: config.max_attempts.max(1),
            backoff: Backoff {
                base: Duration::from_secs(1),
                max: Duration::from_secs(60),
            },
            max_retry_after: Duration::from_secs(300),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Issues, LoadEnv};

    fn settings(webhooks: &str) -> Settings {
        let yaml = format!(
            "chain: {{id: 1}}\nrpc: {{endpoints: [{{name: a, url: 'http://127.0.0.1:1'}}]}}\ndao: {{kind: assetdao, address: '0x5FbDB2315678afecb367f032d93F642f64180aa3'}}\nwebhooks:\n{webhooks}"
        );
        let mut issues = Issues::default();
        let config = crate::config::parse(&yaml, &LoadEnv::default(), &mut issues)
            .unwrap_or_else(|| panic!("{issues:?}"));
        let webhook_urls = config
            .webhooks
            .iter()
            .map(|w| Secret::new(format!("http://127.0.0.1:1/{}", w.name)))
            .collect();
        Settings {
            config,
            source: "config.yaml".into(),
            ledger_path: "ledger.sqlite".into(),
            ledger_postgres: None,
            control_socket: "control.sock".into(),
            node_keys: Vec::new(),
            rpc_urls: Vec::new(),
            rpc_ws_urls: Vec::new(),
            chain_secrets: Vec::new(),
            api_token: None,
            webhook_urls,
        }
    }

    fn running(hub: &Hub, name: &str) -> Arc<Running> {
        hub.targets
            .iter()
            .find(|r| r.config.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("no target {name}"))
    }

    #[tokio::test]
    async fn reload_keeps_unchanged_targets_and_forgets_removed_ones() {
        let registry = prometheus::Registry::new();
        let metrics = WebhookMetrics::register(&registry).unwrap();
        let both =
            "  - {name: a, kind: generic, url_file: x}\n  - {name: b, kind: slack, url_file: y}\n";
        let hub = Hub::start(&settings(both), metrics.clone()).unwrap();
        let (a, b) = (running(&hub, "a"), running(&hub, "b"));

        let next = hub.reloaded(&settings(
            "  - {name: a, kind: generic, url_file: x}\n  - {name: b, kind: slack, url_file: y, per_minute: 5}\n",
        ));
        assert!(Arc::ptr_eq(&a, &running(&next, "a")), "unchanged: kept");
        assert!(!Arc::ptr_eq(&b, &running(&next, "b")), "changed: restarted");

        let series = |name: &str| {
            registry
                .gather()
                .iter()
                .flat_map(|f| f.get_metric().to_vec())
                .filter(|m| m.get_label().iter().any(|l| l.value() == name))
                .count()
        };
        assert_eq!(series("a"), 5, "3 outcomes, dropped, depth");
        let last = next.reloaded(&settings("  - {name: b, kind: slack, url_file: y}\n"));
        assert_eq!(last.targets.len(), 1);
        assert_eq!(series("a"), 0, "a removed target's series are gone");
        assert_eq!(series("b"), 5);
    }

    #[tokio::test]
    async fn only_targets_that_want_an_event_queue_it() {
        let metrics = WebhookMetrics::register(&prometheus::Registry::new()).unwrap();
        let hub = Hub::start(
            &settings(
                "  - {name: a, kind: generic, url_file: x, events: [round_failed]}\n  - {name: b, kind: generic, url_file: y, queue_size: 1}\n",
            ),
            metrics.clone(),
        )
        .unwrap();
        // Nothing listens on port 1: deliveries fail, queues are what is observed.
        hub.notify(Event::new(EventKind::VoteSent));
        hub.notify(Event::new(EventKind::VoteSent));
        hub.notify(Event::new(EventKind::VoteSent));
        assert_eq!(metrics.dropped.with_label_values(&["a"]).get(), 0);
        assert!(metrics.dropped.with_label_values(&["b"]).get() >= 1);
        assert_eq!(metrics.queue_depth.with_label_values(&["a"]).get(), 0);
    }
}
