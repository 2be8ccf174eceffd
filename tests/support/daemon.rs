//! Runs the real `govnode` binary against a configuration written into a
//! temporary directory, and stops it when dropped.

#![allow(dead_code)]

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// anvil's first well-known development key (public knowledge).
pub const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_govnode")
}

/// A temporary directory with a key file, ready for a config to be written.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("node.key"), format!("{DEV_KEY}\n")).expect("key file");
        Workdir { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, contents).expect("write file");
        p
    }
}

/// A minimal valid configuration. `rpc_url` may point at nothing; `extra` is
/// appended verbatim (top-level sections not already present).
pub fn base_config(api_port: u16, rpc_url: &str, extra: &str) -> String {
    format!(
        r#"chain:
  id: 31337
rpc:
  endpoints:
    - name: primary
      url: {rpc_url}
dao:
  kind: assetdao
  address: "0x5FbDB2315678afecb367f032d93F642f64180aa3"
nodes:
  - name: ai-gov-01
    key_file: node.key
    strategy: conservative
control:
  socket: control.sock
ledger:
  path: ledger.sqlite
log:
  level: debug
  target: stderr
{extra}"#
    )
    .replace("API_PORT", &api_port.to_string())
}

/// A running daemon with its stderr collected in the background.
pub struct Daemon {
    pub child: Child,
    pub stderr: Arc<Mutex<String>>,
    pub api: SocketAddr,
}

impl Daemon {
    pub fn spawn(config: &Path, api: SocketAddr, envs: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(binary());
        cmd.arg("run")
            .arg("--config")
            .arg(config)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("JOURNAL_STREAM")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn govnode");
        let stderr = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let sink = stderr.clone();
            std::thread::spawn(move || collect(stream, sink));
        }
        Daemon { child, stderr, api }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.api, path)
    }

    /// Polls `/health/live` until it answers.
    pub fn wait_live(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("govnode exited early with {status}: {}", self.output());
            }
            if std::net::TcpStream::connect(self.api).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "govnode did not listen within {within:?}: {}",
            self.output()
        );
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) with the pid of a child we own.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("govnode did not exit within {within:?}: {}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn output(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn collect(mut stream: Box<dyn Read + Send>, sink: Arc<Mutex<String>>) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        }
    }
}

/// Runs `govnode check-config` and returns (exit code, stderr).
pub fn check_config(config: &Path, envs: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(binary());
    cmd.arg("check-config").arg("--config").arg(config);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run check-config");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `govnode ARGS --config CONFIG`: (exit code, stdout + stderr).
pub fn govnode(args: &[&str], config: &Path) -> (i32, String) {
    govnode_with_env(args, config, &[])
}

/// [`govnode`] with environment variables set for the command.
pub fn govnode_with_env(args: &[&str], config: &Path, env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(binary())
        .args(args)
        .arg("--config")
        .arg(config)
        .envs(env.iter().copied())
        .output()
        .expect("run govnode");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `govnode keys ack NODE` against the daemon of `config`.
pub fn ack_key(config: &Path, node: &str) -> (i32, String) {
    govnode(&["keys", "ack", node], config)
}
