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

/// A first round where every node votes on every proposal, through a proxy
/// set up by `setup`: the calls by method, the votes cast and the blocks the
/// round mined.
async fn first_round(
    env: &RoundEnv,
    setup: impl Fn(&FaultProxy),
) -> (BTreeMap<String, usize>, usize, u64, serde_json::Value) {
    let proxy = FaultProxy::start(&env.anvil.url()).await;
    setup(&proxy);
    env.add_everything_strategy();
    let config = std::fs::read_to_string(env.config()).expect("config");
    std::fs::write(env.config(), config.replace(&env.anvil.url(), &proxy.url()))
        .expect("write config");
    let nodes = env.node_addresses().len();
    let envs: Vec<(String, String)> = (0..nodes)
        .map(|i| {
            (
                format!("GOVNODE__NODES__{i}__STRATEGY"),
                "everything".to_owned(),
            )
        })
        .collect();
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let daemon = env.daemon(&envs);
    let before = block_number(env).await;
    proxy.reset_counts();
    let (code, out) = env.round();
    assert_eq!(code, 0, "first round: {out}");
    let mined = block_number(env).await - before;
    let counts = env.vote_casts().await;
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    let health: serde_json::Value = reqwest::get(daemon.url("/health"))
        .await
        .expect("GET /health")
        .json()
        .await
        .expect("/health is JSON");
    (proxy.methods(), counts.len(), mined, health)
}

async fn block_number(env: &RoundEnv) -> u64 {
    let n = env.anvil.rpc("eth_blockNumber", json!([])).await;
    u64::from_str_radix(n.as_str().expect("a quantity").trim_start_matches("0x"), 16).expect("hex")
}

fn endpoint_methods(health: &serde_json::Value) -> &serde_json::Value {
    &health["components"]["rpc"]["detail"]["endpoints"][0]["methods"]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_round_costs_one_send_per_vote_and_a_few_calls_more() {
    let env = RoundEnv::new(12, 4).await;
    let (calls, votes, mined, health) = first_round(&env, |_| {}).await;
    let total: usize = calls.values().sum();
    println!(
        "first round, 12 proposals x 4 nodes: {votes} votes, {mined} blocks, {total} calls {calls:?}"
    );
    assert_eq!(votes, 48, "every pair voted");
    assert_eq!(
        calls.get("eth_sendRawTransaction"),
        Some(&votes),
        "{calls:?}"
    );
    // One simulation per wallet instead of one estimate per vote, one
    // receipt read per block instead of one per vote.
    assert_eq!(calls.get("eth_simulateV1"), Some(&4), "{calls:?}");
    assert_eq!(calls.get("eth_estimateGas"), None, "{calls:?}");
    assert_eq!(calls.get("eth_getTransactionReceipt"), None, "{calls:?}");
    let by_block = calls
        .get("eth_getBlockReceipts")
        .copied()
        .unwrap_or_default();
    assert!(
        by_block >= 1 && by_block as u64 <= mined,
        "{by_block} block receipt reads for {mined} blocks: {calls:?}"
    );
    // Auto-mining makes a block per vote, so receipts cost up to a call per
    // vote here; with real blocks, one per block. The rest is reads.
    let rest = total - votes - by_block;
    assert!(rest <= 40, "{rest} other calls: {calls:?}");
    assert_eq!(endpoint_methods(&health)["eth_simulateV1"], "supported");
    assert_eq!(
        endpoint_methods(&health)["eth_getBlockReceipts"],
        "supported"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_without_simulation_or_block_receipts_gets_per_vote_calls_once_known() {
    let env = RoundEnv::new(12, 4).await;
    let (calls, votes, _, health) = first_round(&env, |proxy| {
        proxy.without_methods(&["eth_simulateV1", "eth_getBlockReceipts"])
    })
    .await;
    println!("first round without eth_simulateV1 / eth_getBlockReceipts: {votes} votes {calls:?}");
    assert_eq!(votes, 48, "every pair voted");
    assert_eq!(calls.get("eth_estimateGas"), Some(&votes), "{calls:?}");
    assert_eq!(
        calls.get("eth_sendRawTransaction"),
        Some(&votes),
        "{calls:?}"
    );
    // Asked until the first answer says the method is missing (the
    // wallets, and a step's blocks, go side by side), never after.
    let simulate = calls.get("eth_simulateV1").copied().unwrap_or_default();
    assert!((1..=4).contains(&simulate), "{calls:?}");
    let by_block = calls
        .get("eth_getBlockReceipts")
        .copied()
        .unwrap_or_default();
    assert!((1..=8).contains(&by_block), "{calls:?}");
    assert!(
        calls
            .get("eth_getTransactionReceipt")
            .is_some_and(|n| *n >= votes),
        "{calls:?}"
    );
    assert_eq!(endpoint_methods(&health)["eth_simulateV1"], "unsupported");
    assert_eq!(
        endpoint_methods(&health)["eth_getBlockReceipts"],
        "unsupported"
    );
}
