//! What this daemon is right now (single, leader or standby), shared by the
//! elector that changes it and everything that reports it or asks whether
//! a round may run.

use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::metrics::HaMetrics;
use crate::service::{ComponentReport, HealthComponent, Notifier};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// `ha.enabled: false`: the only daemon of its ledger.
    Single,
    /// Holds the lease: votes.
    Leader,
    /// Another daemon holds the lease (or nobody could be reached): serves
    /// read-only and waits to take over.
    Standby,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Single, Role::Leader, Role::Standby];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Single => "single",
            Role::Leader => "leader",
            Role::Standby => "standby",
        }
    }
}

/// The role with what an operator needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HaView {
    pub role: Role,
    /// `ha.id`; `None` when HA is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The daemon holding the lease, as last seen (itself when leading).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// The fencing token of the lease this daemon holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_token: Option<i64>,
}

/// Why a round does not run on this daemon.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotLeader(pub String);

/// The role handle. Cheap to clone.
#[derive(Clone)]
pub struct Ha {
    inner: Arc<Inner>,
}

struct Inner {
    view: RwLock<HaView>,
    /// Cancelled when the daemon stops; a leadership's token is its child.
    shutdown: CancellationToken,
    /// The running leadership's token, cancelled when it steps down.
    leadership: Mutex<Option<CancellationToken>>,
    metrics: HaMetrics,
    notifier: Notifier,
}

impl Ha {
    /// HA off: always `single`, rounds always run.
    pub fn single(shutdown: CancellationToken, metrics: HaMetrics, notifier: Notifier) -> Self {
        Ha::with_view(
            HaView {
                role: Role::Single,
                id: None,
                leader: None,
                lease_token: None,
            },
            shutdown,
            metrics,
            notifier,
        )
    }

    /// HA on: a standby until the elector acquires the lease.
    pub fn elected(
        id: &str,
        shutdown: CancellationToken,
        metrics: HaMetrics,
        notifier: Notifier,
    ) -> Self {
        let ha = Ha::with_view(
            HaView {
                role: Role::Standby,
                id: Some(id.to_owned()),
                leader: None,
                lease_token: None,
            },
            shutdown,
            metrics,
            notifier,
        );
        ha.publish();
        ha
    }

    fn with_view(
        view: HaView,
        shutdown: CancellationToken,
        metrics: HaMetrics,
        notifier: Notifier,
    ) -> Self {
        metrics.set_role(view.role);
        Ha {
            inner: Arc::new(Inner {
                view: RwLock::new(view),
                shutdown,
                leadership: Mutex::new(None),
                metrics,
                notifier,
            }),
        }
    }

    pub fn view(&self) -> HaView {
        self.inner
            .view
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn role(&self) -> Role {
        self.view().role
    }

    pub fn metrics(&self) -> &HaMetrics {
        &self.inner.metrics
    }

    /// Whether a round may start: the token it must watch (cancelled when
    /// the daemon stops or this leadership ends), or why it may not.
    pub fn admit(&self) -> Result<CancellationToken, NotLeader> {
        let view = self.view();
        match view.role {
            Role::Single => Ok(self.inner.shutdown.clone()),
            Role::Leader => self
                .inner
                .leadership
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .ok_or_else(|| NotLeader("standby: stepping down".into())),
            Role::Standby => Err(NotLeader(standby_text(view.leader.as_deref()))),
        }
    }

    /// Became the leader with `token`; the new leadership's token.
    pub(super) fn lead(&self, token: i64) -> CancellationToken {
        let leadership = self.inner.shutdown.child_token();
        *self
            .inner
            .leadership
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(leadership.clone());
        self.update(|v| {
            v.role = Role::Leader;
            v.leader = v.id.clone();
            v.lease_token = Some(token);
        });
        leadership
    }

    /// Not (or no longer) the leader; `leader` is who holds the lease, when
    /// known (`None`: the database could not say). A running round of this
    /// daemon is cancelled.
    pub(super) fn stand_by(&self, leader: Option<String>) {
        if let Some(token) = self
            .inner
            .leadership
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            token.cancel();
        }
        self.update(|v| {
            v.role = Role::Standby;
            v.leader = leader;
            v.lease_token = None;
        });
    }

    fn update(&self, f: impl FnOnce(&mut HaView)) {
        let changed = {
            let mut view = self.inner.view.write().unwrap_or_else(|p| p.into_inner());
            let before = view.clone();
            f(&mut view);
            *view != before
        };
        if changed {
            self.publish();
        }
    }

    /// The role on the metrics and systemd's status line.
    fn publish(&self) {
        let view = self.view();
        self.inner.metrics.set_role(view.role);
        self.inner.notifier.role(Some(match view.role {
            Role::Leader => format!(
                "leader (id {}, lease token {})",
                view.id.as_deref().unwrap_or("?"),
                view.lease_token.unwrap_or_default()
            ),
            _ => standby_text(view.leader.as_deref()),
        }));
    }
}

fn standby_text(leader: Option<&str>) -> String {
    match leader {
        Some(leader) => format!("standby: the leader is {leader}"),
        None => "standby: no leader known yet".to_owned(),
    }
}

/// `/health`'s `ha` component: the role and the leader. Always up and
/// ready: a standby serves the API and metrics.
impl HealthComponent for Ha {
    fn name(&self) -> &str {
        "ha"
    }

    fn report(&self) -> ComponentReport {
        ComponentReport {
            detail: serde_json::to_value(self.view()).unwrap_or_default(),
            ..ComponentReport::up()
        }
    }
}
