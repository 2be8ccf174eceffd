//! Opening the ledger file: pragmas, schema migrations (`PRAGMA
//! user_version`), and the registration of the (chain, DAO) pairs whose
//! rows it holds: one ledger serves every DAO on every chain the daemon
//! votes in, each row keyed by its chain and DAO.
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
pub const MIGRATIONS: &[&str] = &[V1, V2, V3, V4];

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

/// One ledger for many DAOs on many chains: `votes`, `decisions`, `rounds`
/// and `key_acks` gain `chain_id` (and `rounds` its `dao`), filled from the
/// one identity older files pinned in `meta`, and the keys become
/// (chain, DAO, proposal, voter). The pairs themselves live in
/// `ledger_daos`; `meta.chain_id`/`meta.dao` stay as history.
///
/// SQLite cannot drop a UNIQUE constraint or add a NOT NULL column without
/// a default, so the tables are rebuilt (new table, copy, drop, rename).
/// The migration runs in a transaction, where `foreign_keys` cannot be
/// switched off; so no parent is dropped while a row still points at it:
/// every new table references the new parents, the old tables are dropped
/// children first, and the renames (not `legacy_alter_table`) carry the
/// references over to the final names.
const V4: &str = "
CREATE TABLE ledger_daos (
    chain_id      INTEGER NOT NULL,
    dao           TEXT NOT NULL,
    registered_at INTEGER NOT NULL,
    PRIMARY KEY (chain_id, dao)
) STRICT;

INSERT INTO ledger_daos (chain_id, dao, registered_at)
SELECT CAST(c.value AS INTEGER), d.value,
       COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'created_at'), 0)
FROM meta c JOIN meta d ON d.key = 'dao'
WHERE c.key = 'chain_id';

CREATE TABLE rounds_v4 (
    id          INTEGER PRIMARY KEY,
    chain_id    INTEGER NOT NULL,
    dao         TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT,
    head_block  INTEGER,
    summary     TEXT
) STRICT;

INSERT INTO rounds_v4 (id, chain_id, dao, trigger, started_at, finished_at, outcome,
                       head_block, summary)
SELECT id, (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'chain_id'),
       (SELECT value FROM meta WHERE key = 'dao'),
       trigger, started_at, finished_at, outcome, head_block, summary
FROM rounds;

CREATE TABLE votes_v4 (
    id           INTEGER PRIMARY KEY,
    chain_id     INTEGER NOT NULL,
    dao          TEXT NOT NULL,
    proposal_id  TEXT NOT NULL,
    voter        TEXT NOT NULL,
    node         TEXT NOT NULL,
    round_id     INTEGER REFERENCES rounds_v4(id),
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
    source       TEXT NOT NULL DEFAULT 'ledger' CHECK (source IN ('ledger', 'chain')),
    retries      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (chain_id, dao, proposal_id, voter)
) STRICT;

INSERT INTO votes_v4 (id, chain_id, dao, proposal_id, voter, node, round_id, decision, reason,
                      strategy, rule, state, nonce, tx_hash, raw_tx, block_number, gas_used,
                      error, created_at, updated_at, signed_at, sent_at, finished_at, source,
                      retries)
SELECT id, (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'chain_id'), dao, proposal_id,
       voter, node, round_id, decision, reason, strategy, rule, state, nonce, tx_hash, raw_tx,
       block_number, gas_used, error, created_at, updated_at, signed_at, sent_at, finished_at,
       source, retries
FROM votes;

CREATE TABLE vote_attempts_v4 (
    id           INTEGER PRIMARY KEY,
    vote_id      INTEGER NOT NULL REFERENCES votes_v4(id),
    nonce        INTEGER NOT NULL,
    tx_hash      TEXT NOT NULL UNIQUE,
    raw_tx       BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    max_cost_wei TEXT,
    fee_wei      TEXT,
    mined_at     INTEGER
) STRICT;

INSERT INTO vote_attempts_v4 (id, vote_id, nonce, tx_hash, raw_tx, created_at, max_cost_wei,
                              fee_wei, mined_at)
SELECT id, vote_id, nonce, tx_hash, raw_tx, created_at, max_cost_wei, fee_wei, mined_at
FROM vote_attempts;

