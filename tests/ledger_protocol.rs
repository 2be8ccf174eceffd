//! The ledger's send protocol without a chain: one row per (dao, proposal,
//! voter), state moves only forward and only in order, and the queries the
//! API builds on.

use alloy::primitives::{Address, B256, Bytes, U256, address};
use govnode::ledger::{Intent, Ledger, LedgerError, LedgerIdentity, Mined, NewIntent, VoteState};
use govnode::strategy::VoteChoice;

const DAO: Address = address!("5FbDB2315678afecb367f032d93F642f64180aa3");
const ALICE: Address = address!("00000000000000000000000000000000000a11ce");
const BOB: Address = address!("0000000000000000000000000000000000000b0b");

fn open() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(
        &dir.path().join("ledger.sqlite"),
        LedgerIdentity {
            chain_id: 31337,
            dao: DAO,
        },
    )
    .unwrap();
    (dir, ledger)
}

fn intent(proposal: u64, voter: Address, decision: VoteChoice) -> NewIntent {
    NewIntent {
        dao: DAO,
        proposal_id: U256::from(proposal),
        voter,
        node: if voter == ALICE { "alice" } else { "bob" }.into(),
        round_id: None,
        decision,
        reason: format!("{decision:?} because"),
        strategy: "conservative".into(),
        rule: Some("stablecoin-investment".into()),
    }
}

fn hash(n: u8) -> B256 {
    B256::repeat_byte(n)
}

fn raw(n: u8) -> Bytes {
    Bytes::from(vec![n; 8])
}

#[tokio::test]
async fn one_row_per_dao_proposal_voter_and_the_first_decision_stands() {
    let (_dir, ledger) = open();
    let first = ledger
        .record_intent(intent(1, ALICE, VoteChoice::For))
        .await
        .unwrap();
    let Intent::Recorded(row) = first else {
        panic!("expected a new row, got {first:?}")
    };
    assert_eq!(row.state, VoteState::Intent);
    // A second decision for the same key, even a different one, gets the first back.
    let again = ledger
        .record_intent(intent(1, ALICE, VoteChoice::Against))
        .await
        .unwrap();
    match again {
        Intent::Existing(existing) => {
            assert_eq!(existing.id, row.id);
            assert_eq!(existing.decision, VoteChoice::For);
        }
        other => panic!("expected the existing row, got {other:?}"),
    }
    // Another voter or another proposal is another row.
    for (p, v) in [(1, BOB), (2, ALICE)] {
        let r = ledger
            .record_intent(intent(p, v, VoteChoice::Against))
            .await
            .unwrap();
        assert!(matches!(r, Intent::Recorded(_)));
    }
    assert_eq!(ledger.pending().await.unwrap().len(), 3);
    // Big Governor ids are kept exactly.
    let mut big = intent(0, ALICE, VoteChoice::Abstain);
    big.proposal_id = U256::MAX;
    let r = ledger.record_intent(big).await.unwrap();
    assert_eq!(r.row().proposal_id, U256::MAX);
}

#[tokio::test]
async fn skip_is_not_recorded() {
    let (_dir, ledger) = open();
    let err = ledger
        .record_intent(intent(1, ALICE, VoteChoice::Skip))
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::NotAVote { .. }), "{err}");
    assert!(ledger.pending().await.unwrap().is_empty());
}

