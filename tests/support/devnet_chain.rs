//! A real devnet for the API tests: anvil, `govnode devnet --setup-only`
//! deploying the test AssetDAO and its proposals onto it, and the real
//! daemon running on the configuration the devnet wrote. Rounds start only
//! when a test asks (`round.on_start` is off).
//!
//! Needs the sibling modules `anvil` and `daemon`.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use super::anvil::Anvil;
use super::daemon::Daemon;

pub struct Devnet {
    pub anvil: Anvil,
    pub dir: tempfile::TempDir,
    /// `devnet.json` as written.
    pub info: Value,
    pub daemon: Daemon,
    pub token: String,
}

impl Devnet {
    /// Deploys `proposals` open proposals for `nodes` nodes and starts the
    /// daemon; returns once its API answers and the chain is verified.
    pub async fn start(proposals: u32, nodes: u32) -> Devnet {
        Devnet::start_with(proposals, nodes, &[]).await
    }

    /// [`Devnet::start`] with more `GOVNODE__…` overrides for the daemon.
    pub async fn start_with(proposals: u32, nodes: u32, env: &[(&str, &str)]) -> Devnet {
        let anvil = Anvil::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        setup(&anvil.url(), dir.path(), proposals, nodes);
        let info = read_json(&dir.path().join("devnet.json"));
        let api: SocketAddr = info["api"]
            .as_str()
            .and_then(|a| a.strip_prefix("http://"))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("devnet.json has no api address: {info}"));
        let config = PathBuf::from(info["config"].as_str().expect("config path"));
        let token = std::fs::read_to_string(dir.path().join("keys/api-token"))
            .expect("api token file")
            .trim()
            .to_owned();
        let mut overrides = vec![
            ("GOVNODE__ROUND__ON_START", "false"),
            // The tests poll; the client limit is not what they are about.
            ("GOVNODE__API__RATE_LIMIT__PER_SECOND", "1000"),
            ("GOVNODE__API__RATE_LIMIT__BURST", "1000"),
        ];
        overrides.extend_from_slice(env);
        let mut daemon = Daemon::spawn(&config, api, &overrides);
        daemon.wait_live(Duration::from_secs(20));
        let devnet = Devnet {
            anvil,
            dir,
            info,
            daemon,
            token,
        };
        devnet.wait_ready().await;
        devnet
    }

    pub fn url(&self, path: &str) -> String {
        self.daemon.url(path)
    }

    /// The node names and checksummed addresses devnet.json lists.
    pub fn nodes(&self) -> Vec<(String, String)> {
        self.info["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| {
                (
                    n["name"].as_str().expect("name").to_owned(),
                    n["address"].as_str().expect("address").to_owned(),
                )
            })
            .collect()
    }

    /// Ids of the proposals the devnet left open.
    pub fn open_proposals(&self) -> Vec<u64> {
        self.info["proposals"]["open"]
            .as_array()
            .expect("open proposals")
            .iter()
            .map(|v| v.as_u64().expect("id"))
            .collect()
    }

    /// Every secret the devnet wrote: the API token and the node keys.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = vec![self.token.clone()];
        let keys = self.dir.path().join("keys");
        for entry in std::fs::read_dir(&keys).expect("keys dir") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("key file");
            let key = text.trim();
            out.push(key.to_owned());
            out.push(key.trim_start_matches("0x").to_owned());
        }
        out.retain(|s| s.len() >= 16);
        out
    }

    pub fn ledger_path(&self) -> PathBuf {
        self.dir.path().join("ledger.sqlite")
    }

    /// Stops (`false`) or resumes (`true`) mining a block per transaction.
    /// Sent votes then stay in the mempool, which holds a round open.
    pub async fn automine(&self, on: bool) {
        self.rpc("evm_setAutomine", json!([on])).await;
        if on {
            self.rpc("evm_mine", json!([])).await;
        }
    }

    pub async fn rpc(&self, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let resp: Value = reqwest::Client::new()
            .post(self.anvil.url())
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        assert!(resp.get("error").is_none(), "{method} failed: {resp}");
        resp["result"].clone()
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = client.get(self.url("/health/ready")).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the daemon did not become ready: {}",
                self.daemon.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn setup(rpc_url: &str, dir: &Path, proposals: u32, nodes: u32) {
    let out = Command::new(env!("CARGO_BIN_EXE_govnode"))
        .args(["devnet", "--setup-only", "--rpc-url", rpc_url, "--dir"])
        .arg(dir)
        .args(["--proposals", &proposals.to_string()])
        .args(["--nodes", &nodes.to_string()])
        .env_remove("GOVNODE_CONFIG")
        .output()
        .expect("run govnode devnet");
    assert!(
        out.status.success(),
        "govnode devnet --setup-only failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}
