//! The send protocol's writes on PostgreSQL, one function per step of
//! src/ledger/votes.rs with the same checks. Each runs inside a transaction
//! the caller opened with [`super::begin_write`]; the row is locked
//! (`FOR UPDATE`) before its state is checked, so two writers can never both
//! move it.

use alloy::primitives::{Address, B256, Bytes, U256};
use tokio_postgres::{GenericClient, Transaction};

use super::super::error::LedgerError;
use super::super::model::*;
use super::super::votes::{
    DecisionRecord, SignedVote, SpendRow, ensure_vote, expect_state, finish_from, not_this_votes,
    spent_total,
};

fn vote_query(clause: &str) -> String {
    format!("SELECT {VOTE_COLUMNS} FROM votes {clause}")
}

pub async fn get(
    client: &(impl GenericClient + Sync),
    id: i64,
) -> Result<Option<VoteRow>, LedgerError> {
    client
        .query_opt(&vote_query("WHERE id = $1"), &[&id])
        .await?
        .map(|r| vote_from_row(&r))
        .transpose()
}

/// The row, locked until the transaction ends.
async fn lock(tx: &Transaction<'_>, id: i64) -> Result<VoteRow, LedgerError> {
    tx.query_opt(&vote_query("WHERE id = $1 FOR UPDATE"), &[&id])
        .await?
        .map(|r| vote_from_row(&r))
        .transpose()?
        .ok_or(LedgerError::NoSuchVote { id })
}

async fn must_get(tx: &Transaction<'_>, id: i64) -> Result<VoteRow, LedgerError> {
    get(tx, id).await?.ok_or(LedgerError::NoSuchVote { id })
}

fn int(id: i64, what: &str, n: u64) -> Result<i64, LedgerError> {
    i64::try_from(n).map_err(|_| LedgerError::Rejected {
        id,
        detail: format!("{what} {n} out of range"),
    })
}

/// Every intent in input order; one row per (chain, dao, proposal, voter),
/// an existing one is returned instead of a new one.
pub async fn record_intents(
    tx: &Transaction<'_>,
    s: &Scope,
    news: &[NewIntent],
) -> Result<Vec<Intent>, LedgerError> {
    let mut out = Vec::with_capacity(news.len());
    for new in news {
        out.push(intent_in(tx, s, new).await?);
    }
    Ok(out)
}

async fn intent_in(
    tx: &Transaction<'_>,
    s: &Scope,
    new: &NewIntent,
) -> Result<Intent, LedgerError> {
    ensure_vote(new)?;
    let now = now_ms();
    let (dao, proposal, voter) = (&s.dao, new.proposal_id.to_string(), addr(new.voter));
    let inserted = tx
        .query_opt(
            &format!(
                "INSERT INTO votes (chain_id, dao, proposal_id, voter, node, round_id, decision,
                                    reason, strategy, rule, state, created_at, updated_at)
                 VALUES ($11, $1, $2, $3, $4, $5, $6, $7, $8, $9, 'intent', $10, $10)
                 ON CONFLICT (chain_id, dao, proposal_id, voter) DO NOTHING
                 RETURNING {VOTE_COLUMNS}"
            ),
            &[
                dao,
                &proposal,
                &voter,
                &new.node,
                &new.round_id,
                &new.decision.as_str(),
                &new.reason,
                &new.strategy,
                &new.rule,
                &now,
                &s.chain,
            ],
        )
        .await?;
    if let Some(row) = inserted {
        return Ok(Intent::Recorded(vote_from_row(&row)?));
    }
    let row = tx
        .query_one(
            &vote_query("WHERE chain_id = $4 AND dao = $1 AND proposal_id = $2 AND voter = $3"),
            &[dao, &proposal, &voter, &s.chain],
        )
        .await?;
    Ok(Intent::Existing(vote_from_row(&row)?))
}

/// A wallet's signed votes, in input order; only from `intent`.
pub async fn record_signed_many(
    tx: &Transaction<'_>,
    signed: &[SignedVote],
) -> Result<Vec<VoteRow>, LedgerError> {
    let mut out = Vec::with_capacity(signed.len());
    for s in signed {
        out.push(signed_in(tx, s).await?);
    }
    Ok(out)
}

async fn signed_in(tx: &Transaction<'_>, s: &SignedVote) -> Result<VoteRow, LedgerError> {
    let row = lock(tx, s.id).await?;
    expect_state(&row, &[VoteState::Intent], VoteState::Signed)?;
    insert_attempt(tx, s.id, s.nonce, s.tx_hash, &s.raw, s.max_cost).await?;
    tx.execute(
        "UPDATE votes SET state = 'signed', nonce = $2, tx_hash = $3, raw_tx = $4, error = NULL,
                signed_at = $5, updated_at = $5
         WHERE id = $1",
        &[
            &s.id,
            &int(s.id, "nonce", s.nonce)?,
            &hash(s.tx_hash),
            &s.raw.as_ref(),
            &now_ms(),
        ],
    )
    .await?;
    must_get(tx, s.id).await
}

