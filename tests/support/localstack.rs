//! LocalStack's KMS on a free loopback port, from the virtualenv that
//! `scripts/setup-tools.sh --localstack` installs (tools/localstack), for
//! the aws-kms signer tests. Real AWS KMS cannot run here; LocalStack's
//! implements `Sign` with `MessageType=DIGEST` as KMS does (the digest is
//! signed as given, not hashed again). Killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::anvil::free_port;

pub struct LocalStack {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("tools/localstack/bin/python");
    assert!(
        python.exists(),
        "{} missing: run scripts/setup-tools.sh --localstack (scripts/test.sh's setup does)",
        python.display()
    );
    python
}

impl LocalStack {
    /// Starts LocalStack with KMS only and waits until KMS answers.
    pub async fn start() -> LocalStack {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("localstack.log")).expect("log file");
        let child = Command::new(python())
            .args(["-m", "localstack.runtime.main"])
            .env("GATEWAY_LISTEN", format!("127.0.0.1:{port}"))
            .env("SERVICES", "kms")
            .env("LOCALSTACK_VOLUME_DIR", dir.path())
            .env("SKIP_SSL_CERT_DOWNLOAD", "1")
            .env("DISABLE_EVENTS", "1")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start LocalStack");
        let ls = LocalStack {
            child,
            port,
            _dir: dir,
        };
        let health = format!("{}/_localstack/health", ls.endpoint());
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(r) = reqwest::get(&health).await
                && let Ok(v) = r.json::<serde_json::Value>().await
                && matches!(v["services"]["kms"].as_str(), Some("available" | "running"))
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "LocalStack's KMS did not come up in 90 s; log: {}",
                std::fs::read_to_string(ls._dir.path().join("localstack.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        ls
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A KMS key holding `key_hex` (through LocalStack's custom key
    /// material), so that its address is one the devnet funded; its key id.
    pub fn import_key(&self, key_hex: &str) -> String {
        use std::io::Write;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aws_kms/import_key.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg(self.endpoint())
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run import_key.py");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(key_hex.as_bytes())
            .expect("write key");
        let out = child.wait_with_output().expect("import_key.py");
        assert!(
            out.status.success(),
            "import_key.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    /// Stops LocalStack (the KMS becomes unreachable).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        self.stop();
    }
}
