//! Signing and broadcasting. Per wallet, votes are estimated (one
//! `eth_simulateV1` call, or per-vote estimates in JSON-RPC batches where the
//! endpoint lacks it), checked against the gas balance, signed with consecutive nonces,
//! recorded together in one fsynced transaction, then sent in nonce order
//! without waiting for receipts (pipelined); wallets run side by side. The
//! signed bytes and hash are in the ledger before they leave the process, so
//! a crash at any point resends exactly these bytes and never a second
//! signature.

use std::time::Instant;

use alloy::eips::BlockId;
use alloy::network::TransactionBuilder;
use alloy::primitives::U64;
use alloy::primitives::{B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::client::BatchRequest;
use alloy::rpc::types::TransactionRequest;
use alloy::transports::{TransportErrorKind, TransportResult};
use futures::future::join_all;
use std::future::IntoFuture;
use tokio_util::sync::CancellationToken;

use super::broadcast::{broadcast_until, sign};
use super::context::Voting;
use super::fees::{Fees, Pricing, price};
use super::node_keys::SignBlock;
use super::plan::{Job, whole_tokens};
use super::progress::PhaseCounter;
use super::report::{LeftKind, Leftover, VoteCounts};
use crate::dao::{NotVotable, RevertReason};
use crate::ledger::SignedVote;
use crate::webhook::{Event, EventKind};

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
    /// Its nonce; `None` when unknown (then its receipts are always polled).
    pub nonce: Option<u64>,
    pub sent_block: u64,
}

/// What a vote that is not sent now waits for (`govnode_votes_deferred_total`'s `cause`).
pub const DEFER_CAUSES: [&str; 4] = ["fee_ceiling", "spend_limit", "paused", "transient"];

#[derive(Default)]
pub struct SendOutcome {
    pub in_flight: Vec<InFlight>,
    /// Where the votes that were not sent are counted (deferred, failed,
    /// not votable, already voted); sent ones are counted on confirmation.
    pub counts: VoteCounts,
    /// Simulated successfully (dry run).
    pub simulated: u64,
    pub left: Vec<Leftover>,
    /// Signed and recorded, waiting for room in the wallet's window
    /// (`round.max_in_flight_per_wallet`), in nonce order per wallet.
    pub queued: Vec<Queued>,
}

impl SendOutcome {
    fn merge(&mut self, other: SendOutcome) {
        self.in_flight.extend(other.in_flight);
        self.counts.merge(&other.counts);
        self.simulated += other.simulated;
        self.left.extend(other.left);
        self.queued.extend(other.queued);
    }

    /// A vote not sent, waiting for `cause` to pass: counted, reported, metered.
    fn defer(&mut self, v: &Voting, job: &Job, cause: &str, reason: &str) {
        self.counts.deferred += 1;
        v.metrics
            .deferred
            .with_label_values(&[v.voters[job.voter].name.as_str(), cause])
            .inc();
        self.left.push(leftover(v, job, reason, LeftKind::Deferred));
    }

    /// A vote not sent for a cause the operator must look at.
    pub fn fail(&mut self, v: &Voting, job: &Job, reason: &str) {
        self.counts.failed += 1;
        // A dry run sends nothing, so nothing of it fails for real.
        if !v.round.dry_run {
            v.webhooks.notify(
                Event::new(EventKind::VoteFailed)
                    .node(&v.voters[job.voter].name)
                    .proposal(job.call.proposal_id)
                    .reason(reason),
            );
        }
        self.left.push(leftover(v, job, reason, LeftKind::Failed));
    }
}

/// Gas limit headroom over the estimate (or the simulated gas used): state
/// can move between estimate and inclusion.
fn gas_limit(estimate: u64) -> u64 {
    estimate.saturating_mul(12) / 10 + 10_000
}

