//! The `ha:` section: active/standby daemons sharing one PostgreSQL ledger.
//! One of them holds the lease and votes; the others serve read-only and
//! take over when the lease runs out.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::issues::{Issues, field};
use super::schema::{LedgerConfig, LedgerKind};
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
}

impl Default for HaConfig {
    fn default() -> Self {
        HaConfig {
            enabled: false,
            lease: Duration::from_secs(5),
            id: None,
        }
    }
}

impl HaConfig {
    /// How often the leader renews (and a standby tries to acquire).
    pub fn renew_every(&self) -> Duration {
        self.lease / 3
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

pub fn validate_ha(ha: &HaConfig, ledger: &LedgerConfig, issues: &mut Issues) {
    let p = "ha";
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
