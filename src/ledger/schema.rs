//! Opening the ledger file: pragmas, schema migrations (`PRAGMA
//! user_version`), and the identity check that keeps one ledger to one chain
//! and one DAO.
//!
//! WAL with `synchronous=FULL`: every commit is fsynced before it returns, so
//! an intent is on disk before the vote is signed and a signed transaction is
//! on disk before it is broadcast. A few milliseconds per vote buy the
//! guarantee that a crash never loses a step the chain may already know about.

use std::path::Path;
use std::time::Duration;

use alloy::primitives::Address;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::error::LedgerError;
use super::model::{addr, now_ms};

/// `'govn'`: marks the file as a govnode ledger for `file(1)` and for us.
pub const APPLICATION_ID: i32 = 0x676f_766e;

/// How long a statement waits for a lock held by another connection (a
/// backup, an operator's `sqlite3`) before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Migration `i` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

const V1: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE rounds (
    id          INTEGER PRIMARY KEY,
    trigger     TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT,
    head_block  INTEGER,
    summary     TEXT
) STRICT;

CREATE TABLE votes (
    id           INTEGER PRIMARY KEY,
    dao          TEXT NOT NULL,
    proposal_id  TEXT NOT NULL,
    voter        TEXT NOT NULL,
    node         TEXT NOT NULL,
    round_id     INTEGER REFERENCES rounds(id),
    decision     TEXT NOT NULL CHECK (decision IN ('for', 'against', 'abstain')),
    reason       TEXT NOT NULL,
    strategy     TEXT NOT NULL,
    rule         TEXT,
    state        TEXT NOT NULL CHECK (state IN ('intent', 'signed', 'sent', 'confirmed',
                     'reverted', 'failed', 'abandoned', 'confirmed_external')),
    nonce        INTEGER,
    tx_hash      TEXT,
    raw_tx       BLOB,
    block_number INTEGER,
    gas_used     INTEGER,
    error        TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    signed_at    INTEGER,
    sent_at      INTEGER,
    finished_at  INTEGER,
    UNIQUE (dao, proposal_id, voter)
) STRICT;

CREATE INDEX votes_pending ON votes (state) WHERE state IN ('intent', 'signed', 'sent');
CREATE INDEX votes_round ON votes (round_id);
CREATE INDEX votes_node ON votes (node, id);

CREATE TABLE vote_attempts (
    id         INTEGER PRIMARY KEY,
    vote_id    INTEGER NOT NULL REFERENCES votes(id),
    nonce      INTEGER NOT NULL,
    tx_hash    TEXT NOT NULL UNIQUE,
    raw_tx     BLOB NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX vote_attempts_vote ON vote_attempts (vote_id);
";

/// Votes found on chain without a row (`source`), re-arms after a refusal
/// (`retries`), what each attempt cost (`fee_wei`, `mined_at`) or may cost
/// (`max_cost_wei`) for the daily spend budget, and every strategy decision
/// of the latest round that decided a pair, skips included.
const V2: &str = "
ALTER TABLE votes ADD COLUMN source TEXT NOT NULL DEFAULT 'ledger'
    CHECK (source IN ('ledger', 'chain'));
ALTER TABLE votes ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE vote_attempts ADD COLUMN max_cost_wei TEXT;
ALTER TABLE vote_attempts ADD COLUMN fee_wei TEXT;
ALTER TABLE vote_attempts ADD COLUMN mined_at INTEGER;
CREATE INDEX vote_attempts_created ON vote_attempts (created_at);

CREATE TABLE decisions (
    dao         TEXT NOT NULL,
    proposal_id TEXT NOT NULL,
    voter       TEXT NOT NULL,
    node        TEXT NOT NULL,
    round_id    INTEGER REFERENCES rounds(id),
    decision    TEXT NOT NULL CHECK (decision IN ('for', 'against', 'abstain', 'skip')),
    reason      TEXT NOT NULL,
    strategy    TEXT NOT NULL,
    rule        TEXT,
    decided_at  INTEGER NOT NULL,
    PRIMARY KEY (dao, proposal_id, voter)
) STRICT;
";

/// Operators' acknowledgements that a node's address sent transactions this
/// ledger did not sign (`govnode keys ack`): the transaction count they
/// accepted, so only a later foreign transaction pauses the node again.
const V3: &str = "
CREATE TABLE key_acks (
    id       INTEGER PRIMARY KEY,
    voter    TEXT NOT NULL,
    node     TEXT NOT NULL,
    nonce    INTEGER NOT NULL,
    acked_at INTEGER NOT NULL
) STRICT;

CREATE INDEX key_acks_voter ON key_acks (voter, nonce);
";

/// The chain and DAO a ledger belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerIdentity {
    pub chain_id: u64,
    pub dao: Address,
}

