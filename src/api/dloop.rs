//! DLoop compatibility mode (`api.dloop_compat`): the answers of the DLoop
//! governance node's HTTP server on the paths it served, so that its
//! dashboards, monitors and cron-driven `curl -X POST …/trigger-voting`
//! keep working when govnode replaces it. Field names and value types follow
//! that server (camelCase, `success`/`message`/`timestamp`); the values come
//! from govnode's ledger, health and chain reads. docs/migrating-from-dloop.md
//! lists where the values differ in meaning.

use std::time::Duration;

use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};

use super::response::{self, Body};
use super::router::Route;
use super::state::ApiState;
use super::v1::proposals::{self, CollectError, ProposalView};
use super::v1::{checksum, format_units, redacted};
use crate::config::ApiConfig;
use crate::dao::ProposalKind;
use crate::ledger::NodeVoteCounts;
use crate::round::{Outcome, RoundReport, Trigger};
use crate::service::{Daemon, HealthRegistry};

/// The voting token's decimals when they cannot be read (DLOOP's own).
const DEFAULT_DECIMALS: u8 = 18;
/// DLoop's state number for a proposal open to votes.
const STATE_ACTIVE: u8 = 1;
const TOKEN_READ_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether the compat mode's two `POST`s may go without the bearer token:
/// only when the operator opted in and the listener is on loopback (the
/// configuration check refuses the opt-in otherwise; this is checked again
/// so that no reload path can open a public listener).
pub fn token_waived(api: &ApiConfig, route: Route) -> bool {
    api.dloop_compat
        && api.dloop_compat_open_on_loopback
        && api.listen.ip().is_loopback()
        && matches!(route, Route::TriggerVoting | Route::EmergencyVoting)
}

/// `new Date().toISOString()`: always three fraction digits, in UTC.
const ISO_MS: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
);

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(ISO_MS)
        .unwrap_or_default()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeStatus {
    node_id: String,
    address: String,
    strategy: String,
    /// Every configured node votes; govnode has no disabled nodes.
    is_active: bool,
    stats: NodeStats,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeStats {
    /// govnode never creates proposals.
    proposals_created: u64,
    /// Spelled as DLoop spells it: votes confirmed on chain.
    #[serde(rename = "votesAcast")]
    votes_cast: u64,
    last_proposal_time: u64,
    /// Unix milliseconds of the newest confirmed vote; 0 when none.
    last_vote_time: i64,
    /// Milliseconds the daemon has been running.
    uptime: u64,
}

async fn node_statuses(state: &ApiState) -> Result<Vec<NodeStatus>, String> {
    let daemon = &state.daemon;
    let voting = daemon.voting();
    let counts = voting
        .ledger
        .vote_counts()
        .await
        .map_err(|e| redacted(daemon, &e.to_string()).into_owned())?;
    let uptime = u64::try_from(daemon.uptime().as_millis()).unwrap_or(u64::MAX);
    Ok(voting
        .voters
        .iter()
        .map(|v| {
            let mine = counts.iter().filter(|c| c.node == v.name);
            let (cast, last) = totals(mine);
            NodeStatus {
                node_id: v.name.clone(),
                address: checksum(v.address),
                strategy: v.strategy_name.clone(),
                is_active: true,
                stats: NodeStats {
                    proposals_created: 0,
                    votes_cast: cast,
                    last_proposal_time: 0,
                    last_vote_time: last,
                    uptime,
                },
            }
        })
        .collect())
}

/// Confirmed votes and the newest confirmation time over a node's rows
/// (a node whose key was rotated has rows under both addresses).
fn totals<'a>(rows: impl Iterator<Item = &'a NodeVoteCounts>) -> (u64, i64) {
    rows.fold((0, 0), |(cast, last), c| {
        (cast + c.confirmed, last.max(c.last_vote_at.unwrap_or(0)))
    })
}

fn failure(status: StatusCode, error: &str) -> Response<Body> {
    response::json(
        status,
        &json!({ "success": false, "error": error, "timestamp": now() }),
    )
}

