//! The ledger's send protocol on a real PostgreSQL (tests/support/postgres.rs):
//! one row per (dao, proposal, voter), ordered moves, the identity check,
//! reconnecting after the server comes back, and the conninfo's password
//! never in an error; `sslmode: verify-full` against a server that takes
//! TLS clients only (the right CA, a foreign CA, a wrong name, plain TCP, a
//! CA file that is missing or not PEM).

#[path = "support/postgres.rs"]
mod postgres;

use postgres::target;

use alloy::primitives::{Address, B256, Bytes, U256, address};
use govnode::ledger::{Intent, Ledger, LedgerError, LedgerIdentity, Mined, NewIntent, VoteState};
use govnode::strategy::VoteChoice;

const DAO: Address = address!("5FbDB2315678afecb367f032d93F642f64180aa3");
const ALICE: Address = address!("00000000000000000000000000000000000a11ce");

fn id(chain_id: u64) -> LedgerIdentity {
    LedgerIdentity { chain_id, dao: DAO }
}

fn intent(proposal: u64, decision: VoteChoice) -> NewIntent {
    NewIntent {
        dao: DAO,
        proposal_id: U256::from(proposal),
        voter: ALICE,
        node: "alice".into(),
        round_id: None,
        decision,
        reason: "because".into(),
        strategy: "conservative".into(),
        rule: None,
    }
}

#[tokio::test]
async fn the_protocol_runs_on_postgres_and_survives_a_server_restart() {
    let pg = postgres::Postgres::start();
    let url = pg.database("ledger");
    let ledger = Ledger::open_postgres(target(&url), id(31337))
        .await
        .unwrap();

    let first = ledger
        .record_intent(intent(1, VoteChoice::For))
        .await
        .unwrap();
    let Intent::Recorded(row) = first else {
        panic!("first intent is new")
    };
    let again = ledger
        .record_intent(intent(1, VoteChoice::Against))
        .await
        .unwrap();
    assert!(
        matches!(&again, Intent::Existing(r) if r.id == row.id && r.decision == VoteChoice::For)
    );

    let err = ledger.mark_sent(row.id).await.unwrap_err();
    assert!(
        matches!(err, LedgerError::InvalidTransition { .. }),
        "{err}"
    );
    let hash = B256::repeat_byte(7);
    ledger
        .record_signed(row.id, 0, hash, Bytes::from_static(b"raw"))
        .await
        .unwrap();
    ledger.mark_sent(row.id).await.unwrap();

    // The server crashes and returns: the next call connects again.
    pg.stop();
    assert!(ledger.vote(row.id).await.is_err());
    pg.restart();
    let mined = Mined {
        tx_hash: hash,
        block_number: 9,
        gas_used: 21000,
        success: true,
        fee_wei: None,
    };
    let done = ledger.mark_mined(row.id, mined).await.unwrap();
    assert_eq!(done.state, VoteState::Confirmed);
    assert_eq!(ledger.max_nonce(ALICE).await.unwrap(), Some(0));
    let counts = ledger.vote_counts().await.unwrap();
    assert_eq!((counts.len(), counts[0].confirmed), (1, 1));
    assert_eq!(ledger.attempts(row.id).await.unwrap().len(), 1);

    // Another chain's DAO shares the database: registered, with rows of
    // its own, and the wallet's nonces there are that chain's.
    let other = Ledger::open_postgres(target(&url), id(1)).await.unwrap();
    let Intent::Recorded(theirs) = other
        .record_intent(intent(1, VoteChoice::Against))
        .await
        .unwrap()
    else {
        panic!("the other chain's first intent is new")
    };
    assert_ne!(theirs.id, row.id);
    assert_eq!(other.max_nonce(ALICE).await.unwrap(), None);
    assert_eq!(other.vote_counts().await.unwrap().len(), 1);
    assert_eq!(ledger.max_nonce(ALICE).await.unwrap(), Some(0));
    let mut registered = ledger.registered().await.unwrap();
    registered.sort_by_key(|i| i.chain_id);
    assert_eq!(registered, vec![id(1), id(31337)]);
    pg.stop();
    let err = Ledger::open_postgres(target(&url), id(31337))
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::PgConnect { .. }), "{err}");
    assert!(!err.to_string().contains("s3cret-pw"), "{err}");
}

/// `conninfo` over TLS, checked against `ca`.
fn tls_target(conninfo: &str, ca: &std::path::Path) -> govnode::ledger::pg::PgTarget {
    govnode::ledger::pg::PgTarget {
        sslmode: govnode::ledger::pg::SslMode::VerifyFull,
        ca_file: Some(ca.to_path_buf()),
        ..target(conninfo)
    }
}

/// The refusal of `target`: it names the problem (`expect`, any of) and
/// never shows the password.
async fn refusal(target: govnode::ledger::pg::PgTarget, expect: &[&str]) -> LedgerError {
    let Err(err) = Ledger::open_postgres(target, id(31337)).await else {
        panic!("the ledger is opened");
    };
    let text = err.to_string();
    assert!(expect.iter().any(|e| text.contains(e)), "{text}");
    assert!(!text.contains(postgres::PASSWORD), "{text}");
    err
}

