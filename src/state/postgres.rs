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
use super::{ExportFormat, Target, describe, export::export_from};
use crate::ledger::pg::{PgLedger, PgTarget, schema};
use crate::ledger::{self, APPLICATION_ID, LedgerError, LedgerIdentity};

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
/// build's ledger schema for `identity`.
async fn check(
    client: &impl GenericClient,
    target: &str,
    identity: LedgerIdentity,
) -> Result<(), StateError> {
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
    let mut found = (String::from("?"), String::from("?"));
    for row in client
        .query(
            "SELECT key, value FROM meta WHERE key IN ('chain_id', 'dao')",
            &[],
        )
        .await
        .map_err(LedgerError::from)?
    {
        let (key, value): (String, String) = (
            row.try_get(0).map_err(LedgerError::from)?,
            row.try_get(1).map_err(LedgerError::from)?,
        );
        if key == "chain_id" {
            found.0 = value;
        } else {
            found.1 = value;
        }
    }
    let want = (
        identity.chain_id.to_string(),
        format!("{:#x}", identity.dao),
    );
    if found != want {
        return Err(StateError::IdentityMismatch {
            path: target.into(),
            expected: describe(identity),
            found: LedgerIdentity::describe(&found.0, &found.1),
        });
    }
    Ok(())
}

/// Copies the PostgreSQL ledger, at one moment, into `dest` (a connection
/// without a ledger yet), which then is a complete SQLite ledger.
async fn snapshot(
    pg: &PgTarget,
    identity: LedgerIdentity,
    dest: &mut Connection,
) -> Result<Counts, StateError> {
    let target = pg.describe();
    let mut client = pg.connect().await?;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(LedgerError::from)?;
    check(&tx, &target, identity).await?;
    ledger::prepare_connection(dest, Path::new(&target), identity)?;
    let counts = pg_copy::pg_to_sqlite(&tx, dest).await?;
    tx.commit().await.map_err(LedgerError::from)?;
    Ok(counts)
}

/// `govnode backup` on a PostgreSQL ledger.
pub fn backup(
    pg: &PgTarget,
    identity: LedgerIdentity,
    to: &Path,
) -> Result<BackupReport, StateError> {
    block_on(backup_to(pg, identity, to))?
}

async fn backup_to(
    pg: &PgTarget,
    identity: LedgerIdentity,
    to: &Path,
) -> Result<BackupReport, StateError> {
    let started = Instant::now();
    let target = pg.describe();
    let tmp = TempFile::beside(to, "backup")?;
    let mut copy = Connection::open(tmp.path()).map_err(LedgerError::from)?;
    // Fsynced once by `TempFile::persist` before it is renamed into place.
    copy.execute_batch("PRAGMA synchronous = OFF")
        .map_err(LedgerError::from)?;
    snapshot(pg, identity, &mut copy).await?;
    seal(copy, tmp, to, &target, Path::new(&target), started)
}

/// `govnode ledger export` on a PostgreSQL ledger: a snapshot in memory,
/// written exactly as a SQLite ledger's rows are.
pub fn export(
    pg: &PgTarget,
    identity: LedgerIdentity,
    format: ExportFormat,
    to: Option<&Path>,
) -> Result<u64, StateError> {
    let mut conn = Connection::open_in_memory().map_err(LedgerError::from)?;
    block_on(snapshot(pg, identity, &mut conn))??;
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
/// ledger `source`, in one transaction; refuses while another govnode is
/// connected and, unless `allow_rows`, when the PostgreSQL ledger holds any
/// row. `before_write` runs inside the transaction, after the refusals and
/// before anything changes (a restore backs the old rows up there).
/// Returns the rows written, per table.
pub async fn replace(
    pg: &PgTarget,
    identity: LedgerIdentity,
    source: &Connection,
    allow_rows: bool,
    before_write: impl AsyncFnOnce(&Counts) -> Result<(), StateError>,
) -> Result<Counts, StateError> {
    let target = pg.describe();
    // Creates or migrates the schema and stamps or checks the identity,
    // exactly as the daemon's start does.
    drop(PgLedger::open(pg.clone(), identity).await?);
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
    if !allow_rows && before.iter().any(|(_, n)| *n > 0) {
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
    if info.identity != target.identity {
        // On SQLite `--force` swaps in the other DAO's file whole, meta and
        // all; here its rows would be filed under this DAO's identity.
        if force {
            return Err(StateError::NotALedger {
                path: file.to_owned(),
                detail: format!(
                    "it belongs to {}, the configuration names {}; --force does not apply to a PostgreSQL ledger, whose rows would be filed under the configured DAO",
                    describe(info.identity),
                    describe(target.identity)
                ),
            });
        }
        return Err(StateError::IdentityMismatch {
            path: file.to_owned(),
            expected: describe(target.identity),
            found: describe(info.identity),
        });
    }
    let source = Connection::open(tmp.path()).map_err(LedgerError::from)?;
    let mut previous = None;
    let keep = files::unused_sidecar(&dir.join("postgres-ledger.sqlite"), "pre-restore");
    let keep_old = async |before: &Counts| {
        if before.iter().any(|(_, n)| *n > 0) {
            backup_to(pg, target.identity, &keep).await?;
            previous = Some(keep.clone());
        }
        Ok(())
    };
    block_on(replace(pg, target.identity, &source, true, keep_old))??;
    Ok(RestoreReport {
        ledger: described,
        from: file.to_owned(),
        info,
        header,
        previous,
        warnings: Vec::new(),
    })
}
