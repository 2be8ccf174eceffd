//! Rows of the ledger as Rust values, and their mapping from a database row
//! (SQLite or PostgreSQL, through [`Cells`]).
//!
//! Addresses and hashes are stored as lowercase 0x-hex text, proposal ids as
//! decimal text (Governor ids do not fit an INTEGER), times as unix
//! milliseconds, so the file stays readable with the `sqlite3` shell.

use std::fmt;
use std::str::FromStr;

use alloy::primitives::{Address, B256, Bytes, U256};
use serde::{Deserialize, Serialize};

use super::error::LedgerError;
use crate::strategy::VoteChoice;

/// Where one (dao, proposal, voter) vote is in the send protocol.
///
/// `intent → signed → sent → confirmed | reverted`; `intent → abandoned`
/// (never signed: the chain refused the vote on estimation for good);
/// `* → confirmed_external` (the chain shows a vote we did not send, or whose
/// transaction we cannot find); `failed` when the round gives up on a row
/// after proving its transaction cannot land.
///
/// `reverted`, `abandoned` and `failed` are final only once the proposal is
/// closed for good: while it is open, a round that finds `hasVoted` false at
/// its pinned head and every attempt's nonce used moves the row back to
/// `intent` (same decision, attempts kept) and votes again. `confirmed` and
/// `confirmed_external` are final: the chain counted the vote. The table of
/// transitions is in docs/architecture.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteState {
    Intent,
    Signed,
    Sent,
    Confirmed,
    Reverted,
    Failed,
    Abandoned,
    ConfirmedExternal,
}

impl VoteState {
    pub const ALL: [VoteState; 8] = [
        VoteState::Intent,
        VoteState::Signed,
        VoteState::Sent,
        VoteState::Confirmed,
        VoteState::Reverted,
        VoteState::Failed,
        VoteState::Abandoned,
        VoteState::ConfirmedExternal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VoteState::Intent => "intent",
            VoteState::Signed => "signed",
            VoteState::Sent => "sent",
            VoteState::Confirmed => "confirmed",
            VoteState::Reverted => "reverted",
            VoteState::Failed => "failed",
            VoteState::Abandoned => "abandoned",
            VoteState::ConfirmedExternal => "confirmed_external",
        }
    }

    /// Rows reconciliation looks at before anything is sent again.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            VoteState::Intent | VoteState::Signed | VoteState::Sent
        )
    }

    /// The chain counted the vote: never sent again, whatever happens.
    pub fn is_counted(self) -> bool {
        matches!(self, VoteState::Confirmed | VoteState::ConfirmedExternal)
    }

    /// Unsuccessful, and tried again while the proposal is open.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            VoteState::Reverted | VoteState::Abandoned | VoteState::Failed
        )
    }
}

/// Who wrote a ledger row: the send protocol, or a round that found a vote
/// on chain the ledger had no row for (a lost or restored ledger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteSource {
    Ledger,
    Chain,
}

impl VoteSource {
    pub fn as_str(self) -> &'static str {
        match self {
            VoteSource::Ledger => "ledger",
            VoteSource::Chain => "chain",
        }
    }
}

/// A vote found on chain without a ledger row, as its `VoteCast` log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundVote {
    pub dao: Address,
    pub proposal_id: U256,
    pub voter: Address,
    pub node: String,
    pub decision: VoteChoice,
    pub tx_hash: Option<B256>,
    pub block_number: Option<u64>,
}

impl fmt::Display for VoteState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VoteState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VoteState::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown vote state {s:?}"))
    }
}

/// What the round knows when it decides to vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIntent {
    pub dao: Address,
    pub proposal_id: U256,
    pub voter: Address,
    pub node: String,
    pub round_id: Option<i64>,
    pub decision: VoteChoice,
    pub reason: String,
    pub strategy: String,
    pub rule: Option<String>,
}

/// The answer of [`crate::ledger::Ledger::record_intent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// A new row: go on and sign.
    Recorded(VoteRow),
    /// A row already existed: its state says what to do; never decide again.
    Existing(VoteRow),
}

