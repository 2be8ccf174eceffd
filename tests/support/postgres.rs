//! A real PostgreSQL cluster for one test: `initdb` into a temporary
//! directory, started unprivileged on 127.0.0.1 at a free port with its Unix
//! socket in that directory, stopped (`pg_ctl stop -m immediate`) on drop.
//! The server binaries are found under /usr/lib/postgresql/*/bin (Debian's
//! `postgresql` package; scripts/setup-tools.sh installs it).
//! [`Postgres::start_tls`] makes a cluster that takes TCP clients over TLS
//! only, with a CA and server certificate made for that run.

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
    /// Server options beyond the port and addresses (TLS).
    options: String,
}

/// The PEM files of a TLS cluster's run: `ca` signed the server's
/// certificate (whose only name is the IP address 127.0.0.1); `other_ca`
/// signed nothing the server holds.
pub struct TlsCa {
    pub ca: PathBuf,
    pub other_ca: PathBuf,
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
        Self::start_with(|_, _| String::new())
    }

    /// A cluster whose TCP clients must use TLS (`hostnossl` is rejected):
    /// the server's certificate names 127.0.0.1 only and is signed by a CA
    /// made here, written with a second, unrelated CA into the cluster's
    /// directory.
    pub fn start_tls() -> (Postgres, TlsCa) {
        let mut files = None;
        let pg = Self::start_with(|dir, data| {
            files = Some(write_tls_files(dir));
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\n\
                 hostssl all all 127.0.0.1/32 trust\n\
                 hostnossl all all 127.0.0.1/32 reject\n",
            )
            .expect("write pg_hba.conf");
            format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                dir.join("server.pem").display(),
                dir.join("server-key.pem").display()
            )
        });
        (pg, files.expect("TLS files written"))
    }

    /// `prepare(dir, data)` runs after initdb and returns further server
    /// options; it may write into the data directory.
    fn start_with(prepare: impl FnOnce(&Path, &Path) -> String) -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        if running_as_root() {
            chown_to_nobody(dir.path());
        }
        let out = run(tool(&bin, "initdb")
            .args(["-A", "trust", "-U", "govnode", "--no-sync", "-D"])
            .arg(&data));
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let options = prepare(dir.path(), &data);
        if running_as_root() {
            // The server reads its key only when it owns it.
            chown_to_nobody(dir.path());
        }
        // A port free a moment ago may be taken by the time the server binds.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            if pg_ctl_start(&bin, dir.path(), port, &options) {
                return Postgres {
                    bin,
                    dir,
                    port,
                    options,
                };
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
            pg_ctl_start(&self.bin, self.dir.path(), self.port, &self.options),
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
        // Over the Unix socket: TCP may demand TLS (start_tls), and the
        // tools would look for client certificates in root's home.
        let out = run(tool(&self.bin, "createdb")
            .arg("-h")
            .arg(self.dir.path())
            .args(["-p", &self.port.to_string(), "-U", "govnode", name]));
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

fn pg_ctl_start(bin: &Path, dir: &Path, port: u16, options: &str) -> bool {
    let opts = format!(
        "-k {} -c listen_addresses=127.0.0.1 -p {port}{options}",
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

fn chown_to_nobody(path: &Path) {
    let ok = Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chown {} to nobody", path.display());
}

/// A CA, a server certificate for 127.0.0.1 signed by it (its key 0600, as
/// the server demands) and an unrelated CA, as PEM files under `dir`.
fn write_tls_files(dir: &Path) -> TlsCa {
    use std::os::unix::fs::PermissionsExt;
    let (ca_cert, issuer) = new_ca("govnode test ledger CA");
    let server_key = rcgen::KeyPair::generate().expect("server key");
    let server_cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("server params")
        .signed_by(&server_key, &issuer)
        .expect("server cert");
    let (other_cert, _) = new_ca("govnode test other CA");

    let files = TlsCa {
        ca: dir.join("ca.pem"),
        other_ca: dir.join("other-ca.pem"),
    };
    std::fs::write(&files.ca, ca_cert.pem()).expect("write ca");
    std::fs::write(&files.other_ca, other_cert.pem()).expect("write other ca");
    std::fs::write(dir.join("server.pem"), server_cert.pem()).expect("write server cert");
    let key = dir.join("server-key.pem");
    std::fs::write(&key, server_key.serialize_pem()).expect("write server key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod key");
    files
}

/// A self-signed CA called `name`. The names must differ: a foreign CA of
/// the same name gives "BadSignature", not the "UnknownIssuer" of a real
/// foreign CA.
fn new_ca(name: &str) -> (rcgen::Certificate, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let key = rcgen::KeyPair::generate().expect("ca key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).expect("ca cert");
    (cert, rcgen::Issuer::new(params, key))
}