pub async fn record_replacement(
    tx: &Transaction<'_>,
    id: i64,
    tx_hash: B256,
    raw: &Bytes,
    max_cost: Option<U256>,
) -> Result<VoteRow, LedgerError> {
    let row = lock(tx, id).await?;
    expect_state(&row, &[VoteState::Signed, VoteState::Sent], row.state)?;
    let nonce = row.nonce.ok_or_else(|| LedgerError::Rejected {
        id,
        detail: "a signed vote without a nonce".into(),
    })?;
    insert_attempt(tx, id, nonce, tx_hash, raw, max_cost).await?;
    tx.execute(
        "UPDATE votes SET tx_hash = $2, raw_tx = $3, updated_at = $4 WHERE id = $1",
        &[&id, &hash(tx_hash), &raw.as_ref(), &now_ms()],
    )
    .await?;
    must_get(tx, id).await
}

async fn insert_attempt(
    tx: &Transaction<'_>,
    id: i64,
    nonce: u64,
    tx_hash: B256,
    raw: &Bytes,
    max_cost: Option<U256>,
) -> Result<(), LedgerError> {
    tx.execute(
        "INSERT INTO vote_attempts (vote_id, nonce, tx_hash, raw_tx, created_at, max_cost_wei)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &id,
            &int(id, "nonce", nonce)?,
            &hash(tx_hash),
            &raw.as_ref(),
            &now_ms(),
            &max_cost.map(|c| c.to_string()),
        ],
    )
    .await?;
    Ok(())
}

pub async fn mark_sent(tx: &Transaction<'_>, id: i64) -> Result<VoteRow, LedgerError> {
    let row = lock(tx, id).await?;
    expect_state(&row, &[VoteState::Signed, VoteState::Sent], VoteState::Sent)?;
    tx.execute(
        "UPDATE votes SET state = 'sent', sent_at = COALESCE(sent_at, $2), updated_at = $2
         WHERE id = $1",
        &[&id, &now_ms()],
    )
    .await?;
    must_get(tx, id).await
}

pub async fn mark_mined(
    tx: &Transaction<'_>,
    id: i64,
    mined: &Mined,
) -> Result<VoteRow, LedgerError> {
    let to = if mined.success {
        VoteState::Confirmed
    } else {
        VoteState::Reverted
    };
    let row = lock(tx, id).await?;
    // From intent too, as on SQLite: a re-armed row's earlier attempt may
    // still be mined, and its receipt is the truth.
    expect_state(
        &row,
        &[VoteState::Intent, VoteState::Signed, VoteState::Sent],
        to,
    )?;
    let ours: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM vote_attempts WHERE vote_id = $1 AND tx_hash = $2)",
            &[&id, &hash(mined.tx_hash)],
        )
        .await?
        .try_get(0)?;
    if !ours {
        return Err(not_this_votes(id, mined.tx_hash));
    }
    let now = now_ms();
    tx.execute(
        "UPDATE vote_attempts SET fee_wei = $2, mined_at = COALESCE(mined_at, $3)
         WHERE tx_hash = $1",
        &[
            &hash(mined.tx_hash),
            &mined.fee_wei.map(|f| f.to_string()),
            &now,
        ],
    )
    .await?;
    if !mined.success && row.state == VoteState::Intent {
        return Ok(row);
    }
    tx.execute(
        "UPDATE votes SET state = $2, tx_hash = $3, block_number = $4, gas_used = $5,
                finished_at = $6, updated_at = $6
         WHERE id = $1",
        &[
            &id,
            &to.as_str(),
            &hash(mined.tx_hash),
            &int(id, "block number", mined.block_number)?,
            &int(id, "gas used", mined.gas_used)?,
            &now,
        ],
    )
    .await?;
    must_get(tx, id).await
}

pub async fn finish(
    tx: &Transaction<'_>,
    id: i64,
    to: VoteState,
    reason: &str,
) -> Result<VoteRow, LedgerError> {
    let row = lock(tx, id).await?;
    expect_state(&row, finish_from(to), to)?;
    tx.execute(
        "UPDATE votes SET state = $2, error = $3, finished_at = $4, updated_at = $4 WHERE id = $1",
        &[&id, &to.as_str(), &reason, &now_ms()],
    )
    .await?;
    must_get(tx, id).await
}

pub async fn reset_to_intent(
    tx: &Transaction<'_>,
    id: i64,
    reason: &str,
) -> Result<VoteRow, LedgerError> {
    let row = lock(tx, id).await?;
    expect_state(
        &row,
        &[VoteState::Signed, VoteState::Sent],
        VoteState::Intent,
    )?;
    tx.execute(
        "UPDATE votes SET state = 'intent', nonce = NULL, tx_hash = NULL, raw_tx = NULL,
                signed_at = NULL, sent_at = NULL, error = $2, updated_at = $3
         WHERE id = $1",
        &[&id, &reason, &now_ms()],
    )
    .await?;
    must_get(tx, id).await
}

