//! Receipts, tracked by govnode itself: alloy's watcher has no deadline and
//! can wait forever on a dropped transaction. Every in-flight vote is polled
//! (in JSON-RPC batches) every `round.receipt_poll`, a quarter of that after
//! a poll that found some mined, until mined or the round deadline. A wallet none of
//! whose votes was mined for `round.bump_after_blocks` blocks has its
//! unmined votes re-signed with the same nonces and higher fees (escalation
//! by time: private routes never say "underpriced"). Progress is judged per
//! wallet, not per vote: a wallet's votes are mined in nonce order, so on a
//! chain with small or fast blocks the last ones wait many blocks behind
//! the first without being stuck.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use alloy::primitives::B256;
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use alloy::transports::TransportResult;
use tokio_util::sync::CancellationToken;

use super::broadcast::sign_and_replace;
use super::context::Voting;
use super::report::Leftover;
use super::send::InFlight;
use crate::dao::call_many;
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
    if in_flight.is_empty() {
        return out;
    }
    // The block each wallet last made progress at; blocks mined while the
    // votes were being sent do not count against them.
    let mut progress: HashMap<usize, u64> = HashMap::new();
    let start_head = v.provider.get_block_number().await.ok();
    for f in &in_flight {
        progress.insert(
            f.voter,
            start_head.unwrap_or(f.sent_block).max(f.sent_block),
        );
    }
    while !in_flight.is_empty() {
        let hashes: Vec<B256> = in_flight.iter().flat_map(|f| f.hashes.clone()).collect();
        let answers: Vec<TransportResult<Option<TransactionReceipt>>> = call_many(
            &v.provider,
            "eth_getTransactionReceipt",
            hashes.iter().map(|h| (*h,)).collect(),
            v.round.batch_size,
            v.round.concurrency,
        )
        .await;
        let mut found: HashMap<B256, _> = HashMap::new();
        let mut progressed: HashSet<usize> = HashSet::new();
        for (hash, result) in hashes.into_iter().zip(answers) {
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
            progressed.insert(flight.voter);
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
        // While the chain is mining this round's votes the rest follow soon
        // (a wallet's votes go in nonce order): look again sooner.
        let wait = if progressed.is_empty() {
            poll
        } else {
            (poll / 4).max(Duration::from_millis(10))
        };
        if cancel.is_cancelled() || Instant::now() + wait >= deadline {
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
        tokio::time::sleep(wait).await;
        bump_stuck(v, &mut in_flight, &mut progress, &progressed).await;
    }
    out
}

/// Re-signs the unmined votes of wallets that made no progress for
/// `bump_after_blocks` blocks, with the same nonce and fees raised by
/// `fee_bump_percent` (nodes want at least +10 %).
async fn bump_stuck(
    v: &Voting,
    in_flight: &mut [InFlight],
    progress: &mut HashMap<usize, u64>,
    progressed: &HashSet<usize>,
) {
    let Ok(head) = v.provider.get_block_number().await else {
        return;
    };
    for voter in progressed {
        progress.insert(*voter, head);
    }
    for flight in in_flight.iter_mut() {
        let since = progress
            .get(&flight.voter)
            .copied()
            .unwrap_or(flight.sent_block)
            .max(flight.sent_block);
        if head < since + v.round.bump_after_blocks {
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
        match sign_and_replace(v, flight.voter, flight.vote_id, next.clone()).await {
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
