// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Governor} from "@openzeppelin/contracts/governance/Governor.sol";
import {GovernorSettings} from "@openzeppelin/contracts/governance/extensions/GovernorSettings.sol";
import {GovernorCountingSimple} from "@openzeppelin/contracts/governance/extensions/GovernorCountingSimple.sol";
import {GovernorVotes} from "@openzeppelin/contracts/governance/extensions/GovernorVotes.sol";
import {GovernorVotesQuorumFraction} from
    "@openzeppelin/contracts/governance/extensions/GovernorVotesQuorumFraction.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";

/// @title TestGovernor
/// @notice OpenZeppelin Governor with no timelock, for the generic-Governor path.
///         The clock is the token's, i.e. block numbers for GovToken, so on anvil a
///         test moves through Pending -> Active -> Defeated/Succeeded by mining
///         blocks; the constructor takes small delay/period values for that reason.
///         Proposal threshold is 0: any address may propose.
contract TestGovernor is
    Governor,
    GovernorSettings,
    GovernorCountingSimple,
    GovernorVotes,
    GovernorVotesQuorumFraction
{
    /// @param token          the IVotes token (GovToken)
    /// @param delayBlocks    blocks between propose and the start of voting, e.g. 1
    /// @param periodBlocks   blocks voting stays open, e.g. 20
    /// @param quorumPercent  quorum as a percentage of the supply at the snapshot, e.g. 4
    constructor(IVotes token, uint48 delayBlocks, uint32 periodBlocks, uint256 quorumPercent)
        Governor("TestGovernor")
        GovernorSettings(delayBlocks, periodBlocks, 0)
        GovernorVotes(token)
        GovernorVotesQuorumFraction(quorumPercent)
    {}

    function votingDelay() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.votingDelay();
    }

    function votingPeriod() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.votingPeriod();
    }

    function quorum(uint256 timepoint)
        public
        view
        override(Governor, GovernorVotesQuorumFraction)
        returns (uint256)
    {
        return super.quorum(timepoint);
    }

    function proposalThreshold() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.proposalThreshold();
    }
}
