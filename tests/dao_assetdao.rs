//! The AssetDAO adapter against the test AssetDAO on a real anvil: listing
//! (and what it leaves out), bulk has-voted, votes that land, every revert
//! decoded from the chain's own answer, and the token facts strategies use.

#[path = "support/chain_fixture.rs"]
mod chain_fixture;

use alloy::eips::BlockId;
use alloy::primitives::{Address, U256};
use chain_fixture::{Chain, TestAssetDAO, deploy_assetdao};
use govnode::dao::{
    AssetDao, Dao, Openness, ProposalKind, ProposalStatus, RevertReason, Timepoint, TokenResolver,
    VoteMargin, estimate_vote,
};
use govnode::strategy::{Conservative, ProposalView, Strategy, VoteChoice};

const WEEK: u64 = 7 * 24 * 3600;
const MARGIN: VoteMargin = VoteMargin {
    seconds: 60,
    blocks: 5,
};

fn tokens(n: u64, decimals: u8) -> U256 {
    U256::from(n) * U256::from(10).pow(U256::from(decimals))
}

/// Proposal ids of the scenario (dense from 1, in creation order).
const EXECUTED: u64 = 1;
const EXPIRED: u64 = 2;
const INVEST_USDC: u64 = 3;
const DIVEST_WBTC: u64 = 4;
const PARAMETER: u64 = 5;
const OTHER: u64 = 6;
const UNKNOWN_ASSET: u64 = 7;
const CANCELED: u64 = 8;
const LIVE: [u64; 5] = [INVEST_USDC, DIVEST_WBTC, PARAMETER, OTHER, UNKNOWN_ASSET];

struct Env {
    chain: Chain,
    dloop: Address,
    usdc: Address,
    wbtc: Address,
    dao: TestAssetDAO::TestAssetDAOInstance<alloy::providers::DynProvider>,
    adapter: AssetDao,
}

impl Env {
    fn voter(&self, i: usize) -> Address {
        self.chain.account(i)
    }

    async fn vote(&self, id: u64, voter: Address, choice: VoteChoice) {
        let call = self
            .adapter
            .vote_call(U256::from(id), choice, "ignored by AssetDAO")
            .expect("for/against are expressible");
        self.chain.send(call.request(voter)).await;
    }

    async fn refusal(&self, id: u64, voter: Address, choice: VoteChoice) -> RevertReason {
        let call = self.adapter.vote_call(U256::from(id), choice, "").unwrap();
        estimate_vote(
            &self.chain.provider,
            &self.adapter,
            &call,
            voter,
            BlockId::latest(),
        )
        .await
        .expect("the node answered")
        .expect_err("the vote must be refused")
    }
}

async fn setup() -> Env {
    let chain = Chain::start().await;
    let owner = chain.account(0);
    let dep = deploy_assetdao(&chain, 100).await;
    let usdc = chain.deploy_token("USD Coin", "USDC", 6).await;
    let wbtc = chain.deploy_token("Wrapped BTC", "WBTC", 8).await;
    chain
        .mint(dep.token, chain.account(1), tokens(1000, 18))
        .await;
    chain
        .mint(dep.token, chain.account(2), tokens(10, 18))
        .await;
    chain.mint(dep.token, chain.account(4), tokens(1, 18)).await;
    let dao = TestAssetDAO::new(dep.dao, chain.provider.clone());
    let create = |kind: u8, asset: Address, amount: U256, text: &str| {
        let call = dao
            .createProposal(kind, asset, amount, text.to_owned())
            .from(owner);
        async move { call.send().await.unwrap().get_receipt().await.unwrap() }
    };
    let adapter = AssetDao::new(dep.dao, chain.provider.clone(), 4);
    let env_dao = dao.clone();

    // Short-lived proposals first: one executed, one left to expire.
    create(0, usdc, tokens(1, 6), "to execute").await;
    create(1, wbtc, tokens(1, 8), "expires").await;
    let call = adapter
        .vote_call(U256::from(EXECUTED), VoteChoice::For, "")
        .unwrap();
    chain.send(call.request(chain.account(4))).await;
    chain.advance_time(100 + 24 * 3600 + 10).await;
    let r = dao
        .executeProposal(U256::from(EXECUTED))
        .from(owner)
        .send()
        .await
        .unwrap();
    assert!(r.get_receipt().await.unwrap().status());

    dao.setVotingPeriod(U256::from(WEEK))
        .from(owner)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    create(
        0,
        usdc,
        tokens(50_000, 6),
        "Invest 50k USDC in the treasury",
    )
    .await;
    create(1, wbtc, tokens(2, 8), "Divest 2 WBTC").await;
    create(2, Address::ZERO, U256::ZERO, "Raise the quorum").await;
    create(3, Address::ZERO, U256::ZERO, "Something else").await;
    create(0, chain.account(9), U256::from(5), "Mystery asset").await;
    create(0, usdc, U256::from(1), "to cancel").await;
    dao.cancelProposal(U256::from(CANCELED))
        .from(owner)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();

    Env {
        dloop: dep.token,
        usdc,
        wbtc,
        dao: env_dao,
        adapter,
        chain,
    }
}

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
        Openness::Closed(why) => assert!(why.contains("voting ends at"), "{why}"),
        Openness::Open => panic!("open despite the margin"),
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
        Openness::Closed("the DAO is paused".into())
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

