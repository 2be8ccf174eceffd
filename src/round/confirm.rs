//! Receipts, tracked by govnode itself: alloy's watcher has no deadline and
//! can wait forever on a dropped transaction. Every in-flight vote is polled
//! until mined or the round deadline; one that stays unmined for
//! `round.bump_after_blocks` blocks is re-signed with the same nonce and
//! higher fees (escalation by time: private routes never say "underpriced").

use std::collections::HashMap;
use std::time::Instant;

use alloy::primitives::B256;
use alloy::providers::Provider;
use futures::stream::{self, StreamExt};
use tokio_util::sync::CancellationToken;

use super::context::Voting;
use super::report::Leftover;
use super::send::{InFlight, sign_and_send};
use crate::ledger::mined_from_receipt;

#[derive(Debug, Default)]
pub struct ConfirmOutcome {
    pub confirmed: u64,
    pub reverted: u64,
    pub pending: u64,
    pub left: Vec<Leftover>,
}

pub async fn await_receipts(
    v: &Voting,
    mut in_flight: Vec<InFlight>,
    deadline: Instant,
    cancel: &CancellationToken,
) -> ConfirmOutcome {
    let mut out = ConfirmOutcome::default();
    let poll = v.round.receipt_poll;
    v.metrics.pending_txs.set(in_flight.len() as i64);
    while !in_flight.is_empty() {
        let hashes: Vec<B256> = in_flight.iter().flat_map(|f| f.hashes.clone()).collect();
        let receipts = stream::iter(hashes)
            .map(|hash| async move { (hash, v.provider.get_transaction_receipt(hash).await) })
            .buffer_unordered(v.round.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        let mut found: HashMap<B256, _> = HashMap::new();
        for (hash, result) in receipts {
            match result {
                Ok(Some(r)) => {
                    found.insert(hash, r);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(TX_HASH = %hash, error = %e, "receipt poll failed; retrying")
                }
            }
        }
        let mut still = Vec::with_capacity(in_flight.len());
        for flight in in_flight {
            let hit = flight
                .hashes
                .iter()
                .find_map(|h| found.get(h).map(|r| (*h, r)));
            let Some((hash, receipt)) = hit else {
                still.push(flight);
                continue;
            };
            // Crash-safety tests stop the process here: mined, receipt not recorded.
            fail::fail_point!("round-before-receipt");
            let mined = mined_from_receipt(hash, receipt);
            let node = v.voters[flight.voter].name.as_str();
            if let Err(e) = v.ledger.mark_mined(flight.vote_id, mined).await {
                tracing::error!(vote_id = flight.vote_id, error = %e, "cannot record the receipt");
            }
            if mined.success {
                out.confirmed += 1;
                v.metrics
                    .votes
                    .with_label_values(&[node, "confirmed"])
                    .inc();
                tracing::info!(NODE = node, PROPOSAL_ID = %flight.proposal_id, TX_HASH = %hash, block = mined.block_number, gas_used = mined.gas_used, "vote confirmed");
            } else {
                out.reverted += 1;
                v.metrics.votes.with_label_values(&[node, "reverted"]).inc();
                tracing::error!(NODE = node, PROPOSAL_ID = %flight.proposal_id, TX_HASH = %hash, "vote reverted on chain");
                out.left.push(Leftover {
                    node: node.to_owned(),
                    proposal_id: flight.proposal_id.to_string(),
                    reason: format!("transaction {hash} reverted"),
                });
            }
        }
        in_flight = still;
        v.metrics.pending_txs.set(in_flight.len() as i64);
        if in_flight.is_empty() {
            break;
        }
        if cancel.is_cancelled() || Instant::now() + poll >= deadline {
            let reason = if cancel.is_cancelled() {
                "daemon stopping before the receipt; reconciled at the next start"
            } else {
                "not mined before the round deadline; reconciled next round"
            };
            for flight in &in_flight {
                out.pending += 1;
                out.left.push(Leftover {
                    node: v.voters[flight.voter].name.clone(),
                    proposal_id: flight.proposal_id.to_string(),
                    reason: reason.to_owned(),
                });
            }
            break;
        }
        tokio::time::sleep(poll).await;
        bump_stuck(v, &mut in_flight).await;
    }
    out
}

/// Re-signs votes that stayed unmined for `bump_after_blocks` with the same
/// nonce and fees raised by `fee_bump_percent` (nodes want at least +10 %).
async fn bump_stuck(v: &Voting, in_flight: &mut [InFlight]) {
    let Ok(head) = v.provider.get_block_number().await else {
        return;
    };
    for flight in in_flight.iter_mut() {
        if head < flight.sent_block + v.round.bump_after_blocks {
            continue;
        }
        let Some(request) = flight.request.clone() else {
            continue;
        };
        let bump =
            |fee: Option<u128>| fee.map(|f| f + f * u128::from(v.round.fee_bump_percent) / 100 + 1);
        let mut next = request;
        next.max_fee_per_gas = bump(next.max_fee_per_gas);
        next.max_priority_fee_per_gas = bump(next.max_priority_fee_per_gas);
        let nonce = next.nonce.unwrap_or_default();
        match sign_and_send(v, flight.voter, flight.vote_id, nonce, next.clone(), true).await {
            Ok(hash) => {
                tracing::warn!(NODE = %v.voters[flight.voter].name, TX_HASH = %hash, nonce, "vote unmined; replaced with higher fees");
                flight.hashes.push(hash);
                flight.request = Some(next);
                flight.sent_block = head;
            }
            Err(reason) => {
                tracing::warn!(NODE = %v.voters[flight.voter].name, %reason, "fee bump not sent");
                flight.sent_block = head;
            }
        }
    }
}
