//! Read-only access for the tools that run beside the daemon (backup,
//! export) and for checking a file before it becomes the ledger (restore).
//!
//! A second connection that never writes needs no coordination with the
//! daemon's writer: in WAL mode a reader sees the last committed transaction
//! and never blocks the writer, so a vote being recorded is either wholly in
//! what it reads or not at all.

use std::path::Path;

use alloy::primitives::Address;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};

use super::error::LedgerError;
use super::model::{VOTE_COLUMNS, VoteRow, vote_from_row};
use super::schema::{APPLICATION_ID, BUSY_TIMEOUT, LedgerIdentity, SCHEMA_VERSION};

/// What a ledger file says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerInfo {
    /// `PRAGMA user_version`: the last migration applied.
    pub schema_version: u32,
    /// Every (chain, DAO) pair it holds rows for (a file older than schema
    /// 4 has the one its `meta` names); empty for a ledger no daemon has
    /// opened for a DAO yet.
    pub identities: Vec<LedgerIdentity>,
    pub votes: u64,
    pub rounds: u64,
}

/// Opens an existing ledger read-only (never creates one).
pub fn open_read_only(path: &Path) -> Result<Connection, LedgerError> {
    let open_err = |source| LedgerError::Open {
        path: path.to_owned(),
        source,
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    Ok(conn)
}

/// Checks that `conn` holds a govnode ledger this build can read and returns
/// its pairs and size. A schema newer than this build is refused: its
/// columns may mean something this build does not know.
pub fn inspect(conn: &Connection, path: &Path) -> Result<LedgerInfo, LedgerError> {
    let foreign = |detail: &str| LedgerError::Foreign {
        path: path.to_owned(),
        detail: detail.to_owned(),
    };
    let app: i32 = match conn.query_row("PRAGMA application_id", [], |r| r.get(0)) {
        Ok(app) => app,
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) => {
            return Err(foreign("not a SQLite database"));
        }
        Err(e) => return Err(e.into()),
    };
    if app != APPLICATION_ID {
        return Err(foreign(&format!(
            "application id {app:#x}, a govnode ledger has {APPLICATION_ID:#x}"
        )));
    }
    let schema_version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if schema_version == 0 {
        return Err(foreign("no schema version"));
    }
    if schema_version > SCHEMA_VERSION {
        return Err(LedgerError::TooNew {
            path: path.to_owned(),
            found: schema_version,
            supported: SCHEMA_VERSION,
        });
    }
    let identities = if schema_version >= 4 {
        super::schema::registered(conn)?
    } else {
        meta_identity(conn)?.into_iter().collect()
    };
    let count = |table: &str| -> Result<u64, LedgerError> {
        let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    };
    Ok(LedgerInfo {
        schema_version,
        identities,
        votes: count("votes")?,
        rounds: count("rounds")?,
    })
}

/// The one identity a ledger older than schema 4 pinned in `meta`.
fn meta_identity(conn: &Connection) -> Result<Option<LedgerIdentity>, LedgerError> {
    let meta = |key: &str| -> Result<Option<String>, LedgerError> {
        Ok(conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    };
    let (Some(chain), Some(dao)) = (meta("chain_id")?, meta("dao")?) else {
        return Ok(None);
    };
    let corrupt = |what: &str, raw: &str, e: String| LedgerError::Corrupt {
        what: format!("meta.{what}"),
        detail: format!("{raw:?}: {e}"),
    };
    Ok(Some(LedgerIdentity {
        chain_id: chain
            .parse::<u64>()
            .map_err(|e| corrupt("chain_id", &chain, e.to_string()))?,
        dao: dao
            .parse::<Address>()
            .map_err(|e| corrupt("dao", &dao, e.to_string()))?,
    }))
}

/// Calls `f` with every vote row of every DAO, with its chain id, in id
/// order, inside one read transaction (one consistent view). The signed
/// transaction bytes are not even read: `raw_tx` is always `None` here.
pub fn each_vote<E>(
    conn: &mut Connection,
    mut f: impl FnMut(u64, VoteRow) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<LedgerError>,
{
    let mut columns = VOTE_COLUMNS.replace("raw_tx", "NULL AS raw_tx");
    // A backup written before schema 2 has no `source` or `retries`.
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(LedgerError::from)?;
    if version < 2 {
        columns = columns
            .replace("source", "'ledger' AS source")
            .replace("retries", "0 AS retries");
    }
    // Before schema 4 every row belonged to the chain `meta` names.
    let chain = if version < 4 {
        "(SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'chain_id')"
    } else {
        "chain_id"
    };
    let tx = conn.transaction().map_err(LedgerError::from)?;
    {
        let mut stmt = tx
            .prepare(&format!("SELECT {columns}, {chain} FROM votes ORDER BY id"))
            .map_err(LedgerError::from)?;
        let mut rows = stmt.query([]).map_err(LedgerError::from)?;
        let width = stmt_width(&columns);
        while let Some(row) = rows.next().map_err(LedgerError::from)? {
            let vote = vote_from_row(row)?;
            let chain: Option<i64> = row.get(width).map_err(LedgerError::from)?;
            let chain =
                chain
                    .and_then(|c| u64::try_from(c).ok())
                    .ok_or_else(|| LedgerError::Corrupt {
                        what: format!("votes[{}].chain_id", vote.id),
                        detail: format!("{chain:?}"),
                    })?;
            f(chain, vote)?;
        }
    }
    tx.commit().map_err(LedgerError::from)?;
    Ok(())
}

/// How many columns a comma-separated column list selects.
fn stmt_width(columns: &str) -> usize {
    columns.split(',').count()
}