impl LedgerIdentity {
    pub(crate) fn describe(chain_id: &str, dao: &str) -> String {
        format!("chain {chain_id}, DAO {dao}")
    }
}

/// Opens (creating if needed) and prepares the ledger at `path`.
pub fn open(path: &Path, identity: LedgerIdentity) -> Result<Connection, LedgerError> {
    open_with(path, identity, MIGRATIONS)
}

pub(crate) fn open_with(
    path: &Path,
    identity: LedgerIdentity,
    migrations: &[&str],
) -> Result<Connection, LedgerError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| LedgerError::CreateDir {
            path: dir.to_owned(),
            reason: e.to_string(),
        })?;
    }
    // SQLite treats a 0-byte file as a new database; a ledger that lost its
    // contents must not silently become a fresh one (every vote would be
    // decided again). `govnode ledger init` removes such a file on purpose.
    if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0) {
        return Err(LedgerError::Empty {
            path: path.to_owned(),
        });
    }
    let open_err = |source| LedgerError::Open {
        path: path.to_owned(),
        source,
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    check_foreign(&conn, path)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(open_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(LedgerError::Foreign {
            path: path.to_owned(),
            detail: format!("journal mode stays {mode:?}, WAL is required"),
        });
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(open_err)?;
    migrate(&mut conn, path, migrations)?;
    check_identity(&mut conn, path, identity)?;
    check_not_moved(&conn, path)?;
    Ok(conn)
}

/// Gives a connection without a ledger yet (a backup being written, an
/// in-memory snapshot) the schema and identity, without [`open`]'s file
/// checks and WAL: `label` names it in errors.
pub fn prepare_connection(
    conn: &mut Connection,
    label: &Path,
    identity: LedgerIdentity,
) -> Result<(), LedgerError> {
    check_foreign(conn, label)?;
    migrate(conn, label, MIGRATIONS)?;
    check_identity(conn, label, identity)
}

/// The `meta` key `govnode ledger migrate` sets on a SQLite ledger whose
/// votes now live in PostgreSQL.
pub const MOVED_TO_KEY: &str = "moved_to";

/// A ledger whose votes were moved to PostgreSQL is history: voting from it
/// again would miss every vote cast since.
fn check_not_moved(conn: &Connection, path: &Path) -> Result<(), LedgerError> {
    let moved: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [MOVED_TO_KEY],
            |r| r.get(0),
        )
        .optional()?;
    match moved {
        Some(to) => Err(LedgerError::Moved {
            path: path.to_owned(),
            to,
        }),
        None => Ok(()),
    }
}

/// Refuses a database some other program made: a different application id,
/// or tables without our schema version.
fn check_foreign(conn: &Connection, path: &Path) -> Result<(), LedgerError> {
    let app: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
        [],
        |r| r.get(0),
    )?;
    let foreign = match (app, version) {
        (APPLICATION_ID, _) => None,
        (0, 0) if tables == 0 => None,
        (0, _) => Some("it has tables but no govnode application id".to_owned()),
        (other, _) => Some(format!("application id {other:#x}")),
    };
    match foreign {
        Some(detail) => Err(LedgerError::Foreign {
            path: path.to_owned(),
            detail,
        }),
        None => Ok(()),
    }
}

