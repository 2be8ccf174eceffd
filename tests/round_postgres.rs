//! The daemon on a PostgreSQL ledger (tests/support/postgres.rs), end to
//! end: a real round on anvil's test AssetDAO votes every pair exactly once
//! (judged by the chain's `VoteCast` logs), a second round sends nothing, and
//! a database that cannot be reached stops the start with a clear error that
//! never shows the password; a database behind a network that stalls
//! mid-round fails the round within `ledger.query_timeout` without a vote
//! sent that the database does not hold, and a later round finishes. With
//! `sslmode: verify-full` the daemon votes through a server that takes TLS
//! clients only, and refuses to start with a CA that did not sign its
//! certificate.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod postgres;
    pub mod round_env;
    pub mod tcp_relay;
}

use std::time::{Duration, Instant};

use govnode::config::Secret;
use govnode::ledger::pg::{PgTarget, SslMode};
use govnode::ledger::{Ledger, LedgerIdentity};
use support::daemon::Daemon;
use support::postgres::{PASSWORD, Postgres};
use support::round_env::RoundEnv;
use support::tcp_relay::TcpRelay;

const NODES: u32 = 2;
const PROPOSALS: u32 = 3;
const PAIRS: usize = (NODES * PROPOSALS) as usize;

/// Points the devnet's configuration at `conninfo`, read from a file.
fn use_postgres(env: &RoundEnv, conninfo: &str) {
    env.write_ledger_url(conninfo);
    env.use_postgres_ledger("  sslmode: disable\n");
}

fn vote_on_everything(env: &RoundEnv) -> Vec<(String, String)> {
    let mut envs = env.vote_on_everything(NODES);
    envs.push(state_directory(env));
    envs
}

/// With a PostgreSQL ledger the daemon's lock stays in the state
/// directory; each test has its own.
fn state_directory(env: &RoundEnv) -> (String, String) {
    (
        "STATE_DIRECTORY".into(),
        env.dir.path().to_str().expect("UTF-8 path").to_owned(),
    )
}

/// SIGTERM: the daemon exits 0, its output never held the password, and
/// no SQLite ledger was made beside the PostgreSQL one.
fn stop_cleanly(env: &RoundEnv, mut d: Daemon) {
    d.signal(libc::SIGTERM);
    assert!(
        d.wait_exit(Duration::from_secs(30)).success(),
        "{}",
        d.output()
    );
    let out = d.output();
    assert!(!out.contains(PASSWORD), "the password in the output: {out}");
    assert!(!env.ledger().exists(), "a SQLite ledger was created");
}

/// Starts the daemon, which must exit 1 (an unreachable ledger) within a
/// minute; returns its output.
fn failed_start(env: &RoundEnv) -> String {
    let (state_key, state_dir) = state_directory(env);
    let mut d = Daemon::spawn(
        &env.config(),
        env.api(),
        &[
            ("GOVNODE__ROUND__ON_START", "false"),
            ("GOVNODE__LOG__TARGET", "stderr"),
            (&state_key, &state_dir),
        ],
    );
    let status = d.wait_exit(Duration::from_secs(60));
    let out = d.output();
    assert_eq!(status.code(), Some(1), "exit status {status:?}: {out}");
    out
}

/// Every (open proposal, node) pair has exactly one `VoteCast`, and no other.
async fn assert_each_pair_voted_once(env: &RoundEnv) {
    let casts = env.vote_casts().await;
    let open = env.proposal_ids("open");
    for p in &open {
        for n in env.node_addresses() {
            assert_eq!(
                casts.get(&(*p, n)).copied().unwrap_or(0),
                1,
                "proposal {p} node {n}: {casts:?}"
            );
        }
    }
    assert_eq!(casts.len(), open.len() * NODES as usize, "{casts:?}");
}

