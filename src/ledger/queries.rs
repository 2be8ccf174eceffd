//! Reads for the round, the REST API and the CLI, and the `rounds` table.
//!
//! Every read of votes, decisions and rounds is scoped to one (chain, DAO)
//! pair ([`Scope`]); a wallet's nonces are per chain, shared by every DAO
//! on it, so [`max_nonce`] filters by chain and voter only.

use alloy::primitives::{Address, U256};
use rusqlite::{Connection, OptionalExtension, params};

use super::error::LedgerError;
use super::model::*;

fn votes_where(
    conn: &Connection,
    clause: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<VoteRow>, LedgerError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {VOTE_COLUMNS} FROM votes {clause}"))?;
    let rows = stmt.query_map(args, |r| Ok(vote_from_row(r)))?;
    rows.map(|r| r?).collect()
}

/// Rows in `intent`, `signed` or `sent`, oldest first.
pub fn pending(conn: &Connection, s: &Scope) -> Result<Vec<VoteRow>, LedgerError> {
    votes_where(
        conn,
        "WHERE chain_id = ?1 AND dao = ?2 AND state IN ('intent', 'signed', 'sent') ORDER BY id",
        params![s.chain, s.dao],
    )
}

pub fn vote_for(
    conn: &Connection,
    s: &Scope,
    proposal_id: U256,
    voter: Address,
) -> Result<Option<VoteRow>, LedgerError> {
    Ok(votes_where(
        conn,
        "WHERE chain_id = ?1 AND dao = ?2 AND proposal_id = ?3 AND voter = ?4",
        params![s.chain, s.dao, proposal_id.to_string(), addr(voter)],
    )?
    .pop())
}

/// Newest first.
pub fn by_node(
    conn: &Connection,
    s: &Scope,
    node: &str,
    limit: u32,
) -> Result<Vec<VoteRow>, LedgerError> {
    votes_where(
        conn,
        "WHERE chain_id = ?1 AND dao = ?2 AND node = ?3 ORDER BY id DESC LIMIT ?4",
        params![s.chain, s.dao, node, limit],
    )
}

pub fn by_proposal(
    conn: &Connection,
    s: &Scope,
    proposal_id: U256,
) -> Result<Vec<VoteRow>, LedgerError> {
    votes_where(
        conn,
        "WHERE chain_id = ?1 AND dao = ?2 AND proposal_id = ?3 ORDER BY node",
        params![s.chain, s.dao, proposal_id.to_string()],
    )
}

/// The latest strategy decision per node on one proposal (skips included).
pub fn decisions_by_proposal(
    conn: &Connection,
    s: &Scope,
    dao: Address,
    proposal_id: U256,
) -> Result<Vec<super::votes::DecisionRecord>, LedgerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT voter, node, round_id, decision, reason, strategy, rule FROM decisions
         WHERE chain_id = ?1 AND dao = ?2 AND proposal_id = ?3 ORDER BY node",
    )?;
    let rows = stmt.query_map(params![s.chain, s.dao, proposal_id.to_string()], |r| {
        Ok::<DecisionParts, rusqlite::Error>((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<i64>>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, Option<String>>(6)?,
        ))
    })?;
    rows.map(|row| decision_from_parts(dao, proposal_id, row?))
        .collect()
}

/// A `decisions` row's columns after the key: voter, node, round, decision,
/// reason, strategy, rule.
pub(super) type DecisionParts = (
    String,
    String,
    Option<i64>,
    String,
    String,
    String,
    Option<String>,
);

pub(super) fn decision_from_parts(
    dao: Address,
    proposal_id: U256,
    (voter, node, round_id, decision, reason, strategy, rule): DecisionParts,
) -> Result<super::votes::DecisionRecord, LedgerError> {
    let corrupt = |what: &str, raw: &str| LedgerError::Corrupt {
        what: format!("decisions.{what}"),
        detail: raw.to_owned(),
    };
    Ok(super::votes::DecisionRecord {
        dao,
        proposal_id,
        voter: voter.parse().map_err(|_| corrupt("voter", &voter))?,
        node,
        round_id,
        decision: crate::strategy::VoteChoice::parse(&decision)
            .ok_or_else(|| corrupt("decision", &decision))?,
        reason,
        strategy,
        rule,
    })
}

