//! What a round would do now, without doing it: for each open proposal and
//! each node, the strategy's decision and why, and whether a round would
//! send it (`govnode plan`); with `simulate`, each vote that would be sent is
//! also estimated on the chain (`govnode round --dry-run`), the same
//! `eth_estimateGas` a round makes before signing.
//!
//! Read-only by construction: it takes no key, writes no ledger row, sends
//! no transaction and moves no metric. It reads the same head, listing,
//! ledger rows, `hasVoted` and voting powers a round reads.

use alloy::eips::BlockId;
use alloy::primitives::{Address, U256};
use serde::{Deserialize, Serialize};

use crate::dao::Proposal;
use crate::round::Voting;
use crate::strategy::{ProposalView, VoteChoice};

pub mod table;

/// What a round would do with one (proposal, node) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The vote would be signed and sent.
    Vote,
    /// The strategy abstains from voting at all; nothing is sent.
    Skip,
    /// The ledger already has this pair (its `ledger_state`): a round does not
    /// decide again; a pending row is only followed up.
    Recorded,
    /// The chain already counts a vote of this node (sent outside govnode).
    AlreadyVoted,
    /// Voting power 0: a round leaves the vote unsent so it is not burned.
    NoVotingPower,
    /// The DAO cannot express the decision (abstain on AssetDAO).
    Unsupported,
    /// Simulation only: the chain would refuse the vote (`note` says why).
    Refused,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Vote => "vote",
            Action::Skip => "skip",
            Action::Recorded => "recorded",
            Action::AlreadyVoted => "already_voted",
            Action::NoVotingPower => "no_voting_power",
            Action::Unsupported => "unsupported",
            Action::Refused => "refused",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedVote {
    pub proposal_id: String,
    pub node: String,
    pub address: String,
    pub action: Action,
    /// `for`, `against`, `abstain` or `skip`: the strategy's answer now
    /// (for `recorded`, the decision the ledger holds).
    pub decision: String,
    pub rule: Option<String>,
    pub reason: String,
    pub strategy: String,
    /// The ledger row's state, for `recorded`.
    pub ledger_state: Option<String>,
    /// Simulation only: the gas the chain estimated for a vote it accepts.
    pub gas: Option<u64>,
    /// Why a vote is not sent, where `reason` does not say it.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub block: u64,
    pub block_timestamp: u64,
    pub paused: bool,
    /// Whether the daemon's own rounds are dry runs (`round.dry_run`).
    pub daemon_dry_run: bool,
    /// Whether each vote to send was estimated on the chain.
    pub simulated: bool,
    pub proposals_open: u64,
    pub votes: Vec<PlannedVote>,
}

impl Preview {
    /// How many pairs take `action`.
    pub fn count(&self, action: Action) -> usize {
        self.votes.iter().filter(|v| v.action == action).count()
    }

