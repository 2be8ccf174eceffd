//! Finding and starting the anvil the devnet runs on when no `--rpc-url` is
//! given: 127.0.0.1 only, chain id 31337, output to `DIR/anvil.log`.

use std::fs::OpenOptions;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Child;

use super::error::DevnetError;
use super::process;

pub const CHAIN_ID: u64 = 31337;
const NPM_PATH: &str = "tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// A free port can be taken by someone else between our probe and anvil's bind.
const AUTO_PORT_ATTEMPTS: usize = 3;

/// The anvil binary: `$GOVNODE_ANVIL`, else `tools/node_modules/…` under the
/// current directory or the binary's directory or one of their parents (a
/// checkout running `target/debug/govnode`), else `anvil` on `PATH`.
pub fn locate() -> Result<PathBuf, DevnetError> {
    if let Some(p) = std::env::var_os("GOVNODE_ANVIL").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(p);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(DevnetError::AnvilEnvInvalid { path })
        };
    }
    let mut looked = Vec::new();
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        roots.extend(dir.ancestors().map(Path::to_path_buf));
    }
    for root in roots {
        let candidate = root.join(NPM_PATH);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
        if !looked.contains(&candidate) {
            looked.push(candidate);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("anvil");
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
        looked.push(PathBuf::from("anvil on PATH"));
    }
    // Only the first few candidates are useful in the message.
    looked.truncate(4);
    Err(DevnetError::AnvilNotFound { looked })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// A running anvil; stopped by [`Anvil::stop`], killed if dropped.
pub struct Anvil {
    child: Child,
    pub url: String,
    pub port: u16,
}

impl Anvil {
    /// Starts anvil on `port` (or a free one) and waits until it answers.
    pub async fn start(binary: &Path, port: Option<u16>, log: &Path) -> Result<Anvil, DevnetError> {
        let mut attempt = 1;
        loop {
            let p = match port {
                Some(p) => p,
                None => free_port()?,
            };
            match Self::start_on(binary, p, log).await {
                Err(DevnetError::PortTaken { .. })
                    if port.is_none() && attempt < AUTO_PORT_ATTEMPTS =>
                {
                    attempt += 1
                }
                other => return other,
            }
        }
    }

    async fn start_on(binary: &Path, port: u16, log: &Path) -> Result<Anvil, DevnetError> {
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            return Err(DevnetError::PortTaken { port });
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| DevnetError::io("open", log, e))?;
        let err_file = file
            .try_clone()
            .map_err(|e| DevnetError::io("open", log, e))?;
        let mut cmd = process::supervised(binary);
        cmd.args(["--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .args(["--chain-id", &CHAIN_ID.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err_file));
        let child = cmd.spawn().map_err(|e| DevnetError::AnvilSpawn {
            path: binary.to_owned(),
            reason: e.to_string(),
        })?;
        let mut anvil = Anvil {
            child,
            url: format!("http://127.0.0.1:{port}"),
            port,
        };
        anvil.wait_ready(log).await?;
        Ok(anvil)
    }

    async fn wait_ready(&mut self, log: &Path) -> Result<(), DevnetError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| DevnetError::Unexpected {
                what: "HTTP client".into(),
                detail: e.to_string(),
            })?;
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let tail = log_tail(log);
                if tail.contains("in use") {
                    return Err(DevnetError::PortTaken { port: self.port });
                }
                return Err(DevnetError::AnvilExited {
                    status: process::describe(&status),
                    log: log.to_owned(),
                    tail,
                });
            }
            let answer = http
                .post(&self.url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            if let Ok(resp) = answer
                && resp.status().is_success()
            {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(DevnetError::AnvilNotReady {
                    url: self.url.clone(),
                    waited: READY_TIMEOUT,
                    log: log.to_owned(),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Stops anvil (SIGTERM, then SIGKILL after a grace period).
    pub async fn stop(mut self) {
        process::terminate(&mut self.child, Duration::from_secs(5)).await;
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> Result<u16, DevnetError> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| DevnetError::io("bind a free port on", "127.0.0.1", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| DevnetError::io("bind a free port on", "127.0.0.1", e))
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}
