//! `GET /api/v1/status`: the daemon at a glance. Answers from memory and the
//! ledger only (the head block is the pool's last probe), so it stays fast
//! and available when the chain is not.

use hyper::{Response, StatusCode};
use serde::Serialize;
use serde_json::Value;

use super::super::response::{self, Body};
use super::super::state::ApiState;
use super::redacted;
use super::rounds::{ledger_error, round_value, running_round, settle};
use crate::ledger::NodeVoteCounts;
use crate::service::{Daemon, HealthRegistry, Status};

#[derive(Serialize)]
struct StatusBody {
    name: &'static str,
    version: &'static str,
    uptime_seconds: u64,
    chain: ChainPart,
    dao: DaoPart,
    dry_run: bool,
    health: HealthPart,
    round: Option<CurrentRound>,
    last_round: Option<Value>,
    counts: Counts,
}

#[derive(Serialize)]
struct ChainPart {
    id: u64,
    name: Option<String>,
    head_block: Option<u64>,
    healthy_endpoints: usize,
    endpoints: usize,
}

#[derive(Serialize)]
struct DaoPart {
    kind: crate::config::DaoKind,
    address: String,
}

#[derive(Serialize)]
pub struct HealthPart {
    pub status: Status,
    pub ready: bool,
    /// `component: reason` for every component that is not up.
    pub reasons: Vec<String>,
}

#[derive(Serialize)]
struct CurrentRound {
    /// `null` in the moment before the round's ledger row exists.
    id: Option<i64>,
    phase: String,
    done: u64,
    total: u64,
    running_seconds: u64,
}

#[derive(Serialize, Default)]
pub struct VoteTotals {
    pub total: u64,
    pub confirmed: u64,
    pub pending: u64,
    pub unsuccessful: u64,
    pub external: u64,
}

#[derive(Serialize)]
struct Counts {
    nodes: usize,
    rounds: u64,
    votes: VoteTotals,
}

pub async fn get(state: &ApiState) -> Response<Body> {
    let daemon = &state.daemon;
    let settings = daemon.settings();
    let voting = daemon.voting();
    let ledger = &voting.ledger;
    let (rounds, mut newest, counts) = match tokio::try_join!(
        ledger.round_count(),
        ledger.rounds(2, None),
        ledger.vote_counts(),
    ) {
        Ok(v) => v,
        Err(e) => return ledger_error(daemon, &e),
    };
    // Taken after the rows, so `settle` can tell an ended round from one
    // whose end was never recorded.
    let running = match running_round(daemon).await {
        Ok(r) => r,
        Err(e) => return ledger_error(daemon, &e),
    };
    if let Err(e) = settle(daemon, &mut newest, running.as_ref()).await {
        return ledger_error(daemon, &e);
    }
    let pool = daemon.chain().snapshot();
    let progress = match &running {
        Some(r) => Some(r.progress.clone()),
        None => daemon.rounds().progress(),
    };
    let round = progress.map(|p| CurrentRound {
        id: running.as_ref().map(|r| r.id),
        phase: p.phase,
        done: p.done,
        total: p.total,
        running_seconds: daemon
            .rounds()
            .running_for()
            .map(|d| d.as_secs())
            .unwrap_or_default(),
    });
    let last_round = newest
        .iter()
        .find(|r| r.finished_at.is_some())
        .map(|r| round_value(daemon, r, running.as_ref()));
    let body = StatusBody {
        name: "govnode",
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: daemon.uptime().as_secs(),
        chain: ChainPart {
            id: settings.config.chain.id,
            name: settings.config.chain.name.clone(),
            head_block: pool.best_head,
            healthy_endpoints: pool.healthy_endpoints,
            endpoints: pool.endpoints.len(),
        },
        dao: DaoPart {
            kind: settings.config.dao.kind,
            address: super::checksum(voting.dao.address()),
        },
        dry_run: voting.round.dry_run,
        health: health(daemon),
        round,
        last_round,
        counts: Counts {
            nodes: voting.voters.len(),
            rounds,
            votes: totals(&counts),
        },
    };
    response::json(StatusCode::OK, &body)
}

pub fn health(daemon: &Daemon) -> HealthPart {
    let components = daemon.health().snapshot();
    let reasons = components
        .iter()
        .flat_map(|(name, r)| {
            r.reasons
                .iter()
                .map(move |why| redacted(daemon, &format!("{name}: {why}")).into_owned())
        })
        .collect();
    HealthPart {
        status: HealthRegistry::overall(&components),
        ready: HealthRegistry::readiness(&components).is_ok(),
        reasons,
    }
}

pub fn totals(counts: &[NodeVoteCounts]) -> VoteTotals {
    counts.iter().fold(VoteTotals::default(), |mut t, c| {
        t.total += c.total;
        t.confirmed += c.confirmed;
        t.pending += c.pending;
        t.unsuccessful += c.unsuccessful;
        t.external += c.external;
        t
    })
}
