//! Receipts read by block: one `eth_getBlockReceipts` per new block gives
//! every receipt in it, whatever the number of votes in flight. Blocks are
//! read in order, a few at a time; a block not answered yet (a failed read,
//! an endpoint still behind) ends the scan there and is read again on the
//! next head.

use std::collections::{HashMap, HashSet};

use alloy::eips::BlockId;
use alloy::primitives::B256;
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use futures::{StreamExt, stream};

use super::context::Voting;

/// More new blocks than this in one step: the per-transaction way is
/// cheaper for that step.
pub const MAX_BLOCKS_PER_STEP: u64 = 64;

pub enum Scan {
    /// `upto` is the last block whose receipts were all read.
    Read {
        found: HashMap<B256, TransactionReceipt>,
        upto: u64,
    },
    /// No endpoint has `eth_getBlockReceipts`.
    Unsupported,
}

/// Receipts of `wanted` transactions in blocks `from..=to`.
pub async fn scan(v: &Voting, from: u64, to: u64, wanted: &HashSet<B256>) -> Scan {
    let reads = stream::iter(from..=to)
        .map(|n| async move {
            let answer: Result<Option<Vec<TransactionReceipt>>, _> = v
                .provider
                .client()
                .request("eth_getBlockReceipts", (BlockId::number(n),))
                .await;
            (n, answer)
        })
        .buffered(v.round.concurrency.max(1));
    futures::pin_mut!(reads);
    let mut found = HashMap::new();
    let mut upto = from.saturating_sub(1);
    while let Some((n, answer)) = reads.next().await {
        match answer {
            Ok(Some(receipts)) => {
                found.extend(
                    receipts
                        .into_iter()
                        .filter(|r| wanted.contains(&r.transaction_hash))
                        .map(|r| (r.transaction_hash, r)),
                );
                upto = n;
            }
            Ok(None) => {
                tracing::debug!(
                    block = n,
                    "block receipts not available yet; read again on the next head"
                );
                break;
            }
            Err(e) => {
                if e.as_error_resp().is_some_and(crate::chain::lacks_method) {
                    return Scan::Unsupported;
                }
                tracing::debug!(block = n, error = %e, "block receipts read failed; read again on the next head");
                break;
            }
        }
    }
    Scan::Read { found, upto }
}
