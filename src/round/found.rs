//! Votes the chain has and the ledger does not (a lost ledger, a restore
//! from an older backup): recorded as `confirmed_external` with source
//! `chain`, with the transaction and block of their `VoteCast` log, so the
//! API and exports agree with the chain. The logs are read backwards from
//! the head a page at a time, and only after such a vote was found.

use std::collections::HashMap;

use alloy::primitives::{Address, U256};

use super::context::Voting;
use crate::dao::{Head, PAGE_BLOCKS};
use crate::ledger::FoundVote;

/// How far back the logs are read for them: votes older than this many
/// pages of [`PAGE_BLOCKS`] are left out of the ledger (they are never sent
/// again either way: `hasVoted` decides that).
pub const MAX_PAGES: u64 = 20;

/// `found`: (proposal, voter index) pairs `hasVoted` is true for without a row.
pub async fn record_found_votes(v: &Voting, head: &Head, found: Vec<(U256, usize)>) {
    let mut wanted: HashMap<(U256, Address), usize> = found
        .into_iter()
        .map(|(p, vi)| ((p, v.voters[vi].address), vi))
        .collect();
    let mut rows = Vec::new();
    let mut to = head.number;
    for _ in 0..MAX_PAGES {
        if wanted.is_empty() {
            break;
        }
        let from = to.saturating_sub(PAGE_BLOCKS - 1);
        match v.dao.votes_cast(from, to).await {
            Ok(events) => {
                // The newest log of a pair is its vote as the chain counts it now.
                for e in events.iter().rev() {
                    if let Some(vi) = wanted.remove(&(e.proposal_id, e.voter)) {
                        rows.push(FoundVote {
                            dao: v.dao.address(),
                            proposal_id: e.proposal_id,
                            voter: e.voter,
                            node: v.voters[vi].name.clone(),
                            decision: e.choice,
                            tx_hash: e.tx_hash,
                            block_number: e.block_number,
                        });
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, from, to, "cannot read VoteCast logs for votes found on chain");
                break;
            }
        }
        if from == 0 {
            break;
        }
        to = from - 1;
    }
    for ((proposal, voter), _) in wanted {
        tracing::warn!(PROPOSAL_ID = %proposal, %voter, "a vote on chain without a ledger row and without a VoteCast log in reach; not recorded (it is never sent again)");
    }
    if rows.is_empty() {
        return;
    }
    match v.ledger.record_found(rows).await {
        Ok(recorded) => {
            for row in recorded.into_iter().flatten() {
                tracing::info!(
                    NODE = %row.node,
                    PROPOSAL_ID = %row.proposal_id,
                    TX_HASH = %row.tx_hash.map(|h| h.to_string()).unwrap_or_default(),
                    "vote found on chain recorded in the ledger"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot record votes found on chain"),
    }
}
