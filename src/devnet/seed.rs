//! Creates the scenario's proposals on chain and gives each its fate.
//!
//! Order of operations (ids follow the plan because one sender's transactions
//! are mined in nonce order):
//! 1. short voting period; create the expired and executed proposals;
//! 2. the deployer votes yes on the ones to execute;
//! 3. the clock moves past their deadline plus the one-day timelock;
//! 4. execute them, restore the long voting period, create everything else;
//! 5. cancel the ones to cancel.

use std::collections::BTreeMap;

use alloy::primitives::{Address, U256};
use alloy::sol_types::SolCall;

use super::chain::Chain;
use super::contracts::{EXECUTION_DELAY_SECS, TestAssetDAO};
use super::deploy::{Contracts, VOTING_PERIOD_SECS};
use super::error::DevnetError;
use super::scenario::{Fate, Planned};
use super::tx::{Call, Sender};

/// Voting period of the proposals that are meant to expire.
const SHORT_PERIOD_SECS: u64 = 60 * 60;

/// Proposal ids by fate, and every proposal with its id.
#[derive(Debug, Clone, Default)]
pub struct Seeded {
    pub by_fate: BTreeMap<Fate, Vec<u64>>,
    pub proposals: Vec<(u64, Planned)>,
}

pub async fn seed(
    chain: &Chain,
    sender: &mut Sender,
    contracts: &Contracts,
    plan: Vec<Planned>,
) -> Result<Seeded, DevnetError> {
    let dao = contracts.dao;
    let first_id = proposal_count(chain, dao).await? + 1;
    let proposals: Vec<(u64, Planned)> = (first_id..).zip(plan).collect();
    let split = proposals
        .iter()
        .position(|(_, p)| !p.fate.needs_time_travel())
        .unwrap_or(proposals.len());
    let (early, late) = proposals.split_at(split);
    let with = |fate: Fate, list: &[(u64, Planned)]| -> Vec<u64> {
        list.iter()
            .filter(|(_, p)| p.fate == fate)
            .map(|(id, _)| *id)
            .collect()
    };

    let mut after_jump = Vec::new();
    if !early.is_empty() {
        let mut calls = vec![set_period(dao, SHORT_PERIOD_SECS)];
        calls.extend(early.iter().map(|(id, p)| create(dao, contracts, *id, p)));
        sender.run(calls).await?;

        let to_execute = with(Fate::Executed, early);
        let votes = to_execute.iter().map(|id| {
            let input = TestAssetDAO::voteCall {
                proposalId: U256::from(*id),
                support: true,
            };
            Call::new(
                format!("deployer votes on proposal {id}"),
                dao,
                input.abi_encode(),
            )
        });
        sender.run(votes.collect()).await?;

        chain
            .advance_time(SHORT_PERIOD_SECS + EXECUTION_DELAY_SECS + 60)
            .await?;
        after_jump.extend(to_execute.iter().map(|id| {
            let input = TestAssetDAO::executeProposalCall {
                proposalId: U256::from(*id),
            };
            Call::new(format!("execute proposal {id}"), dao, input.abi_encode())
        }));
        after_jump.push(set_period(dao, VOTING_PERIOD_SECS));
    }
    after_jump.extend(late.iter().map(|(id, p)| create(dao, contracts, *id, p)));
    sender.run(after_jump).await?;

    let cancels = with(Fate::Canceled, late).into_iter().map(|id| {
        let input = TestAssetDAO::cancelProposalCall {
            proposalId: U256::from(id),
        };
        Call::new(format!("cancel proposal {id}"), dao, input.abi_encode())
    });
    sender.run(cancels.collect()).await?;

    let expected = first_id - 1 + proposals.len() as u64;
    let count = proposal_count(chain, dao).await?;
    if count != expected {
        return Err(DevnetError::Unexpected {
            what: format!("proposals on {dao}"),
            detail: format!(
                "getProposalCount() is {count}, expected {expected}: another sender created proposals meanwhile"
            ),
        });
    }
    let mut by_fate: BTreeMap<Fate, Vec<u64>> = BTreeMap::new();
    for (id, p) in &proposals {
        by_fate.entry(p.fate).or_default().push(*id);
    }
    Ok(Seeded { by_fate, proposals })
}

pub async fn proposal_count(chain: &Chain, dao: Address) -> Result<u64, DevnetError> {
    let count = TestAssetDAO::new(dao, &chain.provider)
        .getProposalCount()
        .call()
        .await
        .map_err(|e| chain.err(format!("read getProposalCount() of {dao}"), e))?;
    u64::try_from(count).map_err(|_| DevnetError::Unexpected {
        what: format!("getProposalCount() of {dao}"),
        detail: format!("{count} does not fit in 64 bits"),
    })
}

fn set_period(dao: Address, seconds: u64) -> Call {
    let input = TestAssetDAO::setVotingPeriodCall {
        votingPeriodSeconds: U256::from(seconds),
    };
    Call::new(
        format!("set the voting period to {seconds}s"),
        dao,
        input.abi_encode(),
    )
}

fn create(dao: Address, contracts: &Contracts, id: u64, p: &Planned) -> Call {
    let asset = p
        .asset
        .and_then(|s| contracts.asset(s))
        .unwrap_or(Address::ZERO);
    let input = TestAssetDAO::createProposalCall {
        proposalType: p.kind as u8,
        assetAddress: asset,
        amount: p.amount,
        description: p.description.clone(),
    };
    Call::new(format!("create proposal {id}"), dao, input.abi_encode())
}
