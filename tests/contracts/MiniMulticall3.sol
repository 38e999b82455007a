// SPDX-License-Identifier: MIT
pragma solidity ^0.8.12;

/// The two functions of Multicall3 that chaintop uses, with Multicall3's ABI
/// (`aggregate3`, `getEthBalance`), written for chaintop's tests. Installed at
/// Multicall3's canonical address with `anvil_setCode`, it lets the tests run the
/// client's Multicall3 path against a real node.
contract MiniMulticall3 {
    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    /// Each call in order; a failing call fails the whole aggregate unless it
    /// allows failure.
    function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory returnData) {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok, bytes memory ret) = calls[i].target.call(calls[i].callData);
            require(ok || calls[i].allowFailure, "MiniMulticall3: call failed");
            returnData[i] = Result(ok, ret);
        }
    }

    /// The native balance of `addr`.
    function getEthBalance(address addr) external view returns (uint256 balance) {
        balance = addr.balance;
    }
}
