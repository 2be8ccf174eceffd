//! The real daemon with RPC endpoints whose URLs carry credentials: it
//! starts with no chain reachable (READY=1 to systemd; `/health/ready`
//! answers 503 and names the RPC pool),
//! becomes ready once an endpoint answers for the right chain, and no URL
//! credential appears in any log line, `/health`, `/health/ready` or `/metrics`.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::anvil::{Anvil, free_port};
use support::fault_proxy::{Fault, FaultProxy};

const PATH_KEY: &str = "0123456789abcdef0123";
const OTHER_KEY: &str = "fedcba9876543210fedc";
const PASSWORD: &str = "pa55-w0rd-xyz";
const QUERY_KEY: &str = "qk-7777777777";
const USER: &str = "rpcuser";

async fn get(client: &reqwest::Client, url: &str) -> Option<(u16, String)> {
    let resp = client.get(url).send().await.ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.text().await.ok()?))
}

/// Polls `url` until it answers `status`, returning the body.
async fn wait_for_status(client: &reqwest::Client, url: &str, status: u16) -> String {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < Duration::from_secs(20) {
        if let Some((s, body)) = get(client, url).await {
            if s == status {
                return body;
            }
            last = Some((s, body));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never answered {status}; last answer {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_starts_without_a_chain_and_never_shows_url_credentials() {
    let node = Anvil::start().await;
    let proxy = FaultProxy::start(&node.url()).await;
    proxy.set_fault(Fault::Http500);

    let dir = tempfile::tempdir().unwrap();
    let keyed_url = format!("http://127.0.0.1:{}/key/{PATH_KEY}", proxy.port());
    let dead_url = format!(
        "http://{USER}:{PASSWORD}@127.0.0.1:{}/v3/{OTHER_KEY}?apikey={QUERY_KEY}",
        free_port()
    );
    std::fs::write(dir.path().join("keyed.url"), format!("{keyed_url}\n")).unwrap();
    std::fs::write(dir.path().join("dead.url"), format!("{dead_url}\n")).unwrap();
    let api_port = free_port();
    let config = format!(
        r#"
chain: {{ id: 31337 }}
rpc:
  endpoints:
    - {{ name: keyed, url_file: keyed.url, priority: 0, timeout: 2s }}
    - {{ name: dead, url_file: dead.url, priority: 1, timeout: 2s }}
  breaker: {{ failure_threshold: 2, cooldown: 300ms, max_cooldown: 1s }}
  probe: {{ interval: 200ms }}
dao: {{ kind: assetdao, address: "0x5FbDB2315678afecb367f032d93F642f64180aa3" }}
api: {{ listen: "127.0.0.1:{api_port}" }}
control: {{ socket: control.sock }}
ledger: {{ path: ledger.sqlite }}
log: {{ level: debug, target: stderr, format: text }}
"#
    );
    let config_path = dir.path().join("config.yaml");
    std::fs::write(&config_path, config).unwrap();
    let stderr_path = dir.path().join("stderr.log");
    // Plays systemd's notify socket, to see READY=1 arrive without any chain.
    let notify_path = dir.path().join("notify.sock");
    let notify = tokio::net::UnixDatagram::bind(&notify_path).unwrap();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_govnode"))
        .arg("run")
        .arg("--config")
        .arg(&config_path)
        .env_remove("RUST_LOG")
        .env("NOTIFY_SOCKET", &notify_path)
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{api_port}");
    wait_for_status(&client, &format!("{base}/health/live"), 200).await;
    let mut buf = vec![0u8; 4096];
    let ready_message = loop {
        let n = tokio::time::timeout(Duration::from_secs(20), notify.recv(&mut buf))
            .await
            .expect("no sd_notify message")
            .unwrap();
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        if msg.contains("READY=1") {
            break msg;
        }
    };

    // No endpoint answers for the chain: up, but not ready, and it says why.
    let not_ready = wait_for_status(&client, &format!("{base}/health/ready"), 503).await;
    assert!(
        not_ready.contains("rpc: no healthy RPC endpoint"),
        "{not_ready}"
    );
    assert!(not_ready.contains("endpoint keyed"), "{not_ready}");
    // Wait until the dead endpoint's breaker has opened (and said so in the log).
    let start = Instant::now();
    let down_health = loop {
        let (_, body) = get(&client, &format!("{base}/health")).await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["components"]["rpc"]["detail"]["endpoints"][1]["breaker_opens"].as_u64() >= Some(1) {
            break body;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    proxy.set_fault(Fault::PassThrough);
    let ready = wait_for_status(&client, &format!("{base}/health/ready"), 200).await;
    let (_, health) = get(&client, &format!("{base}/health")).await.unwrap();
    let health_json: serde_json::Value = serde_json::from_str(&health).unwrap();
    let endpoints = &health_json["components"]["rpc"]["detail"]["endpoints"];
    assert_eq!(endpoints[0]["name"], "keyed", "{health}");
    assert_eq!(endpoints[0]["state"], "closed", "{health}");
    assert_eq!(endpoints[0]["healthy"], true, "{health}");
    assert_eq!(endpoints[1]["name"], "dead", "{health}");
    assert_eq!(endpoints[1]["healthy"], false, "{health}");
    assert_eq!(endpoints[1]["last_error"], "connect", "{health}");
    let (_, metrics) = get(&client, &format!("{base}/metrics")).await.unwrap();
    assert!(
        metrics.contains(r#"govnode_rpc_requests_total{endpoint="keyed",method="eth_chainId",outcome="http_5xx"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"govnode_rpc_head_block{endpoint="keyed"} 0"#),
        "{metrics}"
    );

    // SAFETY: signalling the child process this test spawned.
    unsafe {
        libc::kill(daemon.id() as libc::pid_t, libc::SIGTERM);
    }
    let start = Instant::now();
    let status = loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "daemon did not stop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    let logs = std::fs::read_to_string(&stderr_path).unwrap();

    // The logs name the endpoints and what happened to them...
    assert!(logs.contains("endpoint=dead"), "{logs}");
    assert!(logs.contains("breaker opened"), "{logs}");
    assert!(logs.contains("endpoint=keyed"), "{logs}");
    assert!(logs.contains("/key/***"), "{logs}");
    // ...and no credential appears anywhere.
    for (what, text) in [
        ("logs", &logs),
        ("READY=1 status", &ready_message),
        ("/health/ready (503)", &not_ready),
        ("/health/ready (200)", &ready),
        ("/health (down)", &down_health),
        ("/health", &health),
        ("/metrics", &metrics),
    ] {
        for secret in [PATH_KEY, OTHER_KEY, PASSWORD, QUERY_KEY, USER] {
            assert!(!text.contains(secret), "{what} shows {secret:?}:\n{text}");
        }
    }
}
