//! Reaching the PostgreSQL ledger: the conninfo (a secret: it may hold a
//! password), TLS, and a description of the target that is safe to log.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode as WireSslMode};
use tokio_postgres::{Client, Config, NoTls};

use crate::config::Secret;

use super::super::error::{LedgerError, pg_detail};

/// How the connection is protected. `verify-full` checks the server's
/// certificate against `ca_file` and its name against the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Plain TCP, or a local Unix socket (where TLS never applies).
    #[default]
    Disable,
    VerifyFull,
}

/// Everything needed to connect, built from the configuration.
#[derive(Debug, Clone)]
pub struct PgTarget {
    pub conninfo: Secret,
    pub sslmode: SslMode,
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// The bound of one ledger operation (see [`super::PgLedger::bounded`]).
    pub query_timeout: Duration,
}

impl PgTarget {
    /// `postgresql://user@host:port/db`, without the password or any other
    /// option: for logs and errors.
    pub fn describe(&self) -> String {
        match Config::from_str(self.conninfo.expose()) {
            Ok(c) => describe(&c),
            Err(_) => "postgresql (unparsable conninfo)".to_owned(),
        }
    }

    fn config(&self) -> Result<Config, LedgerError> {
        let mut config =
            Config::from_str(self.conninfo.expose()).map_err(|e| LedgerError::PgConfig {
                // Option names only, never values: the parser's messages name
                // the key it could not read.
                detail: format!("the conninfo cannot be read: {}", pg_detail(&e)),
            })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(self.connect_timeout);
        }
        config.application_name("govnode");
        config.ssl_mode(match self.sslmode {
            SslMode::Disable => WireSslMode::Disable,
            SslMode::VerifyFull => WireSslMode::Require,
        });
        Ok(config)
    }

    /// Opens one connection; its I/O runs on a task of its own, which ends
    /// when the server goes away (the client then reports `is_closed`).
    pub async fn connect(&self) -> Result<Client, LedgerError> {
        let config = self.config()?;
        let target = describe(&config);
        let failed = |e: tokio_postgres::Error| {
            let (target, detail) = (target.clone(), pg_detail(&e));
            if e.code().is_some_and(refused) {
                LedgerError::PgRefused { target, detail }
            } else {
                LedgerError::PgConnect { target, detail }
            }
        };
        let client = match self.sslmode {
            SslMode::Disable => {
                let (client, conn) = config.connect(NoTls).await.map_err(failed)?;
                tokio::spawn(watch(conn, target.clone()));
                client
            }
            SslMode::VerifyFull => {
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(self.tls_config()?);
                let (client, conn) = config.connect(tls).await.map_err(failed)?;
                tokio::spawn(watch(conn, target.clone()));
                client
            }
        };
        Ok(client)
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, LedgerError> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let path = self.ca_file.as_ref().ok_or_else(|| LedgerError::PgConfig {
            detail: "ledger.sslmode verify-full needs ledger.ca_file".into(),
        })?;
        let bad = |detail: String| LedgerError::PgConfig {
            detail: format!("ledger.ca_file {}: {detail}", path.display()),
        };
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
            let cert = cert.map_err(|e| bad(e.to_string()))?;
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(bad("holds no PEM certificate".into()));
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }
}

/// Authentication failed (class 28) or the database does not exist: the
/// server is up and a retry would be refused the same way.
fn refused(code: &tokio_postgres::error::SqlState) -> bool {
    code.code().starts_with("28") || *code == tokio_postgres::error::SqlState::INVALID_CATALOG_NAME
}

async fn watch<S, T>(conn: tokio_postgres::Connection<S, T>, target: String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if let Err(e) = conn.await {
        tracing::warn!(target = %target, error = %e, "ledger database connection lost");
    }
}

fn describe(c: &Config) -> String {
    let host = match c.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    let user = c.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let db = c.get_dbname().unwrap_or("");
    format!("postgresql://{user}{host}:{port}/{db}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(conninfo: &str) -> PgTarget {
        PgTarget {
            conninfo: Secret::new(conninfo),
            sslmode: SslMode::Disable,
            ca_file: None,
            connect_timeout: Duration::from_secs(1),
            query_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_description_never_holds_the_password() {
        for conninfo in [
            "postgresql://gov:hunter2@db.example:6543/ledger",
            "host=db.example port=6543 user=gov password=hunter2 dbname=ledger",
        ] {
            let d = target(conninfo).describe();
            assert!(!d.contains("hunter2"), "{d}");
            assert_eq!(d, "postgresql://gov@db.example:6543/ledger");
        }
    }

    #[test]
    fn a_bad_conninfo_is_refused_without_its_text() {
        let err = target("host=x password=hunter2 port=notaport")
            .config()
            .unwrap_err()
            .to_string();
        assert!(err.contains("port"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
