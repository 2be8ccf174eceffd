//! What a round did, as returned to `govnode round`, the API and the ledger.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dao::NotVotable;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundState {
    Running,
    Finished,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Nothing failed that needs the operator: every vote that could be cast
    /// is confirmed; what waits (pause, fee ceiling, budget) is in `left`.
    Success,
    /// Some votes failed for a cause the operator must look at, or were
    /// still unmined at the deadline; see `left`.
    Partial,
    /// The round could not run (no healthy endpoint, ledger error, …).
    Failed,
}

/// Vote counts of one round. Every (node, proposal) pair the round looked
/// at is counted exactly once, in one of `confirmed`, `confirmed_earlier`,
/// `already_voted`, `skipped`, `not_votable`, `deferred`, `failed` or
/// `pending`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VoteCounts {
    /// Pairs this round worked on to cast a vote: `confirmed + deferred +
    /// failed + pending`.
    pub decided: u64,
    /// Cast and mined in this round.
    pub confirmed: u64,
    /// Sent by an earlier round and found mined when this one started.
    pub confirmed_earlier: u64,
    /// Failed for a cause the operator must act on (insufficient gas
    /// balance, a signer error, a revert with no passing cause, …).
    pub failed: u64,
    /// Strategies decided to send nothing (skip, or abstain on AssetDAO).
    pub skipped: u64,
    /// The chain already counts a vote of this node (sent earlier, or from
    /// outside govnode).
    pub already_voted: u64,
    /// Not sent because the proposal or node cannot take a vote now; by
    /// reason in `not_votable_by`.
    pub not_votable: u64,
    pub not_votable_by: BTreeMap<String, u64>,
    /// Decided, not sent or not counted for a cause that passes (fee
    /// ceiling, spend budget, a pause hit in flight, an RPC error); tried
    /// again by the next round while the proposal is open.
    pub deferred: u64,
    /// Sent but not yet mined when the round ended.
    pub pending: u64,
}

impl VoteCounts {
    pub fn not_votable(&mut self, why: NotVotable) {
        self.not_votable += 1;
        *self
            .not_votable_by
            .entry(why.as_str().to_owned())
            .or_insert(0) += 1;
    }

    pub fn merge(&mut self, other: &VoteCounts) {
        self.decided += other.decided;
        self.confirmed += other.confirmed;
        self.confirmed_earlier += other.confirmed_earlier;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.already_voted += other.already_voted;
        self.not_votable += other.not_votable;
        for (why, n) in &other.not_votable_by {
            *self.not_votable_by.entry(why.clone()).or_insert(0) += n;
        }
        self.deferred += other.deferred;
        self.pending += other.pending;
    }

    /// The pairs counted, each once.
    pub fn pairs(&self) -> u64 {
        self.confirmed
            + self.confirmed_earlier
            + self.already_voted
            + self.skipped
            + self.not_votable
            + self.deferred
            + self.failed
            + self.pending
    }
}

/// What became of a vote the round could not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeftKind {
    /// The operator must look at it.
    #[default]
    Failed,
    /// Waits for a cause that passes; the next round tries again.
    Deferred,
    /// Sent, not mined when the round ended.
    Pending,
}

/// One vote the round could not complete, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leftover {
    pub node: String,
    pub proposal_id: String,
    #[serde(default)]
    pub kind: LeftKind,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundReport {
    pub id: i64,
    pub trigger: String,
    pub state: RoundState,
    pub outcome: Option<Outcome>,
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub head_block: Option<u64>,
    pub dry_run: bool,
    pub proposals_open: u64,
    /// The DAO refused all votes (AssetDAO `paused()`) at the round's head.
    #[serde(default)]
    pub dao_paused: bool,
    pub votes: VoteCounts,
    /// Per-node conditions the operator should know of (no voting power).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<Leftover>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RoundReport {
    /// A report for a round whose task died; the ledger still holds what it did.
    pub fn crashed(error: String) -> Self {
        RoundReport {
            id: 0,
            trigger: String::new(),
            state: RoundState::Failed,
            outcome: Some(Outcome::Failed),
            started_at: crate::round::now_rfc3339(),
            finished_at: Some(crate::round::now_rfc3339()),
            duration_ms: None,
            head_block: None,
            dry_run: false,
            proposals_open: 0,
            dao_paused: false,
            votes: VoteCounts::default(),
            warnings: Vec::new(),
            left: Vec::new(),
            error: Some(error),
        }
    }

    pub fn is_success(&self) -> bool {
        self.outcome == Some(Outcome::Success)
    }

    /// One line for `STATUS=`, the CLI and logs.
    pub fn summary(&self) -> String {
        let v = &self.votes;
        let outcome = match self.outcome {
            Some(Outcome::Success) => "success",
            Some(Outcome::Partial) => "partial",
            Some(Outcome::Failed) => "failed",
            None => "running",
        };
        let mut s = format!(
            "round {} {outcome}: {} open proposal(s), {} decided, {} confirmed, {} confirmed earlier, {} failed, {} deferred, {} skipped, {} already voted, {} not votable, {} pending",
            self.id,
            self.proposals_open,
            v.decided,
            v.confirmed,
            v.confirmed_earlier,
            v.failed,
            v.deferred,
            v.skipped,
            v.already_voted,
            v.not_votable,
            v.pending
        );
        if self.dao_paused {
            s.push_str("; the DAO is paused");
        }
        if let Some(e) = &self.error {
            s.push_str(&format!(" — {e}"));
        }
        s
    }

    #[cfg(test)]
    pub fn test_finished(id: i64) -> Self {
        RoundReport {
            id,
            state: RoundState::Finished,
            outcome: Some(Outcome::Success),
            ..RoundReport::crashed(String::new())
        }
    }
}
