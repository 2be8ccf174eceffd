//! The state tools on a PostgreSQL ledger. A backup is the same file a
//! SQLite backup is (a SQLite ledger with its `backup_meta` header), so a
//! backup taken on either backend restores onto either, and `ledger export`
//! reads the same rows. Reads take one `REPEATABLE READ READ ONLY`
//! transaction: one consistent moment, and no lock the daemon waits for.
//! Writes (restore, migrate) happen in one transaction, so a failure leaves
//! the database as it was.

use std::future::Future;
use std::path::Path;
use std::time::Instant;

use rusqlite::Connection;
use tokio_postgres::{Client, GenericClient, IsolationLevel};

use super::backup::{BackupReport, seal};
use super::error::StateError;
use super::files::{self, TempFile};
use super::pg_copy::{self, Counts};
use super::restore::{self, RestoreReport};
use super::{ExportFormat, Target, export::export_from};
use crate::ledger::pg::{PgLedger, PgTarget, schema};
use crate::ledger::{self, APPLICATION_ID, LedgerError};

/// The tools are synchronous; PostgreSQL's client is not.
pub(super) fn block_on<F: Future>(work: F) -> Result<F::Output, StateError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StateError::Io {
            what: "cannot start the async runtime for",
            path: "the PostgreSQL ledger".into(),
            reason: e.to_string(),
            kind: e.kind(),
        })?;
    Ok(runtime.block_on(work))
}

/// Checks, inside the reading transaction, that the database holds this
/// build's ledger schema. Every DAO it holds is read, so there is no
/// identity to check: a configuration naming a DAO the ledger has not seen
/// yet is no reason to refuse a backup of the others.
async fn check(client: &impl GenericClient, target: &str) -> Result<(), StateError> {
    let refuse = |detail: String| StateError::NotALedger {
        path: target.into(),
        detail,
    };
    let has_schema: bool = client
        .query_one("SELECT to_regclass('govnode_schema') IS NOT NULL", &[])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(LedgerError::from)?;
    if !has_schema {
        return Err(refuse(
            "no govnode ledger there yet (the daemon creates it on its first start)".into(),
        ));
    }
    let row = client
        .query_one("SELECT application_id, version FROM govnode_schema", &[])
        .await
        .map_err(LedgerError::from)?;
    let (app, version): (i64, i32) = (
        row.try_get(0).map_err(LedgerError::from)?,
        row.try_get(1).map_err(LedgerError::from)?,
    );
    let supported = schema::MIGRATIONS.len() as u32;
    let version = version.max(0) as u32;
    if app != i64::from(APPLICATION_ID) {
        return Err(refuse(format!(
            "not a govnode ledger (application id {app:#x})"
        )));
    }
    if version > supported {
        return Err(StateError::SchemaTooNew {
            path: target.into(),
            found: version,
            supported,
        });
    }
    if version < supported {
        return Err(refuse(format!(
            "schema version {version}, older than this govnode's {supported}: start the daemon once to migrate it"
        )));
    }
    Ok(())
}

/// Copies the PostgreSQL ledger, at one moment, into `dest` (a connection
/// without a ledger yet), which then is a complete SQLite ledger with
/// every DAO's rows and pairs.
async fn snapshot(pg: &PgTarget, dest: &mut Connection) -> Result<Counts, StateError> {
    let target = pg.describe();
    let mut client = pg.connect().await?;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(LedgerError::from)?;
    check(&tx, &target).await?;
    ledger::prepare_schema(dest, Path::new(&target))?;
    let counts = pg_copy::pg_to_sqlite(&tx, dest).await?;
    tx.commit().await.map_err(LedgerError::from)?;
    Ok(counts)
}

/// `govnode backup` on a PostgreSQL ledger: every DAO's rows.
pub fn backup(pg: &PgTarget, to: &Path) -> Result<BackupReport, StateError> {
    block_on(backup_to(pg, to))?
}

async fn backup_to(pg: &PgTarget, to: &Path) -> Result<BackupReport, StateError> {
    let started = Instant::now();
    let target = pg.describe();
    let tmp = TempFile::beside(to, "backup")?;
    let mut copy = Connection::open(tmp.path()).map_err(LedgerError::from)?;
    // Fsynced once by `TempFile::persist` before it is renamed into place.
    copy.execute_batch("PRAGMA synchronous = OFF")
        .map_err(LedgerError::from)?;
    snapshot(pg, &mut copy).await?;
    seal(copy, tmp, to, &target, Path::new(&target), started)
}

/// `govnode ledger export` on a PostgreSQL ledger: a snapshot in memory,
/// written exactly as a SQLite ledger's rows are.
pub fn export(pg: &PgTarget, format: ExportFormat, to: Option<&Path>) -> Result<u64, StateError> {
    let mut conn = Connection::open_in_memory().map_err(LedgerError::from)?;
    block_on(snapshot(pg, &mut conn))??;
    export_from(&mut conn, format, to)
}

