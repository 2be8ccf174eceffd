// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Multicall3 (the test chain's copy of its interface)
/// @notice Serves the two functions govnode reads through, with the ABI of the
/// Multicall3 that public chains carry at
/// 0xcA11bde05977b3631167028862bE2a173976CA11. The devnet places this
/// contract's runtime code at that address when the chain has none there, so
/// the daemon's reads take the same path as on mainnet.
contract Multicall3 {
    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    /// @notice Calls each target in order; a failing call reverts the whole
    /// aggregate unless it allows failure, in which case its revert data is
    /// its result.
    function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory results) {
        results = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok, bytes memory data) = calls[i].target.call(calls[i].callData);
            if (!ok && !calls[i].allowFailure) {
                assembly {
                    revert(add(data, 32), mload(data))
                }
            }
            results[i] = Result(ok, data);
        }
    }

    /// @notice The ether balance of `account`.
    function getEthBalance(address account) external view returns (uint256) {
        return account.balance;
    }
}
