//! Where a round's confirmation gets new heads, on a real anvil (which
//! serves WebSocket on its HTTP port) with the real daemon: with an endpoint
//! that has a `ws_url`, from the daemon's `newHeads` subscription, asking
//! `eth_blockNumber` once per round instead of polling it; without one, by
//! polls. A socket cut in the middle of a round hands over to polls and every
//! vote still lands exactly once (the chain's `VoteCast` logs); the
//! subscription comes back afterwards. Calls are counted by a proxy between
//! the daemon and anvil; the WebSocket goes to anvil (or a relay) directly.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod fault_proxy;
    pub mod round_env;
    pub mod tcp_relay;
}

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use support::daemon::Daemon;
use support::fault_proxy::FaultProxy;
use support::round_env::RoundEnv;
use support::tcp_relay::TcpRelay;

const NODES: u32 = 4;

/// The daemon's environment: every node votes on everything, probes rare
/// enough that none falls inside a round's count, the subscription tried
/// again soon after a drop, and `extra`.
fn envs(env: &RoundEnv, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = env.vote_on_everything(NODES);
    all.push(("GOVNODE__RPC__PROBE__INTERVAL".into(), "10m".into()));
    all.push(("GOVNODE__ROUND__NEW_PROPOSAL_POLL".into(), "1s".into()));
    all.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    all
}

/// Points the configuration's endpoint at `proxy`.
fn through(env: &RoundEnv, proxy: &FaultProxy) {
    let config = std::fs::read_to_string(env.config()).expect("config");
    let rewired = config.replace(&env.anvil.url(), &proxy.url());
    assert_ne!(config, rewired, "the config names the anvil URL");
    std::fs::write(env.config(), rewired).expect("write config");
}

async fn heads_source(d: &Daemon) -> String {
    let health: serde_json::Value = reqwest::get(d.url("/health"))
        .await
        .expect("GET /health")
        .json()
        .await
        .expect("/health is JSON");
    health["components"]["rpc"]["detail"]["heads"]
        .as_str()
        .unwrap_or_else(|| panic!("no heads in the rpc detail: {health}"))
        .to_owned()
}

/// A block a second and four votes per wallet on their way: a round's 48
/// votes take a few blocks, as on a real chain.
async fn real_blocks(env: &RoundEnv) {
    env.anvil.rpc("evm_setIntervalMining", json!([1])).await;
}

/// One first round on a fresh 12 × 4 chain with one-second blocks, heads
/// over a WebSocket or by polls: its calls by method, and the source
/// `/health` showed.
async fn first_round(ws: bool) -> (BTreeMap<String, usize>, String) {
    let env = RoundEnv::new(12, NODES).await;
    let proxy = FaultProxy::start(&env.anvil.url()).await;
    through(&env, &proxy);
    real_blocks(&env).await;
    let ws_url = env.anvil.url().replace("http://", "ws://");
    let mut extra = vec![("GOVNODE__ROUND__MAX_IN_FLIGHT_PER_WALLET", "4")];
    if ws {
        extra.push(("GOVNODE__RPC__ENDPOINTS__0__WS_URL", ws_url.as_str()));
    }
    let d = env.daemon_with(&envs(&env, &extra));
    if ws {
        d.wait_metric("govnode_subscription_up", 1.0, Duration::from_secs(20))
            .await;
    }
    let source = heads_source(&d).await;
    proxy.reset_counts();
    let (code, out) = env.round();
    assert_eq!(code, 0, "round: {out}\n{}", d.output());
    let casts = env.vote_casts().await;
    assert_eq!(
        casts.len(),
        12 * NODES as usize,
        "every pair voted: {casts:?}"
    );
    assert!(casts.values().all(|n| *n == 1), "double votes: {casts:?}");
    (proxy.methods(), source)
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_websocket_the_round_follows_subscribed_heads_instead_of_polling() {
    let (polled, polling) = first_round(false).await;
    let (subscribed, websocket) = first_round(true).await;
    let head_reads =
        |calls: &BTreeMap<String, usize>| calls.get("eth_blockNumber").copied().unwrap_or_default();
    println!(
        "eth_blockNumber in a first 12 × 4 round, one-second blocks: {} polling, {} subscribed\npolling: {polled:?}\nsubscribed: {subscribed:?}",
        head_reads(&polled),
        head_reads(&subscribed)
    );
    assert_eq!(polling, "polling");
    assert_eq!(websocket, "websocket");
    // One read when the confirmation starts: the heads mined before it
    // were announced to nobody. Nothing after that.
    assert_eq!(head_reads(&subscribed), 1, "{subscribed:?}");
    assert!(
        head_reads(&polled) >= 10,
        "polling reads the head every 100 ms while votes are mined: {polled:?}"
    );
    // The same receipts by block either way.
    for calls in [&polled, &subscribed] {
        assert_eq!(calls.get("eth_sendRawTransaction"), Some(&48), "{calls:?}");
        assert_eq!(calls.get("eth_getTransactionReceipt"), None, "{calls:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_cut_mid_round_hands_over_to_polls_and_every_vote_lands_once() {
    let env = RoundEnv::new(12, NODES).await;
    let proxy = FaultProxy::start(&env.anvil.url()).await;
    through(&env, &proxy);
    let relay = TcpRelay::start(env.anvil.port()).await;
    let ws = relay.ws_url();
    // Two votes per wallet on their way: the round's 48 votes take six
    // blocks, so the cut falls inside it.
    real_blocks(&env).await;
    let d = env.daemon_with(&envs(
        &env,
        &[
            ("GOVNODE__RPC__ENDPOINTS__0__WS_URL", &ws),
            ("GOVNODE__ROUND__MAX_IN_FLIGHT_PER_WALLET", "2"),
            ("GOVNODE__ROUND__DEADLINE", "90s"),
        ],
    ));
    d.wait_metric("govnode_subscription_up", 1.0, Duration::from_secs(20))
        .await;
    proxy.reset_counts();
    let config = env.config();
    let round = std::thread::spawn(move || support::daemon::govnode(&["round"], &config));

    // Cut once the first votes are mined, and keep the socket down.
    let started = std::time::Instant::now();
    loop {
        let cast = env.vote_casts().await.len();
        assert!(cast < 48, "the round ended before the cut");
        if cast > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no vote mined: {}",
            d.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let subscribed_reads = proxy.count_method("eth_blockNumber");
    relay.cut();
    let (code, out) = tokio::task::spawn_blocking(move || round.join().expect("round thread"))
        .await
        .expect("join");
    assert_eq!(code, 0, "round: {out}\n{}", d.output());
    let casts = env.vote_casts().await;
    assert_eq!(casts.len(), 48, "every pair voted: {casts:?}");
    assert!(casts.values().all(|n| *n == 1), "double votes: {casts:?}");
    let all_reads = proxy.count_method("eth_blockNumber");
    println!(
        "eth_blockNumber: {subscribed_reads} while subscribed, {} after the cut",
        all_reads - subscribed_reads
    );
    assert_eq!(subscribed_reads, 1, "no polls while subscribed");
    assert!(
        all_reads > subscribed_reads + 1,
        "after the cut the heads came from polls: {all_reads} reads"
    );
    assert!(
        d.metric("govnode_subscription_drops_total").await >= 1.0,
        "{}",
        d.output()
    );
    assert_eq!(heads_source(&d).await, "polling");

    // The socket returns: so does the subscription, and the heads with it.
    relay.restore();
    d.wait_metric("govnode_subscription_up", 1.0, Duration::from_secs(20))
        .await;
    assert_eq!(heads_source(&d).await, "websocket");
}
