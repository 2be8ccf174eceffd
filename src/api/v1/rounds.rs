//! `GET /api/v1/rounds` and `GET /api/v1/rounds/{id}`, from the ledger's
//! rounds table.
//!
//! A finished round is its stored summary (a serialized
//! [`crate::round::RoundReport`]); the running round is a short object with
//! its progress; a round the daemon did not see to the end (outcome
//! `interrupted`) has the report's fields with `null` where nothing was
//! recorded.

use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use super::super::response::{self, Body};
use super::super::state::ApiState;
use super::{VoteView, query_param, redacted, rfc3339_ms};
use crate::ledger::{LedgerError, RoundRow};
use crate::round::Progress;
use crate::service::Daemon;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 200;

pub async fn list(state: &ApiState, query: Option<&str>) -> Response<Body> {
    let limit = match query_param(query, "limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return bad_request(&format!(
                    "limit must be a whole number from 1 to {MAX_LIMIT}"
                ));
            }
        },
    };
    let before = match query_param(query, "before") {
        None => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => return bad_request("before must be a round id (a positive whole number)"),
        },
    };
    let daemon = &state.daemon;
    let ledger = daemon.voting().ledger;
    let mut rows = match ledger.rounds(limit, before).await {
        Ok(r) => r,
        Err(e) => return ledger_error(daemon, &e),
    };
    let running = match running_round(daemon).await {
        Ok(r) => r,
        Err(e) => return ledger_error(daemon, &e),
    };
    if let Err(e) = settle(daemon, &mut rows, running.as_ref()).await {
        return ledger_error(daemon, &e);
    }
    let next_before = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let rounds: Vec<Value> = rows
        .iter()
        .map(|r| round_value(daemon, r, running.as_ref()))
        .collect();
    response::json(
        StatusCode::OK,
        &json!({ "rounds": rounds, "next_before": next_before }),
    )
}

pub async fn one(state: &ApiState, id: Option<i64>) -> Response<Body> {
    let daemon = &state.daemon;
    let Some(id) = id else {
        return not_found("round ids are positive whole numbers");
    };
    let ledger = daemon.voting().ledger;
    let mut row = match ledger.round(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found(&format!("no round {id} in the ledger")),
        Err(e) => return ledger_error(daemon, &e),
    };
    let running = match running_round(daemon).await {
        Ok(r) => r,
        Err(e) => return ledger_error(daemon, &e),
    };
    if let Err(e) = settle(daemon, std::slice::from_mut(&mut row), running.as_ref()).await {
        return ledger_error(daemon, &e);
    }
    let votes = match ledger.votes_by_round(id).await {
        Ok(v) => v,
        Err(e) => return ledger_error(daemon, &e),
    };
    let mut value = round_value(daemon, &row, running.as_ref());
    let records: Vec<VoteView> = votes.iter().map(|v| VoteView::new(daemon, v)).collect();
    if let Value::Object(map) = &mut value {
        map.insert("vote_records".into(), json!(records));
    }
    response::json(StatusCode::OK, &value)
}

/// The round running now, as one snapshot: its ledger id and the progress
/// read together, so a round that ends while an answer is being built is
/// never shown as running without a phase.
#[derive(Debug, Clone)]
pub struct RunningRound {
    pub id: i64,
    pub progress: Progress,
}

/// The round running now, if any. Only the coordinator's round can be
/// unfinished in the ledger: start-up closes the ones a previous run left
/// open.
pub async fn running_round(daemon: &Daemon) -> Result<Option<RunningRound>, LedgerError> {
    let Some(progress) = daemon.rounds().progress() else {
        return Ok(None);
    };
    let newest = daemon.voting().ledger.rounds(1, None).await?;
    Ok(newest
        .first()
        .filter(|r| r.finished_at.is_none())
        .map(|r| RunningRound { id: r.id, progress }))
}

/// Rows read as unfinished before `running` was taken may belong to a
/// round that has ended since: a round's end is written to the ledger
/// before the coordinator lets go of it, so reading such a row again gives
/// its end. Call with rows read *before* `running`.
pub async fn settle(
    daemon: &Daemon,
    rows: &mut [RoundRow],
    running: Option<&RunningRound>,
) -> Result<(), LedgerError> {
    for row in rows.iter_mut() {
        if row.finished_at.is_none()
            && running.map(|r| r.id) != Some(row.id)
            && let Some(fresh) = daemon.voting().ledger.round(row.id).await?
        {
            *row = fresh;
        }
    }
    Ok(())
}

/// One round as the API shows it; `running` is the running round.
pub fn round_value(daemon: &Daemon, row: &RoundRow, running: Option<&RunningRound>) -> Value {
    if let Some(summary) = &row.summary {
        return report_value(daemon, summary.clone());
    }
    if let Some(RunningRound { progress, .. }) =
        running.filter(|r| row.finished_at.is_none() && r.id == row.id)
    {
        return json!({
            "id": row.id,
            "state": "running",
            "trigger": row.trigger,
            "started_at": rfc3339_ms(row.started_at),
            "head_block": row.head_block,
            "progress": progress,
        });
    }
    let error = match row.outcome.as_deref() {
        Some("interrupted") => {
            "the daemon stopped before this round ended; its unfinished votes are \
             reconciled with the chain before anything is sent again"
        }
        _ => "the end of this round was not recorded in the ledger (see the daemon's log)",
    };
    json!({
        "id": row.id,
        "trigger": row.trigger,
        "state": "failed",
        "outcome": row.outcome,
        "started_at": rfc3339_ms(row.started_at),
        "finished_at": row.finished_at.and_then(rfc3339_ms),
        "duration_ms": row.finished_at.map(|f| f.saturating_sub(row.started_at).max(0)),
        "head_block": row.head_block,
        "dry_run": null,
        "proposals_open": null,
        "votes": null,
        "left": [],
        "error": error,
    })
}

/// A serialized [`crate::round::RoundReport`] as the API shows it: `left`
/// and `error` always present (the report omits them when empty), and its
/// error texts from the chain redacted once more on their way out.
pub fn report_value(daemon: &Daemon, mut summary: Value) -> Value {
    if let Value::Object(map) = &mut summary {
        map.entry("left").or_insert_with(|| json!([]));
        map.entry("error").or_insert(Value::Null);
    }
    let clean = |v: &mut Value| {
        if let Value::String(s) = v {
            *s = redacted(daemon, s).into_owned();
        }
    };
    if let Some(e) = summary.get_mut("error") {
        clean(e);
    }
    if let Some(Value::Array(left)) = summary.get_mut("left") {
        for item in left {
            if let Some(r) = item.get_mut("reason") {
                clean(r);
            }
        }
    }
    summary
}

fn bad_request(message: &str) -> Response<Body> {
    response::error(StatusCode::BAD_REQUEST, "bad_request", message)
}

fn not_found(message: &str) -> Response<Body> {
    response::error(StatusCode::NOT_FOUND, "round_not_found", message)
}

pub fn ledger_error(daemon: &Daemon, e: &LedgerError) -> Response<Body> {
    tracing::error!(error = %e, "API: ledger read failed");
    response::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "ledger_error",
        &redacted(daemon, &format!("cannot read the vote ledger: {e}")),
    )
}
