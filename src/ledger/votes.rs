//! The send protocol's writes. Each function is one IMMEDIATE transaction
//! that checks the row's current state and moves it, so a step can never be
//! applied twice or out of order, whoever calls.

use alloy::primitives::{Address, B256, Bytes, U256};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::error::LedgerError;
use super::model::*;
use crate::strategy::VoteChoice;

fn begin(conn: &mut Connection) -> Result<Transaction<'_>, LedgerError> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<VoteRow>, LedgerError> {
    conn.query_row(
        &format!("SELECT {VOTE_COLUMNS} FROM votes WHERE id = ?1"),
        [id],
        |r| Ok(vote_from_row(r)),
    )
    .optional()?
    .transpose()
}

fn must_get(conn: &Connection, id: i64) -> Result<VoteRow, LedgerError> {
    get(conn, id)?.ok_or(LedgerError::NoSuchVote { id })
}

/// The row must be in one of `from`; otherwise the move to `to` is refused.
pub(super) fn expect_state(
    row: &VoteRow,
    from: &[VoteState],
    to: VoteState,
) -> Result<(), LedgerError> {
    if from.contains(&row.state) {
        Ok(())
    } else {
        Err(LedgerError::InvalidTransition {
            id: row.id,
            from: row.state,
            to,
        })
    }
}

/// Every intent of a round in one transaction (one fsync instead of one per
/// vote); all or none are recorded. Results in input order.
pub fn record_intents(
    conn: &mut Connection,
    s: &Scope,
    news: &[NewIntent],
) -> Result<Vec<Intent>, LedgerError> {
    let tx = begin(conn)?;
    let recorded = news
        .iter()
        .map(|new| intent_in(&tx, s, new))
        .collect::<Result<Vec<_>, _>>()?;
    tx.commit()?;
    Ok(recorded)
}

/// A skip is a decision, not a vote: it never gets a row of `votes`.
pub(super) fn ensure_vote(new: &NewIntent) -> Result<(), LedgerError> {
    if new.decision == VoteChoice::Skip {
        return Err(LedgerError::NotAVote {
            what: format!("proposal {} voter {}", new.proposal_id, new.voter),
        });
    }
    Ok(())
}

/// A receipt offered for a transaction the vote never signed.
pub(super) fn not_this_votes(id: i64, tx_hash: B256) -> LedgerError {
    LedgerError::Rejected {
        id,
        detail: format!("{tx_hash} is not one of this vote's transactions"),
    }
}

fn intent_in(tx: &Transaction<'_>, s: &Scope, new: &NewIntent) -> Result<Intent, LedgerError> {
    ensure_vote(new)?;
    let now = now_ms();
    let inserted = tx.execute(
        "INSERT INTO votes (chain_id, dao, proposal_id, voter, node, round_id, decision, reason,
                            strategy, rule, state, created_at, updated_at)
         VALUES (?11, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'intent', ?10, ?10)
         ON CONFLICT (chain_id, dao, proposal_id, voter) DO NOTHING",
        params![
            s.dao,
            new.proposal_id.to_string(),
            addr(new.voter),
            new.node,
            new.round_id,
            new.decision.as_str(),
            new.reason,
            new.strategy,
            new.rule,
            now,
            s.chain,
        ],
    )?;
    let row = tx.query_row(
        &format!(
            "SELECT {VOTE_COLUMNS} FROM votes
             WHERE chain_id = ?1 AND dao = ?2 AND proposal_id = ?3 AND voter = ?4"
        ),
        params![s.chain, s.dao, new.proposal_id.to_string(), addr(new.voter)],
        |r| Ok(vote_from_row(r)),
    )??;
    Ok(if inserted == 1 {
        Intent::Recorded(row)
    } else {
        Intent::Existing(row)
    })
}

