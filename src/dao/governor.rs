//! OpenZeppelin Governor (v4 and v5 share every call used here).
//!
//! Ids are hashes, so they are discovered from `ProposalCreated` logs, scanned
//! from `dao.start_block` once and then incrementally (re-reading the last
//! [`REORG_OVERLAP`] blocks each time). The description and proposer come
//! from the event. Proposals in a final state are remembered and not read
//! again. The clock is the token's: block numbers unless `CLOCK_MODE()` says
//! `mode=timestamp` (v4 before 4.9 has no `CLOCK_MODE` and counts blocks).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use alloy::eips::BlockId;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::DynProvider;
use alloy::rpc::types::Filter;
use alloy::sol_types::{SolCall, SolEvent};
use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::error::DaoError;
use super::governor_abi::{IGovernor, decode_vote_cast};
use super::logs::scan_logs;
use super::types::*;
use super::{Dao, RevertReason, try_map_bounded};
use crate::config::DaoKind;
use crate::strategy::VoteChoice;

/// Blocks re-scanned on every listing, so a proposal moved by a shallow
/// reorg is still found.
pub const REORG_OVERLAP: u64 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    Block,
    Timestamp,
}

#[derive(Debug, Clone)]
struct Created {
    proposer: Address,
    description: String,
    block: u64,
}

#[derive(Debug, Default)]
struct Discovery {
    scanned_to: Option<u64>,
    created: BTreeMap<U256, Created>,
    finished: HashSet<U256>,
}

#[derive(Debug)]
pub struct Governor {
    contract: IGovernor::IGovernorInstance<DynProvider>,
    start_block: u64,
    concurrency: usize,
    discovery: Mutex<Discovery>,
    clock: OnceCell<Clock>,
    token: OnceCell<Address>,
}

enum Read {
    Live(Box<Proposal>),
    Finished(U256),
    Gone(U256),
}

impl Governor {
    pub fn new(
        address: Address,
        provider: DynProvider,
        start_block: u64,
        concurrency: usize,
    ) -> Self {
        Governor {
            contract: IGovernor::new(address, provider),
            start_block,
            concurrency: concurrency.max(1),
            discovery: Mutex::new(Discovery::default()),
            clock: OnceCell::new(),
            token: OnceCell::new(),
        }
    }

    fn err(&self, call: impl Into<String>, e: &alloy::contract::Error) -> DaoError {
        DaoError::from_contract(self.address(), call, e)
    }

    fn discovery(&self) -> MutexGuard<'_, Discovery> {
        self.discovery.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn clock(&self) -> Result<Clock, DaoError> {
        self.clock
            .get_or_try_init(|| async {
                match self.contract.CLOCK_MODE().call().await {
                    Ok(mode) if mode.contains("mode=timestamp") => Ok(Clock::Timestamp),
                    Ok(_) => Ok(Clock::Block),
                    Err(e) => match self.err("CLOCK_MODE()", &e) {
                        DaoError::Reverted { .. } => Ok(Clock::Block),
                        other => Err(other),
                    },
                }
            })
            .await
            .copied()
    }

    fn timepoint(clock: Clock, v: U256) -> Timepoint {
        match clock {
            Clock::Block => Timepoint::Block(v.saturating_to()),
            Clock::Timestamp => Timepoint::Timestamp(v.saturating_to()),
        }
    }

    /// The timepoint at which voting power for `id` is counted.
    pub async fn proposal_snapshot(&self, id: U256, at: BlockId) -> Result<Timepoint, DaoError> {
        let clock = self.clock().await?;
        let v = self
            .contract
            .proposalSnapshot(id)
            .block(at)
            .call()
            .await
            .map_err(|e| self.err(format!("proposalSnapshot({id})"), &e))?;
        Ok(Self::timepoint(clock, v))
    }

