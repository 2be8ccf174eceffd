//! Reads for the round, the REST API and the CLI, and the `rounds` table.

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
pub fn pending(conn: &Connection) -> Result<Vec<VoteRow>, LedgerError> {
    votes_where(
        conn,
        "WHERE state IN ('intent', 'signed', 'sent') ORDER BY id",
        [],
    )
}

pub fn vote_for(
    conn: &Connection,
    dao: Address,
    proposal_id: U256,
    voter: Address,
) -> Result<Option<VoteRow>, LedgerError> {
    Ok(votes_where(
        conn,
        "WHERE dao = ?1 AND proposal_id = ?2 AND voter = ?3",
        params![addr(dao), proposal_id.to_string(), addr(voter)],
    )?
    .pop())
}

/// Newest first.
pub fn by_node(conn: &Connection, node: &str, limit: u32) -> Result<Vec<VoteRow>, LedgerError> {
    votes_where(
        conn,
        "WHERE node = ?1 ORDER BY id DESC LIMIT ?2",
        params![node, limit],
    )
}

pub fn by_proposal(
    conn: &Connection,
    dao: Address,
    proposal_id: U256,
) -> Result<Vec<VoteRow>, LedgerError> {
    votes_where(
        conn,
        "WHERE dao = ?1 AND proposal_id = ?2 ORDER BY node",
        params![addr(dao), proposal_id.to_string()],
    )
}

/// The latest strategy decision per node on one proposal (skips included).
pub fn decisions_by_proposal(
    conn: &Connection,
    dao: Address,
    proposal_id: U256,
) -> Result<Vec<super::votes::DecisionRecord>, LedgerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT voter, node, round_id, decision, reason, strategy, rule FROM decisions
         WHERE dao = ?1 AND proposal_id = ?2 ORDER BY node",
    )?;
    let rows = stmt.query_map(params![addr(dao), proposal_id.to_string()], |r| {
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

pub fn by_round(conn: &Connection, round_id: i64) -> Result<Vec<VoteRow>, LedgerError> {
    votes_where(conn, "WHERE round_id = ?1 ORDER BY id", [round_id])
}

pub fn counts(conn: &Connection) -> Result<Vec<NodeVoteCounts>, LedgerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT node, voter, count(*),
                sum(state = 'confirmed'),
                sum(state IN ('intent', 'signed', 'sent')),
                sum(state IN ('reverted', 'failed', 'abandoned')),
                sum(state = 'confirmed_external'),
                max(CASE WHEN state = 'confirmed' THEN finished_at END),
                sum(state = 'confirmed' AND decision = 'for'),
                sum(state = 'confirmed' AND decision = 'against'),
                sum(state = 'confirmed' AND decision = 'abstain')
         FROM votes GROUP BY node, voter ORDER BY node, voter",
    )?;
    let rows = stmt.query_map([], |r| {
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

/// The highest nonce this voter ever signed a vote with, if any: the round's
/// floor for the next nonce alongside the chain's pending count.
pub fn max_nonce(conn: &Connection, voter: Address) -> Result<Option<u64>, LedgerError> {
    let n: Option<i64> = conn.query_row(
        "SELECT max(a.nonce) FROM vote_attempts a JOIN votes v ON v.id = a.vote_id
         WHERE v.voter = ?1",
        [addr(voter)],
        |r| r.get(0),
    )?;
    Ok(n.map(|v| v.max(0) as u64))
}

pub fn start_round(
    conn: &Connection,
    trigger: &str,
    head_block: Option<u64>,
) -> Result<i64, LedgerError> {
    conn.execute(
        "INSERT INTO rounds (trigger, started_at, head_block) VALUES (?1, ?2, ?3)",
        params![trigger, now_ms(), head_block.map(|b| b as i64)],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn set_round_head(conn: &Connection, id: i64, head_block: u64) -> Result<(), LedgerError> {
    conn.execute(
        "UPDATE rounds SET head_block = ?2 WHERE id = ?1",
        params![id, head_block as i64],
    )?;
    Ok(())
}

pub fn finish_round(
    conn: &Connection,
    id: i64,
    outcome: &str,
    summary: &serde_json::Value,
) -> Result<(), LedgerError> {
    let changed = conn.execute(
        "UPDATE rounds SET finished_at = ?2, outcome = ?3, summary = ?4
         WHERE id = ?1 AND finished_at IS NULL",
        params![id, now_ms(), outcome, summary.to_string()],
    )?;
    if changed == 0 {
        return Err(LedgerError::Rejected {
            id,
            detail: "round is unknown or already finished".into(),
        });
    }
    Ok(())
}

/// Rounds a crash left open are closed as `interrupted`; returns how many.
pub fn interrupt_unfinished(conn: &Connection) -> Result<usize, LedgerError> {
    Ok(conn.execute(
        "UPDATE rounds SET finished_at = ?1, outcome = 'interrupted' WHERE finished_at IS NULL",
        [now_ms()],
    )?)
}

pub(super) const ROUND_COLUMNS: &str =
    "id, trigger, started_at, finished_at, outcome, head_block, summary FROM rounds";

/// Newest first; `before` pages backwards by id.
pub fn rounds(
    conn: &Connection,
    limit: u32,
    before: Option<i64>,
) -> Result<Vec<RoundRow>, LedgerError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ROUND_COLUMNS} WHERE id < ?1 ORDER BY id DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![before.unwrap_or(i64::MAX), limit], |r| {
        Ok(round_from_row(r))
    })?;
    rows.map(|r| r?).collect()
}

/// When the newest successful round finished (unix ms), if any.
pub fn last_success(conn: &Connection) -> Result<Option<i64>, LedgerError> {
    Ok(conn.query_row(
        "SELECT MAX(finished_at) FROM rounds WHERE outcome = 'success'",
        [],
        |r| r.get::<_, Option<i64>>(0),
    )?)
}

/// How many rounds the ledger holds (the API's status counts).
pub fn round_count(conn: &Connection) -> Result<u64, LedgerError> {
    let n: i64 = conn.query_row("SELECT count(*) FROM rounds", [], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

pub fn round(conn: &Connection, id: i64) -> Result<Option<RoundRow>, LedgerError> {
    conn.query_row(
        &format!("SELECT {ROUND_COLUMNS} WHERE id = ?1"),
        [id],
        |r| Ok(round_from_row(r)),
    )
    .optional()?
    .transpose()
}
