//! A real anvil process on 127.0.0.1 for tests: spawned on a free port,
//! waited for until it answers JSON-RPC, killed on drop. It can be killed and
//! restarted on the same port to play a provider that goes away and comes back.
//!
//! The binary comes from `GOVNODE_ANVIL`, else from the pinned npm package
//! that `scripts/setup-tools.sh` installs under `tools/node_modules`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a fresh anvil may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub const DEFAULT_CHAIN_ID: u64 = 31337;

#[derive(Debug, Clone)]
pub struct AnvilOptions {
    pub chain_id: u64,
    /// Seconds between blocks; `None` mines one block per transaction.
    pub block_time: Option<u64>,
    /// Keep transactions in the pool instead of mining them.
    pub no_mining: bool,
}

impl Default for AnvilOptions {
    fn default() -> Self {
        AnvilOptions {
            chain_id: DEFAULT_CHAIN_ID,
            block_time: None,
            no_mining: false,
        }
    }
}

pub struct Anvil {
    child: Option<Child>,
    port: u16,
    options: AnvilOptions,
}

/// The anvil binary, or a panic that says how to install it.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("GOVNODE_ANVIL") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    assert!(
        p.exists(),
        "anvil not found at {}: run scripts/setup-tools.sh (or set GOVNODE_ANVIL)",
        p.display()
    );
    p
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

impl Anvil {
    /// Anvil with chain id 31337, one block per transaction.
    pub async fn start() -> Anvil {
        Anvil::start_with(AnvilOptions::default()).await
    }

    pub async fn with_chain_id(chain_id: u64) -> Anvil {
        Anvil::start_with(AnvilOptions {
            chain_id,
            ..AnvilOptions::default()
        })
        .await
    }

    pub async fn start_with(options: AnvilOptions) -> Anvil {
        let mut anvil = Anvil {
            child: None,
            port: free_port(),
            options,
        };
        anvil.spawn().await;
        anvil
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn chain_id(&self) -> u64 {
        self.options.chain_id
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the process (SIGKILL) and waits for it; the port is closed afterwards.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a fresh chain on the same port (state is not kept).
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    async fn spawn(&mut self) {
        let mut cmd = Command::new(binary());
        cmd.args(["--host", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .arg("--chain-id")
            .arg(self.options.chain_id.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(secs) = self.options.block_time {
            cmd.arg("--block-time").arg(secs.to_string());
        }
        if self.options.no_mining {
            cmd.arg("--no-mining");
        }
        let child = cmd.spawn().expect("cannot spawn anvil");
        self.child = Some(child);
        self.wait_until_answering().await;
    }

    async fn wait_until_answering(&mut self) {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("http client");
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("anvil on port {} exited early: {status}", self.port);
            }
            let answer = client
                .post(self.url())
                .json(
                    &serde_json::json!({"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}),
                )
                .send()
                .await;
            if let Ok(resp) = answer
                && resp.status().is_success()
            {
                return;
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "anvil on port {} did not answer within {START_TIMEOUT:?}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends one JSON-RPC request directly (not through govnode) and returns `result`.
    pub async fn rpc(&self, method: &str, params: serde_json::Value) -> serde_json::Value {
        let reply: serde_json::Value = reqwest::Client::new()
            .post(self.url())
            .json(&serde_json::json!({"jsonrpc":"2.0","id":1,"method":method,"params":params}))
            .send()
            .await
            .expect("anvil request")
            .json()
            .await
            .expect("anvil reply");
        reply
            .get("result")
            .cloned()
            .unwrap_or_else(|| panic!("{method} failed: {reply}"))
    }

    /// Mines `blocks` blocks at once.
    pub async fn mine(&self, blocks: u64) {
        self.rpc("anvil_mine", serde_json::json!([format!("{blocks:#x}")]))
            .await;
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        self.kill();
    }
}
