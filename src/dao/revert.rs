//! Revert data → a reason an operator can read. Both DAOs' custom errors,
//! Solidity's `Error(string)` and `Panic(uint256)` are recognised; anything
//! else keeps its selector so it can still be looked up.

use std::fmt;

use alloy::primitives::{Address, B256, Bytes, U256, hex};
use alloy::sol_types::{Panic, Revert, SolError, SolInterface};
use alloy::transports::TransportError;
use serde::{Deserialize, Serialize};

use super::assetdao::IAssetDAO;
use super::governor_abi::IGovernor;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum RevertReason {
    ContractPaused,
    ProposalNotFound,
    VotingPeriodEnded,
    InvalidProposalState,
    VotingBufferNotElapsed,
    GovernorAlreadyCastVote {
        voter: Address,
    },
    GovernorUnexpectedProposalState {
        proposal_id: U256,
        current: u8,
        expected: B256,
    },
    GovernorNonexistentProposal {
        proposal_id: U256,
    },
    GovernorInvalidVoteType,
    /// Solidity `Panic(uint256)`: 0x11 is checked arithmetic over/underflow.
    Panic {
        code: U256,
    },
    /// `require(…, "message")` / `revert("message")`.
    Error {
        message: String,
    },
    /// A revert without data (e.g. an ABI decoding failure in the contract).
    Empty,
    Unknown {
        selector: String,
        data: Bytes,
    },
}

impl RevertReason {
    pub fn decode(data: &[u8]) -> RevertReason {
        if data.is_empty() {
            return RevertReason::Empty;
        }
        if let Ok(e) = IAssetDAO::IAssetDAOErrors::abi_decode(data) {
            use IAssetDAO::IAssetDAOErrors as E;
            return match e {
                E::ContractPaused(_) => RevertReason::ContractPaused,
                E::ProposalNotFound(_) => RevertReason::ProposalNotFound,
                E::VotingPeriodEnded(_) => RevertReason::VotingPeriodEnded,
                E::InvalidProposalState(_) => RevertReason::InvalidProposalState,
                E::VotingBufferNotElapsed(_) => RevertReason::VotingBufferNotElapsed,
            };
        }
        if let Ok(e) = IGovernor::IGovernorErrors::abi_decode(data) {
            use IGovernor::IGovernorErrors as E;
            return match e {
                E::GovernorAlreadyCastVote(v) => {
                    RevertReason::GovernorAlreadyCastVote { voter: v.voter }
                }
                E::GovernorUnexpectedProposalState(s) => {
                    RevertReason::GovernorUnexpectedProposalState {
                        proposal_id: s.proposalId,
                        current: s.current,
                        expected: s.expectedStates,
                    }
                }
                E::GovernorNonexistentProposal(p) => RevertReason::GovernorNonexistentProposal {
                    proposal_id: p.proposalId,
                },
                E::GovernorInvalidVoteType(_) => RevertReason::GovernorInvalidVoteType,
            };
        }
        if let Ok(r) = Revert::abi_decode(data) {
            return RevertReason::Error { message: r.reason };
        }
        if let Ok(p) = Panic::abi_decode(data) {
            return RevertReason::Panic { code: p.code };
        }
        RevertReason::Unknown {
            selector: hex::encode_prefixed(&data[..data.len().min(4)]),
            data: Bytes::copy_from_slice(data),
        }
    }

    /// The chain says this voter has voted already: never send again.
    pub fn already_voted(&self) -> bool {
        match self {
            RevertReason::VotingBufferNotElapsed | RevertReason::GovernorAlreadyCastVote { .. } => {
                true
            }
            // OpenZeppelin v4 reverts with strings.
            RevertReason::Error { message } => message.contains("vote already cast"),
            _ => false,
        }
    }

    /// A refusal that passes: the same vote may be accepted later while the
    /// proposal is open (a paused DAO is unpaused).
    pub fn is_transient(&self) -> bool {
        matches!(self, RevertReason::ContractPaused)
    }