#[tokio::test]
async fn states_move_forward_in_order() {
    let (_dir, ledger) = open();
    let id = ledger
        .record_intent(intent(1, ALICE, VoteChoice::For))
        .await
        .unwrap()
        .row()
        .id;
    let invalid =
        |r: Result<_, LedgerError>| matches!(r, Err(LedgerError::InvalidTransition { .. }));
    assert!(invalid(ledger.mark_sent(id).await), "sent before signed");
    let mined = Mined {
        tx_hash: hash(1),
        block_number: 5,
        gas_used: 106_750,
        success: true,
        fee_wei: None,
    };
    assert!(
        matches!(
            ledger.mark_mined(id, mined).await,
            Err(LedgerError::Rejected { .. })
        ),
        "a receipt of a transaction that is not ours"
    );

    let signed = ledger.record_signed(id, 7, hash(1), raw(1)).await.unwrap();
    assert_eq!(signed.state, VoteState::Signed);
    assert_eq!(
        (signed.nonce, signed.tx_hash, signed.raw_tx.clone()),
        (Some(7), Some(hash(1)), Some(raw(1)))
    );
    assert!(
        invalid(ledger.record_signed(id, 8, hash(2), raw(2)).await),
        "signed twice"
    );
    assert!(
        invalid(ledger.mark_abandoned(id, "late").await),
        "abandon after signing"
    );

    assert_eq!(ledger.mark_sent(id).await.unwrap().state, VoteState::Sent);
    assert_eq!(
        ledger.mark_sent(id).await.unwrap().state,
        VoteState::Sent,
        "idempotent"
    );

    // A fee bump keeps the nonce; both attempts stay on record.
    let bumped = ledger
        .record_replacement(id, hash(2), raw(2), None)
        .await
        .unwrap();
    assert_eq!((bumped.nonce, bumped.tx_hash), (Some(7), Some(hash(2))));
    let attempts = ledger.attempts(id).await.unwrap();
    assert_eq!(
        attempts
            .iter()
            .map(|a| (a.nonce, a.tx_hash))
            .collect::<Vec<_>>(),
        [(7, hash(1)), (7, hash(2))]
    );

    // The first attempt is the one that got mined.
    let done = ledger.mark_mined(id, mined).await.unwrap();
    assert_eq!(done.state, VoteState::Confirmed);
    assert_eq!(
        (done.tx_hash, done.block_number, done.gas_used),
        (Some(hash(1)), Some(5), Some(106_750))
    );
    assert!(done.finished_at.is_some());
    assert!(
        invalid(ledger.mark_failed(id, "late").await),
        "nothing after final"
    );
    assert!(invalid(ledger.mark_mined(id, mined).await));
    assert!(ledger.pending().await.unwrap().is_empty());
}

#[tokio::test]
async fn terminal_moves_with_reasons() {
    let (_dir, ledger) = open();
    let new = |p| {
        let ledger = ledger.clone();
        async move {
            ledger
                .record_intent(intent(p, ALICE, VoteChoice::Against))
                .await
                .unwrap()
                .row()
                .id
        }
    };
    let a = new(1).await;
    let row = ledger
        .mark_abandoned(a, "VotingPeriodEnded on estimation")
        .await
        .unwrap();
    assert_eq!(
        (row.state, row.error.as_deref()),
        (
            VoteState::Abandoned,
            Some("VotingPeriodEnded on estimation")
        )
    );

    let b = new(2).await;
    ledger.record_signed(b, 1, hash(3), raw(3)).await.unwrap();
    let row = ledger.mark_external(b, "hasVoted").await.unwrap();
    assert_eq!(row.state, VoteState::ConfirmedExternal);

    let c = new(3).await;
    ledger.record_signed(c, 2, hash(4), raw(4)).await.unwrap();
    let reverted = Mined {
        tx_hash: hash(4),
        block_number: 9,
        gas_used: 28_346,
        success: false,
        fee_wei: None,
    };
    assert_eq!(
        ledger.mark_mined(c, reverted).await.unwrap().state,
        VoteState::Reverted
    );

    // Re-arming a signed row whose nonce was taken: same decision, no tx.
    let d = new(4).await;
    ledger.record_signed(d, 3, hash(5), raw(5)).await.unwrap();
    let row = ledger.reset_to_intent(d, "nonce 3 taken").await.unwrap();
    assert_eq!(row.state, VoteState::Intent);
    assert_eq!((row.nonce, row.tx_hash, row.raw_tx), (None, None, None));
    assert_eq!(row.decision, VoteChoice::Against);
    let again = ledger.record_signed(d, 4, hash(6), raw(6)).await.unwrap();
    assert_eq!(again.nonce, Some(4));
    assert_eq!(ledger.attempts(d).await.unwrap().len(), 2);
    assert_eq!(ledger.max_nonce(ALICE).await.unwrap(), Some(4));
    assert_eq!(ledger.max_nonce(BOB).await.unwrap(), None);
}