/// One vote's signed transaction, for [`record_signed_many`]: `max_cost` is
/// its gas limit × max fee, what it may cost at most (the spend budget).
#[derive(Debug, Clone)]
pub struct SignedVote {
    pub id: i64,
    pub nonce: u64,
    pub tx_hash: B256,
    pub raw: Bytes,
    pub max_cost: Option<U256>,
}

/// A wallet's signed votes (each only from `intent`) in one transaction (one fsync);
/// all or none are recorded. Results in input order.
pub fn record_signed_many(
    conn: &mut Connection,
    signed: &[SignedVote],
) -> Result<Vec<VoteRow>, LedgerError> {
    let tx = begin(conn)?;
    let rows = signed
        .iter()
        .map(|s| signed_in(&tx, s.id, s.nonce, s.tx_hash, &s.raw, s.max_cost))
        .collect::<Result<Vec<_>, _>>()?;
    tx.commit()?;
    Ok(rows)
}

fn signed_in(
    tx: &Transaction<'_>,
    id: i64,
    nonce: u64,
    tx_hash: B256,
    raw: &Bytes,
    max_cost: Option<U256>,
) -> Result<VoteRow, LedgerError> {
    let row = must_get(tx, id)?;
    expect_state(&row, &[VoteState::Intent], VoteState::Signed)?;
    insert_attempt(tx, id, nonce, tx_hash, raw, max_cost)?;
    tx.execute(
        "UPDATE votes SET state = 'signed', nonce = ?2, tx_hash = ?3, raw_tx = ?4, error = NULL,
                signed_at = ?5, updated_at = ?5
         WHERE id = ?1",
        params![id, nonce as i64, hash(tx_hash), raw.as_ref(), now_ms()],
    )?;
    must_get(tx, id)
}

/// Before broadcasting a fee-bumped replacement: same nonce, new bytes. The
/// earlier attempts stay on record, since any one of them may be mined.
pub fn record_replacement(
    conn: &mut Connection,
    id: i64,
    tx_hash: B256,
    raw: &Bytes,
    max_cost: Option<U256>,
) -> Result<VoteRow, LedgerError> {
    let tx = begin(conn)?;
    let row = must_get(&tx, id)?;
    expect_state(&row, &[VoteState::Signed, VoteState::Sent], row.state)?;
    let nonce = row.nonce.ok_or_else(|| LedgerError::Rejected {
        id,
        detail: "a signed vote without a nonce".into(),
    })?;
    insert_attempt(&tx, id, nonce, tx_hash, raw, max_cost)?;
    tx.execute(
        "UPDATE votes SET tx_hash = ?2, raw_tx = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, hash(tx_hash), raw.as_ref(), now_ms()],
    )?;
    let row = must_get(&tx, id)?;
    tx.commit()?;
    Ok(row)
}

fn insert_attempt(
    tx: &Transaction<'_>,
    id: i64,
    nonce: u64,
    tx_hash: B256,
    raw: &Bytes,
    max_cost: Option<U256>,
) -> Result<(), LedgerError> {
    let nonce = i64::try_from(nonce).map_err(|_| LedgerError::Rejected {
        id,
        detail: format!("nonce {nonce} out of range"),
    })?;
    tx.execute(
        "INSERT INTO vote_attempts (vote_id, nonce, tx_hash, raw_tx, created_at, max_cost_wei)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            id,
            nonce,
            hash(tx_hash),
            raw.as_ref(),
            now_ms(),
            max_cost.map(|c| c.to_string())
        ],
    )?;
    Ok(())
}

/// After the node accepted the transaction (or said it already knows it).
pub fn mark_sent(conn: &mut Connection, id: i64) -> Result<VoteRow, LedgerError> {
    let tx = begin(conn)?;
    let row = must_get(&tx, id)?;
    expect_state(&row, &[VoteState::Signed, VoteState::Sent], VoteState::Sent)?;
    tx.execute(
        "UPDATE votes SET state = 'sent', sent_at = COALESCE(sent_at, ?2), updated_at = ?2
         WHERE id = ?1",
        params![id, now_ms()],
    )?;
    let row = must_get(&tx, id)?;
    tx.commit()?;
    Ok(row)
}