    /// The vote can never be accepted: the chain counted one already, or the
    /// proposal is closed for good.
    pub fn is_permanent(&self) -> bool {
        self.already_voted() || (self.voting_closed() && !self.is_transient())
    }

    /// The proposal can no longer take this vote, whoever sends it.
    pub fn voting_closed(&self) -> bool {
        match self {
            RevertReason::ContractPaused
            | RevertReason::ProposalNotFound
            | RevertReason::VotingPeriodEnded
            | RevertReason::InvalidProposalState
            | RevertReason::GovernorUnexpectedProposalState { .. }
            | RevertReason::GovernorNonexistentProposal { .. } => true,
            RevertReason::Error { message } => {
                message.contains("vote not currently active")
                    || message.contains("unknown proposal")
            }
            _ => false,
        }
    }
}

impl fmt::Display for RevertReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RevertReason::ContractPaused => f.write_str("ContractPaused: the DAO is paused"),
            RevertReason::ProposalNotFound => {
                f.write_str("ProposalNotFound: no proposal with this id")
            }
            RevertReason::VotingPeriodEnded => {
                f.write_str("VotingPeriodEnded: the proposal's voting period is over")
            }
            RevertReason::InvalidProposalState => {
                f.write_str("InvalidProposalState: the proposal is canceled or executed")
            }
            RevertReason::VotingBufferNotElapsed => f.write_str(
                "VotingBufferNotElapsed: this address voted on the proposal less than 6 hours ago",
            ),
            RevertReason::GovernorAlreadyCastVote { voter } => {
                write!(f, "GovernorAlreadyCastVote: {voter} has already voted")
            }
            RevertReason::GovernorUnexpectedProposalState {
                proposal_id,
                current,
                expected,
            } => write!(
                f,
                "GovernorUnexpectedProposalState: proposal {proposal_id} is {}, expected one of [{}]",
                state_name(*current),
                expected_states(expected)
            ),
            RevertReason::GovernorNonexistentProposal { proposal_id } => {
                write!(f, "GovernorNonexistentProposal: no proposal {proposal_id}")
            }
            RevertReason::GovernorInvalidVoteType => {
                f.write_str("GovernorInvalidVoteType: support must be 0, 1 or 2")
            }
            RevertReason::Panic { code } => write!(f, "Panic(0x{code:x}): {}", panic_text(*code)),
            RevertReason::Error { message } => write!(f, "Error(\"{message}\")"),
            RevertReason::Empty => f.write_str("reverted without data"),
            RevertReason::Unknown { selector, .. } => write!(f, "unknown error {selector}"),
        }
    }
}

fn panic_text(code: U256) -> &'static str {
    match code.saturating_to::<u64>() {
        0x01 => "assertion failed",
        0x11 => "arithmetic overflow or underflow",
        0x12 => "division by zero",
        0x21 => "invalid enum value",
        0x32 => "array index out of bounds",
        0x41 => "out of memory",
        _ => "Solidity panic",
    }
}

const GOVERNOR_STATES: [&str; 8] = [
    "Pending",
    "Active",
    "Canceled",
    "Defeated",
    "Succeeded",
    "Queued",
    "Expired",
    "Executed",
];

fn state_name(raw: u8) -> String {
    GOVERNOR_STATES
        .get(usize::from(raw))
        .map_or_else(|| format!("state {raw}"), |s| (*s).to_owned())
}

