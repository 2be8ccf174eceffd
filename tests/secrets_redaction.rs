//! Secrets never reach the operator's screen: an RPC URL carrying an API key,
//! the API token and the node keys are absent from every log line and every
//! HTTP response, through start, reload and stop; so are every signer
//! backend's secrets (keystore password, HSM PIN and the keys behind them,
//! the Web3Signer client certificate's private key).

#[allow(dead_code)]
mod support {
    pub mod daemon;
    pub mod softhsm;
    pub mod web3signer_standin;
}

use std::time::Duration;

use alloy::primitives::B256;
use alloy::signers::local::PrivateKeySigner;
use support::daemon::{DEV_KEY, Daemon, Workdir, base_config, free_port};

const URL_KEY: &str = "f00dfacecafe0123456789abcdef4242";
const API_TOKEN: &str = "tok_live_9f8e7d6c5b4a";

/// Fetches `paths`, waits `settle`, reloads (SIGHUP) and stops (SIGTERM,
/// exit 0): every response body and the whole log.
fn serve_reload_stop(daemon: &mut Daemon, paths: &[&str], settle: Duration) -> (String, String) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut bodies = String::new();
    for path in paths {
        let r = client.get(daemon.url(path)).send().unwrap();
        bodies.push_str(&r.text().unwrap_or_default());
    }
    std::thread::sleep(settle);
    daemon.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(25)).code(), Some(0));
    (bodies, daemon.output())
}

fn assert_absent(log: &str, bodies: &str, secrets: &[(&str, &str)]) {
    assert!(log.contains("govnode ready"), "the log was captured: {log}");
    for (what, secret) in secrets {
        assert!(!log.contains(secret), "{what} leaked into the log:\n{log}");
        assert!(
            !bodies.contains(secret),
            "{what} leaked into an HTTP response:\n{bodies}"
        );
    }
}

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

    let (bodies, log) = serve_reload_stop(
        &mut daemon,
        &[
            "/health",
            "/health/ready",
            "/health/live",
            "/metrics",
            "/nope",
        ],
        // Let probes and retries run and log for a while.
        Duration::from_secs(2),
    );
    assert_absent(
        &log,
        &bodies,
        &[
            ("RPC URL key", URL_KEY),
            ("API token", API_TOKEN),
            ("node private key", &DEV_KEY[2..]),
        ],
    );
}

const KEYSTORE_PASSWORD: &str = "ks-pass-e3b0c44298fc1c14";
const KEYSTORE_KEY: &str = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const HSM_KEY: &str = "646f1ce2fdad0e6deeeb5c7e8e5543bdde65e86029e2fd9fc169899c440a7913";

#[test]
fn no_signer_secret_in_logs_or_responses() {
    let work = Workdir::new();
    let port = free_port();
    let key: B256 = format!("0x{KEYSTORE_KEY}").parse().unwrap();
    let signer = PrivateKeySigner::from_bytes(&key).unwrap();
    govnode::signer::keystore::write(
        work.path(),
        "n2.json",
        &signer,
        KEYSTORE_PASSWORD.as_bytes(),
    )
    .expect("keystore");
    work.write("n2.password", KEYSTORE_PASSWORD);
    let hsm = support::softhsm::SoftHsm::new();
    hsm.import("n3", format!("0x{HSM_KEY}").parse().unwrap());
    work.write("n3.pin", support::softhsm::PIN);
    // A Web3Signer over HTTPS with a client certificate (the stand-in: the
    // real one does not run here); its server lives as long as `runtime`.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let remote = PrivateKeySigner::random();
    let (standin, tls) = runtime.block_on(support::web3signer_standin::StandIn::start_tls(
        remote.clone(),
        work.path(),
    ));
    let client_key_pem = std::fs::read_to_string(&tls.client_key).unwrap();
    let client_key_lines: Vec<&str> = client_key_pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .collect();
    assert!(!client_key_lines.is_empty(), "{client_key_pem}");
    let nodes = format!(
        "  - name: ai-gov-02\n    signer:\n      kind: keystore\n      path: n2.json\n      password_file: n2.password\n\
         \x20 - name: ai-gov-03\n    signer:\n      kind: pkcs11\n      module: {}\n      token_label: {}\n      key_label: n3\n      pin_file: n3.pin\n\
         \x20 - name: ai-gov-04\n    signer:\n      kind: web3signer\n      url: {}\n      address: \"{}\"\n      ca_file: {}\n      client_cert_file: {}\n      client_key_file: {}\n",
        support::softhsm::MODULE,
        support::softhsm::TOKEN,
        standin.url,
        remote.address(),
        tls.ca.display(),
        tls.client_cert.display(),
        tls.client_key.display(),
    );
    let yaml = base_config(
        port,
        "http://127.0.0.1:9/",
        "api:\n  listen: 127.0.0.1:API_PORT\n",
    )
    .replace(
        "    strategy: conservative\n",
        &format!("    strategy: conservative\n{nodes}"),
    );
    let config = work.write("config.yaml", &yaml);
    let conf = hsm.conf.to_str().unwrap().to_owned();
    let mut daemon = Daemon::spawn(
        &config,
        ([127, 0, 0, 1], port).into(),
        &[("RUST_LOG", "trace"), ("SOFTHSM2_CONF", conf.as_str())],
    );
    daemon.wait_live(Duration::from_secs(10));
    let (bodies, log) = serve_reload_stop(
        &mut daemon,
        &["/health", "/health/ready", "/metrics", "/api/v1/nodes"],
        Duration::ZERO,
    );
    // A reload re-opens every signer, the HSM session included.
    assert!(log.contains("configuration reloaded"), "{log}");
    assert_absent(
        &log,
        &bodies,
        &[
            ("keystore password", KEYSTORE_PASSWORD),
            ("keystore's key", KEYSTORE_KEY),
            ("HSM PIN", support::softhsm::PIN),
            ("HSM key", HSM_KEY),
            ("node private key", &DEV_KEY[2..]),
        ],
    );
    for line in client_key_lines {
        assert_absent(&log, &bodies, &[("Web3Signer client key", line)]);
    }
    assert!(
        bodies.contains("ai-gov-04"),
        "the web3signer node is served: {bodies}"
    );
}
