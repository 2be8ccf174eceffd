//! Full voting rounds on a real devnet (anvil, the test AssetDAO, the real
//! daemon and `govnode round`): every (node, open proposal) pair the
//! strategies decide is voted exactly once, the chain agrees with the ledger,
//! closed proposals are never voted, and `govnode round` exits as documented.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod round_env;
}

use std::collections::HashSet;
use std::time::Duration;

use support::round_env::RoundEnv;

#[tokio::test(flavor = "multi_thread")]
async fn full_round_votes_each_decided_pair_exactly_once() {
    let env = RoundEnv::new(8, 3).await;
    let _daemon = env.daemon(&[]);

    let (code, out) = env.round();
    assert_eq!(code, 0, "first round succeeds: {out}");
    assert!(out.contains("success"), "{out}");

    let events = env.vote_cast_events().await;
    assert!(!events.is_empty(), "votes were cast");
    let counts = env.vote_casts().await;
    assert!(
        counts.values().all(|&n| n == 1),
        "no double vote: {counts:?}"
    );

    // The chain agrees with the ledger, pair by pair and in direction.
    let decisions = env.confirmed_decisions();
    let on_chain: HashSet<_> = counts.keys().copied().collect();
    let in_ledger: HashSet<_> = decisions.keys().copied().collect();
    assert_eq!(
        on_chain, in_ledger,
        "VoteCast pairs equal the ledger's confirmed votes"
    );
    for (proposal, voter, support) in &events {
        let decision = &decisions[&(*proposal, *voter)];
        let expected = decision == "for";
        assert_eq!(
            *support, expected,
            "proposal {proposal} voter {voter}: chain {support}, ledger {decision}"
        );
    }

    // Only open proposals are voted, and every node is among the voters.
    let open: HashSet<_> = env.proposal_ids("open").into_iter().collect();
    for category in ["expired", "executed", "canceled"] {
        for id in env.proposal_ids(category) {
            assert!(
                !counts.keys().any(|(p, _)| *p == id),
                "{category} proposal {id} was voted"
            );
        }
    }
    assert!(counts.keys().all(|(p, _)| open.contains(p)));
    let voters: HashSet<_> = counts.keys().map(|(_, v)| *v).collect();
    for node in env.node_addresses() {
        assert!(voters.contains(&node), "node {node} voted on something");
    }

    // A second round finds nothing new and sends nothing.
    let (code, out) = env.round();
    assert_eq!(code, 0, "second round succeeds: {out}");
    assert!(out.contains("0 decided"), "{out}");
    assert_eq!(
        env.vote_casts().await,
        counts,
        "no new VoteCast in the second round"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn paused_dao_gets_no_votes() {
    let env = RoundEnv::new(4, 2).await;
    // The deployer (anvil account 0) owns the DAO: pause it.
    let pause = alloy::primitives::keccak256("pause()");
    let from = env.devnet["deployer"].as_str().unwrap().to_owned();
    let tx = serde_json::json!([{ "from": from, "to": env.dao().to_string(), "data": format!("0x{}", alloy::primitives::hex::encode(&pause[..4])) }]);
    env.anvil.rpc("eth_sendTransaction", tx).await;
    let _daemon = env.daemon(&[]);
    let (code, out) = env.round();
    assert_eq!(code, 0, "nothing to do is a success: {out}");
    assert!(out.contains("0 open proposal(s)"), "{out}");
    assert!(env.vote_casts().await.is_empty(), "no vote on a paused DAO");
}

#[tokio::test(flavor = "multi_thread")]
async fn round_cli_exit_codes() {
    let mut env = RoundEnv::new(3, 1).await;

    // Daemon down: 69 (EX_UNAVAILABLE) with the reason.
    let (code, out) = env.round();
    assert_eq!(code, 69, "{out}");
    assert!(out.contains("not reachable"), "{out}");

    // Success: 0. A short deadline: a round started with the chain gone
    // waits for an endpoint until its deadline before it fails.
    let daemon = env.daemon(&[("GOVNODE__ROUND__DEADLINE", "15s")]);
    let (code, out) = env.round();
    assert_eq!(code, 0, "{out}");

    // The chain gone: the round fails, 1, with the reason.
    env.anvil.kill();
    let (code, out) = env.round();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("failed"), "{out}");
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread")]
async fn deadline_stops_cleanly_and_the_next_round_finishes() {
    let env = RoundEnv::new(4, 2).await;
    // Transactions are accepted but never mined until mining is switched back on.
    env.anvil
        .rpc("evm_setAutomine", serde_json::json!([false]))
        .await;
    let _daemon = env.daemon(&[("GOVNODE__ROUND__DEADLINE", "3s")]);
    let (code, out) = env.round();
    assert_eq!(
        code, 1,
        "a round cut by its deadline is not a success: {out}"
    );
    assert!(out.contains("partial"), "{out}");
    assert!(
        out.contains("not mined before the round deadline"),
        "reports what is left: {out}"
    );
    let pending = env.count_in_state("sent");
    assert!(pending > 0, "sent votes stay in the ledger as sent");

    env.anvil
        .rpc("evm_setAutomine", serde_json::json!([true]))
        .await;
    env.anvil.mine(1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (code, out) = env.round();
    assert_eq!(code, 0, "the next round reconciles and finishes: {out}");
    let counts = env.vote_casts().await;
    assert_eq!(counts.len(), env.confirmed_decisions().len());
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    assert_eq!(env.count_in_state("sent"), 0);
}
