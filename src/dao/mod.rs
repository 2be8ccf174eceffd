//! The DAOs govnode votes in, behind one [`Dao`] trait: DLoop's AssetDAO
//! ([`AssetDao`]) and OpenZeppelin Governor ([`Governor`]).
//!
//! A round pins a [`Head`], calls [`Dao::list`] once, keeps what
//! [`Dao::is_open`] accepts (given the configured [`VoteMargin`]), asks
//! [`Dao::has_voted`] for every (proposal, voter) pair, and turns each
//! decision into a [`VoteCall`] with [`Dao::vote_call`]. Adapters take an
//! [`alloy::providers::DynProvider`]; the provider pool is its transport, so
//! nothing here opens a connection of its own.
//!
//! Bulk reads (AssetDAO's proposal details, has-voted pairs) go out as
//! JSON-RPC batches of `round.batch_size` calls ([`batch`]), at most
//! `round.concurrency` batches in flight; the pool's rate limit counts every
//! call in a batch. Contract reads go through Multicall3 where the chain has
//! it ([`multicall`]): one `eth_call` for up to 100 reads.

mod assetdao;
mod batch;
mod erc20;
mod error;
mod governor;
mod governor_abi;
mod logs;
mod multicall;
mod revert;
mod simulate;
mod types;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider};
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt, stream};

pub use assetdao::{
    AssetDao, IAssetDAO, IAssetDAOLegacy, decode_vote_cast as decode_assetdao_vote,
};
pub use batch::{DEFAULT_BATCH_SIZE, call_many};
pub use erc20::{IERC20, TokenInfo, TokenResolver, balance_of};
pub use error::DaoError;
pub use governor::{Clock, Governor, REORG_OVERLAP};
pub use governor_abi::{IGovernor, decode_vote_cast as decode_governor_vote};
pub use logs::{PAGE_BLOCKS, scan_logs};
pub use multicall::{MULTICALL3, MulticallProbe, eth_balances, eth_calls};
pub use revert::{RevertReason, revert_data};
pub use simulate::{EstimatedBy, simulate_votes};
pub use types::*;

use crate::config::{DaoConfig, DaoKind};
use crate::strategy::VoteChoice;

#[async_trait]
pub trait Dao: Send + Sync + fmt::Debug {
    fn kind(&self) -> DaoKind;
    /// The DAO contract.
    fn address(&self) -> Address;

    /// Topic 0 of the DAO's `ProposalCreated` event, which
    /// `round.on_new_proposal` follows.
    fn proposal_created_topic(&self) -> alloy::primitives::B256;

    /// Every proposal that may still take a vote, with its details, read at
    /// `head`. Proposals closed for good (finished, or past their deadline on
    /// AssetDAO) are left out; the deadline margin is judged by `is_open`.
    async fn list(&self, head: &Head) -> Result<Listing, DaoError>;

    /// Whether a vote sent now counts: status, pause and deadline with margin.
    fn is_open(&self, listing: &Listing, proposal: &Proposal, margin: VoteMargin) -> Openness;

    /// The proposals of `listing` that [`Dao::is_open`] accepts.
    fn open_proposals<'a>(&self, listing: &'a Listing, margin: VoteMargin) -> Vec<&'a Proposal> {
        listing
            .proposals
            .iter()
            .filter(|p| self.is_open(listing, p, margin).is_open())
            .collect()
    }

    /// `hasVoted` for every pair at `at`, in input order. Fails as a whole if
    /// any read fails: a round must not decide on a partial picture.
    async fn has_voted(
        &self,
        pairs: &[(U256, Address)],
        at: BlockId,
    ) -> Result<Vec<bool>, DaoError>;

    /// The call that casts `choice`; `None` when the DAO cannot express it
    /// (skip, or abstain on AssetDAO). `reason` is sent where the DAO takes one.
    fn vote_call(&self, proposal_id: U256, choice: VoteChoice, reason: &str) -> Option<VoteCall>;

    fn decode_revert(&self, data: &[u8]) -> RevertReason;

    /// The token whose balance (AssetDAO) or delegated votes (Governor) weigh a vote.
    async fn voting_token(&self) -> Result<Address, DaoError>;

    /// The weight `account`'s vote would carry, as of `head`.
    async fn voting_power(&self, account: Address, head: &Head) -> Result<U256, DaoError>;

    /// [`Dao::voting_power`] of every account, in input order.
    async fn voting_powers(
        &self,
        accounts: &[Address],
        head: &Head,
    ) -> Vec<Result<U256, DaoError>> {
        futures::future::join_all(accounts.iter().map(|a| self.voting_power(*a, head))).await
    }

    /// `VoteCast` events in `from_block..=to_block` (history for the API and tests).
    async fn votes_cast(
        &self,
        from_block: u64,
        to_block: u64,
    ) -> Result<Vec<VoteCastEvent>, DaoError>;
}

/// The adapter for `config.kind`. `concurrency` bounds parallel reads,
/// `batch_size` the calls in one JSON-RPC batch; `multicall` is what is known
/// of the chain's Multicall3, shared with the other readers of the chain.
pub fn build(
    config: &DaoConfig,
    provider: DynProvider,
    concurrency: usize,
    batch_size: usize,
    multicall: MulticallProbe,
) -> Result<Arc<dyn Dao>, DaoError> {
    let address: Address = config.address.parse().map_err(|_| DaoError::Config {
        detail: format!("dao.address {:?} is not an address", config.address),
    })?;
    Ok(match config.kind {
        DaoKind::Assetdao => Arc::new(
            AssetDao::new(address, provider, concurrency)
                .with_batch_size(batch_size)
                .with_multicall(multicall),
        ),
        DaoKind::Governor => Arc::new(Governor::new(
            address,
            provider,
            config.start_block.unwrap_or(0),
            concurrency,
        )),
    })
}