    /// Scans `ProposalCreated` up to `to` and records what it finds.
    async fn discover(&self, to: u64) -> Result<(), DaoError> {
        let from = match self.discovery().scanned_to {
            Some(done) => done.saturating_sub(REORG_OVERLAP).max(self.start_block),
            None => self.start_block,
        };
        if from > to {
            return Ok(());
        }
        let filter = Filter::new()
            .address(self.address())
            .event_signature(IGovernor::ProposalCreated::SIGNATURE_HASH);
        let logs = scan_logs(self.contract.provider(), self.address(), filter, from, to).await?;
        let mut d = self.discovery();
        for log in &logs {
            if let Ok(e) = log.log_decode::<IGovernor::ProposalCreated>() {
                let data = e.inner.data;
                d.created.entry(data.proposalId).or_insert(Created {
                    proposer: data.proposer,
                    description: data.description,
                    block: log.block_number.unwrap_or(to),
                });
            }
        }
        d.scanned_to = Some(d.scanned_to.map_or(to, |s| s.max(to)));
        Ok(())
    }

    async fn read(
        &self,
        id: U256,
        created: Created,
        clock: Clock,
        at: BlockId,
    ) -> Result<Read, DaoError> {
        let state = match self.contract.state(id).block(at).call().await {
            Ok(s) => ProposalStatus::from_governor(s),
            Err(e) => {
                return match self.err(format!("state({id})"), &e) {
                    // v5 reverts with a custom error, v4 with a string.
                    DaoError::Reverted {
                        reason: RevertReason::GovernorNonexistentProposal { .. },
                        ..
                    } => Ok(Read::Gone(id)),
                    DaoError::Reverted {
                        reason: RevertReason::Error { message },
                        ..
                    } if message.contains("unknown proposal id") => Ok(Read::Gone(id)),
                    other => Err(other),
                };
            }
        };
        if !matches!(state, ProposalStatus::Pending | ProposalStatus::Active) {
            return Ok(Read::Finished(id));
        }
        let deadline = self
            .contract
            .proposalDeadline(id)
            .block(at)
            .call()
            .await
            .map_err(|e| self.err(format!("proposalDeadline({id})"), &e))?;
        // Counting modules other than GovernorCountingSimple lack proposalVotes:
        // a revert there means "no tally to show", not a failed listing.
        let (against, yes, abstain) = match self.contract.proposalVotes(id).block(at).call().await {
            Ok(v) => (v.againstVotes, v.forVotes, v.abstainVotes),
            Err(e) => match self.err(format!("proposalVotes({id})"), &e) {
                DaoError::Reverted { .. } => (U256::ZERO, U256::ZERO, U256::ZERO),
                other => return Err(other),
            },
        };
        Ok(Read::Live(Box::new(Proposal {
            id,
            kind: ProposalKind::Other,
            asset: None,
            amount: U256::ZERO,
            description: created.description,
            proposer: created.proposer,
            created_at: Timepoint::Block(created.block),
            deadline: Self::timepoint(clock, deadline),
            yes_votes: yes,
            no_votes: against,
            abstain_votes: abstain,
            status: state,
            executed: false,
        })))
    }
}

#[async_trait]
impl Dao for Governor {
    fn kind(&self) -> DaoKind {
        DaoKind::Governor
    }

    fn proposal_created_topic(&self) -> alloy::primitives::B256 {
        use alloy::sol_types::SolEvent;
        IGovernor::ProposalCreated::SIGNATURE_HASH
    }

    fn address(&self) -> Address {
        *self.contract.address()
    }