pub async fn send_all(
    v: &Voting,
    jobs: Vec<Job>,
    head_block: u64,
    deadline: Instant,
    cancel: &CancellationToken,
    sending: &PhaseCounter<'_>,
) -> SendOutcome {
    if jobs.is_empty() {
        return SendOutcome::default();
    }
    let fees = match price(v).await {
        Ok(Pricing::Priced(fees)) => fees,
        Ok(Pricing::AboveCeiling { base_fee, ceiling }) => {
            let reason = Pricing::waiting_reason(base_fee, ceiling);
            tracing::warn!(%reason, votes = jobs.len(), "votes not sent");
            let mut out = SendOutcome::default();
            for job in &jobs {
                note(v, job, &reason).await;
                out.defer(v, job, "fee_ceiling", &reason);
            }
            return out;
        }
        Err(reason) => {
            let mut out = SendOutcome::default();
            for job in &jobs {
                out.defer(v, job, "transient", &reason);
            }
            return out;
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
            send_for_voter(v, voter, jobs, fees, head_block, deadline, cancel, sending)
        });
    let mut out = SendOutcome::default();
    for part in join_all(runs).await {
        out.merge(part);
    }
    out
}

fn leftover(v: &Voting, job: &Job, reason: &str, kind: LeftKind) -> Leftover {
    Leftover {
        node: v.voters[job.voter].name.clone(),
        proposal_id: job.call.proposal_id.to_string(),
        kind,
        reason: reason.to_owned(),
    }
}

/// Keeps why a vote waits on its row (it stays `intent`).
async fn note(v: &Voting, job: &Job, reason: &str) {
    if let Some(row) = &job.row
        && let Err(e) = v.ledger.set_error(row.id, reason).await
    {
        tracing::warn!(vote_id = row.id, error = %e, "cannot record why a vote waits");
    }
}

/// The chain refused a vote on estimation. For good (closed, already
/// voted): final, with the reason. For a cause that passes (a pause): the
/// row stays `intent` and the next round estimates again. For a cause
/// govnode cannot name: also kept, but reported as a failure to look at.
async fn refused(v: &Voting, job: &Job, revert: &RevertReason, out: &mut SendOutcome) {
    let voter = &v.voters[job.voter];
    let reason = format!("the DAO refuses this vote: {revert}");
    tracing::warn!(NODE = %voter.name, PROPOSAL_ID = %job.call.proposal_id, %reason, "vote not sent");
    let Some(row) = &job.row else {
        // Dry run: nothing recorded; reported as what it would be.
        out.fail(v, job, &reason);
        return;
    };
    if revert.is_permanent() {
        let (marked, outcome) = if revert.already_voted() {
            (v.ledger.mark_external(row.id, &reason).await, "external")
        } else {
            (v.ledger.mark_abandoned(row.id, &reason).await, "abandoned")
        };
        if let Err(e) = marked {
            tracing::error!(vote_id = row.id, error = %e, "cannot record the refusal");
        }
        v.metrics
            .votes
            .with_label_values(&[voter.name.as_str(), outcome])
            .inc();
        if revert.already_voted() {
            out.counts.already_voted += 1;
        } else {
            out.counts.not_votable(NotVotable::Ended);
        }
        return;
    }
    note(v, job, &reason).await;
    if revert.is_transient() {
        out.defer(
            v,
            job,
            "paused",
            &format!("{reason}; estimated again next round"),
        );
    } else {
        out.fail(v, job, &format!("{reason}; estimated again next round"));
    }
}

