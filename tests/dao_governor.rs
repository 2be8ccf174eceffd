//! The Governor adapter against OpenZeppelin's Governor, compiled from the
//! repo's fixtures for this run: discovery from `ProposalCreated`, the block
//! clock, For/Against/Abstain with reasons through the adapter's calls, the
//! tallies, `hasVoted`, the `VoteCast` reasons, and Governor reverts.

#[path = "support/chain_fixture.rs"]
mod chain_fixture;

use alloy::eips::BlockId;
use alloy::primitives::{Address, Bytes, U256, keccak256};
use alloy::sol_types::{SolCall, SolValue};
use chain_fixture::{Chain, GovTokenApi, TestGovernorApi, build_governor, load_artifact};
use govnode::dao::{
    Dao, Governor, Openness, ProposalKind, ProposalStatus, RevertReason, Timepoint, VoteMargin,
    estimate_vote,
};
use govnode::strategy::VoteChoice;

const DELAY: u64 = 1;
const PERIOD: u64 = 20;

struct Env {
    chain: Chain,
    token: Address,
    governor: Address,
    adapter: Governor,
    _artifacts: tempfile::TempDir,
}

fn votes(n: u64) -> U256 {
    U256::from(n) * U256::from(10).pow(U256::from(18))
}

async fn setup() -> Env {
    let artifacts = build_governor();
    let chain = Chain::start().await;
    let token_code = load_artifact(&artifacts.path().join("GovToken.json")).bytecode;
    let gov_code = load_artifact(&artifacts.path().join("TestGovernor.json")).bytecode;
    let token = chain
        .deploy(
            &token_code,
            &("Gov Token".to_string(), "GOV".to_string()).abi_encode_params(),
        )
        .await;
    let governor = chain
        .deploy(
            &gov_code,
            &(token, U256::from(DELAY), U256::from(PERIOD), U256::from(4)).abi_encode_params(),
        )
        .await;
    let t = GovTokenApi::new(token, &chain.provider);
    for (i, amount) in [(1, 100), (2, 60), (3, 30)] {
        let who = chain.account(i);
        t.mint(who, votes(amount))
            .from(chain.account(0))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        t.delegate(who)
            .from(who)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }
    let adapter = Governor::new(governor, chain.provider.clone(), 0, 4);
    Env {
        chain,
        token,
        governor,
        adapter,
        _artifacts: artifacts,
    }
}

impl Env {
    /// Proposes a harmless call (`token.name()`) from account 1; returns the id.
    async fn propose(&self, description: &str) -> U256 {
        let gov = TestGovernorApi::new(self.governor, &self.chain.provider);
        let targets = vec![self.token];
        let values = vec![U256::ZERO];
        let calldatas = vec![Bytes::from(GovTokenApi::nameCall {}.abi_encode())];
        gov.propose(
            targets.clone(),
            values.clone(),
            calldatas.clone(),
            description.into(),
        )
        .from(self.chain.account(1))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
        gov.hashProposal(
            targets,
            values,
            calldatas,
            keccak256(description.as_bytes()),
        )
        .call()
        .await
        .unwrap()
    }

    async fn vote(&self, id: U256, voter: Address, choice: VoteChoice, reason: &str) {
        let call = self
            .adapter
            .vote_call(id, choice, reason)
            .expect("expressible");
        self.chain.send(call.request(voter)).await;
    }
}

const MARGIN: VoteMargin = VoteMargin {
    seconds: 0,
    blocks: 2,
};

