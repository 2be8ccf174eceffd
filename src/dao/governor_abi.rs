//! The OpenZeppelin Governor ABI govnode uses (identical in v4 and v5 for
//! these entries) and the decoding of its vote events.

use alloy::rpc::types::Log;

use super::types::VoteCastEvent;
use crate::strategy::VoteChoice;

mod bindings {
    // `ProposalCreated` has nine fields; the generated constructor takes them all.
    #![allow(clippy::too_many_arguments)]
    use alloy::sol;

    sol! {
        #[sol(rpc)]
        interface IGovernor {
            event ProposalCreated(uint256 proposalId, address proposer, address[] targets, uint256[] values, string[] signatures, bytes[] calldatas, uint256 voteStart, uint256 voteEnd, string description);
            event VoteCast(address indexed voter, uint256 proposalId, uint8 support, uint256 weight, string reason);
            event VoteCastWithParams(address indexed voter, uint256 proposalId, uint8 support, uint256 weight, string reason, bytes params);

            function state(uint256 proposalId) external view returns (uint8);
            function proposalDeadline(uint256 proposalId) external view returns (uint256);
            function proposalSnapshot(uint256 proposalId) external view returns (uint256);
            function proposalVotes(uint256 proposalId) external view returns (uint256 againstVotes, uint256 forVotes, uint256 abstainVotes);
            function hasVoted(uint256 proposalId, address account) external view returns (bool);
            function castVoteWithReason(uint256 proposalId, uint8 support, string reason) external returns (uint256);
            function getVotes(address account, uint256 timepoint) external view returns (uint256);
            function token() external view returns (address);
            function CLOCK_MODE() external view returns (string);

            error GovernorAlreadyCastVote(address voter);
            error GovernorUnexpectedProposalState(uint256 proposalId, uint8 current, bytes32 expectedStates);
            error GovernorNonexistentProposal(uint256 proposalId);
            error GovernorInvalidVoteType();
        }
    }
}

pub use bindings::IGovernor;

/// `VoteCast` or `VoteCastWithParams`; `None` for any other log.
pub fn decode_vote_cast(log: &Log) -> Option<VoteCastEvent> {
    let (voter, proposal_id, support, weight, reason) =
        if let Ok(e) = log.log_decode::<IGovernor::VoteCast>() {
            let d = e.inner.data;
            (d.voter, d.proposalId, d.support, d.weight, d.reason)
        } else if let Ok(e) = log.log_decode::<IGovernor::VoteCastWithParams>() {
            let d = e.inner.data;
            (d.voter, d.proposalId, d.support, d.weight, d.reason)
        } else {
            return None;
        };
    let choice = match support {
        0 => VoteChoice::Against,
        1 => VoteChoice::For,
        _ => VoteChoice::Abstain,
    };
    Some(VoteCastEvent {
        proposal_id,
        voter,
        choice,
        weight: Some(weight),
        reason,
        block_number: log.block_number,
        tx_hash: log.transaction_hash,
    })
}
