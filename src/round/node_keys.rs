//! Whether each node's key can be trusted to vote right now: its signer
//! answers (set by every signature attempt) and its address is not used by
//! anyone else (set by the doppelganger check). Served as the `keys` health
//! component and as the `govnode_signer_*` and `govnode_node_paused` gauges.
//! A failing or paused node leaves the daemon ready while another node can
//! still vote: one bad key must not stop the others.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use alloy::primitives::Address;
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::service::{ComponentReport, HealthComponent, Status};

#[derive(Clone)]
pub struct KeyMetrics {
    pub signer_failures: IntCounterVec,
    pub signer_up: IntGaugeVec,
    pub node_paused: IntGaugeVec,
}

impl KeyMetrics {
    fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = KeyMetrics {
            signer_failures: IntCounterVec::new(
                Opts::new(
                    "govnode_signer_failures_total",
                    "Signatures a node's signer failed to give (unreachable, refused, or wrong).",
                ),
                &["node"],
            )?,
            signer_up: IntGaugeVec::new(
                Opts::new(
                    "govnode_signer_up",
                    "1 while a node's last signature attempt succeeded (or none was made yet), 0 after a failure.",
                ),
                &["node"],
            )?,
            node_paused: IntGaugeVec::new(
                Opts::new(
                    "govnode_node_paused",
                    "1 while a node is paused because its address sent transactions this ledger never signed (key in use elsewhere), else 0.",
                ),
                &["node"],
            )?,
        };
        registry.register(Box::new(m.signer_failures.clone()))?;
        registry.register(Box::new(m.signer_up.clone()))?;
        registry.register(Box::new(m.node_paused.clone()))?;
        Ok(m)
    }
}

#[derive(Debug, Clone, Default)]
struct KeyState {
    /// The address the state is about: a rotated key starts afresh.
    address: Address,
    /// The last signing failure, cleared by the next signature.
    signer_error: Option<String>,
    /// Why no vote is signed for the node until an operator acknowledges.
    paused: Option<String>,
    /// Why the last doppelganger check could not be made (votes wait).
    unverified: Option<String>,
}

/// Why a node's votes are not signed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignBlock {
    /// Key in use elsewhere: until `govnode keys ack`.
    Paused(String),
    /// The check could not be made: until it can.
    Unverified(String),
}

/// Per-node key state shared by rounds, the control socket and health.
#[derive(Clone)]
pub struct NodeKeys {
    state: Arc<RwLock<BTreeMap<String, KeyState>>>,
    metrics: KeyMetrics,
}

