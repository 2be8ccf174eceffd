//! State tools for operators: `govnode backup`, `govnode restore` and
//! `govnode ledger export`. They work on the vote ledger named by the
//! configuration and never read a secret, so they run without the node keys.
//!
//! - [`backup`] copies the ledger with SQLite's online backup API through a
//!   read-only connection: safe while the daemon runs and writes, and the copy
//!   is one consistent snapshot with a `backup_meta` header table.
//! - [`restore`] refuses while the daemon runs, checks the file and its
//!   schema, and that the configured chain/DAO is among the DAOs it holds,
//!   keeps the old ledger as `<ledger>.pre-restore-<time>` and swaps the
//!   new one in with a rename.
//! - [`export`] writes every vote as JSON lines or CSV, never the signed
//!   transaction bytes.
//! - [`migrate`] moves a SQLite ledger into an empty PostgreSQL one.
//!
//! A ledger holds every DAO's rows, on every chain: the tools work on all
//! of them, whichever DAO the configuration names.
//!
//! With `ledger.kind: postgres` the same tools work on the database
//! (`postgres`; their only secret is its conninfo), and its backups are the
//! same SQLite files, so either backend's backup restores onto either.
//!
//! See docs/state-tools.md.

mod backup;
mod cli;
mod error;
mod export;
mod files;
mod in_use;
mod init;
mod migrate;
mod pg_copy;
mod postgres;
mod restore;

use std::path::{Path, PathBuf};

use alloy::primitives::Address;

use crate::config::{self, ConfigError, ConfigIssue, LoadEnv};
use crate::ledger::LedgerIdentity;
use crate::ledger::pg::PgTarget;

pub use backup::{BACKUP_META_TABLE, BackupReport, backup, read_header};
pub use cli::{
    MigrateDestination, backup_command, export_command, init_command, migrate_command,
    restore_command,
};
pub use error::StateError;
pub use export::{COLUMNS, ExportFormat, csv_field, export};
pub use files::ms_rfc3339;
pub use in_use::evidence as in_use_evidence;
pub use init::{InitReport, init};
pub use migrate::{MigrateReport, migrate};
pub use restore::{RestoreReport, restore};

/// `ledger init` makes a SQLite file; the daemon creates and migrates a
/// PostgreSQL ledger itself.
const POSTGRES_INIT_REFUSAL: &str = "postgres: ledger init creates a SQLite ledger file; the daemon creates and migrates a PostgreSQL ledger on its first start (see docs/operations.md, PostgreSQL ledger)";

/// What the state tools need from a configuration.
#[derive(Debug, Clone)]
pub struct Target {
    pub config_path: PathBuf,
    /// The SQLite ledger; with `ledger.kind: postgres`, where it would be
    /// (the state directory).
    pub ledger_path: PathBuf,
    /// Set with `ledger.kind: postgres`: the tools then work on that database.
    pub postgres: Option<PgTarget>,
    pub control_socket: PathBuf,
    /// The chain and DAO the configuration votes in: a restored backup
    /// must hold it (or no DAO yet), and `ledger init` registers it.
    pub identity: LedgerIdentity,
}

impl Target {
    /// Reads the configuration without resolving any secret but the
    /// PostgreSQL ledger's conninfo.
    pub fn load(path: &Path, env: &LoadEnv) -> Result<Target, StateError> {
        let c = config::load_unresolved(path, env)?;
        let postgres = config::ledger_tool_target(&c, env)?;
        let dao = c
            .config
            .dao
            .address
            .parse::<Address>()
            .map_err(|e| ConfigError::Invalid {
                path: path.to_owned(),
                issues: vec![ConfigIssue {
                    path: "dao.address".into(),
                    message: format!("not an address: {e}"),
                }],
            })?;
        Ok(Target {
            config_path: c.source,
            ledger_path: c.ledger_path,
            postgres,
            control_socket: c.control_socket,
            identity: LedgerIdentity {
                chain_id: c.config.chain.id,
                dao,
            },
        })
    }

    /// `ledger init` works on a SQLite file only.
    pub fn refuse_postgres_init(&self) -> Result<(), StateError> {
        if self.postgres.is_none() {
            return Ok(());
        }
        Err(ConfigError::Invalid {
            path: self.config_path.clone(),
            issues: vec![ConfigIssue {
                path: "ledger.kind".into(),
                message: POSTGRES_INIT_REFUSAL.into(),
            }],
        }
        .into())
    }
}

/// `chain 31337, DAO 0x…` as the ledger's own errors say it.
pub fn describe(identity: LedgerIdentity) -> String {
    format!("chain {}, DAO {:#x}", identity.chain_id, identity.dao)
}

/// Every pair of a ledger, `chain 1, DAO 0x…; chain 10, DAO 0x…`, or `no
/// DAO yet` for a ledger no daemon has opened for one.
pub fn describe_all(identities: &[LedgerIdentity]) -> String {
    if identities.is_empty() {
        return "no DAO yet".into();
    }
    identities
        .iter()
        .map(|i| describe(*i))
        .collect::<Vec<_>>()
        .join("; ")
}
