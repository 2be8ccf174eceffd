//! The doppelganger check with two real daemons on one anvil: separate state
//! directories, the same node keys. The first votes; the second finds each
//! node's address ahead of its (fresh) ledger and pauses it — a
//! `critical=true` log line, `govnode_node_paused`, `/health` and
//! `/health/ready` naming the node — and signs nothing for it. After `govnode
//! keys ack NODE` that node resumes and votes only on the pair the chain has
//! not counted; the other node stays paused until acknowledged too. No pair
//! is counted twice by the chain's `VoteCast` events. A later transaction
//! from the key, sent outside govnode, pauses the node again. And the
//! devnet set up again on a chain its fixed node keys already used
//! acknowledges their earlier transactions, so its nodes vote.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod round_env;
}

use std::path::PathBuf;
use std::time::{Duration, Instant};

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use serde_json::Value;
use support::daemon::{Daemon, ack_key, free_port};
use support::round_env::RoundEnv;

/// A second configuration next to the devnet's: same chain, DAO and keys,
/// its own ledger, control socket and API port.
fn second_config(env: &RoundEnv) -> (PathBuf, PathBuf, std::net::SocketAddr) {
    let dir = env.dir.path();
    std::fs::create_dir_all(dir.join("second")).unwrap();
    let text = std::fs::read_to_string(env.config()).unwrap();
    let api: std::net::SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let first_api = env.api().to_string();
    for needle in [
        "  path: ledger.sqlite\n",
        "  socket: control.sock\n",
        &first_api,
    ] {
        assert!(text.contains(needle), "devnet config has {needle:?}");
    }
    let text = text
        .replace("  path: ledger.sqlite\n", "  path: second/ledger.sqlite\n")
        .replace(
            "  socket: control.sock\n",
            "  socket: second/control.sock\n",
        )
        .replace(&first_api, &api.to_string());
    let config = dir.join("second.yaml");
    std::fs::write(&config, text).unwrap();
    (config, dir.join("second/control.sock"), api)
}

async fn get(d: &Daemon, path: &str) -> (u16, String) {
    let reply = reqwest::get(d.url(path)).await.expect("GET");
    let status = reply.status().as_u16();
    (status, reply.text().await.expect("body"))
}