CREATE TABLE decisions_v4 (
    chain_id    INTEGER NOT NULL,
    dao         TEXT NOT NULL,
    proposal_id TEXT NOT NULL,
    voter       TEXT NOT NULL,
    node        TEXT NOT NULL,
    round_id    INTEGER REFERENCES rounds_v4(id),
    decision    TEXT NOT NULL CHECK (decision IN ('for', 'against', 'abstain', 'skip')),
    reason      TEXT NOT NULL,
    strategy    TEXT NOT NULL,
    rule        TEXT,
    decided_at  INTEGER NOT NULL,
    PRIMARY KEY (chain_id, dao, proposal_id, voter)
) STRICT;

INSERT INTO decisions_v4 (chain_id, dao, proposal_id, voter, node, round_id, decision, reason,
                          strategy, rule, decided_at)
SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'chain_id'), dao, proposal_id,
       voter, node, round_id, decision, reason, strategy, rule, decided_at
FROM decisions;

CREATE TABLE key_acks_v4 (
    id       INTEGER PRIMARY KEY,
    chain_id INTEGER NOT NULL,
    voter    TEXT NOT NULL,
    node     TEXT NOT NULL,
    nonce    INTEGER NOT NULL,
    acked_at INTEGER NOT NULL
) STRICT;

INSERT INTO key_acks_v4 (id, chain_id, voter, node, nonce, acked_at)
SELECT id, (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'chain_id'), voter, node,
       nonce, acked_at
FROM key_acks;

DROP TABLE vote_attempts;
DROP TABLE decisions;
DROP TABLE key_acks;
DROP TABLE votes;
DROP TABLE rounds;

ALTER TABLE rounds_v4 RENAME TO rounds;
ALTER TABLE votes_v4 RENAME TO votes;
ALTER TABLE vote_attempts_v4 RENAME TO vote_attempts;
ALTER TABLE decisions_v4 RENAME TO decisions;
ALTER TABLE key_acks_v4 RENAME TO key_acks;

CREATE INDEX rounds_dao ON rounds (chain_id, dao, id);
CREATE INDEX votes_pending ON votes (chain_id, dao, id)
    WHERE state IN ('intent', 'signed', 'sent');
CREATE INDEX votes_round ON votes (round_id);
CREATE INDEX votes_node ON votes (chain_id, dao, node, id);
CREATE INDEX votes_voter ON votes (chain_id, voter);
CREATE INDEX vote_attempts_vote ON vote_attempts (vote_id);
CREATE INDEX vote_attempts_created ON vote_attempts (created_at);
CREATE INDEX key_acks_voter ON key_acks (chain_id, voter, nonce);
";

/// One (chain, DAO) pair whose rows a ledger holds; a [`super::Ledger`]
/// handle is scoped to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerIdentity {
    pub chain_id: u64,
    pub dao: Address,
}

impl LedgerIdentity {
    /// The chain id as both backends store it (a signed 64-bit integer).
    pub(crate) fn chain_key(self) -> Result<i64, LedgerError> {
        i64::try_from(self.chain_id).map_err(|_| LedgerError::ChainIdRange {
            chain_id: self.chain_id,
        })
    }

    /// The pair as its rows store it: chain id and lower-case DAO address.
    pub(crate) fn scope(self) -> Result<super::model::Scope, LedgerError> {
        Ok(super::model::Scope {
            chain: self.chain_key()?,
            dao: addr(self.dao),
        })
    }

    /// A pair read back from `ledger_daos`.
    pub(crate) fn from_stored(chain: i64, dao: &str) -> Result<LedgerIdentity, LedgerError> {
        let corrupt = |detail: String| LedgerError::Corrupt {
            what: "ledger_daos".into(),
            detail,
        };
        Ok(LedgerIdentity {
            chain_id: u64::try_from(chain).map_err(|_| corrupt(format!("chain id {chain}")))?,
            dao: dao
                .parse()
                .map_err(|e| corrupt(format!("DAO {dao:?}: {e}")))?,
        })
    }
}

impl std::fmt::Display for LedgerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "chain {}, DAO {:#x}", self.chain_id, self.dao)
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
    check_not_moved(&conn, path)?;
    register(&mut conn, identity)?;
    Ok(conn)
}

/// Gives a connection without a ledger yet (a backup being written, an
/// in-memory snapshot) the schema and registers `identity`, without
/// [`open`]'s file checks and WAL: `label` names it in errors.
pub fn prepare_connection(
    conn: &mut Connection,
    label: &Path,
    identity: LedgerIdentity,
) -> Result<(), LedgerError> {
    prepare_schema(conn, label)?;
    register(conn, identity).map(drop)
}

