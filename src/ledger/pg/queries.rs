//! Reads, the `rounds` table and key acknowledgements on PostgreSQL: the
//! statements of src/ledger/queries.rs and key_acks.rs in PostgreSQL's SQL,
//! scoped the same way: votes, decisions and rounds per (chain, DAO),
//! nonces and key acknowledgements per (chain, wallet).

use alloy::primitives::{Address, U256};
use tokio_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use super::super::error::LedgerError;
use super::super::key_acks::KeyAck;
use super::super::model::*;
use super::super::queries::{DecisionParts, ROUND_COLUMNS, counts_from, decision_from_parts};
use super::super::votes::DecisionRecord;

type Params<'a> = [&'a (dyn ToSql + Sync)];

async fn votes_where(
    client: &(impl GenericClient + Sync),
    clause: &str,
    args: &Params<'_>,
) -> Result<Vec<VoteRow>, LedgerError> {
    client
        .query(&format!("SELECT {VOTE_COLUMNS} FROM votes {clause}"), args)
        .await?
        .iter()
        .map(vote_from_row)
        .collect()
}

pub async fn pending(
    client: &(impl GenericClient + Sync),
    s: &Scope,
) -> Result<Vec<VoteRow>, LedgerError> {
    votes_where(
        client,
        "WHERE chain_id = $1 AND dao = $2 AND state IN ('intent', 'signed', 'sent') ORDER BY id",
        &[&s.chain, &s.dao],
    )
    .await
}

pub async fn vote_for(
    client: &(impl GenericClient + Sync),
    s: &Scope,
    proposal_id: U256,
    voter: Address,
) -> Result<Option<VoteRow>, LedgerError> {
    Ok(votes_where(
        client,
        "WHERE chain_id = $1 AND dao = $2 AND proposal_id = $3 AND voter = $4",
        &[&s.chain, &s.dao, &proposal_id.to_string(), &addr(voter)],
    )
    .await?
    .pop())
}

pub async fn by_node(
    client: &(impl GenericClient + Sync),
    s: &Scope,
    node: &str,
    limit: u32,
) -> Result<Vec<VoteRow>, LedgerError> {
    votes_where(
        client,
        "WHERE chain_id = $1 AND dao = $2 AND node = $3 ORDER BY id DESC LIMIT $4",
        &[&s.chain, &s.dao, &node, &i64::from(limit)],
    )
    .await
}

pub async fn by_proposal(
    client: &(impl GenericClient + Sync),
    s: &Scope,
    proposal_id: U256,
) -> Result<Vec<VoteRow>, LedgerError> {
    votes_where(
        client,
        "WHERE chain_id = $1 AND dao = $2 AND proposal_id = $3 ORDER BY node",
        &[&s.chain, &s.dao, &proposal_id.to_string()],
    )
    .await
}

pub async fn by_round(
    client: &(impl GenericClient + Sync),
    s: &Scope,
    round_id: i64,
) -> Result<Vec<VoteRow>, LedgerError> {
    votes_where(
        client,
        "WHERE chain_id = $1 AND dao = $2 AND round_id = $3 ORDER BY id",
        &[&s.chain, &s.dao, &round_id],
    )
    .await
}

pub async fn decisions_by_proposal(
    client: &(impl GenericClient + Sync),
    s: &Scope,
    dao: Address,
    proposal_id: U256,
) -> Result<Vec<DecisionRecord>, LedgerError> {
    client
        .query(
            "SELECT voter, node, round_id, decision, reason, strategy, rule FROM decisions
             WHERE chain_id = $1 AND dao = $2 AND proposal_id = $3 ORDER BY node",
            &[&s.chain, &s.dao, &proposal_id.to_string()],
        )
        .await?
        .iter()
        .map(|r| {
            let parts: DecisionParts = (
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
                r.try_get(5)?,
                r.try_get(6)?,
            );
            decision_from_parts(dao, proposal_id, parts)
        })
        .collect()
}

