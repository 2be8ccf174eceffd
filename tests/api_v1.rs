//! The REST API against a real devnet (anvil, the test AssetDAO, the real
//! daemon): what `/api/v1/status`, `/nodes` and `/proposals` report matches
//! the deployment; the DLoop aliases answer the same; the status page is
//! self-contained HTML; 404/405 still come from the routing table; and no
//! response ever carries the API token or a node key.
//!
//! Triggering rounds is in `api_rounds.rs`.

mod support {
    #[allow(dead_code)]
    pub mod anvil;
    pub mod daemon;
    pub mod devnet_chain;
    pub mod http_recorder;
}

use std::collections::BTreeSet;

use serde_json::Value;
use support::devnet_chain::Devnet;
use support::http_recorder::Recorder;

const PROPOSALS: u32 = 6;
const NODES: u32 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_describe_the_devnet() {
    let net = Devnet::start(PROPOSALS, NODES).await;
    let http = Recorder::default();

    // Status: identity of the daemon, chain and DAO; nothing has run yet.
    let r = http.get(&net.url("/api/v1/status")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "application/json");
    let s = r.json();
    assert_eq!(s["name"], "govnode");
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert!(s["uptime_seconds"].is_u64());
    assert_eq!(s["chain"]["id"], 31337);
    assert_eq!(s["chain"]["endpoints"], 1);
    assert_eq!(s["chain"]["healthy_endpoints"], 1);
    assert!(s["chain"]["head_block"].as_u64().unwrap_or(0) > 0, "{s}");
    assert_eq!(s["dao"]["kind"], "assetdao");
    assert_eq!(s["dao"]["address"], net.info["asset_dao"]);
    assert_eq!(s["dry_run"], false);
    assert_eq!(s["health"]["ready"], true);
    assert!(s["health"]["reasons"].is_array());
    assert!(s["round"].is_null(), "{s}");
    assert!(s["last_round"].is_null(), "{s}");
    assert_eq!(s["counts"]["nodes"], NODES);
    assert_eq!(s["counts"]["rounds"], 0);
    assert_eq!(s["counts"]["votes"]["total"], 0);

    // Nodes: the devnet's wallets, funded, with their strategies.
    let r = http.get(&net.url("/api/v1/nodes")).await;
    assert_eq!(r.status, 200);
    let n = r.json();
    assert_eq!(n["voting_token"]["address"], net.info["voting_token"]);
    assert_eq!(n["voting_token"]["symbol"], "DLOOP");
    assert_eq!(n["voting_token"]["decimals"], 18);
    assert!(n["block"].as_u64().is_some(), "{n}");
    let nodes = n["nodes"].as_array().expect("nodes");
    let expected = net.nodes();
    assert_eq!(nodes.len(), expected.len());
    for (node, (name, address)) in nodes.iter().zip(&expected) {
        assert_eq!(&node["name"], name);
        assert_eq!(&node["address"], address);
        let listed = net.info["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| &x["name"] == name)
            .unwrap();
        assert_eq!(node["strategy"], listed["strategy"]);
        for field in ["eth_balance", "voting_token_balance", "voting_power"] {
            let raw = node[field]["raw"].as_str().unwrap_or_else(|| {
                panic!("{name}: {field} is not read: {node}");
            });
            assert!(raw.parse::<u128>().unwrap() > 0, "{name}: {field} {raw}");
            assert!(node[field]["formatted"].is_string(), "{node}");
        }
        assert_eq!(
            node["eth_balance"]["formatted"], "10",
            "devnet funds 10 ETH"
        );
        // AssetDAO weighs a vote by the token balance.
        assert_eq!(node["voting_power"], node["voting_token_balance"]);
        assert!(node.get("error").is_none(), "{node}");
        assert_eq!(node["votes"]["total"], 0);
        assert!(node["last_vote"].is_null());
    }

    // Proposals: exactly the open ones, with their asset symbols; no node has decided yet.
    let r = http.get(&net.url("/api/v1/proposals")).await;
    assert_eq!(r.status, 200);
    let p = r.json();
    let listed: BTreeSet<u64> = p["proposals"]
        .as_array()
        .expect("proposals")
        .iter()
        .map(|x| x["id"].as_str().unwrap().parse().unwrap())
        .collect();
    let open: BTreeSet<u64> = net.open_proposals().into_iter().collect();
    assert_eq!(listed, open);
    assert_eq!(p["open"], open.len());
    assert_eq!(p["paused"], false);
    assert!(p["total_proposals"].as_u64().unwrap() > open.len() as u64);
    let assets = net.info["assets"].as_object().unwrap();
    for prop in p["proposals"].as_array().unwrap() {
        assert_eq!(prop["status"], "active");
        assert!(prop["deadline"]["timestamp"].is_u64(), "{prop}");
        assert!(prop["amount"]["raw"].is_string());
        if let Some(symbol) = prop["asset"]["symbol"].as_str() {
            assert_eq!(
                prop["asset"]["address"], assets[symbol],
                "symbol resolved on chain"
            );
        }
        let states: Vec<&Value> = prop["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| &x["state"])
            .collect();
        assert_eq!(states.len(), NODES as usize);
        assert!(states.iter().all(|s| s.is_null()), "{prop}");
    }

    // The DLoop aliases serve the same documents.
    let alias = http.get(&net.url("/active-proposals")).await.json();
    assert_eq!(alias["proposals"], p["proposals"]);
    let alias = http.get(&net.url("/nodes")).await.json();
    assert_eq!(alias["nodes"], n["nodes"]);

    // The index lists every endpoint, with the token rule.
    let index = http.get(&net.url("/")).await.json();
    let paths: Vec<&str> = index["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    for path in [
        "/api/v1/status",
        "/api/v1/nodes",
        "/api/v1/proposals",
        "/api/v1/rounds",
        "/api/v1/rounds/{id}",
        "/active-proposals",
        "/trigger-voting",
        "/status",
        "/health",
    ] {
        assert!(paths.contains(&path), "{path} missing from {index}");
    }
    let trigger = index["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/trigger-voting")
        .unwrap();
    assert_eq!(trigger["auth"], serde_json::json!(["POST"]));

    // /health keeps its shape.
    let h = http.get(&net.url("/health")).await.json();
    assert_eq!(h["chain_id"], 31337);
    assert!(h["components"].is_object());

    // The status page: HTML, locked down, naming every node and the endpoint.
    let r = http.get(&net.url("/status")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(
        r.header("content-security-policy"),
        "default-src 'none'; style-src 'unsafe-inline'"
    );
    assert!(r.text.starts_with("<!DOCTYPE html>"));
    for (name, address) in &expected {
        assert!(r.text.contains(name.as_str()), "{name} not on the page");
        assert!(r.text.contains(address.as_str()));
    }
    assert!(r.text.contains("RPC endpoints") && r.text.contains("devnet"));
    assert!(!r.text.contains("<script"), "no script on the page");
    assert!(!r.text.contains("src=\"http"), "no external asset");

    // Unknown routes and methods still come from the routing table.
    let r = http.get(&net.url("/api/v1/nope")).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "not_found");
    let r = http
        .send(reqwest::Method::DELETE, &net.url("/api/v1/rounds"), None)
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), "GET, HEAD, POST, OPTIONS");
    assert_eq!(r.error_code(), "method_not_allowed");
    let r = http.get(&net.url("/trigger-voting")).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), "POST, OPTIONS");
    let r = http
        .post(&net.url("/api/v1/status"), Some(&net.token))
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), "GET, HEAD, OPTIONS");
    let r = http.get(&net.url("/api/v1/rounds/999")).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "round_not_found");
    let r = http.get(&net.url("/api/v1/rounds/latest")).await;
    assert_eq!(r.status, 404);
    let r = http.get(&net.url("/api/v1/rounds?limit=201")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "bad_request");
    let r = http.get(&net.url("/api/v1/rounds?before=x")).await;
    assert_eq!(r.status, 400);
    let r = http.get(&net.url("/api/v1/rounds")).await;
    assert_eq!(
        r.json(),
        serde_json::json!({"rounds": [], "next_before": null})
    );

    http.assert_no_secrets(&net.secrets());
}
