// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {PullPayments} from "./base/PullPayments.sol";
import {ProviderRegistry} from "./ProviderRegistry.sol";

/// @title JobMarket
/// @notice Escrow for paid inference jobs.
/// 1. A client opens a job with an escrow (`msg.value`, the most it will pay), the job's
///    maximum runtime, a deadline and optionally the one provider it accepts.
/// 2. The matcher offers it to a provider on one of its hardware profiles, with an acceleration
///    method and a price no higher than the escrow nor than the profile's price per second times
///    the maximum runtime. Until the provider accepts, the client may cancel and the matcher may
///    offer it again.
/// 3. The provider accepts: `collateralBps` of the price is locked from its free stake.
/// 4. The provider commits to a result hash by the deadline. No result by the deadline: anyone
///    may refund the client, and the provider loses the collateral (non-delivery).
/// 5. After `challengeWindow` anyone may finalize: the provider is paid the price less the
///    protocol fee, the client gets the rest of the escrow back.
/// 6. Within the window the client may dispute, posting at least `minDisputeBond`. The arbiter
///    rules by `disputedAt + rulingPeriod`. Provider at fault: the client gets escrow and bond
///    back plus `clientCompensationBps` of the slashed collateral, the treasury the rest of it.
///    Not at fault: paid as in 5, and the bond goes to the provider. No ruling in time: the
///    default ruling pays as in 5 and returns the bond to the client.
/// @dev Every transfer out goes through `withdraw` (pull payments). Invariant:
/// balance == escrow of unsettled jobs + bonds of disputed jobs + sum of `withdrawable`.
contract JobMarket is PullPayments, AccessControlDefaultAdminRules {
    using SafeCast for uint256;

    /// @notice Role allowed to offer jobs to providers.
    bytes32 public constant MATCHER_ROLE = keccak256("MATCHER_ROLE");
    /// @notice Role allowed to rule on disputes.
    bytes32 public constant ARBITER_ROLE = keccak256("ARBITER_ROLE");

    enum Status {
        None,
        Open,
        Assigned, // offered to a provider, not yet accepted
        Accepted, // collateral locked, result due by the deadline
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
        uint64 maxRuntime; // seconds of compute the client pays for at most
        address allowedProvider; // zero: any provider
        uint64 submittedAt;
        uint128 escrow;
        uint128 price;
        uint128 collateral;
        uint128 disputeBond;
        uint64 disputedAt;
        uint128 lockId; // the registry's stake lock holding the collateral
        bytes32 specHash;
        bytes32 hardwareId;
        bytes32 methodId;
        bytes32 resultHash;
    }

    /// @notice Highest protocol fee, basis points.
    uint16 public constant MAX_FEE_BPS = 1_000;
    /// @notice Highest collateral, basis points of the price.
    uint16 public constant MAX_COLLATERAL_BPS = 50_000;

    /// @notice The provider registry whose stake backs jobs.
    ProviderRegistry public immutable registry;
    /// @notice Receives protocol fees and the protocol's part of slashes.
    address public immutable treasury;
    /// @notice Protocol fee on the price, basis points, rounded up.
    uint16 public immutable protocolFeeBps;
    /// @notice Seconds after submission during which the client may dispute.
    uint64 public immutable challengeWindow;
    /// @notice Seconds after a dispute during which the arbiter may rule.
    uint64 public immutable rulingPeriod;
    /// @notice Smallest dispute bond, wei.
    uint256 public immutable minDisputeBond;
    /// @notice Collateral locked from the provider's stake on acceptance, basis points of the price, rounded up.
    uint16 public immutable collateralBps;
    /// @notice Share of a slashed collateral paid to the client, basis points.
    uint16 public immutable clientCompensationBps;

    /// @notice Number of jobs ever created; ids run from 1.
    uint256 public jobCount;
    mapping(uint256 jobId => Job) private _jobs;

    event JobCreated(
        uint256 indexed jobId,
        address indexed client,
        bytes32 specHash,
        bytes32 modelId,
        bytes32 workloadId,
        uint256 escrow,
        uint64 maxRuntime,
        address allowedProvider,
        uint64 deadline
    );
    event JobAssigned(uint256 indexed jobId, address indexed provider, bytes32 hardwareId, bytes32 methodId, uint256 price);
    event JobAccepted(uint256 indexed jobId, address indexed provider, uint256 collateral, uint256 lockId);
    event ResultSubmitted(uint256 indexed jobId, address indexed provider, bytes32 resultHash);
    event JobDisputed(uint256 indexed jobId, address indexed client, uint256 bond, uint256 rulingDeadline);
    event DisputeResolved(uint256 indexed jobId, bool providerAtFault, uint256 slashed, uint256 compensation);
    event DisputeExpired(uint256 indexed jobId);
    event NonDelivery(uint256 indexed jobId, address indexed provider, uint256 slashed, uint256 compensation);
    event JobFinalized(uint256 indexed jobId, address indexed provider, uint256 providerPayout, uint256 fee, uint256 refund);
    event JobRefunded(uint256 indexed jobId, address indexed client, uint256 amount);
    event JobCancelled(uint256 indexed jobId, address indexed client, uint256 amount);

    error FeeTooHigh(uint256 bps, uint256 maximum);
    error InvalidBps(uint256 bps);
    error NoEscrow();
    error EscrowTooLarge(uint256 value);
    error ZeroRuntime();
    error DeadlineInPast(uint64 deadline, uint256 nowTs);
    error UnknownJob(uint256 jobId);
    error WrongStatus(uint256 jobId, Status actual, Status expected);
    error PriceExceedsEscrow(uint256 price, uint256 escrow);
    error PriceAboveProviderRate(uint256 price, uint256 maximum);
    error ZeroPrice();
    error ProviderNotActive(address provider);
    error ProviderNotAllowed(address provider, address allowed);
    error NotAssignedProvider(address caller, address provider);
    error NotClient(address caller, address client);
    error DeadlinePassed(uint64 deadline, uint256 nowTs);
    error DeadlineNotPassed(uint64 deadline, uint256 nowTs);
    error ChallengeWindowOpen(uint256 endsAt, uint256 nowTs);
    error ChallengeWindowClosed(uint256 endedAt, uint256 nowTs);
    error BondTooSmall(uint256 bond, uint256 minimum);
    error RulingDeadlinePassed(uint256 jobId, uint256 deadline);
    error RulingDeadlineNotPassed(uint256 jobId, uint256 deadline);
    error ZeroResultHash();
    error UnexpectedPayment(address from);
    error EnforcedPause();
    error OfferMismatch(uint256 jobId);
    error SlashMismatch(uint256 expected, uint256 taken);

    /// @param admin default admin (two-step transfer, `adminDelay`)
    /// @param adminDelay seconds a default-admin transfer waits
    /// @param registry_ the provider registry
    /// @param treasury_ receives fees and the protocol's part of slashes
    /// @param protocolFeeBps_ fee on the price, basis points (<= MAX_FEE_BPS)
    /// @param challengeWindow_ seconds after submission during which the client may dispute
    /// @param rulingPeriod_ seconds after a dispute during which the arbiter may rule
    /// @param minDisputeBond_ smallest dispute bond, wei
    /// @param collateralBps_ collateral locked on acceptance, basis points of the price (1..MAX_COLLATERAL_BPS)
    /// @param clientCompensationBps_ share of a slashed collateral paid to the client (<= 10000)
    constructor(
        address admin,
        uint48 adminDelay,
        ProviderRegistry registry_,
        address treasury_,
        uint16 protocolFeeBps_,
        uint64 challengeWindow_,
        uint64 rulingPeriod_,
        uint256 minDisputeBond_,
        uint16 collateralBps_,
        uint16 clientCompensationBps_
    ) AccessControlDefaultAdminRules(adminDelay, admin) {
        if (treasury_ == address(0) || address(registry_) == address(0)) revert ZeroAddress();
        if (protocolFeeBps_ > MAX_FEE_BPS) revert FeeTooHigh(protocolFeeBps_, MAX_FEE_BPS);
        if (collateralBps_ == 0 || collateralBps_ > MAX_COLLATERAL_BPS) revert InvalidBps(collateralBps_);
        if (clientCompensationBps_ > 10_000) revert InvalidBps(clientCompensationBps_);
        registry = registry_;
        treasury = treasury_;
        protocolFeeBps = protocolFeeBps_;
        challengeWindow = challengeWindow_;
        rulingPeriod = rulingPeriod_;
        minDisputeBond = minDisputeBond_;
        collateralBps = collateralBps_;
        clientCompensationBps = clientCompensationBps_;
    }

    /// @dev New business stops while the registry is paused (acceptance is checked there).
    modifier whenMarketOpen() {
        if (registry.paused()) revert EnforcedPause();
        _;
    }

    /// @notice Accepts only slashed collateral sent by the registry.
    receive() external payable {
        if (msg.sender != address(registry)) revert UnexpectedPayment(msg.sender);
    }

    // ------------------------------------------------------------------ client

    /// @notice Open a job; `msg.value` is the escrow, the most the client will pay.
    /// @param specHash content id of the job spec
    /// @param modelId keccak256 of the canonical model descriptor
    /// @param workloadId keccak256 of the canonical workload descriptor
    /// @param maxRuntime most seconds of compute the client pays for (bounds the price)
    /// @param allowedProvider the only provider that may be assigned, or zero for any
    /// @param deadline last timestamp for assignment, acceptance and delivery
    /// @return jobId the new job's id
    function createJob(
        bytes32 specHash,
        bytes32 modelId,
        bytes32 workloadId,
        uint64 maxRuntime,
        address allowedProvider,
        uint64 deadline
    ) external payable whenMarketOpen returns (uint256 jobId) {
        if (msg.value == 0) revert NoEscrow();
        if (msg.value > type(uint128).max) revert EscrowTooLarge(msg.value);
        if (maxRuntime == 0) revert ZeroRuntime();
        if (deadline <= block.timestamp) revert DeadlineInPast(deadline, block.timestamp);
        jobId = ++jobCount;
        Job storage j = _jobs[jobId];
        j.client = msg.sender;
        j.status = Status.Open;
        j.deadline = deadline;
        j.maxRuntime = maxRuntime;
        j.allowedProvider = allowedProvider;
        j.escrow = uint128(msg.value);
        j.specHash = specHash;
        emit JobCreated(jobId, msg.sender, specHash, modelId, workloadId, msg.value, maxRuntime, allowedProvider, deadline);
    }

    /// @notice Withdraw a job no provider has accepted yet; the escrow is credited back.
    /// @param jobId an Open or Assigned job of the caller
    function cancelJob(uint256 jobId) external {
        Job storage j = _job(jobId);
        if (msg.sender != j.client) revert NotClient(msg.sender, j.client);
        if (j.status != Status.Open && j.status != Status.Assigned) revert WrongStatus(jobId, j.status, Status.Open);
        j.status = Status.Cancelled;
        uint256 amount = j.escrow;
        _credit(j.client, amount);
        emit JobCancelled(jobId, j.client, amount);
    }

    /// @notice Contest a submitted result within the challenge window, posting a bond.
    /// @param jobId a Submitted job of the caller
    function dispute(uint256 jobId) external payable {
        Job storage j = _job(jobId);
        if (msg.sender != j.client) revert NotClient(msg.sender, j.client);
        _expect(jobId, j, Status.Submitted);
        uint256 endsAt = uint256(j.submittedAt) + challengeWindow;
        if (block.timestamp >= endsAt) revert ChallengeWindowClosed(endsAt, block.timestamp);
        if (msg.value < minDisputeBond) revert BondTooSmall(msg.value, minDisputeBond);
        j.status = Status.Disputed;
        j.disputeBond = msg.value.toUint128();
        j.disputedAt = uint64(block.timestamp);
        emit JobDisputed(jobId, msg.sender, msg.value, block.timestamp + rulingPeriod);
    }

    /// @notice After the deadline, end a job that was not delivered (anyone may call). Not yet
    /// accepted: the escrow is credited back. Accepted but no result: non-delivery, the provider's
    /// collateral is slashed and the client gets the escrow plus its compensation.
    /// @param jobId an Open, Assigned or Accepted job past its deadline
    function refund(uint256 jobId) external nonReentrant {
        Job storage j = _job(jobId);
        Status status = j.status;
        if (status != Status.Open && status != Status.Assigned && status != Status.Accepted) {
            revert WrongStatus(jobId, status, Status.Accepted);
        }
        if (block.timestamp <= j.deadline) revert DeadlineNotPassed(j.deadline, block.timestamp);
        j.status = Status.Refunded;
        uint256 amount = j.escrow;
        if (status != Status.Accepted) {
            _credit(j.client, amount);
            emit JobRefunded(jobId, j.client, amount);
            return;
        }
        (uint256 slashed, uint256 compensation) = _splitSlash(j);
        amount += compensation;
        _credit(j.client, amount);
        emit NonDelivery(jobId, j.provider, slashed, compensation);
        emit JobRefunded(jobId, j.client, amount);
        _slashCollateral(j, slashed);
    }

    // ------------------------------------------------------------------ matcher and provider

    /// @notice Offer a job to a provider (again, while nobody has accepted it).
    /// @param jobId an Open or Assigned job
    /// @param provider an active provider (the client's allowed provider, if it named one)
    /// @param hardwareId one of the provider's hardware profiles
    /// @param methodId keccak256 of the acceleration method's canonical descriptor
    /// @param price wei; at most the escrow and the profile's price per second × maxRuntime
    function assignJob(uint256 jobId, address provider, bytes32 hardwareId, bytes32 methodId, uint128 price)
        external
        onlyRole(MATCHER_ROLE)
        whenMarketOpen
    {
        Job storage j = _job(jobId);
        if (j.status != Status.Open && j.status != Status.Assigned) revert WrongStatus(jobId, j.status, Status.Open);
        if (block.timestamp > j.deadline) revert DeadlinePassed(j.deadline, block.timestamp);
        if (price == 0) revert ZeroPrice();
        if (price > j.escrow) revert PriceExceedsEscrow(price, j.escrow);
        if (j.allowedProvider != address(0) && provider != j.allowedProvider) {
            revert ProviderNotAllowed(provider, j.allowedProvider);
        }
        if (!registry.isActive(provider)) revert ProviderNotActive(provider);
        uint256 maxPrice = registry.priceOf(provider, hardwareId) * j.maxRuntime;
        if (price > maxPrice) revert PriceAboveProviderRate(price, maxPrice);
        j.status = Status.Assigned;
        j.provider = provider;
        j.hardwareId = hardwareId;
        j.methodId = methodId;
        j.price = price;
        emit JobAssigned(jobId, provider, hardwareId, methodId, price);
    }

    /// @notice The assigned provider (or its agent key) takes the job on exactly the offered
    /// terms (so a re-offer racing the acceptance cannot change them); `collateralBps` of the
    /// price is locked from its free stake until the job settles (reverts while paused).
    /// @param jobId an Assigned job offered to the caller's provider
    /// @param hardwareId the hardware profile of the offer
    /// @param methodId the acceleration method of the offer
    /// @param price the price of the offer, wei
    function acceptJob(uint256 jobId, bytes32 hardwareId, bytes32 methodId, uint128 price) external {
        Job storage j = _job(jobId);
        _expect(jobId, j, Status.Assigned);
        _onlyProvider(j);
        if (block.timestamp > j.deadline) revert DeadlinePassed(j.deadline, block.timestamp);
        if (hardwareId != j.hardwareId || methodId != j.methodId || price != j.price) revert OfferMismatch(jobId);
        uint256 collateral = Math.mulDiv(j.price, collateralBps, 10_000, Math.Rounding.Ceil);
        j.status = Status.Accepted;
        j.collateral = collateral.toUint128();
        // The lock id is only known from the registry: the immutable, trusted ProviderRegistry,
        // whose `lockStake` makes no external call.
        // slither-disable-next-line reentrancy-no-eth
        (uint256 lockId, uint256 locked) = registry.lockStake(j.provider, collateral, false);
        if (locked != collateral) revert SlashMismatch(collateral, locked); // a strict lock is exact
        j.lockId = lockId.toUint128();
        emit JobAccepted(jobId, j.provider, collateral, lockId);
    }

    /// @notice The provider (or its current agent key) commits to the result's hash by the deadline.
    /// @param jobId an Accepted job of the caller's provider
    /// @param resultHash content id of the result (non-zero)
    function submitResult(uint256 jobId, bytes32 resultHash) external {
        Job storage j = _job(jobId);
        _expect(jobId, j, Status.Accepted);
        _onlyProvider(j);
        if (block.timestamp > j.deadline) revert DeadlinePassed(j.deadline, block.timestamp);
        if (resultHash == bytes32(0)) revert ZeroResultHash();
        j.status = Status.Submitted;
        j.submittedAt = uint64(block.timestamp);
        j.resultHash = resultHash;
        emit ResultSubmitted(jobId, j.provider, resultHash);
    }

    /// @notice After the challenge window, settle an undisputed job (anyone may call).
    /// @param jobId a Submitted job
    function finalize(uint256 jobId) external nonReentrant {
        Job storage j = _job(jobId);
        _expect(jobId, j, Status.Submitted);
        uint256 endsAt = uint256(j.submittedAt) + challengeWindow;
        if (block.timestamp < endsAt) revert ChallengeWindowOpen(endsAt, block.timestamp);
        _settlePaid(jobId, j);
        registry.releaseLock(j.lockId);
    }

    /// @notice The arbiter's ruling on a dispute, before `disputedAt + rulingPeriod`.
    /// @param jobId a Disputed job
    /// @param providerAtFault true when the result is wrong
    function resolveDispute(uint256 jobId, bool providerAtFault) external onlyRole(ARBITER_ROLE) nonReentrant {
        Job storage j = _job(jobId);
        _expect(jobId, j, Status.Disputed);
        uint256 deadline = uint256(j.disputedAt) + rulingPeriod;
        if (block.timestamp > deadline) revert RulingDeadlinePassed(jobId, deadline);
        if (providerAtFault) {
            j.status = Status.Refunded;
            (uint256 slashed, uint256 compensation) = _splitSlash(j);
            uint256 amount = uint256(j.escrow) + j.disputeBond + compensation;
            _credit(j.client, amount);
            emit JobRefunded(jobId, j.client, amount);
            emit DisputeResolved(jobId, true, slashed, compensation);
            _slashCollateral(j, slashed);
        } else {
            _settlePaid(jobId, j);
            _credit(j.provider, j.disputeBond);
            emit DisputeResolved(jobId, false, 0, 0);
            registry.releaseLock(j.lockId);
        }
    }

    /// @notice Default ruling once a dispute's ruling deadline has passed (anyone may call):
    /// the job is paid as if undisputed and the client gets its bond back.
    /// @param jobId a Disputed job past its ruling deadline
    function settleExpiredDispute(uint256 jobId) external nonReentrant {
        Job storage j = _job(jobId);
        _expect(jobId, j, Status.Disputed);
        uint256 deadline = uint256(j.disputedAt) + rulingPeriod;
        if (block.timestamp <= deadline) revert RulingDeadlineNotPassed(jobId, deadline);
        _settlePaid(jobId, j);
        _credit(j.client, j.disputeBond);
        emit DisputeExpired(jobId);
        registry.releaseLock(j.lockId);
    }

    // ------------------------------------------------------------------ views

    /// @notice Everything stored about a job.
    /// @param jobId the job id
    /// @return the job (status None when it does not exist)
    function getJob(uint256 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    /// @notice Protocol fee charged on a price (rounded up, so a non-zero fee rate never rounds to 0).
    /// @param price wei
    /// @return the fee in wei
    function feeOf(uint256 price) public view returns (uint256) {
        return Math.mulDiv(price, protocolFeeBps, 10_000, Math.Rounding.Ceil);
    }

    // ------------------------------------------------------------------ internals

    function _job(uint256 jobId) private view returns (Job storage j) {
        j = _jobs[jobId];
        if (j.status == Status.None) revert UnknownJob(jobId);
    }

    function _expect(uint256 jobId, Job storage j, Status expected) private view {
        if (j.status != expected) revert WrongStatus(jobId, j.status, expected);
    }

    function _onlyProvider(Job storage j) private view {
        if (msg.sender != j.provider && msg.sender != registry.agentOf(j.provider)) {
            revert NotAssignedProvider(msg.sender, j.provider);
        }
    }

    /// @dev The whole collateral is slashed (a job's lock holds exactly it and is always fully
    /// backed); credits the treasury's part and returns the client's compensation, which the
    /// caller credits. The stake itself moves last, in `_slashCollateral`.
    function _splitSlash(Job storage j) private returns (uint256 slashed, uint256 compensation) {
        slashed = j.collateral;
        compensation = (slashed * clientCompensationBps) / 10_000;
        _credit(treasury, slashed - compensation);
    }

    function _slashCollateral(Job storage j, uint256 slashed) private {
        uint256 taken = registry.slashLock(j.lockId, slashed);
        if (taken != slashed) revert SlashMismatch(slashed, taken);
    }

    function _settlePaid(uint256 jobId, Job storage j) private {
        j.status = Status.Finalized;
        uint256 price = j.price;
        uint256 fee = feeOf(price);
        uint256 payout = price - fee;
        uint256 rest = uint256(j.escrow) - price;
        _credit(j.provider, payout);
        _credit(treasury, fee);
        _credit(j.client, rest);
        emit JobFinalized(jobId, j.provider, payout, fee, rest);
    }
}
