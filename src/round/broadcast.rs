//! One transaction on its way out: signing through the voter's signer, recording a
//! fee-bumped replacement, and broadcasting signed bytes (safe to repeat).

use alloy::primitives::{B256, Bytes};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;

use super::context::Voting;

/// A fee bump: signs `request` (same nonce, higher fees), records the
/// replacement next to the earlier attempts, and broadcasts it.
pub async fn sign_and_replace(
    v: &Voting,
    voter_idx: usize,
    vote_id: i64,
    request: TransactionRequest,
) -> Result<B256, String> {
    let (hash, raw) = sign(v, voter_idx, request).await?;
    v.ledger
        .record_replacement(vote_id, hash, raw.clone())
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
    let signed = v.voters[voter_idx]
        .signer
        .sign_transaction(request)
        .await
        .map_err(|e| format!("signing failed: {e}"))?;
    Ok((signed.hash, signed.raw))
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