pub async fn counts(
    client: &(impl GenericClient + Sync),
    s: &Scope,
) -> Result<Vec<NodeVoteCounts>, LedgerError> {
    let rows = client
        .query(
            "SELECT node, voter, count(*),
                    count(*) FILTER (WHERE state = 'confirmed'),
                    count(*) FILTER (WHERE state IN ('intent', 'signed', 'sent')),
                    count(*) FILTER (WHERE state IN ('reverted', 'failed', 'abandoned')),
                    count(*) FILTER (WHERE state = 'confirmed_external'),
                    max(CASE WHEN state = 'confirmed' THEN finished_at END),
                    count(*) FILTER (WHERE state = 'confirmed' AND decision = 'for'),
                    count(*) FILTER (WHERE state = 'confirmed' AND decision = 'against'),
                    count(*) FILTER (WHERE state = 'confirmed' AND decision = 'abstain')
             FROM votes WHERE chain_id = $1 AND dao = $2
             GROUP BY node, voter ORDER BY node, voter",
            &[&s.chain, &s.dao],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let n = |i: usize| r.try_get::<_, i64>(i).map(|v| v.max(0) as u64);
            counts_from(
                r.try_get(0)?,
                r.try_get(1)?,
                [n(2)?, n(3)?, n(4)?, n(5)?, n(6)?],
                r.try_get(7)?,
                [n(8)?, n(9)?, n(10)?],
            )
        })
        .collect()
}

/// `sql` takes the chain as `$1` and the voter as `$2`.
async fn max_of(
    client: &(impl GenericClient + Sync),
    sql: &str,
    chain: i64,
    voter: Address,
) -> Result<Option<u64>, LedgerError> {
    let n: Option<i64> = client
        .query_one(sql, &[&chain, &addr(voter)])
        .await?
        .try_get(0)?;
    Ok(n.map(|v| v.max(0) as u64))
}

pub async fn max_nonce(
    client: &(impl GenericClient + Sync),
    chain: i64,
    voter: Address,
) -> Result<Option<u64>, LedgerError> {
    max_of(
        client,
        "SELECT max(a.nonce) FROM vote_attempts a JOIN votes v ON v.id = a.vote_id
         WHERE v.chain_id = $1 AND v.voter = $2",
        chain,
        voter,
    )
    .await
}

pub async fn acked(
    client: &(impl GenericClient + Sync),
    chain: i64,
    voter: Address,
) -> Result<Option<u64>, LedgerError> {
    max_of(
        client,
        "SELECT max(nonce) FROM key_acks WHERE chain_id = $1 AND voter = $2",
        chain,
        voter,
    )
    .await
}

pub async fn record_key_ack(
    client: &(impl GenericClient + Sync),
    chain: i64,
    ack: &KeyAck,
) -> Result<(), LedgerError> {
    client
        .execute(
            "INSERT INTO key_acks (chain_id, voter, node, nonce, acked_at)
             VALUES ($5, $1, $2, $3, $4)",
            &[
                &addr(ack.voter),
                &ack.node,
                &i64::try_from(ack.nonce).unwrap_or(i64::MAX),
                &ack.acked_at,
                &chain,
            ],
        )
        .await?;
    Ok(())
}

pub async fn start_round(
    client: &(impl GenericClient + Sync),
    s: &Scope,
    trigger: &str,
    head_block: Option<u64>,
    ha_groups: Option<&str>,
) -> Result<i64, LedgerError> {
    let head = head_block.map(|b| i64::try_from(b).unwrap_or(i64::MAX));
    Ok(client
        .query_one(
            "INSERT INTO rounds (chain_id, dao, trigger, started_at, head_block, ha_groups)
             VALUES ($5, $6, $1, $2, $3, $4) RETURNING id",
            &[&trigger, &now_ms(), &head, &ha_groups, &s.chain, &s.dao],
        )
        .await?
        .try_get(0)?)
}