/// A receipt for one of the vote's attempts: `confirmed` or `reverted`.
pub fn mark_mined(conn: &mut Connection, id: i64, mined: &Mined) -> Result<VoteRow, LedgerError> {
    let to = if mined.success {
        VoteState::Confirmed
    } else {
        VoteState::Reverted
    };
    let tx = begin(conn)?;
    let row = must_get(&tx, id)?;
    // From intent too: a row re-armed after its nonce was taken keeps its old
    // attempts, and if one of them is mined after all, the receipt is the truth.
    expect_state(
        &row,
        &[VoteState::Intent, VoteState::Signed, VoteState::Sent],
        to,
    )?;
    let ours: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM vote_attempts WHERE vote_id = ?1 AND tx_hash = ?2)",
        params![id, hash(mined.tx_hash)],
        |r| r.get(0),
    )?;
    if !ours {
        return Err(not_this_votes(id, mined.tx_hash));
    }
    let now = now_ms();
    tx.execute(
        "UPDATE vote_attempts SET fee_wei = ?2, mined_at = COALESCE(mined_at, ?3) WHERE tx_hash = ?1",
        params![
            hash(mined.tx_hash),
            mined.fee_wei.map(|f| f.to_string()),
            now
        ],
    )?;
    if !mined.success && row.state == VoteState::Intent {
        // An earlier attempt of a re-armed row: its revert is history, and
        // the row waits for its new signature.
        tx.commit()?;
        return Ok(row);
    }
    tx.execute(
        "UPDATE votes SET state = ?2, tx_hash = ?3, block_number = ?4, gas_used = ?5,
                finished_at = ?6, updated_at = ?6
         WHERE id = ?1",
        params![
            id,
            to.as_str(),
            hash(mined.tx_hash),
            mined.block_number as i64,
            mined.gas_used as i64,
            now
        ],
    )?;
    let row = must_get(&tx, id)?;
    tx.commit()?;
    Ok(row)
}

/// The states a terminal move with a reason may start from.
pub(super) fn finish_from(to: VoteState) -> &'static [VoteState] {
    match to {
        VoteState::Abandoned => &[VoteState::Intent],
        VoteState::Failed => &[VoteState::Intent, VoteState::Signed, VoteState::Sent],
        // The chain counts a vote: whatever the row said before, it is final now.
        VoteState::ConfirmedExternal => &[
            VoteState::Intent,
            VoteState::Signed,
            VoteState::Sent,
            VoteState::Reverted,
            VoteState::Abandoned,
            VoteState::Failed,
        ],
        _ => &[],
    }
}

/// Terminal moves that carry a reason instead of a receipt.
pub fn finish(
    conn: &mut Connection,
    id: i64,
    to: VoteState,
    reason: &str,
) -> Result<VoteRow, LedgerError> {
    let tx = begin(conn)?;
    let row = must_get(&tx, id)?;
    expect_state(&row, finish_from(to), to)?;
    let now = now_ms();
    tx.execute(
        "UPDATE votes SET state = ?2, error = ?3, finished_at = ?4, updated_at = ?4 WHERE id = ?1",
        params![id, to.as_str(), reason, now],
    )?;
    let row = must_get(&tx, id)?;
    tx.commit()?;
    Ok(row)
}

