//! DLoop's AssetDAO (verified Sepolia ABI; behaviour in shared/ASSETDAO.md).
//!
//! Proposal ids are dense from 1 to `getProposalCount()`, so listing reads
//! them all at the pinned block, in JSON-RPC batches. Ids that can
//! never take a vote again (past `votingEnds`, executed or canceled) are
//! remembered and not read again by later rounds: `votingEnds` is fixed at
//! creation, and executed and canceled are final.
//! Voting weight is the live `dloopToken()` balance; there is no abstention.

use std::collections::HashSet;
use std::sync::Mutex;

use alloy::eips::BlockId;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::DynProvider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol;
use alloy::sol_types::{SolCall, SolEvent};
use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::batch::DEFAULT_BATCH_SIZE;
use super::erc20::{IERC20, balance_of};
use super::error::DaoError;
use super::logs::scan_logs;
use super::multicall::{MulticallProbe, eth_calls};
use super::types::*;
use super::{Dao, RevertReason};
use crate::config::DaoKind;
use crate::strategy::VoteChoice;

sol! {
    /// The AssetDAO ABI govnode uses, as verified on Sepolia.
    #[sol(rpc)]
    interface IAssetDAO {
        function getProposalCount() external view returns (uint256);
        function getProposal(uint256 proposalId) external view returns (
            uint256 id,
            uint8 proposalType,
            address assetAddress,
            uint256 amount,
            string description,
            address proposer,
            uint256 createdAt,
            uint256 votingEnds,
            uint256 yesVotes,
            uint256 noVotes,
            uint8 status,
            bool executed
        );
        function hasVoted(uint256 proposalId, address voter) external view returns (bool);
        function paused() external view returns (bool);
        function dloopToken() external view returns (address);
        function votingPeriod() external view returns (uint256);
        function quorum() external view returns (uint256);
        function vote(uint256 proposalId, bool support) external;

        event ProposalCreated(uint256 indexed proposalId, uint256 indexed assetId, address indexed proposer, uint8 proposalType);
        event VoteCast(uint256 indexed proposalId, address indexed voter, bool support, uint256 weight);

        error ProposalNotFound();
        error VotingPeriodEnded();
        error InvalidProposalState();
        error ContractPaused();
        error VotingBufferNotElapsed();
    }

    /// The event of the source revision, which has no weight.
    interface IAssetDAOLegacy {
        event VoteCast(uint256 indexed proposalId, address indexed voter, bool support);
    }
}

#[derive(Debug)]
pub struct AssetDao {
    contract: IAssetDAO::IAssetDAOInstance<DynProvider>,
    concurrency: usize,
    /// Calls per JSON-RPC batch for bulk reads.
    batch: usize,
    /// Ids that can never be voted on again.
    closed: Mutex<HashSet<U256>>,
    token: OnceCell<Address>,
    multicall: MulticallProbe,
}

impl AssetDao {
    pub fn new(address: Address, provider: DynProvider, concurrency: usize) -> Self {
        AssetDao {
            contract: IAssetDAO::new(address, provider),
            concurrency: concurrency.max(1),
            batch: DEFAULT_BATCH_SIZE,
            closed: Mutex::new(HashSet::new()),
            token: OnceCell::new(),
            multicall: MulticallProbe::default(),
        }
    }

    /// Calls per JSON-RPC batch for bulk reads (1: no batches).
    pub fn with_batch_size(mut self, size: usize) -> Self {
        self.batch = size.max(1);
        self
    }

    /// Shares what is known of the chain's Multicall3.
    pub fn with_multicall(mut self, probe: MulticallProbe) -> Self {
        self.multicall = probe;
        self
    }

    fn err(&self, call: impl Into<String>, e: &alloy::contract::Error) -> DaoError {
        DaoError::from_contract(*self.contract.address(), call, e)
    }

    pub async fn proposal_count(&self, at: BlockId) -> Result<U256, DaoError> {
        self.contract
            .getProposalCount()
            .block(at)
            .call()
            .await
            .map_err(|e| self.err("getProposalCount()", &e))
    }

    pub async fn paused(&self, at: BlockId) -> Result<bool, DaoError> {
        self.contract
            .paused()
            .block(at)
            .call()
            .await
            .map_err(|e| self.err("paused()", &e))
    }

    /// Seconds a new proposal stays open (`votingPeriod()`).
    pub async fn voting_period(&self, at: BlockId) -> Result<U256, DaoError> {
        self.contract
            .votingPeriod()
            .block(at)
            .call()
            .await
            .map_err(|e| self.err("votingPeriod()", &e))
    }

    /// Minimum share of yes votes among votes cast, in basis points (`quorum()`).
    pub async fn quorum(&self, at: BlockId) -> Result<U256, DaoError> {
        self.contract
            .quorum()
            .block(at)
            .call()
            .await
            .map_err(|e| self.err("quorum()", &e))
    }

