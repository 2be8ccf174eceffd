//! Every vote lands while its proposal is open, and never twice. On a real
//! anvil with the test AssetDAO, the real daemon meets what a live DAO and
//! a live mempool do: a pause mined ahead of the round's votes, a pause
//! pending while they are estimated, a vote dropped from the mempool, a
//! vote's nonce taken by another transaction of the same key, a base fee
//! above the operator's ceiling, a ledger restored from an older backup and
//! a ledger lost after AssetDAO's 6-hour re-vote window opened. The chain's
//! own `VoteCast` logs and nonces judge the outcome.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod round_env;
}

use std::process::Command;
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use serde_json::{Value, json};
use support::daemon::{Daemon, binary};
use support::round_env::RoundEnv;

const NODES: u32 = 2;
const PROPOSALS: u32 = 3;
const PAIRS: usize = (NODES * PROPOSALS) as usize;
/// anvil's well-known account 0: the devnet's deployer and the DAO's owner.
const OWNER: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
/// `pause()` and `unpause()` selectors.
const PAUSE: &str = "0x8456cb59";
const UNPAUSE: &str = "0x3f4ba83a";
const GWEI: u64 = 1_000_000_000;

/// Every node votes `for` on everything: each open proposal is a vote.
fn vote_on_everything(env: &RoundEnv) -> Vec<(String, String)> {
    env.vote_on_everything(NODES)
}

fn daemon(env: &RoundEnv, envs: &[(String, String)]) -> Daemon {
    env.daemon_with(envs)
}

/// `GET path` on the daemon's API: the body as text.
async fn get_text(d: &Daemon, path: &str) -> String {
    reqwest::get(d.url(path))
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: body: {e}"))
}

/// `GET path` on the daemon's API: the body as JSON.
async fn get_json(d: &Daemon, path: &str) -> Value {
    let text = get_text(d, path).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {text}"))
}

fn round_json(env: &RoundEnv) -> (i32, Value) {
    env.round_json()
}

