//! The ledger's send protocol on a real PostgreSQL (tests/support/postgres.rs):
//! one row per (dao, proposal, voter), ordered moves, the identity check,
//! reconnecting after the server comes back, and the conninfo's password
//! never in an error.

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

    // Another chain's daemon is refused, and says so without the password.
    let err = Ledger::open_postgres(target(&url), id(1))
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::WrongIdentity { .. }), "{err}");
    assert!(!err.to_string().contains("s3cret-pw"), "{err}");
    pg.stop();
    let err = Ledger::open_postgres(target(&url), id(31337))
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::PgConnect { .. }), "{err}");
    assert!(!err.to_string().contains("s3cret-pw"), "{err}");
}