/// `GET /`.
pub async fn status(state: &ApiState) -> Response<Body> {
    let nodes = match node_statuses(state).await {
        Ok(n) => n,
        Err(e) => return failure(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let ready = HealthRegistry::readiness(&state.daemon.health().snapshot()).is_ok();
    let body = json!({
        "message": "AI Governance Nodes System",
        "status": if ready { "operational" } else { "degraded" },
        "timestamp": now(),
        "system": {
            "isRunning": true,
            "totalNodes": nodes.len(),
            "activeNodes": nodes.iter().filter(|n| n.is_active).count(),
            "nodeStatuses": nodes,
        },
    });
    response::json(StatusCode::OK, &body)
}

/// `GET /health`: 200 `healthy` when the daemon is ready to vote, else 503
/// `unhealthy` with the readiness reasons (DLoop answered 200 whatever its
/// state; a monitor that only checks the status code now learns the truth).
pub fn health(daemon: &Daemon) -> Response<Body> {
    let uptime = daemon.uptime().as_secs_f64();
    match HealthRegistry::readiness(&daemon.health().snapshot()) {
        Ok(()) => response::json(
            StatusCode::OK,
            &json!({ "status": "healthy", "uptime": uptime, "timestamp": now() }),
        ),
        Err(reasons) => response::json(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({
                "status": "unhealthy",
                "uptime": uptime,
                "timestamp": now(),
                "reasons": reasons,
            }),
        ),
    }
}

/// `GET /nodes`.
pub async fn nodes(state: &ApiState) -> Response<Body> {
    match node_statuses(state).await {
        Ok(statuses) => {
            let nodes: Vec<Value> = statuses
                .into_iter()
                .map(|s| {
                    json!({
                        "id": s.node_id,
                        "address": s.address,
                        "active": s.is_active,
                        "status": s,
                    })
                })
                .collect();
            response::json(StatusCode::OK, &json!({ "nodes": nodes }))
        }
        Err(e) => failure(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DloopProposal {
    id: String,
    proposer: String,
    /// 0 invest, 1 divest, 2 parameter change (DLoop's rebalance); 3 for
    /// kinds DLoop has no number for (Governor proposals).
    proposal_type: u8,
    /// The zero address when the proposal names no asset.
    asset_address: String,
    /// In whole asset units (with the asset's decimals, not always 18).
    amount: String,
    description: String,
    votes_for: String,
    votes_against: String,
    start_time: u64,
    end_time: u64,
    executed: bool,
    cancelled: bool,
    state: u8,
}

fn proposal_type(kind: &str) -> u8 {
    match ProposalKind::parse(kind) {
        Some(ProposalKind::Investment) => 0,
        Some(ProposalKind::Divestment) => 1,
        Some(ProposalKind::ParameterChange) => 2,
        Some(ProposalKind::Other) | None => 3,
    }
}

fn whole(raw: &str, decimals: u8) -> String {
    match raw.parse::<alloy::primitives::U256>() {
        Ok(v) => format_units(v, decimals),
        Err(_) => raw.to_owned(),
    }
}

fn dloop_proposal(p: ProposalView, vote_decimals: u8) -> DloopProposal {
    DloopProposal {
        proposer: p.proposer,
        proposal_type: proposal_type(p.kind),
        asset_address: p
            .asset
            .map(|a| a.address)
            .unwrap_or_else(|| checksum(alloy::primitives::Address::ZERO)),
        amount: p.amount.formatted.unwrap_or(p.amount.raw),
        description: p.description,
        votes_for: whole(&p.yes_votes, vote_decimals),
        votes_against: whole(&p.no_votes, vote_decimals),
        start_time: p.created_at.value(),
        end_time: p.deadline.value(),
        executed: false,
        cancelled: false,
        state: STATE_ACTIVE,
        id: p.id,
    }
}

async fn voting_decimals(state: &ApiState) -> u8 {
    let voting = state.daemon.voting();
    let read = async {
        let token = voting.dao.voting_token().await.ok()?;
        voting.tokens.resolve(token).await.ok()?.decimals
    };
    tokio::time::timeout(TOKEN_READ_TIMEOUT, read)
        .await
        .ok()
        .flatten()
        .unwrap_or(DEFAULT_DECIMALS)
}

/// `GET /active-proposals`: the proposals open to votes now (past the
/// configured margin), as a round would see them.
pub async fn active_proposals(state: &ApiState) -> Response<Body> {
    let body = match proposals::collect(state).await {
        Ok(b) => b,
        Err(CollectError::Ledger(e)) => {
            let text = redacted(&state.daemon, &e.to_string()).into_owned();
            return failure(StatusCode::INTERNAL_SERVER_ERROR, &text);
        }
        Err(e @ CollectError::Chain(_)) => {
            return failure(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
        }
    };
    let decimals = voting_decimals(state).await;
    let list: Vec<DloopProposal> = body
        .proposals
        .into_iter()
        .map(|p| dloop_proposal(p, decimals))
        .collect();
    response::json(
        StatusCode::OK,
        &json!({
            "success": true,
            "count": list.len(),
            "proposals": list,
            "timestamp": now(),
        }),
    )
}

/// `POST /trigger-voting` and `POST /emergency-voting`: run a round (or join
/// the running one) and answer when it has ended, as DLoop did. The round's
/// full report is at the `Location` given.
pub async fn trigger(state: &ApiState, emergency: bool) -> Response<Body> {
    let daemon = &state.daemon;
    if daemon.shutdown_token().is_cancelled() {
        return failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "the daemon is stopping; no new round is started",
        );
    }
    let report = match daemon.rounds().trigger(Trigger::Api) {
        Ok(ticket) => ticket.report().await,
        Err(standby) => return failure(StatusCode::CONFLICT, &standby.to_string()),
    };
    let mut resp = match report.outcome {
        Some(Outcome::Success) => {
            let message = if emergency {
                "Emergency voting round completed"
            } else {
                "Voting round triggered successfully"
            };
            let mut body = json!({ "success": true, "message": message, "timestamp": now() });
            if emergency {
                body["details"] = json!({ "method": "round", "timestamp": now() });
            }
            response::json(StatusCode::OK, &body)
        }
        Some(Outcome::Partial) => {
            let error = partial_summary(&report);
            response::json(
                StatusCode::OK,
                &json!({
                    "success": false,
                    "message": "Voting round finished with votes left",
                    "error": error,
                    "timestamp": now(),
                }),
            )
        }
        Some(Outcome::Failed) | None => {
            let why = report.error.as_deref().unwrap_or("the round failed");
            failure(StatusCode::INTERNAL_SERVER_ERROR, &redacted(daemon, why))
        }
    };
    if report.id > 0
        && let Ok(v) = HeaderValue::from_str(&format!("/api/v1/rounds/{}", report.id))
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn partial_summary(report: &RoundReport) -> String {
    let v = &report.votes;
    format!(
        "{} of {} decided votes confirmed; {} failed, {} still pending, {} deferred",
        v.confirmed, v.decided, v.failed, v.pending, v.deferred
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposal_types_follow_dloop_numbers() {
        assert_eq!(proposal_type("investment"), 0);
        assert_eq!(proposal_type("divestment"), 1);
        assert_eq!(proposal_type("parameter_change"), 2);
        assert_eq!(proposal_type("other"), 3);
    }

    #[test]
    fn votes_in_whole_tokens() {
        assert_eq!(whole("1500000000000000000", 18), "1.5");
        assert_eq!(whole("0", 18), "0");
        assert_eq!(whole("not a number", 18), "not a number");
    }

    #[test]
    fn token_waived_only_on_loopback_opt_in() {
        let mut api = ApiConfig {
            dloop_compat: true,
            dloop_compat_open_on_loopback: true,
            ..ApiConfig::default()
        };
        assert!(token_waived(&api, Route::TriggerVoting));
        assert!(token_waived(&api, Route::EmergencyVoting));
        assert!(
            !token_waived(&api, Route::Rounds),
            "the v1 API keeps its token"
        );
        api.listen = "0.0.0.0:5001".parse().expect("address");
        assert!(!token_waived(&api, Route::TriggerVoting));
        api.listen = "[::1]:5001".parse().expect("address");
        assert!(token_waived(&api, Route::TriggerVoting));
        api.dloop_compat = false;
        assert!(!token_waived(&api, Route::TriggerVoting));
    }

    #[test]
    fn now_has_milliseconds() {
        let t = now();
        assert!(t.ends_with('Z') && t.len() == 24, "{t}");
    }
}
