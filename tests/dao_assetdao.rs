//! The AssetDAO adapter against the test AssetDAO on a real anvil: listing
//! (and what it leaves out), pause, votes that land, and bulk has-voted.

#[path = "support/chain_fixture.rs"]
mod chain_fixture;

use alloy::eips::BlockId;
use alloy::primitives::{Address, U256};
use chain_fixture::assetdao_scenario::*;
use govnode::dao::{
    Dao, Openness, ProposalKind, ProposalStatus, RevertReason, Timepoint, VoteMargin,
};
use govnode::strategy::VoteChoice;

fn ids(ps: &[&govnode::dao::Proposal]) -> Vec<u64> {
    ps.iter().map(|p| p.id.to::<u64>()).collect()
}

#[tokio::test]
async fn listing_leaves_out_expired_executed_and_canceled() {
    let env = setup().await;
    let head = env.chain.head().await;
    let listing = env.adapter.list(&head).await.unwrap();
    assert_eq!(listing.total, 8);
    assert!(!listing.paused);
    let all: Vec<_> = listing.proposals.iter().collect();
    assert_eq!(ids(&all), LIVE);
    assert_eq!(ids(&env.adapter.open_proposals(&listing, MARGIN)), LIVE);

    let p = &listing.proposals[0];
    assert_eq!(p.kind, ProposalKind::Investment);
    assert_eq!(p.asset, Some(env.usdc));
    assert_eq!(p.amount, tokens(50_000, 6));
    assert_eq!(p.description, "Invest 50k USDC in the treasury");
    assert_eq!(p.proposer, env.chain.account(0));
    assert_eq!(p.status, ProposalStatus::Active);
    let (Timepoint::Timestamp(created), Timepoint::Timestamp(ends)) = (p.created_at, p.deadline)
    else {
        panic!("AssetDAO counts in timestamps: {p:?}")
    };
    assert_eq!(ends, created + WEEK);
    assert_eq!(listing.proposals[1].kind, ProposalKind::Divestment);
    assert_eq!(listing.proposals[2].kind, ProposalKind::ParameterChange);
    assert_eq!(listing.proposals[2].asset, None, "zero address is no asset");
    assert_eq!(listing.proposals[3].kind, ProposalKind::Other);

    // The skipped ones are what the contract says they are.
    let at = head.block_id();
    let executed = env
        .adapter
        .proposal(U256::from(EXECUTED), at)
        .await
        .unwrap();
    assert!(executed.executed && executed.status == ProposalStatus::Executed);
    let canceled = env
        .adapter
        .proposal(U256::from(CANCELED), at)
        .await
        .unwrap();
    assert_eq!(canceled.status, ProposalStatus::Canceled);
    let expired = env.adapter.proposal(U256::from(EXPIRED), at).await.unwrap();
    assert_eq!(
        expired.status,
        ProposalStatus::Active,
        "status never changes with time"
    );
    assert!(expired.deadline.value() < head.timestamp);

    // A margin wider than the time left closes everything, with a reason.
    let wide = VoteMargin {
        seconds: WEEK + 1,
        blocks: 0,
    };
    assert!(env.adapter.open_proposals(&listing, wide).is_empty());
    match env.adapter.is_open(&listing, p, wide) {
        Openness::Margin(why) => assert!(why.contains("voting ends at"), "{why}"),
        other => panic!("not closed by the margin: {other:?}"),
    }

    // Later rounds: the same answer, and nothing once the week is over.
    let again = env.adapter.list(&env.chain.head().await).await.unwrap();
    assert_eq!(again.proposals.len(), LIVE.len());
    env.chain.advance_time(WEEK + 1).await;
    let later = env.adapter.list(&env.chain.head().await).await.unwrap();
    assert!(later.proposals.is_empty(), "{:?}", later.proposals);
    assert_eq!(later.total, 8);
}