impl Intent {
    pub fn row(&self) -> &VoteRow {
        match self {
            Intent::Recorded(r) | Intent::Existing(r) => r,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteRow {
    pub id: i64,
    pub dao: Address,
    pub proposal_id: U256,
    pub voter: Address,
    pub node: String,
    pub round_id: Option<i64>,
    pub decision: VoteChoice,
    pub reason: String,
    pub strategy: String,
    pub rule: Option<String>,
    pub state: VoteState,
    pub nonce: Option<u64>,
    /// The latest signed transaction (a fee bump replaces it).
    pub tx_hash: Option<B256>,
    /// Its exact signed bytes, re-broadcast as they are after a crash.
    #[serde(skip_serializing)]
    pub raw_tx: Option<Bytes>,
    pub block_number: Option<u64>,
    pub gas_used: Option<u64>,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub signed_at: Option<i64>,
    pub sent_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub source: VoteSource,
    /// Times the row went back to `intent` after the chain refused or
    /// reverted it (bounded by `round.max_vote_retries`).
    pub retries: u32,
}

/// One signed transaction for a vote: the first, or a fee-bumped replacement
/// with the same nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub vote_id: i64,
    pub nonce: u64,
    pub tx_hash: B256,
    #[serde(skip_serializing)]
    pub raw_tx: Bytes,
    pub created_at: i64,
}

/// What a mined transaction's receipt says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mined {
    pub tx_hash: B256,
    pub block_number: u64,
    pub gas_used: u64,
    pub success: bool,
    /// `gasUsed × effectiveGasPrice`: what the attempt cost, counted
    /// against the node's daily spend budget.
    #[serde(default)]
    pub fee_wei: Option<U256>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRow {
    pub id: i64,
    pub trigger: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// `None` while the round runs.
    pub outcome: Option<String>,
    pub head_block: Option<u64>,
    pub summary: Option<serde_json::Value>,
}

/// Per node: how many votes are where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeVoteCounts {
    pub node: String,
    pub voter: Address,
    pub total: u64,
    pub confirmed: u64,
    pub pending: u64,
    /// reverted + failed + abandoned.
    pub unsuccessful: u64,
    pub external: u64,
    /// `confirmed`, by the side voted.
    pub confirmed_for: u64,
    pub confirmed_against: u64,
    pub confirmed_abstain: u64,
    /// `finished_at` of the node's latest confirmed vote.
    pub last_vote_at: Option<i64>,
}

/// The (chain, DAO) pair a handle's queries filter on, as the rows store
/// it: the chain id as a signed integer, the DAO lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub chain: i64,
    pub dao: String,
}

pub const VOTE_COLUMNS: &str = "id, dao, proposal_id, voter, node, round_id, decision, reason, \
     strategy, rule, state, nonce, tx_hash, raw_tx, block_number, gas_used, error, created_at, \
     updated_at, signed_at, sent_at, finished_at, source, retries";

fn parse<T: FromStr>(what: &str, raw: &str) -> Result<T, LedgerError>
where
    T::Err: fmt::Display,
{
    raw.parse().map_err(|e: T::Err| LedgerError::Corrupt {
        what: what.to_owned(),
        detail: format!("{raw:?}: {e}"),
    })
}

fn opt_u64(v: Option<i64>, what: &str) -> Result<Option<u64>, LedgerError> {
    v.map(|n| {
        u64::try_from(n).map_err(|_| LedgerError::Corrupt {
            what: what.into(),
            detail: format!("negative {n}"),
        })
    })
    .transpose()
}

