//! State tools for operators: `govnode backup`, `govnode restore` and
//! `govnode ledger export`. They work on the vote ledger named by the
//! configuration and never read a secret, so they run without the node keys.
//!
//! - [`backup`] copies the ledger with SQLite's online backup API through a
//!   read-only connection: safe while the daemon runs and writes, and the copy
//!   is one consistent snapshot with a `backup_meta` header table.
//! - [`restore`] refuses while the daemon runs, checks the file and its
//!   chain/DAO/schema against the configuration, keeps the old ledger as
//!   `<ledger>.pre-restore-<time>` and swaps the new one in with a rename.
//! - [`export`] writes every vote as JSON lines or CSV, never the signed
//!   transaction bytes.
//!
//! See docs/state-tools.md.

mod backup;
mod cli;
mod error;
mod export;
mod files;
mod in_use;
mod init;
mod restore;

use std::path::{Path, PathBuf};

use alloy::primitives::Address;

use crate::config::{self, ConfigError, ConfigIssue, LedgerKind, LoadEnv};
use crate::ledger::LedgerIdentity;

pub use backup::{BACKUP_META_TABLE, BackupReport, backup, read_header};
pub use cli::{backup_command, export_command, init_command, restore_command};
pub use error::StateError;
pub use export::{COLUMNS, ExportFormat, csv_field, export};
pub use files::ms_rfc3339;
pub use in_use::evidence as in_use_evidence;
pub use init::{InitReport, init};
pub use restore::{RestoreReport, restore};

/// The tools read and write a SQLite file; on a PostgreSQL ledger they would
/// act on a file the daemon does not use.
const POSTGRES_REFUSAL: &str = "postgres: backup, restore, ledger export and ledger init work on a SQLite ledger only; use pg_dump and pg_restore for a PostgreSQL ledger (see docs/operations.md, PostgreSQL ledger)";

/// What the state tools need from a configuration.
#[derive(Debug, Clone)]
pub struct Target {
    pub config_path: PathBuf,
    pub ledger_path: PathBuf,
    pub control_socket: PathBuf,
    /// The chain and DAO the configuration's ledger must belong to.
    pub identity: LedgerIdentity,
}

impl Target {
    /// Reads the configuration without resolving any secret.
    pub fn load(path: &Path, env: &LoadEnv) -> Result<Target, StateError> {
        let c = config::load_unresolved(path, env)?;
        if c.config.ledger.kind == LedgerKind::Postgres {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                issues: vec![ConfigIssue {
                    path: "ledger.kind".into(),
                    message: POSTGRES_REFUSAL.into(),
                }],
            }
            .into());
        }
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
            control_socket: c.control_socket,
            identity: LedgerIdentity {
                chain_id: c.config.chain.id,
                dao,
            },
        })
    }
}

/// `chain 31337, DAO 0x…` as the ledger's own errors say it.
pub fn describe(identity: LedgerIdentity) -> String {
    format!("chain {}, DAO {:#x}", identity.chain_id, identity.dao)
}
