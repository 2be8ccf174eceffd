//! The DAO-neutral picture of a proposal and of the chain moment it was read at.

use std::fmt;

use alloy::eips::BlockId;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::rpc::types::TransactionRequest;
use serde::{Deserialize, Serialize};

use crate::strategy::VoteChoice;

/// What a proposal asks for. AssetDAO's `ProposalType` maps one to one
/// (0 Investment … 3 Other); a Governor proposal is an arbitrary call list and
/// is always [`ProposalKind::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalKind {
    Investment,
    Divestment,
    ParameterChange,
    Other,
}

impl ProposalKind {
    pub fn from_assetdao(raw: u8) -> Option<ProposalKind> {
        Some(match raw {
            0 => ProposalKind::Investment,
            1 => ProposalKind::Divestment,
            2 => ProposalKind::ParameterChange,
            3 => ProposalKind::Other,
            _ => return None,
        })
    }

    /// The spelling used in rule configs (`proposal_type: [investment]`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalKind::Investment => "investment",
            ProposalKind::Divestment => "divestment",
            ProposalKind::ParameterChange => "parameter_change",
            ProposalKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<ProposalKind> {
        [
            ProposalKind::Investment,
            ProposalKind::Divestment,
            ProposalKind::ParameterChange,
            ProposalKind::Other,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Lifecycle state, unified over both DAOs. AssetDAO's `Rejected` and
/// `Approved` are reported as `Defeated` and `Succeeded`; AssetDAO never sets
/// them, and never sets `Queued` or `Expired` either (its status stays `Active`
/// after `votingEnds`, which is why openness also checks the deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    Pending,
    Active,
    Canceled,
    Defeated,
    Succeeded,
    Queued,
    Expired,
    Executed,
    Unknown(u8),
}

impl ProposalStatus {
    pub fn from_assetdao(raw: u8) -> ProposalStatus {
        match raw {
            0 => ProposalStatus::Pending,
            1 => ProposalStatus::Active,
            2 => ProposalStatus::Defeated,
            3 => ProposalStatus::Succeeded,
            4 => ProposalStatus::Executed,
            5 => ProposalStatus::Canceled,
            n => ProposalStatus::Unknown(n),
        }
    }

    /// OpenZeppelin `IGovernor.ProposalState`, identical in v4 and v5.
    pub fn from_governor(raw: u8) -> ProposalStatus {
        match raw {
            0 => ProposalStatus::Pending,
            1 => ProposalStatus::Active,
            2 => ProposalStatus::Canceled,
            3 => ProposalStatus::Defeated,
            4 => ProposalStatus::Succeeded,
            5 => ProposalStatus::Queued,
            6 => ProposalStatus::Expired,
            7 => ProposalStatus::Executed,
            n => ProposalStatus::Unknown(n),
        }
    }
}

/// A point on a DAO's clock. AssetDAO counts in unix seconds; a Governor in
/// block numbers unless its `CLOCK_MODE()` says `mode=timestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timepoint {
    Timestamp(u64),
    Block(u64),
}

impl Timepoint {
    pub fn value(self) -> u64 {
        match self {
            Timepoint::Timestamp(v) | Timepoint::Block(v) => v,
        }
    }
}

impl fmt::Display for Timepoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Timepoint::Timestamp(t) => write!(f, "timestamp {t}"),
            Timepoint::Block(b) => write!(f, "block {b}"),
        }
    }
}

/// One proposal as read at a pinned block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: U256,
    pub kind: ProposalKind,
    /// `None` when the DAO names no asset (zero address, or a Governor).
    pub asset: Option<Address>,
    /// In the asset's base units; zero for a Governor.
    pub amount: U256,
    pub description: String,
    pub proposer: Address,
    /// AssetDAO: `createdAt` timestamp. Governor: block of `ProposalCreated`.
    pub created_at: Timepoint,
    /// Last timepoint at which a vote is still accepted (inclusive).
    pub deadline: Timepoint,
    pub yes_votes: U256,
    pub no_votes: U256,
    /// Always zero for AssetDAO, which has no abstention.
    pub abstain_votes: U256,
    pub status: ProposalStatus,
    pub executed: bool,
}

/// The block a round reads everything at: its number pins the reads, its
/// timestamp is "now" for deadline checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub number: u64,
    pub hash: B256,
    pub timestamp: u64,
}

impl Head {
    /// Pinned by number: EIP-1898 block-hash pinning is not served by every
    /// provider, and the number is what the ledger and API report.
    pub fn block_id(&self) -> BlockId {
        BlockId::number(self.number)
    }
}

/// How close to a deadline a vote is still worth sending. Both units are
/// needed because a Governor may count in blocks and AssetDAO counts seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteMargin {
    pub seconds: u64,
    pub blocks: u64,
}

impl VoteMargin {
    pub fn from_config(dao: &crate::config::DaoConfig) -> VoteMargin {
        VoteMargin {
            seconds: dao.vote_margin.as_secs(),
            blocks: dao.vote_margin_blocks,
        }
    }
}