/// Polls `/health/ready` until `want` is in its body (`"ready"`: until ready).
async fn ready_until(d: &Daemon, want: &str) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get(d, "/health/ready").await;
        let json: Value = serde_json::from_str(&body).expect("JSON");
        let found = if want == "ready" {
            json["status"] == "ready"
        } else {
            body.contains(want)
        };
        if found {
            return (status, json);
        }
        assert!(
            Instant::now() < deadline,
            "{want:?} never in /health/ready: {body}\n{}",
            d.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_daemon_with_the_same_keys_pauses_until_acknowledged_and_never_double_votes() {
    let env = RoundEnv::new(2, 2).await;
    env.add_everything_strategy();
    let everything = [
        ("GOVNODE__NODES__0__STRATEGY", "everything"),
        ("GOVNODE__NODES__1__STRATEGY", "everything"),
    ];
    let names = [env.node_name(0), env.node_name(1)];
    let addresses = env.node_addresses();

    let _first = env.daemon(&everything);
    let (code, out) = env.round();
    assert_eq!(code, 0, "the first daemon votes: {out}");
    let counts = env.vote_casts().await;
    assert_eq!(counts.len(), 4, "both nodes on both proposals: {counts:?}");

    env.create_proposal("arrives after the first daemon voted")
        .await;
    let (config2, socket2, api2) = second_config(&env);
    let second = env.daemon_at(&config2, &socket2, api2, &everything);

    // Found at start, before any round.
    let (status, body) = ready_until(&second, &format!("node {} paused", names[1])).await;
    assert_eq!(status, 503, "no node may vote: not ready: {body}");
    let reasons = body["reasons"].to_string();
    for (name, address) in names.iter().zip(&addresses) {
        assert!(
            reasons.contains(&format!("keys: node {name} paused"))
                && reasons.contains(&address.to_string())
                && reasons.contains(&format!("govnode keys ack {name}")),
            "{name} named with its address and the way out: {body}"
        );
    }
    let log = second.output();
    let critical: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("critical=true") && l.contains("node paused"))
        .collect();
    assert_eq!(critical.len(), 2, "one critical line per node: {log}");
    assert!(critical.iter().all(|l| l.contains("ERROR")), "{critical:?}");
    let (_, metrics) = get(&second, "/metrics").await;
    for name in &names {
        assert!(
            metrics.contains(&format!("govnode_node_paused{{node=\"{name}\"}} 1")),
            "{name}: {metrics}"
        );
    }

    let (code, out) = env.round_at(&config2);
    assert_eq!(code, 1, "paused nodes' votes are not signed: {out}");
    assert!(out.contains("node paused"), "{out}");
    assert_eq!(env.vote_casts().await, counts, "nothing sent while paused");

    // The first node is acknowledged: it votes on the new proposal only.
    let (code, out) = ack_key(&config2, &names[0]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("resumes"), "{out}");
    assert!(
        out.contains(&format!(
            "acknowledged 2 transaction(s) of {}",
            addresses[0]
        )),
        "{out}"
    );
    let (status, body) = ready_until(&second, "ready").await;
    assert_eq!(status, 200, "a node may vote again: {body}");
    assert!(
        body["warnings"]
            .to_string()
            .contains(&format!("node {} paused", names[1])),
        "{body}"
    );
    let (code, out) = env.round_at(&config2);
    assert_eq!(code, 1, "the other node is still paused: {out}");
    let after = env.vote_casts().await;
    assert_eq!(after.len(), 5, "one new pair: {after:?}");
    assert!(after.values().all(|&n| n == 1), "no pair twice: {after:?}");
    assert_eq!(RoundEnv::votes_by(&after, addresses[0]), 3);
    assert_eq!(RoundEnv::votes_by(&after, addresses[1]), 2);

    let (code, out) = ack_key(&config2, &names[1]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = env.round_at(&config2);
    assert_eq!(code, 0, "both nodes vote: {out}");
    let after = env.vote_casts().await;
    assert_eq!(after.len(), 6, "{after:?}");
    assert!(after.values().all(|&n| n == 1), "no pair twice: {after:?}");

    let ledger = rusqlite::Connection::open_with_flags(
        env.dir.path().join("second/ledger.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let acks: Vec<(String, i64)> = ledger
        .prepare("SELECT node, nonce FROM key_acks ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        acks,
        vec![(names[0].clone(), 2), (names[1].clone(), 2)],
        "each acknowledgement recorded with the count accepted"
    );

    // A transfer sent with the first node's key outside govnode.
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(env.node_key(0)))
        .connect_http(env.anvil.url().parse().unwrap());
    provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(Address::repeat_byte(0x42))
                .with_value(U256::from(1)),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let (code, out) = env.round_at(&config2);
    assert_eq!(code, 0, "nothing to vote, nothing failed: {out}");
    let (status, body) = ready_until(&second, &format!("node {} paused", names[0])).await;
    assert_eq!(status, 200, "the other node still votes: {body}");
    let log = second.output();
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("critical=true") && l.contains("node paused"))
            .count(),
        3,
        "paused again, logged again: {log}"
    );
}

/// `govnode devnet --setup-only --rpc-url` again on a chain where the
/// devnet's (public, fixed) node keys already voted: the new ledger records
/// their earlier transactions as acknowledged, says so, and the nodes vote.
#[tokio::test(flavor = "multi_thread")]
async fn a_devnet_set_up_again_on_the_same_chain_acknowledges_its_keys_and_votes() {
    let env = RoundEnv::new(2, 2).await;
    let daemon = env.daemon(&[]);
    let (code, out) = env.round();
    assert_eq!(code, 0, "{out}");
    drop(daemon);

    let out = std::process::Command::new(support::daemon::binary())
        .args(["devnet", "--setup-only", "--rpc-url", &env.anvil.url()])
        .args(["--proposals", "2", "--nodes", "2", "--dir"])
        .arg(env.dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for name in [env.node_name(0), env.node_name(1)] {
        assert!(
            text.contains(&format!(
                "acknowledged in the new ledger, as `govnode keys ack {name}`"
            )),
            "{text}"
        );
    }
    let again = RoundEnv {
        devnet: serde_json::from_str(
            &std::fs::read_to_string(env.dir.path().join("devnet.json")).unwrap(),
        )
        .unwrap(),
        ..env
    };
    assert_ne!(again.dao(), Address::ZERO);
    let daemon = again.daemon(&[]);
    let (code, out) = again.round();
    assert_eq!(code, 0, "the nodes vote on the new DAO: {out}");
    let (_, ready) = get(&daemon, "/health/ready").await;
    assert!(!ready.contains("paused"), "{ready}");
    assert!(!again.vote_casts().await.is_empty(), "{out}");
}
