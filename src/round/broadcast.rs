//! One transaction on its way out: signing through the voter's signer, recording a
//! fee-bumped replacement, and broadcasting signed bytes (safe to repeat).
//!
//! A broadcast that fails on the way (every endpoint failed, timed out or
//! was unreachable) is repeated inside the round with exponential backoff
//! and full jitter, with the *same* signed bytes, until the round's deadline:
//! the bytes carry one nonce and one hash, so however many copies reach the
//! nodes, at most one is mined. A node's refusal (a JSON-RPC error answer,
//! e.g. insufficient funds) is not repeated: the same bytes get the same answer.

use std::time::{Duration, Instant};

use alloy::primitives::{B256, Bytes};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;

use tokio_util::sync::CancellationToken;

use super::context::Voting;
use crate::chain::Backoff;

/// Waits between repeated broadcasts of one transaction.
const SEND_RETRY: Backoff = Backoff {
    base: Duration::from_millis(200),
    max: Duration::from_secs(5),
};

/// A fee bump: signs `request` (same nonce, higher fees), records the
/// replacement next to the earlier attempts, and broadcasts it.
pub async fn sign_and_replace(
    v: &Voting,
    voter_idx: usize,
    vote_id: i64,
    request: TransactionRequest,
) -> Result<B256, String> {
    let max_cost = super::send::max_cost(&request);
    let (hash, raw) = sign(v, voter_idx, request).await?;
    v.ledger
        .record_replacement(vote_id, hash, raw.clone(), Some(max_cost))
        .await
        .map_err(|e| format!("cannot record the signed transaction, not sent: {e}"))?;
    // Crash-safety tests stop the process here: signed and recorded, not broadcast.
    fail::fail_point!("round-after-signed");
    broadcast(v, voter_idx, vote_id, hash, &raw).await?;
    Ok(hash)
}

/// Asks the voter's signer for `request` signed: the hash and the bytes to send.
pub async fn sign(
    v: &Voting,
    voter_idx: usize,
    request: TransactionRequest,
) -> Result<(B256, Bytes), String> {
    let voter = &v.voters[voter_idx];
    match voter.signer.sign_transaction(request).await {
        Ok(signed) => {
            v.keys.signed(&voter.name);
            Ok((signed.hash, signed.raw))
        }
        Err(e) => {
            let reason = e.to_string();
            tracing::warn!(NODE = %voter.name, signer = voter.signer.kind(), error = %reason, "signing failed");
            v.keys.signer_failed(&voter.name, &reason);
            Err(format!("signing failed: {reason}"))
        }
    }
}

/// Sends signed bytes (again). Safe to repeat: the same bytes can be mined once.
pub async fn broadcast(
    v: &Voting,
    voter_idx: usize,
    vote_id: i64,
    hash: B256,
    raw: &Bytes,
) -> Result<(), String> {
    broadcast_once(v, voter_idx, vote_id, hash, raw)
        .await
        .map_err(|f| f.reason)
}

/// [`broadcast`], repeated after failures on the way until `deadline` or
/// `cancel`; the reason of a vote left unsent says how often it was tried.
pub async fn broadcast_until(
    v: &Voting,
    voter_idx: usize,
    vote_id: i64,
    hash: B256,
    raw: &Bytes,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<(), String> {
    let voter = &v.voters[voter_idx];
    let mut tries: u32 = 0;
    loop {
        tries += 1;
        let failed = match broadcast_once(v, voter_idx, vote_id, hash, raw).await {
            Ok(()) => return Ok(()),
            Err(f) if f.refused => return Err(f.reason),
            Err(f) => f,
        };
        let wait = SEND_RETRY.delay(tries, &mut rand::rng());
        let why_stop = if cancel.is_cancelled() {
            Some("daemon stopping")
        } else if Instant::now() + wait >= deadline {
            Some("round deadline reached")
        } else {
            None
        };
        if let Some(why) = why_stop {
            return Err(format!(
                "{} (tried {tries} time(s) this round; {why})",
                failed.reason
            ));
        }
        tracing::info!(NODE = %voter.name, TX_HASH = %hash, vote_id, retry = tries, wait_ms = wait.as_millis() as u64, "broadcasting the same signed transaction again");
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Why one broadcast did not go out; `refused` when a node answered with an
/// error (repeating the same bytes gets the same answer).
struct SendFailure {
    reason: String,
    refused: bool,
}

async fn broadcast_once(
    v: &Voting,
    voter_idx: usize,
    vote_id: i64,
    hash: B256,
    raw: &Bytes,
) -> Result<(), SendFailure> {
    let voter = &v.voters[voter_idx];
    // With HA, the last step before the bytes leave: this daemon still holds
    // the lease. The bytes are durable already, so a new leader that sends
    // them again sends the same transaction (one nonce, one hash).
    if let Err(e) = v.ledger.check_fence().await {
        let reason = format!("not sent: {e}");
        tracing::warn!(NODE = %voter.name, TX_HASH = %hash, vote_id, %reason, "vote not sent");
        return Err(SendFailure {
            reason,
            refused: true,
        });
    }
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
            Err(SendFailure {
                reason,
                refused: e.as_error_resp().is_some(),
            })
        }
    }
}
