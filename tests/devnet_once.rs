//! `govnode devnet --once` runs the real daemon on the devnet it built, waits
//! for the first round and exits 0 once every decided vote landed: every node
//! voted, nobody voted twice, and the proposals that must not be voted
//! (expired, executed, canceled) were not.

#[path = "support/devnet.rs"]
mod devnet_support;

use std::collections::BTreeMap;
use std::process::Command;

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use devnet_support::*;
use govnode::devnet::contracts::TestAssetDAO;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_exits_zero_after_a_round_that_voted_exactly_once() {
    let anvil = spawn_anvil();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(GOVNODE)
        .args([
            "devnet",
            "--once",
            "--timeout",
            "120s",
            "--proposals",
            "12",
            "--nodes",
            "3",
        ])
        .args(["--rpc-url", &anvil.endpoint(), "--dir"])
        .arg(dir.path())
        .env_remove("GOVNODE_CONFIG")
        .output()
        .expect("run govnode devnet");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "govnode devnet --once failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains(" success: "), "no round summary:\n{stdout}");

    let d = devnet_json(dir.path());
    let p = provider(&anvil);
    let dao = TestAssetDAO::new(address(&d["asset_dao"]), &p);
    let nodes: Vec<Address> = d["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| address(&n["address"]))
        .collect();

    let filter = Filter::new()
        .address(*dao.address())
        .event_signature(TestAssetDAO::VoteCast::SIGNATURE_HASH)
        .from_block(0);
    let mut casts: BTreeMap<(u64, Address), usize> = BTreeMap::new();
    for log in p.get_logs(&filter).await.expect("logs") {
        let e = log
            .log_decode::<TestAssetDAO::VoteCast>()
            .expect("VoteCast")
            .inner
            .data;
        if nodes.contains(&e.voter) {
            *casts.entry((e.proposalId.to(), e.voter)).or_default() += 1;
        }
    }
    assert!(!casts.is_empty(), "the round cast no vote");
    let doubles: Vec<_> = casts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubles.is_empty(), "double votes: {doubles:?}");
    for node in &nodes {
        assert!(casts.keys().any(|(_, v)| v == node), "{node} cast no vote");
    }
    // The output ends with each node's votes, as many as the chain counts.
    let tail = stdout
        .split("votes on chain, per node:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no per-node summary:\n{stdout}"));
    for n in d["nodes"].as_array().expect("nodes") {
        let name = n["name"].as_str().expect("name");
        let on_chain = casts
            .keys()
            .filter(|(_, v)| *v == address(&n["address"]))
            .count();
        let line = format!("  {name}: {on_chain} confirmed (");
        assert!(tail.contains(&line), "no line {line:?} in:\n{tail}");
    }
    for fate in ["expired", "executed", "canceled"] {
        for id in ids(&d["proposals"][fate]) {
            for node in &nodes {
                assert!(
                    !casts.contains_key(&(id, *node)),
                    "{node} voted on {fate} proposal {id}"
                );
                let voted = dao
                    .hasVoted(U256::from(id), *node)
                    .call()
                    .await
                    .expect("hasVoted");
                assert!(!voted, "{node} voted on {fate} proposal {id}");
            }
        }
    }
    // The daemon is gone and left its ledger behind.
    assert!(dir.path().join("ledger.sqlite").exists());
    assert!(std::os::unix::net::UnixStream::connect(dir.path().join("control.sock")).is_err());
}