#[tokio::test]
async fn votes_with_reasons_land_and_are_counted() {
    let env = setup().await;
    let id = env.propose("Proposal #1: fund the audit").await;
    let created_block = env.chain.head().await.number;

    // Pending during the voting delay: listed, not open.
    let listing = env.adapter.list(&env.chain.head().await).await.unwrap();
    assert_eq!(listing.total, 1);
    let p = &listing.proposals[0];
    assert_eq!(p.id, id);
    assert_eq!(p.status, ProposalStatus::Pending);
    assert!(
        matches!(
            env.adapter.is_open(
                &listing,
                p,
                VoteMargin {
                    seconds: 0,
                    blocks: 0
                }
            ),
            Openness::NotYet(_)
        ),
        "a pending proposal opens later; it is not closed"
    );
    assert_eq!(p.kind, ProposalKind::Other);
    assert_eq!(p.description, "Proposal #1: fund the audit");
    assert_eq!(p.proposer, env.chain.account(1));
    assert_eq!(p.created_at, Timepoint::Block(created_block));
    assert!(
        matches!(p.deadline, Timepoint::Block(_)),
        "block clock: {:?}",
        p.deadline
    );
    assert!(!env.adapter.is_open(&listing, p, MARGIN).is_open());

    env.chain.mine(DELAY + 1).await;
    let head = env.chain.head().await;
    let listing = env.adapter.list(&head).await.unwrap();
    let open = env.adapter.open_proposals(&listing, MARGIN);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].status, ProposalStatus::Active);

    let (v1, v2, v3, v4) = (
        env.chain.account(1),
        env.chain.account(2),
        env.chain.account(3),
        env.chain.account(4),
    );
    assert_eq!(
        env.adapter.voting_power(v1, &head).await.unwrap(),
        votes(100)
    );
    assert_eq!(env.adapter.voting_token().await.unwrap(), env.token);
    assert!(env.adapter.vote_call(id, VoteChoice::Skip, "").is_none());
    env.vote(id, v1, VoteChoice::For, "strong treasury case")
        .await;
    env.vote(id, v2, VoteChoice::Against, "too expensive").await;
    env.vote(id, v3, VoteChoice::Abstain, "conflict of interest")
        .await;

    let head = env.chain.head().await;
    let pairs = [(id, v1), (id, v2), (id, v3), (id, v4)];
    let voted = env
        .adapter
        .has_voted(&pairs, head.block_id())
        .await
        .unwrap();
    assert_eq!(voted, [true, true, true, false]);

    let gov = TestGovernorApi::new(env.governor, &env.chain.provider);
    let tally = gov.proposalVotes(id).call().await.unwrap();
    assert_eq!(
        (tally.againstVotes, tally.forVotes, tally.abstainVotes),
        (votes(60), votes(100), votes(30))
    );
    let listing = env.adapter.list(&head).await.unwrap();
    let p = &listing.proposals[0];
    assert_eq!(
        (p.yes_votes, p.no_votes, p.abstain_votes),
        (votes(100), votes(60), votes(30))
    );

    let events = env.adapter.votes_cast(0, head.number).await.unwrap();
    let seen: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.proposal_id,
                e.voter,
                e.choice,
                e.weight,
                e.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                id,
                v1,
                VoteChoice::For,
                Some(votes(100)),
                "strong treasury case"
            ),
            (
                id,
                v2,
                VoteChoice::Against,
                Some(votes(60)),
                "too expensive"
            ),
            (
                id,
                v3,
                VoteChoice::Abstain,
                Some(votes(30)),
                "conflict of interest"
            ),
        ]
    );

    // A second vote is refused by the chain, readably.
    let again = env
        .adapter
        .vote_call(id, VoteChoice::Against, "changed my mind")
        .unwrap();
    let refused = estimate_vote(
        &env.chain.provider,
        &env.adapter,
        &again,
        v1,
        BlockId::latest(),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(refused, RevertReason::GovernorAlreadyCastVote { voter: v1 });
    assert!(refused.already_voted());
}

#[tokio::test]
async fn deadlines_in_blocks_and_finished_proposals() {
    let env = setup().await;
    let first = env.propose("first").await;
    env.chain.mine(DELAY + 1).await;
    let head = env.chain.head().await;
    let listing = env.adapter.list(&head).await.unwrap();
    let p = listing.proposals[0].clone();
    let Timepoint::Block(deadline) = p.deadline else {
        panic!("block clock expected")
    };
    assert_eq!(
        env.adapter
            .proposal_snapshot(first, head.block_id())
            .await
            .unwrap(),
        Timepoint::Block(deadline - PERIOD)
    );
    // Open while head + margin < deadline; closed with a reason after.
    let left = deadline - head.number;
    let tight = VoteMargin {
        seconds: 0,
        blocks: left,
    };
    let just = VoteMargin {
        seconds: 0,
        blocks: left - 1,
    };
    assert!(env.adapter.is_open(&listing, &p, just).is_open());
    match env.adapter.is_open(&listing, &p, tight) {
        Openness::Margin(why) => assert!(why.contains("within the margin"), "{why}"),
        other => panic!("not closed by the margin: {other:?}"),
    }

    // A proposal made later is discovered incrementally.
    let second = env.propose("second").await;
    let listing = env.adapter.list(&env.chain.head().await).await.unwrap();
    let ids: Vec<U256> = listing.proposals.iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&first) && ids.contains(&second));
    assert_eq!(listing.total, 2);

    // After the period both are finished (defeated: no votes) and drop out.
    env.chain.mine(PERIOD + DELAY + 2).await;
    let listing = env.adapter.list(&env.chain.head().await).await.unwrap();
    assert!(listing.proposals.is_empty(), "{:?}", listing.proposals);
    let late = env
        .adapter
        .vote_call(first, VoteChoice::For, "late")
        .unwrap();
    let refused = estimate_vote(
        &env.chain.provider,
        &env.adapter,
        &late,
        env.chain.account(2),
        BlockId::latest(),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert!(
        matches!(
            refused,
            RevertReason::GovernorUnexpectedProposalState { current: 3, .. }
        ),
        "{refused:?}"
    );
    assert!(refused.voting_closed());
    assert!(
        refused
            .to_string()
            .contains("is Defeated, expected one of [Active]"),
        "{refused}"
    );

    let missing = env
        .adapter
        .vote_call(U256::from(12345), VoteChoice::For, "")
        .unwrap();
    let refused = estimate_vote(
        &env.chain.provider,
        &env.adapter,
        &missing,
        env.chain.account(2),
        BlockId::latest(),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(
        refused,
        RevertReason::GovernorNonexistentProposal {
            proposal_id: U256::from(12345)
        }
    );
}