/// Maps a row selected with [`VOTE_COLUMNS`].
pub fn vote_from_row(row: &impl Cells) -> Result<VoteRow, LedgerError> {
    let id = row.int(0)?;
    let what = |col: &str| format!("votes[{id}].{col}");
    let decision = row.text(6)?;
    let state = row.text(10)?;
    let tx_hash = row.opt_text(12)?;
    let raw = row.opt_blob(13)?;
    let retries = row.int(23)?;
    Ok(VoteRow {
        id,
        dao: parse(&what("dao"), &row.text(1)?)?,
        proposal_id: parse(&what("proposal_id"), &row.text(2)?)?,
        voter: parse(&what("voter"), &row.text(3)?)?,
        node: row.text(4)?,
        round_id: row.opt_int(5)?,
        decision: VoteChoice::parse(&decision).ok_or_else(|| LedgerError::Corrupt {
            what: what("decision"),
            detail: decision.clone(),
        })?,
        reason: row.text(7)?,
        strategy: row.text(8)?,
        rule: row.opt_text(9)?,
        state: parse(&what("state"), &state)?,
        nonce: opt_u64(row.opt_int(11)?, &what("nonce"))?,
        tx_hash: tx_hash.map(|h| parse(&what("tx_hash"), &h)).transpose()?,
        raw_tx: raw.map(Bytes::from),
        block_number: opt_u64(row.opt_int(14)?, &what("block_number"))?,
        gas_used: opt_u64(row.opt_int(15)?, &what("gas_used"))?,
        error: row.opt_text(16)?,
        created_at: row.int(17)?,
        updated_at: row.int(18)?,
        signed_at: row.opt_int(19)?,
        sent_at: row.opt_int(20)?,
        finished_at: row.opt_int(21)?,
        source: match row.text(22)?.as_str() {
            "chain" => VoteSource::Chain,
            _ => VoteSource::Ledger,
        },
        retries: u32::try_from(retries).map_err(|_| LedgerError::Corrupt {
            what: what("retries"),
            detail: retries.to_string(),
        })?,
    })
}

pub fn attempt_from_row(row: &impl Cells) -> Result<Attempt, LedgerError> {
    let vote_id = row.int(0)?;
    let what = |col: &str| format!("vote_attempts[{vote_id}].{col}");
    Ok(Attempt {
        vote_id,
        nonce: opt_u64(Some(row.int(1)?), &what("nonce"))?.unwrap_or_default(),
        tx_hash: parse(&what("tx_hash"), &row.text(2)?)?,
        raw_tx: Bytes::from(row.opt_blob(3)?.unwrap_or_default()),
        created_at: row.int(4)?,
    })
}

pub fn round_from_row(row: &impl Cells) -> Result<RoundRow, LedgerError> {
    let id = row.int(0)?;
    let summary = row.opt_text(6)?;
    Ok(RoundRow {
        id,
        trigger: row.text(1)?,
        started_at: row.int(2)?,
        finished_at: row.opt_int(3)?,
        outcome: row.opt_text(4)?,
        head_block: opt_u64(row.opt_int(5)?, &format!("rounds[{id}].head_block"))?,
        summary: summary
            .map(|s| {
                serde_json::from_str(&s).map_err(|e| LedgerError::Corrupt {
                    what: format!("rounds[{id}].summary"),
                    detail: e.to_string(),
                })
            })
            .transpose()?,
    })
}

/// The column reads the row mappings need, by position, from either
/// backend's row type: the mapping itself is written once.
pub trait Cells {
    fn text(&self, i: usize) -> Result<String, LedgerError>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, LedgerError>;
    fn int(&self, i: usize) -> Result<i64, LedgerError>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, LedgerError>;
    fn opt_blob(&self, i: usize) -> Result<Option<Vec<u8>>, LedgerError>;
}

impl Cells for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> Result<String, LedgerError> {
        Ok(self.get(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, LedgerError> {
        Ok(self.get(i)?)
    }
    fn int(&self, i: usize) -> Result<i64, LedgerError> {
        Ok(self.get(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, LedgerError> {
        Ok(self.get(i)?)
    }
    fn opt_blob(&self, i: usize) -> Result<Option<Vec<u8>>, LedgerError> {
        Ok(self.get(i)?)
    }
}

impl Cells for tokio_postgres::Row {
    fn text(&self, i: usize) -> Result<String, LedgerError> {
        Ok(self.try_get(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, LedgerError> {
        Ok(self.try_get(i)?)
    }
    fn int(&self, i: usize) -> Result<i64, LedgerError> {
        Ok(self.try_get(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, LedgerError> {
        Ok(self.try_get(i)?)
    }
    fn opt_blob(&self, i: usize) -> Result<Option<Vec<u8>>, LedgerError> {
        Ok(self.try_get(i)?)
    }
}

pub fn addr(a: Address) -> String {
    format!("{a:#x}")
}

pub fn hash(h: B256) -> String {
    format!("{h:#x}")
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}
