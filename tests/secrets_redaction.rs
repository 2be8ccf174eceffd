//! Secrets never reach the operator's screen: an RPC URL carrying an API key,
//! the API token and the node keys are absent from every log line and every
//! HTTP response, through start, reload and stop.

mod support {
    pub mod daemon;
}

use std::time::Duration;

use support::daemon::{DEV_KEY, Daemon, Workdir, base_config, free_port};

const URL_KEY: &str = "f00dfacecafe0123456789abcdef4242";
const API_TOKEN: &str = "tok_live_9f8e7d6c5b4a";

#[test]
fn no_secret_in_logs_or_responses() {
    let work = Workdir::new();
    let port = free_port();
    // Nothing listens on port 9: every RPC attempt fails and gets logged.
    work.write(
        "rpc.url",
        &format!("http://127.0.0.1:9/v3/{URL_KEY}?apikey={URL_KEY}\n"),
    );
    work.write("api.token", &format!("{API_TOKEN}\n"));
    let yaml = base_config(
        port,
        "IGNORED",
        "api:\n  listen: 127.0.0.1:API_PORT\n  token_file: api.token\n",
    )
    .replace("      url: IGNORED", "      url_file: rpc.url");
    let config = work.write("config.yaml", &yaml);
    let mut daemon = Daemon::spawn(
        &config,
        ([127, 0, 0, 1], port).into(),
        &[("RUST_LOG", "trace")],
    );
    daemon.wait_live(Duration::from_secs(10));

    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut bodies = String::new();
    for path in [
        "/health",
        "/health/ready",
        "/health/live",
        "/metrics",
        "/nope",
    ] {
        let r = client.get(daemon.url(path)).send().unwrap();
        bodies.push_str(&r.text().unwrap_or_default());
    }
    // Let probes and retries run and log for a while.
    std::thread::sleep(Duration::from_secs(2));
    daemon.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(25)).code(), Some(0));

    let log = daemon.output();
    assert!(log.contains("govnode ready"), "the log was captured: {log}");
    for (what, secret) in [
        ("RPC URL key", URL_KEY),
        ("API token", API_TOKEN),
        ("node private key", &DEV_KEY[2..]),
    ] {
        assert!(!log.contains(secret), "{what} leaked into the log:\n{log}");
        assert!(
            !bodies.contains(secret),
            "{what} leaked into an HTTP response:\n{bodies}"
        );
    }
}
