//! What this daemon is right now (single, leader or standby), shared by the
//! elector that changes it and everything that reports it or asks whether
//! a round may run.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::metrics::HaMetrics;
use crate::ledger::pg::Fence;
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
    /// `leader` while this daemon leads at least one lease group.
    pub role: Role,
    /// `ha.id`; `None` when HA is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// With one lease group: the daemon holding its lease, as last seen
    /// (itself when leading). With several, see `groups`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// With one lease group: the fencing token this daemon holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_token: Option<i64>,
    /// Every lease group this daemon's nodes belong to (`nodes[].ha.group`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupView>,
}

/// One lease group as this daemon sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupView {
    pub group: String,
    /// `leader` or `standby`.
    pub role: Role,
    /// The daemon holding the group's lease, as last seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_token: Option<i64>,
    /// In `ha.preferred_groups` (or that list is empty).
    pub preferred: bool,
}

/// Why a round does not run on this daemon.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotLeader(pub String);

/// What a round that may start gets: the token it watches and, under HA,
/// the lease groups it votes for.
pub struct Admission {
    /// Cancelled when the daemon stops or any of `led`'s leaderships ends.
    pub cancel: CancellationToken,
    /// `None`: HA is off, every node votes. Otherwise the fences of the
    /// groups this daemon leads: the round votes for their nodes only and
    /// writes only while it holds every one of them.
    pub led: Option<Vec<Arc<Fence>>>,
    /// Ends the task that joins the leaderships' tokens when the round ends.
    _joined: Option<DropGuard>,
}

impl Admission {
    /// HA off: every node, until the daemon stops.
    pub fn everyone(cancel: CancellationToken) -> Self {
        Admission {
            cancel,
            led: None,
            _joined: None,
        }
    }
}

/// The role handle. Cheap to clone.
#[derive(Clone)]
pub struct Ha {
    inner: Arc<Inner>,
}

struct Inner {
    id: Option<String>,
    groups: Mutex<Vec<Group>>,
    /// Cancelled when the daemon stops; a leadership's token is its child.
    shutdown: CancellationToken,
    metrics: HaMetrics,
    notifier: Notifier,
}

struct Group {
    view: GroupView,
    fence: Arc<Fence>,
    /// The running leadership's token, cancelled when it steps down.
    leadership: Option<CancellationToken>,
}

impl Ha {
    /// HA off: always `single`, rounds always run.
    pub fn single(shutdown: CancellationToken, metrics: HaMetrics, notifier: Notifier) -> Self {
        let ha = Ha::with_groups(None, Vec::new(), shutdown, metrics, notifier);
        ha.inner.metrics.set_role(Role::Single);
        ha
    }

    /// HA on: a standby for every group (one fence each, with whether it is
    /// preferred) until its elector acquires the lease.
    pub fn elected(
        id: &str,
        fences: Vec<(Arc<Fence>, bool)>,
        shutdown: CancellationToken,
        metrics: HaMetrics,
        notifier: Notifier,
    ) -> Self {
        let groups = fences
            .into_iter()
            .map(|(fence, preferred)| Group {
                view: GroupView {
                    group: fence.group().to_owned(),
                    role: Role::Standby,
                    leader: None,
                    lease_token: None,
                    preferred,
                },
                fence,
                leadership: None,
            })
            .collect();
        let ha = Ha::with_groups(Some(id.to_owned()), groups, shutdown, metrics, notifier);
        ha.publish();
        ha
    }

    fn with_groups(
        id: Option<String>,
        groups: Vec<Group>,
        shutdown: CancellationToken,
        metrics: HaMetrics,
        notifier: Notifier,
    ) -> Self {
        Ha {
            inner: Arc::new(Inner {
                id,
                groups: Mutex::new(groups),
                shutdown,
                metrics,
                notifier,
            }),
        }
    }

