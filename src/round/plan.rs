//! The first half of a round: pin the head, reconcile what earlier rounds
//! left unfinished, list the open proposals, find the (node, proposal) pairs
//! not yet voted, decide them and record each decision durably before any
//! signing happens.

use std::collections::HashMap;

use alloy::eips::BlockId;
use alloy::primitives::{Address, Bytes, U256};

use super::context::Voting;
use super::report::{Leftover, VoteCounts};
use crate::dao::{Head, Proposal, VoteCall};
use crate::ledger::{Action, Intent, NewIntent, VoteRow};
use crate::strategy::{Decision, ProposalView, VoteChoice};

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
    pub jobs: Vec<Job>,
    pub rebroadcast: Vec<Rebroadcast>,
    /// Sent in an earlier round, still in the mempool.
    pub waiting: Vec<VoteRow>,
    pub counts: VoteCounts,
    pub left: Vec<Leftover>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

fn err(e: impl std::fmt::Display) -> PlanError {
    PlanError(e.to_string())
}

pub async fn plan(v: &Voting, round_id: i64) -> Result<Plan, PlanError> {
    let dry = v.round.dry_run;
    let head = crate::dao::head(&v.provider).await.map_err(err)?;
    let mut plan = Plan {
        head: Some(head),
        ..Plan::default()
    };

    let by_address: HashMap<Address, usize> = v
        .voters
        .iter()
        .enumerate()
        .map(|(i, n)| (n.address, i))
        .collect();
    if !dry {
        let reconciled = crate::ledger::reconcile(
            &v.ledger,
            &v.provider,
            v.dao.as_ref(),
            &head,
            v.round.concurrency,
        )
        .await
        .map_err(err)?;
        for r in reconciled {
            let Some(&voter) = by_address.get(&r.row.voter) else {
                // A node removed from the configuration: its row waits for it to return.
                continue;
            };
            match r.action {
                Action::Sign | Action::Resign { .. } => {
                    if let Some(call) =
                        v.dao
                            .vote_call(r.row.proposal_id, r.row.decision, &r.row.reason)
                    {
                        plan.counts.decided += 1;
                        plan.jobs.push(Job {
                            voter,
                            row: Some(r.row),
                            call,
                        });
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
                Action::Mined(m) => {
                    plan.counts.decided += 1;
                    if m.success {
                        plan.counts.confirmed += 1;
                    } else {
                        plan.counts.failed += 1;
                    }
                }
                Action::External => plan.counts.already_voted += 1,
            }
        }
    }

    let listing = v.dao.list(&head).await.map_err(err)?;
    let open: Vec<Proposal> = v
        .dao
        .open_proposals(&listing, v.margin)
        .into_iter()
        .cloned()
        .collect();
    plan.proposals_open = open.len() as u64;
    v.metrics.proposals_open.set(open.len() as i64);
    if open.is_empty() || v.voters.is_empty() {
        return Ok(plan);
    }

    // Pairs the ledger already knows were handled above (or are final).
    let all: Vec<(usize, usize)> = (0..open.len())
        .flat_map(|pi| (0..v.voters.len()).map(move |vi| (pi, vi)))
        .collect();
    let rows = v
        .ledger
        .votes_for(
            v.dao.address(),
            all.iter()
                .map(|&(pi, vi)| (open[pi].id, v.voters[vi].address))
                .collect(),
        )
        .await
        .map_err(err)?;
    let mut unknown: Vec<(usize, usize)> = Vec::new();
    for (&pair, row) in all.iter().zip(rows) {
        match row {
            Some(row) if !row.state.is_pending() => plan.counts.already_voted += 1,
            Some(_) => {} // reconciled above
            None => unknown.push(pair),
        }
    }

    let tokens = v
        .tokens
        .resolve_many(open.iter().filter_map(|p| p.asset), v.round.concurrency)
        .await
        .map_err(err)?;
    // Strategies first: the chain is asked `hasVoted` only where a vote would be sent.
    let mut wanted: Vec<(usize, usize, Decision, VoteCall)> = Vec::new();
    for &(pi, vi) in &unknown {
        let proposal = &open[pi];
        let voter = &v.voters[vi];
        let view = ProposalView::new(proposal, proposal.asset.and_then(|a| tokens.get(&a)));
        let decision = voter.strategy.decide(&view);
        v.metrics
            .decisions
            .with_label_values(&[voter.strategy_name.as_str(), decision.vote.as_str()])
            .inc();
        let call = match decision.vote {
            VoteChoice::Skip => None,
            choice => v.dao.vote_call(proposal.id, choice, &decision.reason),
        };
        match call {
            Some(call) => wanted.push((pi, vi, decision, call)),
            None => plan.counts.skipped += 1,
        }
    }
    // Read every round, votes or not: the balance gauges feed the alerts.
    let powers = voting_powers(v, &head).await?;
    if wanted.is_empty() {
        return Ok(plan);
    }
    let pairs: Vec<(U256, Address)> = wanted
        .iter()
        .map(|(pi, vi, _, _)| (open[*pi].id, v.voters[*vi].address))
        .collect();
    let voted = v
        .dao
        .has_voted(&pairs, head.block_id())
        .await
        .map_err(err)?;

    let mut intents: Vec<(usize, VoteCall, NewIntent)> = Vec::new();
    for ((pi, vi, decision, call), already) in wanted.into_iter().zip(voted) {
        let proposal = &open[pi];
        let voter = &v.voters[vi];
        if already {
            // Voted outside govnode (or by a ledger that was lost): never vote again.
            plan.counts.already_voted += 1;
            continue;
        }
        if powers.get(vi).copied().flatten() == Some(U256::ZERO) {
            // A zero-weight vote still sets hasVoted: it would burn the node's only vote.
            plan.left.push(Leftover {
                node: voter.name.clone(),
                proposal_id: proposal.id.to_string(),
                reason: "no voting power (voting-token balance is 0); not sent, so the vote is not burned".into(),
            });
            plan.counts.failed += 1;
            plan.counts.decided += 1;
            continue;
        }
        plan.counts.decided += 1;
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
        if dry {
            plan.jobs.push(Job {
                voter: vi,
                row: None,
                call,
            });
            continue;
        }
        intents.push((
            vi,
            call,
            NewIntent {
                dao: v.dao.address(),
                proposal_id: proposal.id,
                voter: voter.address,
                node: voter.name.clone(),
                round_id: Some(round_id),
                decision: decision.vote,
                reason: decision.reason.clone(),
                strategy: voter.strategy_name.clone(),
                rule: decision.rule.clone(),
            },
        ));
    }
    if intents.is_empty() {
        return Ok(plan);
    }
    // One fsynced transaction for the round's decisions, before any signing.
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
    Ok(plan)
}

/// Each voter's voting power at the head; `None` where it could not be read
/// (the vote is then sent: the chain is the judge, and a read error is no reason to skip).
async fn voting_powers(v: &Voting, head: &Head) -> Result<Vec<Option<U256>>, PlanError> {
    let accounts: Vec<Address> = v.voters.iter().map(|n| n.address).collect();
    let (powers, balances) = tokio::join!(
        v.dao.voting_powers(&accounts, head),
        crate::dao::call_many::<_, U256>(
            &v.provider,
            "eth_getBalance",
            accounts.iter().map(|a| (*a, BlockId::latest())).collect(),
            v.round.batch_size,
            v.round.concurrency,
        )
    );
    let mut out = Vec::with_capacity(v.voters.len());
    for ((voter, power), balance) in v.voters.iter().zip(powers).zip(balances) {
        let power = match power {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(NODE = %voter.name, error = %e, "cannot read voting power");
                None
            }
        };
        if let Some(p) = power {
            v.metrics
                .wallet_voting_power
                .with_label_values(&[voter.name.as_str()])
                .set(whole_tokens(p));
        }
        if let Ok(balance) = balance {
            v.metrics
                .wallet_eth
                .with_label_values(&[voter.name.as_str()])
                .set(whole_tokens(balance));
        }
        out.push(power);
    }
    Ok(out)
}

/// 18-decimal amount as a float, for gauges only.
pub fn whole_tokens(amount: U256) -> f64 {
    alloy::primitives::utils::format_units(amount, 18)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::MAX)
}
