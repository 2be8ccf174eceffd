//! What a round costs in JSON-RPC calls, counted by a proxy between the
//! daemon and a real anvil: with Multicall3 at its canonical address (the
//! devnet places it), a round with nothing new reads the head, the DAO, its
//! proposals and every wallet in six calls (and one transaction count per
//! node for the key-in-use check); without Multicall3 the
//! same reads go as JSON-RPC batches of plain calls and the same votes land,
//! each once.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod fault_proxy;
    pub mod round_env;
}

use std::collections::BTreeMap;

use serde_json::json;
use support::fault_proxy::FaultProxy;
use support::round_env::RoundEnv;

const MULTICALL3: &str = "0xcA11bde05977b3631167028862bE2a173976CA11";

/// Two rounds through the proxy: the second (nothing new) call counts.
async fn two_rounds(env: &RoundEnv) -> BTreeMap<String, usize> {
    let proxy = FaultProxy::start(&env.anvil.url()).await;
    let config = std::fs::read_to_string(env.config()).expect("config");
    let rewired = config.replace(&env.anvil.url(), &proxy.url());
    assert_ne!(config, rewired, "the config names the anvil URL");
    std::fs::write(env.config(), rewired).expect("write config");
    let _daemon = env.daemon(&[]);
    let (code, out) = env.round();
    assert_eq!(code, 0, "first round: {out}");
    let counts = env.vote_casts().await;
    assert!(!counts.is_empty(), "the first round voted");
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    proxy.reset_counts();
    let (code, out) = env.round();
    assert_eq!(code, 0, "second round: {out}");
    assert_eq!(env.vote_casts().await, counts, "nothing voted twice");
    proxy.methods()
}

#[tokio::test(flavor = "multi_thread")]
async fn quiet_round_reads_in_a_few_calls_through_multicall() {
    let env = RoundEnv::new(12, 4).await;
    let code = env
        .anvil
        .rpc("eth_getCode", json!([MULTICALL3, "latest"]))
        .await;
    assert_ne!(code, json!("0x"), "the devnet placed Multicall3");
    let quiet = two_rounds(&env).await;
    let total: usize = quiet.values().sum();
    println!("round with nothing new, 12 proposals x 4 nodes: {total} calls {quiet:?}");
    // The key-in-use check asks each node's transaction count every round;
    // every other read goes through Multicall3.
    assert_eq!(quiet.get("eth_getTransactionCount"), Some(&4), "{quiet:?}");
    assert!(total - 4 <= 6, "{total} calls: {quiet:?}");
    assert_eq!(
        quiet.get("eth_getBalance"),
        None,
        "balances come through Multicall3"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_multicall_reads_go_as_plain_calls_and_vote_the_same() {
    let env = RoundEnv::new(12, 4).await;
    env.anvil
        .rpc("anvil_setCode", json!([MULTICALL3, "0x"]))
        .await;
    let quiet = two_rounds(&env).await;
    let total: usize = quiet.values().sum();
    println!("round with nothing new, no Multicall3: {total} calls {quiet:?}");
    assert_eq!(quiet.get("eth_getBalance"), Some(&4), "{quiet:?}");
    assert!(
        quiet.get("eth_call").is_some_and(|n| *n >= 12),
        "every proposal read on its own: {quiet:?}"
    );
}
