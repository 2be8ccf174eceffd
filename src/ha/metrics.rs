//! Metrics of leadership: the role and how often this daemon took over.

use prometheus::{IntCounter, IntGaugeVec, Opts, Registry};

use super::role::Role;

#[derive(Clone)]
pub struct HaMetrics {
    /// 1 for the current role, 0 for the others.
    pub role: IntGaugeVec,
    /// Leases this daemon took over from another holder.
    pub failovers: IntCounter,
    /// 1 for each lease group this daemon leads, 0 for the others.
    pub group_leader: IntGaugeVec,
}

impl HaMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = HaMetrics {
            role: IntGaugeVec::new(
                Opts::new(
                    "govnode_ha_role",
                    "1 for this daemon's current role (single, leader, standby), 0 for the others.",
                ),
                &["role"],
            )?,
            failovers: IntCounter::new(
                "govnode_ha_failovers_total",
                "Leases this daemon took over from another holder (a failover or a switchover).",
            )?,
            group_leader: IntGaugeVec::new(
                Opts::new(
                    "govnode_ha_group_leader",
                    "1 for each lease group (nodes[].ha.group) this daemon leads, 0 for the groups another daemon leads.",
                ),
                &["group"],
            )?,
        };
        registry.register(Box::new(m.role.clone()))?;
        registry.register(Box::new(m.failovers.clone()))?;
        registry.register(Box::new(m.group_leader.clone()))?;
        Ok(m)
    }

    pub fn set_role(&self, current: Role) {
        for role in Role::ALL {
            self.role
                .with_label_values(&[role.as_str()])
                .set(i64::from(role == current));
        }
    }

    pub fn set_group_leader(&self, group: &str, leads: bool) {
        self.group_leader
            .with_label_values(&[group])
            .set(i64::from(leads));
    }
}
