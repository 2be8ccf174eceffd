//! DLoop compatibility mode against a real devnet: with `api.dloop_compat`
//! the paths the DLoop node served answer in its shapes (`/`, `/health`,
//! `/nodes`, `/active-proposals`), `POST /trigger-voting` runs a round and
//! answers when it has ended (`{success, message, timestamp}`), the votes
//! are on chain once each, the bearer token is still required unless the
//! loopback opt-out is on, and govnode's own API stays where it was. The
//! opt-out on a non-loopback listener is refused by `check-config`.

mod support {
    #[allow(dead_code)]
    pub mod anvil;
    pub mod daemon;
    pub mod devnet_chain;
    pub mod http_recorder;
}

use std::collections::HashMap;

use alloy::primitives::keccak256;
use serde_json::{Value, json};
use support::daemon::{Workdir, base_config, check_config};
use support::devnet_chain::Devnet;
use support::http_recorder::Recorder;

const COMPAT: (&str, &str) = ("GOVNODE__API__DLOOP_COMPAT", "true");

fn is_iso_ms(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[19] == b'.'
}

/// `VoteCast` events of the devnet's nodes, counted per (proposal, voter).
async fn vote_casts(net: &Devnet) -> HashMap<(String, String), usize> {
    let dao = net.info["asset_dao"].as_str().expect("asset_dao");
    let topic = format!("{:#x}", keccak256("VoteCast(uint256,address,bool,uint256)"));
    let logs = net
        .rpc(
            "eth_getLogs",
            json!([{ "address": dao, "topics": [topic], "fromBlock": "0x0" }]),
        )
        .await;
    let nodes: Vec<String> = net
        .nodes()
        .into_iter()
        .map(|(_, a)| a.to_lowercase())
        .collect();
    let mut counts = HashMap::new();
    for log in logs.as_array().expect("logs") {
        let topics = log["topics"].as_array().expect("topics");
        let proposal = topics[1].as_str().expect("proposal").to_owned();
        let voter = format!("0x{}", &topics[2].as_str().expect("voter")[26..]);
        if nodes.contains(&voter) {
            *counts.entry((proposal, voter)).or_insert(0) += 1;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compat_routes_answer_in_dloop_shapes_and_trigger_votes_once() {
    let net = Devnet::start_with(4, 3, &[COMPAT]).await;
    let http = Recorder::default();
    let nodes = net.nodes();

    // GET /: DLoop's system status.
    let root = http.get(&net.url("/")).await;
    assert_eq!(root.status, 200, "{}", root.text);
    let root = root.json();
    assert_eq!(root["message"], "AI Governance Nodes System");
    assert_eq!(root["status"], "operational", "{root}");
    assert!(is_iso_ms(&root["timestamp"]), "{root}");
    assert_eq!(root["system"]["isRunning"], true);
    assert_eq!(root["system"]["totalNodes"], 3);
    assert_eq!(root["system"]["activeNodes"], 3);
    let statuses = root["system"]["nodeStatuses"].as_array().expect("statuses");
    assert_eq!(statuses.len(), 3);
    for (s, (name, address)) in statuses.iter().zip(&nodes) {
        assert_eq!(s["nodeId"], *name);
        assert_eq!(s["address"], *address);
        assert_eq!(s["isActive"], true);
        assert!(s["strategy"].is_string(), "{s}");
        assert_eq!(s["stats"]["votesAcast"], 0, "no round yet: {s}");
        assert_eq!(s["stats"]["lastVoteTime"], 0);
        assert_eq!(s["stats"]["proposalsCreated"], 0);
        assert!(s["stats"]["uptime"].is_u64());
    }

    // GET /health: healthy, uptime in seconds.
    let health = http.get(&net.url("/health")).await;
    assert_eq!(health.status, 200, "{}", health.text);
    let health = health.json();
    assert_eq!(health["status"], "healthy");
    assert!(
        health["uptime"].as_f64().is_some_and(|u| u > 0.0),
        "{health}"
    );
    assert!(is_iso_ms(&health["timestamp"]));

    // GET /active-proposals: the open proposals with DLoop's fields.
    let active = http.get(&net.url("/active-proposals")).await;
    assert_eq!(active.status, 200, "{}", active.text);
    let active = active.json();
    assert_eq!(active["success"], true);
    assert_eq!(active["count"], 4, "{active}");
    let mut ids: Vec<u64> = active["proposals"]
        .as_array()
        .expect("proposals")
        .iter()
        .map(|p| {
            for key in ["proposer", "assetAddress", "amount", "description"] {
                assert!(p[key].is_string(), "{key}: {p}");
            }
            assert_eq!(p["votesFor"], "0", "{p}");
            assert_eq!(p["votesAgainst"], "0");
            assert_eq!(p["state"], 1);
            assert!(p["proposalType"].as_u64().is_some_and(|t| t <= 2), "{p}");
            assert!(p["endTime"].as_u64() > p["startTime"].as_u64(), "{p}");
            assert_eq!(p["executed"], false);
            assert_eq!(p["cancelled"], false);
            p["id"]
                .as_str()
                .expect("id is a string")
                .parse()
                .expect("id")
        })
        .collect();
    ids.sort_unstable();
    let mut open = net.open_proposals();
    open.sort_unstable();
    assert_eq!(ids, open);

    // The token is still required for the POSTs.
    for path in ["/trigger-voting", "/emergency-voting"] {
        let r = http.post(&net.url(path), None).await;
        assert_eq!(r.status, 401, "{path}: {}", r.text);
    }

    // POST /trigger-voting: answers when the round has ended.
    let r = http
        .post(&net.url("/trigger-voting"), Some(&net.token))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let location = r.header("location");
    let body = r.json();
    assert_eq!(body["success"], true, "{body}");
    assert_eq!(body["message"], "Voting round triggered successfully");
    assert!(is_iso_ms(&body["timestamp"]));
    assert!(location.starts_with("/api/v1/rounds/"), "{location}");
    let round = http.get(&net.url(&location)).await.json();
    assert_eq!(
        round["state"], "finished",
        "the answer came after the round: {round}"
    );
    assert_eq!(round["outcome"], "success");
    let confirmed = round["votes"]["confirmed"].as_u64().expect("confirmed");
    assert!(confirmed > 0, "{round}");

    // Each vote on chain once; the counts show in /nodes and /.
    let casts = vote_casts(&net).await;
    assert_eq!(casts.len() as u64, confirmed, "{casts:?}");
    assert!(casts.values().all(|n| *n == 1), "{casts:?}");
    let listed = http.get(&net.url("/nodes")).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let listed = listed.json();
    let entries = listed["nodes"].as_array().expect("nodes");
    assert_eq!(entries.len(), 3);
    let mut cast_total = 0;
    for (n, (name, address)) in entries.iter().zip(&nodes) {
        assert_eq!(n["id"], *name);
        assert_eq!(n["address"], *address);
        assert_eq!(n["active"], true);
        assert_eq!(n["status"]["nodeId"], *name);
        let cast = n["status"]["stats"]["votesAcast"].as_u64().expect("count");
        let on_chain = casts
            .keys()
            .filter(|(_, v)| *v == address.to_lowercase())
            .count() as u64;
        assert_eq!(cast, on_chain, "{name}: {n}");
        if cast > 0 {
            assert!(
                n["status"]["stats"]["lastVoteTime"].as_i64() > Some(0),
                "{n}"
            );
        }
        cast_total += cast;
    }
    assert_eq!(cast_total, confirmed);

    // A second trigger (the emergency name) finds nothing new and votes nothing twice.
    let r = http
        .post(&net.url("/emergency-voting"), Some(&net.token))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["success"], true, "{body}");
    assert!(body["details"]["timestamp"].is_string(), "{body}");
    let again = vote_casts(&net).await;
    assert_eq!(again, casts, "no vote twice");

    // govnode's own API is unchanged beside the compat paths.
    let v1 = http.get(&net.url("/api/v1/nodes")).await.json();
    assert!(v1["nodes"][0]["votes"]["confirmed"].is_u64(), "{v1}");
    let ready = http.get(&net.url("/health/ready")).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["status"], "ready");

    // Nothing a DLoop client gets carries a secret.
    for path in ["/", "/health", "/nodes", "/active-proposals"] {
        let text = http.get(&net.url(path)).await.text;
        for secret in net.secrets() {
            assert!(!text.contains(&secret), "{path} leaks a secret");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_opt_out_lets_dloop_clients_trigger_without_the_token() {
    let net = Devnet::start_with(
        2,
        2,
        &[
            COMPAT,
            ("GOVNODE__API__DLOOP_COMPAT_OPEN_ON_LOOPBACK", "true"),
        ],
    )
    .await;
    let http = Recorder::default();
    let r = http.post(&net.url("/trigger-voting"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["success"], true);
    // Only the DLoop paths: govnode's own trigger keeps its token.
    let r = http.post(&net.url("/api/v1/rounds"), None).await;
    assert_eq!(r.status, 401, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_compat_the_aliases_keep_govnode_shapes() {
    let net = Devnet::start(2, 2).await;
    let http = Recorder::default();
    let index = http.get(&net.url("/")).await.json();
    assert_eq!(index["name"], "govnode", "{index}");
    let paths: Vec<&str> = index["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert!(paths.contains(&"/emergency-voting"), "{paths:?}");
    let nodes = http.get(&net.url("/nodes")).await.json();
    assert!(nodes["nodes"][0]["name"].is_string(), "{nodes}");
    let r = http
        .post(&net.url("/emergency-voting"), Some(&net.token))
        .await;
    assert_eq!(r.status, 202, "govnode's trigger answer: {}", r.text);
    assert_eq!(r.json()["round"], "started");
}

#[test]
fn check_config_refuses_the_opt_out_off_loopback() {
    let work = Workdir::new();
    let config = |api: &str| {
        let yaml = base_config(5001, "http://127.0.0.1:1", &format!("api:\n{api}"));
        work.write("config.yaml", &yaml)
    };

    let public = config(
        "  listen: 0.0.0.0:5001\n  dloop_compat: true\n  dloop_compat_open_on_loopback: true\n",
    );
    let (code, out) = check_config(&public, &[]);
    assert_eq!(code, 78, "{out}");
    assert!(
        out.contains("api.dloop_compat_open_on_loopback") && out.contains("0.0.0.0:5001"),
        "{out}"
    );

    let without_compat = config("  dloop_compat_open_on_loopback: true\n");
    let (code, out) = check_config(&without_compat, &[]);
    assert_eq!(code, 78, "{out}");
    assert!(out.contains("without api.dloop_compat"), "{out}");

    let loopback = config(
        "  listen: 127.0.0.1:5001\n  dloop_compat: true\n  dloop_compat_open_on_loopback: true\n",
    );
    let (code, out) = check_config(&loopback, &[]);
    assert_eq!(code, 0, "{out}");
}
