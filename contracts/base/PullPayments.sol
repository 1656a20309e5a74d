// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title PullPayments
/// @notice Every transfer of native currency out of a MetaInf contract goes through this
/// ledger: business logic only credits `withdrawable`, and the owner of a balance pulls it
/// with `withdraw` or `withdrawTo`. A recipient that rejects ETH can therefore never block a
/// settlement, and the only external call that moves value sits behind `nonReentrant`.
/// @dev Invariant kept by every derived contract: `address(this).balance` equals the funds it
/// holds for open business (stake, escrow, bonds, undistributed rewards) plus the sum of
/// `withdrawable`.
abstract contract PullPayments is ReentrancyGuard {
    /// @notice Balance each account may withdraw from this contract, in wei.
    mapping(address account => uint256) public withdrawable;

    /// @notice `amount` wei owed to `account` was paid out to `to`.
    event Withdrawn(address indexed account, address indexed to, uint256 amount);

    error NothingToWithdraw(address account);
    error TransferFailed(address to, uint256 amount);
    error ZeroAddress();

    /// @notice Pay the caller's whole balance to the caller.
    /// @return amount the wei paid out
    function withdraw() external nonReentrant returns (uint256 amount) {
        return _payOut(payable(msg.sender));
    }

    /// @notice Pay the caller's whole balance to another address (e.g. a cold wallet, or
    /// because the caller is a contract that cannot receive ETH).
    /// @param to the recipient of the payment
    /// @return amount the wei paid out
    function withdrawTo(address payable to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert ZeroAddress();
        return _payOut(to);
    }

    /// @dev Owe `amount` wei to `account`. A zero amount is a no-op.
    function _credit(address account, uint256 amount) internal {
        if (amount != 0) withdrawable[account] += amount;
    }

    function _payOut(address payable to) private returns (uint256 amount) {
        amount = withdrawable[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        withdrawable[msg.sender] = 0;
        emit Withdrawn(msg.sender, to, amount);
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }
}
