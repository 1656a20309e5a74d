// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ProviderRegistry} from "./ProviderRegistry.sol";

/// @title JobMarket
/// @notice Escrow for paid inference jobs. A client locks the most it will pay; the matcher
/// assigns a provider, an acceleration method and a price within that escrow; the provider
/// commits to a result hash; after a challenge window anyone may finalize, which pays the
/// provider (less the protocol fee) and refunds the rest to the client.
/// @dev Every transfer out goes through `withdraw` (pull payments). Invariant, checked by
/// property tests: balance == sum of escrow of unsettled jobs + sum of `withdrawable`.
contract JobMarket is AccessControl, ReentrancyGuard {
    bytes32 public constant MATCHER_ROLE = keccak256("MATCHER_ROLE");
    bytes32 public constant ARBITER_ROLE = keccak256("ARBITER_ROLE");

    enum Status {
        None,
        Open,
        Assigned,
        Submitted,
        Disputed,
        Finalized,
        Refunded,
        Cancelled
    }

    struct Job {
        address client;
        Status status;
        uint64 deadline;
        address provider;
        uint64 submittedAt;
        uint128 escrow;
        uint128 price;
        bytes32 specHash;
        bytes32 methodId;
        bytes32 resultHash;
    }

    uint16 public constant MAX_FEE_BPS = 1_000;

    ProviderRegistry public immutable registry;
    address public immutable treasury;
    uint16 public immutable protocolFeeBps;
    uint64 public immutable challengeWindow;

    uint256 public jobCount;
    mapping(uint256 jobId => Job) private _jobs;
    mapping(address account => uint256) public withdrawable;

    event JobCreated(
        uint256 indexed jobId,
        address indexed client,
        bytes32 specHash,
        bytes32 modelId,
        bytes32 workloadId,
        uint256 escrow,
        uint64 deadline
    );
    event JobAssigned(uint256 indexed jobId, address indexed provider, bytes32 methodId, uint256 price);
    event ResultSubmitted(uint256 indexed jobId, address indexed provider, bytes32 resultHash);
    event JobDisputed(uint256 indexed jobId, address indexed client);
    event DisputeResolved(uint256 indexed jobId, bool providerAtFault, uint256 slashed);
    event JobFinalized(uint256 indexed jobId, address indexed provider, uint256 providerPayout, uint256 fee, uint256 refund);
    event JobRefunded(uint256 indexed jobId, address indexed client, uint256 amount);
    event JobCancelled(uint256 indexed jobId, address indexed client, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);

    error ZeroAddress();
    error FeeTooHigh(uint256 bps, uint256 maximum);
    error NoEscrow();
    error EscrowTooLarge(uint256 value);
    error DeadlineInPast(uint64 deadline, uint256 nowTs);
    error UnknownJob(uint256 jobId);
    error WrongStatus(uint256 jobId, Status actual, Status expected);
    error PriceExceedsEscrow(uint256 price, uint256 escrow);
    error ZeroPrice();
    error ProviderNotActive(address provider);
    error NotAssignedProvider(address caller, address provider);
    error NotClient(address caller, address client);
    error DeadlinePassed(uint64 deadline, uint256 nowTs);
    error DeadlineNotPassed(uint64 deadline, uint256 nowTs);
    error ChallengeWindowOpen(uint256 endsAt, uint256 nowTs);
    error ChallengeWindowClosed(uint256 endedAt, uint256 nowTs);
    error ZeroResultHash();
    error NothingToWithdraw(address account);
    error TransferFailed(address to, uint256 amount);

    constructor(
        address admin,
        ProviderRegistry registry_,
        address treasury_,
        uint16 protocolFeeBps_,
        uint64 challengeWindow_
    ) {
        if (admin == address(0) || treasury_ == address(0) || address(registry_) == address(0)) {
            revert ZeroAddress();
        }
        if (protocolFeeBps_ > MAX_FEE_BPS) revert FeeTooHigh(protocolFeeBps_, MAX_FEE_BPS);
        registry = registry_;
        treasury = treasury_;
        protocolFeeBps = protocolFeeBps_;
        challengeWindow = challengeWindow_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ------------------------------------------------------------------ client

    /// @notice Open a job; `msg.value` is the most the client will pay.
    function createJob(bytes32 specHash, bytes32 modelId, bytes32 workloadId, uint64 deadline)
        external
        payable
        returns (uint256 jobId)
    {
        if (msg.value == 0) revert NoEscrow();
        if (msg.value > type(uint128).max) revert EscrowTooLarge(msg.value);
        if (deadline <= block.timestamp) revert DeadlineInPast(deadline, block.timestamp);
        jobId = ++jobCount;
        Job storage j = _jobs[jobId];
        j.client = msg.sender;
        j.status = Status.Open;
        j.deadline = deadline;
        j.escrow = uint128(msg.value);
        j.specHash = specHash;
        emit JobCreated(jobId, msg.sender, specHash, modelId, workloadId, msg.value, deadline);
    }

    /// @notice Withdraw an unassigned job.
    function cancelJob(uint256 jobId) external {
        Job storage j = _job(jobId);
        if (msg.sender != j.client) revert NotClient(msg.sender, j.client);
        _expect(jobId, j, Status.Open);
        j.status = Status.Cancelled;
        uint256 amount = j.escrow;
        withdrawable[j.client] += amount;
        emit JobCancelled(jobId, j.client, amount);
    }

    /// @notice Contest a submitted result within the challenge window; an arbiter rules.
    function dispute(uint256 jobId) external {
        Job storage j = _job(jobId);
        if (msg.sender != j.client) revert NotClient(msg.sender, j.client);
        _expect(jobId, j, Status.Submitted);
        uint256 endsAt = uint256(j.submittedAt) + challengeWindow;
        if (block.timestamp >= endsAt) revert ChallengeWindowClosed(endsAt, block.timestamp);
        j.status = Status.Disputed;
        registry.openCase(j.provider);
        emit JobDisputed(jobId, msg.sender);
    }

    /// @notice Return the escrow of a job that was not delivered by its deadline.
    function refund(uint256 jobId) external {
        Job storage j = _job(jobId);
        if (j.status != Status.Open && j.status != Status.Assigned) {
            revert WrongStatus(jobId, j.status, Status.Assigned);
        }
        if (block.timestamp <= j.deadline) revert DeadlineNotPassed(j.deadline, block.timestamp);
        j.status = Status.Refunded;
        uint256 amount = j.escrow;
        withdrawable[j.client] += amount;
        emit JobRefunded(jobId, j.client, amount);
    }

    // ------------------------------------------------------------------ matcher and provider

    function assignJob(uint256 jobId, address provider, bytes32 methodId, uint128 price)
        external
        onlyRole(MATCHER_ROLE)
    {
        Job storage j = _job(jobId);
        _expect(jobId, j, Status.Open);
        if (block.timestamp > j.deadline) revert DeadlinePassed(j.deadline, block.timestamp);
        if (price == 0) revert ZeroPrice();
        if (price > j.escrow) revert PriceExceedsEscrow(price, j.escrow);
        if (!registry.isActive(provider)) revert ProviderNotActive(provider);
        j.status = Status.Assigned;
        j.provider = provider;
        j.methodId = methodId;
        j.price = price;
        emit JobAssigned(jobId, provider, methodId, price);
    }

    /// @notice The assigned provider (or its agent key) commits to the result's hash.
    function submitResult(uint256 jobId, bytes32 resultHash) external {
        Job storage j = _job(jobId);
        _expect(jobId, j, Status.Assigned);
        if (msg.sender != j.provider && msg.sender != registry.agentOf(j.provider)) {
            revert NotAssignedProvider(msg.sender, j.provider);
        }
        if (block.timestamp > j.deadline) revert DeadlinePassed(j.deadline, block.timestamp);
        if (resultHash == bytes32(0)) revert ZeroResultHash();
        j.status = Status.Submitted;
        j.submittedAt = uint64(block.timestamp);
        j.resultHash = resultHash;
        emit ResultSubmitted(jobId, j.provider, resultHash);
    }

    /// @notice After the challenge window, settle: pay the provider, take the fee, refund the rest.
    function finalize(uint256 jobId) external {
        Job storage j = _job(jobId);
        _expect(jobId, j, Status.Submitted);
        uint256 endsAt = uint256(j.submittedAt) + challengeWindow;
        if (block.timestamp < endsAt) revert ChallengeWindowOpen(endsAt, block.timestamp);
        _settlePaid(jobId, j);
    }

    /// @notice Arbiter's ruling on a dispute. At fault: the client gets everything back and the
    /// provider loses up to the job's price in stake, paid to the client. Otherwise: paid as usual.
    function resolveDispute(uint256 jobId, bool providerAtFault) external onlyRole(ARBITER_ROLE) {
        Job storage j = _job(jobId);
        _expect(jobId, j, Status.Disputed);
        registry.closeCase(j.provider);
        uint256 slashed;
        if (providerAtFault) {
            j.status = Status.Refunded;
            uint256 amount = j.escrow;
            withdrawable[j.client] += amount;
            emit JobRefunded(jobId, j.client, amount);
            slashed = registry.slash(j.provider, j.price, j.client);
        } else {
            _settlePaid(jobId, j);
        }
        emit DisputeResolved(jobId, providerAtFault, slashed);
    }

    function withdraw() external nonReentrant {
        uint256 amount = withdrawable[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        withdrawable[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
    }

    // ------------------------------------------------------------------ views

    function getJob(uint256 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    // ------------------------------------------------------------------ internals

    function _job(uint256 jobId) private view returns (Job storage j) {
        j = _jobs[jobId];
        if (j.status == Status.None) revert UnknownJob(jobId);
    }

    function _expect(uint256 jobId, Job storage j, Status expected) private view {
        if (j.status != expected) revert WrongStatus(jobId, j.status, expected);
    }

    function _settlePaid(uint256 jobId, Job storage j) private {
        j.status = Status.Finalized;
        uint256 price = j.price;
        uint256 fee = (price * protocolFeeBps) / 10_000;
        uint256 payout = price - fee;
        uint256 rest = uint256(j.escrow) - price;
        withdrawable[j.provider] += payout;
        if (fee != 0) withdrawable[treasury] += fee;
        if (rest != 0) withdrawable[j.client] += rest;
        emit JobFinalized(jobId, j.provider, payout, fee, rest);
    }
}
