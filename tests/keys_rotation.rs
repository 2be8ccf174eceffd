//! Rotating a node's key: a round with key A, then the node's `key_file`
//! changed to key B and the configuration reloaded (SIGHUP) on the running
//! daemon, then a round again. The ledger keeps rows per address, and the
//! chain's `hasVoted` is per address: B votes on every pair once, A's votes
//! are not repeated, and A's history stays the node's in `govnode ledger
//! export` and in `/api/v1/nodes` (`previous_addresses`).

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod round_env;
}

use std::time::{Duration, Instant};

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use serde_json::Value;
use support::daemon::{DEV_KEY, govnode};
use support::round_env::RoundEnv;

alloy::sol! {
    #[sol(rpc)]
    interface TestToken {
        function mint(address to, uint256 amount) external;
    }
}

const PROPOSALS: usize = 2;

/// Gas money and voting tokens for `to`, from the devnet's deployer.
async fn fund(env: &RoundEnv, to: Address) {
    let deployer: PrivateKeySigner = DEV_KEY.parse().unwrap();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(deployer))
        .connect_http(env.anvil.url().parse().unwrap());
    let ether = U256::from(10).pow(U256::from(18));
    provider
        .send_transaction(TransactionRequest::default().with_to(to).with_value(ether))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let token: Address = env.devnet["voting_token"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    TestToken::new(token, &provider)
        .mint(to, U256::from(1000) * ether)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
}

async fn nodes(d: &support::daemon::Daemon) -> Value {
    reqwest::get(d.url("/api/v1/nodes"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_key_votes_every_pair_once_and_the_old_address_stays_in_the_history() {
    let env = RoundEnv::new(PROPOSALS as u32, 2).await;
    let name = env.node_name(0);
    let a = env.node_addresses()[0];
    let daemon = env.daemon(&[]);
    let (code, out) = env.round();
    assert_eq!(code, 0, "round with key A: {out}");
    assert_eq!(
        RoundEnv::votes_by(&env.vote_casts().await, a),
        PROPOSALS,
        "A votes on every proposal"
    );

    let b_key = PrivateKeySigner::random();
    let b = b_key.address();
    fund(&env, b).await;
    let b_file = env.dir.path().join("keys").join(format!("{name}-rotated"));
    std::fs::write(
        &b_file,
        format!("0x{}\n", alloy::hex::encode(b_key.to_bytes())),
    )
    .unwrap();
    let config = std::fs::read_to_string(env.config()).unwrap();
    let config = RoundEnv::with_signer(
        &config,
        &name,
        &format!("    key_file: keys/{name}-rotated\n"),
    );
    std::fs::write(env.config(), config).unwrap();
    daemon.signal(libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = nodes(&daemon).await;
        if body["nodes"][0]["address"] == b.to_checksum(None) {
            break;
        }
        assert!(Instant::now() < deadline, "reload never applied: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (code, out) = env.round();
    assert_eq!(code, 0, "round with key B: {out}");
    let counts = env.vote_casts_of(&[a, b]).await;
    assert_eq!(RoundEnv::votes_by(&counts, b), PROPOSALS, "{counts:?}");
    assert_eq!(RoundEnv::votes_by(&counts, a), PROPOSALS, "{counts:?}");
    assert!(
        counts.values().all(|&n| n == 1),
        "no pair twice: {counts:?}"
    );

    let (code, export) = govnode(&["ledger", "export", "--format", "jsonl"], &env.config());
    assert_eq!(code, 0, "{export}");
    let rows: Vec<Value> = export
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|r: &Value| r["node"] == name.as_str())
        .collect();
    for address in [a, b] {
        let of: Vec<&Value> = rows
            .iter()
            .filter(|r| {
                r["voter"]
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(&address.to_string()))
            })
            .collect();
        assert_eq!(of.len(), PROPOSALS, "{address}'s rows: {export}");
        assert!(of.iter().all(|r| r["state"] == "confirmed"), "{export}");
    }

    let body = nodes(&daemon).await;
    let node = &body["nodes"][0];
    assert_eq!(node["votes"]["confirmed"], 2 * PROPOSALS, "{body}");
    assert_eq!(
        node["previous_addresses"],
        serde_json::json!([a.to_checksum(None)]),
        "{body}"
    );
}