/// OpenZeppelin encodes the accepted states as a bitmap in the low bits.
fn expected_states(bitmap: &B256) -> String {
    let bits = U256::from_be_bytes(bitmap.0);
    (0u8..8)
        .filter(|i| bits.bit(usize::from(*i)))
        .map(state_name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The revert data in a JSON-RPC error, or empty data when the node said
/// "reverted" without any; `None` when the error is not a revert at all.
pub fn revert_data(err: &TransportError) -> Option<Bytes> {
    let resp = err.as_error_resp()?;
    if let Some(data) = resp.as_revert_data() {
        return Some(data);
    }
    resp.message
        .to_ascii_lowercase()
        .contains("revert")
        .then(Bytes::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::address;

    #[test]
    fn decodes_every_known_error() {
        let voter = address!("00000000000000000000000000000000000000aa");
        let table: Vec<(Vec<u8>, RevertReason, &str)> = vec![
            (
                IAssetDAO::ContractPaused {}.abi_encode(),
                RevertReason::ContractPaused,
                "paused",
            ),
            (
                IAssetDAO::ProposalNotFound {}.abi_encode(),
                RevertReason::ProposalNotFound,
                "no proposal",
            ),
            (
                IAssetDAO::VotingPeriodEnded {}.abi_encode(),
                RevertReason::VotingPeriodEnded,
                "over",
            ),
            (
                IAssetDAO::InvalidProposalState {}.abi_encode(),
                RevertReason::InvalidProposalState,
                "canceled or executed",
            ),
            (
                IAssetDAO::VotingBufferNotElapsed {}.abi_encode(),
                RevertReason::VotingBufferNotElapsed,
                "6 hours",
            ),
            (
                IGovernor::GovernorAlreadyCastVote { voter }.abi_encode(),
                RevertReason::GovernorAlreadyCastVote { voter },
                "already voted",
            ),
            (
                Panic {
                    code: U256::from(0x11),
                }
                .abi_encode(),
                RevertReason::Panic {
                    code: U256::from(0x11),
                },
                "Panic(0x11): arithmetic overflow",
            ),
            (
                Revert::from("Governor: vote not currently active").abi_encode(),
                RevertReason::Error {
                    message: "Governor: vote not currently active".into(),
                },
                "Error(\"Governor: vote not currently active\")",
            ),
            (vec![], RevertReason::Empty, "without data"),
        ];
        for (data, want, text) in table {
            let got = RevertReason::decode(&data);
            assert_eq!(got, want);
            assert!(got.to_string().contains(text), "{got}");
        }
    }

    #[test]
    fn selectors_match_the_contract_docs() {
        let hex_of = |s: [u8; 4]| hex::encode_prefixed(s);
        assert_eq!(hex_of(IAssetDAO::ContractPaused::SELECTOR), "0xab35696f");
        assert_eq!(hex_of(IAssetDAO::ProposalNotFound::SELECTOR), "0x635e8737");
        assert_eq!(hex_of(IAssetDAO::VotingPeriodEnded::SELECTOR), "0xdc3b0dc4");
        assert_eq!(
            hex_of(IAssetDAO::InvalidProposalState::SELECTOR),
            "0xb4372803"
        );
        assert_eq!(
            hex_of(IAssetDAO::VotingBufferNotElapsed::SELECTOR),
            "0xf80433b7"
        );
    }

    #[test]
    fn governor_state_error_names_states() {
        let mut bitmap = [0u8; 32];
        bitmap[31] = 0b10; // Active
        let data = IGovernor::GovernorUnexpectedProposalState {
            proposalId: U256::from(7),
            current: 3,
            expectedStates: B256::from(bitmap),
        }
        .abi_encode();
        let r = RevertReason::decode(&data);
        assert_eq!(
            r.to_string(),
            "GovernorUnexpectedProposalState: proposal 7 is Defeated, expected one of [Active]"
        );
        assert!(r.voting_closed() && !r.already_voted());
    }

    #[test]
    fn unknown_selectors_keep_their_hex() {
        let r = RevertReason::decode(&[0xde, 0xad, 0xbe, 0xef, 1, 2]);
        assert_eq!(r.to_string(), "unknown error 0xdeadbeef");
        assert!(!r.already_voted() && !r.voting_closed());
        assert!(RevertReason::VotingBufferNotElapsed.already_voted());
        assert!(
            RevertReason::Error {
                message: "GovernorVotingSimple: vote already cast".into()
            }
            .already_voted()
        );
    }
}