/// Reconciliation proved the signed transaction can never be mined (its nonce
/// went to another transaction) and the chain shows no vote: back to
/// `intent`, same decision, to be signed again. The old attempts stay.
pub fn reset_to_intent(
    conn: &mut Connection,
    id: i64,
    reason: &str,
) -> Result<VoteRow, LedgerError> {
    let tx = begin(conn)?;
    let row = must_get(&tx, id)?;
    expect_state(
        &row,
        &[VoteState::Signed, VoteState::Sent],
        VoteState::Intent,
    )?;
    tx.execute(
        "UPDATE votes SET state = 'intent', nonce = NULL, tx_hash = NULL, raw_tx = NULL,
                signed_at = NULL, sent_at = NULL, error = ?2, updated_at = ?3
         WHERE id = ?1",
        params![id, reason, now_ms()],
    )?;
    let row = must_get(&tx, id)?;
    tx.commit()?;
    Ok(row)
}

/// The chain did not count the vote and the proposal is still open: back to
/// `intent` with the recorded decision, to be signed again with a new nonce.
/// Only from an unsuccessful state; the caller has proven that `hasVoted` is
/// false after the failure and that every attempt's nonce is used, so no
/// earlier attempt can still be mined. The old attempts stay on record.
pub fn rearm(conn: &mut Connection, id: i64, reason: &str) -> Result<VoteRow, LedgerError> {
    let tx = begin(conn)?;
    let row = must_get(&tx, id)?;
    expect_state(
        &row,
        &[VoteState::Reverted, VoteState::Abandoned, VoteState::Failed],
        VoteState::Intent,
    )?;
    tx.execute(
        "UPDATE votes SET state = 'intent', nonce = NULL, tx_hash = NULL, raw_tx = NULL,
                block_number = NULL, gas_used = NULL, signed_at = NULL, sent_at = NULL,
                finished_at = NULL, error = ?2, retries = retries + 1, updated_at = ?3
         WHERE id = ?1",
        params![id, reason, now_ms()],
    )?;
    let row = must_get(&tx, id)?;
    tx.commit()?;
    Ok(row)
}

/// Why the last step of a row did not go as planned (a decoded revert, a
/// refusal that passes), without moving it.
pub fn set_error(conn: &mut Connection, id: i64, reason: &str) -> Result<VoteRow, LedgerError> {
    let tx = begin(conn)?;
    must_get(&tx, id)?;
    tx.execute(
        "UPDATE votes SET error = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, reason, now_ms()],
    )?;
    let row = must_get(&tx, id)?;
    tx.commit()?;
    Ok(row)
}

/// Records votes the chain has and the ledger had no row for (after a lost
/// or restored ledger), as `confirmed_external` with source `chain`. A pair
/// that has a row keeps it. Rows inserted, in input order (`None` if kept).
pub fn record_found(
    conn: &mut Connection,
    s: &Scope,
    found: &[FoundVote],
) -> Result<Vec<Option<VoteRow>>, LedgerError> {
    let tx = begin(conn)?;
    let now = now_ms();
    let mut out = Vec::with_capacity(found.len());
    for f in found {
        let inserted = tx.execute(
            "INSERT INTO votes (chain_id, dao, proposal_id, voter, node, decision, reason,
                                strategy, state, tx_hash, block_number, error, created_at,
                                updated_at, finished_at, source)
             VALUES (?10, ?1, ?2, ?3, ?4, ?5, ?6, 'chain', 'confirmed_external', ?7, ?8, NULL,
                     ?9, ?9, ?9, 'chain')
             ON CONFLICT (chain_id, dao, proposal_id, voter) DO NOTHING",
            params![
                s.dao,
                f.proposal_id.to_string(),
                addr(f.voter),
                f.node,
                f.decision.as_str(),
                "found on chain (hasVoted) without a ledger row",
                f.tx_hash.map(hash),
                f.block_number.map(|b| b as i64),
                now,
                s.chain,
            ],
        )?;
        out.push(if inserted == 1 {
            Some(must_get(&tx, tx.last_insert_rowid())?)
        } else {
            None
        });
    }
    tx.commit()?;
    Ok(out)
}

