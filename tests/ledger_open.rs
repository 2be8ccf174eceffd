//! Opening the ledger file: durability settings, schema versions, and the
//! registration of every chain and DAO it holds, refusal of a file made by another program.

use alloy::primitives::{Address, B256, Bytes, U256, address};
use govnode::ledger::{APPLICATION_ID, Ledger, LedgerError, LedgerIdentity, SCHEMA_VERSION};

const DAO: Address = address!("5FbDB2315678afecb367f032d93F642f64180aa3");
const ID: LedgerIdentity = LedgerIdentity {
    chain_id: 31337,
    dao: DAO,
};

#[tokio::test]
async fn creates_its_directory_with_wal_and_full_sync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/nested/ledger.sqlite");
    let ledger = Ledger::open(&path, ID).unwrap();
    assert!(path.exists());
    let (mode, sync, version, app, fk): (String, i64, u32, i32, i64) = ledger
        .with_connection(|c| {
            Ok((
                c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
                c.query_row("PRAGMA synchronous", [], |r| r.get(0))?,
                c.query_row("PRAGMA user_version", [], |r| r.get(0))?,
                c.query_row("PRAGMA application_id", [], |r| r.get(0))?,
                c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "synchronous must be FULL");
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(app, APPLICATION_ID);
    assert_eq!(fk, 1);
}

#[tokio::test]
async fn reopens_its_own_ledger_with_rows_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let round = Ledger::open(&path, ID)
        .unwrap()
        .start_round("timer", Some(7))
        .await
        .unwrap();
    let again = Ledger::open(&path, ID).unwrap();
    let row = again.round(round).await.unwrap().unwrap();
    assert_eq!((row.trigger.as_str(), row.head_block), ("timer", Some(7)));
}

/// One ledger holds many DAOs: opening it for another chain or DAO
/// registers that pair, and each pair's rows stay its own, while a
/// wallet's nonces count every DAO on its chain.
#[tokio::test]
async fn another_chain_or_dao_is_registered_and_kept_apart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let base = Ledger::open(&path, ID).unwrap();
    let other_dao_id = LedgerIdentity {
        dao: Address::repeat_byte(1),
        ..ID
    };
    let other_chain_id = LedgerIdentity {
        chain_id: 11155111,
        ..ID
    };
    let other_dao = base.scoped(other_dao_id).await.unwrap();
    let other_chain = Ledger::open(&path, other_chain_id).unwrap();
    // The same proposal id and voter in each: three rows, not one.
    for (i, (ledger, dao, nonce)) in [
        (&base, ID.dao, 0),
        (&other_dao, other_dao_id.dao, 1),
        (&other_chain, ID.dao, 0),
    ]
    .into_iter()
    .enumerate()
    {
        let intent = ledger.record_intent(intent(dao)).await.unwrap();
        let govnode::ledger::Intent::Recorded(row) = intent else {
            panic!("each DAO's first intent is new: {intent:?}")
        };
        ledger
            .record_signed(
                row.id,
                nonce,
                B256::repeat_byte(i as u8 + 1),
                Bytes::from_static(b"raw"),
            )
            .await
            .unwrap();
    }
    for (ledger, dao) in [
        (&base, ID.dao),
        (&other_dao, other_dao_id.dao),
        (&other_chain, ID.dao),
    ] {
        let pending = ledger.pending().await.unwrap();
        assert_eq!(pending.len(), 1, "{pending:?}");
        assert_eq!(pending[0].dao, dao);
    }
    // Nonces are the wallet's on its chain, whichever DAO signed them.
    assert_eq!(base.max_nonce(ALICE).await.unwrap(), Some(1));
    assert_eq!(other_dao.max_nonce(ALICE).await.unwrap(), Some(1));
    assert_eq!(other_chain.max_nonce(ALICE).await.unwrap(), Some(0));
    let mut registered = base.registered().await.unwrap();
    registered.sort_by_key(|i| (i.chain_id, i.dao));
    assert_eq!(registered, vec![other_dao_id, ID, other_chain_id]);
    // Rounds are per DAO too.
    let round = other_dao.start_round("timer", None).await.unwrap();
    assert!(base.round(round).await.unwrap().is_none());
    assert!(other_dao.round(round).await.unwrap().is_some());
}

const ALICE: Address = address!("00000000000000000000000000000000000a11ce");

fn intent(dao: Address) -> govnode::ledger::NewIntent {
    govnode::ledger::NewIntent {
        dao,
        proposal_id: U256::from(1),
        voter: ALICE,
        node: "alice".into(),
        round_id: None,
        decision: govnode::strategy::VoteChoice::For,
        reason: "test".into(),
        strategy: "conservative".into(),
        rule: None,
    }
}

#[test]
fn refuses_a_newer_schema_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    drop(Ledger::open(&path, ID).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    let err = Ledger::open(&path, ID).unwrap_err();
    assert!(
        matches!(err, LedgerError::TooNew { found: 99, supported, .. } if supported == SCHEMA_VERSION),
        "{err}"
    );
    assert!(err.to_string().contains("newer than this govnode supports"));
}

#[test]
fn migrates_an_empty_version_zero_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    // What `sqlite3 ledger.sqlite 'VACUUM'` leaves: a valid database, version 0.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("VACUUM")
        .unwrap();
    Ledger::open(&path, ID).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

#[test]
fn refuses_another_programs_database() {
    let dir = tempfile::tempdir().unwrap();
    let with_tables = dir.path().join("app.sqlite");
    rusqlite::Connection::open(&with_tables)
        .unwrap()
        .execute_batch("CREATE TABLE users (id INTEGER)")
        .unwrap();
    let other_app = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&other_app)
        .unwrap()
        .execute_batch("PRAGMA application_id = 1234")
        .unwrap();
    for path in [with_tables, other_app] {
        let err = Ledger::open(&path, ID).unwrap_err();
        assert!(matches!(err, LedgerError::Foreign { .. }), "{err}");
        assert!(err.to_string().contains("not a govnode ledger"));
    }
    let garbage = dir.path().join("garbage.sqlite");
    std::fs::write(
        &garbage,
        b"this is not a database at all, just some text....",
    )
    .unwrap();
    assert!(Ledger::open(&garbage, ID).is_err());
}
