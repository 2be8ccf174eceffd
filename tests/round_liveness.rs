//! Liveness of a round under flaky providers:
//! - with every other `eth_sendRawTransaction` failing on both endpoints (and
//!   no retries in the pool), the round re-broadcasts the same signed bytes
//!   with backoff until they go out, so every vote lands in one round — each
//!   exactly once;
//! - a round that starts while both endpoints fail (before any breaker has
//!   opened) waits for them instead of failing at once, and lands its votes
//!   when they return.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod fault_proxy;
    pub mod round_env;
}

use std::time::{Duration, Instant};

use support::fault_proxy::{Fault, FaultProxy};
use support::round_env::RoundEnv;

const PROPOSALS: u32 = 8;

/// Two endpoints instead of the devnet's one: `a` and `b`, both proxies.
fn two_endpoints(env: &RoundEnv, a: &str, b: &str) {
    let path = env.config();
    let text = std::fs::read_to_string(&path).expect("config");
    let mut out = String::new();
    let mut replaced = false;
    for line in text.lines() {
        if !replaced && line.trim_start().starts_with("url:") {
            out.push_str(&format!(
                "      url: {a}\n    - name: second\n      url: {b}\n"
            ));
            replaced = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(replaced, "no url line in {text}");
    out.push_str(
        "\nstrategies:\n  everything:\n    rules: []\n    default:\n      vote: for\n      reason: test votes on everything\n",
    );
    std::fs::write(&path, out).expect("write config");
}

/// Every proposal's vote is confirmed in the ledger and cast once on chain.
async fn every_vote_confirmed_once(env: &RoundEnv) {
    let rows = env.ledger_rows();
    assert_eq!(rows.len(), PROPOSALS as usize, "{rows:?}");
    assert!(rows.iter().all(|r| r.2 == "confirmed"), "{rows:?}");
    let casts = env.vote_casts().await;
    assert_eq!(casts.len(), PROPOSALS as usize, "{casts:?}");
    assert!(casts.values().all(|&n| n == 1), "a double vote: {casts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_the_sends_failing_on_both_endpoints_all_votes_land_in_one_round() {
    let env = RoundEnv::new(PROPOSALS, 1).await;
    let a = FaultProxy::start(&env.anvil.url()).await;
    let b = FaultProxy::start(&env.anvil.url()).await;
    two_endpoints(&env, &a.url(), &b.url());
    a.fail_every("eth_sendRawTransaction", 2);
    b.fail_every("eth_sendRawTransaction", 2);
    let _daemon = env.daemon(&[
        ("GOVNODE__NODES__0__STRATEGY", "everything"),
        ("GOVNODE__ROUND__RECEIPT_POLL", "200ms"),
        // One attempt per call: the pool's own failover does not hide the fault.
        ("GOVNODE__RPC__RETRY__MAX_ATTEMPTS", "1"),
        ("GOVNODE__ROUND__BATCH_SIZE", "1"),
    ]);
    let (code, out) = env.round();
    assert_eq!(code, 0, "one round lands every vote: {out}");
    every_vote_confirmed_once(&env).await;
    let sends = a.count_method("eth_sendRawTransaction") + b.count_method("eth_sendRawTransaction");
    assert!(
        sends > PROPOSALS as usize,
        "the fault was met and sends were repeated: {sends} sends"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_started_in_an_outage_waits_for_the_endpoints_and_lands_its_votes() {
    const OUTAGE: Duration = Duration::from_secs(3);
    let env = RoundEnv::new(PROPOSALS, 1).await;
    let a = FaultProxy::start(&env.anvil.url()).await;
    let b = FaultProxy::start(&env.anvil.url()).await;
    two_endpoints(&env, &a.url(), &b.url());
    let _daemon = env.daemon(&[
        ("GOVNODE__NODES__0__STRATEGY", "everything"),
        ("GOVNODE__ROUND__RECEIPT_POLL", "200ms"),
    ]);
    a.set_fault(Fault::Http500);
    b.set_fault(Fault::Http500);
    let started = Instant::now();
    let (code, out) = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(OUTAGE);
            a.set_fault(Fault::PassThrough);
            b.set_fault(Fault::PassThrough);
        });
        env.round()
    });
    assert!(
        started.elapsed() >= OUTAGE,
        "the round could not have succeeded before the endpoints returned: {out}"
    );
    assert_eq!(code, 0, "the round waited out the outage: {out}");
    every_vote_confirmed_once(&env).await;
}
