//! Metrics of leadership: the role and how often this daemon took over.

use prometheus::{IntCounter, IntGaugeVec, Opts, Registry};

use super::role::Role;

#[derive(Clone)]
pub struct HaMetrics {
    /// 1 for the current role, 0 for the others.
    pub role: IntGaugeVec,
    /// Leases this daemon took over from another holder.
    pub failovers: IntCounter,
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
        };
        registry.register(Box::new(m.role.clone()))?;
        registry.register(Box::new(m.failovers.clone()))?;
        Ok(m)
    }

    pub fn set_role(&self, current: Role) {
        for role in Role::ALL {
            self.role
                .with_label_values(&[role.as_str()])
                .set(i64::from(role == current));
        }
    }
}
