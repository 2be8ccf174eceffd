//! The lease task of one lease group: every third of the lease it renews
//! (as leader) or tries to acquire (as standby). A leader that loses the
//! lease, or cannot renew it before most of it has run out, steps down at
//! once: its fence lets no write through, its round is cancelled, and it
//! says so. A standby that acquires a lease someone else held reconciles
//! what that leader left and starts a round (`failover`) at once.
//!
//! Groups split over daemons (`ha.preferred_groups`): a daemon takes a
//! group it does not prefer only once its lease has been out for one more
//! lease (and not in its first two leases after start, so that daemons
//! started together each take their own groups first); it hands such a
//! group back, between rounds, when a daemon that prefers it asks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::lease::{self, Claim, ClaimTerms, LeaseError};
use super::role::Ha;
use crate::ledger::pg::{Fence, PgTarget};
use crate::round::{Coordinator, Trigger, Voting};

pub struct Elector {
    pub ha: Ha,
    /// This group's fence (one elector per lease group).
    pub fence: Arc<Fence>,
    /// In `ha.preferred_groups` (or that list is empty).
    pub preferred: bool,
    /// Named in `ha.preferred_groups`: asks for the group back while
    /// another daemon holds it.
    pub asks_back: bool,
    pub target: PgTarget,
    /// Every DAO this daemon votes in: a lease group's nodes may vote in
    /// each.
    pub daos: Vec<ElectedDao>,
    /// `round.on_start`: a round when the first lease of a fresh group is
    /// acquired (a daemon that takes over from another always runs one).
    pub on_start: bool,
}

/// One DAO as an elector sees it.
#[derive(Clone)]
pub struct ElectedDao {
    /// The round's world, read when leadership starts.
    pub voting: Arc<dyn Fn() -> Voting + Send + Sync>,
    pub rounds: Coordinator,
}

impl Elector {
    /// Whether a round of any DAO runs now.
    fn round_running(&self) -> bool {
        self.daos.iter().any(|d| d.rounds.running_for().is_some())
    }