    pub async fn proposal(&self, id: U256, at: BlockId) -> Result<Proposal, DaoError> {
        let r = self
            .contract
            .getProposal(id)
            .block(at)
            .call()
            .await
            .map_err(|e| self.err(format!("getProposal({id})"), &e))?;
        self.to_proposal(id, r)
    }

    /// `getProposal` of every id at `at`, in batches; fails if any read fails.
    async fn proposals(&self, ids: Vec<U256>, at: BlockId) -> Result<Vec<Proposal>, DaoError> {
        let calls = ids
            .iter()
            .map(|id| {
                let data = IAssetDAO::getProposalCall { proposalId: *id }.abi_encode();
                (self.address(), Bytes::from(data))
            })
            .collect();
        let answers = eth_calls(
            self.contract.provider(),
            &self.multicall,
            calls,
            at,
            self.batch,
            self.concurrency,
        )
        .await;
        ids.into_iter()
            .zip(answers)
            .map(|(id, answer)| {
                let call = || format!("getProposal({id})");
                let raw =
                    answer.map_err(|e| DaoError::from_transport(self.address(), call(), &e))?;
                let r = IAssetDAO::getProposalCall::abi_decode_returns(&raw).map_err(|e| {
                    DaoError::Decode {
                        contract: self.address(),
                        call: call(),
                        detail: e.to_string(),
                    }
                })?;
                self.to_proposal(id, r)
            })
            .collect()
    }

    fn to_proposal(&self, id: U256, r: IAssetDAO::getProposalReturn) -> Result<Proposal, DaoError> {
        let kind = ProposalKind::from_assetdao(r.proposalType).ok_or_else(|| DaoError::Decode {
            contract: *self.contract.address(),
            call: format!("getProposal({id})"),
            detail: format!("unknown proposal type {}", r.proposalType),
        })?;
        Ok(Proposal {
            id,
            kind,
            asset: (r.assetAddress != Address::ZERO).then_some(r.assetAddress),
            amount: r.amount,
            description: r.description,
            proposer: r.proposer,
            created_at: Timepoint::Timestamp(r.createdAt.saturating_to()),
            deadline: Timepoint::Timestamp(r.votingEnds.saturating_to()),
            yes_votes: r.yesVotes,
            no_votes: r.noVotes,
            abstain_votes: U256::ZERO,
            status: ProposalStatus::from_assetdao(r.status),
            executed: r.executed,
        })
    }