/// The latest block, to pin a round's reads to.
pub async fn head(provider: &DynProvider) -> Result<Head, DaoError> {
    let head_err = |detail: String| DaoError::Head {
        detail: crate::telemetry::redact::redact_text(&detail, &[]).into_owned(),
    };
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .map_err(|e| head_err(e.to_string()))?
        .ok_or_else(|| head_err("the node has no latest block".into()))?;
    Ok(Head {
        number: block.header.number,
        hash: block.header.hash,
        timestamp: block.header.timestamp,
    })
}

/// `eth_estimateGas` of a vote from `from` at `at` (use `BlockId::pending()`
/// near a deadline: the vote is judged by the block that will include it).
/// `Ok(Err(reason))` is the chain refusing the vote — a decision to record,
/// not an error to retry; `Err` is a failed read.
pub async fn estimate_vote(
    provider: &DynProvider,
    dao: &dyn Dao,
    call: &VoteCall,
    from: Address,
    at: BlockId,
) -> Result<Result<u64, RevertReason>, DaoError> {
    match provider.estimate_gas(call.request(from)).block(at).await {
        Ok(gas) => Ok(Ok(gas)),
        Err(e) => match revert_data(&e) {
            Some(data) => Ok(Err(dao.decode_revert(&data))),
            None => Err(DaoError::from_transport(
                call.to,
                format!("estimateGas(vote {} from {from})", call.proposal_id),
                &e,
            )),
        },
    }
}

/// Why a mined vote reverted, in words: the transaction replayed with
/// `eth_call` on the state after its block (a pause mined in the same block
/// before it shows as `ContractPaused`). When the replay succeeds (state
/// moved within the block) or cannot be read, the text says so.
pub async fn explain_revert(
    provider: &DynProvider,
    dao: &dyn Dao,
    tx_hash: alloy::primitives::B256,
    block: u64,
) -> (String, Option<RevertReason>) {
    use alloy::consensus::Transaction as _;
    use alloy::network::TransactionResponse as _;
    let tx = match provider.get_transaction_by_hash(tx_hash).await {
        Ok(Some(tx)) => tx,
        Ok(None) => return (format!("reverted on chain in block {block}"), None),
        Err(e) => {
            let text = format!(
                "reverted on chain in block {block} (cannot read the transaction to decode why: {})",
                crate::telemetry::redact::redact_text(&e.to_string(), &[])
            );
            return (text, None);
        }
    };
    let mut request = alloy::rpc::types::TransactionRequest::default()
        .from(tx.from())
        .input(tx.input().clone().into());
    if let Some(to) = tx.to() {
        request = request.to(to);
    }
    match provider.call(request).block(BlockId::number(block)).await {
        Ok(_) => (
            format!(
                "reverted on chain in block {block}; replayed after the block it succeeds (the state changed within the block)"
            ),
            None,
        ),
        Err(e) => match revert_data(&e) {
            Some(data) => {
                let reason = dao.decode_revert(&data);
                (
                    format!("reverted on chain in block {block}: {reason}"),
                    Some(reason),
                )
            }
            None => (
                format!(
                    "reverted on chain in block {block} (no revert data on replay: {})",
                    crate::telemetry::redact::redact_text(&e.to_string(), &[])
                ),
                None,
            ),
        },
    }
}

/// [`estimate_vote`] of many calls from `from` at `at`, in JSON-RPC batches
/// of `batch_size`; results in input order.
pub async fn estimate_votes(
    provider: &DynProvider,
    dao: &dyn Dao,
    calls: &[&VoteCall],
    from: Address,
    at: BlockId,
    batch_size: usize,
    concurrency: usize,
) -> Vec<Result<Result<u64, RevertReason>, DaoError>> {
    let params: Vec<_> = calls.iter().map(|c| (c.request(from), at)).collect();
    let answers: Vec<alloy::transports::TransportResult<alloy::primitives::U64>> =
        call_many(provider, "eth_estimateGas", params, batch_size, concurrency).await;
    calls
        .iter()
        .zip(answers)
        .map(|(call, answer)| match answer {
            Ok(gas) => Ok(Ok(gas.saturating_to())),
            Err(e) => match revert_data(&e) {
                Some(data) => Ok(Err(dao.decode_revert(&data))),
                None => Err(DaoError::from_transport(
                    call.to,
                    format!("estimateGas(vote {} from {from})", call.proposal_id),
                    &e,
                )),
            },
        })
        .collect()
}

/// Runs `f` over `items` with at most `limit` in flight; results keep the
/// input order, and the first error fails the whole batch.
pub(crate) async fn try_map_bounded<I, T, F, Fut>(
    items: Vec<I>,
    limit: usize,
    f: F,
) -> Result<Vec<T>, DaoError>
where
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<T, DaoError>>,
{
    stream::iter(items)
        .map(f)
        .buffered(limit.max(1))
        .try_collect()
        .await
}
