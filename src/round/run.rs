//! One round from trigger to report: plan (reconcile, list, decide, record),
//! send, confirm — all under the round deadline and the shutdown token — then
//! the report, the ledger's round row and the metrics.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::broadcast::broadcast;
use super::confirm::await_receipts;
use super::context::Voting;
use super::coordinator::{Progress, Runner, Trigger};
use super::head::first_head;
use super::plan::plan;
use super::progress::PhaseCounter;
use super::report::{Outcome, RoundReport, RoundState};
use super::send::{InFlight, send_all};
use crate::service::{ComponentReport, StaticComponent, Status};
use crate::webhook::{Event, EventKind};

/// The runner the coordinator calls. `voting` is swapped on reload.
pub fn runner(
    voting: Arc<RwLock<Voting>>,
    notifier: crate::service::Notifier,
    dao_health: Arc<StaticComponent>,
) -> Runner {
    Arc::new(move |trigger, progress, admission| {
        let v = voting.read().unwrap_or_else(|p| p.into_inner()).clone();
        let v = match &admission.led {
            Some(led) => v.for_groups(led),
            None => v,
        };
        let notifier = notifier.clone();
        let dao_health = dao_health.clone();
        async move {
            let report = run_round(&v, trigger, &progress, &admission.cancel).await;
            notifier.event(&report.summary());
            if report.state != RoundState::Failed {
                dao_health.set(dao_report(&report));
            }
            report
        }
        .boxed()
    })
}

/// At start, or when a daemon takes the lease over: rounds the last run (or
/// the last leader) left unfinished are marked, and their votes wait for the
/// next round's reconciliation. `group`: only the rounds of that lease group.
pub async fn interrupt_unfinished(ledger: &crate::ledger::Ledger, group: Option<&str>) {
    match ledger.interrupt_unfinished_rounds(group).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            rounds = n,
            "rounds left unfinished by the last run were marked interrupted; their votes are reconciled before anything is sent"
        ),
        Err(e) => tracing::error!(error = %e, "cannot mark unfinished rounds"),
    }
}

/// The `dao` health component after a round: degraded (still ready) while
/// the DAO is paused or a node has no voting power.
fn dao_report(report: &RoundReport) -> ComponentReport {
    let mut reasons = Vec::new();
    if report.dao_paused {
        reasons.push(format!(
            "the DAO is paused at block {}: votes wait for unpause()",
            report.head_block.unwrap_or_default()
        ));
    }
    reasons.extend(report.warnings.iter().cloned());
    ComponentReport {
        status: if reasons.is_empty() {
            Status::Up
        } else {
            Status::Degraded
        },
        ready: true,
        reasons,
        detail: serde_json::json!({ "paused": report.dao_paused }),
    }
}

