// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title ProviderRegistry
/// @notice Providers stake native currency to sell inference. The stake is what makes a
/// signed attestation or a delivered result worth trusting: a proven lie costs it.
/// @dev Unstaking goes through a cooldown so that a provider cannot dodge a pending
/// challenge by withdrawing first; slashing reaches both active and cooling-down stake.
/// Slashed funds and unstaked funds leave only through `withdraw` (pull payments).
contract ProviderRegistry is AccessControl, ReentrancyGuard {
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");

    struct Provider {
        address agent; // hot key that signs attestations and submits results
        uint64 unstakeReadyAt; // when `pendingUnstake` may be withdrawn
        bool registered;
        bool slashed; // a slashed provider can never attest or take jobs again
        uint32 openCases; // challenges and disputes pending against it: unstaking waits for them
        uint128 stake; // active stake
        uint128 pendingUnstake; // stake in cooldown, still slashable
        uint128 pricePerSecond; // wei per second of compute
        bytes32 hardwareId;
        string metadataURI;
    }

    uint256 public immutable minStake;
    uint64 public immutable unstakeCooldown;

    mapping(address provider => Provider) private _providers;
    /// @notice Every agent key ever bound, to the provider it signed for. Never cleared, so
    /// an old signature stays attributable after the provider rotates its key.
    mapping(address agent => address provider) public providerOfAgent;
    /// @notice Pull-payment balances: unstaked funds and slash proceeds.
    mapping(address account => uint256) public withdrawable;

    event ProviderRegistered(
        address indexed provider,
        address indexed agent,
        bytes32 indexed hardwareId,
        uint256 stake,
        uint256 pricePerSecond,
        string metadataURI
    );
    event StakeAdded(address indexed provider, uint256 amount, uint256 newStake);
    event AgentChanged(address indexed provider, address indexed oldAgent, address indexed newAgent);
    event PriceChanged(address indexed provider, uint256 pricePerSecond);
    event MetadataChanged(address indexed provider, bytes32 indexed hardwareId, string metadataURI);
    event UnstakeRequested(address indexed provider, uint256 amount, uint256 readyAt);
    event UnstakeCompleted(address indexed provider, uint256 amount);
    event Slashed(address indexed provider, address indexed beneficiary, uint256 amount, address indexed by);
    event Withdrawn(address indexed account, uint256 amount);
    event CaseOpened(address indexed provider, uint256 openCases, address indexed by);
    event CaseClosed(address indexed provider, uint256 openCases, address indexed by);

    error AlreadyRegistered(address provider);
    error NotRegistered(address provider);
    error ProviderIsSlashed(address provider);
    error StakeBelowMinimum(uint256 stake, uint256 minimum);
    error ZeroAddress();
    error ZeroAmount();
    error AgentAlreadyBound(address agent, address provider);
    error InsufficientStake(uint256 requested, uint256 available);
    error UnstakePending(uint256 readyAt);
    error CooldownNotOver(uint256 readyAt, uint256 nowTs);
    error NothingToWithdraw(address account);
    error TransferFailed(address to, uint256 amount);
    error StakeTooLarge(uint256 stake);
    error CasesPending(uint256 openCases);
    error NoOpenCase(address provider);

    constructor(address admin, uint256 minStake_, uint64 unstakeCooldown_) {
        if (admin == address(0)) revert ZeroAddress();
        minStake = minStake_;
        unstakeCooldown = unstakeCooldown_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ------------------------------------------------------------------ provider life cycle

    function register(address agent, bytes32 hardwareId, uint128 price, string calldata metadataURI)
        external
        payable
    {
        Provider storage p = _providers[msg.sender];
        if (p.registered) revert AlreadyRegistered(msg.sender);
        if (msg.value < minStake) revert StakeBelowMinimum(msg.value, minStake);
        if (msg.value > type(uint128).max) revert StakeTooLarge(msg.value);
        _bindAgent(msg.sender, agent);
        p.registered = true;
        p.agent = agent;
        p.stake = uint128(msg.value);
        p.pricePerSecond = price;
        p.hardwareId = hardwareId;
        p.metadataURI = metadataURI;
        emit ProviderRegistered(msg.sender, agent, hardwareId, msg.value, price, metadataURI);
    }

    function addStake() external payable {
        Provider storage p = _registered(msg.sender);
        if (msg.value == 0) revert ZeroAmount();
        uint256 newStake = uint256(p.stake) + msg.value;
        if (newStake > type(uint128).max) revert StakeTooLarge(newStake);
        p.stake = uint128(newStake);
        emit StakeAdded(msg.sender, msg.value, p.stake);
    }

    function setAgent(address agent) external {
        Provider storage p = _registered(msg.sender);
        address old = p.agent;
        _bindAgent(msg.sender, agent);
        p.agent = agent;
        emit AgentChanged(msg.sender, old, agent);
    }

    function setPrice(uint128 price) external {
        _registered(msg.sender).pricePerSecond = price;
        emit PriceChanged(msg.sender, price);
    }

    function setMetadata(bytes32 hardwareId, string calldata metadataURI) external {
        Provider storage p = _registered(msg.sender);
        p.hardwareId = hardwareId;
        p.metadataURI = metadataURI;
        emit MetadataChanged(msg.sender, hardwareId, metadataURI);
    }

    /// @notice Move `amount` of active stake into cooldown. One request at a time.
    function requestUnstake(uint128 amount) external {
        Provider storage p = _registered(msg.sender);
        if (amount == 0) revert ZeroAmount();
        if (p.pendingUnstake != 0) revert UnstakePending(p.unstakeReadyAt);
        if (amount > p.stake) revert InsufficientStake(amount, p.stake);
        uint64 readyAt = uint64(block.timestamp) + unstakeCooldown;
        p.stake -= amount;
        p.pendingUnstake = amount;
        p.unstakeReadyAt = readyAt;
        emit UnstakeRequested(msg.sender, amount, readyAt);
    }

    /// @notice After the cooldown, credit the unstaked amount to the caller's withdrawable balance.
    function completeUnstake() external {
        Provider storage p = _registered(msg.sender);
        uint256 amount = p.pendingUnstake;
        if (amount == 0) revert ZeroAmount();
        if (block.timestamp < p.unstakeReadyAt) revert CooldownNotOver(p.unstakeReadyAt, block.timestamp);
        if (p.openCases != 0) revert CasesPending(p.openCases);
        p.pendingUnstake = 0;
        p.unstakeReadyAt = 0;
        withdrawable[msg.sender] += amount;
        emit UnstakeCompleted(msg.sender, amount);
    }

    // ------------------------------------------------------------------ slashing

    /// @notice Take up to `amount` from the provider's stake (active first, then cooling down)
    /// and credit it to `beneficiary`. Marks the provider slashed for good.
    /// @return taken the amount actually slashed (capped at what the provider still has)
    function slash(address provider, uint256 amount, address beneficiary)
        external
        onlyRole(SLASHER_ROLE)
        returns (uint256 taken)
    {
        if (beneficiary == address(0)) revert ZeroAddress();
        Provider storage p = _registered(provider);
        uint256 fromStake = amount < p.stake ? amount : p.stake;
        uint256 rest = amount - fromStake;
        uint256 fromPending = rest < p.pendingUnstake ? rest : p.pendingUnstake;
        p.stake -= uint128(fromStake);
        p.pendingUnstake -= uint128(fromPending);
        p.slashed = true;
        taken = fromStake + fromPending;
        withdrawable[beneficiary] += taken;
        emit Slashed(provider, beneficiary, taken, msg.sender);
    }

    /// @notice A challenge or dispute against `provider` was opened; its stake stays put until
    /// every open case is closed, so a provider cannot unstake its way out of a ruling.
    function openCase(address provider) external onlyRole(SLASHER_ROLE) {
        Provider storage p = _registered(provider);
        p.openCases += 1;
        emit CaseOpened(provider, p.openCases, msg.sender);
    }

    function closeCase(address provider) external onlyRole(SLASHER_ROLE) {
        Provider storage p = _registered(provider);
        if (p.openCases == 0) revert NoOpenCase(provider);
        p.openCases -= 1;
        emit CaseClosed(provider, p.openCases, msg.sender);
    }

    // ------------------------------------------------------------------ pull payments

    function withdraw() external nonReentrant {
        uint256 amount = withdrawable[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        withdrawable[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
    }

    // ------------------------------------------------------------------ views

    function getProvider(address provider) external view returns (Provider memory) {
        return _providers[provider];
    }

    /// @notice Registered, not slashed, and holding at least the minimum active stake.
    function isActive(address provider) public view returns (bool) {
        Provider storage p = _providers[provider];
        return p.registered && !p.slashed && p.stake >= minStake;
    }

    /// @notice The agent key of an active provider; reverts with the reason it cannot act.
    /// @dev One external call gives callers both the check and the key they need.
    function activeAgent(address provider) external view returns (address) {
        Provider storage p = _providers[provider];
        if (!p.registered) revert NotRegistered(provider);
        if (p.slashed) revert ProviderIsSlashed(provider);
        if (p.stake < minStake) revert StakeBelowMinimum(p.stake, minStake);
        return p.agent;
    }

    /// @notice The provider's current agent key (zero when unregistered).
    function agentOf(address provider) external view returns (address) {
        return _providers[provider].agent;
    }

    function slashableStake(address provider) external view returns (uint256) {
        Provider storage p = _providers[provider];
        return uint256(p.stake) + p.pendingUnstake;
    }

    function pricePerSecond(address provider) external view returns (uint256) {
        return _providers[provider].pricePerSecond;
    }

    // ------------------------------------------------------------------ internals

    function _registered(address provider) private view returns (Provider storage p) {
        p = _providers[provider];
        if (!p.registered) revert NotRegistered(provider);
    }

    function _bindAgent(address provider, address agent) private {
        if (agent == address(0)) revert ZeroAddress();
        address bound = providerOfAgent[agent];
        if (bound != address(0) && bound != provider) revert AgentAlreadyBound(agent, bound);
        providerOfAgent[agent] = provider;
    }
}