#[tokio::test]
async fn verify_full_takes_the_servers_certificate_from_its_ca_only_and_for_its_name() {
    let (pg, tls) = postgres::Postgres::start_tls();
    let url = pg.database("ledger_tls");

    // The right CA: the protocol runs, and the session is encrypted.
    let ledger = Ledger::open_postgres(tls_target(&url, &tls.ca), id(31337))
        .await
        .unwrap();
    let Intent::Recorded(row) = ledger
        .record_intent(intent(1, VoteChoice::For))
        .await
        .unwrap()
    else {
        panic!("first intent is new")
    };
    let stored = ledger.vote(row.id).await.unwrap().expect("the row");
    assert_eq!(stored.decision, VoteChoice::For);
    let client = tls_target(&url, &tls.ca).connect().await.unwrap();
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ssl, "the ledger's session is not encrypted");

    // A CA that signed nothing the server holds.
    let err = refusal(
        tls_target(&url, &tls.other_ca),
        &["UnknownIssuer", "unknown issuer"],
    )
    .await;
    assert!(matches!(err, LedgerError::PgConnect { .. }), "{err}");

    // The certificate names 127.0.0.1; the client asks for localhost (at
    // the same address).
    let by_name = format!(
        "host=localhost hostaddr=127.0.0.1 port={} user=govnode password={} dbname=ledger_tls",
        pg.port,
        postgres::PASSWORD
    );
    let err = refusal(
        tls_target(&by_name, &tls.ca),
        &["NotValidForName", "not valid for name"],
    )
    .await;
    assert!(matches!(err, LedgerError::PgConnect { .. }), "{err}");

    // Plain TCP to a server that takes TLS only: the server says no.
    let err = refusal(target(&url), &["no encryption"]).await;
    assert!(matches!(err, LedgerError::PgRefused { .. }), "{err}");

    // A CA file that is missing, or holds no PEM certificate.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent-ca.pem");
    let junk = dir.path().join("junk-ca.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    for ca in [&missing, &junk] {
        let err = refusal(tls_target(&url, ca), &["ledger.ca_file"]).await;
        assert!(matches!(err, LedgerError::PgConfig { .. }), "{err}");
        assert!(err.to_string().contains(&*ca.to_string_lossy()), "{err}");
    }
}

/// A PostgreSQL ledger of one DAO written before many DAOs (schema v5)
/// migrates in place: its rows become its pair's, the pair is registered,
/// and another DAO's rows stay apart from them.
#[tokio::test]
async fn a_single_dao_v5_database_migrates_to_the_many_dao_schema() {
    let pg = postgres::Postgres::start();
    let url = pg.database("ledger");
    let (mut client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let dao = format!("{DAO:#x}");
    let alice = format!("{ALICE:#x}");
    govnode::ledger::pg::schema::prepare(
        &mut client,
        "test",
        None,
        &govnode::ledger::pg::schema::MIGRATIONS[..5],
    )
    .await
    .expect("a v5 schema");
    client
        .batch_execute(&format!(
            "INSERT INTO meta (key, value) VALUES ('chain_id', '31337'), ('dao', '{dao}'), ('created_at', '1');
             INSERT INTO rounds (id, trigger, started_at) VALUES (1, 'timer', 1);
             INSERT INTO votes (dao, proposal_id, voter, node, round_id, decision, reason, strategy,
                 state, created_at, updated_at)
               VALUES ('{dao}', '1', '{alice}', 'alice', 1, 'for', 'r', 'conservative', 'intent', 1, 1);
             INSERT INTO decisions (dao, proposal_id, voter, node, round_id, decision, reason, strategy, decided_at)
               VALUES ('{dao}', '1', '{alice}', 'alice', 1, 'for', 'r', 'conservative', 1);"
        ))
        .await
        .expect("v5 rows");

    let ledger = Ledger::open_postgres(target(&url), id(31337))
        .await
        .expect("migrates");
    let pending = ledger.pending().await.unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].proposal_id, U256::from(1));
    assert!(ledger.round(1).await.unwrap().is_some());
    assert_eq!(ledger.registered().await.unwrap(), vec![id(31337)]);
    // The kept intent still stands for its pair; another chain's is new.
    let again = ledger
        .record_intent(intent(1, VoteChoice::Against))
        .await
        .unwrap();
    assert!(matches!(again, Intent::Existing(r) if r.decision == VoteChoice::For));
    let other = Ledger::open_postgres(target(&url), id(10)).await.unwrap();
    assert!(other.pending().await.unwrap().is_empty());
    assert!(matches!(
        other
            .record_intent(intent(1, VoteChoice::Against))
            .await
            .unwrap(),
        Intent::Recorded(_)
    ));
}
