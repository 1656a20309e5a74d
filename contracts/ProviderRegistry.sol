// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {PullPayments} from "./base/PullPayments.sol";

/// @notice What `ProviderRegistry.connectMarkets` checks on the two contracts it trusts with stake.
interface IRegistryConsumer {
    /// @notice The registry the contract was deployed against.
    /// @return the registry address
    function registry() external view returns (address);
}

/// @title ProviderRegistry
/// @notice Providers stake native currency to sell inference. The stake is what makes a
/// signed attestation or a delivered result worth trusting: a proven lie costs part of it.
/// @dev Stake accounting per provider, all in wei:
/// - `stake` is active, `pendingUnstake` is in cooldown; both are slashable.
/// - `reserved` is the sum of the open stake locks (one per accepted job, one per open
///   attestation challenge). Invariant: `reserved <= stake + pendingUnstake`, and a slash only
///   ever takes from the lock it closes, so every open lock stays fully backed.
/// - While a posted attestation can still be challenged (`block.timestamp < exposureUntil`),
///   another `attestationSlash` of active stake is kept free for a challenge to lock.
/// - `lockedStake = reserved + (exposed ? attestationSlash : 0)`; only active stake above it
///   can be moved into cooldown or locked for a new job, and a cooldown completes only for
///   the part that the locked amount does not need.
/// Only the two market contracts named once in `connectMarkets` may lock stake, and only the
/// contract that opened a lock may release or slash it. Slashed wei go to that contract, which
/// distributes them through its own ledger. There is no other way to take stake.
///
/// Admin: the default admin is one account whose transfer is two-step and waits `adminDelay`
/// (OpenZeppelin `AccessControlDefaultAdminRules`, in all three contracts). It manages the other
/// roles but has no power over stake. `PAUSER_ROLE` holds the market-wide emergency brake: a
/// pause stops new business only (registering, attesting, accepting jobs here; creating and
/// assigning jobs in the JobMarket, which asks this contract). Everything that settles, exits,
/// disputes, challenges, rules or withdraws keeps working, so a pause can neither trap funds
/// nor make anyone miss a deadline.
contract ProviderRegistry is PullPayments, EIP712, AccessControlDefaultAdminRules, Pausable {
    using SafeCast for uint256;

    /// @notice A provider. Amounts are uint96 (79 billion ETH) so that everything an
    /// attestation reads fits two storage slots.
    struct Provider {
        // slot 0
        address agent; // hot key that signs attestations and submits results
        uint96 reserved; // sum of open stake locks
        // slot 1: read and written by every attestation
        uint96 stake; // active stake (includes what is reserved)
        uint64 attestNonce; // last attestation nonce posted
        uint64 exposureUntil; // until then a posted attestation can be challenged
        bool registered;
        bool banned; // lifetime slashes reached `banThreshold`: no new attestations or jobs
        // slot 2
        uint96 pendingUnstake; // stake in cooldown, still slashable
        uint64 unstakeReadyAt; // when `pendingUnstake` may be completed
        uint96 slashedTotal; // lifetime slashes
        string metadataURI;
    }

    /// @notice An agent key's binding. A key is bound once, to one provider, for good; a rotated-out
    /// key is revoked and can neither post nor be bound again.
    struct AgentKey {
        address provider;
        uint64 boundAt;
        uint64 revokedAt; // 0 while it is the provider's current key
    }

    /// @notice A hardware profile a provider serves, with its price.
    struct HardwareProfile {
        bool registered;
        uint128 pricePerSecond; // wei per second of compute
    }

    /// @notice Stake set aside for one job or one challenge, owned by the contract that opened it.
    struct StakeLock {
        address provider;
        bool open;
        address owner;
        uint96 amount;
    }

    /// @notice Role allowed to pause and unpause new business, market-wide.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice EIP-712 type an agent key signs to consent to being bound to `provider`.
    bytes32 public constant AGENT_BINDING_TYPEHASH =
        keccak256("AgentBinding(address provider,address agent,uint64 deadline)");

    /// @notice Smallest active stake that lets a provider attest and take jobs.
    uint256 public immutable minStake;
    /// @notice Seconds between `requestUnstake` and `completeUnstake`.
    uint64 public immutable unstakeCooldown;
    /// @notice Stake one upheld attestation challenge takes; also kept free while a posted
    /// attestation can be challenged.
    uint256 public immutable attestationSlash;
    /// @notice Lifetime slashes (wei) at which a provider is banned.
    uint256 public immutable banThreshold;

    /// @notice The attestation registry allowed to note attestations and lock stake (set once).
    /// @dev First state variable of this contract, so that it shares a slot with Pausable's flag,
    /// which precedes it: an attestation reads both with one SLOAD.
    address public attestationRegistry;
    /// @notice The job market allowed to lock stake (set once).
    address public jobMarket;
    /// @notice Number of stake locks ever opened; lock ids run from 1.
    uint256 public lockCount;

    mapping(address provider => Provider) private _providers;
    mapping(address agent => AgentKey) private _agentKeys;
    mapping(address provider => mapping(bytes32 hardwareId => HardwareProfile)) private _hardware;
    mapping(uint256 lockId => StakeLock) private _locks;

    event MarketsConnected(address indexed attestationRegistry, address indexed jobMarket);
    event ProviderRegistered(address indexed provider, address indexed agent, uint256 stake, string metadataURI);
    event StakeAdded(address indexed provider, uint256 amount, uint256 newStake);
    event AgentChanged(address indexed provider, address indexed oldAgent, address indexed newAgent);
    event HardwareAdded(address indexed provider, bytes32 indexed hardwareId, uint256 pricePerSecond);
    event PriceChanged(address indexed provider, bytes32 indexed hardwareId, uint256 pricePerSecond);
    event HardwareRemoved(address indexed provider, bytes32 indexed hardwareId);
    event MetadataChanged(address indexed provider, string metadataURI);
    event UnstakeRequested(address indexed provider, uint256 amount, uint256 readyAt);
    event UnstakeCompleted(address indexed provider, uint256 amount, uint256 stillPending);
    event StakeLocked(uint256 indexed lockId, address indexed provider, address indexed owner, uint256 amount);
    event StakeUnlocked(uint256 indexed lockId, address indexed provider, uint256 released, uint256 slashed);
    event Slashed(address indexed provider, address indexed to, uint256 amount, uint256 slashedTotal);
    event ProviderBanned(address indexed provider, uint256 slashedTotal);

    error AlreadyConnected();
    error WrongRegistry(address consumer);
    error NotMarketContract(address caller);
    error AlreadyRegistered(address provider);
    error NotRegistered(address provider);
    error ProviderIsBanned(address provider);
    error StakeBelowMinimum(uint256 stake, uint256 minimum);
    error StakeTooLarge(uint256 stake);
    error ZeroAmount();
    error AgentAlreadyBound(address agent, address provider);
    error ConsentExpired(uint64 deadline, uint256 nowTs);
    error InvalidAgentConsent(address signer, address agent);
    error HardwareNotRegistered(address provider, bytes32 hardwareId);
    error HardwareAlreadyRegistered(address provider, bytes32 hardwareId);
    error NonceNotIncreasing(uint64 nonce, uint64 lastNonce);
    error InsufficientStake(uint256 requested, uint256 available);
    error UnstakePending(uint256 readyAt);
    error CooldownNotOver(uint256 readyAt, uint256 nowTs);
    error UnstakeBlocked(uint256 locked, uint256 stake);
    error NotLockOwner(uint256 lockId, address caller);
    error LockNotOpen(uint256 lockId);

    /// @param admin default admin (two-step transfer, `adminDelay`) and initial pauser
    /// @param adminDelay seconds a default-admin transfer waits
    /// @param minStake_ smallest active stake that lets a provider act
    /// @param unstakeCooldown_ seconds an unstake waits (the attestation registry checks it is
    /// longer than its challenge window plus clock skew)
    /// @param attestationSlash_ stake taken by one upheld attestation challenge
    /// @param banThreshold_ lifetime slashes (wei, > 0) at which a provider is banned
    constructor(
        address admin,
        uint48 adminDelay,
        uint256 minStake_,
        uint64 unstakeCooldown_,
        uint256 attestationSlash_,
        uint256 banThreshold_
    ) EIP712("MetaInfProviderRegistry", "1") AccessControlDefaultAdminRules(adminDelay, admin) {
        if (banThreshold_ == 0) revert ZeroAmount();
        _grantRole(PAUSER_ROLE, admin);
        minStake = minStake_;
        unstakeCooldown = unstakeCooldown_;
        attestationSlash = attestationSlash_;
        banThreshold = banThreshold_;
    }

    modifier onlyMarkets() {
        if (msg.sender != attestationRegistry && msg.sender != jobMarket) revert NotMarketContract(msg.sender);
        _;
    }

    // ------------------------------------------------------------------ deployment

    /// @notice Name, once and for good, the two contracts that may lock and slash stake. Both
    /// must have been deployed against this registry. Nobody can add or replace them later.
    /// @param attestationRegistry_ the AttestationRegistry
    /// @param jobMarket_ the JobMarket
    function connectMarkets(address attestationRegistry_, address jobMarket_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (attestationRegistry != address(0)) revert AlreadyConnected();
        if (attestationRegistry_ == address(0) || jobMarket_ == address(0) || attestationRegistry_ == jobMarket_) {
            revert ZeroAddress();
        }
        if (IRegistryConsumer(attestationRegistry_).registry() != address(this)) revert WrongRegistry(attestationRegistry_);
        if (IRegistryConsumer(jobMarket_).registry() != address(this)) revert WrongRegistry(jobMarket_);
        attestationRegistry = attestationRegistry_;
        jobMarket = jobMarket_;
        emit MarketsConnected(attestationRegistry_, jobMarket_);
    }

    /// @notice Stop new business market-wide (see the contract notes for what stays open).
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resume new business.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------ provider life cycle

    /// @notice Register the caller as a provider with its first hardware profile. `msg.value` is
    /// the initial stake. The agent key must consent: either it is the caller itself, or it
    /// signed `AgentBinding(provider = caller, agent, deadline)` under this contract's domain.
    /// @param hardwareId keccak256 of the canonical hardware descriptor served
    /// @param pricePerSecond wei per second of compute on that hardware
    /// @param metadataURI where the provider's public description lives
    /// @param agent hot key that will sign attestations and submit results
    /// @param consentDeadline last timestamp at which the agent's consent is valid
    /// @param agentSignature the agent's EIP-712 signature (ignored when `agent == msg.sender`)
    function register(
        bytes32 hardwareId,
        uint128 pricePerSecond,
        string calldata metadataURI,
        address agent,
        uint64 consentDeadline,
        bytes calldata agentSignature
    ) external payable whenNotPaused {
        Provider storage p = _providers[msg.sender];
        if (p.registered) revert AlreadyRegistered(msg.sender);
        if (msg.value < minStake) revert StakeBelowMinimum(msg.value, minStake);
        if (msg.value > type(uint96).max) revert StakeTooLarge(msg.value);
        _bindAgent(agent, consentDeadline, agentSignature);
        p.registered = true;
        p.agent = agent;
        p.stake = uint96(msg.value);
        p.metadataURI = metadataURI;
        emit ProviderRegistered(msg.sender, agent, msg.value, metadataURI);
        _addHardware(hardwareId, pricePerSecond);
    }

    /// @notice Add `msg.value` to the caller's active stake.
    function addStake() external payable {
        Provider storage p = _registered(msg.sender);
        if (msg.value == 0) revert ZeroAmount();
        uint256 newStake = uint256(p.stake) + msg.value;
        if (newStake > type(uint96).max) revert StakeTooLarge(newStake);
        p.stake = uint96(newStake);
        emit StakeAdded(msg.sender, msg.value, newStake);
    }

    /// @notice Rotate the agent key. The old key is revoked for good: it can no longer post
    /// attestations or submit results, and can never be bound again. What it posted while it was
    /// current stays attributable (and challengeable) through `agentKey`.
    /// @param agent the new key (never bound before)
    /// @param consentDeadline last timestamp at which the new key's consent is valid
    /// @param agentSignature the new key's EIP-712 `AgentBinding` signature (ignored when `agent == msg.sender`)
    function setAgent(address agent, uint64 consentDeadline, bytes calldata agentSignature) external {
        Provider storage p = _registered(msg.sender);
        address old = p.agent;
        _bindAgent(agent, consentDeadline, agentSignature);
        _agentKeys[old].revokedAt = uint64(block.timestamp);
        p.agent = agent;
        emit AgentChanged(msg.sender, old, agent);
    }

    /// @notice Start serving another hardware profile. Only registered profiles can be attested
    /// about or priced for jobs.
    /// @param hardwareId keccak256 of the canonical hardware descriptor
    /// @param pricePerSecond wei per second of compute on it
    function addHardware(bytes32 hardwareId, uint128 pricePerSecond) external {
        _registered(msg.sender);
        _addHardware(hardwareId, pricePerSecond);
    }

    /// @notice Change the price of one of the caller's hardware profiles (applies to later assignments).
    /// @param hardwareId a registered profile of the caller
    /// @param pricePerSecond the new price, wei per second
    function setPrice(bytes32 hardwareId, uint128 pricePerSecond) external {
        _registered(msg.sender);
        HardwareProfile storage h = _profile(msg.sender, hardwareId);
        h.pricePerSecond = pricePerSecond;
        emit PriceChanged(msg.sender, hardwareId, pricePerSecond);
    }

    /// @notice Stop serving a hardware profile: no new attestations or assignments for it.
    /// Attestations already posted stay challengeable; accepted jobs are unaffected.
    /// @param hardwareId a registered profile of the caller
    function removeHardware(bytes32 hardwareId) external {
        _registered(msg.sender);
        _profile(msg.sender, hardwareId);
        delete _hardware[msg.sender][hardwareId];
        emit HardwareRemoved(msg.sender, hardwareId);
    }

    /// @notice Change the caller's public description.
    /// @param metadataURI where the provider's public description lives
    function setMetadata(string calldata metadataURI) external {
        _registered(msg.sender).metadataURI = metadataURI;
        emit MetadataChanged(msg.sender, metadataURI);
    }

    /// @notice Move `amount` of free active stake into cooldown. One request at a time; locked
    /// stake (`lockedStake`) cannot be moved.
    /// @param amount wei to unstake
    function requestUnstake(uint128 amount) external {
        Provider storage p = _registered(msg.sender);
        if (amount == 0) revert ZeroAmount();
        if (p.pendingUnstake != 0) revert UnstakePending(p.unstakeReadyAt);
        uint256 free = _free(p);
        if (amount > free) revert InsufficientStake(amount, free);
        uint64 readyAt = uint64(block.timestamp) + unstakeCooldown;
        p.stake -= uint96(amount); // amount <= free <= stake
        p.pendingUnstake = uint96(amount);
        p.unstakeReadyAt = readyAt;
        emit UnstakeRequested(msg.sender, amount, readyAt);
    }

    /// @notice After the cooldown, credit the unstaked amount to the caller's withdrawable
    /// balance. If active stake no longer covers the locked amount (after a slash), the shortfall
    /// stays pending until the locks are released, and the rest is credited now.
    /// @return released the wei credited
    function completeUnstake() external returns (uint256 released) {
        Provider storage p = _registered(msg.sender);
        uint256 pending = p.pendingUnstake;
        if (pending == 0) revert ZeroAmount();
        if (block.timestamp < p.unstakeReadyAt) revert CooldownNotOver(p.unstakeReadyAt, block.timestamp);
        uint256 locked = _locked(p);
        uint256 shortfall = locked > p.stake ? locked - p.stake : 0;
        if (shortfall >= pending) revert UnstakeBlocked(locked, p.stake);
        released = pending - shortfall;
        p.pendingUnstake = uint96(shortfall); // shortfall < pending
        if (shortfall == 0) p.unstakeReadyAt = 0;
        _credit(msg.sender, released);
        emit UnstakeCompleted(msg.sender, released, shortfall);
    }

    // ------------------------------------------------------------------ market contracts only

    /// @notice Called by the attestation registry for every posted attestation or batch: checks
    /// that the provider may attest about `hardwareId` with this nonce, records the nonce, keeps
    /// `attestationSlash` free until `exposureUntil`, and returns the key that must have signed.
    /// @param provider the attesting provider
    /// @param hardwareId the hardware the attestation is about (must be a registered profile)
    /// @param nonce the attestation's nonce (must exceed the last one)
    /// @param exposureUntil end of the new attestation's challenge window
    /// @return agent the provider's current agent key
    function noteAttestation(address provider, bytes32 hardwareId, uint64 nonce, uint64 exposureUntil)
        external
        whenNotPaused
        returns (address agent)
    {
        if (msg.sender != attestationRegistry) revert NotMarketContract(msg.sender);
        Provider storage p = _providers[provider];
        _requireActive(provider, p);
        if (!_hardware[provider][hardwareId].registered) revert HardwareNotRegistered(provider, hardwareId);
        if (nonce <= p.attestNonce) revert NonceNotIncreasing(nonce, p.attestNonce);
        uint256 free = p.stake > p.reserved ? p.stake - p.reserved : 0;
        if (free < attestationSlash) revert InsufficientStake(attestationSlash, free);
        p.attestNonce = nonce;
        p.exposureUntil = exposureUntil;
        return p.agent;
    }

    /// @notice Lock stake for a job or a challenge; the lock belongs to the caller.
    /// With `partialOk` (a challenge: it cannot be refused) the lock takes what is unreserved, up
    /// to `amount`. Without it (a job the provider accepts; stops while paused) the provider must
    /// be active and `amount` must be free active stake.
    /// @param provider whose stake to lock
    /// @param amount wei at risk
    /// @param partialOk whether to lock less than `amount` when less is available
    /// @return lockId the new lock
    /// @return locked the wei actually locked
    function lockStake(address provider, uint256 amount, bool partialOk)
        external
        onlyMarkets
        returns (uint256 lockId, uint256 locked)
    {
        Provider storage p = _registered(provider);
        if (partialOk) {
            uint256 unreserved = uint256(p.stake) + p.pendingUnstake - p.reserved;
            locked = amount < unreserved ? amount : unreserved;
        } else {
            _requireNotPaused();
            _requireActive(provider, p);
            uint256 free = _free(p);
            if (amount > free) revert InsufficientStake(amount, free);
            locked = amount;
        }
        p.reserved += locked.toUint96();
        lockId = ++lockCount;
        _locks[lockId] = StakeLock({provider: provider, open: true, owner: msg.sender, amount: uint96(locked)});
        emit StakeLocked(lockId, provider, msg.sender, locked);
    }

    /// @notice Close a lock the caller opened, without slashing: the stake is free again.
    /// @param lockId the lock to close
    function releaseLock(uint256 lockId) external {
        (address provider, uint256 amount) = _closeLock(lockId);
        emit StakeUnlocked(lockId, provider, amount, 0);
    }

    /// @notice Close a lock the caller opened, slashing up to its amount. The slashed wei are
    /// sent to the caller (a market contract), which pays them out through its own ledger.
    /// Slashes come from active stake first, then from stake in cooldown. Lifetime slashes
    /// reaching `banThreshold` ban the provider.
    /// @param lockId the lock to close
    /// @param amount wei to take (capped at the lock's amount)
    /// @return slashed the wei taken and sent to the caller
    function slashLock(uint256 lockId, uint256 amount) external nonReentrant returns (uint256 slashed) {
        (address provider, uint256 lockedAmount) = _closeLock(lockId);
        slashed = amount < lockedAmount ? amount : lockedAmount;
        emit StakeUnlocked(lockId, provider, lockedAmount - slashed, slashed);
        if (slashed == 0) return 0;
        Provider storage p = _providers[provider];
        // every open lock is backed: reserved <= stake + pendingUnstake, and this lock was part of it
        uint256 fromStake = slashed < p.stake ? slashed : p.stake;
        p.stake -= uint96(fromStake);
        p.pendingUnstake -= uint96(slashed - fromStake);
        uint256 total = uint256(p.slashedTotal) + slashed;
        p.slashedTotal = total.toUint96();
        emit Slashed(provider, msg.sender, slashed, total);
        if (!p.banned && total >= banThreshold) {
            p.banned = true;
            emit ProviderBanned(provider, total);
        }
        // The lock's owner is one of the two market contracts fixed in `connectMarkets`.
        (bool ok,) = msg.sender.call{value: slashed}("");
        if (!ok) revert TransferFailed(msg.sender, slashed);
    }

    // ------------------------------------------------------------------ views

    /// @notice Everything stored about a provider.
    /// @param provider the provider's address
    /// @return the provider record (all zero when unregistered)
    function getProvider(address provider) external view returns (Provider memory) {
        return _providers[provider];
    }

    /// @notice Registered, not banned, and holding at least the minimum active stake.
    /// @param provider the provider's address
    /// @return whether the provider may attest and take jobs
    function isActive(address provider) public view returns (bool) {
        Provider storage p = _providers[provider];
        return p.registered && !p.banned && p.stake >= minStake;
    }

    /// @notice The agent key of an active provider; reverts with the reason it cannot act.
    /// @param provider the provider's address
    /// @return the current agent key
    function activeAgent(address provider) external view returns (address) {
        Provider storage p = _providers[provider];
        _requireActive(provider, p);
        return p.agent;
    }

    /// @notice The provider's current agent key (zero when unregistered).
    /// @param provider the provider's address
    /// @return the current agent key
    function agentOf(address provider) external view returns (address) {
        return _providers[provider].agent;
    }

    /// @notice The provider an agent key was ever bound to (zero when never bound), revoked or not.
    /// @param agent the key
    /// @return the provider it signs for
    function providerOfAgent(address agent) external view returns (address) {
        return _agentKeys[agent].provider;
    }

    /// @notice The binding record of an agent key: provider, when bound, when revoked (0 = current).
    /// @param agent the key
    /// @return the binding record
    function agentKey(address agent) external view returns (AgentKey memory) {
        return _agentKeys[agent];
    }

    /// @notice A provider's hardware profile.
    /// @param provider the provider's address
    /// @param hardwareId the hardware id
    /// @return the profile (`registered` false when not served)
    function hardwareProfile(address provider, bytes32 hardwareId) external view returns (HardwareProfile memory) {
        return _hardware[provider][hardwareId];
    }

    /// @notice Price per second of a served hardware profile; reverts when it is not served.
    /// @param provider the provider's address
    /// @param hardwareId the hardware id
    /// @return wei per second
    function priceOf(address provider, bytes32 hardwareId) external view returns (uint256) {
        HardwareProfile storage h = _hardware[provider][hardwareId];
        if (!h.registered) revert HardwareNotRegistered(provider, hardwareId);
        return h.pricePerSecond;
    }

    /// @notice The last attestation nonce posted for a provider.
    /// @param provider the provider's address
    /// @return the nonce (0 before the first attestation)
    function attestationNonce(address provider) external view returns (uint64) {
        return _providers[provider].attestNonce;
    }

    /// @notice Active plus cooling-down stake: everything a slash can reach.
    /// @param provider the provider's address
    /// @return wei
    function slashableStake(address provider) external view returns (uint256) {
        Provider storage p = _providers[provider];
        return uint256(p.stake) + p.pendingUnstake;
    }

    /// @notice Stake that can be neither unstaked nor locked for a new job: open locks plus,
    /// while an attestation can be challenged, `attestationSlash`.
    /// @param provider the provider's address
    /// @return wei
    function lockedStake(address provider) external view returns (uint256) {
        return _locked(_providers[provider]);
    }

    /// @notice Active stake above `lockedStake`: what may be unstaked or locked for a job.
    /// @param provider the provider's address
    /// @return wei
    function freeStake(address provider) external view returns (uint256) {
        return _free(_providers[provider]);
    }

    /// @notice A stake lock.
    /// @param lockId the lock id
    /// @return the lock (owner zero when it does not exist)
    function getLock(uint256 lockId) external view returns (StakeLock memory) {
        return _locks[lockId];
    }

    /// @notice The EIP-712 digest an agent key signs to consent to its binding.
    /// @param provider the provider the key will sign for
    /// @param agent the key
    /// @param deadline last timestamp at which the consent is valid
    /// @return the digest
    function agentBindingDigest(address provider, address agent, uint64 deadline) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(AGENT_BINDING_TYPEHASH, provider, agent, deadline)));
    }

    /// @notice This contract's EIP-712 domain separator (name "MetaInfProviderRegistry", version "1").
    /// @return the domain separator
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ------------------------------------------------------------------ internals

    function _registered(address provider) private view returns (Provider storage p) {
        p = _providers[provider];
        if (!p.registered) revert NotRegistered(provider);
    }

    function _requireActive(address provider, Provider storage p) private view {
        if (!p.registered) revert NotRegistered(provider);
        if (p.banned) revert ProviderIsBanned(provider);
        if (p.stake < minStake) revert StakeBelowMinimum(p.stake, minStake);
    }

    function _profile(address provider, bytes32 hardwareId) private view returns (HardwareProfile storage h) {
        h = _hardware[provider][hardwareId];
        if (!h.registered) revert HardwareNotRegistered(provider, hardwareId);
    }

    function _addHardware(bytes32 hardwareId, uint128 pricePerSecond) private {
        HardwareProfile storage h = _hardware[msg.sender][hardwareId];
        if (h.registered) revert HardwareAlreadyRegistered(msg.sender, hardwareId);
        h.registered = true;
        h.pricePerSecond = pricePerSecond;
        emit HardwareAdded(msg.sender, hardwareId, pricePerSecond);
    }

    /// @dev Close an open lock owned by the caller and free its amount.
    function _closeLock(uint256 lockId) private returns (address provider, uint256 amount) {
        StakeLock storage l = _locks[lockId];
        if (l.owner != msg.sender) revert NotLockOwner(lockId, msg.sender);
        if (!l.open) revert LockNotOpen(lockId);
        l.open = false;
        provider = l.provider;
        amount = l.amount;
        _providers[provider].reserved -= uint96(amount);
    }

    function _locked(Provider storage p) private view returns (uint256) {
        uint256 locked = p.reserved;
        if (block.timestamp < p.exposureUntil) locked += attestationSlash;
        return locked;
    }

    function _free(Provider storage p) private view returns (uint256) {
        uint256 locked = _locked(p);
        return p.stake > locked ? p.stake - locked : 0;
    }

    /// @dev Bind `agent` to the caller, with the key's consent (see `register`).
    function _bindAgent(address agent, uint64 deadline, bytes calldata signature) private {
        if (agent == address(0)) revert ZeroAddress();
        AgentKey storage k = _agentKeys[agent];
        if (k.provider != address(0)) revert AgentAlreadyBound(agent, k.provider);
        if (agent != msg.sender) {
            if (block.timestamp > deadline) revert ConsentExpired(deadline, block.timestamp);
            address signer = ECDSA.recover(agentBindingDigest(msg.sender, agent, deadline), signature);
            if (signer != agent) revert InvalidAgentConsent(signer, agent);
        }
        k.provider = msg.sender;
        k.boundAt = uint64(block.timestamp);
    }
}