#[tokio::test]
async fn every_revert_is_decoded_from_the_chain() {
    let env = setup().await;
    let v1 = env.voter(1);
    let cases = [
        (0, RevertReason::ProposalNotFound),
        (99, RevertReason::ProposalNotFound),
        (EXPIRED, RevertReason::VotingPeriodEnded),
        (CANCELED, RevertReason::InvalidProposalState),
        (EXECUTED, RevertReason::VotingPeriodEnded),
    ];
    for (id, want) in cases {
        let got = env.refusal(id, v1, VoteChoice::For).await;
        assert_eq!(got, want, "proposal {id}");
        assert!(got.voting_closed(), "{got}");
    }

    env.vote(INVEST_USDC, v1, VoteChoice::For).await;
    let again = env.refusal(INVEST_USDC, v1, VoteChoice::Against).await;
    assert_eq!(again, RevertReason::VotingBufferNotElapsed);
    assert!(again.already_voted());
    assert!(
        again.to_string().contains("less than 6 hours ago"),
        "{again}"
    );

    // After the buffer the contract lets a same-direction re-vote through to
    // its arithmetic, which underflows the other side: Panic(0x11).
    env.chain.advance_time(6 * 3600 + 1).await;
    let panic = env.refusal(INVEST_USDC, v1, VoteChoice::For).await;
    assert_eq!(
        panic,
        RevertReason::Panic {
            code: U256::from(0x11)
        }
    );
    assert_eq!(
        panic.to_string(),
        "Panic(0x11): arithmetic overflow or underflow"
    );

    let texts = [
        RevertReason::ContractPaused,
        RevertReason::ProposalNotFound,
        RevertReason::VotingPeriodEnded,
        RevertReason::InvalidProposalState,
    ]
    .map(|r| r.to_string());
    assert!(
        texts.iter().all(|t| t.contains(": ") && t.len() > 20),
        "{texts:?}"
    );
}

#[tokio::test]
async fn token_facts_for_strategies() {
    let env = setup().await;
    let head = env.chain.head().await;
    assert_eq!(env.adapter.voting_token().await.unwrap(), env.dloop);
    assert_eq!(
        env.adapter.voting_power(env.voter(1), &head).await.unwrap(),
        tokens(1000, 18)
    );
    assert_eq!(
        env.adapter.voting_power(env.voter(3), &head).await.unwrap(),
        U256::ZERO
    );

    let resolver = TokenResolver::new(env.chain.provider.clone());
    let eoa = env.chain.account(9);
    let infos = resolver
        .resolve_many([env.usdc, env.wbtc, eoa, env.dloop, env.usdc], 3)
        .await
        .unwrap();
    assert_eq!(infos.len(), 4);
    let facts = |a: Address| (infos[&a].symbol.clone(), infos[&a].decimals);
    assert_eq!(facts(env.usdc), (Some("USDC".into()), Some(6)));
    assert_eq!(facts(env.wbtc), (Some("WBTC".into()), Some(8)));
    assert_eq!(facts(env.dloop), (Some("DLOOP".into()), Some(18)));
    assert_eq!(
        facts(eoa),
        (None, None),
        "an address without code has no symbol"
    );
    // The DAO contract itself has code but no symbol(): the call reverts.
    let not_a_token = resolver.resolve(*env.dao.address()).await.unwrap();
    assert_eq!((not_a_token.symbol, not_a_token.decimals), (None, None));

    // From chain to decision: the view carries whole tokens and the symbol.
    let listing = env.adapter.list(&head).await.unwrap();
    let decide = |id: u64| {
        let p = listing
            .proposals
            .iter()
            .find(|p| p.id == U256::from(id))
            .unwrap();
        let view = ProposalView::new(p, p.asset.and_then(|a| infos.get(&a)));
        (
            view.amount.map(|a| a.to_string()),
            Conservative.decide(&view),
        )
    };
    let (amount, d) = decide(INVEST_USDC);
    assert_eq!(amount.as_deref(), Some("50000"));
    assert_eq!(
        (d.vote, d.rule.as_deref()),
        (VoteChoice::For, Some("stablecoin-investment"))
    );
    let (amount, d) = decide(DIVEST_WBTC);
    assert_eq!(amount.as_deref(), Some("2"));
    assert_eq!(
        (d.vote, d.rule.as_deref()),
        (VoteChoice::For, Some("reduce-volatile"))
    );
    let (_, d) = decide(UNKNOWN_ASSET);
    assert_eq!(
        (d.vote, d.rule.as_deref()),
        (VoteChoice::Skip, Some("unknown-asset"))
    );
}
