//! `govnode ledger migrate --to postgres`: moves a SQLite ledger's votes
//! into an empty PostgreSQL ledger.
//!
//! Order matters, so that every failure leaves a ledger the daemon can run on:
//! 1. refuse while the daemon (or anything) has the SQLite ledger open;
//! 2. back the SQLite ledger up beside itself (`<ledger>.pre-migrate-<time>`)
//!    and copy from that backup, so what is copied is exactly what was kept;
//! 3. copy every row of every DAO, and the registered pairs, into
//!    PostgreSQL in one transaction, refusing a PostgreSQL ledger that holds
//!    any vote or round (no merging), and checking the counts before the
//!    commit;
//! 4. mark the SQLite ledger as moved (`meta.moved_to`): the daemon refuses
//!    to vote from it again, since it would miss every vote cast since.

use std::path::{Path, PathBuf};

use rusqlite::params;

use super::error::StateError;
use super::pg_copy::Counts;
use super::postgres::{block_on, replace};
use super::{Target, backup, files, in_use};
use crate::ledger::pg::PgTarget;
use crate::ledger::{self, LedgerError, MOVED_TO_KEY};

#[derive(Debug)]
pub struct MigrateReport {
    pub from: PathBuf,
    /// The PostgreSQL target, without a password.
    pub to: String,
    pub backup: PathBuf,
    pub copied: Counts,
}

pub fn migrate(target: &Target, dest: &PgTarget) -> Result<MigrateReport, StateError> {
    let ledger_path = &target.ledger_path;
    if !ledger_path.exists() {
        return Err(StateError::NoLedger {
            path: ledger_path.clone(),
        });
    }
    if let Some(evidence) = in_use::evidence(ledger_path, &target.control_socket) {
        return Err(StateError::DaemonRunning { evidence });
    }
    let conn = ledger::open_read_only(ledger_path)?;
    ledger::inspect(&conn, ledger_path)?;
    if let Some(to) = moved_to(&conn)? {
        return Err(StateError::Ledger(LedgerError::Moved {
            path: ledger_path.clone(),
            to,
        }));
    }
    drop(conn);

    let kept = files::unused_sidecar(ledger_path, "pre-migrate");
    backup(ledger_path, &kept)?;
    // The copy (never the ledger itself) gains this build's schema if an
    // older govnode last wrote the ledger, so its columns match PostgreSQL's.
    let mut source = rusqlite::Connection::open(&kept).map_err(LedgerError::from)?;
    ledger::prepare_schema(&mut source, &kept)?;
    let copied = block_on(replace(dest, &source, false, async |_: &Counts| Ok(())))??;
    drop(source);
    let to = dest.describe();
    mark_moved(ledger_path, &to).map_err(|e| StateError::Backup {
        path: ledger_path.clone(),
        detail: format!(
            "the votes are in {to}, but the SQLite ledger could not be marked as moved ({e}); do not start the daemon with ledger.kind: sqlite on it"
        ),
    })?;
    Ok(MigrateReport {
        from: ledger_path.clone(),
        to,
        backup: kept,
        copied,
    })
}

fn moved_to(conn: &rusqlite::Connection) -> Result<Option<String>, StateError> {
    use rusqlite::OptionalExtension;
    conn.query_row(
        "SELECT value FROM meta WHERE key = ?1",
        [MOVED_TO_KEY],
        |r| r.get(0),
    )
    .optional()
    .map_err(|e| LedgerError::from(e).into())
}

fn mark_moved(ledger_path: &Path, to: &str) -> rusqlite::Result<()> {
    let conn = rusqlite::Connection::open(ledger_path)?;
    conn.execute_batch("PRAGMA synchronous = FULL")?;
    for (k, v) in [
        (MOVED_TO_KEY, to.to_owned()),
        ("moved_at", files::now_ms().to_string()),
    ] {
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![k, v],
        )?;
    }
    conn.close().map_err(|(_, e)| e)
}