pub async fn run_round(
    v: &Voting,
    trigger: Trigger,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> RoundReport {
    let started = Instant::now();
    let deadline = started + v.round.deadline;
    let started_at = super::now_rfc3339();
    let set = |phase: &str, done: u64, total: u64| {
        v.metrics.set_progress(done, total);
        let _ = progress.send(Progress {
            phase: phase.to_owned(),
            done,
            total,
        });
    };
    set("planning", 0, 0);
    // Tests slow a round down here to trigger a second one while it runs.
    fail::fail_point!("round-start");

    let id = match v.ledger.start_round(trigger.as_str(), None).await {
        Ok(id) => id,
        Err(e) => return failed(v, trigger, started_at, started, 0, format!("ledger: {e}")),
    };
    let v = &v.in_round(id);
    let span = tracing::info_span!(
        "round",
        ROUND_ID = id,
        DAO = v.dao_name.as_str(),
        trigger = trigger.as_str()
    );
    round_body(v, id, trigger, started_at, started, deadline, &set, cancel)
        .instrument(span)
        .await
}

#[allow(clippy::too_many_arguments)]
async fn round_body(
    v: &Voting,
    id: i64,
    trigger: Trigger,
    started_at: String,
    started: Instant,
    deadline: Instant,
    set: &(dyn Fn(&str, u64, u64) + Send + Sync),
    cancel: &CancellationToken,
) -> RoundReport {
    tracing::info!(
        ROUND_ID = id,
        trigger = trigger.as_str(),
        dry_run = v.round.dry_run,
        "round started"
    );

    // Another DAO's round on this chain may be sending from the same
    // wallets: its nonces come first.
    let on_wait = || {
        tracing::info!(
            ROUND_ID = id,
            "waiting for another DAO's round on this chain to finish with the shared wallets"
        );
        set("waiting", 0, 0);
    };
    let wallets = tokio::select! {
        held = tokio::time::timeout_at(
            deadline.into(),
            v.wallets.lock_all(v.voters.iter().map(|n| n.address), &on_wait),
        ) => held.ok(),
        _ = cancel.cancelled() => None,
    };
    let Some(_wallets) = wallets else {
        let why = if cancel.is_cancelled() {
            "interrupted by shutdown while waiting for the wallets another DAO's round held"
        } else {
            "round deadline reached while another DAO's round on this chain held the wallets"
        };
        return finish(
            v,
            id,
            trigger,
            started_at,
            started,
            failed_report(why.into()),
        )
        .await;
    };

    let planned = tokio::time::timeout_at(deadline.into(), async {
        let head = first_head(v, deadline, &|| set("waiting", 0, 0)).await?;
        set("planning", 0, 0);
        plan(v, id, head).await
    })
    .await;
    let mut plan = match planned {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return finish(v, id, trigger, started_at, started, failed_report(e.0)).await,
        Err(_) => {
            return finish(
                v,
                id,
                trigger,
                started_at,
                started,
                failed_report("round deadline reached while planning".into()),
            )
            .await;
        }
    };
    let head_block = plan.head.map(|h| h.number).unwrap_or_default();
    if let Err(e) = v.ledger.set_round_head(id, head_block).await {
        tracing::warn!(ROUND_ID = id, error = %e, "cannot record the round's head block");
    }

    // As late as possible before signing: a foreign transaction mined
    // meanwhile is still seen.
    super::doppelganger::check_all(v).await;

    let mut in_flight = Vec::new();
    for rb in std::mem::take(&mut plan.rebroadcast) {
        let Some(voter) = v.voters.iter().position(|n| n.address == rb.row.voter) else {
            continue;
        };
        let Some(hash) = rb.row.tx_hash else { continue };
        if broadcast(v, voter, rb.row.id, hash, &rb.raw).await.is_ok() {
            in_flight.push(flight_of(v, voter, &rb.row, head_block).await);
        } else {
            plan.counts.pending += 1;
        }
    }
    for row in std::mem::take(&mut plan.waiting) {
        if let Some(voter) = v.voters.iter().position(|n| n.address == row.voter) {
            in_flight.push(flight_of(v, voter, &row, head_block).await);
        }
    }

    let sending = PhaseCounter::start("sending", plan.jobs.len() as u64, set);
    let sent = send_all(
        v,
        std::mem::take(&mut plan.jobs),
        head_block,
        deadline,
        cancel,
        &sending,
    )
    .await;
    plan.left.extend(sent.left);
    plan.counts.merge(&sent.counts);
    in_flight.extend(sent.in_flight);

    let confirming = PhaseCounter::start(
        "confirming",
        (in_flight.len() + sent.queued.len()) as u64,
        set,
    );
    let confirmed = await_receipts(v, in_flight, sent.queued, deadline, cancel, &confirming).await;
    plan.left.extend(confirmed.unsent.left);
    plan.counts.merge(&confirmed.unsent.counts);
    plan.counts.confirmed += confirmed.confirmed;
    plan.counts.failed += confirmed.reverted;
    plan.counts.deferred += confirmed.deferred;
    plan.counts.pending += confirmed.pending;
    plan.left.extend(confirmed.left);
    if v.round.dry_run {
        plan.counts.confirmed += sent.simulated;
    }
    let c = &mut plan.counts;
    // Each vote the round worked on ended in exactly one of these.
    c.decided = c.confirmed + c.deferred + c.failed + c.pending;

    // Only what the operator must look at makes a round partial: waiting
    // for a pause, the fee ceiling or the budget to pass is not a failure.
    let outcome = if c.failed == 0 && c.pending == 0 {
        Outcome::Success
    } else {
        Outcome::Partial
    };
    let report = RoundReport {
        id,
        trigger: trigger.as_str().to_owned(),
        state: RoundState::Finished,
        outcome: Some(outcome),
        started_at,
        finished_at: None,
        duration_ms: None,
        head_block: Some(head_block),
        dry_run: v.round.dry_run,
        proposals_open: plan.proposals_open,
        dao_paused: plan.dao_paused,
        votes: plan.counts,
        warnings: plan.warnings,
        left: plan.left,
        error: if cancel.is_cancelled() {
            Some("interrupted by shutdown".into())
        } else {
            None
        },
    };
    finish(v, id, trigger, report.started_at.clone(), started, report).await
}

async fn flight_of(
    v: &Voting,
    voter: usize,
    row: &crate::ledger::VoteRow,
    head_block: u64,
) -> InFlight {
    // The attempts of the row's current nonce: a re-armed row's earlier
    // attempts reverted already and say nothing about this one.
    let mut hashes: Vec<_> = v
        .ledger
        .attempts(row.id)
        .await
        .map(|a| {
            a.into_iter()
                .filter(|a| Some(a.nonce) == row.nonce)
                .map(|a| a.tx_hash)
                .collect()
        })
        .unwrap_or_default();
    if let Some(h) = row.tx_hash
        && !hashes.contains(&h)
    {
        hashes.push(h);
    }
    InFlight {
        voter,
        vote_id: row.id,
        proposal_id: row.proposal_id,
        hashes,
        // Earlier rounds' requests are not kept; such votes are not fee-bumped
        // again, only awaited (their bytes were re-broadcast as they are).
        request: None,
        nonce: row.nonce,
        sent_block: head_block,
    }
}

fn failed_report(error: String) -> RoundReport {
    let mut r = RoundReport::crashed(error);
    r.state = RoundState::Failed;
    r
}

fn failed(
    v: &Voting,
    trigger: Trigger,
    started_at: String,
    started: Instant,
    id: i64,
    error: String,
) -> RoundReport {
    tracing::error!(%error, "round failed");
    v.metrics.rounds.with_label_values(&["failed"]).inc();
    v.webhooks
        .notify(Event::new(EventKind::RoundFailed).reason(&error));
    RoundReport {
        id,
        trigger: trigger.as_str().to_owned(),
        started_at,
        finished_at: Some(super::now_rfc3339()),
        duration_ms: Some(started.elapsed().as_millis() as u64),
        ..failed_report(error)
    }
}

fn outcome_label(outcome: Option<Outcome>) -> &'static str {
    match outcome {
        Some(Outcome::Success) => "success",
        Some(Outcome::Partial) => "partial",
        _ => "failed",
    }
}