/// The ledger itself, straight to the server (not through any relay).
async fn open_ledger(env: &RoundEnv, conninfo: &str) -> Ledger {
    Ledger::open_postgres(
        PgTarget {
            conninfo: Secret::new(conninfo),
            sslmode: SslMode::Disable,
            ca_file: None,
            connect_timeout: Duration::from_secs(5),
            query_timeout: Duration::from_secs(5),
        },
        LedgerIdentity {
            chain_id: 31337,
            dao: env.dao(),
        },
    )
    .await
    .expect("open the PostgreSQL ledger")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_database_fails_the_round_within_the_query_timeout_and_a_later_round_finishes() {
    let pg = Postgres::start();
    let conninfo = pg.database("govnode_stall");
    let relay = TcpRelay::start(pg.port).await;
    let through_relay = conninfo.replace(&format!(":{}/", pg.port), &format!(":{}/", relay.port()));
    assert_ne!(through_relay, conninfo, "the conninfo names the port");
    let env = RoundEnv::new(PROPOSALS, NODES).await;
    use_postgres(&env, &through_relay);
    let mut envs = vote_on_everything(&env);
    envs.push(("GOVNODE__LEDGER__QUERY_TIMEOUT".into(), "2s".into()));
    // The round pauses once after its second intent: the test stalls the
    // network as soon as the first intent is in the database, so that the
    // rest of the round's intents cannot be made durable.
    envs.push((
        "FAILPOINTS".into(),
        "round-after-intent=1*off->1*sleep(3000)->off".into(),
    ));
    let mut d = env.daemon_with(&envs);
    let ledger = open_ledger(&env, &conninfo).await;

    let started = Instant::now();
    let (code, report) = tokio::task::block_in_place(|| {
        let runtime = tokio::runtime::Handle::current();
        std::thread::scope(|s| {
            let round = s.spawn(|| env.round_json());
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let counts = runtime.block_on(ledger.vote_counts()).expect("vote counts");
                if counts.iter().map(|c| c.total).sum::<u64>() > 0 {
                    break;
                }
                assert!(Instant::now() < deadline, "no intent: {}", d.output());
                std::thread::sleep(Duration::from_millis(10));
            }
            relay.stall();
            round.join().expect("round thread")
        })
    });
    let took = started.elapsed();
    let out = d.output();
    assert_ne!(
        code, 0,
        "a round on a stalled ledger reported success: {report:#}\n{out}"
    );
    assert!(
        out.contains("did not answer within 2s (ledger.query_timeout)"),
        "the round's failure names the timeout: {report:#}\n{out}"
    );
    assert!(!out.contains(PASSWORD), "the password in the output: {out}");
    // Bounded by the timeout per ledger operation, not by TCP's minutes.
    println!("the stalled round ended after {took:?}");

    // Every vote on chain has its row (intent first, then signed) in the
    // database: nothing was sent that the ledger does not hold.
    let casts = env.vote_casts().await;
    println!("votes on chain after the stalled round: {}", casts.len());
    assert!(
        casts.len() < PAIRS,
        "the whole round went through: {casts:?}"
    );
    let pairs: Vec<_> = casts.keys().copied().collect();
    let rows = ledger
        .votes_for(env.dao(), pairs.clone())
        .await
        .expect("read the ledger");
    for (pair, row) in pairs.iter().zip(&rows) {
        assert!(
            row.is_some(),
            "{pair:?} voted on chain without a ledger row"
        );
    }

    // The network comes back: the next round finishes every pair, once.
    relay.restore();
    let (code, report) = env.round_json();
    assert_eq!(code, 0, "{report:#}\n{}", d.output());
    assert_each_pair_voted_once(&env).await;
    let counts = ledger.vote_counts().await.expect("vote counts");
    let confirmed: u64 = counts.iter().map(|c| c.confirmed).sum();
    assert_eq!(confirmed, PAIRS as u64, "{counts:?}");

    d.signal(libc::SIGTERM);
    assert!(
        d.wait_exit(Duration::from_secs(30)).success(),
        "{}",
        d.output()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_round_on_postgres_votes_every_pair_once_and_a_second_sends_nothing() {
    let pg = Postgres::start();
    let conninfo = pg.database("govnode_round");
    let env = RoundEnv::new(PROPOSALS, NODES).await;
    use_postgres(&env, &conninfo);
    let envs = vote_on_everything(&env);
    let d = env.daemon_with(&envs);

    let (code, first) = env.round_json();
    assert_eq!(code, 0, "{first:#}\n{}", d.output());
    assert_eq!(first["votes"]["confirmed"], PAIRS as u64, "{first:#}");
    assert_each_pair_voted_once(&env).await;

    let (code, second) = env.round_json();
    assert_eq!(code, 0, "{second:#}");
    assert_eq!(second["votes"]["decided"], 0, "{second:#}");
    assert_eq!(second["votes"]["already_voted"], PAIRS as u64, "{second:#}");
    assert_each_pair_voted_once(&env).await;

    stop_cleanly(&env, d);
    let ledger = open_ledger(&env, &conninfo).await;
    let counts = ledger.vote_counts().await.expect("vote counts");
    let confirmed: u64 = counts.iter().map(|c| c.confirmed).sum();
    let total: u64 = counts.iter().map(|c| c.total).sum();
    assert_eq!(
        (confirmed, total),
        (PAIRS as u64, PAIRS as u64),
        "{counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_round_through_a_tls_only_postgres_with_verify_full_votes_every_pair_once() {
    let (pg, tls) = Postgres::start_tls();
    let conninfo = pg.database("govnode_tls");
    let env = RoundEnv::new(PROPOSALS, NODES).await;
    env.write_ledger_url(&conninfo);
    let config = env.use_postgres_ledger(&format!(
        "  sslmode: verify-full\n  ca_file: {}\n",
        tls.ca.display()
    ));
    let envs = vote_on_everything(&env);
    let d = env.daemon_with(&envs);

    let (code, report) = env.round_json();
    assert_eq!(code, 0, "{report:#}\n{}", d.output());
    assert_eq!(report["votes"]["confirmed"], PAIRS as u64, "{report:#}");
    assert_each_pair_voted_once(&env).await;
    stop_cleanly(&env, d);

    // The same daemon with a CA that did not sign the server's certificate
    // does not start, and says why.
    let ca = format!("ca_file: {}\n", tls.ca.display());
    assert!(config.contains(&ca), "{config}");
    let other = format!("ca_file: {}\n", tls.other_ca.display());
    std::fs::write(env.config(), config.replace(&ca, &other)).expect("write config");
    let out = failed_start(&env);
    assert!(
        out.contains("UnknownIssuer") || out.contains("unknown issuer"),
        "{out}"
    );
    assert!(!out.contains(PASSWORD), "the password in the output: {out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_refuses_to_start_when_postgres_is_unreachable() {
    let pg = Postgres::start();
    let conninfo = pg.database("govnode_down");
    pg.stop();
    let env = RoundEnv::new(1, 1).await;
    use_postgres(&env, &conninfo);
    let out = failed_start(&env);
    let target = format!("postgresql://govnode@127.0.0.1:{}/govnode_down", pg.port);
    assert!(
        out.contains(&format!("cannot connect to the PostgreSQL ledger {target}")),
        "the error names the database: {out}"
    );
    assert!(!out.contains(PASSWORD), "the password in the output: {out}");
    assert!(!env.socket().exists(), "the control socket is bound: {out}");
}
