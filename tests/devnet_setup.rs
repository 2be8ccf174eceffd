//! `govnode devnet --setup-only` against a real anvil: the chain holds what
//! devnet.json says (contracts, funded nodes, open / expired / executed /
//! canceled proposals), the key files are private and derive the listed
//! addresses, the written configuration passes `govnode check-config`, and the
//! same arguments always give the same proposals.

#[path = "support/devnet.rs"]
mod devnet_support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use devnet_support::*;
use govnode::devnet::contracts::{TestAssetDAO, TestToken};

const ACTIVE: u8 = 1;
const EXECUTED: u8 = 4;
const CANCELED: u8 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_only_builds_the_scenario_on_chain() {
    let anvil = spawn_anvil();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = devnet_setup(
        &anvil.endpoint(),
        dir.path(),
        &["--proposals", "12", "--nodes", "3"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("setup took"),
        "no timing in the summary:\n{stdout}"
    );
    assert!(
        stdout.contains("/api/v1/proposals"),
        "no curl hint in the summary:\n{stdout}"
    );
    let config = dir.path().join("config.yaml");
    assert!(
        stdout.contains(&format!(" run --config {}", config.display())),
        "no `govnode run` line after --setup-only:\n{stdout}"
    );

    let d = devnet_json(dir.path());
    assert_eq!(d["chain_id"], 31337);
    assert_eq!(d["rpc_url"], anvil.endpoint());
    let config_path = std::path::PathBuf::from(d["config"].as_str().expect("config path"));
    assert_eq!(
        config_path,
        dir.path().canonicalize().expect("dir").join("config.yaml")
    );
    assert!(
        d["api"]
            .as_str()
            .expect("api")
            .starts_with("http://127.0.0.1:")
    );

    let p = provider(&anvil);
    let dao = TestAssetDAO::new(address(&d["asset_dao"]), &p);
    let voting_token = address(&d["voting_token"]);
    assert_eq!(
        dao.dloopToken().call().await.expect("dloopToken"),
        voting_token
    );

    // Assets: every symbol in devnet.json is a token with that symbol on chain.
    let assets = d["assets"].as_object().expect("assets");
    assert_eq!(assets.len(), 6);
    for (symbol, addr) in assets {
        let token = TestToken::new(address(addr), &p);
        assert_eq!(&token.symbol().call().await.expect("symbol"), symbol);
    }
    let decimals = |s: &str| {
        let t = TestToken::new(address(&assets[s]), &p);
        async move { t.decimals().call().await.expect("decimals") }
    };
    assert_eq!(decimals("USDC").await, 6);
    assert_eq!(decimals("WBTC").await, 8);
    assert_eq!(decimals("WETH").await, 18);

    // Proposals: 12 open plus 2 expired, 1 executed, 2 canceled.
    let count = dao.getProposalCount().call().await.expect("count");
    assert_eq!(count, U256::from(12 + 5));
    let now = latest_timestamp(&p).await;
    let (mut open, mut expired, mut executed, mut canceled) = (vec![], vec![], vec![], vec![]);
    let mut kinds = BTreeSet::new();
    for id in 1..=17u64 {
        let pr = dao
            .getProposal(U256::from(id))
            .call()
            .await
            .expect("getProposal");
        assert_eq!(pr.id, U256::from(id));
        assert!(
            !pr.description.is_empty(),
            "proposal {id} has no description"
        );
        let ends = u64::try_from(pr.votingEnds).expect("votingEnds");
        match (pr.status, pr.executed) {
            (ACTIVE, false) if ends >= now => {
                kinds.insert(pr.proposalType);
                open.push(id)
            }
            (ACTIVE, false) => expired.push(id),
            (EXECUTED, true) => executed.push(id),
            (CANCELED, false) => canceled.push(id),
            other => panic!("proposal {id} in an unexpected state {other:?}"),
        }
    }
    assert_eq!(open.len(), 12, "open: {open:?}");
    assert_eq!(open, ids(&d["proposals"]["open"]));
    assert_eq!(expired, ids(&d["proposals"]["expired"]));
    assert_eq!(expired.len(), 2);
    assert_eq!(executed, ids(&d["proposals"]["executed"]));
    assert_eq!(executed.len(), 1);
    assert_eq!(canceled, ids(&d["proposals"]["canceled"]));
    assert_eq!(canceled.len(), 2);
    assert_eq!(
        kinds,
        BTreeSet::from([0, 1, 2, 3]),
        "all four proposal types are open"
    );

    // Nodes: funded with gas and with differing voting weights; keys private.
    let nodes = d["nodes"].as_array().expect("nodes");
    let names: Vec<&str> = nodes
        .iter()
        .map(|n| n["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["ai-gov-01", "ai-gov-02", "ai-gov-03"]);
    let token = TestToken::new(voting_token, &p);
    let keys_dir = dir.path().join("keys");
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&keys_dir), 0o700);
    let mut weights = BTreeSet::new();
    for n in nodes {
        let name = n["name"].as_str().expect("name");
        let addr = address(&n["address"]);
        assert!(
            p.get_balance(addr).await.expect("balance") > U256::ZERO,
            "{name} has no ETH"
        );
        let weight = token.balanceOf(addr).call().await.expect("balanceOf");
        assert!(weight > U256::ZERO, "{name} has no DLOOP");
        weights.insert(weight);

        let key_file = keys_dir.join(name);
        assert_eq!(mode(&key_file), 0o600, "{}", key_file.display());
        let key = std::fs::read_to_string(&key_file).expect("key");
        let signer: PrivateKeySigner = key
            .trim()
            .trim_start_matches("0x")
            .parse()
            .expect("hex key");
        assert_eq!(
            signer.address(),
            addr,
            "{name}'s key file derives another address"
        );
    }
    assert_eq!(weights.len(), 3, "voting weights should differ");
    assert_eq!(mode(&keys_dir.join("api-token")), 0o600);

    // The configuration is complete and valid for the daemon.
    let check = Command::new(GOVNODE)
        .args(["check-config", "--config"])
        .arg(&config_path)
        .output()
        .expect("check-config");
    assert!(
        check.status.success(),
        "check-config failed: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let settings = govnode::config::load(&config_path, &govnode::config::LoadEnv::default())
        .unwrap_or_else(|e| panic!("{}", e.report()));
    assert_eq!(
        settings.config.dao.address.parse::<Address>().expect("dao"),
        *dao.address()
    );
    assert_eq!(settings.config.chain.id, 31337);
    assert_eq!(settings.rpc_urls[0].expose(), anvil.endpoint());
    assert!(settings.config.round.on_start);
    assert_eq!(
        settings.ledger_path,
        config_path.with_file_name("ledger.sqlite")
    );
    assert_eq!(settings.node_keys.len(), 3);
    assert!(settings.api_token.is_some());
}

/// What a proposal says, without the timestamps and tallies that differ between chains.
type Fingerprint = (u8, Address, U256, String, Address, u8, bool);

async fn fingerprints(dir: &std::path::Path) -> (serde_json::Value, Vec<Fingerprint>) {
    let anvil = spawn_anvil();
    devnet_setup(
        &anvil.endpoint(),
        dir,
        &["--proposals", "25", "--nodes", "2"],
    );
    let d = devnet_json(dir);
    let p = provider(&anvil);
    let dao = TestAssetDAO::new(address(&d["asset_dao"]), &p);
    let count: u64 = dao.getProposalCount().call().await.expect("count").to();
    let mut out = Vec::new();
    for id in 1..=count {
        let r = dao
            .getProposal(U256::from(id))
            .call()
            .await
            .expect("getProposal");
        out.push((
            r.proposalType,
            r.assetAddress,
            r.amount,
            r.description,
            r.proposer,
            r.status,
            r.executed,
        ));
    }
    (d, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_arguments_give_the_same_deployment() {
    let (a, b) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let (first, first_props) = fingerprints(a.path()).await;
    let (second, second_props) = fingerprints(b.path()).await;
    assert_eq!(first_props.len(), 30);
    assert_eq!(first_props, second_props);
    for key in [
        "asset_dao",
        "voting_token",
        "assets",
        "nodes",
        "proposals",
        "deployer",
    ] {
        assert_eq!(first[key], second[key], "devnet.json {key} differs");
    }
    // The amounts and assets vary, not only the descriptions.
    let distinct: BTreeSet<_> = first_props.iter().map(|f| (f.1, f.2)).collect();
    assert!(distinct.len() > 15, "too little variety: {distinct:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_replaces_the_previous_devnet() {
    let anvil = spawn_anvil();
    let dir = tempfile::tempdir().expect("tempdir");
    devnet_setup(
        &anvil.endpoint(),
        dir.path(),
        &["--proposals", "2", "--nodes", "1"],
    );
    let first = devnet_json(dir.path());
    std::fs::write(dir.path().join("ledger.sqlite"), "stale").expect("plant a ledger");
    std::fs::write(dir.path().join("notes.txt"), "mine").expect("plant a user file");

    let out = devnet_setup(
        &anvil.endpoint(),
        dir.path(),
        &["--proposals", "2", "--nodes", "1"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("removed the previous devnet's files"),
        "{stdout}"
    );
    assert!(
        !dir.path().join("ledger.sqlite").exists(),
        "the old ledger survived"
    );
    assert!(
        dir.path().join("notes.txt").exists(),
        "a file the devnet did not make was removed"
    );
    let second = devnet_json(dir.path());
    // Same chain, later nonces: a second, independent deployment.
    assert_ne!(first["asset_dao"], second["asset_dao"]);
    let p = provider(&anvil);
    let dao = TestAssetDAO::new(address(&second["asset_dao"]), &p);
    assert_eq!(
        dao.getProposalCount().call().await.expect("count"),
        U256::from(7)
    );
}
