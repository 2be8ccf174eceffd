//! Receipts, tracked by govnode itself: alloy's watcher has no deadline and
//! can wait forever on a dropped transaction. The round follows the chain
//! head ([`super::head_feed`]: the daemon's `newHeads` subscription, or
//! `eth_blockNumber` polls without one) and reads each new block's receipts
//! with one `eth_getBlockReceipts` ([`super::block_receipts`]), so a vote
//! is seen mined on the block that mined it, and a block costs one call
//! whatever the number of votes in it. Where no endpoint has that method, every
//! `round.receipt_poll` (a quarter of that while votes are being mined) the
//! head and each wallet's mined nonce are read, and receipts are asked (in
//! JSON-RPC batches) only for votes whose nonce is used. Until mined or the
//! round deadline. A wallet none of
//! whose votes was mined for `round.bump_after_blocks` blocks, while no
//! other vote of the round was mined either, has its unmined votes
//! re-signed with the same nonces and higher fees (escalation by time:
//! private routes never say "underpriced"). Progress is judged per wallet,
//! not per vote: a wallet's votes are mined in nonce order, so on a chain
//! with small or fast blocks the last ones wait many blocks behind the first
//! without being stuck. And while the chain is mining the round's other
//! wallets, a waiting wallet is queued behind them, not underpriced: all
//! carry the same fees, and bumping it would only start a fee war between
//! the round's own wallets (with 20 wallets on an auto-mining chain, every
//! wallet saw three blocks of the others' votes and was re-signed again and
//! again: nearly four sends per vote).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use std::future::IntoFuture;

use alloy::eips::BlockId;
use alloy::primitives::{Address, B256, U64};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use alloy::transports::TransportResult;
use tokio_util::sync::CancellationToken;

use super::block_receipts::{self, MAX_BLOCKS_PER_STEP, Scan};
use super::broadcast::sign_and_replace;
use super::context::Voting;
use super::fees::{Fees, bumped};
use super::head_feed::{HEAD_POLL, HeadFeed};
use super::progress::PhaseCounter;
use super::report::{LeftKind, Leftover};
use super::send::{InFlight, Queued, SendOutcome, Signed, Stop, send_one};
use crate::dao::call_many;
use crate::ledger::mined_from_receipt;
use crate::webhook::{Event, EventKind};

#[derive(Default)]
pub struct ConfirmOutcome {
    /// Queued votes that were not sent (deadline, shutdown, a failed send).
    pub unsent: SendOutcome,
    pub confirmed: u64,
    pub reverted: u64,
    /// Reverted for a cause that passes (a pause): retried by a later round.
    pub deferred: u64,
    pub pending: u64,
    pub left: Vec<Leftover>,
}

