//! State tool errors. Each names the file, socket or value that is wrong and,
//! where there is one, what to do about it.

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::exit;
use crate::ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{}", .0.report())]
    Config(#[from] ConfigError),
    #[error("no ledger at {path}: the daemon creates it on its first start (ledger.path)")]
    NoLedger { path: PathBuf },
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    #[error("{path}: {detail}")]
    NotALedger { path: PathBuf, detail: String },
    #[error(
        "the daemon is running: {evidence}; stop it first (systemctl stop govnode) and run the restore again"
    )]
    DaemonRunning { evidence: String },
    #[error(
        "the backup {path} belongs to {found}, but the configuration names {expected}; restoring it would give the daemon a ledger it refuses. Check that this is the right backup and configuration, or pass --force to restore it anyway"
    )]
    IdentityMismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error(
        "the backup {path} has ledger schema version {found}, newer than this govnode supports ({supported}); restore it with the govnode release that wrote it (--force does not override this)"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("the backup would overwrite the ledger itself ({path}); choose another --to")]
    SameFile { path: PathBuf },
    #[error("{what} {path}: {reason}")]
    Io {
        what: &'static str,
        path: PathBuf,
        reason: String,
        kind: std::io::ErrorKind,
    },
    #[error(
        "the PostgreSQL ledger {target} already holds rows ({counts}); migrate moves a ledger into an empty one only and never merges two. Point --url-file at an empty database, or restore a backup there instead"
    )]
    NotEmpty { target: String, counts: String },
    #[error("{0}")]
    Usage(String),
    #[error("the backup of {path} could not finish: {detail}")]
    Backup { path: PathBuf, detail: String },
}

impl StateError {
    pub fn io(what: &'static str, path: &std::path::Path, e: std::io::Error) -> StateError {
        StateError::Io {
            what,
            path: path.to_owned(),
            reason: e.to_string(),
            kind: e.kind(),
        }
    }

    /// 78 when the configuration cannot be read or is invalid, or the
    /// command line names an unusable target; 1 for every other failure or
    /// refusal.
    pub fn exit_code(&self) -> i32 {
        match self {
            StateError::Config(_) | StateError::Usage(_) => exit::CONFIG,
            _ => exit::FAILURE,
        }
    }
}
