//! The API of a daemon whose chain is unreachable and that has no API token:
//! reads that need no chain still answer, the node list shows `null`
//! balances with an `error` instead of failing, the proposal list says the
//! chain is unavailable, the status page still renders, and a state change is
//! refused with 403 (never allowed without a token).

mod support {
    pub mod daemon;
    pub mod http_recorder;
}

use std::time::Duration;

use support::daemon::{Daemon, Workdir, base_config, free_port};
use support::http_recorder::Recorder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_degrade_and_writes_are_refused_without_a_token() {
    let work = Workdir::new();
    let port = free_port();
    let config = work.write(
        "config.yaml",
        &base_config(
            port,
            "http://127.0.0.1:9",
            "api:\n  listen: 127.0.0.1:API_PORT\nround:\n  on_start: false\n",
        ),
    );
    let mut daemon = Daemon::spawn(&config, ([127, 0, 0, 1], port).into(), &[]);
    daemon.wait_live(Duration::from_secs(10));
    let http = Recorder::default();

    let r = http.post(&daemon.url("/api/v1/rounds"), None).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.error_code(), "token_not_configured");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("api.token_file")
    );
    let r = http
        .post(&daemon.url("/trigger-voting"), Some("anything"))
        .await;
    assert_eq!(r.status, 403);

    let s = http.get(&daemon.url("/api/v1/status")).await;
    assert_eq!(s.status, 200);
    let s = s.json();
    assert!(s["chain"]["head_block"].is_null(), "{s}");
    assert_eq!(s["chain"]["healthy_endpoints"], 0);
    assert_eq!(s["health"]["ready"], false);
    assert!(!s["health"]["reasons"].as_array().unwrap().is_empty());
    assert_eq!(
        s["counts"]["rounds"], 0,
        "the refused triggers started nothing"
    );

    let n = http.get(&daemon.url("/api/v1/nodes")).await;
    assert_eq!(n.status, 200, "{}", n.text);
    let n = n.json();
    let node = &n["nodes"][0];
    assert_eq!(node["name"], "ai-gov-01");
    assert!(node["address"].as_str().unwrap().starts_with("0x"));
    assert!(node["eth_balance"].is_null());
    assert!(node["voting_power"].is_null());
    assert!(
        node["error"].as_str().unwrap().contains("head block"),
        "{node}"
    );
    assert_eq!(node["votes"]["total"], 0);
    assert!(n["block"].is_null());

    let p = http.get(&daemon.url("/api/v1/proposals")).await;
    assert_eq!(p.status, 503, "{}", p.text);
    assert_eq!(p.error_code(), "chain_unavailable");

    let page = http.get(&daemon.url("/status")).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("ai-gov-01"));
    assert!(page.text.contains("badge bad"), "a red badge for the chain");

    http.assert_no_secrets(&[support::daemon::DEV_KEY.to_owned()]);
}