#[tokio::test]
async fn a_paused_dao_has_nothing_open_but_still_reads() {
    let env = setup().await;
    let owner = env.chain.account(0);
    env.dao
        .pause()
        .from(owner)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let listing = env.adapter.list(&env.chain.head().await).await.unwrap();
    assert!(listing.paused);
    assert_eq!(
        listing.proposals.len(),
        LIVE.len(),
        "reads answer while paused"
    );
    assert!(env.adapter.open_proposals(&listing, MARGIN).is_empty());
    assert_eq!(
        env.adapter.is_open(&listing, &listing.proposals[0], MARGIN),
        Openness::Paused
    );
    let reason = env
        .refusal(INVEST_USDC, env.voter(1), VoteChoice::For)
        .await;
    assert_eq!(reason, RevertReason::ContractPaused);
    assert!(reason.voting_closed());
    env.dao
        .unpause()
        .from(owner)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let listing = env.adapter.list(&env.chain.head().await).await.unwrap();
    assert_eq!(
        env.adapter.open_proposals(&listing, MARGIN).len(),
        LIVE.len()
    );
}

#[tokio::test]
async fn votes_land_and_bulk_has_voted_matches_the_contract() {
    let env = setup().await;
    let (v1, v2, v3) = (env.voter(1), env.voter(2), env.voter(3));
    env.vote(INVEST_USDC, v1, VoteChoice::For).await;
    env.vote(DIVEST_WBTC, v2, VoteChoice::Against).await;
    assert!(
        env.adapter
            .vote_call(U256::from(PARAMETER), VoteChoice::Abstain, "")
            .is_none()
    );
    assert!(
        env.adapter
            .vote_call(U256::from(PARAMETER), VoteChoice::Skip, "")
            .is_none()
    );

    let head = env.chain.head().await;
    let pairs: Vec<(U256, Address)> = LIVE
        .iter()
        .flat_map(|id| [v1, v2, v3].map(|v| (U256::from(*id), v)))
        .collect();
    let bulk = env
        .adapter
        .has_voted(&pairs, head.block_id())
        .await
        .unwrap();
    assert_eq!(bulk.len(), pairs.len());
    for ((id, voter), got) in pairs.iter().zip(&bulk) {
        let direct = env.dao.hasVoted(*id, *voter).call().await.unwrap();
        assert_eq!(*got, direct, "proposal {id} voter {voter}");
        let expected = (*id, *voter) == (U256::from(INVEST_USDC), v1)
            || (*id, *voter) == (U256::from(DIVEST_WBTC), v2);
        assert_eq!(*got, expected, "proposal {id} voter {voter}");
    }
    // Pinned reads see the past: before the votes, nobody had voted.
    let before = env
        .adapter
        .has_voted(&pairs, BlockId::number(head.number - 2))
        .await
        .unwrap();
    assert!(before.iter().all(|v| !v));

    let listing = env.adapter.list(&head).await.unwrap();
    let tally = |id: u64| {
        let p = listing
            .proposals
            .iter()
            .find(|p| p.id == U256::from(id))
            .unwrap();
        (p.yes_votes, p.no_votes)
    };
    assert_eq!(tally(INVEST_USDC), (tokens(1000, 18), U256::ZERO));
    assert_eq!(tally(DIVEST_WBTC), (U256::ZERO, tokens(10, 18)));

    let events = env.adapter.votes_cast(0, head.number).await.unwrap();
    let seen: Vec<_> = events
        .iter()
        .map(|e| (e.proposal_id.to::<u64>(), e.voter, e.choice, e.weight))
        .collect();
    assert_eq!(
        seen,
        [
            (EXECUTED, env.voter(4), VoteChoice::For, Some(tokens(1, 18))),
            (INVEST_USDC, v1, VoteChoice::For, Some(tokens(1000, 18))),
            (DIVEST_WBTC, v2, VoteChoice::Against, Some(tokens(10, 18))),
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| e.tx_hash.is_some() && e.block_number.is_some())
    );
}