pub async fn rearm(tx: &Transaction<'_>, id: i64, reason: &str) -> Result<VoteRow, LedgerError> {
    let row = lock(tx, id).await?;
    expect_state(
        &row,
        &[VoteState::Reverted, VoteState::Abandoned, VoteState::Failed],
        VoteState::Intent,
    )?;
    tx.execute(
        "UPDATE votes SET state = 'intent', nonce = NULL, tx_hash = NULL, raw_tx = NULL,
                block_number = NULL, gas_used = NULL, signed_at = NULL, sent_at = NULL,
                finished_at = NULL, error = $2, retries = retries + 1, updated_at = $3
         WHERE id = $1",
        &[&id, &reason, &now_ms()],
    )
    .await?;
    must_get(tx, id).await
}

pub async fn set_error(
    tx: &Transaction<'_>,
    id: i64,
    reason: &str,
) -> Result<VoteRow, LedgerError> {
    lock(tx, id).await?;
    tx.execute(
        "UPDATE votes SET error = $2, updated_at = $3 WHERE id = $1",
        &[&id, &reason, &now_ms()],
    )
    .await?;
    must_get(tx, id).await
}

pub async fn record_found(
    tx: &Transaction<'_>,
    s: &Scope,
    found: &[FoundVote],
) -> Result<Vec<Option<VoteRow>>, LedgerError> {
    let now = now_ms();
    let mut out = Vec::with_capacity(found.len());
    for f in found {
        let block = f.block_number.map(|b| i64::try_from(b).unwrap_or(i64::MAX));
        let row = tx
            .query_opt(
                &format!(
                    "INSERT INTO votes (chain_id, dao, proposal_id, voter, node, decision, reason,
                                        strategy, state, tx_hash, block_number, error,
                                        created_at, updated_at, finished_at, source)
                     VALUES ($10, $1, $2, $3, $4, $5, $6, 'chain', 'confirmed_external', $7, $8,
                             NULL, $9, $9, $9, 'chain')
                     ON CONFLICT (chain_id, dao, proposal_id, voter) DO NOTHING
                     RETURNING {VOTE_COLUMNS}"
                ),
                &[
                    &s.dao,
                    &f.proposal_id.to_string(),
                    &addr(f.voter),
                    &f.node,
                    &f.decision.as_str(),
                    &"found on chain (hasVoted) without a ledger row",
                    &f.tx_hash.map(hash),
                    &block,
                    &now,
                    &s.chain,
                ],
            )
            .await?;
        out.push(row.map(|r| vote_from_row(&r)).transpose()?);
    }
    Ok(out)
}

/// Per (chain, wallet): every DAO's attempts on the chain count.
pub async fn spent_since(
    client: &(impl GenericClient + Sync),
    chain: i64,
    voter: Address,
    since_ms: i64,
) -> Result<U256, LedgerError> {
    let rows = client
        .query(
            "SELECT a.fee_wei, a.max_cost_wei, v.state, a.tx_hash = v.tx_hash
             FROM vote_attempts a JOIN votes v ON v.id = a.vote_id
             WHERE v.chain_id = $3 AND v.voter = $1 AND a.created_at >= $2",
            &[&addr(voter), &since_ms, &chain],
        )
        .await?;
    let rows = rows
        .iter()
        .map(|r| -> Result<SpendRow, LedgerError> {
            Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))
        })
        .collect::<Result<Vec<_>, _>>()?;
    spent_total(rows)
}

pub async fn record_decisions(
    tx: &Transaction<'_>,
    s: &Scope,
    decisions: &[DecisionRecord],
) -> Result<(), LedgerError> {
    let now = now_ms();
    for d in decisions {
        tx.execute(
            "INSERT INTO decisions (chain_id, dao, proposal_id, voter, node, round_id, decision,
                                    reason, strategy, rule, decided_at)
             VALUES ($11, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (chain_id, dao, proposal_id, voter) DO UPDATE SET
                node = excluded.node, round_id = excluded.round_id,
                decision = excluded.decision, reason = excluded.reason,
                strategy = excluded.strategy, rule = excluded.rule,
                decided_at = excluded.decided_at",
            &[
                &s.dao,
                &d.proposal_id.to_string(),
                &addr(d.voter),
                &d.node,
                &d.round_id,
                &d.decision.as_str(),
                &d.reason,
                &d.strategy,
                &d.rule,
                &now,
                &s.chain,
            ],
        )
        .await?;
    }
    Ok(())
}

pub async fn attempts(
    client: &(impl GenericClient + Sync),
    id: i64,
) -> Result<Vec<Attempt>, LedgerError> {
    client
        .query(
            "SELECT vote_id, nonce, tx_hash, raw_tx, created_at FROM vote_attempts
             WHERE vote_id = $1 ORDER BY id",
            &[&id],
        )
        .await?
        .iter()
        .map(attempt_from_row)
        .collect()
}