    async fn list(&self, head: &Head) -> Result<Listing, DaoError> {
        let clock = self.clock().await?;
        self.discover(head.number).await?;
        let (todo, total) = {
            let d = self.discovery();
            let todo: Vec<(U256, Created)> = d
                .created
                .iter()
                .filter(|(id, c)| c.block <= head.number && !d.finished.contains(*id))
                .map(|(id, c)| (*id, c.clone()))
                .collect();
            (todo, d.created.len() as u64)
        };
        let at = head.block_id();
        let reads = try_map_bounded(todo, self.concurrency, |(id, c)| {
            self.read(id, c, clock, at)
        })
        .await?;
        let mut proposals = Vec::new();
        let mut d = self.discovery();
        for r in reads {
            match r {
                Read::Live(p) => proposals.push(*p),
                Read::Finished(id) => {
                    d.finished.insert(id);
                }
                Read::Gone(id) => {
                    d.created.remove(&id);
                }
            }
        }
        Ok(Listing {
            head: *head,
            paused: false,
            total,
            proposals,
        })
    }

    /// `state == Active` and the deadline not within the margin. With a block
    /// clock the vote lands in block `head + 1` at the earliest, so open means
    /// `head + margin_blocks < deadline`; with a timestamp clock, the same rule
    /// as AssetDAO: `head_time + margin_seconds <= deadline`.
    fn is_open(&self, listing: &Listing, p: &Proposal, margin: VoteMargin) -> Openness {
        if p.status == ProposalStatus::Pending {
            return Openness::NotYet(
                "the proposal is pending: its voting delay has not passed".into(),
            );
        }
        if p.status != ProposalStatus::Active {
            return Openness::Closed(format!("proposal state is {:?}", p.status));
        }
        let open = match p.deadline {
            Timepoint::Block(end) => listing.head.number.saturating_add(margin.blocks) < end,
            Timepoint::Timestamp(end) => {
                listing.head.timestamp.saturating_add(margin.seconds) <= end
            }
        };
        if open {
            Openness::Open
        } else {
            Openness::Margin(format!(
                "voting ends at {}; head block {} (time {}) is within the margin",
                p.deadline, listing.head.number, listing.head.timestamp
            ))
        }
    }

    async fn has_voted(
        &self,
        pairs: &[(U256, Address)],
        at: BlockId,
    ) -> Result<Vec<bool>, DaoError> {
        try_map_bounded(pairs.to_vec(), self.concurrency, |(id, voter)| async move {
            self.contract
                .hasVoted(id, voter)
                .block(at)
                .call()
                .await
                .map_err(|e| self.err(format!("hasVoted({id}, {voter})"), &e))
        })
        .await
    }

    /// `castVoteWithReason(id, support, reason)`: Against 0, For 1, Abstain 2.
    fn vote_call(&self, proposal_id: U256, choice: VoteChoice, reason: &str) -> Option<VoteCall> {
        let support = match choice {
            VoteChoice::Against => 0,
            VoteChoice::For => 1,
            VoteChoice::Abstain => 2,
            VoteChoice::Skip => return None,
        };
        let data = IGovernor::castVoteWithReasonCall {
            proposalId: proposal_id,
            support,
            reason: reason.to_owned(),
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
                    .token()
                    .call()
                    .await
                    .map_err(|e| self.err("token()", &e))
            })
            .await
            .copied()
    }

    /// Delegated votes one timepoint before the head: `getVotes` refuses the
    /// current timepoint, and only delegated balances count.
    async fn voting_power(&self, account: Address, head: &Head) -> Result<U256, DaoError> {
        let timepoint = match self.clock().await? {
            Clock::Block => head.number,
            Clock::Timestamp => head.timestamp,
        }
        .saturating_sub(1);
        self.contract
            .getVotes(account, U256::from(timepoint))
            .block(head.block_id())
            .call()
            .await
            .map_err(|e| self.err(format!("getVotes({account}, {timepoint})"), &e))
    }

    async fn votes_cast(
        &self,
        from_block: u64,
        to_block: u64,
    ) -> Result<Vec<VoteCastEvent>, DaoError> {
        let filter = Filter::new().address(self.address()).event_signature(vec![
            IGovernor::VoteCast::SIGNATURE_HASH,
            IGovernor::VoteCastWithParams::SIGNATURE_HASH,
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
