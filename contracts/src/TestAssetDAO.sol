// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IVotingToken {
    function balanceOf(address account) external view returns (uint256);
}

/// @title TestAssetDAO
/// @notice Test-chain model of DLoop's AssetDAO, limited to what govnode reads and
///         sends. It keeps the deployed contract's quirks on purpose, because the
///         daemon has to survive them on the real chain:
///         - vote weight is the voter's live token balance, with no snapshot;
///         - there is no "already voted" check, only a 6-hour buffer between votes of
///           the same address, and a re-vote moves the voter's current balance from
///           the other side to the chosen one without looking at the earlier choice;
///         - `status` changes only on create, execute and cancel, never with time.
///         A proposal id that does not exist reads as an all-zero proposal.
contract TestAssetDAO {
    enum ProposalType {
        Investment,
        Divestment,
        ParameterChange,
        Other
    }

    enum ProposalState {
        Pending,
        Active,
        Rejected,
        Approved,
        Executed,
        Canceled
    }

    struct Proposal {
        uint256 id;
        ProposalType proposalType;
        address assetAddress;
        uint256 amount;
        string description;
        address proposer;
        uint256 createdAt;
        uint256 votingEnds;
        uint256 yesVotes;
        uint256 noVotes;
        ProposalState status;
        bool executed;
    }

    uint256 public constant VOTING_BUFFER = 6 hours;
    uint256 public constant EXECUTION_DELAY = 1 days;
    uint256 public constant BASIS_POINTS = 10_000;

    address public immutable dloopToken;
    address public owner;
    address public admin;
    bool public paused;
    uint256 public votingPeriod;
    /// Minimum share of yes votes among the votes cast, in basis points.
    uint256 public quorum = 1000;

    uint256 private _proposalCount;
    mapping(uint256 => Proposal) private _proposals;
    mapping(uint256 => mapping(address => bool)) private _hasVoted;
    mapping(uint256 => mapping(address => uint256)) private _lastVoteAt;

    event ProposalCreated(
        uint256 indexed proposalId, uint256 indexed assetId, address indexed proposer, uint8 proposalType
    );
    event VoteCast(uint256 indexed proposalId, address indexed voter, bool support, uint256 weight);
    event ProposalExecuted(uint256 indexed proposalId);
    event ProposalCanceled(uint256 indexed proposalId);
    event Paused(address account);
    event Unpaused(address account);
    event VotingPeriodUpdated(uint256 votingPeriod);
    event QuorumUpdated(uint256 quorum);
    event AdminUpdated(address admin);

    error ContractPaused();
    error ProposalNotFound();
    error VotingPeriodEnded();
    error InvalidProposalState();
    error VotingBufferNotElapsed();
    error Unauthorized();
    error ExecutionDelayNotElapsed();
    error QuorumNotReached();
    error InvalidParameter();

    modifier onlyOwner() {
        if (msg.sender != owner) revert Unauthorized();
        _;
    }

    modifier whenNotPaused() {
        if (paused) revert ContractPaused();
        _;
    }

    constructor(address votingToken, uint256 votingPeriodSeconds) {
        if (votingToken == address(0) || votingPeriodSeconds == 0) revert InvalidParameter();
        dloopToken = votingToken;
        votingPeriod = votingPeriodSeconds;
        owner = msg.sender;
        admin = msg.sender;
    }

    // ---- proposals ------------------------------------------------------------

    /// Open to anyone while not paused; an out-of-range type fails ABI decoding,
    /// which reverts with empty data as the deployed contract does.
    function createProposal(ProposalType proposalType, address assetAddress, uint256 amount, string calldata description)
        external
        whenNotPaused
        returns (uint256 id)
    {
        id = ++_proposalCount;
        Proposal storage p = _proposals[id];
        p.id = id;
        p.proposalType = proposalType;
        p.assetAddress = assetAddress;
        p.amount = amount;
        p.description = description;
        p.proposer = msg.sender;
        p.createdAt = block.timestamp;
        p.votingEnds = block.timestamp + votingPeriod;
        p.status = ProposalState.Active;
        emit ProposalCreated(id, uint256(uint160(assetAddress)), msg.sender, uint8(proposalType));
    }

    function vote(uint256 proposalId, bool support) external {
        if (paused) revert ContractPaused();
        if (proposalId == 0 || proposalId > _proposalCount) revert ProposalNotFound();
        Proposal storage p = _proposals[proposalId];
        if (block.timestamp > p.votingEnds) revert VotingPeriodEnded();
        if (p.status != ProposalState.Active) revert InvalidProposalState();
        if (_hasVoted[proposalId][msg.sender] && block.timestamp < _lastVoteAt[proposalId][msg.sender] + VOTING_BUFFER) {
            revert VotingBufferNotElapsed();
        }

        uint256 weight = IVotingToken(dloopToken).balanceOf(msg.sender);
        if (_hasVoted[proposalId][msg.sender]) {
            // The earlier direction is not recorded, so the current balance is taken
            // from the opposite side whatever was chosen before; checked arithmetic
            // makes this panic (0x11) when that side holds less.
            if (support) {
                p.noVotes -= weight;
                p.yesVotes += weight;
            } else {
                p.yesVotes -= weight;
                p.noVotes += weight;
            }
        } else {
            _hasVoted[proposalId][msg.sender] = true;
            if (support) {
                p.yesVotes += weight;
            } else {
                p.noVotes += weight;
            }
        }
        _lastVoteAt[proposalId][msg.sender] = block.timestamp;
        emit VoteCast(proposalId, msg.sender, support, weight);
    }

    /// Anyone may execute once the voting period and the one-day delay are over.
    function executeProposal(uint256 proposalId) external {
        if (proposalId == 0 || proposalId > _proposalCount) revert ProposalNotFound();
        Proposal storage p = _proposals[proposalId];
        if (p.status != ProposalState.Active || p.executed) revert InvalidProposalState();
        if (block.timestamp <= p.votingEnds + EXECUTION_DELAY) revert ExecutionDelayNotElapsed();
        uint256 cast = p.yesVotes + p.noVotes;
        if (cast == 0 || p.yesVotes * BASIS_POINTS < cast * quorum) revert QuorumNotReached();
        p.executed = true;
        p.status = ProposalState.Executed;
        emit ProposalExecuted(proposalId);
    }

    /// The proposer, admin or owner may cancel until execution, also while paused.
    function cancelProposal(uint256 proposalId) external {
        if (proposalId == 0 || proposalId > _proposalCount) revert ProposalNotFound();
        Proposal storage p = _proposals[proposalId];
        if (msg.sender != p.proposer && msg.sender != admin && msg.sender != owner) revert Unauthorized();
        if (p.status != ProposalState.Active || p.executed) revert InvalidProposalState();
        p.status = ProposalState.Canceled;
        emit ProposalCanceled(proposalId);
    }

    // ---- views ----------------------------------------------------------------

    function getProposalCount() external view returns (uint256) {
        return _proposalCount;
    }

    /// The input is `proposalId` only because Solidity forbids an input and an output
    /// of the same name; the output names are the ABI's, which bindings turn into fields.
    function getProposal(uint256 proposalId)
        external
        view
        returns (
            uint256 id,
            ProposalType proposalType,
            address assetAddress,
            uint256 amount,
            string memory description,
            address proposer,
            uint256 createdAt,
            uint256 votingEnds,
            uint256 yesVotes,
            uint256 noVotes,
            ProposalState status,
            bool executed
        )
    {
        Proposal storage p = _proposals[proposalId];
        return (
            p.id,
            p.proposalType,
            p.assetAddress,
            p.amount,
            p.description,
            p.proposer,
            p.createdAt,
            p.votingEnds,
            p.yesVotes,
            p.noVotes,
            p.status,
            p.executed
        );
    }

    function hasVoted(uint256 proposalId, address voter) external view returns (bool) {
        return _hasVoted[proposalId][voter];
    }

    // ---- administration -------------------------------------------------------

    function pause() external onlyOwner {
        paused = true;
        emit Paused(msg.sender);
    }

    function unpause() external onlyOwner {
        paused = false;
        emit Unpaused(msg.sender);
    }

    /// Applies to proposals created afterwards, so a test can make short-lived ones.
    function setVotingPeriod(uint256 votingPeriodSeconds) external onlyOwner {
        if (votingPeriodSeconds == 0) revert InvalidParameter();
        votingPeriod = votingPeriodSeconds;
        emit VotingPeriodUpdated(votingPeriodSeconds);
    }

    function setQuorum(uint256 quorumBasisPoints) external onlyOwner {
        if (quorumBasisPoints > BASIS_POINTS) revert InvalidParameter();
        quorum = quorumBasisPoints;
        emit QuorumUpdated(quorumBasisPoints);
    }

    function setAdmin(address newAdmin) external onlyOwner {
        admin = newAdmin;
        emit AdminUpdated(newAdmin);
    }
}