pub async fn set_round_head(
    client: &(impl GenericClient + Sync),
    s: &Scope,
    id: i64,
    head_block: u64,
) -> Result<(), LedgerError> {
    client
        .execute(
            "UPDATE rounds SET head_block = $2 WHERE id = $1 AND chain_id = $3 AND dao = $4",
            &[
                &id,
                &i64::try_from(head_block).unwrap_or(i64::MAX),
                &s.chain,
                &s.dao,
            ],
        )
        .await?;
    Ok(())
}

pub async fn finish_round(
    client: &(impl GenericClient + Sync),
    s: &Scope,
    id: i64,
    outcome: &str,
    summary: &serde_json::Value,
) -> Result<(), LedgerError> {
    let changed = client
        .execute(
            "UPDATE rounds SET finished_at = $2, outcome = $3, summary = $4
             WHERE id = $1 AND finished_at IS NULL AND chain_id = $5 AND dao = $6",
            &[
                &id,
                &now_ms(),
                &outcome,
                &summary.to_string(),
                &s.chain,
                &s.dao,
            ],
        )
        .await?;
    if changed == 0 {
        return Err(LedgerError::Rejected {
            id,
            detail: "round is unknown or already finished".into(),
        });
    }
    Ok(())
}

/// This DAO's unfinished rounds (of `group`, if given). Rounds recorded
/// without groups (before lease groups, or without HA) are interrupted
/// whatever the group.
pub async fn interrupt_unfinished(
    client: &(impl GenericClient + Sync),
    s: &Scope,
    group: Option<&str>,
) -> Result<usize, LedgerError> {
    let n = client
        .execute(
            "UPDATE rounds SET finished_at = $1, outcome = 'interrupted'
             WHERE finished_at IS NULL AND chain_id = $3 AND dao = $4
               AND ($2::text IS NULL OR ha_groups IS NULL
                    OR $2 = ANY(string_to_array(ha_groups, ',')))",
            &[&now_ms(), &group, &s.chain, &s.dao],
        )
        .await?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

pub async fn rounds(
    client: &(impl GenericClient + Sync),
    s: &Scope,
    limit: u32,
    before: Option<i64>,
) -> Result<Vec<RoundRow>, LedgerError> {
    client
        .query(
            &format!(
                "SELECT {ROUND_COLUMNS} WHERE chain_id = $3 AND dao = $4 AND id < $1
                 ORDER BY id DESC LIMIT $2"
            ),
            &[
                &before.unwrap_or(i64::MAX),
                &i64::from(limit),
                &s.chain,
                &s.dao,
            ],
        )
        .await?
        .iter()
        .map(round_from_row)
        .collect()
}

pub async fn round(
    client: &(impl GenericClient + Sync),
    s: &Scope,
    id: i64,
) -> Result<Option<RoundRow>, LedgerError> {
    client
        .query_opt(
            &format!("SELECT {ROUND_COLUMNS} WHERE id = $1 AND chain_id = $2 AND dao = $3"),
            &[&id, &s.chain, &s.dao],
        )
        .await?
        .map(|r| round_from_row(&r))
        .transpose()
}

pub async fn last_success(
    client: &(impl GenericClient + Sync),
    s: &Scope,
) -> Result<Option<i64>, LedgerError> {
    Ok(client
        .query_one(
            "SELECT max(finished_at) FROM rounds
             WHERE chain_id = $1 AND dao = $2 AND outcome = 'success'",
            &[&s.chain, &s.dao],
        )
        .await?
        .try_get(0)?)
}

pub async fn round_count(
    client: &(impl GenericClient + Sync),
    s: &Scope,
) -> Result<u64, LedgerError> {
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM rounds WHERE chain_id = $1 AND dao = $2",
            &[&s.chain, &s.dao],
        )
        .await?
        .try_get(0)?;
    Ok(n.max(0) as u64)
}
