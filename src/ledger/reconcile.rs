//! What an unfinished vote row becomes, given what the chain says. Pure logic
//! over [`Facts`], so every case is tested without a chain; the facts are
//! gathered by [`super::facts`].
//!
//! The order of the checks is the safety argument:
//! 1. A receipt for any of the row's transactions is final: confirmed or
//!    reverted.
//! 2. `hasVoted` without a receipt of ours: a vote is on chain that we cannot
//!    tie to our transaction — record it, send nothing (AssetDAO would count a
//!    second vote twice).
//! 3. An `intent` with no vote on chain has never been signed: sign it now,
//!    with the decision already recorded.
//! 4. A signed transaction the node still holds: wait for it (or bump it).
//! 5. Its nonce not yet used: re-broadcast the same bytes, never a new
//!    signature — if the first copy is still somewhere, both are one tx.
//! 6. Its nonce used by another transaction, and no vote on chain: ours can
//!    never be mined, so signing again (same decision) cannot double-vote.

use alloy::primitives::{B256, Bytes};
use serde::{Deserialize, Serialize};

use super::model::{Attempt, Mined, VoteRow, VoteState};

/// The chain's answers for one row, read at one pinned block (receipts at
/// the latest block: a receipt is final whenever it appears).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    /// `hasVoted(proposal, voter)` at the pinned block.
    pub has_voted: bool,
    /// A receipt for one of the row's attempts.
    pub receipt: Option<Mined>,
    /// The node knows one of the attempts and has not mined it.
    pub in_mempool: bool,
    /// The voter's mined transaction count at the pinned block.
    pub confirmed_nonce: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Sign and send the recorded decision.
    Sign,
    /// Mined: record the receipt.
    Mined(Mined),
    /// The chain has a vote from this voter that is not one of our transactions.
    External,
    /// Broadcast these exact bytes again.
    Rebroadcast { tx_hash: B256, raw: Bytes },
    /// In the node's mempool: await the receipt (bump fees if it stays).
    Wait,
    /// Our transaction can never be mined: back to intent and sign again.
    Resign { reason: String },
}

impl Action {
    /// The state the row is moved to before the round acts, if any.
    pub fn new_state(&self) -> Option<VoteState> {
        match self {
            Action::Mined(m) if m.success => Some(VoteState::Confirmed),
            Action::Mined(_) => Some(VoteState::Reverted),
            Action::External => Some(VoteState::ConfirmedExternal),
            Action::Resign { .. } => Some(VoteState::Intent),
            Action::Sign | Action::Rebroadcast { .. } | Action::Wait => None,
        }
    }
}

/// `latest` is the row's newest attempt (the one whose bytes are re-sent).
pub fn decide(row: &VoteRow, latest: Option<&Attempt>, facts: &Facts) -> Action {
    if let Some(mined) = facts.receipt {
        return Action::Mined(mined);
    }
    if facts.has_voted {
        return Action::External;
    }
    if row.state == VoteState::Intent {
        return Action::Sign;
    }
    if facts.in_mempool {
        return Action::Wait;
    }
    let (Some(nonce), Some(attempt)) = (row.nonce, latest) else {
        return Action::Resign {
            reason: "signed row has no stored transaction".into(),
        };
    };
    if facts.confirmed_nonce <= nonce {
        Action::Rebroadcast {
            tx_hash: attempt.tx_hash,
            raw: attempt.raw_tx.clone(),
        }
    } else {
        Action::Resign {
            reason: format!(
                "nonce {nonce} was used by another transaction and {} was never mined",
                attempt.tx_hash
            ),
        }
    }
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
