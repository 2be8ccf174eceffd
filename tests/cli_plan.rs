//! `govnode plan` and `govnode round --dry-run` against the real daemon on a
//! devnet: every (open proposal, node) pair with the strategy's decision and
//! reason, the same decisions a real round then records, gas estimates from
//! the chain in the dry run — and nothing signed, sent or recorded by either
//! (no ledger row, no round, no transaction on the chain). After the real
//! round the plan shows each pair as recorded. Then `govnode round` prints
//! plain progress lines when its output is not a terminal.

mod support {
    #[allow(dead_code)]
    pub mod anvil;
    pub mod daemon;
    pub mod devnet_chain;
    pub mod http_recorder;
}

use std::collections::BTreeMap;
use std::process::{Command, Output};

use serde_json::{Value, json};
use support::devnet_chain::Devnet;
use support::http_recorder::Recorder;

fn govnode(net: &Devnet, args: &[&str]) -> Output {
    let config = net.info["config"].as_str().expect("config path");
    Command::new(env!("CARGO_BIN_EXE_govnode"))
        .args(args)
        .args(["--config", config])
        .env_remove("GOVNODE_CONFIG")
        .output()
        .expect("run govnode")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// (proposal, node) → (action, decision, reason)
fn pairs(plan: &Value) -> BTreeMap<(String, String), (String, String, String)> {
    plan["votes"]
        .as_array()
        .expect("votes")
        .iter()
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
            (
                (s("proposal_id"), s("node")),
                (s("action"), s("decision"), s("reason")),
            )
        })
        .collect()
}

async fn nonces(net: &Devnet) -> Vec<Value> {
    let mut out = Vec::new();
    for (_, address) in net.nodes() {
        out.push(
            net.rpc("eth_getTransactionCount", json!([address, "latest"]))
                .await,
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_dry_run_decide_without_sending_and_match_the_round() {
    let net = Devnet::start(4, 2).await;
    let http = Recorder::default();
    let open = net.open_proposals();
    let nodes = net.nodes();
    let before = nonces(&net).await;

    let plan = json_of(&govnode(&net, &["plan", "--json"]));
    assert_eq!(plan["proposals_open"], open.len());
    assert_eq!(plan["simulated"], false);
    assert_eq!(plan["paused"], false);
    let planned = pairs(&plan);
    assert_eq!(planned.len(), open.len() * nodes.len(), "{plan}");
    for id in &open {
        for (name, _) in &nodes {
            let (action, decision, reason) = &planned[&(id.to_string(), name.clone())];
            assert!(
                ["vote", "skip", "unsupported"].contains(&action.as_str()),
                "{id}/{name}: {action}"
            );
            assert!(!decision.is_empty() && !reason.is_empty(), "{id}/{name}");
        }
    }
    assert!(
        planned.values().any(|(a, _, _)| a == "vote"),
        "the devnet's strategies vote on something: {plan}"
    );

    // The table: a header and one line per pair, then the summary.
    let table = govnode(&net, &["plan"]);
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("PROPOSAL"), "{text}");
    assert_eq!(lines.len(), 1 + planned.len() + 1, "{text}");
    assert!(
        lines.last().unwrap().ends_with("nothing sent or recorded"),
        "{text}"
    );

    // The dry run estimates every vote it would send.
    let dry = json_of(&govnode(&net, &["round", "--dry-run", "--json"]));
    assert_eq!(dry["simulated"], true);
    for v in dry["votes"].as_array().unwrap() {
        if v["action"] == "vote" {
            assert!(v["gas"].as_u64().unwrap() > 21_000, "{v}");
        }
    }
    assert_eq!(pairs(&dry), planned, "plan and dry run decide the same");

    // Nothing was sent or recorded by either.
    assert_eq!(nonces(&net).await, before, "no transaction left a wallet");
    let rounds = http.get(&net.url("/api/v1/rounds")).await.json();
    assert_eq!(rounds["rounds"], json!([]), "no round was recorded");
    let shown = http.get(&net.url("/api/v1/proposals")).await.json();
    for p in shown["proposals"].as_array().unwrap() {
        for n in p["nodes"].as_array().unwrap() {
            assert_eq!(n["state"], Value::Null, "no ledger row: {n}");
        }
    }

    // A real round, not on a terminal: plain progress lines, then the report.
    let round = govnode(&net, &["round"]);
    let stderr = String::from_utf8_lossy(&round.stderr);
    assert!(round.status.success(), "{stderr}");
    assert!(stderr.lines().any(|l| l.starts_with("round: ")), "{stderr}");
    assert!(
        !stderr.contains('\r'),
        "no redrawn line off a terminal: {stderr:?}"
    );

    // What the round recorded is what the plan said.
    let after = json_of(&govnode(&net, &["plan", "--json"]));
    for ((id, node), (action, decision, reason)) in &planned {
        let (now, recorded, recorded_reason) = &pairs(&after)[&(id.clone(), node.clone())];
        if action == "vote" {
            assert_eq!(now, "recorded", "{id}/{node}");
            assert_eq!(recorded, decision, "{id}/{node}");
            assert_eq!(recorded_reason, reason, "{id}/{node}");
        }
    }
    for v in after["votes"].as_array().unwrap() {
        if v["action"] == "recorded" {
            assert_eq!(v["ledger_state"], "confirmed", "{v}");
        }
    }
}

#[test]
fn plan_without_a_daemon_exits_69() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("none.socket");
    let out = Command::new(env!("CARGO_BIN_EXE_govnode"))
        .args(["plan", "--socket"])
        .arg(&socket)
        .env_remove("GOVNODE_CONFIG")
        .output()
        .expect("run govnode");
    assert_eq!(out.status.code(), Some(69));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("govnode plan: the daemon is not reachable at"),
        "{stderr}"
    );
}
