//! `govnode backup`: an online copy of the ledger that is safe while the
//! daemon runs.
//!
//! The source is opened read-only and copied with SQLite's backup API in a
//! single step, i.e. inside one read transaction: in WAL mode that reader sees
//! exactly the last committed state and does not block the daemon's writer,
//! so the copy is one consistent snapshot however busy the round is. (Copying
//! in several steps would restart whenever the daemon commits in between.)
//! The copy is switched to a rollback journal so it is one self-contained
//! file, checked with `integrity_check`, given its `backup_meta` header and
//! only then renamed into place, private (0600).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, params};

use super::error::StateError;
use super::files::{self, TempFile};
use crate::ledger::{self, LedgerInfo};

/// The header table a backup carries: `key`/`value` rows (`format`,
/// `govnode_version`, `created_at`, `daos`, `schema_version`,
/// `source_path`, `votes`, `rounds`; and `chain_id`, `dao` when the ledger
/// holds exactly one DAO, as headers before multi-DAO ledgers had). `daos`
/// lists every `chain_id:dao` pair, comma-separated. Dropped again when
/// restored.
pub const BACKUP_META_TABLE: &str = "backup_meta";

/// Bumped if the header's meaning ever changes.
const FORMAT: &str = "govnode-ledger-backup/1";

/// How long to retry while the source is momentarily locked (WAL recovery
/// after a crash, a checkpoint restarting the log).
const BUSY_BUDGET: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct BackupReport {
    /// The ledger's absolute path, or its PostgreSQL target (no password).
    pub ledger: String,
    pub to: PathBuf,
    /// What the snapshot holds (read from the copy, not the live file).
    pub info: LedgerInfo,
    pub created_at: String,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// Copies the ledger at `ledger` to `to` (replacing `to` if it exists).
pub fn backup(ledger: &Path, to: &Path) -> Result<BackupReport, StateError> {
    let started = Instant::now();
    if !ledger.exists() {
        return Err(StateError::NoLedger {
            path: ledger.to_owned(),
        });
    }
    if files::same_file(ledger, to) {
        return Err(StateError::SameFile {
            path: to.to_owned(),
        });
    }
    let source = ledger::open_read_only(ledger)?;
    ledger::inspect(&source, ledger)?;

    let tmp = TempFile::beside(to, "backup")?;
    let mut copy = Connection::open(tmp.path()).map_err(|e| StateError::Backup {
        path: ledger.to_owned(),
        detail: format!("cannot open {}: {e}", tmp.path().display()),
    })?;
    // The temporary file is fsynced once before it is renamed into place; a
    // crash before that leaves only a temporary file, so SQLite's own fsyncs
    // on every step would buy nothing.
    copy.execute_batch("PRAGMA synchronous = OFF")
        .map_err(|e| StateError::Backup {
            path: ledger.to_owned(),
            detail: e.to_string(),
        })?;
    copy_all(&source, &mut copy, ledger)?;
    drop(source);
    let source_path = std::path::absolute(ledger).unwrap_or_else(|_| ledger.to_owned());
    seal(
        copy,
        tmp,
        to,
        &source_path.display().to_string(),
        ledger,
        started,
    )
}

/// Makes the copy in `tmp` one self-contained, checked file with its header
/// and renames it over `to`. `source` names the ledger in the header and the
/// report, `ledger` in errors.
pub(super) fn seal(
    copy: Connection,
    tmp: TempFile,
    to: &Path,
    source: &str,
    ledger: &Path,
    started: Instant,
) -> Result<BackupReport, StateError> {
    let fail = |detail: String| StateError::Backup {
        path: ledger.to_owned(),
        detail,
    };
    let mode: String = copy
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .map_err(|e| fail(format!("cannot make the copy self-contained: {e}")))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(fail(format!("the copy stays in journal mode {mode:?}")));
    }
    check_integrity(&copy).map_err(|detail| fail(format!("the copy is damaged: {detail}")))?;
    let info = ledger::inspect(&copy, to)?;
    let created_at = files::now_rfc3339();
    write_header(&copy, &info, &created_at, source)
        .map_err(|e| fail(format!("cannot write the backup header: {e}")))?;
    copy.close()
        .map_err(|(_, e)| fail(format!("cannot close the copy: {e}")))?;

    let bytes = std::fs::metadata(tmp.path()).map(|m| m.len()).unwrap_or(0);
    tmp.persist()?;
    Ok(BackupReport {
        ledger: source.to_owned(),
        to: to.to_owned(),
        info,
        created_at,
        bytes,
        elapsed: started.elapsed(),
    })
}

/// All pages in one step (one read transaction), retried while busy.
pub(super) fn copy_all(
    source: &Connection,
    dest: &mut Connection,
    source_path: &Path,
) -> Result<(), StateError> {
    let fail = |e: rusqlite::Error| StateError::Backup {
        path: source_path.to_owned(),
        detail: e.to_string(),
    };
    let copy = Backup::new(source, dest).map_err(fail)?;
    let deadline = Instant::now() + BUSY_BUDGET;
    loop {
        match copy.step(-1).map_err(fail)? {
            StepResult::Done => return Ok(()),
            _ if Instant::now() >= deadline => {
                return Err(StateError::Backup {
                    path: source_path.to_owned(),
                    detail: format!("the ledger stayed locked for {BUSY_BUDGET:?}"),
                });
            }
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// `PRAGMA integrity_check`: `Err` with SQLite's findings unless it says `ok`.
pub(super) fn check_integrity(conn: &Connection) -> Result<(), String> {
    let mut stmt = conn
        .prepare("PRAGMA integrity_check")
        .map_err(|e| e.to_string())?;
    let lines = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(|e| e.to_string())?;
    match lines.as_slice() {
        [ok] if ok == "ok" => Ok(()),
        _ => Err(lines.join("; ")),
    }
}

fn write_header(
    conn: &Connection,
    info: &LedgerInfo,
    created_at: &str,
    source: &str,
) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "DROP TABLE IF EXISTS {BACKUP_META_TABLE};
         CREATE TABLE {BACKUP_META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;"
    ))?;
    let daos = info
        .identities
        .iter()
        .map(|i| format!("{}:{:#x}", i.chain_id, i.dao))
        .collect::<Vec<_>>()
        .join(",");
    let mut rows = vec![
        ("format", FORMAT.to_owned()),
        ("govnode_version", env!("CARGO_PKG_VERSION").to_owned()),
        ("created_at", created_at.to_owned()),
        ("daos", daos),
        ("schema_version", info.schema_version.to_string()),
        ("source_path", source.to_owned()),
        ("votes", info.votes.to_string()),
        ("rounds", info.rounds.to_string()),
    ];
    if let [only] = info.identities.as_slice() {
        rows.push(("chain_id", only.chain_id.to_string()));
        rows.push(("dao", format!("{:#x}", only.dao)));
    }
    let mut stmt = conn.prepare(&format!(
        "INSERT INTO {BACKUP_META_TABLE} (key, value) VALUES (?1, ?2)"
    ))?;
    for (k, v) in rows {
        stmt.execute(params![k, v])?;
    }
    Ok(())
}

/// The `backup_meta` header of a file made by `govnode backup`; `None` for a
/// plain ledger file (a copy taken while the daemon was stopped).
pub fn read_header(conn: &Connection) -> rusqlite::Result<Option<BTreeMap<String, String>>> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)",
        [BACKUP_META_TABLE],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(None);
    }
    let mut stmt = conn.prepare(&format!("SELECT key, value FROM {BACKUP_META_TABLE}"))?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect::<rusqlite::Result<BTreeMap<_, _>>>().map(Some)
}