pub fn by_round(conn: &Connection, s: &Scope, round_id: i64) -> Result<Vec<VoteRow>, LedgerError> {
    votes_where(
        conn,
        "WHERE chain_id = ?1 AND dao = ?2 AND round_id = ?3 ORDER BY id",
        params![s.chain, s.dao, round_id],
    )
}

/// Per-node counts over the whole ledger, every DAO's votes together (a
/// tally of a devnet, say); [`counts_for`] counts one DAO's.
pub fn counts(conn: &Connection) -> Result<Vec<NodeVoteCounts>, LedgerError> {
    counts_where(conn, "", [])
}

/// Per-node counts of one DAO's votes.
pub fn counts_for(conn: &Connection, s: &Scope) -> Result<Vec<NodeVoteCounts>, LedgerError> {
    counts_where(
        conn,
        "WHERE chain_id = ?1 AND dao = ?2",
        params![s.chain, s.dao],
    )
}

fn counts_where(
    conn: &Connection,
    filter: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<NodeVoteCounts>, LedgerError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT node, voter, count(*),
                sum(state = 'confirmed'),
                sum(state IN ('intent', 'signed', 'sent')),
                sum(state IN ('reverted', 'failed', 'abandoned')),
                sum(state = 'confirmed_external'),
                max(CASE WHEN state = 'confirmed' THEN finished_at END),
                sum(state = 'confirmed' AND decision = 'for'),
                sum(state = 'confirmed' AND decision = 'against'),
                sum(state = 'confirmed' AND decision = 'abstain')
         FROM votes {filter} GROUP BY node, voter ORDER BY node, voter"
    ))?;
    let rows = stmt.query_map(args, |r| {
        let n = |i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            [n(2)?, n(3)?, n(4)?, n(5)?, n(6)?],
            r.get::<_, Option<i64>>(7)?,
            [n(8)?, n(9)?, n(10)?],
        ))
    })?;
    rows.map(|r| {
        let (node, voter, counts, last, sides) = r?;
        counts_from(node, voter, counts, last, sides)
    })
    .collect()
}

/// One `counts` row: totals by state group, then confirmed votes by side.
pub(super) fn counts_from(
    node: String,
    voter: String,
    [total, confirmed, pending, unsuccessful, external]: [u64; 5],
    last_vote_at: Option<i64>,
    [confirmed_for, confirmed_against, confirmed_abstain]: [u64; 3],
) -> Result<NodeVoteCounts, LedgerError> {
    Ok(NodeVoteCounts {
        voter: voter.parse().map_err(|e| LedgerError::Corrupt {
            what: format!("votes.voter of node {node}"),
            detail: format!("{voter:?}: {e}"),
        })?,
        node,
        total,
        confirmed,
        pending,
        unsuccessful,
        external,
        confirmed_for,
        confirmed_against,
        confirmed_abstain,
        last_vote_at,
    })
}

/// The highest nonce this voter ever signed a vote with on `chain`, in any
/// DAO there (a wallet's nonces are per chain), if any: the round's floor
/// for the next nonce alongside the chain's pending count.
pub fn max_nonce(
    conn: &Connection,
    chain: i64,
    voter: Address,
) -> Result<Option<u64>, LedgerError> {
    let n: Option<i64> = conn.query_row(
        "SELECT max(a.nonce) FROM vote_attempts a JOIN votes v ON v.id = a.vote_id
         WHERE v.chain_id = ?1 AND v.voter = ?2",
        params![chain, addr(voter)],
        |r| r.get(0),
    )?;
    Ok(n.map(|v| v.max(0) as u64))
}

