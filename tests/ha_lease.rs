//! The lease and the fence on a real PostgreSQL (tests/support/postgres.rs),
//! without daemons: one holder at a time, judged by the database's clock; a
//! renewal needs the holder's token, so another process with the same id
//! waits; a takeover raises the token; and a fenced ledger writes only while
//! its lease holds, refusing with who leads. Lease groups: a daemon that
//! does not prefer a group waits a grace before taking it, a preferred one
//! asks for it back, and a round's ledger needs every lease it votes for.

#[allow(dead_code)]
#[path = "support/postgres.rs"]
mod postgres;

use postgres::target;

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256, address};
use govnode::ha::{Claim, ClaimTerms, claim, connect_lease, release, want};
use govnode::ledger::pg::{DEFAULT_GROUP, Fence, FenceSet};
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

fn terms<'a>(group: &'a str, me: &'a str, held: Option<i64>) -> ClaimTerms<'a> {
    ClaimTerms {
        group,
        me,
        lease: LEASE,
        held,
        grace: Duration::ZERO,
    }
}

fn identity() -> LedgerIdentity {
    LedgerIdentity {
        chain_id: 31337,
        dao: DAO,
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
    let identity = identity();
    // The ledger (and its schema, with ha_leases) first.
    let fence = Arc::new(Fence::new("gov-a", DEFAULT_GROUP, LEASE));
    let ledger = Ledger::open_fenced(&location, identity, Some(FenceSet::one(fence.clone())))
        .await
        .expect("open");
    let c = connect_lease(&target(&url), Duration::from_secs(1))
        .await
        .expect("lease connection");

    // No lease yet: a fenced write is refused before it touches anything.
    let err = ledger.record_intent(intent(1)).await.unwrap_err();
    assert!(err.is_fenced(), "{err}");

    let sent = Instant::now();
    let a = claim(&c, terms(DEFAULT_GROUP, "gov-a", None))
        .await
        .unwrap();
    assert_eq!(
        a,
        Claim::Held {
            token: 1,
            previous: None,
            wanted_by: None
        }
    );
    fence.hold(1, sent);
    ledger
        .record_intent(intent(1))
        .await
        .expect("the holder writes");
    ledger.check_fence().await.expect("the holder may send");

    // B, and a second process calling itself gov-a, wait while it is live.
    let b = claim(&c, terms(DEFAULT_GROUP, "gov-b", None))
        .await
        .unwrap();
    assert_eq!(
        b,
        Claim::Taken {
            holder: "gov-a".into(),
            token: 1
        }
    );
    let twin = claim(&c, terms(DEFAULT_GROUP, "gov-a", None))
        .await
        .unwrap();
    assert!(matches!(twin, Claim::Taken { .. }), "{twin:?}");
    // The holder renews with its token, keeping it.
    let renewed = claim(&c, terms(DEFAULT_GROUP, "gov-a", Some(1)))
        .await
        .unwrap();
    assert_eq!(
        renewed,
        Claim::Held {
            token: 1,
            previous: None,
            wanted_by: None
        }
    );

    // It lapses (by the database's clock); B takes over with a new token.
    tokio::time::sleep(LEASE + Duration::from_millis(200)).await;
    let b = claim(&c, terms(DEFAULT_GROUP, "gov-b", None))
        .await
        .unwrap();
    assert_eq!(
        b,
        Claim::Held {
            token: 2,
            previous: Some(("gov-a".into(), 1)),
            wanted_by: None
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
    let renew = claim(&c, terms(DEFAULT_GROUP, "gov-a", Some(1)))
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
    let a = claim(&c, terms(DEFAULT_GROUP, "gov-a", None))
        .await
        .unwrap();
    assert_eq!(token(&a), 3);
    // And a renewal sent too long ago is refused on this daemon's own clock.
    fence.hold(3, Instant::now() - LEASE);
    let err = ledger.record_intent(intent(3)).await.unwrap_err();
    assert!(matches!(err, LedgerError::LeaseUnrenewed { .. }), "{err}");
}

#[tokio::test]
async fn groups_have_leases_of_their_own_a_grace_for_others_and_a_way_back() {
    let pg = postgres::Postgres::start();
    let url = pg.database("groups");
    let location = LedgerLocation::Postgres(target(&url));
    let identity = identity();
    let (east, west) = (
        Arc::new(Fence::new("gov-a", "east", LEASE)),
        Arc::new(Fence::new("gov-a", "west", LEASE)),
    );
    let base = Ledger::open_fenced(
        &location,
        identity,
        Some(FenceSet::any(vec![east.clone(), west.clone()])),
    )
    .await
    .expect("open");
    let round = base.fenced_by(FenceSet::all(vec![east.clone(), west.clone()]));
    let c = connect_lease(&target(&url), Duration::from_secs(1))
        .await
        .expect("lease connection");

    // gov-a prefers east; gov-b prefers west. Each takes its own at once.
    let sent = Instant::now();
    let a = claim(&c, terms("east", "gov-a", None)).await.unwrap();
    east.hold(token(&a), sent);
    let b = claim(&c, terms("west", "gov-b", None)).await.unwrap();
    assert_eq!(token(&b), 1);
    // gov-a's daemon-wide handle writes (it holds east); a round over both
    // groups is refused, naming the group it lacks.
    base.record_intent(intent(1))
        .await
        .expect("any lease held: the daemon's handle writes");
    let err = round.record_intent(intent(2)).await.unwrap_err();
    assert!(
        err.is_fenced() && err.to_string().contains("group west"),
        "{err}"
    );
    // gov-a, believing it holds west with gov-b's token, is refused by the
    // database, not just its own clock.
    west.hold(1, Instant::now());
    let err = round.record_intent(intent(2)).await.unwrap_err();
    assert!(
        err.to_string().contains("the leader is gov-b (token 1)"),
        "{err}"
    );
    west.release();

    // gov-b dies. Once its lease is out, gov-a (not preferring west) still
    // waits a grace; a claim without grace (another preferred daemon) would not.
    tokio::time::sleep(LEASE + Duration::from_millis(200)).await;
    let graced = ClaimTerms {
        grace: LEASE,
        ..terms("west", "gov-a", None)
    };
    let early = claim(&c, graced).await.unwrap();
    assert!(
        matches!(early, Claim::Taken { ref holder, .. } if holder == "gov-b"),
        "{early:?}"
    );
    tokio::time::sleep(LEASE).await;
    let sent = Instant::now();
    let took = claim(&c, graced).await.unwrap();
    assert!(
        matches!(took, Claim::Held { token: 2, previous: Some((ref h, 1)), wanted_by: None } if h == "gov-b"),
        "{took:?}"
    );
    west.hold(2, sent);
    // Renewals keep east's and west's tokens apart.
    let a = claim(&c, terms("east", "gov-a", Some(1))).await.unwrap();
    east.hold(token(&a), Instant::now());
    round
        .record_intent(intent(2))
        .await
        .expect("both leases held: the round writes");

    // gov-b returns and asks for west; gov-a's next renewal says so, and
    // once it hands west back, gov-b takes it at once.
    want(&c, "west", "gov-b").await.unwrap();
    let renewal = claim(&c, terms("west", "gov-a", Some(2))).await.unwrap();
    assert_eq!(
        renewal,
        Claim::Held {
            token: 2,
            previous: None,
            wanted_by: Some("gov-b".into())
        }
    );
    assert!(release(&c, "west", "gov-a", 2).await.unwrap());
    west.release();
    let back = claim(&c, terms("west", "gov-b", None)).await.unwrap();
    assert!(
        matches!(
            back,
            Claim::Held {
                token: 3,
                wanted_by: None,
                ..
            }
        ),
        "{back:?}"
    );
    assert!(
        round
            .record_intent(intent(3))
            .await
            .unwrap_err()
            .is_fenced()
    );

    // Taking west over marks only the rounds that voted for west.
    let east_only = base.fenced_by(FenceSet::one(east.clone()));
    let mine = east_only.start_round("control", None).await.unwrap();
    assert_eq!(
        base.interrupt_unfinished_rounds(Some("west"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        base.interrupt_unfinished_rounds(Some("east"))
            .await
            .unwrap(),
        1
    );
    assert!(base.round(mine).await.unwrap().is_some());
}
