//! How a round waits for its votes to be mined, on a chain that mines one
//! vote per block. Fee bumps go to wallets that are stuck, not to wallets
//! whose votes are being mined: a wallet's votes are mined in nonce order, so
//! on a chain with small blocks the last ones wait many blocks behind the
//! first ones without anything being wrong. A wallet none of whose votes is
//! mined for `round.bump_after_blocks` blocks is re-signed with higher fees
//! and lands; wallets queued behind each other while the chain mines the
//! round's votes are not. Receipts are asked only for votes whose nonce the
//! chain has used, so waiting votes cost nothing per poll.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod fault_proxy;
    pub mod round_env;
}

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;
use support::fault_proxy::FaultProxy;
use support::round_env::RoundEnv;

/// One node that votes `for` on everything, so every open proposal is a vote.
fn vote_on_everything(env: &RoundEnv) {
    env.add_everything_strategy();
}

const DAEMON_ENV: [(&str, &str); 2] = [
    ("GOVNODE__NODES__0__STRATEGY", "everything"),
    ("GOVNODE__ROUND__RECEIPT_POLL", "200ms"),
];

/// Signed transactions per vote id, from the ledger.
fn attempts_per_vote(env: &RoundEnv) -> HashMap<i64, i64> {
    let conn = rusqlite::Connection::open_with_flags(
        env.ledger(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open ledger");
    let mut stmt = conn
        .prepare("SELECT vote_id, COUNT(*) FROM vote_attempts GROUP BY vote_id")
        .expect("query");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

async fn assert_each_voted_once(env: &RoundEnv, votes: usize) {
    let rows = env.ledger_rows();
    assert_eq!(rows.len(), votes, "{rows:?}");
    assert!(rows.iter().all(|r| r.2 == "confirmed"), "{rows:?}");
    let casts = env.vote_casts().await;
    assert_eq!(casts.len(), votes, "{casts:?}");
    assert!(casts.values().all(|&n| n == 1), "a double vote: {casts:?}");
}

/// Runs a round that must cast `votes` votes, each signed once: `when` says
/// what the chain was doing that must not have caused a fee bump.
async fn round_without_re_signing(env: &RoundEnv, votes: usize, when: &str) {
    let (code, out) = env.round();
    assert_eq!(code, 0, "{out}");
    assert_each_voted_once(env, votes).await;
    let attempts = attempts_per_vote(env);
    assert_eq!(attempts.len(), votes, "{attempts:?}");
    assert!(
        attempts.values().all(|&n| n == 1),
        "no vote was re-signed {when}: {attempts:?}"
    );
}

/// One vote per block (a vote uses ~107k gas, its limit is ~138k), a block
/// a second: the last of `votes` waits `votes - 1` blocks behind the first.
async fn one_vote_per_block(env: &RoundEnv) {
    env.anvil
        .rpc("evm_setBlockGasLimit", json!([format!("{:#x}", 150_000)]))
        .await;
    env.anvil.rpc("evm_setIntervalMining", json!([1])).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wallet_whose_votes_are_being_mined_is_not_bumped() {
    let env = RoundEnv::new(8, 1).await;
    vote_on_everything(&env);
    one_vote_per_block(&env).await;
    let _daemon = env.daemon(&DAEMON_ENV);

    round_without_re_signing(&env, 8, "while its wallet was being mined").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wallets_queued_behind_each_other_are_not_bumped() {
    // Four wallets share blocks of one vote each: a wallet waits about four
    // blocks between its votes while the others are mined, which is a queue,
    // not a price too low.
    let env = RoundEnv::new(3, 4).await;
    vote_on_everything(&env);
    one_vote_per_block(&env).await;
    let mut daemon_env = DAEMON_ENV.to_vec();
    daemon_env.extend([
        ("GOVNODE__NODES__1__STRATEGY", "everything"),
        ("GOVNODE__NODES__2__STRATEGY", "everything"),
        ("GOVNODE__NODES__3__STRATEGY", "everything"),
    ]);
    let _daemon = env.daemon(&daemon_env);

    round_without_re_signing(&env, 12, "while the round's votes were being mined").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_wallet_is_re_signed_with_higher_fees_and_lands() {
    let env = RoundEnv::new(3, 1).await;
    vote_on_everything(&env);
    env.anvil.rpc("evm_setAutomine", json!([false])).await;
    let _daemon = env.daemon(&DAEMON_ENV);

    let round = std::thread::scope(|s| {
        let round = s.spawn(|| env.round());
        // All three sent; then the node forgets them, and blocks come empty.
        let meddle = s.spawn(|| {
            let deadline = Instant::now() + Duration::from_secs(30);
            while env.count_in_state("sent") < 3 {
                assert!(
                    Instant::now() < deadline,
                    "votes not sent: {:?}",
                    env.ledger_rows()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                env.anvil.rpc("anvil_dropAllTransactions", json!([])).await;
                env.anvil.rpc("evm_setIntervalMining", json!([1])).await;
            });
        });
        meddle.join().expect("meddling thread");
        round.join().expect("round thread")
    });
    let (code, out) = round;
    assert_eq!(code, 0, "{out}");
    assert_each_voted_once(&env, 3).await;
    let attempts = attempts_per_vote(&env);
    assert!(
        attempts.values().all(|&n| n >= 2),
        "every stuck vote was re-signed: {attempts:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn receipts_are_asked_only_for_votes_whose_nonce_is_used() {
    let env = RoundEnv::new(8, 1).await;
    vote_on_everything(&env);
    one_vote_per_block(&env).await;
    let proxy = FaultProxy::start(&env.anvil.url()).await;
    // Per-transaction receipts are the way of endpoints without block receipts.
    proxy.without_methods(&["eth_getBlockReceipts"]);
    let url = proxy.url();
    let _daemon = env.daemon(&[
        ("GOVNODE__NODES__0__STRATEGY", "everything"),
        ("GOVNODE__ROUND__RECEIPT_POLL", "100ms"),
        ("GOVNODE__RPC__ENDPOINTS__0__URL", url.as_str()),
    ]);
    proxy.reset_counts();

    let (code, out) = env.round();
    assert_eq!(code, 0, "{out}");
    assert_each_voted_once(&env, 8).await;
    // About eight seconds of polls every 100 ms; asking every waiting vote
    // each time would be hundreds of receipt calls.
    let receipts = proxy.count_method("eth_getTransactionReceipt");
    assert!(
        (8..=16).contains(&receipts),
        "one receipt call per vote, plus a few where the receipt trailed the nonce: {receipts} ({:?})",
        proxy.methods()
    );
}
