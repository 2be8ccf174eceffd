use alloy::primitives::{Address, U256};

use super::*;
use crate::strategy::VoteChoice;

const H1: B256 = B256::repeat_byte(0x11);

fn row(state: VoteState, nonce: Option<u64>) -> VoteRow {
    VoteRow {
        id: 1,
        dao: Address::ZERO,
        proposal_id: U256::from(1),
        voter: Address::ZERO,
        node: "n".into(),
        round_id: None,
        decision: VoteChoice::For,
        reason: String::new(),
        strategy: "conservative".into(),
        rule: None,
        state,
        nonce,
        tx_hash: nonce.map(|_| H1),
        raw_tx: nonce.map(|_| Bytes::from_static(b"raw")),
        block_number: None,
        gas_used: None,
        error: None,
        created_at: 0,
        updated_at: 0,
        signed_at: None,
        sent_at: None,
        finished_at: None,
        source: crate::ledger::VoteSource::Ledger,
        retries: 0,
    }
}

fn attempt() -> Attempt {
    Attempt {
        vote_id: 1,
        nonce: 7,
        tx_hash: H1,
        raw_tx: Bytes::from_static(b"raw"),
        created_at: 0,
    }
}

fn mined(success: bool) -> Mined {
    Mined {
        tx_hash: H1,
        block_number: 10,
        gas_used: 106_750,
        success,
        fee_wei: None,
    }
}

fn facts(has_voted: bool, receipt: Option<Mined>, in_mempool: bool, nonce: u64) -> Facts {
    Facts {
        has_voted,
        receipt,
        in_mempool,
        confirmed_nonce: nonce,
    }
}

/// Every case of the protocol, for every unfinished state.
#[test]
fn decides_every_case() {
    use VoteState::*;
    let rebroadcast = Action::Rebroadcast {
        tx_hash: H1,
        raw: Bytes::from_static(b"raw"),
    };
    let resign = |a: &Action| matches!(a, Action::Resign { .. });
    type Case = (VoteState, Facts, Box<dyn Fn(&Action) -> bool>, &'static str);
    let is = |want: Action| -> Box<dyn Fn(&Action) -> bool> { Box::new(move |a| *a == want) };
    let cases: Vec<Case> = vec![
        (
            Intent,
            facts(false, None, false, 0),
            is(Action::Sign),
            "fresh intent: sign",
        ),
        (
            Intent,
            facts(true, None, false, 0),
            is(Action::External),
            "voted elsewhere: never send",
        ),
        (
            Signed,
            facts(true, Some(mined(true)), false, 8),
            is(Action::Mined(mined(true))),
            "signed, mined",
        ),
        (
            Sent,
            facts(false, Some(mined(false)), false, 8),
            is(Action::Mined(mined(false))),
            "sent, reverted",
        ),
        (
            Sent,
            facts(true, None, false, 8),
            is(Action::External),
            "vote on chain, receipt not ours",
        ),
        (
            Signed,
            facts(false, None, true, 7),
            is(Action::Wait),
            "crash after broadcast: in mempool",
        ),
        (
            Sent,
            facts(false, None, true, 7),
            is(Action::Wait),
            "sent, still pending",
        ),
        (
            Signed,
            facts(false, None, false, 7),
            is(rebroadcast.clone()),
            "crash before broadcast: same bytes",
        ),
        (
            Sent,
            facts(false, None, false, 3),
            is(rebroadcast.clone()),
            "dropped from mempool, nonce free",
        ),
        (
            Sent,
            facts(false, None, false, 8),
            Box::new(resign),
            "nonce taken by another tx",
        ),
    ];
    for (state, f, ok, what) in cases {
        let r = row(state, (state != Intent).then_some(7));
        let a = attempt();
        let latest = (state != Intent).then_some(&a);
        let action = decide(&r, latest, &f);
        assert!(ok(&action), "{what}: got {action:?}");
    }
}

#[test]
fn a_receipt_outranks_everything() {
    for has_voted in [false, true] {
        for in_mempool in [false, true] {
            let f = facts(has_voted, Some(mined(true)), in_mempool, 100);
            assert_eq!(
                decide(&row(VoteState::Sent, Some(7)), Some(&attempt()), &f),
                Action::Mined(mined(true))
            );
        }
    }
}

#[test]
fn never_signs_again_while_a_vote_may_exist() {
    // Sign/Resign only when hasVoted is false and no receipt exists.
    for state in [VoteState::Intent, VoteState::Signed, VoteState::Sent] {
        for in_mempool in [false, true] {
            for nonce in [0, 7, 8] {
                let f = facts(true, None, in_mempool, nonce);
                let a = attempt();
                let action = decide(&row(state, Some(7)), Some(&a), &f);
                assert_eq!(action, Action::External, "{state} {in_mempool} {nonce}");
            }
        }
    }
}

#[test]
fn signed_row_without_bytes_is_resigned_not_guessed() {
    let action = decide(
        &row(VoteState::Signed, None),
        None,
        &facts(false, None, false, 0),
    );
    assert!(matches!(action, Action::Resign { .. }));
}

#[test]
fn new_states() {
    assert_eq!(
        Action::Mined(mined(true)).new_state(),
        Some(VoteState::Confirmed)
    );
    assert_eq!(
        Action::Mined(mined(false)).new_state(),
        Some(VoteState::Reverted)
    );
    assert_eq!(
        Action::External.new_state(),
        Some(VoteState::ConfirmedExternal)
    );
    assert_eq!(Action::Wait.new_state(), None);
}
