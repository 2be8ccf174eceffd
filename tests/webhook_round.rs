//! Notifications from real rounds: a real anvil, the test AssetDAO, the real
//! daemon and real HTTP receivers. The events a round produces arrive with
//! each kind's body (votes sent and confirmed, votes that failed, the spend
//! limit, a failed round, a paused DAO), a receiver's 500 is retried, a receiver that never
//! answers does not slow the round, a reload adds, changes and removes
//! targets (and a bad one is refused), and the URL's token appears nowhere
//! the daemon writes or answers.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod round_env;
    pub mod webhook_receiver;
}

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::daemon::{Daemon, free_port};
use support::round_env::RoundEnv;
use support::webhook_receiver::{Answer, Receiver};

/// Path segments shaped like the tokens chat services put in webhook URLs.
const TOKEN: &str = "T0HOOK/B0HOOK/sekritWebhookToken0123456789";

const LOGS: (&str, &str) = ("GOVNODE__LOG__LEVEL", "debug");

/// Writes `url` to a file next to the config and returns the target's YAML.
fn target(env: &RoundEnv, name: &str, kind: &str, url: &str, extra: &str) -> String {
    let file = format!("{name}.url");
    std::fs::write(env.dir.path().join(&file), format!("{url}\n")).expect("url file");
    format!("  - name: {name}\n    kind: {kind}\n    url_file: {file}\n{extra}")
}

/// Replaces the config's `webhooks:` section (appended last) with `targets`.
fn set_webhooks(config: &Path, targets: &[String]) {
    let text = std::fs::read_to_string(config).expect("config");
    let base = text
        .split("\nwebhooks:\n")
        .next()
        .unwrap_or(&text)
        .to_owned();
    let mut out = base.trim_end().to_owned();
    if !targets.is_empty() {
        out.push_str("\nwebhooks:\n");
        out.push_str(&targets.concat());
    }
    out.push('\n');
    std::fs::write(config, out).expect("write config");
}

async fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < until, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn round(env: &RoundEnv) -> (i32, String, Duration) {
    let started = Instant::now();
    let (code, out) = tokio::task::block_in_place(|| env.round());
    (code, out, started.elapsed())
}

fn events(bodies: &[Value], name: &str) -> Vec<Value> {
    bodies
        .iter()
        .filter(|b| b["event"] == name)
        .cloned()
        .collect()
}

async fn get(daemon: &Daemon, path: &str) -> String {
    reqwest::get(daemon.url(path))
        .await
        .expect("GET")
        .text()
        .await
        .unwrap_or_default()
}