/// Other sessions of govnode on this database (`application_name` is set
/// by every connection govnode opens); a restore or migrate refuses while
/// any exists.
async fn other_sessions(client: &Client) -> Result<Vec<String>, StateError> {
    let rows = client
        .query(
            "SELECT pid::text || COALESCE(' from ' || host(client_addr), '')
             FROM pg_stat_activity
             WHERE application_name = 'govnode' AND datname = current_database()
               AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .map_err(LedgerError::from)?;
    rows.iter()
        .map(|r| r.try_get(0).map_err(|e| LedgerError::from(e).into()))
        .collect()
}

/// Replaces every row of the PostgreSQL ledger with the rows of the SQLite
/// ledger `source` (every DAO's, and its registered pairs), in one
/// transaction; refuses while another govnode is connected and, unless
/// `allow_rows`, when the PostgreSQL ledger holds any vote or round. `before_write` runs inside the transaction, after the refusals and
/// before anything changes (a restore backs the old rows up there).
/// Returns the rows written, per table.
pub async fn replace(
    pg: &PgTarget,
    source: &Connection,
    allow_rows: bool,
    before_write: impl AsyncFnOnce(&Counts) -> Result<(), StateError>,
) -> Result<Counts, StateError> {
    let target = pg.describe();
    // Creates or migrates the schema exactly as the daemon's start does;
    // the pairs come from `source`.
    drop(PgLedger::open_schema(pg.clone()).await?);
    let mut client = pg.connect().await?;
    let others = other_sessions(&client).await?;
    if !others.is_empty() {
        return Err(StateError::DaemonRunning {
            evidence: format!(
                "{target} has {} other govnode connection(s) (backend pid {})",
                others.len(),
                others.join(", ")
            ),
        });
    }
    let tx = client.transaction().await.map_err(LedgerError::from)?;
    // The schema lock: no daemon can migrate or stamp meanwhile.
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&i64::from(APPLICATION_ID)],
    )
    .await
    .map_err(LedgerError::from)?;
    tx.batch_execute("SET LOCAL synchronous_commit = on")
        .await
        .map_err(LedgerError::from)?;
    let before = pg_copy::pg_counts(&tx).await?;
    if !allow_rows && pg_copy::holds_rows(&before) {
        return Err(StateError::NotEmpty {
            target,
            counts: summary(&before),
        });
    }
    before_write(&before).await?;
    tracing::info!(target = %target, "replacing the PostgreSQL ledger's rows");
    tx.batch_execute(&format!(
        "TRUNCATE {} RESTART IDENTITY CASCADE",
        pg_copy::TABLES.join(", ")
    ))
    .await
    .map_err(LedgerError::from)?;
    let written = pg_copy::sqlite_to_pg(source, &tx).await?;
    let stored = pg_copy::pg_counts(&tx).await?;
    if stored != written || written != pg_copy::sqlite_counts(source)? {
        return Err(StateError::Backup {
            path: target.into(),
            detail: format!(
                "the copy does not add up (read {}, stored {}); nothing was changed",
                summary(&written),
                summary(&stored)
            ),
        });
    }
    tx.commit().await.map_err(LedgerError::from)?;
    Ok(written)
}

/// `votes 245, rounds 3, …` for messages.
pub fn summary(counts: &Counts) -> String {
    counts
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `govnode restore FILE` on a PostgreSQL ledger: the backup (checked as
/// for SQLite) replaces every row in one transaction; the rows it replaces
/// are first backed up into the state directory.
pub fn restore(
    target: &Target,
    pg: &PgTarget,
    file: &Path,
    force: bool,
) -> Result<RestoreReport, StateError> {
    let described = pg.describe();
    if !file.is_file() {
        return Err(StateError::NotALedger {
            path: file.to_owned(),
            detail: "no such file".into(),
        });
    }
    let dir = files::parent(&target.ledger_path);
    std::fs::create_dir_all(dir)
        .map_err(|e| StateError::io("cannot create the state directory", dir, e))?;
    let tmp = TempFile::beside(&dir.join("postgres-ledger.sqlite"), "restore")?;
    let (info, header) = restore::prepare(file, tmp.path())?;
    // Every row carries its own chain and DAO, so a backup of other DAOs
    // lands under theirs, never under the configured one's: `--force` is
    // as safe here as on SQLite.
    let warnings = restore::check_fits(target, file, &info, force)?;
    let mut source = Connection::open(tmp.path()).map_err(LedgerError::from)?;
    // A backup written by an older govnode gains this build's columns (its
    // rows filed under the pair its `meta` names) before they are copied.
    ledger::prepare_schema(&mut source, file)?;
    let mut previous = None;
    let keep = files::unused_sidecar(&dir.join("postgres-ledger.sqlite"), "pre-restore");
    let keep_old = async |before: &Counts| {
        if pg_copy::holds_rows(before) {
            backup_to(pg, &keep).await?;
            previous = Some(keep.clone());
        }
        Ok(())
    };
    block_on(replace(pg, &source, true, keep_old))??;
    Ok(RestoreReport {
        ledger: described,
        from: file.to_owned(),
        info,
        header,
        previous,
        warnings,
    })
}