    /// One line: `block 35: 4 open proposal(s), 8 to vote, 0 skipped, …`.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} to vote", self.count(Action::Vote))];
        for a in [
            Action::Skip,
            Action::Recorded,
            Action::AlreadyVoted,
            Action::NoVotingPower,
            Action::Unsupported,
            Action::Refused,
        ] {
            let n = self.count(a);
            if n > 0 {
                let label = match a {
                    Action::Skip => "skipped".to_owned(),
                    other => other.as_str().replace('_', " "),
                };
                parts.push(format!("{n} {label}"));
            }
        }
        format!(
            "block {}: {} open proposal(s){}, {}{}",
            self.block,
            self.proposals_open,
            if self.paused { " (DAO paused)" } else { "" },
            parts.join(", "),
            if self.simulated {
                "; simulated, nothing sent or recorded"
            } else {
                "; nothing sent or recorded"
            }
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PreviewError(pub String);

fn err(e: impl std::fmt::Display) -> PreviewError {
    PreviewError(e.to_string())
}

pub async fn preview(v: &Voting, simulate: bool) -> Result<Preview, PreviewError> {
    let head = crate::dao::head(&v.provider).await.map_err(err)?;
    let listing = v.dao.list(&head).await.map_err(err)?;
    let open: Vec<&Proposal> = v.dao.open_proposals(&listing, v.margin);
    let mut out = Preview {
        block: head.number,
        block_timestamp: head.timestamp,
        paused: listing.paused,
        daemon_dry_run: v.round.dry_run,
        simulated: simulate,
        proposals_open: open.len() as u64,
        votes: Vec::new(),
    };
    if open.is_empty() || v.voters.is_empty() {
        return Ok(out);
    }
    let pairs: Vec<(usize, usize)> = (0..open.len())
        .flat_map(|pi| (0..v.voters.len()).map(move |vi| (pi, vi)))
        .collect();
    let rows = v
        .ledger
        .votes_for(
            v.dao.address(),
            pairs
                .iter()
                .map(|&(pi, vi)| (open[pi].id, v.voters[vi].address))
                .collect(),
        )
        .await
        .map_err(err)?;
    let tokens = v
        .tokens
        .resolve_many(open.iter().filter_map(|p| p.asset), v.round.concurrency)
        .await
        .map_err(err)?;
    let accounts: Vec<Address> = v.voters.iter().map(|n| n.address).collect();
    let powers = v.dao.voting_powers(&accounts, &head).await;

    // Pairs whose vote would go out, by index into `out.votes`.
    let mut to_send: Vec<(usize, usize, crate::dao::VoteCall)> = Vec::new();
    for (&(pi, vi), row) in pairs.iter().zip(rows) {
        let proposal = open[pi];
        let voter = &v.voters[vi];
        let mut planned = PlannedVote {
            proposal_id: proposal.id.to_string(),
            node: voter.name.clone(),
            address: voter.address.to_checksum(None),
            action: Action::Vote,
            decision: String::new(),
            rule: None,
            reason: String::new(),
            strategy: voter.strategy_name.clone(),
            ledger_state: None,
            gas: None,
            note: None,
        };
        if let Some(row) = row {
            planned.action = Action::Recorded;
            planned.decision = row.decision.as_str().to_owned();
            planned.rule = row.rule.clone();
            planned.reason = row.reason.clone();
            planned.strategy = row.strategy.clone();
            planned.ledger_state = Some(row.state.as_str().to_owned());
            out.votes.push(planned);
            continue;
        }
        let view = ProposalView::new(proposal, proposal.asset.and_then(|a| tokens.get(&a)));
        let decision = voter.strategy.decide(&view);
        planned.decision = decision.vote.as_str().to_owned();
        planned.rule = decision.rule;
        planned.reason = decision.reason.clone();
        if decision.vote == VoteChoice::Skip {
            planned.action = Action::Skip;
        } else {
            match v
                .dao
                .vote_call(proposal.id, decision.vote, &decision.reason)
            {
                None => {
                    planned.action = Action::Unsupported;
                    planned.note = Some(format!(
                        "the DAO cannot record `{}`; a round skips it",
                        decision.vote.as_str()
                    ));
                }
                Some(_) if matches!(powers.get(vi), Some(Ok(p)) if p.is_zero()) => {
                    planned.action = Action::NoVotingPower;
                    planned.note = Some(
                        "voting-token balance is 0; not sent, so the vote is not burned".into(),
                    );
                }
                Some(call) => to_send.push((out.votes.len(), vi, call)),
            }
        }
        out.votes.push(planned);
    }
    if to_send.is_empty() {
        return Ok(out);
    }

    let asked: Vec<(U256, Address)> = to_send
        .iter()
        .map(|(_, vi, call)| (call.proposal_id, v.voters[*vi].address))
        .collect();
    let voted = v
        .dao
        .has_voted(&asked, head.block_id())
        .await
        .map_err(err)?;
    let mut still: Vec<(usize, usize, crate::dao::VoteCall)> = Vec::new();
    for (entry, already) in to_send.into_iter().zip(voted) {
        if already {
            out.votes[entry.0].action = Action::AlreadyVoted;
        } else {
            still.push(entry);
        }
    }
    if simulate {
        simulate_votes(v, &mut out, &still).await;
    }
    Ok(out)
}

/// Estimates each vote from its own voter against the pending block (what
/// the round's send does before signing) and marks refusals.
async fn simulate_votes(
    v: &Voting,
    out: &mut Preview,
    votes: &[(usize, usize, crate::dao::VoteCall)],
) {
    for (vi, voter) in v.voters.iter().enumerate() {
        let mine: Vec<&(usize, usize, crate::dao::VoteCall)> =
            votes.iter().filter(|(_, i, _)| *i == vi).collect();
        if mine.is_empty() {
            continue;
        }
        let calls: Vec<&crate::dao::VoteCall> = mine.iter().map(|(_, _, c)| c).collect();
        let answers = crate::dao::estimate_votes(
            &v.provider,
            v.dao.as_ref(),
            &calls,
            voter.address,
            BlockId::pending(),
            v.round.batch_size,
            v.round.concurrency,
        )
        .await;
        for ((idx, _, _), answer) in mine.into_iter().zip(answers) {
            let planned = &mut out.votes[*idx];
            match answer {
                Ok(Ok(gas)) => planned.gas = Some(gas),
                Ok(Err(revert)) => {
                    planned.action = if revert.already_voted() {
                        Action::AlreadyVoted
                    } else {
                        Action::Refused
                    };
                    planned.note = Some(revert.to_string());
                }
                Err(e) => planned.note = Some(format!("cannot estimate: {e}")),
            }
        }
    }
}