pub async fn await_receipts(
    v: &Voting,
    mut in_flight: Vec<InFlight>,
    queued: Vec<Queued>,
    deadline: Instant,
    cancel: &CancellationToken,
    confirming: &PhaseCounter<'_>,
) -> ConfirmOutcome {
    let mut out = ConfirmOutcome::default();
    let poll = v.round.receipt_poll;
    let mut queues: BTreeMap<usize, VecDeque<Signed>> = BTreeMap::new();
    for q in queued {
        queues.entry(q.voter).or_default().push_back(q.signed);
    }
    v.metrics.pending_txs.set(in_flight.len() as i64);
    if in_flight.is_empty() && queues.is_empty() {
        return out;
    }
    let mut feed = HeadFeed::follow(v.provider.clone(), &v.heads, HEAD_POLL);
    // Blocks up to the round's head were read before the votes were sent.
    let mut scanned: u64 = in_flight.iter().map(|f| f.sent_block).min().unwrap_or(0);
    // The pool answers "method not found" itself, without a request, once
    // every endpoint is known to lack the method: the first scan says so.
    let mut by_block = true;
    // The block each wallet last made progress at; blocks mined while the
    // votes were being sent do not count against them.
    let mut progress: HashMap<usize, u64> = HashMap::new();
    // The block at which any vote of the round was last seen mined.
    let mut round_progress: u64 = 0;
    let mut head = feed
        .newer_than(None, (Instant::now() + poll).min(deadline))
        .await;
    loop {
        let sent_at = head.unwrap_or(scanned);
        refill(
            v,
            &mut in_flight,
            &mut queues,
            sent_at,
            deadline,
            cancel,
            &mut out.unsent,
        )
        .await;
        if in_flight.is_empty() {
            break;
        }
        for f in &in_flight {
            progress
                .entry(f.voter)
                .or_insert(head.unwrap_or(f.sent_block).max(f.sent_block));
        }
        let mut found: HashMap<B256, TransactionReceipt> = HashMap::new();
        // A used nonce without our receipt yet: the receipt may trail the nonce.
        let mut lagging = false;
        let wanted: HashSet<B256> = in_flight.iter().flat_map(|f| f.hashes.clone()).collect();
        let step = head.map(|h| h.saturating_sub(scanned)).unwrap_or_default();
        if by_block && step > 0 && step <= MAX_BLOCKS_PER_STEP {
            match block_receipts::scan(v, scanned + 1, scanned + step, &wanted).await {
                Scan::Read { found: f, upto } => {
                    found = f;
                    scanned = upto;
                }
                Scan::Unsupported => {
                    tracing::info!(
                        "no endpoint has eth_getBlockReceipts: receipts are read per transaction"
                    );
                    by_block = false;
                }
            }
        }
        if !by_block || step > MAX_BLOCKS_PER_STEP {
            let (h, per_tx, lags) = per_transaction(v, &in_flight).await;
            head = h.or(head);
            found = per_tx;
            lagging = lags;
            if let Some(h) = head {
                scanned = scanned.max(h);
            }
        }
        let mut progressed: HashSet<usize> = HashSet::new();
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
            record(v, &flight, hash, mined, &mut out).await;
            confirming.tick();
        }
        in_flight = still;
        v.metrics.pending_txs.set(in_flight.len() as i64);
        if in_flight.is_empty() {
            // Queued votes, if any, go out at once.
            continue;
        }
        // Per transaction, while the chain is mining this round's votes the
        // rest follow soon (a wallet's votes go in nonce order): look again
        // sooner. By block, the next head says when to look.
        let wait = if by_block {
            HEAD_POLL
        } else if progressed.is_empty() && !lagging {
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
            for (_, mut queue) in std::mem::take(&mut queues) {
                if let Some(first) = queue.pop_front() {
                    let kept = if cancel.is_cancelled() {
                        "daemon stopping; decision kept for the next round"
                    } else {
                        "round deadline reached before sending; decision kept for the next round"
                    };
                    Stop::Kept(kept)
                        .apply(v, first, queue.into_iter(), &mut out.unsent)
                        .await;
                }
            }
            for flight in &in_flight {
                out.pending += 1;
                out.left.push(Leftover {
                    node: v.voters[flight.voter].name.clone(),
                    proposal_id: flight.proposal_id.to_string(),
                    kind: LeftKind::Pending,
                    reason: reason.to_owned(),
                });
            }
            break;
        }
        if let Some(head) = head {
            for voter in &progressed {
                progress.insert(*voter, head);
            }
            if !progressed.is_empty() {
                round_progress = head;
            }
            bump_stuck(v, &mut in_flight, &progress, round_progress, head).await;
        }
        head = if by_block {
            // A block not fully read yet is read again at once on the next head.
            let seen = head.map(|h| h.min(scanned));
            // While the chain is mining this round's votes (and the wallets'
            // windows refill), the next block may be there already: one
            // look now rather than at the feed's next poll. A subscribed
            // feed has been told of it already.
            let now = if progressed.is_empty() {
                None
            } else if feed.subscribed() {
                feed.latest()
            } else {
                v.provider.get_block_number().await.ok()
            };
            if now.is_some_and(|n| seen.is_none_or(|s| n > s)) {
                head = now;
                continue;
            }
            let until = (Instant::now() + poll).min(deadline - wait);
            tokio::select! {
                h = feed.newer_than(seen, until) => h,
                _ = cancel.cancelled() => feed.latest(),
            }
        } else {
            tokio::time::sleep(wait).await;
            head
        };
    }
    out
}

