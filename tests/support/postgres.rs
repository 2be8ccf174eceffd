//! A real PostgreSQL cluster for one test: `initdb` into a temporary
//! directory, started unprivileged on 127.0.0.1 at a free port with its Unix
//! socket in that directory, stopped (`pg_ctl stop -m immediate`) on drop.
//! The server binaries are found under /usr/lib/postgresql/*/bin (Debian's
//! `postgresql` package; scripts/setup-tools.sh installs it).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The password in every conninfo [`Postgres::database`] returns: the
/// cluster trusts local connections, so it only has to stay out of output.
pub const PASSWORD: &str = "s3cret-pw";

pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
}

fn bin_dir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (/usr/lib/postgresql); run scripts/setup-tools.sh --apt")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
        .expect("an initdb under /usr/lib/postgresql/*/bin")
}

/// PostgreSQL refuses to run as root; under root (a CI container) the
/// tools run as `nobody`, owning the cluster's directory.
fn tool(bin: &Path, name: &str) -> Command {
    if running_as_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(bin.join(name));
        c
    } else {
        Command::new(bin.join(name))
    }
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

fn run(cmd: &mut Command) -> std::process::Output {
    cmd.output().expect("run a PostgreSQL tool")
}

impl Postgres {
    pub fn start() -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        if running_as_root() {
            let ok = Command::new("chown")
                .args(["nobody:nogroup"])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown the cluster directory to nobody");
        }
        let out = run(tool(&bin, "initdb")
            .args(["-A", "trust", "-U", "govnode", "--no-sync", "-D"])
            .arg(&data));
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // A port free a moment ago may be taken by the time the server binds.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            if pg_ctl_start(&bin, dir.path(), port) {
                return Postgres { bin, dir, port };
            }
        }
        panic!("PostgreSQL did not start on any free port");
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts the cluster again after [`Postgres::stop`], on the same port.
    pub fn restart(&self) {
        assert!(
            pg_ctl_start(&self.bin, self.dir.path(), self.port),
            "PostgreSQL restart"
        );
    }

    /// Stops the server at once, as a crash would.
    pub fn stop(&self) {
        run(tool(&self.bin, "pg_ctl")
            .args(["-w", "-D"])
            .arg(self.data())
            .args(["-m", "immediate", "stop"]));
    }

    /// Creates a database and returns its conninfo (password included, to
    /// prove it stays out of output).
    pub fn database(&self, name: &str) -> String {
        let out = run(tool(&self.bin, "createdb").args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "govnode",
            name,
        ]));
        assert!(
            out.status.success(),
            "createdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!(
            "postgresql://govnode:{PASSWORD}@127.0.0.1:{}/{name}",
            self.port
        )
    }
}

/// The ledger's connection details for `conninfo`, plain TCP.
pub fn target(conninfo: &str) -> govnode::ledger::pg::PgTarget {
    govnode::ledger::pg::PgTarget {
        conninfo: govnode::config::Secret::new(conninfo),
        sslmode: govnode::ledger::pg::SslMode::Disable,
        ca_file: None,
        connect_timeout: std::time::Duration::from_secs(2),
        query_timeout: std::time::Duration::from_secs(5),
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn pg_ctl_start(bin: &Path, dir: &Path, port: u16) -> bool {
    let opts = format!(
        "-k {} -c listen_addresses=127.0.0.1 -p {port}",
        dir.display()
    );
    run(tool(bin, "pg_ctl")
        .args(["-w", "-t", "30", "-D"])
        .arg(dir.join("data"))
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-o", &opts, "start"]))
    .status
    .success()
}
