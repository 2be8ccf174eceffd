//! Reads, the `rounds` table and key acknowledgements on PostgreSQL: the
//! statements of src/ledger/queries.rs and key_acks.rs in PostgreSQL's SQL.

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

pub async fn pending(client: &(impl GenericClient + Sync)) -> Result<Vec<VoteRow>, LedgerError> {
    votes_where(
        client,
        "WHERE state IN ('intent', 'signed', 'sent') ORDER BY id",
        &[],
    )
    .await
}

pub async fn vote_for(
    client: &(impl GenericClient + Sync),
    dao: Address,
    proposal_id: U256,
    voter: Address,
) -> Result<Option<VoteRow>, LedgerError> {
    Ok(votes_where(
        client,
        "WHERE dao = $1 AND proposal_id = $2 AND voter = $3",
        &[&addr(dao), &proposal_id.to_string(), &addr(voter)],
    )
    .await?
    .pop())
}

pub async fn by_node(
    client: &(impl GenericClient + Sync),
    node: &str,
    limit: u32,
) -> Result<Vec<VoteRow>, LedgerError> {
    votes_where(
        client,
        "WHERE node = $1 ORDER BY id DESC LIMIT $2",
        &[&node, &i64::from(limit)],
    )
    .await
}

pub async fn by_proposal(
    client: &(impl GenericClient + Sync),
    dao: Address,
    proposal_id: U256,
) -> Result<Vec<VoteRow>, LedgerError> {
    votes_where(
        client,
        "WHERE dao = $1 AND proposal_id = $2 ORDER BY node",
        &[&addr(dao), &proposal_id.to_string()],
    )
    .await
}

pub async fn by_round(
    client: &(impl GenericClient + Sync),
    round_id: i64,
) -> Result<Vec<VoteRow>, LedgerError> {
    votes_where(client, "WHERE round_id = $1 ORDER BY id", &[&round_id]).await
}

pub async fn decisions_by_proposal(
    client: &(impl GenericClient + Sync),
    dao: Address,
    proposal_id: U256,
) -> Result<Vec<DecisionRecord>, LedgerError> {
    client
        .query(
            "SELECT voter, node, round_id, decision, reason, strategy, rule FROM decisions
             WHERE dao = $1 AND proposal_id = $2 ORDER BY node",
            &[&addr(dao), &proposal_id.to_string()],
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
             FROM votes GROUP BY node, voter ORDER BY node, voter",
            &[],
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

async fn max_of(
    client: &(impl GenericClient + Sync),
    sql: &str,
    voter: Address,
) -> Result<Option<u64>, LedgerError> {
    let n: Option<i64> = client.query_one(sql, &[&addr(voter)]).await?.try_get(0)?;
    Ok(n.map(|v| v.max(0) as u64))
}

pub async fn max_nonce(
    client: &(impl GenericClient + Sync),
    voter: Address,
) -> Result<Option<u64>, LedgerError> {
    max_of(
        client,
        "SELECT max(a.nonce) FROM vote_attempts a JOIN votes v ON v.id = a.vote_id
         WHERE v.voter = $1",
        voter,
    )
    .await
}

pub async fn acked(
    client: &(impl GenericClient + Sync),
    voter: Address,
) -> Result<Option<u64>, LedgerError> {
    max_of(
        client,
        "SELECT max(nonce) FROM key_acks WHERE voter = $1",
        voter,
    )
    .await
}

pub async fn record_key_ack(
    client: &(impl GenericClient + Sync),
    ack: &KeyAck,
) -> Result<(), LedgerError> {
    client
        .execute(
            "INSERT INTO key_acks (voter, node, nonce, acked_at) VALUES ($1, $2, $3, $4)",
            &[
                &addr(ack.voter),
                &ack.node,
                &i64::try_from(ack.nonce).unwrap_or(i64::MAX),
                &ack.acked_at,
            ],
        )
        .await?;
    Ok(())
}

pub async fn start_round(
    client: &(impl GenericClient + Sync),
    trigger: &str,
    head_block: Option<u64>,
    ha_groups: Option<&str>,
) -> Result<i64, LedgerError> {
    let head = head_block.map(|b| i64::try_from(b).unwrap_or(i64::MAX));
    Ok(client
        .query_one(
            "INSERT INTO rounds (trigger, started_at, head_block, ha_groups)
             VALUES ($1, $2, $3, $4) RETURNING id",
            &[&trigger, &now_ms(), &head, &ha_groups],
        )
        .await?
        .try_get(0)?)
}

pub async fn set_round_head(
    client: &(impl GenericClient + Sync),
    id: i64,
    head_block: u64,
) -> Result<(), LedgerError> {
    client
        .execute(
            "UPDATE rounds SET head_block = $2 WHERE id = $1",
            &[&id, &i64::try_from(head_block).unwrap_or(i64::MAX)],
        )
        .await?;
    Ok(())
}

pub async fn finish_round(
    client: &(impl GenericClient + Sync),
    id: i64,
    outcome: &str,
    summary: &serde_json::Value,
) -> Result<(), LedgerError> {
    let changed = client
        .execute(
            "UPDATE rounds SET finished_at = $2, outcome = $3, summary = $4
             WHERE id = $1 AND finished_at IS NULL",
            &[&id, &now_ms(), &outcome, &summary.to_string()],
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

/// Rounds recorded without groups (before lease groups, or without HA)
/// are interrupted whatever the group.
pub async fn interrupt_unfinished(
    client: &(impl GenericClient + Sync),
    group: Option<&str>,
) -> Result<usize, LedgerError> {
    let n = client
        .execute(
            "UPDATE rounds SET finished_at = $1, outcome = 'interrupted'
             WHERE finished_at IS NULL AND ($2::text IS NULL OR ha_groups IS NULL
                   OR $2 = ANY(string_to_array(ha_groups, ',')))",
            &[&now_ms(), &group],
        )
        .await?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

pub async fn rounds(
    client: &(impl GenericClient + Sync),
    limit: u32,
    before: Option<i64>,
) -> Result<Vec<RoundRow>, LedgerError> {
    client
        .query(
            &format!("SELECT {ROUND_COLUMNS} WHERE id < $1 ORDER BY id DESC LIMIT $2"),
            &[&before.unwrap_or(i64::MAX), &i64::from(limit)],
        )
        .await?
        .iter()
        .map(round_from_row)
        .collect()
}

pub async fn round(
    client: &(impl GenericClient + Sync),
    id: i64,
) -> Result<Option<RoundRow>, LedgerError> {
    client
        .query_opt(&format!("SELECT {ROUND_COLUMNS} WHERE id = $1"), &[&id])
        .await?
        .map(|r| round_from_row(&r))
        .transpose()
}

pub async fn last_success(
    client: &(impl GenericClient + Sync),
) -> Result<Option<i64>, LedgerError> {
    Ok(client
        .query_one(
            "SELECT max(finished_at) FROM rounds WHERE outcome = 'success'",
            &[],
        )
        .await?
        .try_get(0)?)
}

pub async fn round_count(client: &(impl GenericClient + Sync)) -> Result<u64, LedgerError> {
    let n: i64 = client
        .query_one("SELECT count(*) FROM rounds", &[])
        .await?
        .try_get(0)?;
    Ok(n.max(0) as u64)
}