/// [`prepare_connection`] without registering a pair: for a copy that
/// takes its pairs from the ledger it copies (a snapshot of PostgreSQL, a
/// backup being restored), or migrates an older file, whose pair the
/// migration carries over.
pub fn prepare_schema(conn: &mut Connection, label: &Path) -> Result<(), LedgerError> {
    check_foreign(conn, label)?;
    migrate(conn, label, MIGRATIONS)
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

/// Registers `identity` if the ledger has not seen it yet; returns whether
/// it was new. `created_at` in `meta` marks the ledger's first opening.
pub(crate) fn register(
    conn: &mut Connection,
    identity: LedgerIdentity,
) -> Result<bool, LedgerError> {
    let chain = identity.chain_key()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_ms();
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('created_at', ?1) ON CONFLICT (key) DO NOTHING",
        [now.to_string()],
    )?;
    let added = tx.execute(
        "INSERT INTO ledger_daos (chain_id, dao, registered_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (chain_id, dao) DO NOTHING",
        rusqlite::params![chain, addr(identity.dao), now],
    )?;
    tx.commit()?;
    if added == 1 {
        tracing::info!(
            "ledger: DAO {:#x} on chain {} registered",
            identity.dao,
            identity.chain_id
        );
    }
    Ok(added == 1)
}

/// Every (chain, DAO) pair the ledger holds rows for, by chain and DAO.
pub(crate) fn registered(conn: &Connection) -> Result<Vec<LedgerIdentity>, LedgerError> {
    let mut stmt =
        conn.prepare_cached("SELECT chain_id, dao FROM ledger_daos ORDER BY chain_id, dao")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    rows.map(|r| {
        let (chain, dao) = r?;
        LedgerIdentity::from_stored(chain, &dao)
    })
    .collect()
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
                "INSERT INTO rounds (chain_id, dao, trigger, started_at) VALUES (31337, ?1, 'timer', 1)",
                [addr(ID.dao)],
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

    /// A ledger of one DAO written by a build before many DAOs keeps every
    /// row, each now under the chain and DAO the file was pinned to.
    #[test]
    fn a_single_dao_ledger_migrates_to_the_many_dao_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        let dao = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..3] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(&format!(
                "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 3;
                 INSERT INTO meta (key, value) VALUES ('chain_id', '31337'), ('dao', '{dao}'), ('created_at', '1');
                 INSERT INTO rounds (id, trigger, started_at) VALUES (1, 'timer', 1);
                 INSERT INTO votes (id, dao, proposal_id, voter, node, round_id, decision, reason, strategy,
                     state, nonce, tx_hash, created_at, updated_at)
                   VALUES (1, '{dao}', '7', '0x00000000000000000000000000000000000a11ce', 'alice', 1, 'for',
                     'r', 'conservative', 'sent', 4, '0xaa', 1, 1);
                 INSERT INTO vote_attempts (vote_id, nonce, tx_hash, raw_tx, created_at)
                   VALUES (1, 4, '0xaa', x'00', 1);
                 INSERT INTO decisions (dao, proposal_id, voter, node, round_id, decision, reason, strategy, decided_at)
                   VALUES ('{dao}', '7', '0x00000000000000000000000000000000000a11ce', 'alice', 1, 'for', 'r', 'conservative', 1);
                 INSERT INTO key_acks (voter, node, nonce, acked_at)
                   VALUES ('0x00000000000000000000000000000000000a11ce', 'alice', 3, 1);"
            ))
            .unwrap();
        }
        let id = LedgerIdentity {
            chain_id: 31337,
            dao: dao.parse().unwrap(),
        };
        let conn = open(&path, id).unwrap();
        let version: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        for (table, want) in [
            ("rounds", 1),
            ("votes", 1),
            ("decisions", 1),
            ("key_acks", 1),
        ] {
            let n: i64 = conn
                .query_row(
                    &format!("SELECT count(*) FROM {table} WHERE chain_id = 31337"),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, want, "{table}");
        }
        let round_dao: String = conn
            .query_row("SELECT dao FROM rounds WHERE id = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(round_dao, dao);
        let joined: i64 = conn
            .query_row(
                "SELECT count(*) FROM vote_attempts a JOIN votes v ON v.id = a.vote_id WHERE v.nonce = 4",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(joined, 1);
        let broken: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(broken, 0);
        let pairs: Vec<(i64, String)> = conn
            .prepare("SELECT chain_id, dao FROM ledger_daos")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(pairs, vec![(31337, dao.to_owned())]);
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