/// Applies the migrations the file has not seen, each in its own transaction
/// together with the version bump, so a crash leaves a consistent version.
fn migrate(conn: &mut Connection, path: &Path, migrations: &[&str]) -> Result<(), LedgerError> {
    let supported = migrations.len() as u32;
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > supported {
        return Err(LedgerError::TooNew {
            path: path.to_owned(),
            found,
            supported,
        });
    }
    for (i, sql) in migrations.iter().enumerate().skip(found as usize) {
        let version = i as u32 + 1;
        let err = |source| LedgerError::Migration { version, source };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute_batch(sql).map_err(err)?;
        tx.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {version};"
        ))
        .map_err(err)?;
        tx.commit().map_err(err)?;
        tracing::info!(version, path = %path.display(), "ledger schema migrated");
    }
    Ok(())
}

fn check_identity(
    conn: &mut Connection,
    path: &Path,
    identity: LedgerIdentity,
) -> Result<(), LedgerError> {
    let want_chain = identity.chain_id.to_string();
    let want_dao = addr(identity.dao);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let get = |key: &str| -> Result<Option<String>, rusqlite::Error> {
        tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
    };
    match (get("chain_id")?, get("dao")?) {
        (None, None) => {
            let now = now_ms().to_string();
            for (k, v) in [
                ("chain_id", want_chain.as_str()),
                ("dao", want_dao.as_str()),
                ("created_at", now.as_str()),
            ] {
                tx.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", [k, v])?;
            }
        }
        (Some(chain), Some(dao)) if chain == want_chain && dao == want_dao => {}
        (chain, dao) => {
            return Err(LedgerError::WrongIdentity {
                path: path.to_owned(),
                expected: LedgerIdentity::describe(&want_chain, &want_dao),
                found: LedgerIdentity::describe(
                    chain.as_deref().unwrap_or("?"),
                    dao.as_deref().unwrap_or("?"),
                ),
            });
        }
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: LedgerIdentity = LedgerIdentity {
        chain_id: 31337,
        dao: Address::ZERO,
    };

    /// A file written by an older build gains the newer steps and keeps its rows.
    #[test]
    fn migrates_an_older_file_forward() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        {
            let conn = open_with(&path, ID, MIGRATIONS).unwrap();
            conn.execute(
                "INSERT INTO rounds (trigger, started_at) VALUES ('timer', 1)",
                [],
            )
            .unwrap();
        }
        let v2 = "ALTER TABLE rounds ADD COLUMN note TEXT; UPDATE rounds SET note = 'kept';";
        let mut newer: Vec<&str> = MIGRATIONS.to_vec();
        newer.push(v2);
        let conn = open_with(&path, ID, &newer).unwrap();
        let version: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION + 1);
        let (trigger, note): (String, String) = conn
            .query_row("SELECT trigger, note FROM rounds", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((trigger.as_str(), note.as_str()), ("timer", "kept"));
        drop(conn);
        // Back on this build, the file is now too new.
        let err = open_with(&path, ID, MIGRATIONS).unwrap_err();
        assert!(matches!(
            err,
            LedgerError::TooNew { found, supported, .. }
                if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION
        ));
    }

    /// A failing step leaves the file at the previous version, not half-migrated.
    #[test]
    fn failed_migration_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        drop(open_with(&path, ID, MIGRATIONS).unwrap());
        let mut broken: Vec<&str> = MIGRATIONS.to_vec();
        broken.push("CREATE TABLE extra (x INTEGER); SELECT nonsense FROM nowhere;");
        let err = open_with(&path, ID, &broken).unwrap_err();
        assert!(
            matches!(err, LedgerError::Migration { version, .. } if version == SCHEMA_VERSION + 1),
            "{err}"
        );
        let conn = open_with(&path, ID, MIGRATIONS).unwrap();
        let extra: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'extra'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(extra, 0);
    }
}
