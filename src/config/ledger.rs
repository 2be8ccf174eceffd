//! The `ledger:` section: SQLite (a file) or PostgreSQL. The PostgreSQL
//! conninfo may carry a password, so it is only ever read from a file or a
//! systemd credential and never appears in a message.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use super::issues::{Issues, field};
use super::load::read_secret;
use super::schema::{LedgerConfig, LedgerKind};
use super::secret::pick_source;
use crate::ledger::LedgerLocation;
use crate::ledger::pg::{PgTarget, SslMode};

pub const INLINE_URL_ADVICE: &str = "inline ledger URLs are not accepted (the URL may hold the database password): write it to a file readable only by govnode and set url_file: PATH, or deliver it with systemd LoadCredential=NAME:PATH and set url_credential: NAME";

/// A server that does not answer within this is reported, not waited on.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const QUERY_TIMEOUT_MIN: Duration = Duration::from_secs(1);
const QUERY_TIMEOUT_MAX: Duration = Duration::from_secs(600);

pub fn validate_ledger(ledger: &LedgerConfig, issues: &mut Issues) {
    let p = "ledger";
    match ledger.kind {
        LedgerKind::Sqlite => {
            for (set, key) in [
                (ledger.url_file.is_some(), "url_file"),
                (ledger.url_credential.is_some(), "url_credential"),
                (ledger.ca_file.is_some(), "ca_file"),
                (ledger.sslmode != SslMode::Disable, "sslmode"),
                (
                    ledger.query_timeout != LedgerConfig::default().query_timeout,
                    "query_timeout",
                ),
            ] {
                if set {
                    issues.push(field(p, key), "only used with kind: postgres");
                }
            }
        }
        LedgerKind::Postgres => {
            if ledger.path.is_some() {
                issues.push(
                    field(p, "path"),
                    "only used with kind: sqlite (a PostgreSQL ledger is named by url_file or url_credential)",
                );
            }
            pick_source(
                p,
                "url",
                ledger.url_file.as_ref(),
                ledger.url_credential.as_ref(),
                true,
                issues,
            );
            if !(QUERY_TIMEOUT_MIN..=QUERY_TIMEOUT_MAX).contains(&ledger.query_timeout) {
                issues.push(
                    field(p, "query_timeout"),
                    "must be between 1s and 10m (how long one ledger operation may take before the connection is given up)",
                );
            }
            match (ledger.sslmode, &ledger.ca_file) {
                (SslMode::VerifyFull, None) => issues.push(
                    field(p, "ca_file"),
                    "required with sslmode: verify-full (the CA bundle, PEM, that signed the server's certificate)",
                ),
                (SslMode::Disable, Some(_)) => {
                    issues.push(field(p, "ca_file"), "only used with sslmode: verify-full")
                }
                _ => {}
            }
        }
    }
}

/// Reads the PostgreSQL conninfo of a `kind: postgres` ledger; `None` for
/// SQLite or when reading failed (reported at the field that named it).
pub fn read_target(
    ledger: &LedgerConfig,
    abs: &dyn Fn(&PathBuf) -> PathBuf,
    creds: Option<&Path>,
    issues: &mut Issues,
) -> Option<PgTarget> {
    if ledger.kind != LedgerKind::Postgres {
        return None;
    }
    let file = ledger.url_file.as_ref().map(abs);
    let (src, conninfo, at) = read_secret(
        "ledger",
        "url",
        file.as_ref(),
        ledger.url_credential.as_ref(),
        creds,
        issues,
    )?;
    if tokio_postgres::Config::from_str(conninfo.expose()).is_err() {
        issues.push(
            at,
            format!(
                "{src} does not hold a PostgreSQL connection string (postgresql://USER@HOST:PORT/DB or host=... dbname=...)"
            ),
        );
        return None;
    }
    Some(PgTarget {
        conninfo,
        sslmode: ledger.sslmode,
        ca_file: ledger.ca_file.as_ref().map(abs),
        connect_timeout: CONNECT_TIMEOUT,
        query_timeout: ledger.query_timeout,
    })
}

/// The PostgreSQL target of a configuration loaded without its other
/// secrets (the state tools): `None` for a SQLite ledger.
pub fn tool_target(
    unresolved: &super::Unresolved,
    env: &super::LoadEnv,
) -> Result<Option<PgTarget>, super::ConfigError> {
    let base = unresolved.source.parent().unwrap_or(Path::new("."));
    let abs = |p: &PathBuf| base.join(p);
    let mut issues = Issues::default();
    let target = read_target(
        &unresolved.config.ledger,
        &abs,
        env.credentials_dir.as_deref(),
        &mut issues,
    );
    if !issues.is_empty() {
        return Err(super::ConfigError::Invalid {
            path: unresolved.source.clone(),
            issues: issues.into_vec(),
        });
    }
    Ok(target)
}

/// A PostgreSQL target named outside the configuration (`ledger migrate`),
/// with the configuration's TLS options.
pub fn target_with(unresolved: &super::Unresolved, conninfo: super::Secret) -> PgTarget {
    let base = unresolved.source.parent().unwrap_or(Path::new("."));
    let ledger = &unresolved.config.ledger;
    PgTarget {
        conninfo,
        sslmode: ledger.sslmode,
        ca_file: ledger.ca_file.as_ref().map(|p| base.join(p)),
        connect_timeout: CONNECT_TIMEOUT,
        query_timeout: ledger.query_timeout,
    }
}

/// Where the daemon opens its ledger.
pub fn location(sqlite_path: &Path, postgres: Option<&PgTarget>) -> LedgerLocation {
    match postgres {
        Some(target) => LedgerLocation::Postgres(target.clone()),
        None => LedgerLocation::Sqlite(sqlite_path.to_owned()),
    }
}