/// Sends each wallet's queued votes while it has fewer than
/// `round.max_in_flight_per_wallet` on their way. A wallet whose send fails
/// stops there (its later votes go back to the next round), as in the
/// sending phase.
async fn refill(
    v: &Voting,
    in_flight: &mut Vec<InFlight>,
    queues: &mut BTreeMap<usize, VecDeque<Signed>>,
    head: u64,
    deadline: Instant,
    cancel: &CancellationToken,
    out: &mut SendOutcome,
) {
    let window = v.round.max_in_flight_per_wallet.max(1);
    for (voter, queue) in queues.iter_mut() {
        let mut flying = in_flight.iter().filter(|f| f.voter == *voter).count();
        while flying < window
            && let Some(s) = queue.pop_front()
        {
            match send_one(v, *voter, s, head, deadline, cancel, None).await {
                Ok(flight) => {
                    in_flight.push(flight);
                    flying += 1;
                }
                Err((s, stop)) => {
                    stop.apply(v, s, queue.drain(..), out).await;
                    break;
                }
            }
        }
    }
    queues.retain(|_, q| !q.is_empty());
    v.metrics.pending_txs.set(in_flight.len() as i64);
}

/// Today's way, where block receipts are not available: the head and the
/// wallets' mined nonces, then receipts (in JSON-RPC batches) only for votes
/// whose nonce is used. Also says whether a used nonce has no receipt yet.
async fn per_transaction(
    v: &Voting,
    in_flight: &[InFlight],
) -> (Option<u64>, HashMap<B256, TransactionReceipt>, bool) {
    let (head, mined) = chain_state(v, in_flight).await;
    // Receipts only where the wallet's nonce is used: the rest cannot have one.
    let due = |f: &InFlight| match (f.nonce, mined.get(&f.voter)) {
        (Some(nonce), Some(&count)) => nonce < count,
        _ => true,
    };
    let hashes: Vec<B256> = in_flight
        .iter()
        .filter(|f| due(f))
        .flat_map(|f| f.hashes.clone())
        .collect();
    let answers: Vec<TransportResult<Option<TransactionReceipt>>> = call_many(
        &v.provider,
        "eth_getTransactionReceipt",
        hashes.iter().map(|h| (*h,)).collect(),
        v.round.batch_size,
        v.round.concurrency,
    )
    .await;
    let mut found: HashMap<B256, _> = HashMap::new();
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
    let lagging = in_flight
        .iter()
        .any(|f| f.nonce.is_some() && due(f) && !f.hashes.iter().any(|h| found.contains_key(h)));
    (head, found, lagging)
}

/// The head and, per wallet with votes in flight, how many of its
/// transactions are mined (`latest` nonce): two requests, whatever the
/// number of votes. Missing where a read failed (those votes are polled).
async fn chain_state(v: &Voting, in_flight: &[InFlight]) -> (Option<u64>, HashMap<usize, u64>) {
    let mut wallets: Vec<usize> = in_flight.iter().map(|f| f.voter).collect();
    wallets.sort_unstable();
    wallets.dedup();
    let params: Vec<(Address, BlockId)> = wallets
        .iter()
        .map(|&w| (v.voters[w].address, BlockId::latest()))
        .collect();
    let (head, counts) = tokio::join!(
        v.provider.get_block_number().into_future(),
        call_many::<_, U64>(
            &v.provider,
            "eth_getTransactionCount",
            params,
            v.round.batch_size,
            v.round.concurrency,
        )
    );
    let mined = wallets
        .into_iter()
        .zip(counts)
        .filter_map(|(w, count)| count.ok().map(|c| (w, c.to::<u64>())))
        .collect();
    (head.ok(), mined)
}