fn metric(text: &str, target: &str, outcome: &str) -> Option<f64> {
    let series =
        format!("govnode_webhook_deliveries_total{{outcome=\"{outcome}\",target=\"{target}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|v| v.trim().parse().ok())
}

fn pause_call(env: &RoundEnv) -> Value {
    let pause = alloy::primitives::keccak256("pause()");
    let from = env.devnet["deployer"]
        .as_str()
        .expect("deployer")
        .to_owned();
    serde_json::json!([{
        "from": from,
        "to": env.dao().to_string(),
        "data": format!("0x{}", alloy::primitives::hex::encode(&pause[..4])),
    }])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_round_notifies_generic_and_slack_targets_and_a_500_is_retried() {
    let env = RoundEnv::new(2, 1).await;
    env.add_everything_strategy();
    let generic = Receiver::start(vec![Answer::Status(200)]).await;
    let slack = Receiver::start(vec![Answer::Status(500), Answer::Status(200)]).await;
    set_webhooks(
        &env.config(),
        &[
            target(&env, "ops", "generic", &generic.url(TOKEN), ""),
            target(&env, "chat", "slack", &slack.url(TOKEN), ""),
            // Nothing listens there: every delivery fails and is logged.
            target(
                &env,
                "dead",
                "generic",
                &format!("http://127.0.0.1:{}/hooks/{TOKEN}", free_port()),
                "    max_attempts: 1\n",
            ),
        ],
    );
    let daemon = env.daemon(&[("GOVNODE__NODES__0__STRATEGY", "everything"), LOGS]);

    let (code, out, _) = round(&env);
    assert_eq!(code, 0, "the round succeeds: {out}");
    let votes = env.vote_cast_events().await.len();
    assert_eq!(votes, 2, "one vote per open proposal");

    wait_for(
        "generic receives sent + confirmed",
        Duration::from_secs(15),
        || generic.bodies().len() >= 2 * votes,
    )
    .await;
    let bodies = generic.bodies();
    let sent = events(&bodies, "vote_sent");
    let confirmed = events(&bodies, "vote_confirmed");
    assert_eq!(sent.len(), votes, "{bodies:#?}");
    assert_eq!(confirmed.len(), votes, "{bodies:#?}");
    let open: Vec<String> = env
        .proposal_ids("open")
        .iter()
        .map(|p| p.to_string())
        .collect();
    for s in &sent {
        assert_eq!(s["node"], "ai-gov-01", "{s}");
        assert!(s["round_id"].as_i64().is_some_and(|r| r > 0), "{s}");
        assert!(
            open.contains(&s["proposal"].as_str().unwrap_or("").to_owned()),
            "{s}"
        );
        let hash = s["tx_hash"].as_str().expect("tx_hash");
        assert!(hash.starts_with("0x") && hash.len() == 66, "{s}");
        assert!(s["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{s}");
        // The confirmation names the same transaction for the same proposal.
        assert!(
            confirmed
                .iter()
                .any(|c| c["tx_hash"] == s["tx_hash"] && c["proposal"] == s["proposal"]),
            "no confirmation for {s}: {confirmed:#?}"
        );
    }

    // Slack: the first answer was a 500, so the first body came twice.
    wait_for(
        "slack delivered everything",
        Duration::from_secs(20),
        || slack.bodies().len() > 2 * votes,
    )
    .await;
    let chat = slack.bodies();
    assert_eq!(chat.len(), 2 * votes + 1, "{chat:#?}");
    assert_eq!(chat[0], chat[1], "the retry repeats the body");
    let texts: Vec<&str> = chat[1..]
        .iter()
        .filter_map(|b| b["text"].as_str())
        .collect();
    assert_eq!(
        texts.len(),
        2 * votes,
        "every slack body has text: {chat:#?}"
    );
    for headline in ["govnode: vote sent", "govnode: vote confirmed"] {
        let of_kind: Vec<&&str> = texts.iter().filter(|t| t.starts_with(headline)).collect();
        assert_eq!(of_kind.len(), votes, "{texts:#?}");
        assert!(
            of_kind
                .iter()
                .all(|t| t.contains("| node ai-gov-01") && t.contains("| tx 0x")),
            "{texts:#?}"
        );
    }

    let metrics = get(&daemon, "/metrics").await;
    assert_eq!(
        metric(&metrics, "chat", "delivered"),
        Some((2 * votes) as f64),
        "{metrics}"
    );
    assert_eq!(metric(&metrics, "chat", "gave_up"), Some(0.0));
    assert_eq!(
        metric(&metrics, "ops", "delivered"),
        Some((2 * votes) as f64)
    );
    assert!(metrics.contains("govnode_webhook_queue_depth{target=\"ops\"} 0"));

    assert_eq!(
        metric(&metrics, "dead", "gave_up"),
        Some((2 * votes) as f64),
        "{metrics}"
    );

    // The token is nowhere: not in the log (failed deliveries included), not
    // in any answer.
    let mut answers = metrics;
    for path in ["/health", "/api/v1/status", "/api/v1/rounds", "/"] {
        answers.push_str(&get(&daemon, path).await);
    }
    let log = daemon.output();
    assert!(log.contains("webhook target started"), "{log}");
    assert!(
        log.contains("webhook delivery failed") && log.contains("target_name=dead"),
        "{log}"
    );
    for secret in ["sekritWebhookToken0123456789", "B0HOOK"] {
        assert!(
            !log.contains(secret),
            "the webhook token leaked into the log:\n{log}"
        );
        assert!(
            !answers.contains(secret),
            "the webhook token leaked into an answer"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_receiver_does_not_slow_the_round() {
    // The same round twice, on two identical devnets: without webhooks, and
    // with a receiver that accepts the connection and never answers.
    let plain = RoundEnv::new(3, 2).await;
    plain.add_everything_strategy();
    let envs = [
        ("GOVNODE__NODES__0__STRATEGY", "everything"),
        ("GOVNODE__NODES__1__STRATEGY", "everything"),
        LOGS,
    ];
    let daemon = plain.daemon(&envs);
    let (code, out, baseline) = round(&plain);
    assert_eq!(code, 0, "{out}");
    drop(daemon);
    drop(plain);

    let env = RoundEnv::new(3, 2).await;
    env.add_everything_strategy();
    let hung = Receiver::start(vec![Answer::Hang]).await;
    set_webhooks(
        &env.config(),
        &[target(
            &env,
            "stuck",
            "generic",
            &hung.url(TOKEN),
            "    timeout: 10s\n    max_attempts: 2\n    queue_size: 4\n",
        )],
    );
    let daemon = env.daemon(&envs);
    let (code, out, with_hung) = round(&env);
    assert_eq!(code, 0, "{out}");
    assert_eq!(env.vote_cast_events().await.len(), 6, "every vote landed");
    println!("round without webhooks: {baseline:?}; with a hung receiver: {with_hung:?}");
    // 12 events, each waiting 2 × 10 s if a round waited on its receiver;
    // one such wait alone would add 10 s.
    assert!(
        with_hung < baseline + Duration::from_secs(8),
        "the hung receiver slowed the round: {with_hung:?} against {baseline:?}"
    );
    assert_eq!(hung.bodies().len(), 1, "one request is hanging");
    let metrics = get(&daemon, "/metrics").await;
    let dropped = metrics
        .lines()
        .find_map(|l| l.strip_prefix("govnode_webhook_dropped_total{target=\"stuck\"} "))
        .and_then(|v| v.trim().parse::<f64>().ok());
    // 12 events: one in flight, four queued, the oldest of the rest dropped
    // (one more when the worker had not taken the first before the fifth came).
    assert!(
        dropped.is_some_and(|d| (7.0..=8.0).contains(&d)),
        "{dropped:?}: {metrics}"
    );
    assert!(
        metrics.contains("govnode_webhook_queue_depth{target=\"stuck\"} 4"),
        "{metrics}"
    );
    assert!(!daemon.output().contains("sekritWebhookToken"));
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_adds_changes_and_removes_targets_and_refuses_a_bad_one() {
    let env = RoundEnv::new(1, 1).await;
    // A paused DAO: every round reports it, so each round is one event.
    env.anvil.rpc("eth_sendTransaction", pause_call(&env)).await;
    let first = Receiver::start(vec![Answer::Status(200)]).await;
    let second = Receiver::start(vec![Answer::Status(200)]).await;
    let paused_only = "    events: [dao_paused]\n";
    set_webhooks(
        &env.config(),
        &[target(
            &env,
            "first",
            "generic",
            &first.url(TOKEN),
            paused_only,
        )],
    );
    let daemon = env.daemon(&[LOGS]);
    let reload = |count: usize, line: &str| {
        daemon.signal(libc::SIGHUP);
        let until = Instant::now() + Duration::from_secs(10);
        while daemon.output().matches(line).count() < count {
            assert!(Instant::now() < until, "no {line:?}: {}", daemon.output());
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    assert_eq!(round(&env).0, 0);
    wait_for("first gets dao_paused", Duration::from_secs(10), || {
        first.bodies().len() == 1
    })
    .await;
    assert_eq!(first.bodies()[0]["event"], "dao_paused");
    assert!(
        first.bodies()[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("paused at block")),
        "{:?}",
        first.bodies()
    );

    let second_target = |events: &str| target(&env, "second", "slack", &second.url(TOKEN), events);
    // `first` removed, `second` added.
    set_webhooks(&env.config(), &[second_target(paused_only)]);
    reload(1, "configuration reloaded");
    assert_eq!(round(&env).0, 0);
    wait_for("second gets dao_paused", Duration::from_secs(10), || {
        second.bodies().len() == 1
    })
    .await;
    assert!(
        second.bodies()[0]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("govnode: DAO paused")),
        "{:?}",
        second.bodies()
    );

    // An inline URL is refused; `second` stays as it was.
    let mut bad = vec![second_target(paused_only)];
    bad.push(format!(
        "  - name: third\n    kind: generic\n    url: {}\n",
        first.url(TOKEN)
    ));
    set_webhooks(&env.config(), &bad);
    reload(1, "reload refused");
    assert!(
        daemon.output().contains("webhooks[1].url"),
        "{}",
        daemon.output()
    );
    assert_eq!(round(&env).0, 0);
    wait_for("second still notified", Duration::from_secs(10), || {
        second.bodies().len() == 2
    })
    .await;

    // `second` changed: it no longer wants dao_paused.
    set_webhooks(
        &env.config(),
        &[second_target("    events: [vote_failed]\n")],
    );
    reload(2, "configuration reloaded");
    assert_eq!(round(&env).0, 0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(first.bodies().len(), 1, "a removed target gets nothing");
    assert_eq!(second.bodies().len(), 2, "a changed filter takes effect");
    let metrics = get(&daemon, "/metrics").await;
    assert!(
        !metrics.contains("target=\"first\""),
        "a removed target's series are gone: {metrics}"
    );
    let log = daemon.output();
    assert!(!log.contains("sekritWebhookToken"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_and_the_spend_limit_are_notified() {
    let env = RoundEnv::new(2, 2).await;
    env.add_everything_strategy();
    // ai-gov-01 cannot pay for gas (1e12 wei); ai-gov-02 can, but its daily
    // spend limit of 1 wei holds every vote back.
    let poor = env.node_addresses()[0];
    env.anvil
        .rpc(
            "anvil_setBalance",
            serde_json::json!([poor.to_string(), "0xe8d4a51000"]),
        )
        .await;
    let rx = Receiver::start(vec![Answer::Status(200)]).await;
    set_webhooks(
        &env.config(),
        &[target(&env, "ops", "generic", &rx.url(TOKEN), "")],
    );
    let _daemon = env.daemon(&[
        ("GOVNODE__NODES__0__STRATEGY", "everything"),
        ("GOVNODE__NODES__1__STRATEGY", "everything"),
        ("GOVNODE__ROUND__DAILY_SPEND_LIMIT", "1"),
        LOGS,
    ]);
    let (code, out, _) = round(&env);
    assert_eq!(code, 1, "failed votes make the round partial: {out}");
    assert!(env.vote_cast_events().await.is_empty(), "nothing was sent");

    wait_for("failures notified", Duration::from_secs(15), || {
        rx.bodies().len() >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let bodies = rx.bodies();
    let failed = events(&bodies, "vote_failed");
    assert_eq!(failed.len(), 2, "{bodies:#?}");
    for f in &failed {
        assert_eq!(f["node"], "ai-gov-01", "{f}");
        assert!(f["tx_hash"].is_null(), "{f}");
        assert!(
            f["reason"]
                .as_str()
                .is_some_and(|r| r.contains("insufficient gas balance")),
            "{f}"
        );
    }
    let budget = events(&bodies, "spend_budget_reached");
    assert_eq!(budget.len(), 1, "once per node and round: {bodies:#?}");
    assert_eq!(budget[0]["node"], "ai-gov-02");
    assert!(
        budget[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("round.daily_spend_limit")),
        "{budget:?}"
    );
    assert!(events(&bodies, "vote_sent").is_empty(), "{bodies:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_round_is_notified() {
    let mut env = RoundEnv::new(1, 1).await;
    let rx = Receiver::start(vec![Answer::Status(200)]).await;
    set_webhooks(
        &env.config(),
        &[target(
            &env,
            "ops",
            "discord",
            &rx.url(TOKEN),
            "    events: [round_failed]\n",
        )],
    );
    let daemon = env.daemon(&[("GOVNODE__ROUND__DEADLINE", "2s"), LOGS]);
    // No chain: the round waits for a head until its deadline, then fails.
    env.anvil.kill();
    let (code, out, _) = round(&env);
    assert_eq!(code, 1, "{out}");
    wait_for("round_failed notified", Duration::from_secs(15), || {
        !rx.bodies().is_empty()
    })
    .await;
    let bodies = rx.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    let text = bodies[0]["content"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("govnode: round failed | round ") && text.contains("| reason "),
        "{text}"
    );
    assert!(!daemon.output().contains("sekritWebhookToken"));
}