impl NodeKeys {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        Ok(NodeKeys {
            state: Arc::default(),
            metrics: KeyMetrics::register(registry)?,
        })
    }

    /// Keeps the state of `nodes` (a reload keeps a pause), starts afresh
    /// for a node whose address changed (its key was rotated) and forgets
    /// removed ones.
    pub fn track<'a>(&self, nodes: impl IntoIterator<Item = (&'a str, Address)>) {
        let nodes: Vec<(&str, Address)> = nodes.into_iter().collect();
        let mut state = self.write();
        state.retain(|name, s| nodes.contains(&(name.as_str(), s.address)));
        for (node, address) in nodes {
            let s = state.entry(node.to_owned()).or_insert_with(|| KeyState {
                address,
                ..KeyState::default()
            });
            self.metrics.signer_failures.with_label_values(&[node]);
            self.metrics
                .signer_up
                .with_label_values(&[node])
                .set(i64::from(s.signer_error.is_none()));
            self.metrics
                .node_paused
                .with_label_values(&[node])
                .set(i64::from(s.paused.is_some()));
        }
    }

    pub fn signed(&self, node: &str) {
        if let Some(s) = self.write().get_mut(node)
            && s.signer_error.take().is_some()
        {
            tracing::info!(NODE = %node, "signer answers again");
        }
        self.metrics.signer_up.with_label_values(&[node]).set(1);
    }

    pub fn signer_failed(&self, node: &str, reason: &str) {
        self.write()
            .entry(node.to_owned())
            .or_default()
            .signer_error = Some(reason.to_owned());
        self.metrics
            .signer_failures
            .with_label_values(&[node])
            .inc();
        self.metrics.signer_up.with_label_values(&[node]).set(0);
    }

    /// Sets or clears the node's pause; true when that changed whether it is paused.
    pub fn set_paused(&self, node: &str, reason: Option<String>) -> bool {
        let paused = reason.is_some();
        let mut state = self.write();
        let s = state.entry(node.to_owned()).or_default();
        let changed = paused != s.paused.is_some();
        s.paused = reason;
        drop(state);
        self.metrics
            .node_paused
            .with_label_values(&[node])
            .set(i64::from(paused));
        changed
    }

    pub fn set_unverified(&self, node: &str, reason: Option<String>) {
        self.write().entry(node.to_owned()).or_default().unverified = reason;
    }

    /// `Err` when no vote may be signed for `node` now.
    pub fn may_sign(&self, node: &str) -> Result<(), SignBlock> {
        match self.read().get(node) {
            Some(KeyState {
                paused: Some(why), ..
            }) => Err(SignBlock::Paused(why.clone())),
            Some(KeyState {
                unverified: Some(why),
                ..
            }) => Err(SignBlock::Unverified(why.clone())),
            _ => Ok(()),
        }
    }

    pub fn paused(&self, node: &str) -> Option<String> {
        self.read().get(node).and_then(|s| s.paused.clone())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, KeyState>> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, KeyState>> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl HealthComponent for NodeKeys {
    fn name(&self) -> &str {
        "keys"
    }

    fn report(&self) -> ComponentReport {
        let state = self.read();
        let mut reasons = Vec::new();
        let mut detail = serde_json::Map::new();
        for (node, s) in state.iter() {
            if let Some(why) = &s.paused {
                reasons.push(format!("node {node} paused: {why}"));
            }
            if let Some(why) = &s.unverified {
                reasons.push(format!("node {node} key not verified: {why}"));
            }
            if let Some(why) = &s.signer_error {
                reasons.push(format!("node {node} signer failing: {why}"));
            }
            detail.insert(
                node.clone(),
                serde_json::json!({
                    "signer_up": s.signer_error.is_none(),
                    "signer_error": s.signer_error,
                    "paused": s.paused.is_some(),
                    "paused_reason": s.paused,
                }),
            );
        }
        // Only when no node may vote at all does the daemon stop being ready.
        let ready = state.is_empty() || state.values().any(|s| s.paused.is_none());
        ComponentReport {
            status: match (reasons.is_empty(), ready) {
                (true, _) => Status::Up,
                (false, true) => Status::Degraded,
                (false, false) => Status::Down,
            },
            ready,
            reasons,
            detail: serde_json::Value::Object(detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Address = Address::repeat_byte(0xaa);
    const B: Address = Address::repeat_byte(0xbb);

    #[test]
    fn a_failing_signer_degrades_until_the_next_signature() {
        let keys = NodeKeys::register(&Registry::new()).unwrap();
        keys.track([("a", A), ("b", B)]);
        assert_eq!(keys.report().status, Status::Up);
        keys.signer_failed("a", "web3signer signer unreachable: refused");
        let r = keys.report();
        assert_eq!((r.status, r.ready), (Status::Degraded, true));
        assert_eq!(
            r.reasons,
            vec!["node a signer failing: web3signer signer unreachable: refused"]
        );
        keys.signed("a");
        assert_eq!(keys.report().status, Status::Up);
    }

    #[test]
    fn every_node_paused_is_not_ready() {
        let keys = NodeKeys::register(&Registry::new()).unwrap();
        keys.track([("a", A), ("b", B)]);
        assert!(keys.set_paused("a", Some("x".into())));
        assert!(!keys.set_paused("a", Some("x".into())), "already paused");
        assert!(keys.set_paused("a", None), "resumed");
        keys.set_paused("a", Some("x".into()));
        assert!(keys.report().ready);
        keys.set_paused("b", Some("y".into()));
        assert!(!keys.report().ready);
        keys.track([("b", B)]);
        assert_eq!(keys.paused("a"), None, "a removed node is forgotten");
        assert_eq!(keys.paused("b").as_deref(), Some("y"), "kept over a reload");
        keys.track([("b", A)]);
        assert_eq!(keys.paused("b"), None, "a rotated key starts afresh");
    }
}
