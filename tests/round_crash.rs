//! Exactly once across crashes: the daemon is killed with SIGKILL at each
//! dangerous point of a round (decision recorded; transaction signed;
//! broadcast; mined but receipt not recorded), restarted, and rounds run
//! until done. The chain then holds exactly one `VoteCast` per decided
//! (voter, proposal) and none is missing. The stopping points are
//! failpoints that block the round, so they exist only with
//! `--features failpoints`.

#![cfg(feature = "failpoints")]

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod round_env;
}

use std::collections::HashSet;
use std::time::{Duration, Instant};

use support::round_env::RoundEnv;

/// Blocks the round at the third time it passes `point`.
fn blocking(point: &str) -> String {
    format!("{point}=2*off->sleep(600000)")
}

async fn crash_and_recover(point: &str, reached: impl Fn(&RoundEnv) -> bool) {
    let env = RoundEnv::new(4, 2).await;
    let failpoints = blocking(point);
    let mut daemon = env.daemon(&[("FAILPOINTS", failpoints.as_str())]);
    let config = env.config();
    let trigger = std::process::Command::new(support::daemon::binary())
        .args(["round", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn govnode round");

    let deadline = Instant::now() + Duration::from_secs(30);
    while !reached(&env) {
        assert!(
            Instant::now() < deadline,
            "{point} never reached; ledger {:?}: {}",
            env.ledger_rows(),
            daemon.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Give the daemon the moment to enter the blocking failpoint, then kill it hard.
    std::thread::sleep(Duration::from_millis(300));
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(Duration::from_secs(10));
    let mut trigger = trigger;
    let _ = trigger.wait();
    let before = env.ledger_rows();

    // Restart without failpoints; rounds until one succeeds.
    drop(daemon);
    let _daemon = env.daemon(&[]);
    let mut last = String::new();
    let mut ok = false;
    for _ in 0..3 {
        let (code, out) = env.round();
        last = out;
        if code == 0 {
            ok = true;
            break;
        }
    }
    assert!(
        ok,
        "after the crash at {point}, a round succeeds: {last}\nledger before restart: {before:?}"
    );

    let counts = env.vote_casts().await;
    assert!(
        counts.values().all(|&n| n == 1),
        "{point}: a double vote: {counts:?}"
    );
    let confirmed: HashSet<_> = env.confirmed_decisions().into_keys().collect();
    let on_chain: HashSet<_> = counts.keys().copied().collect();
    assert_eq!(on_chain, confirmed, "{point}: chain and ledger agree");
    let rows = env.ledger_rows();
    assert!(
        rows.iter().all(|r| r.2 == "confirmed"),
        "{point}: nothing missing or pending: {rows:?}"
    );
    assert!(
        rows.len() >= 3,
        "{point}: the scenario decided votes: {rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_after_intent() {
    crash_and_recover("round-after-intent", |env| env.ledger_rows().len() >= 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_after_signing() {
    // Two votes went out; the third is signed and recorded, not broadcast.
    crash_and_recover("round-after-signed", |env| {
        env.count_in_state("signed") >= 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_after_broadcast() {
    // The third vote is on the chain but still `signed` in the ledger.
    crash_and_recover("round-after-broadcast", |env| {
        env.count_in_state("sent") >= 2 && env.count_in_state("signed") >= 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_before_receipt() {
    // All sent and mined; two receipts recorded, the third blocks before its record.
    crash_and_recover("round-before-receipt", |env| {
        env.count_in_state("confirmed") >= 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn second_trigger_joins_the_running_round() {
    let env = RoundEnv::new(3, 2).await;
    // The round pauses 1.5 s at its start, long enough for a second trigger.
    let _daemon = env.daemon(&[("FAILPOINTS", "round-start=sleep(1500)")]);
    let spawn = || {
        std::process::Command::new(support::daemon::binary())
            .args(["round", "--config"])
            .arg(env.config())
            .output()
    };
    let (a, b) = std::thread::scope(|s| {
        let first = s.spawn(spawn);
        std::thread::sleep(Duration::from_millis(400));
        let second = s.spawn(spawn);
        (
            first.join().expect("thread"),
            second.join().expect("thread"),
        )
    });
    let (a, b) = (a.expect("round a"), b.expect("round b"));
    let (out_a, out_b) = (
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout),
    );
    assert!(a.status.success() && b.status.success(), "{out_a}\n{out_b}");
    assert!(
        out_b.contains("joined the round that was already running"),
        "{out_b}"
    );
    assert!(
        out_a.contains("round 1 success") && out_b.contains("round 1 success"),
        "{out_a}\n{out_b}"
    );
    let conn = rusqlite::Connection::open(env.ledger()).expect("ledger");
    let rounds: i64 = conn
        .query_row("SELECT COUNT(*) FROM rounds", [], |r| r.get(0))
        .expect("count rounds");
    assert_eq!(rounds, 1, "two triggers, one round");
    assert!(env.vote_casts().await.values().all(|&n| n == 1));
}