async fn finish(
    v: &Voting,
    id: i64,
    trigger: Trigger,
    started_at: String,
    started: Instant,
    mut report: RoundReport,
) -> RoundReport {
    let elapsed: Duration = started.elapsed();
    report.id = id;
    report.trigger = trigger.as_str().to_owned();
    report.started_at = started_at;
    report.finished_at = Some(super::now_rfc3339());
    report.duration_ms = Some(elapsed.as_millis() as u64);
    report.dry_run = v.round.dry_run;
    v.metrics.set_progress(0, 0);
    let summary = serde_json::to_value(&report).unwrap_or_default();
    if let Err(e) = v
        .ledger
        .finish_round(id, outcome_label(report.outcome), summary)
        .await
    {
        tracing::error!(ROUND_ID = id, error = %e, "cannot record the round's end");
        // A round whose end the ledger does not hold is one the operator
        // must look at, whatever its votes did: the database was not there.
        if report.is_success() {
            report.outcome = Some(Outcome::Partial);
            report.error = Some(format!("the ledger could not record the round: {e}"));
        }
    }
    let outcome = outcome_label(report.outcome);
    v.metrics.rounds.with_label_values(&[outcome]).inc();
    v.metrics.round_duration.observe(elapsed.as_secs_f64());
    if report.state == RoundState::Failed {
        let why = report.error.as_deref().unwrap_or("unknown cause");
        v.webhooks
            .notify(Event::new(EventKind::RoundFailed).reason(why));
    }
    if report.is_success() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        v.metrics.last_success.set(now);
    }
    match report.outcome {
        Some(Outcome::Success) => tracing::info!(
            ROUND_ID = id,
            duration_ms = elapsed.as_millis() as u64,
            "{}",
            report.summary()
        ),
        _ => tracing::warn!(
            ROUND_ID = id,
            duration_ms = elapsed.as_millis() as u64,
            "{}",
            report.summary()
        ),
    }
    report
}