/// Records a receipt in the ledger, the metrics and the outcome.
async fn record(
    v: &Voting,
    flight: &InFlight,
    hash: B256,
    mined: crate::ledger::Mined,
    out: &mut ConfirmOutcome,
) {
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
        tracing::info!(NODE = %node, PROPOSAL_ID = %flight.proposal_id, TX_HASH = %hash, block = mined.block_number, gas_used = mined.gas_used, "vote confirmed");
        v.webhooks.notify(
            Event::new(EventKind::VoteConfirmed)
                .node(node)
                .proposal(flight.proposal_id)
                .tx(hash),
        );
    } else {
        v.metrics.votes.with_label_values(&[node, "reverted"]).inc();
        let (why, decoded) =
            crate::dao::explain_revert(&v.provider, v.dao.as_ref(), hash, mined.block_number).await;
        if let Err(e) = v.ledger.set_error(flight.vote_id, &why).await {
            tracing::warn!(vote_id = flight.vote_id, error = %e, "cannot record why a vote reverted");
        }
        // A pause passes: the vote is cast again once the DAO is unpaused.
        let passing = decoded.as_ref().is_some_and(|r| r.is_transient());
        let kind = if passing {
            out.deferred += 1;
            v.metrics
                .deferred
                .with_label_values(&[node, "paused"])
                .inc();
            tracing::warn!(NODE = %node, PROPOSAL_ID = %flight.proposal_id, TX_HASH = %hash, reason = %why, "vote reverted on chain; retried when the DAO takes votes again");
            LeftKind::Deferred
        } else {
            out.reverted += 1;
            tracing::error!(NODE = %node, PROPOSAL_ID = %flight.proposal_id, TX_HASH = %hash, reason = %why, "vote reverted on chain");
            v.webhooks.notify(
                Event::new(EventKind::VoteFailed)
                    .node(node)
                    .proposal(flight.proposal_id)
                    .tx(hash)
                    .reason(&format!("reverted on chain: {why}")),
            );
            LeftKind::Failed
        };
        out.left.push(Leftover {
            node: node.to_owned(),
            proposal_id: flight.proposal_id.to_string(),
            kind,
            reason: format!("transaction {hash} {why}"),
        });
    }
}

/// Re-signs the unmined votes of wallets that made no progress for
/// `bump_after_blocks` blocks, nor did the round (`round_progress`), with
/// the same nonce and fees raised by `fee_bump_percent` (nodes want at
/// least +10 %).
async fn bump_stuck(
    v: &Voting,
    in_flight: &mut [InFlight],
    progress: &HashMap<usize, u64>,
    round_progress: u64,
    head: u64,
) {
    for flight in in_flight.iter_mut() {
        let since = progress
            .get(&flight.voter)
            .copied()
            .unwrap_or(flight.sent_block)
            .max(flight.sent_block)
            .max(round_progress);
        if head < since + v.round.bump_after_blocks {
            continue;
        }
        let Some(request) = flight.request.clone() else {
            continue;
        };
        let previous = Fees {
            max_fee_per_gas: request.max_fee_per_gas.unwrap_or_default(),
            max_priority_fee_per_gas: request.max_priority_fee_per_gas.unwrap_or_default(),
        };
        let Some(fees) = bumped(
            previous,
            v.round.fee_bump_percent,
            v.round.max_fee_per_gas.as_u128(),
            v.round.max_priority_fee_per_gas.as_u128(),
        ) else {
            // At the ceiling: the vote waits as it is priced (the operator's limit).
            tracing::warn!(NODE = %v.voters[flight.voter].name, ceiling = %v.round.max_fee_per_gas, "vote unmined; no fee bump above round.max_fee_per_gas");
            flight.sent_block = head;
            continue;
        };
        let mut next = request;
        next.max_fee_per_gas = Some(fees.max_fee_per_gas);
        next.max_priority_fee_per_gas = Some(fees.max_priority_fee_per_gas);
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
