//! The HTTP surface of the foundation: health endpoints and their bodies,
//! metrics, 404/405/413/429 with the error envelope, and CORS only for
//! configured origins.

mod support {
    pub mod daemon;
}

use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::Value;
use support::daemon::{Daemon, Workdir, base_config, free_port};

fn start(extra_api: &str) -> (Workdir, Daemon) {
    let work = Workdir::new();
    let port = free_port();
    let config = work.write(
        "config.yaml",
        &base_config(
            port,
            "http://127.0.0.1:9",
            &format!("api:\n  listen: 127.0.0.1:API_PORT\n{extra_api}"),
        ),
    );
    let mut daemon = Daemon::spawn(&config, ([127, 0, 0, 1], port).into(), &[]);
    daemon.wait_live(Duration::from_secs(10));
    (work, daemon)
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

fn error_code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    v["error"]["code"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn health_endpoints_and_metrics() {
    let (_w, d) = start("");
    let c = client();

    let live = c.get(d.url("/health/live")).send().unwrap();
    assert_eq!(live.status(), 200);
    let body: Value = live.json().unwrap();
    assert_eq!(body["status"], "alive");

    let health = c.get(d.url("/health")).send().unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let body: Value = health.json().unwrap();
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["chain_id"], 31337);
    assert!(body["uptime_seconds"].is_u64());
    assert!(matches!(
        body["status"].as_str(),
        Some("up" | "degraded" | "down")
    ));
    assert!(body["ready"].is_boolean());
    assert_eq!(body["components"]["runtime"]["status"], "up");

    let ready = c.get(d.url("/health/ready")).send().unwrap();
    let code = ready.status().as_u16();
    let body: Value = ready.json().unwrap();
    match code {
        200 => assert_eq!(body["status"], "ready"),
        503 => {
            assert_eq!(body["status"], "not_ready");
            assert!(!body["reasons"].as_array().unwrap().is_empty(), "{body}");
        }
        other => panic!("unexpected /health/ready status {other}: {body}"),
    }

    let metrics = c.get(d.url("/metrics")).send().unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = metrics.text().unwrap();
    assert!(text.contains("govnode_build_info{"), "{text}");
    assert!(text.contains("process_resident_memory_bytes"), "{text}");

    let head = c.head(d.url("/health/live")).send().unwrap();
    assert_eq!(head.status(), 200);
}

#[test]
fn unknown_path_wrong_method_and_large_body() {
    let (_w, d) = start("  max_body_bytes: 1024\n");
    let c = client();

    let r = c.get(d.url("/no/such/thing")).send().unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(&r.text().unwrap()), "not_found");

    let r = c.delete(d.url("/health")).send().unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"].to_str().unwrap(), "GET, HEAD, OPTIONS");
    assert_eq!(error_code(&r.text().unwrap()), "method_not_allowed");

    let r = c
        .post(d.url("/health"))
        .body(vec![b'x'; 4096])
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(error_code(&r.text().unwrap()), "payload_too_large");
}

#[test]
fn rate_limit_answers_429_with_retry_after() {
    let (_w, d) = start("  rate_limit:\n    per_second: 1\n    burst: 3\n");
    let c = client();
    let statuses: Vec<u16> = (0..6)
        .map(|_| {
            c.get(d.url("/health/live"))
                .send()
                .unwrap()
                .status()
                .as_u16()
        })
        .collect();
    assert_eq!(
        &statuses[..3],
        &[200, 200, 200],
        "burst of 3 allowed: {statuses:?}"
    );
    let r = c.get(d.url("/health/live")).send().unwrap();
    assert_eq!(r.status(), 429, "after the burst: {statuses:?}");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=2).contains(&retry),
        "Retry-After in whole seconds: {retry}"
    );
    assert_eq!(error_code(&r.text().unwrap()), "rate_limited");
}

#[test]
fn cors_only_for_configured_origins() {
    let (_w, d) = start("  allowed_origins: [\"http://dash.example:3000\"]\n");
    let c = client();

    let r = c
        .get(d.url("/health"))
        .header("Origin", "http://dash.example:3000")
        .send()
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"].to_str().unwrap(),
        "http://dash.example:3000"
    );
    assert!(r.headers().get_all("vary").iter().any(|v| v == "Origin"));

    let r = c
        .get(d.url("/health"))
        .header("Origin", "http://evil.example")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("access-control-allow-origin").is_none());

    let pre = c
        .request(reqwest::Method::OPTIONS, d.url("/metrics"))
        .header("Origin", "http://dash.example:3000")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(
        pre.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap(),
        "GET, HEAD, OPTIONS"
    );

    let pre = c
        .request(reqwest::Method::OPTIONS, d.url("/metrics"))
        .header("Origin", "http://evil.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .unwrap();
    assert_eq!(pre.status(), 403);
    assert!(pre.headers().get("access-control-allow-origin").is_none());
}

#[test]
fn no_cors_headers_by_default() {
    let (_w, d) = start("");
    let r = client()
        .get(d.url("/health"))
        .header("Origin", "http://localhost:3000")
        .send()
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}
