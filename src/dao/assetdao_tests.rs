use alloy::primitives::{Log as PrimitiveLog, address};

use super::*;

fn rpc_log(data: alloy::primitives::LogData) -> Log {
    Log {
        inner: PrimitiveLog {
            address: Address::ZERO,
            data,
        },
        block_number: Some(9),
        ..Default::default()
    }
}

/// Both revisions' `VoteCast` decode; the legacy one has no weight.
#[test]
fn decodes_both_vote_cast_shapes() {
    let voter = address!("00000000000000000000000000000000000000aa");
    let current = IAssetDAO::VoteCast {
        proposalId: U256::from(3),
        voter,
        support: false,
        weight: U256::from(70),
    };
    let legacy = IAssetDAOLegacy::VoteCast {
        proposalId: U256::from(4),
        voter,
        support: true,
    };
    let a = decode_vote_cast(&rpc_log(current.encode_log_data())).unwrap();
    assert_eq!(
        (a.proposal_id, a.choice, a.weight, a.block_number),
        (
            U256::from(3),
            VoteChoice::Against,
            Some(U256::from(70)),
            Some(9)
        )
    );
    let b = decode_vote_cast(&rpc_log(legacy.encode_log_data())).unwrap();
    assert_eq!(
        (b.proposal_id, b.voter, b.choice, b.weight),
        (U256::from(4), voter, VoteChoice::For, None)
    );
    assert_eq!(
        format!("{:#x}", IAssetDAOLegacy::VoteCast::SIGNATURE_HASH)[..10],
        *"0xe71fcdac",
        "the source revision's topic, as seen on anvil"
    );
    let other = IAssetDAO::ProposalCreated {
        proposalId: U256::from(1),
        assetId: U256::ZERO,
        proposer: voter,
        proposalType: 0,
    };
    assert!(decode_vote_cast(&rpc_log(other.encode_log_data())).is_none());
}

fn offline() -> DynProvider {
    use alloy::providers::{Provider, ProviderBuilder};
    // Never contacted: `is_open` is pure.
    ProviderBuilder::new()
        .connect_http("http://127.0.0.1:9".parse().unwrap())
        .erased()
}

fn proposal(ends: u64, status: ProposalStatus, executed: bool) -> Proposal {
    Proposal {
        id: U256::from(1),
        kind: ProposalKind::Investment,
        asset: None,
        amount: U256::ZERO,
        description: String::new(),
        proposer: Address::ZERO,
        created_at: Timepoint::Timestamp(0),
        deadline: Timepoint::Timestamp(ends),
        yes_votes: U256::ZERO,
        no_votes: U256::ZERO,
        abstain_votes: U256::ZERO,
        status,
        executed,
    }
}

#[test]
fn open_means_active_unpaused_and_before_the_margin() {
    let dao = AssetDao::new(Address::ZERO, offline(), 1);
    let listing = |paused| Listing {
        head: Head {
            number: 1,
            hash: Default::default(),
            timestamp: 1_000,
        },
        paused,
        total: 1,
        proposals: vec![],
    };
    let margin = VoteMargin {
        seconds: 60,
        blocks: 0,
    };
    let active = ProposalStatus::Active;
    let cases = [
        (false, proposal(1_060, active, false), true),
        (false, proposal(1_059, active, false), false),
        (true, proposal(5_000, active, false), false),
        (
            false,
            proposal(5_000, ProposalStatus::Canceled, false),
            false,
        ),
        (
            false,
            proposal(5_000, ProposalStatus::Executed, true),
            false,
        ),
    ];
    for (paused, p, want) in cases {
        let got = dao.is_open(&listing(paused), &p, margin);
        assert_eq!(got.is_open(), want, "{paused} {p:?}: {got:?}");
    }
}