pub fn start_round(
    conn: &Connection,
    s: &Scope,
    trigger: &str,
    head_block: Option<u64>,
) -> Result<i64, LedgerError> {
    conn.execute(
        "INSERT INTO rounds (chain_id, dao, trigger, started_at, head_block)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            s.chain,
            s.dao,
            trigger,
            now_ms(),
            head_block.map(|b| b as i64)
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn set_round_head(
    conn: &Connection,
    s: &Scope,
    id: i64,
    head_block: u64,
) -> Result<(), LedgerError> {
    conn.execute(
        "UPDATE rounds SET head_block = ?2 WHERE id = ?1 AND chain_id = ?3 AND dao = ?4",
        params![id, head_block as i64, s.chain, s.dao],
    )?;
    Ok(())
}

pub fn finish_round(
    conn: &Connection,
    s: &Scope,
    id: i64,
    outcome: &str,
    summary: &serde_json::Value,
) -> Result<(), LedgerError> {
    let changed = conn.execute(
        "UPDATE rounds SET finished_at = ?2, outcome = ?3, summary = ?4
         WHERE id = ?1 AND finished_at IS NULL AND chain_id = ?5 AND dao = ?6",
        params![id, now_ms(), outcome, summary.to_string(), s.chain, s.dao],
    )?;
    if changed == 0 {
        return Err(LedgerError::Rejected {
            id,
            detail: "round is unknown or already finished".into(),
        });
    }
    Ok(())
}

/// This DAO's rounds a crash left open are closed as `interrupted`
/// (another DAO's round may be running in the same process); returns how many.
pub fn interrupt_unfinished(conn: &Connection, s: &Scope) -> Result<usize, LedgerError> {
    Ok(conn.execute(
        "UPDATE rounds SET finished_at = ?1, outcome = 'interrupted'
         WHERE finished_at IS NULL AND chain_id = ?2 AND dao = ?3",
        params![now_ms(), s.chain, s.dao],
    )?)
}

pub(super) const ROUND_COLUMNS: &str =
    "id, trigger, started_at, finished_at, outcome, head_block, summary FROM rounds";

/// Newest first; `before` pages backwards by id.
pub fn rounds(
    conn: &Connection,
    s: &Scope,
    limit: u32,
    before: Option<i64>,
) -> Result<Vec<RoundRow>, LedgerError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ROUND_COLUMNS} WHERE chain_id = ?1 AND dao = ?2 AND id < ?3
         ORDER BY id DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        params![s.chain, s.dao, before.unwrap_or(i64::MAX), limit],
        |r| Ok(round_from_row(r)),
    )?;
    rows.map(|r| r?).collect()
}

/// When this DAO's newest successful round finished (unix ms), if any.
pub fn last_success(conn: &Connection, s: &Scope) -> Result<Option<i64>, LedgerError> {
    Ok(conn.query_row(
        "SELECT MAX(finished_at) FROM rounds
         WHERE chain_id = ?1 AND dao = ?2 AND outcome = 'success'",
        params![s.chain, s.dao],
        |r| r.get::<_, Option<i64>>(0),
    )?)
}

/// How many rounds the ledger holds for this DAO (the API's status counts).
pub fn round_count(conn: &Connection, s: &Scope) -> Result<u64, LedgerError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM rounds WHERE chain_id = ?1 AND dao = ?2",
        params![s.chain, s.dao],
        |r| r.get(0),
    )?;
    Ok(n.max(0) as u64)
}

pub fn round(conn: &Connection, s: &Scope, id: i64) -> Result<Option<RoundRow>, LedgerError> {
    conn.query_row(
        &format!("SELECT {ROUND_COLUMNS} WHERE id = ?1 AND chain_id = ?2 AND dao = ?3"),
        params![id, s.chain, s.dao],
        |r| Ok(round_from_row(r)),
    )
    .optional()?
    .transpose()
}
