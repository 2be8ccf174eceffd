//! Signing and broadcasting. Per wallet, votes are estimated, checked against
//! the gas balance, then signed with consecutive nonces and sent without
//! waiting for receipts (pipelined); wallets run side by side. The signed
//! bytes and hash are in the ledger before they leave the process, so a crash
//! at any point resends exactly these bytes and never a second signature.

use std::time::Instant;

use alloy::eips::BlockId;
use alloy::eips::eip2718::Encodable2718;
use alloy::network::{NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use super::context::Voting;
use super::plan::{Job, whole_tokens};
use super::report::Leftover;

/// A transaction on its way; what the confirmation phase watches.
#[derive(Debug, Clone)]
pub struct InFlight {
    pub voter: usize,
    pub vote_id: i64,
    pub proposal_id: U256,
    /// Every hash signed for this vote's nonce (fee bumps add one).
    pub hashes: Vec<B256>,
    /// The last request signed, for fee bumps (same nonce).
    pub request: Option<TransactionRequest>,
    pub sent_block: u64,
}

#[derive(Debug, Default)]
pub struct SendOutcome {
    pub in_flight: Vec<InFlight>,
    /// Refused by the chain before sending (estimation reverted): final.
    pub refused: u64,
    /// Simulated successfully (dry run).
    pub simulated: u64,
    pub left: Vec<Leftover>,
}

impl SendOutcome {
    fn merge(&mut self, other: SendOutcome) {
        self.in_flight.extend(other.in_flight);
        self.refused += other.refused;
        self.simulated += other.simulated;
        self.left.extend(other.left);
    }
}

/// Gas limit headroom over the estimate: state can move between estimate and inclusion.
fn gas_limit(estimate: u64) -> u64 {
    estimate.saturating_mul(12) / 10 + 10_000
}

pub async fn send_all(
    v: &Voting,
    jobs: Vec<Job>,
    head_block: u64,
    deadline: Instant,
    cancel: &CancellationToken,
) -> SendOutcome {
    let fees = match v.provider.estimate_eip1559_fees().await {
        Ok(f) => f,
        Err(e) => {
            let reason = format!(
                "cannot estimate fees: {}",
                crate::telemetry::redact::redact_text(&e.to_string(), &[])
            );
            return SendOutcome {
                left: jobs.iter().map(|j| leftover(v, j, &reason)).collect(),
                ..SendOutcome::default()
            };
        }
    };
    let mut per_voter: Vec<Vec<Job>> = vec![Vec::new(); v.voters.len()];
    for job in jobs {
        per_voter[job.voter].push(job);
    }
    let runs = per_voter
        .into_iter()
        .enumerate()
        .filter(|(_, jobs)| !jobs.is_empty())
        .map(|(voter, jobs)| {
            send_for_voter(
                v,
                voter,
                jobs,
                fees.max_fee_per_gas,
                fees.max_priority_fee_per_gas,
                head_block,
                deadline,
                cancel,
            )
        });
    let mut out = SendOutcome::default();
    for part in join_all(runs).await {
        out.merge(part);
    }
    out
}

fn leftover(v: &Voting, job: &Job, reason: &str) -> Leftover {
    Leftover {
        node: v.voters[job.voter].name.clone(),
        proposal_id: job.call.proposal_id.to_string(),
        reason: reason.to_owned(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn send_for_voter(
    v: &Voting,
    voter_idx: usize,
    jobs: Vec<Job>,
    max_fee: u128,
    priority_fee: u128,
    head_block: u64,
    deadline: Instant,
    cancel: &CancellationToken,
) -> SendOutcome {
    let voter = &v.voters[voter_idx];
    let mut out = SendOutcome::default();

    // Estimate against the pending block: the vote is judged by the block that includes it.
    let estimates = join_all(jobs.iter().map(|job| {
        crate::dao::estimate_vote(
            &v.provider,
            v.dao.as_ref(),
            &job.call,
            voter.address,
            BlockId::pending(),
        )
    }))
    .await;
    let mut ready: Vec<(Job, u64)> = Vec::new();
    for (job, estimate) in jobs.into_iter().zip(estimates) {
        match estimate {
            Ok(Ok(gas)) => ready.push((job, gas)),
            Ok(Err(revert)) => {
                // The chain refused the vote: a decision to record, not an error to retry.
                let reason = format!("the DAO refuses this vote: {revert}");
                tracing::warn!(NODE = %voter.name, PROPOSAL_ID = %job.call.proposal_id, %reason, "vote not sent");
                if let Some(row) = &job.row {
                    let marked = if revert.already_voted() {
                        v.ledger.mark_external(row.id, &reason).await
                    } else {
                        v.ledger.mark_abandoned(row.id, &reason).await
                    };
                    if let Err(e) = marked {
                        tracing::error!(vote_id = row.id, error = %e, "cannot record the refusal");
                    }
                    v.metrics
                        .votes
                        .with_label_values(&[voter.name.as_str(), "abandoned"])
                        .inc();
                }
                out.refused += 1;
                out.left.push(leftover(v, &job, &reason));
            }
            Err(e) => out.left.push(leftover(
                v,
                &job,
                &format!("gas estimation failed, will retry next round: {e}"),
            )),
        }
    }
    if v.round.dry_run {
        out.simulated = ready.len() as u64;
        return out;
    }
    if ready.is_empty() {
        return out;
    }

    let needed: U256 = ready
        .iter()
        .map(|(_, gas)| U256::from(gas_limit(*gas)) * U256::from(max_fee))
        .fold(U256::ZERO, |a, b| a + b);
    match v.provider.get_balance(voter.address).await {
        Ok(balance) if balance < needed => {
            let reason = format!(
                "insufficient gas balance: {:.6} ETH, {} vote(s) need up to {:.6} ETH",
                whole_tokens(balance),
                ready.len(),
                whole_tokens(needed)
            );
            tracing::error!(NODE = %voter.name, %reason, "wallet skipped");
            v.metrics
                .insufficient_funds
                .with_label_values(&[voter.name.as_str()])
                .inc();
            out.left
                .extend(ready.iter().map(|(job, _)| leftover(v, job, &reason)));
            return out;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(NODE = %voter.name, error = %e, "cannot read the gas balance; sending anyway")
        }
    }

    let mut nonce = match v
        .provider
        .get_transaction_count(voter.address)
        .pending()
        .await
    {
        Ok(n) => n,
        Err(e) => {
            let reason = format!("cannot read the wallet's nonce: {e}");
            out.left
                .extend(ready.iter().map(|(job, _)| leftover(v, job, &reason)));
            return out;
        }
    };
    let mut pending = ready.into_iter();
    while let Some((job, gas)) = pending.next() {
        if cancel.is_cancelled() || Instant::now() >= deadline {
            let reason = if cancel.is_cancelled() {
                "daemon stopping; decision kept for the next round"
            } else {
                "round deadline reached before sending; decision kept for the next round"
            };
            out.left.push(leftover(v, &job, reason));
            out.left
                .extend(pending.map(|(j, _)| leftover(v, &j, reason)));
            break;
        }
        let Some(row) = job.row.clone() else { continue };
        let request = job
            .call
            .request(voter.address)
            .with_nonce(nonce)
            .with_chain_id(v.chain_id)
            .with_gas_limit(gas_limit(gas))
            .with_max_fee_per_gas(max_fee)
            .with_max_priority_fee_per_gas(priority_fee);
        match sign_and_send(v, voter_idx, row.id, nonce, request.clone(), false).await {
            Ok(hash) => {
                nonce += 1;
                out.in_flight.push(InFlight {
                    voter: voter_idx,
                    vote_id: row.id,
                    proposal_id: job.call.proposal_id,
                    hashes: vec![hash],
                    request: Some(request),
                    sent_block: head_block,
                });
            }
            Err(reason) => {
                // The nonce may or may not be used now: stop this wallet, reconcile next round.
                out.left.push(leftover(v, &job, &reason));
                out.left.extend(pending.map(|(j, _)| {
                    leftover(
                        v,
                        &j,
                        "not sent: an earlier vote of this wallet failed to send",
                    )
                }));
                break;
            }
        }
    }
    out
}

/// Signs `request`, records the signed bytes, broadcasts them and marks the
/// vote sent. `replacement` records a fee bump of an already signed vote.
pub async fn sign_and_send(
    v: &Voting,
    voter_idx: usize,
    vote_id: i64,
    nonce: u64,
    request: TransactionRequest,
    replacement: bool,
) -> Result<B256, String> {
    let voter = &v.voters[voter_idx];
    let envelope = request
        .build(&voter.wallet)
        .await
        .map_err(|e| format!("signing failed: {e}"))?;
    let hash = *envelope.tx_hash();
    let raw = Bytes::from(envelope.encoded_2718());
    let recorded = if replacement {
        v.ledger
            .record_replacement(vote_id, hash, raw.clone())
            .await
    } else {
        v.ledger
            .record_signed(vote_id, nonce, hash, raw.clone())
            .await
    };
    recorded.map_err(|e| format!("cannot record the signed transaction, not sent: {e}"))?;
    // Crash-safety tests stop the process here: signed and recorded, not broadcast.
    fail::fail_point!("round-after-signed");
    broadcast(v, voter_idx, vote_id, hash, &raw).await?;
    Ok(hash)
}

/// Sends signed bytes (again). Safe to repeat: the same bytes can be mined once.
pub async fn broadcast(
    v: &Voting,
    voter_idx: usize,
    vote_id: i64,
    hash: B256,
    raw: &Bytes,
) -> Result<(), String> {
    let voter = &v.voters[voter_idx];
    match v.provider.send_raw_transaction(raw).await {
        Ok(_) => {
            // Crash-safety tests stop the process here: broadcast, not yet marked sent.
            fail::fail_point!("round-after-broadcast");
            if let Err(e) = v.ledger.mark_sent(vote_id).await {
                tracing::error!(vote_id, error = %e, "cannot mark the vote sent (it was broadcast)");
            }
            tracing::info!(NODE = %voter.name, TX_HASH = %hash, vote_id, "vote sent");
            Ok(())
        }
        Err(e) => {
            let reason = format!(
                "broadcast failed (kept as signed; reconciled next round): {}",
                crate::telemetry::redact::redact_text(&e.to_string(), &[])
            );
            tracing::warn!(NODE = %voter.name, TX_HASH = %hash, vote_id, %reason, "vote not sent");
            Err(reason)
        }
    }
}