/// What `voter`'s attempts on `chain` signed since `since_ms` cost (mined
/// ones) or may still cost (the newest attempt of a vote still in flight),
/// in every DAO on that chain: the wallet pays for all of them.
pub fn spent_since(
    conn: &Connection,
    chain: i64,
    voter: Address,
    since_ms: i64,
) -> Result<U256, LedgerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.fee_wei, a.max_cost_wei, v.state, a.tx_hash = v.tx_hash
         FROM vote_attempts a JOIN votes v ON v.id = a.vote_id
         WHERE v.chain_id = ?3 AND v.voter = ?1 AND a.created_at >= ?2",
    )?;
    let rows = stmt.query_map(params![addr(voter), since_ms, chain], |r| {
        Ok::<SpendRow, rusqlite::Error>((
            r.get::<_, Option<String>>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<bool>>(3)?,
        ))
    })?;
    let rows = rows.collect::<Result<Vec<_>, _>>()?;
    spent_total(rows)
}

/// One attempt of [`spent_since`]: its fee if mined, its maximum cost, its
/// vote's state, and whether it is the vote's newest attempt.
pub(super) type SpendRow = (Option<String>, Option<String>, String, Option<bool>);

/// Mined attempts count what they paid; the newest attempt of a vote in
/// flight counts what it may still pay.
pub(super) fn spent_total(rows: Vec<SpendRow>) -> Result<U256, LedgerError> {
    let mut total = U256::ZERO;
    for (fee, max_cost, state, latest) in rows {
        let in_flight = matches!(state.as_str(), "signed" | "sent") && latest == Some(true);
        let counted = match (fee, max_cost) {
            (Some(fee), _) => Some(fee),
            (None, Some(max)) if in_flight => Some(max),
            _ => None,
        };
        if let Some(text) = counted {
            let value: U256 = text.parse().map_err(|e| LedgerError::Corrupt {
                what: "vote_attempts.fee_wei".into(),
                detail: format!("{text:?}: {e}"),
            })?;
            total = total.saturating_add(value);
        }
    }
    Ok(total)
}

/// One strategy decision, skips included, as the round made it.
#[derive(Debug, Clone)]
pub struct DecisionRecord {
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

impl From<DecisionRecord> for NewIntent {
    /// The intent a vote decision becomes (a skip is refused when recorded).
    fn from(d: DecisionRecord) -> NewIntent {
        NewIntent {
            dao: d.dao,
            proposal_id: d.proposal_id,
            voter: d.voter,
            node: d.node,
            round_id: d.round_id,
            decision: d.decision,
            reason: d.reason,
            strategy: d.strategy,
            rule: d.rule,
        }
    }
}

/// The latest decision per pair (a skip is decided again every round, so
/// only the newest one is kept).
pub fn record_decisions(
    conn: &mut Connection,
    s: &Scope,
    decisions: &[DecisionRecord],
) -> Result<(), LedgerError> {
    let tx = begin(conn)?;
    let now = now_ms();
    for d in decisions {
        tx.execute(
            "INSERT INTO decisions (chain_id, dao, proposal_id, voter, node, round_id, decision,
                                    reason, strategy, rule, decided_at)
             VALUES (?11, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (chain_id, dao, proposal_id, voter) DO UPDATE SET
                node = excluded.node, round_id = excluded.round_id,
                decision = excluded.decision, reason = excluded.reason,
                strategy = excluded.strategy, rule = excluded.rule,
                decided_at = excluded.decided_at",
            params![
                s.dao,
                d.proposal_id.to_string(),
                addr(d.voter),
                d.node,
                d.round_id,
                d.decision.as_str(),
                d.reason,
                d.strategy,
                d.rule,
                now,
                s.chain,
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}

pub fn attempts(conn: &Connection, id: i64) -> Result<Vec<Attempt>, LedgerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT vote_id, nonce, tx_hash, raw_tx, created_at FROM vote_attempts
         WHERE vote_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([id], |r| Ok(attempt_from_row(r)))?;
    rows.map(|r| r?).collect()
}