/// Each pair the round looked at is counted once.
fn assert_counts_add_up(report: &Value, pairs: u64) {
    let v = &report["votes"];
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    let sum = n("confirmed")
        + n("confirmed_earlier")
        + n("already_voted")
        + n("skipped")
        + n("not_votable")
        + n("deferred")
        + n("failed")
        + n("pending");
    assert_eq!(sum, pairs, "every pair counted once: {report:#}");
    assert_eq!(
        n("decided"),
        n("confirmed") + n("deferred") + n("failed") + n("pending"),
        "{report:#}"
    );
    let by: u64 = v["not_votable_by"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or_default();
    assert_eq!(by, n("not_votable"), "{report:#}");
}

/// Every (proposal, node) pair of the open proposals has exactly one `VoteCast`.
async fn assert_each_pair_voted_once(env: &RoundEnv) {
    let casts = env.vote_casts().await;
    let nodes = env.node_addresses();
    let open = env.proposal_ids("open");
    for p in &open {
        for n in &nodes {
            assert_eq!(
                casts.get(&(*p, *n)).copied().unwrap_or(0),
                1,
                "proposal {p} node {n}: {casts:?}; ledger {:?}",
                env.ledger_rows()
            );
        }
    }
    assert_eq!(casts.len(), open.len() * nodes.len(), "{casts:?}");
}

async fn owner_call(env: &RoundEnv, data: &str, tip_gwei: u64) -> Value {
    env.anvil
        .rpc(
            "eth_sendTransaction",
            json!([{
                "from": OWNER,
                "to": format!("{:#x}", env.dao()),
                "data": data,
                "gas": "0x30000",
                "maxFeePerGas": format!("{:#x}", (tip_gwei + 100) * GWEI),
                "maxPriorityFeePerGas": format!("{:#x}", tip_gwei * GWEI),
            }]),
        )
        .await
}

async fn automine(env: &RoundEnv, on: bool) {
    env.anvil.rpc("evm_setAutomine", json!([on])).await;
}

async fn nonce(env: &RoundEnv, who: Address) -> u64 {
    let n = env
        .anvil
        .rpc(
            "eth_getTransactionCount",
            json!([format!("{who:#x}"), "latest"]),
        )
        .await;
    u64::from_str_radix(n.as_str().expect("hex").trim_start_matches("0x"), 16).expect("nonce")
}

fn wait_until(what: &str, env: &RoundEnv, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "{what}: ledger {:?}",
            env.ledger_rows()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Runs `govnode round` and, once all its votes are in the mempool
/// (auto-mining off), `meddle` beside it: the round's exit code and report.
fn round_with_votes_in_mempool(env: &RoundEnv, meddle: impl FnOnce() + Send) -> (i32, Value) {
    std::thread::scope(|s| {
        let round = s.spawn(|| round_json(env));
        let meddling = s.spawn(|| {
            wait_until("votes in the mempool", env, || {
                env.count_in_state("sent") == PAIRS
            });
            meddle();
        });
        meddling.join().expect("meddling thread");
        round.join().expect("round thread")
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pause_mined_ahead_of_the_votes_is_retried_after_unpause() {
    let env = RoundEnv::new(PROPOSALS, NODES).await;
    let envs = vote_on_everything(&env);
    let d = daemon(&env, &envs);
    automine(&env, false).await;

    let (code, first) = round_with_votes_in_mempool(&env, || {
        // The pause pays a higher tip: mined first, in the votes' block.
        block_on(async {
            owner_call(&env, PAUSE, 50).await;
            env.anvil.rpc("evm_mine", json!([])).await;
        });
    });
    assert_eq!(code, 0, "a pause is not the operator's failure: {first:#}");
    assert_eq!(first["votes"]["deferred"], PAIRS as u64, "{first:#}");
    assert_counts_add_up(&first, PAIRS as u64);
    let left = first["left"].as_array().expect("left");
    assert!(
        left.iter().all(|l| l["kind"] == "deferred"
            && l["reason"]
                .as_str()
                .unwrap_or("")
                .contains("ContractPaused")),
        "each revert decoded: {left:?}"
    );
    assert!(
        env.vote_casts().await.is_empty(),
        "nothing counted while paused"
    );

    // While paused, a round sends nothing and says why.
    automine(&env, true).await;
    let (code, paused) = round_json(&env);
    assert_eq!(code, 0, "{paused:#}");
    assert_eq!(paused["dao_paused"], true, "{paused:#}");
    assert_eq!(
        paused["votes"]["not_votable_by"]["paused"], PAIRS as u64,
        "{paused:#}"
    );
    let ready: Value = get_json(&d, "/health/ready").await;
    assert_eq!(
        ready["status"], "ready",
        "a paused DAO is not a broken daemon: {ready}"
    );
    assert!(
        ready["warnings"].to_string().contains("the DAO is paused"),
        "{ready}"
    );
    let metrics = get_text(&d, "/metrics").await;
    assert!(metrics.contains("\ngovnode_dao_paused 1\n"), "{metrics}");

    owner_call(&env, UNPAUSE, 1).await;
    let (code, after) = round_json(&env);
    assert_eq!(code, 0, "{after:#}");
    assert_eq!(after["votes"]["confirmed"], PAIRS as u64, "{after:#}");
    assert_counts_add_up(&after, PAIRS as u64);
    assert_each_pair_voted_once(&env).await;

    // And once voted, a round finds nothing to do.
    let (code, quiet) = round_json(&env);
    assert_eq!(code, 0, "{quiet:#}");
    assert_eq!(quiet["votes"]["already_voted"], PAIRS as u64, "{quiet:#}");
    assert_eq!(quiet["votes"]["decided"], 0, "{quiet:#}");
    assert_each_pair_voted_once(&env).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pause_pending_at_estimation_keeps_the_votes_for_after_unpause() {
    let env = RoundEnv::new(PROPOSALS, NODES).await;
    let envs = vote_on_everything(&env);
    let _daemon = daemon(&env, &envs);
    automine(&env, false).await;
    owner_call(&env, PAUSE, 50).await;

    // The head is not paused, the pending block is: estimation refuses.
    let (code, first) = round_json(&env);
    assert_eq!(code, 0, "{first:#}");
    assert_eq!(first["votes"]["deferred"], PAIRS as u64, "{first:#}");
    assert_counts_add_up(&first, PAIRS as u64);
    assert_eq!(env.count_in_state("intent"), PAIRS, "kept, not abandoned");

    automine(&env, true).await;
    env.anvil.rpc("evm_mine", json!([])).await;
    owner_call(&env, UNPAUSE, 1).await;
    let (code, after) = round_json(&env);
    assert_eq!(code, 0, "{after:#}");
    assert_eq!(after["votes"]["confirmed"], PAIRS as u64, "{after:#}");
    assert_counts_add_up(&after, PAIRS as u64);
    assert_each_pair_voted_once(&env).await;
}

/// The hashes of node `node`'s sent votes, newest nonce first.
fn sent_hashes(env: &RoundEnv, node: Address) -> Vec<(u64, String)> {
    let conn = rusqlite::Connection::open_with_flags(
        env.ledger(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open ledger");
    let mut stmt = conn
        .prepare(
            "SELECT nonce, tx_hash FROM votes WHERE voter = ?1 AND state = 'sent' ORDER BY nonce DESC",
        )
        .expect("query");
    stmt.query_map([format!("{node:#x}")], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
    })
    .expect("rows")
    .collect::<Result<_, _>>()
    .expect("rows")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_vote_and_a_vote_whose_nonce_was_taken_land_once() {
    let env = RoundEnv::new(PROPOSALS, NODES).await;
    let mut envs = vote_on_everything(&env);
    envs.push(("GOVNODE__ROUND__DEADLINE".into(), "4s".into()));
    let _daemon = daemon(&env, &envs);
    let nodes = env.node_addresses();
    automine(&env, false).await;

    let (code, first) = round_with_votes_in_mempool(&env, || {
        block_on(async {
            // Node 0: its last vote is forgotten by the mempool.
            let (_, dropped) = sent_hashes(&env, nodes[0])[0].clone();
            env.anvil
                .rpc("anvil_dropTransaction", json!([dropped]))
                .await;
            // Node 1: its last vote is replaced by a transfer with the same nonce.
            let (taken, replaced) = sent_hashes(&env, nodes[1])[0].clone();
            env.anvil
                .rpc("anvil_dropTransaction", json!([replaced]))
                .await;
            env.anvil
                .rpc(
                    "anvil_impersonateAccount",
                    json!([format!("{:#x}", nodes[1])]),
                )
                .await;
            env.anvil
                .rpc(
                    "eth_sendTransaction",
                    json!([{
                        "from": format!("{:#x}", nodes[1]),
                        "to": OWNER,
                        "value": "0x1",
                        "nonce": format!("{taken:#x}"),
                    }]),
                )
                .await;
            env.anvil.rpc("evm_mine", json!([])).await;
        });
    });
    assert_eq!(code, 1, "two votes unmined at the deadline: {first:#}");
    assert_eq!(first["votes"]["pending"], 2, "{first:#}");
    assert_counts_add_up(&first, PAIRS as u64);

    automine(&env, true).await;
    let (code, after) = round_json(&env);
    assert_eq!(code, 0, "{after:#}");
    assert_eq!(
        after["votes"]["confirmed"].as_u64().unwrap_or(0)
            + after["votes"]["confirmed_earlier"].as_u64().unwrap_or(0),
        2,
        "the two are cast now: {after:#}"
    );
    assert_counts_add_up(&after, PAIRS as u64);
    assert_each_pair_voted_once(&env).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_vote_is_priced_above_the_fee_ceiling() {
    let env = RoundEnv::new(PROPOSALS, NODES).await;
    let mut envs = vote_on_everything(&env);
    envs.push(("GOVNODE__ROUND__MAX_FEE_PER_GAS".into(), "20 gwei".into()));
    let _daemon = daemon(&env, &envs);
    let nodes = env.node_addresses();
    let before: Vec<u64> = nonces(&env, &nodes).await;

    env.anvil
        .rpc(
            "anvil_setNextBlockBaseFeePerGas",
            json!([format!("{:#x}", 80 * GWEI)]),
        )
        .await;
    let (code, high) = round_json(&env);
    assert_eq!(code, 0, "waiting for fees is not a failure: {high:#}");
    assert_eq!(high["votes"]["deferred"], PAIRS as u64, "{high:#}");
    assert_counts_add_up(&high, PAIRS as u64);
    assert!(
        high["left"]
            .as_array()
            .expect("left")
            .iter()
            .all(|l| l["reason"]
                .as_str()
                .unwrap_or("")
                .contains("round.max_fee_per_gas")),
        "{high:#}"
    );
    assert_eq!(nonces(&env, &nodes).await, before, "nothing was sent");
    assert_eq!(env.count_in_state("intent"), PAIRS);

    env.anvil
        .rpc(
            "anvil_setNextBlockBaseFeePerGas",
            json!([format!("{:#x}", GWEI)]),
        )
        .await;
    let (code, low) = round_json(&env);
    assert_eq!(code, 0, "{low:#}");
    assert_eq!(low["votes"]["confirmed"], PAIRS as u64, "{low:#}");
    assert_each_pair_voted_once(&env).await;
    // Every attempt was signed within the ceiling.
    let conn = rusqlite::Connection::open_with_flags(
        env.ledger(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open ledger");
    let attempts: i64 = conn
        .query_row("SELECT count(*) FROM vote_attempts", [], |r| r.get(0))
        .expect("count");
    assert_eq!(attempts, PAIRS as i64, "each vote signed once");
    for (i, n) in nodes.iter().enumerate() {
        let sent = nonces(&env, &[*n]).await[0] - before[i];
        assert_eq!(sent, u64::from(PROPOSALS), "node {n}");
    }
    let max_fee: Vec<u128> = {
        let mut out = Vec::new();
        let mut stmt = conn
            .prepare("SELECT tx_hash FROM vote_attempts")
            .expect("query");
        let hashes: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows");
        for h in hashes {
            let tx = env.anvil.rpc("eth_getTransactionByHash", json!([h])).await;
            let fee = tx["maxFeePerGas"].as_str().expect("maxFeePerGas");
            out.push(u128::from_str_radix(fee.trim_start_matches("0x"), 16).expect("hex"));
        }
        out
    };
    assert!(
        max_fee.iter().all(|&f| f <= 20 * u128::from(GWEI)),
        "signed above the ceiling: {max_fee:?}"
    );
}

async fn nonces(env: &RoundEnv, nodes: &[Address]) -> Vec<u64> {
    let mut out = Vec::new();
    for n in nodes {
        out.push(nonce(env, *n).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn an_old_backup_restored_after_votes_sends_nothing_and_shows_every_vote() {
    let env = RoundEnv::new(PROPOSALS, NODES).await;
    let envs = vote_on_everything(&env);
    let nodes = env.node_addresses();
    let backup = env.dir.path().join("before-votes.sqlite");
    {
        let mut d = daemon(&env, &envs);
        let out = Command::new(binary())
            .args(["backup", "--config"])
            .arg(env.config())
            .arg("--to")
            .arg(&backup)
            .output()
            .expect("govnode backup");
        assert!(out.status.success(), "{out:?}");
        let (code, voted) = round_json(&env);
        assert_eq!(code, 0, "{voted:#}");
        assert_eq!(voted["votes"]["confirmed"], PAIRS as u64, "{voted:#}");
        d.signal(libc::SIGTERM);
        d.wait_exit(Duration::from_secs(10));
    }
    let out = Command::new(binary())
        .args(["restore", "--config"])
        .arg(env.config())
        .arg(&backup)
        .output()
        .expect("govnode restore");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(env.ledger_rows().len(), 0, "the backup predates the votes");

    let before = nonces(&env, &nodes).await;
    let d = daemon(&env, &envs);
    let (code, again) = round_json(&env);
    assert_eq!(code, 0, "{again:#}");
    assert_eq!(again["votes"]["already_voted"], PAIRS as u64, "{again:#}");
    assert_eq!(nonces(&env, &nodes).await, before, "nothing sent");
    assert_each_pair_voted_once(&env).await;

    // The ledger and the API show each vote with its transaction, from the chain.
    let rows = env.ledger_rows();
    assert_eq!(rows.len(), PAIRS, "{rows:?}");
    assert!(rows.iter().all(|r| r.2 == "confirmed_external"), "{rows:?}");
    let proposals: Value = get_json(&d, "/api/v1/proposals").await;
    let casts = env.vote_cast_events().await;
    let mut shown = 0;
    for p in proposals["proposals"].as_array().expect("proposals") {
        for n in p["nodes"].as_array().expect("nodes") {
            if n["state"].is_null() {
                continue;
            }
            assert_eq!(n["state"], "confirmed_external", "{n}");
            let tx = n["tx_hash"]
                .as_str()
                .unwrap_or_else(|| panic!("no tx: {n}"));
            assert!(tx.starts_with("0x") && tx.len() == 66, "{n}");
            shown += 1;
        }
    }
    assert_eq!(shown, PAIRS, "{proposals:#}");
    assert_eq!(casts.len(), PAIRS);
}

#[tokio::test(flavor = "multi_thread")]
async fn after_the_re_vote_window_an_emptied_ledger_sends_nothing() {
    let env = RoundEnv::new(PROPOSALS, NODES).await;
    let envs = vote_on_everything(&env);
    let nodes = env.node_addresses();
    {
        let mut d = daemon(&env, &envs);
        let (code, voted) = round_json(&env);
        assert_eq!(code, 0, "{voted:#}");
        d.signal(libc::SIGTERM);
        d.wait_exit(Duration::from_secs(10));
    }
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", env.ledger().display());
        let _ = std::fs::remove_file(path);
    }
    // AssetDAO would now take a second vote from every node (and count it twice).
    env.anvil.rpc("evm_increaseTime", json!([7 * 3600])).await;
    env.anvil.rpc("evm_mine", json!([])).await;

    let before = nonces(&env, &nodes).await;
    let _d = daemon(&env, &envs);
    let (code, again) = round_json(&env);
    assert_eq!(code, 0, "{again:#}");
    assert_eq!(again["votes"]["already_voted"], PAIRS as u64, "{again:#}");
    assert_eq!(nonces(&env, &nodes).await, before, "nothing re-sent");
    assert_each_pair_voted_once(&env).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_without_voting_power_is_a_warning_not_a_failed_round() {
    let env = RoundEnv::new(PROPOSALS, NODES).await;
    let envs = vote_on_everything(&env);
    let nodes = env.node_addresses();
    // Node 1 gives all its voting tokens away.
    let token = env.devnet["voting_token"].as_str().expect("voting_token");
    let holder = format!("{:#x}", nodes[1]);
    let balance = env
        .anvil
        .rpc(
            "eth_call",
            json!([{ "to": token, "data": format!("0x70a08231{:0>64}", &holder[2..]) }, "latest"]),
        )
        .await;
    let amount = balance.as_str().expect("balance").trim_start_matches("0x");
    env.anvil
        .rpc("anvil_impersonateAccount", json!([holder]))
        .await;
    env.anvil
        .rpc(
            "eth_sendTransaction",
            json!([{
                "from": holder,
                "to": token,
                "data": format!("0xa9059cbb{:0>64}{:0>64}", &OWNER[2..], amount),
            }]),
        )
        .await;
    let d = daemon(&env, &envs);
    let before = nonces(&env, &nodes[1..]).await;

    let (code, report) = round_json(&env);
    assert_eq!(code, 0, "not the operator's failure to act on: {report:#}");
    assert_eq!(
        report["votes"]["not_votable_by"]["no_voting_power"],
        u64::from(PROPOSALS),
        "{report:#}"
    );
    assert_eq!(
        report["votes"]["confirmed"],
        u64::from(PROPOSALS),
        "{report:#}"
    );
    assert_counts_add_up(&report, PAIRS as u64);
    let node1 = env.devnet["nodes"][1]["name"].as_str().expect("name");
    assert!(report["warnings"].to_string().contains(node1), "{report:#}");
    assert_eq!(
        nonces(&env, &nodes[1..]).await,
        before,
        "its vote is not burned"
    );
    let metrics = get_text(&d, "/metrics").await;
    let line = format!("govnode_node_without_voting_power{{node=\"{node1}\"}} 1");
    assert!(metrics.contains(&line), "{line} in {metrics}");
    assert!(
        d.output().contains("has no voting power"),
        "a log line names it: {}",
        d.output()
    );
}

/// `govnode_round_progress` as (done, total).
fn progress_of(metrics: &str) -> (u64, u64) {
    let value = |count: &str| {
        let prefix = format!("govnode_round_progress{{count=\"{count}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in {metrics}"))
    };
    (value("done"), value("total"))
}

#[tokio::test(flavor = "multi_thread")]
async fn round_progress_moves_as_votes_are_mined() {
    let env = RoundEnv::new(PROPOSALS, NODES).await;
    let envs = vote_on_everything(&env);
    let d = daemon(&env, &envs);
    // One vote per block, a block a second: confirming takes several seconds.
    env.anvil
        .rpc("evm_setBlockGasLimit", json!([format!("{:#x}", 150_000)]))
        .await;
    env.anvil.rpc("evm_setIntervalMining", json!([1])).await;
    let metrics_url = d.url("/metrics");

    let ((code, report), samples) = std::thread::scope(|s| {
        let round = s.spawn(|| round_json(&env));
        let watch = s.spawn(|| {
            let client = reqwest::blocking::Client::new();
            let mut samples = Vec::new();
            while !round.is_finished() {
                if let Ok(text) = client.get(&metrics_url).send().and_then(|r| r.text()) {
                    samples.push(progress_of(&text));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            (round.join().expect("round thread"), samples)
        });
        watch.join().expect("watch thread")
    });
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["votes"]["confirmed"], PAIRS as u64, "{report:#}");
    assert!(
        samples
            .iter()
            .any(|&(done, total)| total == PAIRS as u64 && done > 0 && done < total),
        "progress seen moving within a phase: {samples:?}"
    );
    let after = get_text(&d, "/metrics").await;
    assert_eq!(progress_of(&after), (0, 0), "no round runs");
}
