//! `round.on_new_proposal` on a real anvil (which serves WebSocket on its
//! HTTP port) with the real daemon and no timer: a proposal created on chain
//! is voted by every node exactly once, in a round whose trigger is
//! `new_proposal` — over a WebSocket subscription, over one that is cut
//! while that round runs and comes back (the missed blocks are read again),
//! and by log polls where no endpoint has a `ws_url`.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod round_env;
    pub mod tcp_relay;
}

use std::time::{Duration, Instant};

use alloy::primitives::U256;
use alloy::providers::{Provider, ProviderBuilder};
use support::daemon::Daemon;
use support::round_env::RoundEnv;
use support::tcp_relay::TcpRelay;

/// Waits until every node voted on `proposal`; returns the highest block of
/// those votes. Fails on a double vote.
async fn wait_votes(env: &RoundEnv, d: &Daemon, proposal: U256, within: Duration) -> u64 {
    let nodes = env.node_addresses();
    let start = Instant::now();
    loop {
        let casts = env.vote_casts().await;
        let on: Vec<_> = casts.iter().filter(|((p, _), _)| *p == proposal).collect();
        assert!(
            on.iter().all(|(_, n)| **n == 1),
            "a double vote on {proposal}: {on:?}"
        );
        if on.len() == nodes.len() {
            break;
        }
        assert!(
            start.elapsed() < within,
            "proposal {proposal}: {} of {} nodes voted within {within:?}:\n{}",
            on.len(),
            nodes.len(),
            d.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let p = ProviderBuilder::new().connect_http(env.anvil.url().parse().unwrap());
    let filter = alloy::rpc::types::Filter::new()
        .address(env.dao())
        .from_block(0)
        .topic1(alloy::primitives::B256::from(proposal));
    p.get_logs(&filter)
        .await
        .expect("logs")
        .iter()
        .filter_map(|l| l.block_number)
        .max()
        .expect("vote blocks")
}

/// The triggers of the rounds the daemon ran, from its API.
async fn triggers(env: &RoundEnv, d: &Daemon) -> Vec<String> {
    let token = std::fs::read_to_string(env.dir.path().join("keys/api-token")).unwrap_or_default();
    let reply: serde_json::Value = reqwest::Client::new()
        .get(d.url("/api/v1/rounds"))
        .bearer_auth(token.trim())
        .send()
        .await
        .expect("GET rounds")
        .json()
        .await
        .expect("rounds JSON");
    reply["rounds"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["trigger"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn envs<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("GOVNODE__ROUND__ON_NEW_PROPOSAL", "true"),
        ("GOVNODE__NODES__0__STRATEGY", "everything"),
        ("GOVNODE__NODES__1__STRATEGY", "everything"),
    ];
    all.extend_from_slice(extra);
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_proposal_is_voted_over_a_websocket_subscription() {
    let env = RoundEnv::new(1, 2).await;
    env.add_everything_strategy();
    let ws = env.anvil.url().replace("http://", "ws://");
    let d = env.daemon(&envs(&[
        ("GOVNODE__RPC__ENDPOINTS__0__WS_URL", &ws),
        // Long: only the subscription can find the proposal in time.
        ("GOVNODE__ROUND__NEW_PROPOSAL_POLL", "10m"),
    ]));
    d.wait_metric("govnode_subscription_up", 1.0, Duration::from_secs(20))
        .await;
    let (id, created) = env.create_proposal("a proposal for the subscription").await;
    let voted = wait_votes(&env, &d, id, Duration::from_secs(30)).await;
    println!("proposal created in block {created}, its last vote in block {voted}");
    assert!(
        d.metric("govnode_new_proposals_total{source=\"subscription\"}")
            .await
            >= 1.0,
        "{}",
        d.output()
    );
    let t = triggers(&env, &d).await;
    assert!(t.iter().any(|t| t == "new_proposal"), "triggers: {t:?}");
    assert!(t.iter().all(|t| t == "new_proposal"), "triggers: {t:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_subscription_is_caught_up_and_its_round_finishes() {
    let env = RoundEnv::new(1, 2).await;
    env.add_everything_strategy();
    let relay = TcpRelay::start(env.anvil.port()).await;
    let ws = relay.ws_url();
    let d = env.daemon(&envs(&[
        ("GOVNODE__RPC__ENDPOINTS__0__WS_URL", &ws),
        ("GOVNODE__ROUND__NEW_PROPOSAL_POLL", "2s"),
    ]));
    d.wait_metric("govnode_subscription_up", 1.0, Duration::from_secs(20))
        .await;

    // Cut as soon as the proposal is seen: its round runs without the socket.
    let (first, _) = env.create_proposal("voted while the socket is cut").await;
    d.wait_metric("govnode_new_proposals_total", 1.0, Duration::from_secs(10))
        .await;
    relay.cut();
    wait_votes(&env, &d, first, Duration::from_secs(30)).await;
    d.wait_metric(
        "govnode_subscription_drops_total",
        1.0,
        Duration::from_secs(20),
    )
    .await;

    // A proposal made while the socket is down is found (by a poll or by the
    // catch-up read after the reconnect) and voted once.
    let (second, _) = env.create_proposal("made while the socket is down").await;
    relay.restore();
    wait_votes(&env, &d, second, Duration::from_secs(40)).await;
    d.wait_metric("govnode_subscription_up", 1.0, Duration::from_secs(20))
        .await;
    assert!(relay.accepted() >= 2, "the daemon never reconnected");

    // And the resubscribed socket carries the next one.
    let (third, _) = env.create_proposal("after the reconnect").await;
    wait_votes(&env, &d, third, Duration::from_secs(30)).await;
    let casts = env.vote_casts().await;
    assert!(casts.values().all(|n| *n == 1), "double votes: {casts:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_websocket_new_proposals_are_found_by_log_polls() {
    let env = RoundEnv::new(1, 2).await;
    env.add_everything_strategy();
    let d = env.daemon(&envs(&[("GOVNODE__ROUND__NEW_PROPOSAL_POLL", "500ms")]));
    // The first poll places the cursor; give it a moment.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (id, _) = env.create_proposal("a proposal for the poll").await;
    wait_votes(&env, &d, id, Duration::from_secs(30)).await;
    assert!(
        d.metric("govnode_new_proposals_total{source=\"poll\"}")
            .await
            >= 1.0,
        "{}",
        d.output()
    );
    assert_eq!(d.metric("govnode_subscription_up").await, 0.0);
    let t = triggers(&env, &d).await;
    assert!(t.iter().any(|t| t == "new_proposal"), "triggers: {t:?}");
}