    fn closed_ids(&self) -> std::sync::MutexGuard<'_, HashSet<U256>> {
        self.closed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Dao for AssetDao {
    fn kind(&self) -> DaoKind {
        DaoKind::Assetdao
    }

    fn proposal_created_topic(&self) -> alloy::primitives::B256 {
        use alloy::sol_types::SolEvent;
        IAssetDAO::ProposalCreated::SIGNATURE_HASH
    }

    fn address(&self) -> Address {
        *self.contract.address()
    }

    async fn list(&self, head: &Head) -> Result<Listing, DaoError> {
        let at = head.block_id();
        let (count, paused) = tokio::try_join!(self.proposal_count(at), self.paused(at))?;
        let total: u64 = count.saturating_to();
        let ids: Vec<U256> = {
            let closed = self.closed_ids();
            (1..=total)
                .map(U256::from)
                .filter(|id| !closed.contains(id))
                .collect()
        };
        let read = self.proposals(ids, at).await?;
        let mut proposals = Vec::new();
        let mut newly_closed = Vec::new();
        for p in read {
            // Executed and canceled are final states; votingEnds never moves.
            if p.executed
                || p.status == ProposalStatus::Canceled
                || p.deadline.value() < head.timestamp
            {
                newly_closed.push(p.id);
            } else if p.status == ProposalStatus::Active {
                proposals.push(p);
            }
        }
        self.closed_ids().extend(newly_closed);
        Ok(Listing {
            head: *head,
            paused,
            total,
            proposals,
        })
    }

    /// `status == Active && !executed && now + margin <= votingEnds && !paused`
    /// (checked in that order: the first reason that holds for good wins),
    /// with "now" the pinned head's timestamp: the vote is judged by the later
    /// timestamp of the block that includes it, which the margin must cover.
    fn is_open(&self, listing: &Listing, p: &Proposal, margin: VoteMargin) -> Openness {
        if p.status != ProposalStatus::Active || p.executed {
            return Openness::Closed(format!("proposal status is {:?}", p.status));
        }
        let ends = p.deadline.value();
        let now = listing.head.timestamp;
        if now.saturating_add(margin.seconds) > ends {
            return Openness::Margin(format!(
                "voting ends at {ends}; head time {now} + margin {}s is past it",
                margin.seconds
            ));
        }
        // Last: a pause passes, a final status or a deadline does not.
        if listing.paused {
            return Openness::Paused;
        }
        Openness::Open
    }

    async fn has_voted(
        &self,
        pairs: &[(U256, Address)],
        at: BlockId,
    ) -> Result<Vec<bool>, DaoError> {
        let calls = pairs
            .iter()
            .map(|&(id, voter)| {
                let data = IAssetDAO::hasVotedCall {
                    proposalId: id,
                    voter,
                }
                .abi_encode();
                (self.address(), Bytes::from(data))
            })
            .collect();
        let answers = eth_calls(
            self.contract.provider(),
            &self.multicall,
            calls,
            at,
            self.batch,
            self.concurrency,
        )
        .await;
        pairs
            .iter()
            .zip(answers)
            .map(|(&(id, voter), answer)| {
                let call = || format!("hasVoted({id}, {voter})");
                let raw =
                    answer.map_err(|e| DaoError::from_transport(self.address(), call(), &e))?;
                IAssetDAO::hasVotedCall::abi_decode_returns(&raw).map_err(|e| DaoError::Decode {
                    contract: self.address(),
                    call: call(),
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// `vote(id, support)`. AssetDAO has no abstention and no reason field:
    /// abstain and skip send nothing.
    fn vote_call(&self, proposal_id: U256, choice: VoteChoice, _reason: &str) -> Option<VoteCall> {
        let support = match choice {
            VoteChoice::For => true,
            VoteChoice::Against => false,
            VoteChoice::Abstain | VoteChoice::Skip => return None,
        };
        let data = IAssetDAO::voteCall {
            proposalId: proposal_id,
            support,
        }
        .abi_encode();
        Some(VoteCall {
            to: self.address(),
            data: Bytes::from(data),
            proposal_id,
            choice,
        })
    }

    fn decode_revert(&self, data: &[u8]) -> RevertReason {
        RevertReason::decode(data)
    }

    async fn voting_token(&self) -> Result<Address, DaoError> {
        self.token
            .get_or_try_init(|| async {
                self.contract
                    .dloopToken()
                    .call()
                    .await
                    .map_err(|e| self.err("dloopToken()", &e))
            })
            .await
            .copied()
    }

    /// The live token balance: AssetDAO weighs a vote by the balance in the
    /// block that includes it, with no snapshot and no delegation.
    async fn voting_power(&self, account: Address, head: &Head) -> Result<U256, DaoError> {
        let token = self.voting_token().await?;
        balance_of(self.contract.provider(), token, account, head.block_id()).await
    }

    /// Every account's `balanceOf` in one batch.
    async fn voting_powers(
        &self,
        accounts: &[Address],
        head: &Head,
    ) -> Vec<Result<U256, DaoError>> {
        let token = match self.voting_token().await {
            Ok(t) => t,
            Err(e) => return accounts.iter().map(|_| Err(e.clone())).collect(),
        };
        let calls = accounts
            .iter()
            .map(|a| {
                let data = IERC20::balanceOfCall { account: *a }.abi_encode();
                (token, Bytes::from(data))
            })
            .collect();
        let answers = eth_calls(
            self.contract.provider(),
            &self.multicall,
            calls,
            head.block_id(),
            self.batch,
            self.concurrency,
        )
        .await;
        accounts
            .iter()
            .zip(answers)
            .map(|(account, answer)| {
                let call = || format!("balanceOf({account})");
                let raw = answer.map_err(|e| DaoError::from_transport(token, call(), &e))?;
                IERC20::balanceOfCall::abi_decode_returns(&raw).map_err(|e| DaoError::Decode {
                    contract: token,
                    call: call(),
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    async fn votes_cast(
        &self,
        from_block: u64,
        to_block: u64,
    ) -> Result<Vec<VoteCastEvent>, DaoError> {
        let filter = Filter::new().address(self.address()).event_signature(vec![
            IAssetDAO::VoteCast::SIGNATURE_HASH,
            IAssetDAOLegacy::VoteCast::SIGNATURE_HASH,
        ]);
        let logs = scan_logs(
            self.contract.provider(),
            self.address(),
            filter,
            from_block,
            to_block,
        )
        .await?;
        Ok(logs.iter().filter_map(decode_vote_cast).collect())
    }
}

/// Either revision's `VoteCast`; `None` for any other log.
pub fn decode_vote_cast(log: &Log) -> Option<VoteCastEvent> {
    let (proposal_id, voter, support, weight) =
        if let Ok(e) = log.log_decode::<IAssetDAO::VoteCast>() {
            let d = e.inner.data;
            (d.proposalId, d.voter, d.support, Some(d.weight))
        } else if let Ok(e) = log.log_decode::<IAssetDAOLegacy::VoteCast>() {
            let d = e.inner.data;
            (d.proposalId, d.voter, d.support, None)
        } else {
            return None;
        };
    Some(VoteCastEvent {
        proposal_id,
        voter,
        choice: if support {
            VoteChoice::For
        } else {
            VoteChoice::Against
        },
        weight,
        reason: String::new(),
        block_number: log.block_number,
        tx_hash: log.transaction_hash,
    })
}

#[cfg(test)]
#[path = "assetdao_tests.rs"]
mod tests;
