//! `govnode restore FILE`: puts a backup in place of the ledger.
//!
//! Order matters, so that every failure leaves the old ledger untouched:
//! 1. refuse if the daemon (or anything) has the ledger open;
//! 2. copy FILE into a private temporary file beside the ledger (through
//!    SQLite, so a source still in WAL mode comes with its log) and check the
//!    copy: integrity, govnode application id and meta, schema not newer than
//!    this build, the configuration's chain and DAO among the DAOs it holds
//!    (unless forced, or it holds none yet; see [`check_fits`]);
//! 3. fold the old ledger's WAL into its main file and keep that file as
//!    `<ledger>.pre-restore-<time>` (a hard link, so the ledger path never
//!    disappears; an old ledger SQLite cannot open is moved aside as it is,
//!    with its `-wal`/`-shm`, so no stale log can attach to the new file);
//! 4. rename the copy over the ledger and fsync the directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags, params};

use super::backup::{BACKUP_META_TABLE, check_integrity, copy_all, read_header};
use super::error::StateError;
use super::files::{self, TempFile, sidecar};
use super::{Target, describe, describe_all, in_use};
use crate::ledger::{self, LedgerError, LedgerInfo};

#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// The ledger's path, or its PostgreSQL target (no password).
    pub ledger: String,
    pub from: PathBuf,
    pub info: LedgerInfo,
    /// The backup's `backup_meta` header, if it has one.
    pub header: Option<BTreeMap<String, String>>,
    /// Where the old ledger was kept, if there was one.
    pub previous: Option<PathBuf>,
    /// What `--force` let through, and anything else an operator should know.
    pub warnings: Vec<String>,
}

pub fn restore(target: &Target, file: &Path, force: bool) -> Result<RestoreReport, StateError> {
    let ledger_path = &target.ledger_path;
    if let Some(evidence) = in_use::evidence(ledger_path, &target.control_socket) {
        return Err(StateError::DaemonRunning { evidence });
    }
    if !file.is_file() {
        return Err(StateError::NotALedger {
            path: file.to_owned(),
            detail: "no such file".into(),
        });
    }
    if files::same_file(file, ledger_path) {
        return Err(StateError::SameFile {
            path: file.to_owned(),
        });
    }
    let dir = files::parent(ledger_path);
    std::fs::create_dir_all(dir)
        .map_err(|e| StateError::io("cannot create the ledger directory", dir, e))?;

    let tmp = TempFile::beside(ledger_path, "restore")?;
    let (info, header) = prepare(file, tmp.path())?;
    let mut warnings = check_fits(target, file, &info, force)?;
    stamp_restored(tmp.path(), file)?;
    // Root restoring for a daemon that runs as its own user: the new file
    // must belong to that user, as the old one (or the directory) does.
    let owner_of = if ledger_path.exists() {
        ledger_path.as_path()
    } else {
        dir
    };
    adopt_owner(tmp.path(), owner_of, &mut warnings);

    let previous = if ledger_path.exists() || sidecar(ledger_path, "-wal").exists() {
        Some(retire(ledger_path, &mut warnings)?)
    } else {
        None
    };
    tmp.persist()?;
    Ok(RestoreReport {
        ledger: ledger_path.display().to_string(),
        from: file.to_owned(),
        info,
        header,
        previous,
        warnings,
    })
}

/// Whether the backup is one of this deployment's: it holds the configured
/// (chain, DAO) pair, or no pair yet. A ledger holds every DAO's rows, so a
/// restore is not refused for the other pairs it holds; but a backup none
/// of whose DAOs is the configured one is most likely the wrong file (the
/// daemon would register its DAO beside them and vote as if it had no
/// memory), refused unless `force`. Returns the warnings `force` leaves.
pub(super) fn check_fits(
    target: &Target,
    file: &Path,
    info: &LedgerInfo,
    force: bool,
) -> Result<Vec<String>, StateError> {
    if info.identities.is_empty() || info.identities.contains(&target.identity) {
        return Ok(Vec::new());
    }
    let found = describe_all(&info.identities);
    if !force {
        return Err(StateError::IdentityMismatch {
            path: file.to_owned(),
            expected: describe(target.identity),
            found,
        });
    }
    Ok(vec![format!(
        "--force: the restored ledger holds {found}, the configuration names {}; the daemon registers that DAO beside them on its start and has no memory of votes it cast there",
        describe(target.identity)
    )])
}

