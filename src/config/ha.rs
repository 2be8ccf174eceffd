//! The `ha:` section: active/standby daemons sharing one PostgreSQL ledger.
//! One of them holds the lease and votes; the others serve read-only and
//! take over when the lease runs out.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::issues::{Issues, field, index};
use super::schema::{LedgerConfig, LedgerKind, NodeConfig};
use super::validate::{LABEL_RULE, is_label};

/// Shortest lease: renewals every third of it must fit a database round trip.
const MIN_LEASE: Duration = Duration::from_secs(1);
/// Longest lease: a standby waits this long before it takes over.
const MAX_LEASE: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HaConfig {
    /// Take part in leader election on the PostgreSQL ledger.
    pub enabled: bool,
    /// How long a lease lasts without renewal; renewed every third of it.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// This daemon's name among its peers. Default: the host name.
    pub id: Option<String>,
    /// The lease groups (`nodes[].ha.group`) this daemon carries first: it
    /// takes them at once, and asks for them back when another daemon holds
    /// them. Any other group it takes over only once that group's lease has
    /// been out for one more lease. Empty: every group is preferred.
    pub preferred_groups: Vec<String>,
}

impl Default for HaConfig {
    fn default() -> Self {
        HaConfig {
            enabled: false,
            lease: Duration::from_secs(5),
            id: None,
            preferred_groups: Vec::new(),
        }
    }
}

impl HaConfig {
    /// How often the leader renews (and a standby tries to acquire).
    pub fn renew_every(&self) -> Duration {
        self.lease / 3
    }

    /// Whether this daemon carries `group` first (see `preferred_groups`).
    pub fn prefers(&self, group: &str) -> bool {
        self.preferred_groups.is_empty() || self.preferred_groups.iter().any(|g| g == group)
    }

    /// `ha.id`, else the host name, else `govnode`.
    pub fn resolved_id(&self) -> String {
        self.id.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| is_label(h))
                .unwrap_or_else(|| "govnode".to_owned())
        })
    }
}

/// The lease groups of `nodes`, each once, in the order nodes name them.
pub fn lease_groups(nodes: &[NodeConfig]) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    for node in nodes {
        if !groups.iter().any(|g| g == node.ha_group()) {
            groups.push(node.ha_group().to_owned());
        }
    }
    groups
}

pub fn validate_ha(
    ha: &HaConfig,
    ledger: &LedgerConfig,
    nodes: &[NodeConfig],
    issues: &mut Issues,
) {
    let p = "ha";
    let groups = lease_groups(nodes);
    for (i, node) in nodes.iter().enumerate() {
        let Some(group) = &node.ha.group else {
            continue;
        };
        let at = field(&field(&index("nodes", i), "ha"), "group");
        if !is_label(group) {
            issues.push(at, LABEL_RULE);
        } else if !ha.enabled && group != crate::ledger::pg::DEFAULT_GROUP {
            issues.push(
                at,
                "only used with ha.enabled (lease groups split voters over daemons sharing a PostgreSQL ledger)",
            );
        }
    }
    for (i, group) in ha.preferred_groups.iter().enumerate() {
        let at = index(&field(p, "preferred_groups"), i);
        if !groups.iter().any(|g| g == group) {
            issues.push(
                at,
                format!(
                    "names no node's lease group {group:?} (the groups are: {}; a node's group is nodes[].ha.group, default {:?})",
                    groups.join(", "),
                    crate::ledger::pg::DEFAULT_GROUP
                ),
            );
        }
    }
    if ha.enabled && ledger.kind == LedgerKind::Sqlite {
        issues.push(
            field(p, "enabled"),
            "needs ledger.kind: postgres (daemons on several machines share one database; a SQLite file cannot be shared)",
        );
    }
    if !(MIN_LEASE..=MAX_LEASE).contains(&ha.lease) {
        issues.push(
            field(p, "lease"),
            format!(
                "must be {} to {}",
                humantime::format_duration(MIN_LEASE),
                humantime::format_duration(MAX_LEASE)
            ),
        );
    }
    if let Some(id) = &ha.id
        && !is_label(id)
    {
        issues.push(field(p, "id"), LABEL_RULE);
    }
}
