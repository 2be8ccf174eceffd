//! Active/standby daemons on one PostgreSQL ledger (`ha.enabled`), with the
//! real binary, a real PostgreSQL cluster and a real anvil chain. The chain's
//! `VoteCast` logs are the judge, never the ledger:
//!
//! - the leader is killed (SIGKILL) at random moments of 30 rounds; the
//!   standby takes over and finishes each one, the killed daemon comes back
//!   as the standby; afterwards every (proposal, node) pair has exactly one
//!   vote on chain;
//! - the leader is frozen (SIGSTOP) mid-round past its lease with a signed
//!   vote not yet sent; the standby takes over and votes; resumed, the old
//!   leader writes nothing to the ledger, sends nothing, steps down and says
//!   so, and reports `standby`;
//! - the nodes are split over two lease groups, one per daemon: each votes
//!   for its own group's node; one is killed mid-round and the other takes
//!   its group over and finishes; restarted, it gets its group back.
//!
//! The dangerous points of a round (after the intents, after signing, after
//! broadcast, before the receipt) are failpoints, so this file needs
//! `--features failpoints`: there they only slow the round down, which
//! widens the windows the random kills land in.

#![cfg(feature = "failpoints")]

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod notify;
    pub mod postgres;
    pub mod round_env;
}

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use rand::Rng;
use support::daemon::{Daemon, binary, free_port};
use support::notify::NotifySocket;
use support::postgres::Postgres;
use support::round_env::RoundEnv;

const NODES: u32 = 2;
const TRIALS: usize = 30;
/// Each dangerous point of a round holds it this long (milliseconds).
const SLOW_POINTS: &str = "round-after-intent=sleep(60);round-after-signed=sleep(60);\
                           round-after-broadcast=sleep(150);round-before-receipt=sleep(150)";

/// One daemon's files: its configuration, control socket, API and state
/// directory (the lock), all beside the devnet's.
struct Member {
    id: &'static str,
    config: PathBuf,
    socket: PathBuf,
    api: std::net::SocketAddr,
    state: PathBuf,
}

/// The devnet's configuration on PostgreSQL with HA on, and a second
/// member's copy with its own socket, API port and state directory.
fn members(env: &RoundEnv, conninfo: &str, lease: &str) -> [Member; 2] {
    let dir = env.dir.path();
    env.add_everything_strategy();
    env.write_ledger_url(conninfo);
    let text = env.use_postgres_ledger(&format!("\nha:\n  enabled: true\n  lease: {lease}\n"));
    let first_api = env.api().to_string();
    assert!(text.contains("  socket: control.sock\n") && text.contains(&first_api));
    let api_b: std::net::SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let text_b = text
        .replace("  socket: control.sock\n", "  socket: b/control.sock\n")
        .replace(&first_api, &api_b.to_string());
    for sub in ["a", "b"] {
        std::fs::create_dir_all(dir.join(sub)).expect("member directory");
    }
    std::fs::write(dir.join("b.yaml"), text_b).expect("write b.yaml");
    [
        Member {
            id: "gov-a",
            config: env.config(),
            socket: env.socket(),
            api: env.api(),
            state: dir.join("a"),
        },
        Member {
            id: "gov-b",
            config: dir.join("b.yaml"),
            socket: dir.join("b/control.sock"),
            api: api_b,
            state: dir.join("b"),
        },
    ]
}

fn spawn(env: &RoundEnv, m: &Member, failpoints: &str) -> Daemon {
    spawn_with(env, m, failpoints, &[])
}

fn spawn_with(env: &RoundEnv, m: &Member, failpoints: &str, extra: &[(&str, &str)]) -> Daemon {
    let mut envs: Vec<(String, String)> = (0..NODES)
        .map(|i| {
            (
                format!("GOVNODE__NODES__{i}__STRATEGY"),
                "everything".to_owned(),
            )
        })
        .collect();
    envs.extend([
        (
            "GOVNODE__ROUND__RECEIPT_POLL".to_owned(),
            "100ms".to_owned(),
        ),
        ("GOVNODE__HA__ID".to_owned(), m.id.to_owned()),
        ("STATE_DIRECTORY".to_owned(), path_str(&m.state)),
        ("FAILPOINTS".to_owned(), failpoints.to_owned()),
    ]);
    envs.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let pairs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.daemon_at(&m.config, &m.socket, m.api, &pairs)
}