#[allow(clippy::too_many_arguments)]
async fn send_for_voter(
    v: &Voting,
    voter_idx: usize,
    jobs: Vec<Job>,
    fees: Fees,
    head_block: u64,
    deadline: Instant,
    cancel: &CancellationToken,
    sending: &PhaseCounter<'_>,
) -> SendOutcome {
    let voter = &v.voters[voter_idx];
    let mut out = SendOutcome::default();
    match v.keys.may_sign(&voter.name) {
        Ok(()) => {}
        Err(SignBlock::Paused(why)) => {
            let reason = format!("not signed: node paused: {why}");
            for job in &jobs {
                note(v, job, &reason).await;
                out.fail(v, job, &reason);
            }
            return out;
        }
        Err(SignBlock::Unverified(why)) => {
            for job in &jobs {
                out.defer(v, job, "transient", &why);
            }
            return out;
        }
    }
    let max_fee = fees.max_fee_per_gas;
    let priority_fee = fees.max_priority_fee_per_gas;

    // The balance and nonce first (one batch), then every vote simulated in
    // one call against the pending block, with the nonces they will carry:
    // the vote is judged by the block that includes it, after the wallet's
    // earlier votes.
    let (balance, nonce) = balance_and_nonce(v, voter.address).await;
    let calls: Vec<&crate::dao::VoteCall> = jobs.iter().map(|j| &j.call).collect();
    let (estimates, by) = crate::dao::simulate_votes(
        &v.provider,
        v.dao.as_ref(),
        &calls,
        voter.address,
        nonce.as_ref().ok().copied(),
        BlockId::pending(),
        v.round.batch_size,
        v.round.concurrency,
    )
    .await;
    tracing::debug!(NODE = %voter.name, votes = calls.len(), estimated_by = ?by, "votes estimated");
    let mut ready: Vec<(Job, u64)> = Vec::new();
    for (job, estimate) in jobs.into_iter().zip(estimates) {
        match estimate {
            Ok(Ok(gas)) => ready.push((job, gas)),
            Ok(Err(revert)) => refused(v, &job, &revert, &mut out).await,
            Err(e) => out.defer(
                v,
                &job,
                "transient",
                &format!("gas estimation failed, will retry next round: {e}"),
            ),
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
    match balance {
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
            for (job, _) in &ready {
                out.fail(v, job, &reason);
            }
            return out;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(NODE = %voter.name, error = %e, "cannot read the gas balance; sending anyway")
        }
    }

    let nonce = match nonce {
        Ok(n) => n,
        Err(e) => {
            let reason = format!("cannot read the wallet's nonce: {e}");
            for (job, _) in &ready {
                out.defer(v, job, "transient", &reason);
            }
            return out;
        }
    };
    let ready = within_budget(v, voter_idx, ready, max_fee, &mut out).await;

    // The wallet's votes are signed with consecutive nonces and their bytes
    // recorded in one fsynced transaction before the first one leaves the
    // process; then they go out in nonce order without waiting for receipts.
    let mut signed: Vec<Signed> = Vec::with_capacity(ready.len());
    let mut ready = ready.into_iter();
    while let Some((job, gas)) = ready.next() {
        let Some(row) = job.row.as_ref() else {
            continue;
        };
        let vote_id = row.id;
        let n = nonce + signed.len() as u64;
        let request = job
            .call
            .request(voter.address)
            .with_nonce(n)
            .with_chain_id(v.chain_id)
            .with_gas_limit(gas_limit(gas))
            .with_max_fee_per_gas(max_fee)
            .with_max_priority_fee_per_gas(priority_fee);
        match sign(v, voter_idx, request.clone()).await {
            Ok((hash, raw)) => signed.push(Signed {
                job,
                vote_id,
                nonce: n,
                hash,
                raw,
                request,
            }),
            Err(reason) => {
                // Later nonces would wait behind a gap: keep them for the next round.
                out.fail(v, &job, &reason);
                for (j, _) in ready {
                    out.fail(
                        v,
                        &j,
                        "not signed: an earlier vote of this wallet could not be signed",
                    );
                }
                break;
            }
        }
    }
    let records = signed
        .iter()
        .map(|s| SignedVote {
            id: s.vote_id,
            nonce: s.nonce,
            tx_hash: s.hash,
            raw: s.raw.clone(),
            max_cost: Some(max_cost(&s.request)),
        })
        .collect();
    if let Err(e) = v.ledger.record_signed_many(records).await {
        let reason = format!("cannot record the signed transactions, not sent: {e}");
        for s in &signed {
            out.fail(v, &s.job, &reason);
        }
        return out;
    }

    // The first `max_in_flight_per_wallet` go now; the rest wait in the
    // queue the confirmation phase sends from as earlier ones are mined.
    let window = v.round.max_in_flight_per_wallet.max(1);
    let mut queue = signed.into_iter();
    for s in queue.by_ref().take(window) {
        match send_one(v, voter_idx, s, head_block, deadline, cancel, Some(sending)).await {
            Ok(flight) => out.in_flight.push(flight),
            Err((s, stop)) => {
                stop.apply(v, s, queue, &mut out).await;
                return out;
            }
        }
    }
    out.queued.extend(queue.map(|signed| Queued {
        voter: voter_idx,
        signed,
    }));
    out
}

/// Why a wallet's sending stopped at a vote.
pub enum Stop {
    /// Shutdown or the deadline came before it was sent.
    Kept(&'static str),
    /// Its broadcast failed.
    Failed(String),
}

impl Stop {
    /// Settles the vote it stopped at and the wallet's later ones.
    pub async fn apply(
        self,
        v: &Voting,
        at: Signed,
        later: impl Iterator<Item = Signed>,
        out: &mut SendOutcome,
    ) {
        match self {
            Stop::Kept(reason) => {
                keep_for_next_round(v, std::iter::once(at).chain(later), reason, out).await
            }
            Stop::Failed(reason) => {
                v.metrics
                    .votes
                    .with_label_values(&[v.voters[at.job.voter].name.as_str(), "failed"])
                    .inc();
                // The nonce may or may not be used now: stop this wallet, reconcile next round.
                out.fail(v, &at.job, &reason);
                keep_for_next_round(
                    v,
                    later,
                    "not sent: an earlier vote of this wallet failed to send",
                    out,
                )
                .await;
            }
        }
    }
}

/// Broadcasts one signed vote (until the deadline); the vote back with why
/// when it did not go.
pub async fn send_one(
    v: &Voting,
    voter_idx: usize,
    s: Signed,
    head_block: u64,
    deadline: Instant,
    cancel: &CancellationToken,
    sending: Option<&PhaseCounter<'_>>,
) -> Result<InFlight, (Signed, Stop)> {
    if cancel.is_cancelled() || Instant::now() >= deadline {
        let reason = if cancel.is_cancelled() {
            "daemon stopping; decision kept for the next round"
        } else {
            "round deadline reached before sending; decision kept for the next round"
        };
        return Err((s, Stop::Kept(reason)));
    }
    // Crash-safety tests stop the process here: signed and recorded, not broadcast.
    fail::fail_point!("round-after-signed");
    match broadcast_until(v, voter_idx, s.vote_id, s.hash, &s.raw, deadline, cancel).await {
        Ok(()) => {
            if let Some(counter) = sending {
                counter.tick();
            }
            v.webhooks.notify(
                Event::new(EventKind::VoteSent)
                    .node(&v.voters[voter_idx].name)
                    .proposal(s.job.call.proposal_id)
                    .tx(s.hash),
            );
            Ok(InFlight {
                voter: voter_idx,
                vote_id: s.vote_id,
                proposal_id: s.job.call.proposal_id,
                hashes: vec![s.hash],
                request: Some(s.request),
                nonce: Some(s.nonce),
                sent_block: head_block,
            })
        }
        Err(reason) => Err((s, Stop::Failed(reason))),
    }
}

/// A signed, recorded vote waiting for room in its wallet's window.
pub struct Queued {
    pub voter: usize,
    pub signed: Signed,
}

/// A vote signed and recorded in this round, not yet broadcast.
pub struct Signed {
    job: Job,
    vote_id: i64,
    nonce: u64,
    hash: B256,
    raw: Bytes,
    request: TransactionRequest,
}

/// Signed votes that never left the process go back to `intent`: their
/// bytes cannot be mined, and the next round signs the same decision with
/// the nonce the chain then expects.
async fn keep_for_next_round(
    v: &Voting,
    unsent: impl Iterator<Item = Signed>,
    reason: &str,
    out: &mut SendOutcome,
) {
    for s in unsent {
        if let Err(e) = v.ledger.reset_to_intent(s.vote_id, reason).await {
            // Still `signed`: the next round re-broadcasts these exact bytes instead.
            tracing::warn!(vote_id = s.vote_id, error = %e, "cannot return an unsent vote to intent");
        }
        out.fail(v, &s.job, reason);
    }
}

/// The most a signed request can cost: gas limit × max fee per gas.
pub fn max_cost(request: &TransactionRequest) -> U256 {
    U256::from(request.gas.unwrap_or_default())
        * U256::from(request.max_fee_per_gas.unwrap_or_default())
}

/// The votes that fit the node's `round.daily_spend_limit`: what its
/// attempts of the last 24 hours cost (or may still cost), plus each vote's
/// worst case, in nonce order. The rest wait for the window to move.
async fn within_budget(
    v: &Voting,
    voter_idx: usize,
    ready: Vec<(Job, u64)>,
    max_fee: u128,
    out: &mut SendOutcome,
) -> Vec<(Job, u64)> {
    let voter = &v.voters[voter_idx];
    let since = crate::ledger::now_ms() - 24 * 3600 * 1000;
    let mut spent = match v.ledger.spent_since(voter.address, since).await {
        Ok(s) => s,
        Err(e) => {
            // Unknown spend: nothing is sent rather than a limit overrun.
            let reason = format!("cannot read the node's spend of the last 24 hours: {e}");
            for (job, _) in &ready {
                out.defer(v, job, "transient", &reason);
            }
            return Vec::new();
        }
    };
    let limit = v.round.daily_spend_limit.0;
    let mut fits = Vec::with_capacity(ready.len());
    let mut over = false;
    for (job, gas) in ready {
        let worst = U256::from(gas_limit(gas)) * U256::from(max_fee);
        if !over && spent.saturating_add(worst) <= limit {
            spent += worst;
            fits.push((job, gas));
            continue;
        }
        let reason = format!(
            "round.daily_spend_limit reached: {} spent or committed in 24 h of {}",
            crate::config::Wei(spent),
            v.round.daily_spend_limit
        );
        if !over {
            over = true;
            v.metrics
                .spend_limit_reached
                .with_label_values(&[voter.name.as_str()])
                .inc();
            tracing::warn!(NODE = %voter.name, spent = %spent, limit = %limit, "daily spend limit reached; votes wait");
            v.webhooks.notify(
                Event::new(EventKind::SpendBudgetReached)
                    .node(&voter.name)
                    .reason(&reason),
            );
        }
        note(v, &job, &reason).await;
        out.defer(v, &job, "spend_limit", &reason);
    }
    v.metrics
        .spent_24h
        .with_label_values(&[voter.name.as_str()])
        .set(spent.to_string().parse().unwrap_or(f64::MAX));
    fits
}

/// The wallet's gas balance and its next nonce (`pending`), in one batch
/// request when batches are allowed.
async fn balance_and_nonce(
    v: &Voting,
    address: alloy::primitives::Address,
) -> (TransportResult<U256>, TransportResult<u64>) {
    if v.round.batch_size < 2 {
        return tokio::join!(
            v.provider.get_balance(address).into_future(),
            v.provider
                .get_transaction_count(address)
                .pending()
                .into_future()
        );
    }
    let mut batch = BatchRequest::new(v.provider.client());
    let balance = batch.add_call::<_, U256>("eth_getBalance", &(address, BlockId::latest()));
    let nonce = batch.add_call::<_, U64>("eth_getTransactionCount", &(address, BlockId::pending()));
    match batch.send().await {
        Ok(()) => {
            let balance = match balance {
                Ok(w) => w.await,
                Err(e) => Err(e),
            };
            let nonce = match nonce {
                Ok(w) => w.await.map(|n| n.to::<u64>()),
                Err(e) => Err(e),
            };
            (balance, nonce)
        }
        Err(e) => {
            let message = e.to_string();
            (
                Err(TransportErrorKind::custom_str(&message)),
                Err(TransportErrorKind::custom_str(&message)),
            )
        }
    }
}
