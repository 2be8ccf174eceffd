//! Component health as served by `/health` and `/health/ready`. Each component
//! keeps its own state current (probes, rounds) and answers synchronously, so a
//! health request never waits on the chain.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Up,
    Degraded,
    Down,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentReport {
    pub status: Status,
    /// False when this component keeps the daemon from doing its job.
    pub ready: bool,
    /// Why the component is not up, in words an operator can act on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
}

impl ComponentReport {
    pub fn up() -> Self {
        ComponentReport {
            status: Status::Up,
            ready: true,
            reasons: Vec::new(),
            detail: serde_json::Value::Null,
        }
    }
}

pub trait HealthComponent: Send + Sync {
    fn name(&self) -> &str;
    fn report(&self) -> ComponentReport;
}

#[derive(Clone, Default)]
pub struct HealthRegistry {
    components: Arc<RwLock<Vec<Arc<dyn HealthComponent>>>>,
}

impl HealthRegistry {
    /// Registers a component; one registered under an existing name replaces it
    /// (a reload rebuilds components).
    pub fn register(&self, component: Arc<dyn HealthComponent>) {
        let mut list = self
            .components
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        list.retain(|c| c.name() != component.name());
        list.push(component);
    }

    pub fn snapshot(&self) -> BTreeMap<String, ComponentReport> {
        let list = self
            .components
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        list.iter()
            .map(|c| (c.name().to_owned(), c.report()))
            .collect()
    }

    /// The worst status over all components (`up` when there are none).
    pub fn overall(reports: &BTreeMap<String, ComponentReport>) -> Status {
        reports
            .values()
            .map(|r| r.status)
            .fold(Status::Up, |acc, s| match (acc, s) {
                (Status::Down, _) | (_, Status::Down) => Status::Down,
                (Status::Degraded, _) | (_, Status::Degraded) => Status::Degraded,
                _ => Status::Up,
            })
    }

    /// What ready components report as not up (a paused DAO, a node without
    /// voting power): shown next to the readiness verdict, never changing it.
    pub fn warnings(reports: &BTreeMap<String, ComponentReport>) -> Vec<String> {
        reports
            .iter()
            .filter(|(_, r)| r.ready && r.status != Status::Up)
            .flat_map(|(name, r)| r.reasons.iter().map(move |why| format!("{name}: {why}")))
            .collect()
    }

    /// `Err` lists, per component, why the daemon is not ready.
    pub fn readiness(reports: &BTreeMap<String, ComponentReport>) -> Result<(), Vec<String>> {
        let reasons: Vec<String> = reports
            .iter()
            .filter(|(_, r)| !r.ready)
            .flat_map(|(name, r)| {
                if r.reasons.is_empty() {
                    vec![format!("{name}: not ready")]
                } else {
                    r.reasons
                        .iter()
                        .map(|why| format!("{name}: {why}"))
                        .collect()
                }
            })
            .collect();
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(reasons)
        }
    }
}

/// A component whose report is set from outside (the watchdog task, start-up).
/// A component under another name: with many DAOs or chains, each one's
/// `dao`, `keys` and `rpc` components are `dao.<name>` and so on.
pub struct Named {
    name: String,
    inner: Arc<dyn HealthComponent>,
}

impl Named {
    /// `inner` as `<its name>.<qualifier>`, or as it is without a qualifier.
    pub fn qualified(
        inner: Arc<dyn HealthComponent>,
        qualifier: Option<&str>,
    ) -> Arc<dyn HealthComponent> {
        match qualifier {
            None => inner,
            Some(q) => Arc::new(Named {
                name: format!("{}.{q}", inner.name()),
                inner,
            }),
        }
    }
}

impl HealthComponent for Named {
    fn name(&self) -> &str {
        &self.name
    }
    fn report(&self) -> ComponentReport {
        self.inner.report()
    }
}

pub struct StaticComponent {
    name: String,
    report: RwLock<ComponentReport>,
}

impl StaticComponent {
    pub fn new(name: impl Into<String>, report: ComponentReport) -> Arc<Self> {
        Arc::new(StaticComponent {
            name: name.into(),
            report: RwLock::new(report),
        })
    }

    pub fn set(&self, report: ComponentReport) {
        *self
            .report
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = report;
    }
}

impl HealthComponent for StaticComponent {
    fn name(&self) -> &str {
        &self.name
    }
    fn report(&self) -> ComponentReport {
        self.report
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_names_each_blocking_component() {
        let reg = HealthRegistry::default();
        reg.register(StaticComponent::new("a", ComponentReport::up()));
        reg.register(StaticComponent::new(
            "rpc",
            ComponentReport {
                status: Status::Down,
                ready: false,
                reasons: vec!["no healthy endpoint".into()],
                detail: serde_json::Value::Null,
            },
        ));
        let snap = reg.snapshot();
        assert_eq!(HealthRegistry::overall(&snap), Status::Down);
        let why = HealthRegistry::readiness(&snap).unwrap_err();
        assert_eq!(why, vec!["rpc: no healthy endpoint".to_string()]);
    }
}