    fn groups(&self) -> std::sync::MutexGuard<'_, Vec<Group>> {
        self.inner.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn view(&self) -> HaView {
        let groups: Vec<GroupView> = self.groups().iter().map(|g| g.view.clone()).collect();
        let role = if self.inner.id.is_none() {
            Role::Single
        } else if groups.iter().any(|g| g.role == Role::Leader) {
            Role::Leader
        } else {
            Role::Standby
        };
        let only = match groups.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        };
        HaView {
            role,
            id: self.inner.id.clone(),
            leader: only.as_ref().and_then(|g| g.leader.clone()),
            lease_token: only.as_ref().and_then(|g| g.lease_token),
            groups,
        }
    }

    pub fn role(&self) -> Role {
        self.view().role
    }

    pub fn metrics(&self) -> &HaMetrics {
        &self.inner.metrics
    }

    /// Whether a round may start: what it may do, or why it may not.
    pub fn admit(&self) -> Result<Admission, NotLeader> {
        if self.inner.id.is_none() {
            return Ok(Admission::everyone(self.inner.shutdown.clone()));
        }
        let (fences, tokens): (Vec<Arc<Fence>>, Vec<CancellationToken>) = self
            .groups()
            .iter()
            .filter_map(|g| g.leadership.clone().map(|t| (g.fence.clone(), t)))
            .unzip();
        if fences.is_empty() {
            return Err(NotLeader(status_text(&self.view())));
        }
        let (cancel, joined) = match tokens.as_slice() {
            [one] => (one.clone(), None),
            _ => {
                let cancel = self.inner.shutdown.child_token();
                let done = CancellationToken::new();
                let (round, finished) = (cancel.clone(), done.clone());
                tokio::spawn(async move {
                    let any_ends =
                        futures::future::select_all(tokens.iter().map(|t| Box::pin(t.cancelled())));
                    tokio::select! {
                        _ = any_ends => round.cancel(),
                        _ = finished.cancelled() => {}
                    }
                });
                (cancel, Some(done.drop_guard()))
            }
        };
        Ok(Admission {
            cancel,
            led: Some(fences),
            _joined: joined,
        })
    }

    /// Whether this daemon leads `group` now.
    pub fn leads(&self, group: &str) -> bool {
        self.groups()
            .iter()
            .any(|g| g.view.group == group && g.leadership.is_some())
    }

    /// Became the leader of `group` with `token`.
    pub(super) fn lead(&self, group: &str, token: i64) {
        let leadership = self.inner.shutdown.child_token();
        let id = self.inner.id.clone();
        self.update(group, |g| {
            g.leadership = Some(leadership);
            g.view.role = Role::Leader;
            g.view.leader = id;
            g.view.lease_token = Some(token);
        });
    }

    /// Not (or no longer) the leader of `group`; `leader` is who holds its
    /// lease, when known (`None`: the database could not say). A running
    /// round of this daemon that votes for the group is cancelled.
    pub(super) fn stand_by(&self, group: &str, leader: Option<String>) {
        self.update(group, |g| {
            if let Some(token) = g.leadership.take() {
                token.cancel();
            }
            g.view.role = Role::Standby;
            g.view.leader = leader;
            g.view.lease_token = None;
        });
    }

    fn update(&self, group: &str, f: impl FnOnce(&mut Group)) {
        let changed = {
            let mut groups = self.groups();
            let Some(g) = groups.iter_mut().find(|g| g.view.group == group) else {
                return;
            };
            let before = g.view.clone();
            f(g);
            g.view != before
        };
        if changed {
            self.publish();
        }
    }

    /// The role on the metrics and systemd's status line.
    fn publish(&self) {
        let view = self.view();
        self.inner.metrics.set_role(view.role);
        for g in &view.groups {
            self.inner
                .metrics
                .set_group_leader(&g.group, g.role == Role::Leader);
        }
        self.inner.notifier.role(Some(status_text(&view)));
    }
}

/// The role in one line, for `STATUS=`, the status page and a refused round.
pub fn status_text(view: &HaView) -> String {
    let id = view.id.as_deref().unwrap_or("?");
    match view.groups.as_slice() {
        [] => view.role.as_str().to_owned(),
        [only] => match (only.role, only.leader.as_deref()) {
            (Role::Leader, _) => format!(
                "leader (id {id}, lease token {})",
                only.lease_token.unwrap_or_default()
            ),
            (_, Some(leader)) => format!("standby: the leader is {leader}"),
            (_, None) => "standby: no leader known yet".to_owned(),
        },
        groups => {
            let led: Vec<String> = groups
                .iter()
                .filter(|g| g.role == Role::Leader)
                .map(|g| format!("{} (token {})", g.group, g.lease_token.unwrap_or_default()))
                .collect();
            let others: Vec<String> = groups
                .iter()
                .filter(|g| g.role != Role::Leader)
                .map(|g| {
                    format!(
                        "{} ({})",
                        g.group,
                        g.leader.as_deref().unwrap_or("no leader known yet")
                    )
                })
                .collect();
            let mut parts = Vec::new();
            if !led.is_empty() {
                parts.push(format!("leader of {}", led.join(", ")));
            }
            if !others.is_empty() {
                parts.push(format!("standby for {}", others.join(", ")));
            }
            format!("id {id}: {}", parts.join("; "))
        }
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
