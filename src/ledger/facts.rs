//! Gathers the chain facts [`super::reconcile::decide`] needs for every
//! unfinished row, applies the state changes it decides, and hands the rest
//! (sign, re-broadcast, wait) to the round. Run at start-up and at the start
//! of every round, before anything is sent.

use std::collections::{HashMap, HashSet};

use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionReceipt;
use futures::{StreamExt, TryStreamExt, stream};

use super::Ledger;
use super::error::LedgerError;
use super::model::{Attempt, Mined, VoteRow};
use super::reconcile::{Action, Facts, decide};
use crate::dao::{Dao, DaoError, Head};
use crate::telemetry::redact::redact_text;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Dao(#[from] DaoError),
    #[error("reconciling vote {vote_id}: {call} failed: {detail}")]
    Rpc {
        vote_id: i64,
        call: String,
        detail: String,
    },
}

/// One unfinished row and what to do about it. `row` is as it is after the
/// action's state change was recorded.
#[derive(Debug, Clone)]
pub struct Reconciled {
    pub row: VoteRow,
    pub action: Action,
}

/// Reconciles every unfinished row of `dao` against the chain at `head`.
pub async fn reconcile(
    ledger: &Ledger,
    provider: &DynProvider,
    dao: &dyn Dao,
    head: &Head,
    concurrency: usize,
) -> Result<Vec<Reconciled>, ReconcileError> {
    reconcile_for(ledger, provider, dao, head, concurrency, None).await
}

/// [`reconcile`] for the rows of `voters` only (`None`: every row). A
/// round reconciles its own nodes' rows: another lease group's rows belong
/// to the daemon leading that group, and a removed node's rows wait for it
/// to return.
pub async fn reconcile_for(
    ledger: &Ledger,
    provider: &DynProvider,
    dao: &dyn Dao,
    head: &Head,
    concurrency: usize,
    voters: Option<&HashSet<Address>>,
) -> Result<Vec<Reconciled>, ReconcileError> {
    let rows: Vec<VoteRow> = ledger
        .pending()
        .await?
        .into_iter()
        .filter(|r| r.dao == dao.address())
        .filter(|r| voters.is_none_or(|only| only.contains(&r.voter)))
        .collect();
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let pairs: Vec<_> = rows.iter().map(|r| (r.proposal_id, r.voter)).collect();
    let voted = dao.has_voted(&pairs, head.block_id()).await?;
    let nonces = confirmed_nonces(provider, &rows, head, concurrency).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (row, has_voted) in rows.into_iter().zip(voted) {
        let attempts = ledger.attempts(row.id).await?;
        let (receipt, in_mempool) = if has_voted || !attempts.is_empty() {
            chain_view(provider, &row, &attempts).await?
        } else {
            (None, false)
        };
        let facts = Facts {
            has_voted,
            receipt,
            in_mempool,
            confirmed_nonce: nonces.get(&row.voter).copied().unwrap_or_default(),
        };
        let action = decide(&row, attempts.last(), &facts);
        let mut row = apply(ledger, &row, &action).await?;
        if let Action::Mined(m) = &action
            && !m.success
        {
            let (why, _) =
                crate::dao::explain_revert(provider, dao, m.tx_hash, m.block_number).await;
            row = ledger.set_error(row.id, &why).await?;
        }
        tracing::info!(
            vote_id = row.id,
            node = %row.node,
            proposal_id = %row.proposal_id,
            action = ?action_name(&action),
            "ledger row reconciled"
        );
        out.push(Reconciled { row, action });
    }
    Ok(out)
}

/// Records the state change an action implies; the row as it now is.
pub async fn apply(
    ledger: &Ledger,
    row: &VoteRow,
    action: &Action,
) -> Result<VoteRow, LedgerError> {
    match action {
        Action::Mined(m) => ledger.mark_mined(row.id, *m).await,
        Action::External => {
            ledger
                .mark_external(
                    row.id,
                    "hasVoted is true but no transaction of ours was mined",
                )
                .await
        }
        Action::Resign { reason } => ledger.reset_to_intent(row.id, reason).await,
        Action::Sign | Action::Rebroadcast { .. } | Action::Wait => Ok(row.clone()),
    }
}

fn action_name(a: &Action) -> &'static str {
    match a {
        Action::Sign => "sign",
        Action::Mined(m) if m.success => "confirmed",
        Action::Mined(_) => "reverted",
        Action::External => "confirmed_external",
        Action::Rebroadcast { .. } => "rebroadcast",
        Action::Wait => "wait",
        Action::Resign { .. } => "resign",
    }
}

async fn confirmed_nonces(
    provider: &DynProvider,
    rows: &[VoteRow],
    head: &Head,
    concurrency: usize,
) -> Result<HashMap<Address, u64>, ReconcileError> {
    let mut voters: Vec<(Address, i64)> = rows.iter().map(|r| (r.voter, r.id)).collect();
    voters.sort();
    voters.dedup_by_key(|(a, _)| *a);
    stream::iter(voters)
        .map(|(voter, vote_id)| async move {
            provider
                .get_transaction_count(voter)
                .block_id(head.block_id())
                .await
                .map(|n| (voter, n))
                .map_err(|e| rpc_err(vote_id, format!("eth_getTransactionCount({voter})"), &e))
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await
}

/// A successful receipt for any attempt, or a reverted one for an attempt
/// of the row's current nonce (the reverts of a re-armed row's earlier
/// nonces are history); else whether the node still holds an attempt.
async fn chain_view(
    provider: &DynProvider,
    row: &VoteRow,
    attempts: &[Attempt],
) -> Result<(Option<Mined>, bool), ReconcileError> {
    let vote_id = row.id;
    let mut reverted = None;
    for a in attempts {
        let receipt = provider
            .get_transaction_receipt(a.tx_hash)
            .await
            .map_err(|e| {
                rpc_err(
                    vote_id,
                    format!("eth_getTransactionReceipt({})", a.tx_hash),
                    &e,
                )
            })?;
        if let Some(r) = receipt {
            let m = mined(a.tx_hash, &r);
            if m.success {
                return Ok((Some(m), false));
            }
            if Some(a.nonce) == row.nonce {
                reverted = Some(m);
            }
        }
    }
    if reverted.is_some() {
        return Ok((reverted, false));
    }
    for a in attempts.iter().filter(|a| Some(a.nonce) == row.nonce) {
        let known = provider
            .get_transaction_by_hash(a.tx_hash)
            .await
            .map_err(|e| {
                rpc_err(
                    vote_id,
                    format!("eth_getTransactionByHash({})", a.tx_hash),
                    &e,
                )
            })?;
        if known.is_some() {
            return Ok((None, true));
        }
    }
    Ok((None, false))
}

pub fn mined(tx_hash: B256, r: &TransactionReceipt) -> Mined {
    Mined {
        tx_hash,
        block_number: r.block_number.unwrap_or_default(),
        gas_used: r.gas_used,
        success: r.status(),
        fee_wei: Some(U256::from(r.gas_used) * U256::from(r.effective_gas_price)),
    }
}

fn rpc_err(vote_id: i64, call: String, e: &impl std::fmt::Display) -> ReconcileError {
    ReconcileError::Rpc {
        vote_id,
        call,
        detail: redact_text(&e.to_string(), &[]).into_owned(),
    }
}
