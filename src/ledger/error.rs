//! Ledger errors. Each names the file (or database) or the vote row it concerns.

use std::path::PathBuf;

use super::model::VoteState;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot create the ledger directory {path}: {reason}")]
    CreateDir { path: PathBuf, reason: String },
    #[error("cannot open the ledger {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the ledger {path} is empty (0 bytes): a govnode ledger is never empty, so this file was truncated or made by hand; restore a backup, or run `govnode ledger init` to start a fresh ledger"
    )]
    Empty { path: PathBuf },
    #[error("{path} is not a govnode ledger ({detail}); refusing to touch it")]
    Foreign { path: PathBuf, detail: String },
    #[error(
        "the ledger {path} has schema version {found}, newer than this govnode supports ({supported}); run the govnode release that wrote it, or restore a backup"
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    // No `WrongIdentity` any more: a ledger holds every DAO's rows, and
    // opening it for a new (chain, DAO) pair registers that pair. Whether a
    // backup fits a configuration is the restore's question
    // (`StateError::IdentityMismatch`), not the ledger's.
    #[error(
        "chain id {chain_id} is beyond what the ledger stores (at most {max}); check chain.id",
        max = i64::MAX
    )]
    ChainIdRange { chain_id: u64 },
    #[error(
        "a ledger handle of {handle} was asked about DAO {asked}; open or scope a handle for that DAO (Ledger::scoped)"
    )]
    OtherDao { handle: String, asked: String },
    #[error(
        "the ledger {path} was moved to the PostgreSQL ledger {to} by `govnode ledger migrate`; set ledger.kind: postgres (its votes since then are only there), or restore the backup taken before the move to go back"
    )]
    Moved { path: PathBuf, to: String },
    #[error("ledger migration to version {version} failed: {source}")]
    Migration {
        version: u32,
        #[source]
        source: rusqlite::Error,
    },
    #[error("vote {id}: cannot go from {from} to {to}")]
    InvalidTransition {
        id: i64,
        from: VoteState,
        to: VoteState,
    },
    #[error("vote {id}: {detail}")]
    Rejected { id: i64, detail: String },
    #[error("no vote row {id}")]
    NoSuchVote { id: i64 },
    #[error("{what}: skip is not a vote and is not recorded")]
    NotAVote { what: String },
    #[error("ledger row {what} holds an unreadable value: {detail}")]
    Corrupt { what: String, detail: String },
    #[error("ledger query failed: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("ledger worker failed: {0}")]
    Task(String),
    #[error("cannot connect to the PostgreSQL ledger {target}: {detail}")]
    PgConnect { target: String, detail: String },
    /// The server answered and said no: restarting will not change that.
    #[error(
        "the PostgreSQL ledger {target} refuses govnode: {detail}; check the user, password and database in the file named by ledger.url_file / ledger.url_credential"
    )]
    PgRefused { target: String, detail: String },
    /// The server did not answer in time; the connection was dropped. A
    /// write in flight may or may not have committed, as after a crash.
    #[error(
        "the PostgreSQL ledger {target} did not answer within {} (ledger.query_timeout); the connection was dropped and is opened again on the next use",
        humantime::format_duration(*.after)
    )]
    PgTimeout {
        target: String,
        after: std::time::Duration,
    },
    #[error("ledger.url_file / ledger.url_credential: {detail}")]
    PgConfig { detail: String },
    #[error("ledger migration to version {version} failed: {source}")]
    PgMigration {
        version: u32,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("ledger database query failed: {}", pg_detail(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("this needs a SQLite ledger; the configured ledger is {0}")]
    NotSqlite(String),
    #[error(
        "this daemon (id {id}) no longer holds the lease of group {group}; the leader is {leader}: nothing is written or sent"
    )]
    Fenced {
        id: String,
        group: String,
        leader: String,
    },
    #[error(
        "this daemon (id {id}) last renewed the lease of group {group} {age_ms} ms ago, too close to its end ({lease_ms} ms): nothing is written or sent until it renews"
    )]
    LeaseUnrenewed {
        id: String,
        group: String,
        age_ms: u64,
        lease_ms: u64,
    },
}

impl LedgerError {
    /// True when this daemon may not write because another one leads (or
    /// may lead by now).
    pub fn is_fenced(&self) -> bool {
        matches!(
            self,
            LedgerError::Fenced { .. } | LedgerError::LeaseUnrenewed { .. }
        )
    }
}

/// tokio-postgres prints "db error" for every server error; its cause holds
/// what the server said (which never includes the conninfo).
pub(super) fn pg_detail(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}
