//! A signer that stops answering while the daemon runs: the real daemon on
//! anvil, one node signing through the Web3Signer stand-in
//! (tests/support/web3signer_standin.rs; Web3Signer itself does not run
//! here). With the stand-in stopped the other nodes vote, the daemon stays
//! ready and `/health/ready` names the node and why, and the signer gauges
//! say so; once the stand-in is back the node votes on every pair exactly
//! once and the warning and gauges clear.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod round_env;
    pub mod web3signer_standin;
}

use serde_json::Value;
use support::daemon::Daemon;
use support::round_env::RoundEnv;
use support::web3signer_standin::StandIn;

const PROPOSALS: u32 = 2;

async fn ready(d: &Daemon) -> (u16, Value) {
    let reply = reqwest::get(d.url("/health/ready"))
        .await
        .expect("GET /health/ready");
    let status = reply.status().as_u16();
    (status, reply.json().await.expect("JSON"))
}

async fn metric(d: &Daemon, series: &str) -> f64 {
    let text = reqwest::get(d.url("/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} not served:\n{text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signer_down_mid_run_degrades_its_node_only_and_it_votes_every_pair_once_when_back() {
    let env = RoundEnv::new(PROPOSALS, 3).await;
    let name = env.node_name(0);
    let key = env.node_key(0);
    let address = key.address();
    let standin = StandIn::start(key.clone()).await;
    let config = std::fs::read_to_string(env.config()).unwrap();
    let config = RoundEnv::with_signer(
        &config,
        &name,
        &format!(
            "    signer:\n      kind: web3signer\n      url: {}\n      address: \"{address}\"\n      timeout: 1s\n",
            standin.url
        ),
    );
    std::fs::write(env.config(), config).unwrap();
    let daemon = env.daemon(&[]);
    let up = format!("govnode_signer_up{{node=\"{name}\"}}");
    let failures = format!("govnode_signer_failures_total{{node=\"{name}\"}}");
    assert_eq!(metric(&daemon, &up).await, 1.0, "up before any signature");
    assert_eq!(metric(&daemon, &failures).await, 0.0);

    let port = standin.port();
    standin.stop();
    let (code, out) = env.round();
    assert_eq!(code, 1, "the round is partial: {out}");
    let counts = env.vote_casts().await;
    assert_eq!(RoundEnv::votes_by(&counts, address), 0, "{counts:?}");
    for other in env.node_addresses().into_iter().filter(|a| *a != address) {
        assert_eq!(
            RoundEnv::votes_by(&counts, other),
            PROPOSALS as usize,
            "{other} votes on every proposal: {counts:?}"
        );
    }

    let (status, body) = ready(&daemon).await;
    assert_eq!(status, 200, "still ready: other nodes vote: {body}");
    let warnings = body["warnings"].to_string();
    assert!(
        warnings.contains(&format!("keys: node {name} signer failing"))
            && warnings.contains("cannot be reached"),
        "the node and the reason are named: {body}"
    );
    assert_eq!(metric(&daemon, &up).await, 0.0);
    assert!(metric(&daemon, &failures).await >= 1.0);
    let health: Value = reqwest::get(daemon.url("/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        health["components"]["keys"]["status"], "degraded",
        "{health}"
    );

    let _standin = StandIn::restart_on(port, key).await;
    let (code, out) = env.round();
    assert_eq!(code, 0, "round with the signer back: {out}");
    let counts = env.vote_casts().await;
    assert_eq!(
        RoundEnv::votes_by(&counts, address),
        PROPOSALS as usize,
        "the node votes on every pair: {counts:?}"
    );
    assert!(
        counts.values().all(|&n| n == 1),
        "each pair counted once: {counts:?}"
    );
    let (status, body) = ready(&daemon).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.to_string().contains("signer failing"),
        "the warning clears after a signature: {body}"
    );
    assert_eq!(metric(&daemon, &up).await, 1.0);
}
