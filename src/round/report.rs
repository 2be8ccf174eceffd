//! What a round did, as returned to `govnode round`, the API and the ledger.

use serde::{Deserialize, Serialize};

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
    /// Every vote the strategies decided is confirmed on chain.
    Success,
    /// Some votes did not land (deadline, reverts, unfunded wallets); see `left`.
    Partial,
    /// The round could not run (no healthy endpoint, ledger error, …).
    Failed,
}

/// Vote counts of one round.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteCounts {
    /// (node, proposal) pairs the strategies decided to vote on in this round.
    pub decided: u64,
    /// Of those, mined successfully.
    pub confirmed: u64,
    /// Reverted, refused before sending, or given up.
    pub failed: u64,
    /// Strategies decided to send nothing (skip, or abstain on AssetDAO).
    pub skipped: u64,
    /// Pairs already voted before this round (ledger or chain).
    pub already_voted: u64,
    /// Sent but not yet mined when the round ended.
    pub pending: u64,
}

/// One vote the round could not complete, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leftover {
    pub node: String,
    pub proposal_id: String,
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
    pub votes: VoteCounts,
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
            votes: VoteCounts::default(),
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
            "round {} {outcome}: {} open proposal(s), {} decided, {} confirmed, {} failed, {} skipped, {} already voted, {} pending",
            self.id,
            self.proposals_open,
            v.decided,
            v.confirmed,
            v.failed,
            v.skipped,
            v.already_voted,
            v.pending
        );
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