/// `govnode round` against `config`, not waited for.
fn round_in_background(config: &Path) -> std::process::Child {
    std::process::Command::new(binary())
        .args(["round", "--config"])
        .arg(config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn govnode round")
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("UTF-8 path").to_owned()
}

async fn health(d: &Daemon) -> Option<serde_json::Value> {
    let reply = reqwest::get(d.url("/health")).await.ok()?;
    reply.json().await.ok()
}

/// `GET path` of `d`'s API, as text.
async fn text(d: &Daemon, path: &str) -> String {
    reqwest::get(d.url(path))
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// Waits until `d` reports `role` (and, as a standby, knows who leads);
/// its last /health on timeout.
async fn wait_role(d: &Daemon, role: &str, within: Duration) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let h = health(d).await.unwrap_or_default();
        if h["role"] == role && (role != "standby" || h["ha"]["leader"].is_string()) {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "role {role} never reported: {h:#}\n{}",
            d.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `govnode round` against `m` until a round succeeds (the first may join
/// a failover round still reconciling).
fn round_until_success(env: &RoundEnv, m: &Member, d: &Daemon) {
    let mut last = String::new();
    for _ in 0..4 {
        let (code, out) = env.round_at(&m.config);
        if code == 0 && out.contains("success") {
            return;
        }
        last = out;
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("no successful round on {}: {last}\n{}", m.id, d.output());
}

async fn pg(conninfo: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
        .await
        .expect("connect to the test cluster");
    tokio::spawn(conn);
    client
}

/// Every row of the ledger's vote, attempt and round tables, as text.
async fn ledger_snapshot(c: &tokio_postgres::Client) -> Vec<String> {
    let mut out = Vec::new();
    for sql in [
        "SELECT id::text, state, coalesce(tx_hash, ''), updated_at::text, coalesce(error, '') FROM votes ORDER BY id",
        "SELECT id::text, vote_id::text, tx_hash, coalesce(mined_at::text, ''), '' FROM vote_attempts ORDER BY id",
        "SELECT id::text, trigger, coalesce(finished_at::text, ''), coalesce(outcome, ''), '' FROM rounds ORDER BY id",
    ] {
        for row in c.query(sql, &[]).await.expect("read the ledger") {
            let cols: Vec<String> = (0..5).map(|i| row.get::<_, String>(i)).collect();
            out.push(cols.join("|"));
        }
    }
    out
}

/// Polls the ledger's vote states (every 20 ms, up to 30 s) until `reached`.
async fn wait_states(
    db: &tokio_postgres::Client,
    d: &Daemon,
    what: &str,
    reached: impl Fn(&[String]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = db
            .query("SELECT state FROM votes", &[])
            .await
            .expect("votes");
        let states: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        if reached(&states) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never {what}: {states:?}\n{}",
            d.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ledger states of the votes on `proposal`, counted.
async fn states_of(c: &tokio_postgres::Client, proposal: U256) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for row in c
        .query(
            "SELECT state FROM votes WHERE proposal_id = $1",
            &[&proposal.to_string()],
        )
        .await
        .expect("read votes")
    {
        *out.entry(row.get::<_, String>(0)).or_insert(0) += 1;
    }
    out
}

async fn nonces(env: &RoundEnv) -> Vec<u64> {
    let provider = ProviderBuilder::new().connect_http(env.anvil.url().parse().expect("url"));
    let mut out = Vec::new();
    for a in env.node_addresses() {
        out.push(provider.get_transaction_count(a).await.expect("nonce"));
    }
    out
}

/// Every pair of `proposals` × the nodes has exactly one `VoteCast`, and the
/// nodes cast no other vote.
async fn assert_each_voted_once(env: &RoundEnv, proposals: &[U256]) {
    let casts = env.vote_casts().await;
    let nodes: Vec<Address> = env.node_addresses();
    let mut wrong = Vec::new();
    for p in proposals {
        for n in &nodes {
            let got = casts.get(&(*p, *n)).copied().unwrap_or(0);
            if got != 1 {
                wrong.push(format!("proposal {p} node {n}: {got} votes"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:?}");
    assert_eq!(casts.len(), proposals.len() * nodes.len(), "{casts:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_standby_finishes_every_round_of_a_leader_killed_at_random_points() {
    let pg_cluster = Postgres::start();
    let conninfo = pg_cluster.database("govnode_ha_kill");
    let env = RoundEnv::new(1, NODES).await;
    let ms = members(&env, &conninfo, "1s");
    let db = pg(&conninfo).await;
    let mut daemons = [
        spawn(&env, &ms[0], SLOW_POINTS),
        spawn(&env, &ms[1], SLOW_POINTS),
    ];
    let mut leader = {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut found = None;
            for (i, d) in daemons.iter().enumerate() {
                if health(d).await.is_some_and(|h| h["role"] == "leader") {
                    found = Some(i);
                }
            }
            if let Some(i) = found {
                break i;
            }
            assert!(Instant::now() < deadline, "no leader elected");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let mut proposals = env.proposal_ids("open");
    let mut landed: BTreeMap<String, usize> = BTreeMap::new();
    let (mut takeovers, mut voted) = (Vec::new(), Vec::new());
    let started = Instant::now();
    for trial in 0..TRIALS {
        let (proposal, _) = env.create_proposal(&format!("trial {trial}")).await;
        proposals.push(proposal);
        let standby = 1 - leader;
        let trigger = round_in_background(&ms[leader].config);
        let delay = rand::rng().random_range(0..1000);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        daemons[leader].signal(libc::SIGKILL);
        let killed = Instant::now();
        daemons[leader].wait_exit(Duration::from_secs(10));
        let on_chain = |casts: &std::collections::HashMap<(U256, Address), usize>| {
            casts.keys().filter(|(p, _)| *p == proposal).count()
        };
        let sent_by_the_dead = on_chain(&env.vote_casts().await);
        let mut trigger = trigger;
        let _ = trigger.wait();
        // Where the kill landed, by the ledger states of this trial's votes.
        let states = states_of(&db, proposal).await;
        let at = if states.is_empty() {
            "before intent".to_owned()
        } else {
            states
                .iter()
                .map(|(s, n)| format!("{n} {s}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        *landed.entry(at).or_insert(0) += 1;

        wait_role(&daemons[standby], "leader", Duration::from_secs(15)).await;
        takeovers.push(killed.elapsed());
        // The failover round votes by itself; how long until this trial's
        // votes are all on chain (a figure, not a limit).
        let voted_by = Instant::now() + Duration::from_secs(30);
        while sent_by_the_dead < NODES as usize && Instant::now() < voted_by {
            if on_chain(&env.vote_casts().await) == NODES as usize {
                voted.push(killed.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        round_until_success(&env, &ms[standby], &daemons[standby]);
        assert_each_voted_once(&env, &proposals).await;

        // The killed one comes back as the standby.
        daemons[leader] = spawn(&env, &ms[leader], SLOW_POINTS);
        let h = wait_role(&daemons[leader], "standby", Duration::from_secs(15)).await;
        assert_eq!(h["ha"]["leader"], ms[standby].id, "{h:#}");
        leader = standby;
    }
    assert_each_voted_once(&env, &proposals).await;
    let h = health(&daemons[leader]).await.unwrap_or_default();
    let failovers = text(&daemons[leader], "/metrics")
        .await
        .lines()
        .find(|l| l.starts_with("govnode_ha_failovers_total "))
        .map(str::to_owned);
    println!(
        "ha kill trials: {TRIALS} kills in {:.1} s, {} proposals x {NODES} nodes voted exactly once; kills landed at: {landed:?}; leader now {} ({failovers:?})",
        started.elapsed().as_secs_f64(),
        proposals.len(),
        h["ha"]["id"],
    );
    println!(
        "failover with ha.lease 1s (leader killed -> standby leads / -> the trial's votes on chain, where the dead leader had not sent them all): median {} / {} ms, max {} / {} ms ({} of {TRIALS} trials needed the standby's votes)",
        median_ms(&mut takeovers),
        median_ms(&mut voted),
        takeovers.iter().max().map_or(0, Duration::as_millis),
        voted.iter().max().map_or(0, Duration::as_millis),
        voted.len(),
    );
    assert!(
        failovers.is_some_and(|l| l != "govnode_ha_failovers_total 0"),
        "the last leader counted its takeover"
    );
}

fn median_ms(d: &mut [Duration]) -> u128 {
    d.sort();
    d.get(d.len() / 2).map_or(0, Duration::as_millis)
}

/// A cluster, a devnet with 3 open proposals, both members configured
/// (lease 2 s) and A leading, with `failpoints`.
struct Leading {
    pg_cluster: Postgres,
    conninfo: String,
    env: RoundEnv,
    ms: [Member; 2],
    db: tokio_postgres::Client,
    a: Daemon,
    /// A's sd_notify messages.
    notify: NotifySocket,
}

async fn leading(database: &str, failpoints: &str) -> Leading {
    let pg_cluster = Postgres::start();
    let conninfo = pg_cluster.database(database);
    let env = RoundEnv::new(3, NODES).await;
    let ms = members(&env, &conninfo, "2s");
    let db = pg(&conninfo).await;
    let notify = NotifySocket::new();
    let socket = path_str(&notify.path);
    let a = spawn_with(&env, &ms[0], failpoints, &[("NOTIFY_SOCKET", &socket)]);
    wait_role(&a, "leader", Duration::from_secs(20)).await;
    Leading {
        pg_cluster,
        conninfo,
        env,
        ms,
        db,
        a,
        notify,
    }
}

/// Waits for a `STATUS=` line of A's holding `text`.
fn status_line(notify: &NotifySocket, text: &str) -> String {
    let seen = notify
        .until(Duration::from_secs(20), |m| {
            m.lines()
                .any(|l| l.starts_with("STATUS=") && l.contains(text))
        })
        .unwrap_or_else(|seen| panic!("no STATUS= with {text:?}: {seen:?}"));
    seen.last().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_frozen_past_its_lease_writes_and_sends_nothing_and_steps_down() {
    // A's votes after the first hold for 1 s each, signed and recorded,
    // before their broadcast: the moment it is frozen. (The failpoint
    // blocks one of A's threads; longer, it could starve A's own lease
    // renewals, which a real pause of the whole process does not.)
    let Leading {
        pg_cluster: _pg_cluster,
        conninfo: _,
        env,
        ms,
        db,
        a,
        notify,
    } = leading("govnode_ha_freeze", "round-after-signed=1*off->sleep(1000)").await;
    status_line(&notify, "leader (id gov-a, lease token 1)");
    let b = spawn(&env, &ms[1], "");
    let h = wait_role(&b, "standby", Duration::from_secs(20)).await;
    assert_eq!(h["ha"]["leader"], "gov-a", "{h:#}");
    let (code, out) = env.round_at(&ms[1].config);
    assert_eq!(code, 0, "the timer on a standby is no failure: {out}");
    assert!(out.contains("standby: the leader is gov-a"), "{out}");
    let token = std::fs::read_to_string(env.dir.path().join("keys/api-token")).expect("api token");
    let reply = reqwest::Client::new()
        .post(b.url("/api/v1/rounds"))
        .bearer_auth(token.trim())
        .send()
        .await
        .expect("POST /api/v1/rounds");
    assert_eq!(reply.status().as_u16(), 409);
    let body: serde_json::Value = reply.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "standby", "{body}");
    assert_eq!(
        body["error"]["message"], "standby: the leader is gov-a",
        "{body}"
    );

    let trigger = round_in_background(&ms[0].config);
    wait_states(&db, &a, "a vote sent and one signed, held", |s| {
        s.iter().any(|s| s == "sent") && s.iter().any(|s| s == "signed")
    })
    .await;
    a.signal(libc::SIGSTOP);
    let frozen_at = a.output().len();
    // What A had signed and recorded when it froze: all it may ever send.
    let recorded_at_freeze: Vec<String> = db
        .query("SELECT tx_hash FROM vote_attempts", &[])
        .await
        .expect("attempts")
        .iter()
        .map(|r| r.get::<_, String>(0).to_lowercase())
        .collect();

    // B takes over after the lease and finishes the round: the held vote's
    // bytes go out from B, the rest is signed by B.
    let h = wait_role(&b, "leader", Duration::from_secs(20)).await;
    assert!(
        h["ha"]["lease_token"].as_i64() > Some(1),
        "a new token: {h:#}"
    );
    round_until_success(&env, &ms[1], &b);
    let all = env.proposal_ids("open");
    assert_each_voted_once(&env, &all).await;
    let before = ledger_snapshot(&db).await;
    let nonces_before = nonces(&env).await;

    a.signal(libc::SIGCONT);
    let h = wait_role(&a, "standby", Duration::from_secs(20)).await;
    assert_eq!(h["ha"]["leader"], "gov-b", "{h:#}");
    status_line(&notify, "standby: the leader is gov-b");
    // Its round ends (its `govnode round` gets the report), refusing every
    // write and send on the way.
    let mut trigger = trigger;
    let deadline = Instant::now() + Duration::from_secs(30);
    while trigger.try_wait().expect("try_wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "A's round never ended: {}",
            a.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let woke = a.output()[frozen_at..].to_owned();
    for line in woke
        .lines()
        .filter(|l| l.contains("stepping down") || l.contains("not sent"))
    {
        println!("old leader after waking: {line}");
    }
    // Found taken (`held by gov-b`), or first not renewed in time (the
    // failpoint's blocked thread can delay A's first renewal after the wake).
    assert!(woke.contains("stepping down: "), "{woke}");
    // A broadcast already past the fence when A froze may complete (its
    // log line comes after the wake), but only of bytes recorded before:
    // nothing signed after the freeze ever leaves.
    for line in woke.lines().filter(|l| l.contains(": vote sent ")) {
        let hash = line
            .split("TX_HASH=")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_default()
            .to_lowercase();
        assert!(
            recorded_at_freeze.contains(&hash),
            "the old leader sent bytes it had not recorded before freezing: {line}"
        );
    }
    assert!(
        woke.contains("not sent: this daemon (id gov-a)"),
        "the held vote was refused by the fence: {woke}"
    );
    assert_eq!(
        ledger_snapshot(&db).await,
        before,
        "the old leader wrote to the ledger"
    );
    assert_eq!(
        nonces(&env).await,
        nonces_before,
        "a transaction after waking"
    );
    assert_each_voted_once(&env, &all).await;
    // Its missed-round gauge follows the leader's successful round.
    let deadline = Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let metrics = text(&a, "/metrics").await;
        let last_success = metrics
            .lines()
            .find_map(|l| l.strip_prefix("govnode_last_successful_round_timestamp_seconds "))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_default();
        if last_success > 0.0 {
            break metrics;
        }
        assert!(
            Instant::now() < deadline,
            "the standby's gauge stays at 0: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        metrics.contains("govnode_ha_role{role=\"standby\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("govnode_ha_role{role=\"leader\"} 0"),
        "{metrics}"
    );
    let page = text(&a, "/status").await;
    assert!(page.contains("standby (id gov-a, leader gov-b)"), "{page}");
    let (code, out) = env.round_at(&ms[0].config);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("standby: the leader is gov-b"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_database_down_mid_round_nothing_unrecorded_is_sent_and_the_round_resumes() {
    // Each vote waits 400 ms between its record and its broadcast.
    let Leading {
        pg_cluster,
        conninfo,
        env,
        ms,
        db,
        a,
        notify: _,
    } = leading("govnode_ha_db_down", "round-after-signed=sleep(400)").await;

    let config = ms[0].config.clone();
    let waiter = tokio::task::spawn_blocking(move || {
        std::process::Command::new(binary())
            .args(["round", "--config"])
            .arg(&config)
            .output()
    });
    wait_states(&db, &a, "a vote sent", |s| s.iter().any(|s| s == "sent")).await;
    drop(db);
    pg_cluster.stop();
    let down_at = a.output().len();

    // The round ends without the database, and the daemon stays up.
    let out = tokio::time::timeout(Duration::from_secs(60), waiter)
        .await
        .expect("the round ends while the database is down")
        .expect("join")
        .expect("run govnode round");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_ne!(
        out.status.code(),
        Some(0),
        "the round cannot succeed: {report}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !a.output()[down_at..].contains("stepping down: cannot renew the lease") {
        assert!(Instant::now() < deadline, "no step-down: {}", a.output());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let h = health(&a).await.unwrap_or_default();
    assert_eq!(h["role"], "standby", "{h:#}");
    assert!(
        h["ha"]["leader"].is_null(),
        "no leader known without the database: {h:#}"
    );
    let sent_while_down: Vec<String> = env
        .vote_cast_tx_hashes()
        .await
        .iter()
        .map(|h| h.to_string())
        .collect();
    let (code, out) = env.round_at(&ms[0].config);
    assert_eq!(code, 0, "a standby without a database answers: {out}");
    assert!(out.contains("standby"), "{out}");

    pg_cluster.restart();
    wait_role(&a, "leader", Duration::from_secs(20)).await;
    round_until_success(&env, &ms[0], &a);
    let all = env.proposal_ids("open");
    assert_each_voted_once(&env, &all).await;

    // Every transaction the chain saw while the database was down had its
    // signed bytes in the ledger before it left.
    let db = pg(&conninfo).await;
    let recorded: Vec<String> = db
        .query("SELECT tx_hash FROM vote_attempts", &[])
        .await
        .expect("attempts")
        .iter()
        .map(|r| r.get(0))
        .collect();
    for h in &sent_while_down {
        assert!(
            recorded.iter().any(|r| r.eq_ignore_ascii_case(h)),
            "{h} mined but never recorded: {recorded:?}"
        );
    }
    let confirmed: i64 = db
        .query_one("SELECT count(*) FROM votes WHERE state = 'confirmed'", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(confirmed as usize, all.len() * NODES as usize);
    let log = a.output();
    assert!(!log.contains("panicked"), "{log}");
    println!(
        "database down mid-round: {} of {} votes were on chain when it went down, all recorded before sending; the rest sent after it returned",
        sent_while_down.len(),
        all.len() * NODES as usize
    );
}

/// The lease groups each member reports as `leader` in /health.
async fn groups_led(d: &Daemon) -> Vec<String> {
    let h = health(d).await.unwrap_or_default();
    h["ha"]["groups"]
        .as_array()
        .map(|gs| {
            gs.iter()
                .filter(|g| g["role"] == "leader")
                .filter_map(|g| g["group"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until each daemon leads exactly the groups given beside it.
async fn wait_groups(expect: &[(&Daemon, &[&str])], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let mut seen = Vec::new();
        for (d, groups) in expect {
            let led = groups_led(d).await;
            seen.push((led.clone(), *groups));
        }
        if seen.iter().all(|(led, want)| led == want) {
            return;
        }
        let logs: Vec<String> = expect.iter().map(|(d, _)| d.output()).collect();
        assert!(
            Instant::now() < deadline,
            "groups never led as expected (led, wanted): {seen:?}\n{}",
            logs.join("\n----\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Votes on chain per node, over every proposal.
async fn votes_per_node(env: &RoundEnv) -> Vec<usize> {
    let casts = env.vote_casts().await;
    env.node_addresses()
        .into_iter()
        .map(|n| RoundEnv::votes_by(&casts, n))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn lease_groups_split_the_nodes_the_survivor_takes_a_killed_daemons_group_and_hands_it_back()
{
    let pg_cluster = Postgres::start();
    let conninfo = pg_cluster.database("govnode_ha_groups");
    let env = RoundEnv::new(2, NODES).await;
    let ms = members(&env, &conninfo, "1s");
    for (m, group) in ms.iter().zip(["east", "west"]) {
        let text = std::fs::read_to_string(&m.config).expect("config");
        let text = text.replace(
            "  lease: 1s\n",
            &format!("  lease: 1s\n  preferred_groups: [{group}]\n"),
        );
        std::fs::write(&m.config, text).expect("write config");
    }
    // Node 0 is east's, node 1 west's; each daemon has both keys.
    let groups = [
        ("GOVNODE__NODES__0__HA__GROUP", "east"),
        ("GOVNODE__NODES__1__HA__GROUP", "west"),
    ];
    let a = spawn_with(&env, &ms[0], SLOW_POINTS, &groups);
    let mut b = spawn_with(&env, &ms[1], SLOW_POINTS, &groups);
    wait_groups(&[(&a, &["east"]), (&b, &["west"])], Duration::from_secs(20)).await;

    // Each daemon votes for its own group's node only.
    round_until_success(&env, &ms[0], &a);
    assert_eq!(votes_per_node(&env).await, [2, 0]);
    round_until_success(&env, &ms[1], &b);
    assert_eq!(votes_per_node(&env).await, [2, 2]);

    // B dies mid-round: A takes west over after the lease and one more
    // (west is not A's preferred group) and finishes west's votes.
    let mut proposals = env.proposal_ids("open");
    let (fresh, _) = env.create_proposal("while west's daemon dies").await;
    proposals.push(fresh);
    let mut trigger = round_in_background(&ms[1].config);
    tokio::time::sleep(Duration::from_millis(rand::rng().random_range(0..600))).await;
    b.signal(libc::SIGKILL);
    let killed = Instant::now();
    b.wait_exit(Duration::from_secs(10));
    let _ = trigger.wait();
    wait_groups(&[(&a, &["east", "west"])], Duration::from_secs(15)).await;
    let took_over = killed.elapsed();
    round_until_success(&env, &ms[0], &a);
    assert_each_voted_once(&env, &proposals).await;
    let h = health(&a).await.unwrap_or_default();
    assert_eq!(h["role"], "leader", "{h:#}");
    assert!(
        h["ha"]["leader"].is_null(),
        "several groups: see groups {h:#}"
    );
    let metrics = text(&a, "/metrics").await;
    for group in ["east", "west"] {
        let line = format!("govnode_ha_group_leader{{group=\"{group}\"}} 1");
        assert!(metrics.contains(&line), "{line} missing:\n{metrics}");
    }

    // B comes back and asks for west: A hands it over between rounds.
    let back = Instant::now();
    let b = spawn_with(&env, &ms[1], SLOW_POINTS, &groups);
    wait_groups(&[(&a, &["east"]), (&b, &["west"])], Duration::from_secs(20)).await;
    let failed_back = back.elapsed();
    assert!(
        a.output()
            .contains("handing the group back to a daemon that prefers it"),
        "{}",
        a.output()
    );
    let (fresh, _) = env.create_proposal("after failback").await;
    proposals.push(fresh);
    let before = votes_per_node(&env).await;
    round_until_success(&env, &ms[0], &a);
    let after_a = votes_per_node(&env).await;
    assert_eq!(
        (after_a[0] - before[0], after_a[1] - before[1]),
        (1, 0),
        "A votes for east's node only"
    );
    round_until_success(&env, &ms[1], &b);
    assert_each_voted_once(&env, &proposals).await;
    let metrics = text(&a, "/metrics").await;
    assert!(
        metrics.contains("govnode_ha_group_leader{group=\"west\"} 0"),
        "{metrics}"
    );
    let page = text(&a, "/status").await;
    assert!(
        page.contains("id gov-a: leader of east (token"),
        "the status page names the groups: {page}"
    );
    for d in [&a, &b] {
        assert!(!d.output().contains("panicked"), "{}", d.output());
    }
    println!(
        "lease groups (ha.lease 1s): west's daemon killed -> the other leads west in {} ms; restarted -> west back with its preferred daemon in {} ms; {} proposals x {NODES} nodes voted exactly once",
        took_over.as_millis(),
        failed_back.as_millis(),
        proposals.len()
    );
}