    /// Runs until `shutdown`, then waits for a running round to end and
    /// hands the lease back.
    pub async fn run(self, shutdown: CancellationToken) {
        let every = self.fence.lease() / 3;
        let mut client: Option<Client> = None;
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_sent: Option<Instant> = None;
        let mut failing = false;
        let mut stopping = false;
        let started = Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.cancelled(), if !stopping => stopping = true,
                _ = ticker.tick() => {}
            }
            if stopping && !self.round_running() {
                break;
            }
            if !self.preferred
                && self.fence.token().is_none()
                && started.elapsed() < 2 * self.fence.lease()
            {
                continue;
            }
            let sent_at = Instant::now();
            match self.claim(&mut client, every).await {
                Ok(claim) => {
                    if failing {
                        tracing::info!("the lease database answers again");
                        failing = false;
                    }
                    last_sent = Some(sent_at);
                    self.settle(claim, client.as_ref(), sent_at, stopping).await;
                }
                Err(e) => {
                    client = None;
                    let since = last_sent.map(|t| t.elapsed());
                    if self.fence.token().is_some()
                        && since.is_none_or(|s| s >= self.fence.safe_for())
                    {
                        self.step_down(
                            &format!(
                                "cannot renew the lease of group {} ({e}); the last renewal was sent {} ms ago, the lease is {} ms",
                                self.fence.group(),
                                since.unwrap_or_default().as_millis(),
                                self.fence.lease().as_millis()
                            ),
                            None,
                        );
                    } else if !failing {
                        tracing::warn!(group = self.fence.group(), error = %e, "cannot reach the lease; trying again");
                        failing = true;
                    }
                }
            }
        }
        self.hand_back(client).await;
    }

    async fn claim(
        &self,
        client: &mut Option<Client>,
        every: Duration,
    ) -> Result<Claim, LeaseError> {
        let attempt = async {
            if client.as_ref().is_none_or(Client::is_closed) {
                *client = Some(lease::connect(&self.target, every).await?);
            }
            let Some(c) = client.as_ref() else {
                return Err(LeaseError::Timeout(every));
            };
            let claim = lease::claim(
                c,
                ClaimTerms {
                    group: self.fence.group(),
                    me: self.fence.id(),
                    lease: self.fence.lease(),
                    held: self.fence.token(),
                    grace: if self.preferred {
                        Duration::ZERO
                    } else {
                        self.fence.lease()
                    },
                },
            )
            .await?;
            if self.asks_back && matches!(claim, Claim::Taken { .. }) {
                lease::want(c, self.fence.group(), self.fence.id()).await?;
            }
            Ok(claim)
        };
        tokio::time::timeout(every, attempt)
            .await
            .map_err(|_| LeaseError::Timeout(every))?
    }

    async fn settle(
        &self,
        claim: Claim,
        client: Option<&Client>,
        sent_at: Instant,
        stopping: bool,
    ) {
        match claim {
            Claim::Held {
                token,
                previous,
                wanted_by,
            } => {
                let held = self.fence.token();
                if held == Some(token) {
                    self.fence.hold(token, sent_at);
                    if let Some(wanter) = wanted_by
                        && !self.preferred
                        && !self.round_running()
                    {
                        self.hand_over(client, token, wanter).await;
                    }
                    return;
                }
                if held.is_some() {
                    self.step_down(
                        &format!(
                            "the lease of group {} lapsed before it was renewed; it is taken again with a new token",
                            self.fence.group()
                        ),
                        None,
                    );
                }
                self.fence.hold(token, sent_at);
                if stopping {
                    return;
                }
                self.lead(token, previous).await;
            }
            Claim::Taken { holder, token } => {
                if self.fence.token().is_some() {
                    self.step_down(
                        &format!(
                            "the lease of group {} is held by {holder} (token {token})",
                            self.fence.group()
                        ),
                        Some(holder),
                    );
                } else {
                    self.ha.stand_by(self.fence.group(), Some(holder));
                }
                self.follow_leader().await;
            }
        }
    }

    /// Leadership starts: what the last leader of this group left
    /// unfinished is marked, and a round reconciles its votes against the
    /// chain before anything new is signed (as a restart after a crash
    /// does).
    async fn lead(&self, token: i64, previous: Option<(String, i64)>) {
        let group = self.fence.group();
        self.ha.lead(group, token);
        match &previous {
            Some((holder, was)) => {
                self.ha.metrics().failovers.inc();
                tracing::warn!(group, token, previous = %holder, previous_token = was, "leading: took over the lease");
            }
            None => tracing::info!(group, token, "leading: acquired the lease"),
        }
        for dao in &self.daos {
            crate::round::interrupt_unfinished(&(dao.voting)().ledger, Some(group)).await;
        }
        let trigger = if previous.is_some() {
            Some(Trigger::Failover)
        } else if self.on_start {
            Some(Trigger::Startup)
        } else {
            None
        };
        if let Some(trigger) = trigger {
            self.start_round(trigger);
        }
    }

    /// A round for this group now. A round already running (for this
    /// daemon's other groups) does not vote for it: one more starts when
    /// that one ends.
    fn start_round(&self, trigger: Trigger) {
        for dao in &self.daos {
            self.start_dao_round(&dao.rounds, trigger);
        }
    }

    fn start_dao_round(&self, rounds: &Coordinator, trigger: Trigger) {
        match rounds.trigger(trigger) {
            Ok(ticket) if ticket.joined => {
                let (rounds, ha, group) = (
                    rounds.clone(),
                    self.ha.clone(),
                    self.fence.group().to_owned(),
                );
                tokio::spawn(async move {
                    ticket.report().await;
                    if ha.leads(&group)
                        && let Err(e) = rounds.trigger(trigger)
                    {
                        tracing::warn!(group, trigger = trigger.as_str(), reason = %e, "no round started");
                    }
                });
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(group = self.fence.group(), trigger = trigger.as_str(), reason = %e, "no round started")
            }
        }
    }

    /// A daemon that prefers this group asked for it: the lease is ended
    /// (between rounds), and the asker takes it at its next try.
    async fn hand_over(&self, client: Option<&Client>, token: i64, wanter: String) {
        let group = self.fence.group();
        self.fence.release();
        self.ha.stand_by(group, Some(wanter.clone()));
        let released = match client {
            Some(c) => lease::release(c, group, self.fence.id(), token).await,
            None => Ok(false),
        };
        match released {
            Ok(_) => {
                tracing::info!(group, token, to = %wanter, "handing the group back to a daemon that prefers it")
            }
            Err(e) => {
                tracing::warn!(group, error = %e, "cannot end the lease; it runs out by itself")
            }
        }
    }

    /// A standby runs no round, so its missed-round gauge follows the
    /// leader's rounds in the shared ledger (else every standby would
    /// alert that no round succeeded).
    async fn follow_leader(&self) {
        for dao in &self.daos {
            let voting = (dao.voting)();
            if let Ok(Some(ms)) = voting.ledger.last_success().await {
                voting.metrics.last_success.set(ms as f64 / 1000.0);
            }
        }
    }

    fn step_down(&self, why: &str, leader: Option<String>) {
        // The fence first: nothing is written from here on, whatever the
        // round does before it sees its cancellation.
        self.fence.release();
        self.ha.stand_by(self.fence.group(), leader);
        tracing::warn!(group = self.fence.group(), "stepping down: {why}");
    }

    async fn hand_back(&self, client: Option<Client>) {
        let Some(token) = self.fence.token() else {
            return;
        };
        self.fence.release();
        self.ha.stand_by(self.fence.group(), None);
        let Some(client) = client else { return };
        match lease::release(&client, self.fence.group(), self.fence.id(), token).await {
            Ok(true) => tracing::info!(group = self.fence.group(), token, "lease handed back"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot hand the lease back; it runs out by itself")
            }
        }
    }
}
