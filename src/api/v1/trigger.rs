//! `POST /api/v1/rounds` (and the DLoop alias `POST /trigger-voting`): start
//! a voting round, or join the one that is running; `409 standby` on a
//! daemon that does not hold the lease. The bearer token is checked by the
//! server before this runs.
//!
//! The coordinator does not hand out the round's id (the ledger allocates it
//! when the round starts), so the answer finds it in the ledger: the newest
//! round newer than the one seen before the trigger, or — when joining — the
//! newest unfinished one.

use std::time::{Duration, Instant};

use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::json;

use super::super::response::{self, Body};
use super::super::state::ApiState;
use super::query_param;
use super::rounds::report_value;
use crate::ledger::Ledger;
use crate::round::{RoundReport, Trigger};

/// How long the answer waits for the round's ledger row before it goes
/// without the id.
const ID_WAIT: Duration = Duration::from_secs(2);
const ID_POLL: Duration = Duration::from_millis(20);

pub async fn post(state: &ApiState, query: Option<&str>) -> Response<Body> {
    let wait = match query_param(query, "wait").as_deref() {
        None | Some("false" | "0" | "no" | "") => false,
        Some("true" | "1" | "yes") => true,
        Some(_) => {
            return response::error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "wait must be true or false",
            );
        }
    };
    let daemon = &state.daemon;
    if daemon.shutdown_token().is_cancelled() {
        return response::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the daemon is stopping; no new round is started",
        );
    }
    let ledger = daemon.voting().ledger;
    let newest_before = newest(&ledger).await.map(|(id, _)| id).unwrap_or(0);
    let ticket = match daemon.rounds().trigger(Trigger::Api) {
        Ok(ticket) => ticket,
        Err(standby) => {
            return response::error(StatusCode::CONFLICT, "standby", &standby.to_string());
        }
    };
    let joined = ticket.joined;
    let verb = if joined { "joined" } else { "started" };
    let report = ticket.report();
    tokio::pin!(report);

    if wait {
        let report = (&mut report).await;
        let id = id_of(&report);
        let body = json!({
            "round": verb,
            "id": id,
            "location": location(id),
            "report": report_value(daemon, serde_json::to_value(&*report).unwrap_or_default()),
        });
        return with_location(response::json(StatusCode::OK, &body), id);
    }

    let deadline = Instant::now() + ID_WAIT;
    let id = loop {
        if let Some((id, unfinished)) = newest(&ledger).await {
            let ours = if joined {
                unfinished
            } else {
                id > newest_before
            };
            if ours {
                break Some(id);
            }
        }
        if Instant::now() >= deadline {
            break None;
        }
        tokio::select! {
            r = &mut report => break id_of(&r),
            _ = tokio::time::sleep(ID_POLL) => {}
        }
    };
    let body = json!({ "round": verb, "id": id, "location": location(id) });
    with_location(response::json(StatusCode::ACCEPTED, &body), id)
}

/// The newest round's id and whether it is still unfinished.
async fn newest(ledger: &Ledger) -> Option<(i64, bool)> {
    let rows = ledger.rounds(1, None).await.ok()?;
    rows.first().map(|r| (r.id, r.finished_at.is_none()))
}

fn id_of(report: &RoundReport) -> Option<i64> {
    (report.id > 0).then_some(report.id)
}

fn location(id: Option<i64>) -> String {
    match id {
        Some(id) => format!("/api/v1/rounds/{id}"),
        None => "/api/v1/rounds".to_owned(),
    }
}

fn with_location(mut r: Response<Body>, id: Option<i64>) -> Response<Body> {
    if let Ok(v) = HeaderValue::from_str(&location(id)) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}
