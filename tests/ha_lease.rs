//! The lease and the fence on a real PostgreSQL (tests/support/postgres.rs),
//! without daemons: one holder at a time, judged by the database's clock; a
//! renewal needs the holder's token, so another process with the same id
//! waits; a takeover raises the token; and a fenced ledger writes only while
//! its lease holds, refusing with who leads.

#[allow(dead_code)]
#[path = "support/postgres.rs"]
mod postgres;

use postgres::target;

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256, address};
use govnode::ha::{Claim, claim, connect_lease, release};
use govnode::ledger::pg::{DEFAULT_GROUP, Fence};
use govnode::ledger::{Ledger, LedgerError, LedgerIdentity, LedgerLocation, NewIntent};
use govnode::strategy::VoteChoice;

const DAO: Address = address!("5FbDB2315678afecb367f032d93F642f64180aa3");
const LEASE: Duration = Duration::from_millis(1500);

fn intent(proposal: u64) -> NewIntent {
    NewIntent {
        dao: DAO,
        proposal_id: U256::from(proposal),
        voter: address!("00000000000000000000000000000000000a11ce"),
        node: "alice".into(),
        round_id: None,
        decision: VoteChoice::For,
        reason: "because".into(),
        strategy: "conservative".into(),
        rule: None,
    }
}

fn token(c: &Claim) -> i64 {
    match c {
        Claim::Held { token, .. } => *token,
        Claim::Taken { .. } => panic!("not held: {c:?}"),
    }
}

#[tokio::test]
async fn one_holder_at_a_time_and_a_fenced_ledger_writes_only_while_it_holds() {
    let pg = postgres::Postgres::start();
    let url = pg.database("lease");
    let location = LedgerLocation::Postgres(target(&url));
    let identity = LedgerIdentity {
        chain_id: 31337,
        dao: DAO,
    };
    // The ledger (and its schema, with ha_leases) first.
    let fence = Arc::new(Fence::new("gov-a", DEFAULT_GROUP, LEASE));
    let ledger = Ledger::open_fenced(&location, identity, Some(fence.clone()))
        .await
        .expect("open");
    let c = connect_lease(&target(&url), Duration::from_secs(1))
        .await
        .expect("lease connection");

    // No lease yet: a fenced write is refused before it touches anything.
    let err = ledger.record_intent(intent(1)).await.unwrap_err();
    assert!(err.is_fenced(), "{err}");

    let sent = Instant::now();
    let a = claim(&c, DEFAULT_GROUP, "gov-a", LEASE, None)
        .await
        .unwrap();
    assert_eq!(
        a,
        Claim::Held {
            token: 1,
            previous: None
        }
    );
    fence.hold(1, sent);
    ledger
        .record_intent(intent(1))
        .await
        .expect("the holder writes");
    ledger.check_fence().await.expect("the holder may send");

    // B, and a second process calling itself gov-a, wait while it is live.
    let b = claim(&c, DEFAULT_GROUP, "gov-b", LEASE, None)
        .await
        .unwrap();
    assert_eq!(
        b,
        Claim::Taken {
            holder: "gov-a".into(),
            token: 1
        }
    );
    let twin = claim(&c, DEFAULT_GROUP, "gov-a", LEASE, None)
        .await
        .unwrap();
    assert!(matches!(twin, Claim::Taken { .. }), "{twin:?}");
    // The holder renews with its token, keeping it.
    let renewed = claim(&c, DEFAULT_GROUP, "gov-a", LEASE, Some(1))
        .await
        .unwrap();
    assert_eq!(
        renewed,
        Claim::Held {
            token: 1,
            previous: None
        }
    );

    // It lapses (by the database's clock); B takes over with a new token.
    tokio::time::sleep(LEASE + Duration::from_millis(200)).await;
    let b = claim(&c, DEFAULT_GROUP, "gov-b", LEASE, None)
        .await
        .unwrap();
    assert_eq!(
        b,
        Claim::Held {
            token: 2,
            previous: Some(("gov-a".into(), 1))
        }
    );
    // A still believes it holds token 1 (as a paused process would):
    // the database refuses its write and its send, naming the leader.
    fence.hold(1, Instant::now());
    let err = ledger.record_intent(intent(2)).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, LedgerError::Fenced { .. })
            && text.contains("this daemon (id gov-a) no longer holds the lease of group default")
            && text.contains("the leader is gov-b (token 2)"),
        "{text}"
    );
    assert!(ledger.check_fence().await.unwrap_err().is_fenced());
    assert!(
        ledger
            .vote_for(DAO, U256::from(2), intent(2).voter)
            .await
            .unwrap()
            .is_none(),
        "nothing of the refused write landed"
    );
    let renew = claim(&c, DEFAULT_GROUP, "gov-a", LEASE, Some(1))
        .await
        .unwrap();
    assert_eq!(
        renew,
        Claim::Taken {
            holder: "gov-b".into(),
            token: 2
        }
    );

    // A clean stop hands the lease back: the next claimant needs no wait.
    assert!(release(&c, DEFAULT_GROUP, "gov-b", 2).await.unwrap());
    let a = claim(&c, DEFAULT_GROUP, "gov-a", LEASE, None)
        .await
        .unwrap();
    assert_eq!(token(&a), 3);
    // And a renewal sent too long ago is refused on this daemon's own clock.
    fence.hold(3, Instant::now() - LEASE);
    let err = ledger.record_intent(intent(3)).await.unwrap_err();
    assert!(matches!(err, LedgerError::LeaseUnrenewed { .. }), "{err}");
}
