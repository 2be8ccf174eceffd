//! `govnode ledger init`: the one way to start a fresh ledger where an empty
//! (0-byte) file lies. The daemon refuses an empty file, because a ledger
//! that lost its contents would otherwise become a fresh one and every vote
//! would be decided again; the operator says so explicitly here.

use std::path::PathBuf;

use super::{StateError, Target, in_use_evidence};
use crate::ledger::{Ledger, LedgerInfo, inspect, open_read_only};

/// What `ledger init` found and did.
#[derive(Debug)]
pub struct InitReport {
    pub ledger: PathBuf,
    /// The ledger existed already (and was only checked and migrated).
    pub existed: bool,
    /// An empty file was replaced.
    pub replaced_empty: bool,
    pub info: LedgerInfo,
}

pub fn init(target: &Target) -> Result<InitReport, StateError> {
    if let Some(evidence) = in_use_evidence(&target.ledger_path, &target.control_socket) {
        return Err(StateError::DaemonRunning { evidence });
    }
    let path = &target.ledger_path;
    let meta = std::fs::metadata(path).ok();
    let existed = meta.as_ref().is_some_and(|m| m.len() > 0);
    let replaced_empty = meta.as_ref().is_some_and(|m| m.is_file() && m.len() == 0);
    if replaced_empty {
        std::fs::remove_file(path).map_err(|e| StateError::Io {
            what: "cannot remove the empty ledger file",
            path: path.clone(),
            reason: e.to_string(),
            kind: e.kind(),
        })?;
    }
    // Creates or migrates, and registers the configured DAO if it is new.
    drop(Ledger::open(path, target.identity)?);
    let info = inspect(&open_read_only(path)?, path)?;
    Ok(InitReport {
        ledger: path.clone(),
        existed,
        replaced_empty,
        info,
    })
}