/// Copies `file` into `tmp` and checks the copy; returns what it holds.
pub(super) fn prepare(
    file: &Path,
    tmp: &Path,
) -> Result<(LedgerInfo, Option<BTreeMap<String, String>>), StateError> {
    let not_ledger = |detail: String| StateError::NotALedger {
        path: file.to_owned(),
        detail,
    };
    let source = ledger::open_read_only(file)?;
    let mut copy = Connection::open(tmp).map_err(LedgerError::from)?;
    // Fsynced once by `TempFile::persist` before it becomes the ledger.
    copy.execute_batch("PRAGMA synchronous = OFF")
        .map_err(LedgerError::from)?;
    match copy_all(&source, &mut copy, file) {
        Ok(()) => {}
        Err(StateError::Backup { detail, .. }) if detail.contains("not a database") => {
            return Err(not_ledger("not a SQLite database".into()));
        }
        Err(e) => return Err(e),
    }
    drop(source);
    copy.query_row("PRAGMA journal_mode = DELETE", [], |r| {
        r.get::<_, String>(0)
    })
    .map_err(|e| not_ledger(format!("cannot read it as a database: {e}")))?;
    check_integrity(&copy).map_err(|d| not_ledger(format!("integrity check failed: {d}")))?;
    let info = match ledger::inspect(&copy, file) {
        Ok(info) => info,
        Err(LedgerError::Foreign { detail, .. }) => {
            return Err(not_ledger(format!("not a govnode ledger: {detail}")));
        }
        Err(LedgerError::TooNew {
            found, supported, ..
        }) => {
            return Err(StateError::SchemaTooNew {
                path: file.to_owned(),
                found,
                supported,
            });
        }
        Err(e) => return Err(e.into()),
    };
    let header = read_header(&copy).map_err(LedgerError::from)?;
    Ok((info, header))
}

/// Drops the backup header and notes in `meta` where the ledger came from.
fn stamp_restored(tmp: &Path, file: &Path) -> Result<(), StateError> {
    let conn = Connection::open(tmp).map_err(LedgerError::from)?;
    let from = std::path::absolute(file).unwrap_or_else(|_| file.to_owned());
    conn.execute_batch(&format!(
        "PRAGMA synchronous = OFF; BEGIN; DROP TABLE IF EXISTS {BACKUP_META_TABLE};"
    ))
    .map_err(LedgerError::from)?;
    for (k, v) in [
        ("restored_at", files::now_ms().to_string()),
        ("restored_from", from.display().to_string()),
    ] {
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![k, v],
        )
        .map_err(LedgerError::from)?;
    }
    conn.execute_batch("COMMIT").map_err(LedgerError::from)?;
    conn.close()
        .map_err(|(_, e)| StateError::from(LedgerError::from(e)))
}

fn adopt_owner(path: &Path, like: &Path, warnings: &mut Vec<String>) {
    use std::os::unix::fs::MetadataExt;
    let (Ok(want), Ok(have)) = (std::fs::metadata(like), std::fs::metadata(path)) else {
        return;
    };
    if (want.uid(), want.gid()) == (have.uid(), have.gid()) {
        return;
    }
    if let Err(e) = std::os::unix::fs::chown(path, Some(want.uid()), Some(want.gid())) {
        warnings.push(format!(
            "the restored ledger belongs to uid {} gid {}, not to uid {} gid {} like {} ({e}); chown it if the daemon runs as that user",
            have.uid(),
            have.gid(),
            want.uid(),
            want.gid(),
            like.display()
        ));
    }
}

/// Keeps the old ledger as `<ledger>.pre-restore-<time>`; returns that path.
fn retire(ledger_path: &Path, warnings: &mut Vec<String>) -> Result<PathBuf, StateError> {
    let kept = files::unused_sidecar(ledger_path, "pre-restore");
    match fold_wal(ledger_path) {
        Ok(()) => {}
        Err(FoldError::Busy) => {
            return Err(StateError::DaemonRunning {
                evidence: format!(
                    "another connection holds the ledger {} (SQLite reports it busy)",
                    ledger_path.display()
                ),
            });
        }
        Err(FoldError::Other(reason)) => {
            warnings.push(format!(
                "the old ledger could not be opened ({reason}); it was moved aside as it was, with its -wal/-shm files"
            ));
        }
    }
    // Sidecars first: a -wal left beside the new file would be replayed into it.
    for suffix in ["-wal", "-shm"] {
        let side = sidecar(ledger_path, suffix);
        if side.exists() {
            let to = sidecar(&kept, suffix);
            std::fs::rename(&side, &to)
                .map_err(|e| StateError::io("cannot move aside", &side, e))?;
        }
    }
    if ledger_path.exists() {
        if std::fs::hard_link(ledger_path, &kept).is_err() {
            std::fs::rename(ledger_path, &kept)
                .map_err(|e| StateError::io("cannot keep the old ledger", ledger_path, e))?;
        }
        files::sync_dir(files::parent(ledger_path))?;
    }
    Ok(kept)
}

enum FoldError {
    Busy,
    Other(String),
}

/// Checkpoints the WAL into the main file and leaves WAL mode, which also
/// deletes `-wal` and `-shm`. SQLite refuses to leave WAL mode while another
/// connection has the file open: a second, independent in-use check.
fn fold_wal(ledger_path: &Path) -> Result<(), FoldError> {
    let classify = |e: rusqlite::Error| match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => FoldError::Busy,
        _ => FoldError::Other(e.to_string()),
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(ledger_path, flags).map_err(classify)?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(classify)
    .and_then(|busy| {
        if busy != 0 {
            Err(FoldError::Busy)
        } else {
            Ok(())
        }
    })?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .map_err(classify)?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(FoldError::Busy);
    }
    conn.close().map_err(|(_, e)| classify(e))
}
