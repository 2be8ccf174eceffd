//! Every AssetDAO revert decoded from the chain's own answer, and the token
//! facts strategies are fed with, on a real anvil.

#[path = "support/chain_fixture.rs"]
mod chain_fixture;

use alloy::primitives::{Address, U256};
use chain_fixture::assetdao_scenario::*;
use govnode::dao::{Dao, RevertReason, TokenResolver};
use govnode::strategy::{Conservative, ProposalView, Strategy, VoteChoice};

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
    let at = head.block_id();
    assert_eq!(
        env.adapter.voting_period(at).await.unwrap(),
        U256::from(WEEK)
    );
    assert_eq!(env.adapter.quorum(at).await.unwrap(), U256::from(1000));
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