/// Whether a vote sent now can still count, and why not. The variants
/// separate what passes (a pause) from what never reopens (the margin, the
/// deadline, a final status): a vote the chain refused for a passing cause is
/// tried again, one refused for good is not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "open", content = "reason", rename_all = "snake_case")]
pub enum Openness {
    Open,
    /// The whole DAO refuses votes for now (AssetDAO's `paused()`).
    Paused,
    /// The deadline is within the configured vote margin: a vote sent now
    /// may be mined too late. Time only moves on, so this never reopens.
    Margin(String),
    /// Not open yet (a Governor proposal before its voting delay ends).
    NotYet(String),
    /// Not in a votable status (canceled, executed, defeated, …).
    Closed(String),
}

impl Openness {
    pub fn is_open(&self) -> bool {
        matches!(self, Openness::Open)
    }

    /// Why a vote is not sent, for reports and logs; `None` when open.
    pub fn not_votable(&self) -> Option<NotVotable> {
        match self {
            Openness::Open => None,
            Openness::Paused => Some(NotVotable::Paused),
            Openness::Margin(_) => Some(NotVotable::Margin),
            Openness::NotYet(_) => Some(NotVotable::NotYetOpen),
            Openness::Closed(_) => Some(NotVotable::Ended),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Openness::Open => "open".into(),
            Openness::Paused => "the DAO is paused".into(),
            Openness::Margin(why) | Openness::NotYet(why) | Openness::Closed(why) => why.clone(),
        }
    }
}

/// Why a (node, proposal) pair is not voted although the strategy would:
/// the round report's `not_votable` breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotVotable {
    /// The DAO is paused; the vote is cast after `unpause()`.
    Paused,
    /// Voting ended, or the proposal is in a final status.
    Ended,
    /// The deadline is within `dao.vote_margin`.
    Margin,
    /// Voting has not started yet (Governor's voting delay).
    NotYetOpen,
    /// The node has no voting power: a vote would count 0 and burn its one vote.
    NoVotingPower,
    /// The chain reverted this vote `round.max_vote_retries` times; it is not
    /// signed again (see the row's error for why it reverted).
    RetriesExhausted,
}

impl NotVotable {
    pub fn as_str(self) -> &'static str {
        match self {
            NotVotable::Paused => "paused",
            NotVotable::Ended => "ended",
            NotVotable::Margin => "margin",
            NotVotable::NotYetOpen => "not_open_yet",
            NotVotable::NoVotingPower => "no_voting_power",
            NotVotable::RetriesExhausted => "retries_exhausted",
        }
    }
}

/// Everything a round needs from one listing: the DAO-wide pause flag and
/// every proposal still in a votable status (open or not yet open, deadline
/// not judged — see [`crate::dao::Dao::is_open`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub head: Head,
    pub paused: bool,
    /// Proposals the DAO has ever had (AssetDAO count, Governor ids seen).
    pub total: u64,
    pub proposals: Vec<Proposal>,
}

/// The transaction that casts one vote, ready for nonce, gas and signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteCall {
    pub to: Address,
    pub data: Bytes,
    pub proposal_id: U256,
    pub choice: VoteChoice,
}

impl VoteCall {
    /// A request with `from`, `to` and `input` set; fees, gas, nonce and chain
    /// id are the sender's business.
    pub fn request(&self, from: Address) -> TransactionRequest {
        TransactionRequest::default()
            .from(from)
            .to(self.to)
            .input(self.data.clone().into())
    }
}

/// One `VoteCast` event, either DAO, either AssetDAO revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteCastEvent {
    pub proposal_id: U256,
    pub voter: Address,
    /// AssetDAO `true`/`false` become `For`/`Against`.
    pub choice: VoteChoice,
    /// `None` for the AssetDAO revision whose event has no weight.
    pub weight: Option<U256>,
    /// Governor `VoteCast`'s reason; empty for AssetDAO.
    pub reason: String,
    pub block_number: Option<u64>,
    pub tx_hash: Option<B256>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_config_spelling() {
        for raw in 0..4 {
            let k = ProposalKind::from_assetdao(raw).unwrap();
            assert_eq!(ProposalKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ProposalKind::from_assetdao(4), None);
        assert_eq!(ProposalKind::parse("Investment"), None);
    }

    #[test]
    fn statuses_map_from_both_enums() {
        assert_eq!(ProposalStatus::from_assetdao(4), ProposalStatus::Executed);
        assert_eq!(ProposalStatus::from_assetdao(5), ProposalStatus::Canceled);
        assert_eq!(ProposalStatus::from_governor(2), ProposalStatus::Canceled);
        assert_eq!(ProposalStatus::from_governor(7), ProposalStatus::Executed);
        assert_eq!(ProposalStatus::from_governor(9), ProposalStatus::Unknown(9));
    }
}