#[tokio::test]
async fn queries_for_the_api() {
    let (_dir, ledger) = open();
    let round = ledger.start_round("timer", None).await.unwrap();
    ledger.set_round_head(round, 42).await.unwrap();
    for (p, v, d) in [
        (1, ALICE, VoteChoice::For),
        (1, BOB, VoteChoice::Against),
        (2, ALICE, VoteChoice::For),
    ] {
        let mut i = intent(p, v, d);
        i.round_id = Some(round);
        ledger.record_intent(i).await.unwrap();
    }
    let alice_first = ledger
        .vote_for(DAO, U256::from(1), ALICE)
        .await
        .unwrap()
        .unwrap();
    ledger
        .record_signed(alice_first.id, 0, hash(1), raw(1))
        .await
        .unwrap();
    ledger
        .mark_mined(
            alice_first.id,
            Mined {
                tx_hash: hash(1),
                block_number: 43,
                gas_used: 1,
                success: true,
                fee_wei: None,
            },
        )
        .await
        .unwrap();

    let by_node = ledger.votes_by_node("alice", 10).await.unwrap();
    assert_eq!(
        by_node
            .iter()
            .map(|r| r.proposal_id.to::<u64>())
            .collect::<Vec<_>>(),
        [2, 1],
        "newest first"
    );
    assert_eq!(ledger.votes_by_node("alice", 1).await.unwrap().len(), 1);
    let by_proposal = ledger.votes_by_proposal(DAO, U256::from(1)).await.unwrap();
    assert_eq!(
        by_proposal
            .iter()
            .map(|r| r.node.as_str())
            .collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    assert_eq!(ledger.votes_by_round(round).await.unwrap().len(), 3);
    assert!(
        ledger
            .vote_for(DAO, U256::from(3), ALICE)
            .await
            .unwrap()
            .is_none()
    );

    let counts = ledger.vote_counts().await.unwrap();
    assert_eq!(counts.len(), 2);
    let alice = &counts[0];
    assert_eq!((alice.node.as_str(), alice.voter), ("alice", ALICE));
    assert_eq!(
        (
            alice.total,
            alice.confirmed,
            alice.pending,
            alice.unsuccessful
        ),
        (2, 1, 1, 0)
    );
    assert!(alice.last_vote_at.is_some());
    assert_eq!(
        (counts[1].total, counts[1].pending, counts[1].last_vote_at),
        (1, 1, None)
    );

    ledger
        .finish_round(round, "ok", serde_json::json!({"voted": 1}))
        .await
        .unwrap();
    assert!(
        ledger
            .finish_round(round, "ok", serde_json::json!({}))
            .await
            .is_err(),
        "finished once"
    );
    let r = ledger.round(round).await.unwrap().unwrap();
    assert_eq!((r.outcome.as_deref(), r.head_block), (Some("ok"), Some(42)));
    assert_eq!(r.summary, Some(serde_json::json!({"voted": 1})));

    let crashed = ledger.start_round("api", None).await.unwrap();
    let newest = ledger.start_round("timer", None).await.unwrap();
    assert_eq!(ledger.interrupt_unfinished_rounds(None).await.unwrap(), 2);
    assert_eq!(
        ledger
            .round(crashed)
            .await
            .unwrap()
            .unwrap()
            .outcome
            .as_deref(),
        Some("interrupted")
    );
    let listed = ledger.rounds(2, None).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        [newest, crashed]
    );
    let older = ledger.rounds(10, Some(crashed)).await.unwrap();
    assert_eq!(older.iter().map(|r| r.id).collect::<Vec<_>>(), [round]);
    assert!(ledger.round(9999).await.unwrap().is_none());
}

/// Concurrent intents for one key from many tasks: exactly one is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_intents_record_one_row() {
    let (_dir, ledger) = open();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let ledger = ledger.clone();
            let choice = if i % 2 == 0 {
                VoteChoice::For
            } else {
                VoteChoice::Against
            };
            tokio::spawn(async move { ledger.record_intent(intent(9, ALICE, choice)).await })
        })
        .collect();
    let mut recorded = 0;
    let mut decisions = std::collections::HashSet::new();
    for t in tasks {
        let r = t.await.unwrap().unwrap();
        recorded += matches!(r, Intent::Recorded(_)) as usize;
        decisions.insert(r.row().decision);
    }
    assert_eq!(recorded, 1);
    assert_eq!(decisions.len(), 1, "every caller sees the one decision");
}
