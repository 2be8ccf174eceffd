//! `round.max_in_flight_per_wallet`: a wallet never has more votes on their
//! way than its window; the round sends the next ones as earlier ones are
//! mined, so every vote still lands in one round, each once. Checked on a
//! real anvil mining a block a second: no block holds more of the wallet's
//! votes than the window allows.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod round_env;
}

use serde_json::json;
use support::round_env::RoundEnv;

async fn block_number(env: &RoundEnv) -> u64 {
    let n = env.anvil.rpc("eth_blockNumber", json!([])).await;
    u64::from_str_radix(n.as_str().expect("a quantity").trim_start_matches("0x"), 16).expect("hex")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wallet_sends_no_more_than_its_window_and_all_votes_land() {
    let env = RoundEnv::new(6, 1).await;
    env.add_everything_strategy();
    env.anvil.rpc("evm_setIntervalMining", json!([1])).await;
    let _daemon = env.daemon(&[
        ("GOVNODE__NODES__0__STRATEGY", "everything"),
        ("GOVNODE__ROUND__MAX_IN_FLIGHT_PER_WALLET", "2"),
    ]);
    let before = block_number(&env).await;
    let (code, out) = env.round();
    assert_eq!(code, 0, "{out}");
    let after = block_number(&env).await;

    let casts = env.vote_casts().await;
    assert_eq!(casts.len(), 6, "{casts:?}");
    assert!(casts.values().all(|n| *n == 1), "a double vote: {casts:?}");
    let node = env.node_addresses()[0].to_string().to_lowercase();
    let mut per_block = Vec::new();
    for n in before + 1..=after {
        let block = env
            .anvil
            .rpc("eth_getBlockByNumber", json!([format!("{n:#x}"), true]))
            .await;
        let ours = block["transactions"]
            .as_array()
            .map(|txs| {
                txs.iter()
                    .filter(|t| t["from"].as_str().map(str::to_lowercase) == Some(node.clone()))
                    .count()
            })
            .unwrap_or_default();
        per_block.push(ours);
    }
    println!("the wallet's votes per block: {per_block:?}");
    assert_eq!(per_block.iter().sum::<usize>(), 6, "{per_block:?}");
    assert!(
        per_block.iter().all(|n| *n <= 2),
        "more than the window in a block: {per_block:?}"
    );
    assert!(
        per_block.iter().filter(|n| **n > 0).count() >= 3,
        "six votes two at a time take three blocks at least: {per_block:?}"
    );
}

#[test]
fn a_window_of_zero_is_refused_with_its_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = support::daemon::base_config(0, "http://127.0.0.1:1", "");
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config).expect("write config");
    let (code, out) =
        support::daemon::check_config(&path, &[("GOVNODE__ROUND__MAX_IN_FLIGHT_PER_WALLET", "0")]);
    assert_eq!(code, 78, "{out}");
    assert!(out.contains("round.max_in_flight_per_wallet"), "{out}");
}
