//! The first half of a round: pin the head, list the proposals, reconcile
//! what earlier rounds left unfinished, give votes the chain did not count
//! another chance while their proposal is open, find the (node, proposal)
//! pairs not yet voted, decide them and record each decision durably before
//! any signing happens. Every pair looked at is counted once
//! ([`VoteCounts`]).

use std::collections::{HashMap, HashSet};

use alloy::primitives::{Address, Bytes, U256};

use super::context::Voting;
use super::found::record_found_votes;
use super::power::voting_powers;
use super::report::{Leftover, VoteCounts};
use crate::dao::{Head, NotVotable, Openness, Proposal, VoteCall};
use crate::ledger::{Action, DecisionRecord, Intent, NewIntent, VoteRow};
use crate::strategy::{ProposalView, VoteChoice};
use crate::webhook::{Event, EventKind};

pub use super::power::whole_tokens;

/// A recorded decision to sign and send.
#[derive(Debug, Clone)]
pub struct Job {
    pub voter: usize,
    /// `None` in dry-run mode, where nothing is recorded.
    pub row: Option<VoteRow>,
    pub call: VoteCall,
}

/// A transaction already signed in an earlier round whose exact bytes must go out again.
#[derive(Debug, Clone)]
pub struct Rebroadcast {
    pub row: VoteRow,
    pub raw: Bytes,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub head: Option<Head>,
    pub proposals_open: u64,
    pub dao_paused: bool,
    pub jobs: Vec<Job>,
    pub rebroadcast: Vec<Rebroadcast>,
    /// Sent in an earlier round, still in the mempool.
    pub waiting: Vec<VoteRow>,
    pub counts: VoteCounts,
    pub left: Vec<Leftover>,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

fn err(e: impl std::fmt::Display) -> PlanError {
    PlanError(e.to_string())
}

type Pair = (U256, Address);

/// The round's plan at `head` (read by `head::first_head`).
pub async fn plan(v: &Voting, round_id: i64, head: Head) -> Result<Plan, PlanError> {
    let dry = v.round.dry_run;
    let mut plan = Plan {
        head: Some(head),
        ..Plan::default()
    };
    let listing = v.dao.list(&head).await.map_err(err)?;
    plan.dao_paused = listing.paused;
    v.metrics.dao_paused.set(i64::from(listing.paused));
    if listing.paused {
        v.webhooks.notify(
            Event::new(EventKind::DaoPaused)
                .reason(&format!("the DAO is paused at block {}", head.number)),
        );
    }
    // Every listed proposal with its openness: open ones are voted, paused
    // or in-margin ones are counted as not votable; unlisted ones are closed.
    let listed: HashMap<U256, (Proposal, Openness)> = listing
        .proposals
        .iter()
        .map(|p| (p.id, (p.clone(), v.dao.is_open(&listing, p, v.margin))))
        .collect();
    let open: Vec<Proposal> = listing
        .proposals
        .iter()
        .filter(|p| listed.get(&p.id).is_some_and(|(_, o)| o.is_open()))
        .cloned()
        .collect();
    plan.proposals_open = open.len() as u64;
    v.metrics.proposals_open.set(open.len() as i64);
    let by_address: HashMap<Address, usize> = v
        .voters
        .iter()
        .enumerate()
        .map(|(i, n)| (n.address, i))
        .collect();
    // Read every round, votes or not: the balance gauges feed the alerts.
    let powers = voting_powers(v, &head).await;
    let mut no_power_nodes: HashSet<usize> = HashSet::new();
    let mut handled: HashSet<Pair> = HashSet::new();
    let mut retry: Vec<VoteRow> = Vec::new();

    if !dry {
        let ours: HashSet<Address> = by_address.keys().copied().collect();
        let reconciled = crate::ledger::reconcile_for(
            &v.ledger,
            &v.provider,
            v.dao.as_ref(),
            &head,
            v.round.concurrency,
            Some(&ours),
        )
        .await
        .map_err(err)?;
        for r in reconciled {
            let Some(&voter) = by_address.get(&r.row.voter) else {
                continue;
            };
            handled.insert((r.row.proposal_id, r.row.voter));
            match r.action {
                Action::Sign | Action::Resign { .. } => {
                    let openness = listed.get(&r.row.proposal_id).map(|(_, o)| o.clone());
                    match openness {
                        Some(Openness::Open) => {
                            if powers.get(voter).copied().flatten() == Some(U256::ZERO) {
                                no_power_nodes.insert(voter);
                                plan.counts.not_votable(NotVotable::NoVotingPower);
                                continue;
                            }
                            push_job(v, &mut plan, voter, r.row);
                        }
                        Some(Openness::Paused) => {
                            // Kept at intent: signed once the DAO is unpaused.
                            plan.counts.not_votable(NotVotable::Paused);
                        }
                        Some(Openness::NotYet(_)) => {
                            // Kept at intent: signed once voting starts.
                            plan.counts.not_votable(NotVotable::NotYetOpen);
                        }
                        other => {
                            let why = other
                                .as_ref()
                                .map(|o| o.describe())
                                .unwrap_or_else(|| "the proposal is closed".into());
                            let reason = format!("not sent: {why}");
                            if let Err(e) = v.ledger.mark_abandoned(r.row.id, &reason).await {
                                tracing::warn!(vote_id = r.row.id, error = %e, "cannot record an abandoned vote");
                            }
                            plan.counts.not_votable(match other {
                                Some(Openness::Margin(_)) => NotVotable::Margin,
                                _ => NotVotable::Ended,
                            });
                        }
                    }
                }
                Action::Rebroadcast { raw, .. } => {
                    plan.counts.decided += 1;
                    plan.rebroadcast.push(Rebroadcast { row: r.row, raw });
                }
                Action::Wait => {
                    plan.counts.decided += 1;
                    plan.waiting.push(r.row);
                }
                Action::Mined(m) if m.success => plan.counts.confirmed_earlier += 1,
                // Reverted: the chain did not count it; retried while the proposal is open.
                Action::Mined(_) => match listed.get(&r.row.proposal_id) {
                    Some((_, o)) => match o.not_votable() {
                        None => retry.push(r.row),
                        Some(why) => plan.counts.not_votable(why),
                    },
                    None => plan.counts.not_votable(NotVotable::Ended),
                },
                Action::External => plan.counts.already_voted += 1,
            }
        }
    }

    // The ledger's rows for every listed pair not handled above.
    let all: Vec<(usize, usize)> = (0..listing.proposals.len())
        .flat_map(|pi| (0..v.voters.len()).map(move |vi| (pi, vi)))
        .filter(|&(pi, vi)| !handled.contains(&(listing.proposals[pi].id, v.voters[vi].address)))
        .collect();
    let rows = v
        .ledger
        .votes_for(
            v.dao.address(),
            all.iter()
                .map(|&(pi, vi)| (listing.proposals[pi].id, v.voters[vi].address))
                .collect(),
        )
        .await
        .map_err(err)?;
    let mut unknown: Vec<(usize, usize)> = Vec::new();
    for (&(pi, vi), row) in all.iter().zip(rows) {
        let proposal = &listing.proposals[pi];
        let openness = &listed[&proposal.id].1;
        match row {
            Some(row) if row.state.is_counted() => plan.counts.already_voted += 1,
            Some(row) if row.state.is_retryable() && !dry => match openness.not_votable() {
                None => retry.push(row),
                Some(why) => plan.counts.not_votable(why),
            },
            Some(row) if row.state.is_retryable() => plan.counts.deferred += 1,
            // Pending rows of this DAO were reconciled above; in a dry run they are not touched.
            Some(_) => plan.counts.pending += 1,
            None => match openness.not_votable() {
                None => unknown.push((pi, vi)),
                Some(why) => plan.counts.not_votable(why),
            },
        }
    }
    if !dry {
        retry_uncounted(
            v,
            &mut plan,
            retry,
            &by_address,
            &powers,
            &mut no_power_nodes,
            &head,
        )
        .await?;
    }

    let tokens = v
        .tokens
        .resolve_many(open.iter().filter_map(|p| p.asset), v.round.concurrency)
        .await
        .map_err(err)?;
    // Strategies first: the chain is asked `hasVoted` only where a vote would be sent.
    let mut wanted: Vec<(usize, usize, DecisionRecord, VoteCall)> = Vec::new();
    let mut decisions: Vec<DecisionRecord> = Vec::new();
    for &(pi, vi) in &unknown {
        let proposal = &listing.proposals[pi];
        let voter = &v.voters[vi];
        let view = ProposalView::new(proposal, proposal.asset.and_then(|a| tokens.get(&a)));
        let decision = voter.strategy.decide(&view);
        v.metrics
            .decisions
            .with_label_values(&[voter.strategy_name.as_str(), decision.vote.as_str()])
            .inc();
        tracing::info!(
            ROUND_ID = round_id,
            NODE = %voter.name,
            PROPOSAL_ID = %proposal.id,
            vote = decision.vote.as_str(),
            strategy = %voter.strategy_name,
            rule = decision.rule.as_deref().unwrap_or(""),
            reason = %decision.reason,
            "decided"
        );
        let record = DecisionRecord {
            dao: v.dao.address(),
            proposal_id: proposal.id,
            voter: voter.address,
            node: voter.name.clone(),
            round_id: Some(round_id),
            decision: decision.vote,
            reason: decision.reason.clone(),
            strategy: voter.strategy_name.clone(),
            rule: decision.rule.clone(),
        };
        let call = match decision.vote {
            VoteChoice::Skip => None,
            choice => v.dao.vote_call(proposal.id, choice, &decision.reason),
        };
        match call {
            Some(call) => wanted.push((pi, vi, record.clone(), call)),
            None => plan.counts.skipped += 1,
        }
        decisions.push(record);
    }
    if !dry
        && !decisions.is_empty()
        && let Err(e) = v.ledger.record_decisions(decisions).await
    {
        tracing::warn!(ROUND_ID = round_id, error = %e, "cannot record the round's decisions");
    }
    if !wanted.is_empty() {
        let pairs: Vec<Pair> = wanted
            .iter()
            .map(|(pi, vi, _, _)| (listing.proposals[*pi].id, v.voters[*vi].address))
            .collect();
        let voted = v
            .dao
            .has_voted(&pairs, head.block_id())
            .await
            .map_err(err)?;
        let mut found = Vec::new();
        let mut intents: Vec<(usize, VoteCall, NewIntent)> = Vec::new();
        for ((pi, vi, record, call), already) in wanted.into_iter().zip(voted) {
            let proposal = &listing.proposals[pi];
            if already {
                // Voted outside govnode (or by a ledger that was lost): never vote again.
                plan.counts.already_voted += 1;
                found.push((proposal.id, vi));
                continue;
            }
            if powers.get(vi).copied().flatten() == Some(U256::ZERO) {
                // A zero-weight vote still sets hasVoted: it would burn the node's only vote.
                no_power_nodes.insert(vi);
                plan.counts.not_votable(NotVotable::NoVotingPower);
                continue;
            }
            plan.counts.decided += 1;
            if dry {
                plan.jobs.push(Job {
                    voter: vi,
                    row: None,
                    call,
                });
                continue;
            }
            intents.push((vi, call, NewIntent::from(record)));
        }
        if !dry && !found.is_empty() {
            record_found_votes(v, &head, found).await;
        }
        record(v, &mut plan, intents).await?;
    }
    warn_no_power(v, &mut plan, &no_power_nodes, round_id);
    Ok(plan)
}

/// One fsynced transaction for the round's decisions, before any signing.
async fn record(
    v: &Voting,
    plan: &mut Plan,
    intents: Vec<(usize, VoteCall, NewIntent)>,
) -> Result<(), PlanError> {
    if intents.is_empty() {
        return Ok(());
    }
    let (heads, news): (Vec<_>, Vec<_>) = intents
        .into_iter()
        .map(|(vi, call, new)| ((vi, call), new))
        .unzip();
    let recorded = v.ledger.record_intents(news).await.map_err(err)?;
    for ((vi, call), intent) in heads.into_iter().zip(recorded) {
        // Crash-safety tests stop the process here: decisions recorded, nothing signed.
        fail::fail_point!("round-after-intent");
        match intent {
            Intent::Recorded(row) => plan.jobs.push(Job {
                voter: vi,
                row: Some(row),
                call,
            }),
            // Recorded meanwhile by another path: the ledger's first decision stands.
            Intent::Existing(_) => {
                plan.counts.decided -= 1;
                plan.counts.already_voted += 1;
            }
        }
    }
    Ok(())
}

fn push_job(v: &Voting, plan: &mut Plan, voter: usize, row: VoteRow) {
    if let Some(call) = v.dao.vote_call(row.proposal_id, row.decision, &row.reason) {
        plan.counts.decided += 1;
        plan.jobs.push(Job {
            voter,
            row: Some(row),
            call,
        });
    }
}

/// Rows the chain did not count (reverted, refused, given up) whose
/// proposal is open: each goes back to `intent` only after the chain is
/// asked at this round's head — `hasVoted` false, and the wallet's mined
/// nonce past every attempt of the row, so no earlier attempt can still be
/// mined. A pair the chain counted is never sent again, whatever the ledger
/// says.
async fn retry_uncounted(
    v: &Voting,
    plan: &mut Plan,
    rows: Vec<VoteRow>,
    by_address: &HashMap<Address, usize>,
    powers: &[Option<U256>],
    no_power_nodes: &mut HashSet<usize>,
    head: &Head,
) -> Result<(), PlanError> {
    let rows: Vec<(usize, VoteRow)> = rows
        .into_iter()
        .filter_map(|r| by_address.get(&r.voter).map(|&i| (i, r)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let pairs: Vec<Pair> = rows.iter().map(|(_, r)| (r.proposal_id, r.voter)).collect();
    let voted = v
        .dao
        .has_voted(&pairs, head.block_id())
        .await
        .map_err(err)?;
    let mut voters: Vec<Address> = rows.iter().map(|(_, r)| r.voter).collect();
    voters.sort();
    voters.dedup();
    let mut mined_nonce: HashMap<Address, u64> = HashMap::new();
    for voter in voters {
        let n = alloy::providers::Provider::get_transaction_count(&v.provider, voter)
            .block_id(head.block_id())
            .await
            .map_err(|e| {
                err(format!(
                    "eth_getTransactionCount({voter}) before a retry: {}",
                    crate::telemetry::redact::redact_text(&e.to_string(), &[])
                ))
            })?;
        mined_nonce.insert(voter, n);
    }
    for ((voter, row), already) in rows.into_iter().zip(voted) {
        if already {
            let reason = "hasVoted is true at a block after the failure; never sent again";
            if let Err(e) = v.ledger.mark_external(row.id, reason).await {
                tracing::warn!(vote_id = row.id, error = %e, "cannot record a counted vote");
            }
            plan.counts.already_voted += 1;
            continue;
        }
        let attempts = v.ledger.attempts(row.id).await.map_err(err)?;
        let highest = attempts.iter().map(|a| a.nonce).max();
        let used = mined_nonce.get(&row.voter).copied().unwrap_or_default();
        if highest.is_some_and(|n| used <= n) {
            // An attempt's nonce is still free: it may yet be mined. Wait.
            plan.counts.pending += 1;
            continue;
        }
        let reverts = attempts.len() as u32;
        if row.state == crate::ledger::VoteState::Reverted
            && row.retries >= v.round.max_vote_retries
        {
            plan.counts.not_votable(NotVotable::RetriesExhausted);
            continue;
        }
        if powers.get(voter).copied().flatten() == Some(U256::ZERO) {
            no_power_nodes.insert(voter);
            plan.counts.not_votable(NotVotable::NoVotingPower);
            continue;
        }
        let before = row.error.clone().unwrap_or_else(|| row.state.to_string());
        let reason = format!("retried: the chain did not count the earlier attempt ({before})");
        match v.ledger.rearm(row.id, &reason).await {
            Ok(row) => {
                tracing::info!(
                    NODE = %v.voters[voter].name,
                    PROPOSAL_ID = %row.proposal_id,
                    vote_id = row.id,
                    attempts = reverts,
                    %reason,
                    "vote retried"
                );
                v.metrics
                    .votes
                    .with_label_values(&[v.voters[voter].name.as_str(), "retried"])
                    .inc();
                push_job(v, plan, voter, row);
            }
            Err(e) => {
                tracing::warn!(vote_id = row.id, error = %e, "cannot re-arm a vote");
                plan.counts.deferred += 1;
            }
        }
    }
    Ok(())
}

/// One warning per node without voting power, per round: a log line and the
/// report's `warnings`; its gauge is set where the power is read.
fn warn_no_power(v: &Voting, plan: &mut Plan, nodes: &HashSet<usize>, round_id: i64) {
    let mut nodes: Vec<usize> = nodes.iter().copied().collect();
    nodes.sort();
    for vi in nodes {
        let voter = &v.voters[vi];
        let warning = format!(
            "node {} ({}) has no voting power (voting-token balance 0): its votes are not sent, so they are not burned",
            voter.name, voter.address
        );
        tracing::warn!(ROUND_ID = round_id, NODE = %voter.name, "{warning}");
        v.webhooks.notify(
            Event::new(EventKind::NoVotingPower)
                .node(&voter.name)
                .reason(&warning),
        );
        plan.warnings.push(warning);
    }
}
