// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {PullPayments} from "./base/PullPayments.sol";
import {ProviderRegistry} from "./ProviderRegistry.sol";

/// @title AttestationRegistry
/// @notice Providers post EIP-712-signed performance measurements of (hardware, model,
/// workload, method). Every posted measurement is one `Attested` event carrying all its fields,
/// so indexers need nothing off-chain for the headline metrics. The contract stores one word
/// per posted attestation or batch (its EIP-712 digest and the time it was posted): only what
/// was actually posted can be challenged, within `challengeWindow` of posting.
/// @dev A batch is signed once: the agent signs `AttestationBatch(provider, root, count, nonce,
/// timestamp)` where `root = keccak256(leaf_0 || ... || leaf_{n-1})` and each leaf is the
/// EIP-712 struct hash of a `Measurement`. All items of a batch are about one hardware profile.
///
/// Challenges: every challenger of a claim joins the claim's one open case with its bond, until
/// the claim's challenge window closes. The arbiter rules before the case's deadline
/// (`openedAt + rulingPeriod`). Upheld: the provider loses `slashAmount` (capped at what the case
/// could lock); `challengerShareBps` of it is shared among the challengers in proportion to
/// their bonds, the rest goes to the treasury, and every bond is returned. Rejected: the bonds
/// go to the provider, and the claim may be challenged again while its window is open.
/// No ruling by the deadline: the default ruling rejects the challenge and returns the bonds.
contract AttestationRegistry is PullPayments, EIP712, AccessControlDefaultAdminRules {
    using SafeCast for uint256;

    /// @notice One measurement: the attestation's field list, in one place. A single
    /// attestation wraps one; a batch signs the hashes of many.
    struct Measurement {
        bytes32 hardwareId;
        bytes32 modelId;
        bytes32 workloadId;
        bytes32 methodId;
        uint64 tokensPerSecX1000;
        uint64 ttftP50Us;
        uint64 tpotP50Us;
        uint64 peakMemBytes;
        bytes32 reportHash;
    }

    /// @notice A singly posted measurement, signed by the provider's agent key.
    struct Attestation {
        address provider;
        Measurement measurement;
        uint64 nonce;
        uint64 timestamp;
    }

    struct BatchHeader {
        address provider;
        uint64 count;
        uint64 nonce;
        uint64 timestamp;
    }

    enum ChallengeStatus {
        None,
        Open,
        Upheld,
        Rejected,
        Expired
    }

    /// @notice One case against one claim; several challengers may share it.
    struct Challenge {
        address provider;
        uint64 openedAt;
        ChallengeStatus status;
        uint128 totalBond; // all challengers' bonds
        uint128 reward; // challengers' share of the slash (upheld)
        uint128 settledBond; // bonds already paid back
        uint128 paidReward; // reward already paid out
        uint128 stakeLocked; // stake the case locked; all of it is taken when upheld
        uint128 lockId; // the registry's stake lock for this case
        bytes32 claimHash; // the attestation digest, or keccak256(abi.encode(batchDigest, leaf))
    }

    /// @notice Role allowed to rule on challenges.
    bytes32 public constant ARBITER_ROLE = keccak256("ARBITER_ROLE");

    string private constant MEASUREMENT_TYPE =
        "Measurement(bytes32 hardwareId,bytes32 modelId,bytes32 workloadId,bytes32 methodId,uint64 tokensPerSecX1000,uint64 ttftP50Us,uint64 tpotP50Us,uint64 peakMemBytes,bytes32 reportHash)";

    /// @notice EIP-712 type hash of `Measurement` (a batch leaf is its struct hash).
    bytes32 public constant MEASUREMENT_TYPEHASH = keccak256(bytes(MEASUREMENT_TYPE));
    /// @notice EIP-712 type hash of `Attestation`, which nests a `Measurement`.
    bytes32 public constant ATTESTATION_TYPEHASH = keccak256(
        abi.encodePacked(
            "Attestation(address provider,Measurement measurement,uint64 nonce,uint64 timestamp)", MEASUREMENT_TYPE
        )
    );
    /// @notice EIP-712 type hash of `AttestationBatch`.
    bytes32 public constant BATCH_TYPEHASH = keccak256(
        "AttestationBatch(address provider,bytes32 root,uint64 count,uint64 nonce,uint64 timestamp)"
    );

    /// @dev topic0 of `Attested` (`Attested.selector`, spelled out for tools that do not support
    /// event selectors; a test checks it against the event).
    bytes32 private constant ATTESTED_TOPIC = keccak256(
        "Attested(address,(bytes32,bytes32,bytes32,bytes32,uint64,uint64,uint64,uint64,bytes32),uint64,uint64)"
    );

    /// @notice Most items in one batch.
    uint256 public constant MAX_BATCH = 256;

    /// @notice The provider registry whose stake backs attestations.
    ProviderRegistry public immutable registry;
    /// @notice Receives the part of a slash that does not reward challengers.
    address public immutable treasury;
    /// @notice How far a signed timestamp may lie from the block time (either way), seconds.
    uint64 public immutable maxClockSkew;
    /// @notice How long after it was posted a claim may be challenged, seconds.
    uint64 public immutable challengeWindow;
    /// @notice How long after a case opens the arbiter may rule, seconds.
    uint64 public immutable rulingPeriod;
    /// @notice Smallest bond per challenger, wei.
    uint256 public immutable minChallengeBond;
    /// @notice Stake taken from a provider whose claim is proven false (`registry.attestationSlash()`).
    uint256 public immutable slashAmount;
    /// @notice Share of a slash that rewards the challengers, in basis points.
    uint16 public immutable challengerShareBps;

    /// @notice When an attestation or batch was posted, by EIP-712 digest (0 = never posted).
    mapping(bytes32 digest => uint64) public postedAt;
    /// @notice The latest case against each claim.
    mapping(bytes32 claimHash => uint256 challengeId) public challengeOf;
    /// @notice Bond each challenger has in a case and not yet been paid back (stays as posted
    /// when the bonds went to the provider).
    mapping(uint256 challengeId => mapping(address challenger => uint256)) public bondOf;
    /// @notice Number of cases ever opened; ids run from 1.
    uint256 public challengeCount;
    mapping(uint256 challengeId => Challenge) private _challenges;

    /// @notice One measurement posted (singly or as a batch item).
    event Attested(address indexed provider, Measurement measurement, uint64 nonce, uint64 timestamp);
    event BatchAttested(address indexed provider, bytes32 indexed root, uint64 count, uint64 nonce, uint64 timestamp);
    event ChallengeOpened(
        uint256 indexed challengeId, address indexed provider, bytes32 indexed claimHash, uint256 lockedStake, uint256 deadline
    );
    event ChallengerJoined(
        uint256 indexed challengeId, address indexed challenger, uint256 bond, uint256 totalBond, bytes32 counterReportHash
    );
    event ChallengeResolved(uint256 indexed challengeId, ChallengeStatus outcome, uint256 slashed, uint256 challengerReward);
    event ChallengerSettled(uint256 indexed challengeId, address indexed challenger, uint256 bond, uint256 reward);

    error InvalidSignature(address recovered, address expected);
    error TimestampOutOfRange(uint64 timestamp, uint256 blockTimestamp);
    error BatchSizeInvalid(uint256 count);
    error MixedHardware();
    error MetricOutOfRange();
    error LeafIndexOutOfRange(uint256 index, uint256 count);
    error LeafMismatch(bytes32 leaf, bytes32 expected);
    error ClaimNotPosted(bytes32 digest);
    error ChallengeWindowClosed(uint256 postedAt, uint256 closedAt);
    error BondTooSmall(uint256 bond, uint256 minimum);
    error ClaimAlreadyUpheld(bytes32 claimHash, uint256 challengeId);
    error ChallengeNotOpen(uint256 challengeId);
    error RulingDeadlinePassed(uint256 challengeId, uint256 deadline);
    error RulingDeadlineNotPassed(uint256 challengeId, uint256 deadline);
    error NothingToSettle(uint256 challengeId, address challenger);
    error InvalidShare(uint256 bps);
    error CooldownTooShort(uint256 unstakeCooldown, uint256 challengeWindowPlusSkew);
    error UnexpectedPayment(address from);
    error SlashMismatch(uint256 expected, uint256 taken);

    /// @param admin default admin (two-step transfer, `adminDelay`)
    /// @param adminDelay seconds a default-admin transfer waits
    /// @param registry_ the provider registry
    /// @param treasury_ receives the protocol's part of slashes
    /// @param maxClockSkew_ allowed distance of a signed timestamp from block time, seconds
    /// @param challengeWindow_ seconds after posting during which a claim may be challenged
    /// @param rulingPeriod_ seconds after a case opens during which the arbiter may rule
    /// @param minChallengeBond_ smallest bond per challenger, wei
    /// @param challengerShareBps_ share of a slash for the challengers, basis points (<= 10000)
    constructor(
        address admin,
        uint48 adminDelay,
        ProviderRegistry registry_,
        address treasury_,
        uint64 maxClockSkew_,
        uint64 challengeWindow_,
        uint64 rulingPeriod_,
        uint256 minChallengeBond_,
        uint16 challengerShareBps_
    ) EIP712("MetaInfAttestationRegistry", "1") AccessControlDefaultAdminRules(adminDelay, admin) {
        if (treasury_ == address(0) || address(registry_) == address(0)) revert ZeroAddress();
        if (challengerShareBps_ > 10_000) revert InvalidShare(challengerShareBps_);
        // Stake moved into cooldown must stay slashable until every claim posted before the
        // move can no longer be challenged.
        uint256 cooldown = registry_.unstakeCooldown();
        if (cooldown <= uint256(challengeWindow_) + maxClockSkew_) {
            revert CooldownTooShort(cooldown, uint256(challengeWindow_) + maxClockSkew_);
        }
        registry = registry_;
        treasury = treasury_;
        maxClockSkew = maxClockSkew_;
        challengeWindow = challengeWindow_;
        rulingPeriod = rulingPeriod_;
        minChallengeBond = minChallengeBond_;
        slashAmount = registry_.attestationSlash();
        challengerShareBps = challengerShareBps_;
    }

    /// @notice Accepts only slash proceeds sent by the registry.
    receive() external payable {
        if (msg.sender != address(registry)) revert UnexpectedPayment(msg.sender);
    }

    // ------------------------------------------------------------------ attesting

    /// @notice Post one measurement signed by the provider's current agent key.
    /// @param a the attestation (its hardware must be a registered profile of the provider)
    /// @param signature the agent key's EIP-712 signature of `a`
    function attest(Attestation calldata a, bytes calldata signature) external {
        _checkTimestamp(a.timestamp);
        address agent = registry.noteAttestation(
            a.provider, a.measurement.hardwareId, a.nonce, uint64(block.timestamp) + challengeWindow
        );
        bytes32 digest = attestationDigest(a);
        _requireSigner(digest, signature, agent);
        postedAt[digest] = uint64(block.timestamp);
        emit Attested(a.provider, a.measurement, a.nonce, a.timestamp);
    }

    /// @notice Post up to `MAX_BATCH` measurements about one hardware profile under one signature.
    /// @param h provider, item count, nonce and timestamp of the batch
    /// @param items the measurements (all with the same `hardwareId`)
    /// @param signature the agent key's EIP-712 `AttestationBatch` signature
    function attestBatch(BatchHeader calldata h, Measurement[] calldata items, bytes calldata signature)
        external
    {
        uint256 n = items.length;
        if (n == 0 || n > MAX_BATCH || n != h.count) revert BatchSizeInvalid(n);
        _checkTimestamp(h.timestamp);
        bytes32 hardwareId = items[0].hardwareId;
        address agent =
            registry.noteAttestation(h.provider, hardwareId, h.nonce, uint64(block.timestamp) + challengeWindow);
        bytes32 root = _emitItemsAndRoot(h, items, hardwareId);
        bytes32 digest = batchDigest(h, root);
        _requireSigner(digest, signature, agent);
        postedAt[digest] = uint64(block.timestamp);
        emit BatchAttested(h.provider, root, h.count, h.nonce, h.timestamp);
    }

    // ------------------------------------------------------------------ challenges

    /// @notice Challenge a singly posted attestation (or join the open case against it).
    /// @param a the attestation exactly as posted
    /// @param counterReportHash content id of the challenger's counter-evidence
    /// @return challengeId the case joined or opened
    function challengeAttestation(Attestation calldata a, bytes32 counterReportHash)
        external
        payable
        nonReentrant
        returns (uint256 challengeId)
    {
        bytes32 digest = attestationDigest(a);
        return _challenge(a.provider, _posted(digest), digest, counterReportHash);
    }

    /// @notice Challenge one measurement of a posted batch (or join the open case against it),
    /// given every leaf of the batch.
    /// @param h the batch header as posted
    /// @param leaves the struct hashes of all items, in order
    /// @param index position of the challenged item
    /// @param item the challenged measurement
    /// @param counterReportHash content id of the challenger's counter-evidence
    /// @return challengeId the case joined or opened
    function challengeBatchItem(
        BatchHeader calldata h,
        bytes32[] calldata leaves,
        uint256 index,
        Measurement calldata item,
        bytes32 counterReportHash
    ) external payable nonReentrant returns (uint256 challengeId) {
        if (leaves.length != h.count || leaves.length == 0) revert BatchSizeInvalid(leaves.length);
        if (index >= leaves.length) revert LeafIndexOutOfRange(index, leaves.length);
        bytes32 leaf = hashMeasurement(item);
        if (leaves[index] != leaf) revert LeafMismatch(leaf, leaves[index]);
        bytes32 digest = batchDigest(h, keccak256(abi.encodePacked(leaves)));
        uint64 posted = _posted(digest);
        // The claim is the measurement within this posted batch (a repeated item is one claim).
        return _challenge(h.provider, posted, keccak256(abi.encode(digest, leaf)), counterReportHash);
    }

    /// @notice The arbiter's ruling, before the case's deadline, after re-running the benchmark.
    /// @param challengeId an open case
    /// @param upheld true when the claim is false
    function resolveChallenge(uint256 challengeId, bool upheld) external onlyRole(ARBITER_ROLE) nonReentrant {
        Challenge storage c = _openChallenge(challengeId);
        uint256 deadline = uint256(c.openedAt) + rulingPeriod;
        if (block.timestamp > deadline) revert RulingDeadlinePassed(challengeId, deadline);
        uint256 lockId = c.lockId;
        if (upheld) {
            c.status = ChallengeStatus.Upheld;
            // The lock holds at most `slashAmount` and is always fully backed: all of it is taken.
            uint256 slashed = c.stakeLocked;
            uint256 reward = (slashed * challengerShareBps) / 10_000;
            c.reward = uint128(reward);
            _credit(treasury, slashed - reward);
            emit ChallengeResolved(challengeId, ChallengeStatus.Upheld, slashed, reward);
            uint256 taken = registry.slashLock(lockId, slashed);
            if (taken != slashed) revert SlashMismatch(slashed, taken);
        } else {
            c.status = ChallengeStatus.Rejected;
            _credit(c.provider, c.totalBond);
            emit ChallengeResolved(challengeId, ChallengeStatus.Rejected, 0, 0);
            registry.releaseLock(lockId);
        }
    }

    /// @notice Default ruling once a case's deadline has passed without a ruling: the challenge
    /// is rejected, nobody is slashed, and every challenger gets its bond back (`settleChallenger`).
    /// Anyone may call it.
    /// @param challengeId an open case past its deadline
    function settleExpiredChallenge(uint256 challengeId) external nonReentrant {
        Challenge storage c = _openChallenge(challengeId);
        uint256 deadline = uint256(c.openedAt) + rulingPeriod;
        if (block.timestamp <= deadline) revert RulingDeadlineNotPassed(challengeId, deadline);
        c.status = ChallengeStatus.Expired;
        emit ChallengeResolved(challengeId, ChallengeStatus.Expired, 0, 0);
        registry.releaseLock(c.lockId);
    }

    /// @notice Credit a challenger of an upheld or expired case with its bond and (upheld) its
    /// share of the reward, in proportion to its bond. Anyone may call it for anyone.
    /// @param challengeId an upheld or expired case
    /// @param challenger a challenger of that case not yet settled
    /// @return bond the bond credited back
    /// @return reward the reward credited
    function settleChallenger(uint256 challengeId, address challenger)
        external
        returns (uint256 bond, uint256 reward)
    {
        Challenge storage c = _challenges[challengeId];
        bond = bondOf[challengeId][challenger];
        ChallengeStatus status = c.status;
        if (bond == 0 || (status != ChallengeStatus.Upheld && status != ChallengeStatus.Expired)) {
            revert NothingToSettle(challengeId, challenger);
        }
        bondOf[challengeId][challenger] = 0;
        uint256 settled = uint256(c.settledBond) + bond;
        // The last challenger to settle gets the rounding remainder, so nothing is left behind.
        reward = settled == c.totalBond ? c.reward - c.paidReward : (uint256(c.reward) * bond) / c.totalBond;
        c.settledBond = uint128(settled);
        c.paidReward += uint128(reward);
        _credit(challenger, bond + reward);
        emit ChallengerSettled(challengeId, challenger, bond, reward);
    }

    // ------------------------------------------------------------------ hashing (public so clients can cross-check)

    /// @notice EIP-712 struct hash of a measurement (a batch leaf).
    /// @param m the measurement
    /// @return the struct hash
    function hashMeasurement(Measurement calldata m) public pure returns (bytes32) {
        return keccak256(abi.encode(MEASUREMENT_TYPEHASH, m));
    }

    /// @notice EIP-712 struct hash of an attestation.
    /// @param a the attestation
    /// @return the struct hash
    function hashAttestation(Attestation calldata a) public pure returns (bytes32) {
        return keccak256(abi.encode(ATTESTATION_TYPEHASH, a.provider, hashMeasurement(a.measurement), a.nonce, a.timestamp));
    }

    /// @notice The EIP-712 digest the agent signs for an attestation (also its claim hash).
    /// @param a the attestation
    /// @return the digest
    function attestationDigest(Attestation calldata a) public view returns (bytes32) {
        return _hashTypedDataV4(hashAttestation(a));
    }

    /// @notice The EIP-712 digest the agent signs for a batch with the given root.
    /// @param h the batch header
    /// @param root keccak256 of the concatenated leaves
    /// @return the digest
    function batchDigest(BatchHeader calldata h, bytes32 root) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(BATCH_TYPEHASH, h.provider, root, h.count, h.nonce, h.timestamp)));
    }

    /// @notice This contract's EIP-712 domain separator (name "MetaInfAttestationRegistry", version "1").
    /// @return the domain separator
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice A case.
    /// @param challengeId the case id
    /// @return the case (status None when it does not exist)
    function getChallenge(uint256 challengeId) external view returns (Challenge memory) {
        return _challenges[challengeId];
    }

    /// @notice The last attestation nonce posted for a provider (kept by the registry).
    /// @param provider the provider's address
    /// @return the nonce
    function lastNonce(address provider) external view returns (uint64) {
        return registry.attestationNonce(provider);
    }

    // ------------------------------------------------------------------ internals

    function _checkTimestamp(uint64 timestamp) private view {
        if (uint256(timestamp) + maxClockSkew < block.timestamp || timestamp > block.timestamp + maxClockSkew) {
            revert TimestampOutOfRange(timestamp, block.timestamp);
        }
    }

    function _requireSigner(bytes32 digest, bytes calldata signature, address agent) private pure {
        address signer = ECDSA.recover(digest, signature);
        if (signer != agent) revert InvalidSignature(signer, agent);
    }

    function _posted(bytes32 digest) private view returns (uint64 posted) {
        posted = postedAt[digest];
        // 0 is the "never posted" sentinel of a mapping, not a balance: strict equality is intended.
        // slither-disable-next-line incorrect-equality
        if (posted == 0) revert ClaimNotPosted(digest);
    }

    function _openChallenge(uint256 challengeId) private view returns (Challenge storage c) {
        c = _challenges[challengeId];
        if (c.status != ChallengeStatus.Open) revert ChallengeNotOpen(challengeId);
    }

    function _challenge(address provider, uint64 posted, bytes32 claimHash, bytes32 counterReportHash)
        private
        returns (uint256 id)
    {
        uint256 closesAt = uint256(posted) + challengeWindow;
        if (block.timestamp > closesAt) revert ChallengeWindowClosed(posted, closesAt);
        if (msg.value < minChallengeBond) revert BondTooSmall(msg.value, minChallengeBond);
        uint128 bond = msg.value.toUint128();
        id = challengeOf[claimHash];
        Challenge storage c = _challenges[id];
        if (id != 0 && c.status == ChallengeStatus.Open) {
            uint256 deadline = uint256(c.openedAt) + rulingPeriod;
            if (block.timestamp > deadline) revert RulingDeadlinePassed(id, deadline);
        } else {
            if (id != 0 && c.status == ChallengeStatus.Upheld) revert ClaimAlreadyUpheld(claimHash, id);
            id = ++challengeCount;
            challengeOf[claimHash] = id;
            c = _challenges[id];
            c.provider = provider;
            c.openedAt = uint64(block.timestamp);
            c.status = ChallengeStatus.Open;
            c.claimHash = claimHash;
            c.totalBond = bond;
            bondOf[id][msg.sender] = bond;
            // The lock id and amount are only known from the registry. It is the immutable, trusted
            // ProviderRegistry, `lockStake` makes no external call, and both entry points are nonReentrant.
            // slither-disable-next-line reentrancy-no-eth
            (uint256 lockId, uint256 locked) = registry.lockStake(provider, slashAmount, true);
            c.lockId = lockId.toUint128();
            c.stakeLocked = uint128(locked); // locked <= slashAmount
            emit ChallengeOpened(id, provider, claimHash, locked, block.timestamp + rulingPeriod);
            emit ChallengerJoined(id, msg.sender, bond, bond, counterReportHash);
            return id;
        }
        uint256 total = uint256(c.totalBond) + bond;
        c.totalBond = total.toUint128();
        bondOf[id][msg.sender] += bond;
        emit ChallengerJoined(id, msg.sender, bond, total, counterReportHash);
    }

    /// @dev Emits `Attested` for every item and returns keccak256(leaf_0 || ... || leaf_{n-1}).
    /// Hand-written because this loop is the whole per-item cost of a batch: each item is
    /// copied from calldata once into a scratch frame `typehash | item | nonce | timestamp`;
    /// the leaf is keccak256 of the first ten words and the event data is the last eleven,
    /// byte-identical to what `emit Attested(provider, item, nonce, timestamp)` would produce
    /// (a `Measurement` is nine static words). Also checks that every item is about
    /// `hardwareId` and that the four uint64 metrics fit their type.
    function _emitItemsAndRoot(BatchHeader calldata h, Measurement[] calldata items, bytes32 hardwareId)
        private
        returns (bytes32 root)
    {
        bool badMetric;
        bool mixed;
        bytes32 topic = ATTESTED_TOPIC;
        bytes32 typehash = MEASUREMENT_TYPEHASH;
        address provider = h.provider;
        uint256 nonce = h.nonce;
        uint256 ts = h.timestamp;
        assembly ("memory-safe") {
            let n := items.length
            let leaves := mload(0x40) // n words of leaf hashes
            let frame := add(leaves, shl(5, n)) // 12 words of scratch
            mstore(0x40, add(frame, 0x180))
            mstore(frame, typehash)
            mstore(add(frame, 0x140), nonce)
            mstore(add(frame, 0x160), ts)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                let src := add(items.offset, mul(i, 0x120))
                calldatacopy(add(frame, 0x20), src, 0x120)
                if iszero(eq(mload(add(frame, 0x20)), hardwareId)) { mixed := 1 }
                // the four uint64 metrics are words 4..7 of the item
                let metrics :=
                    or(or(mload(add(frame, 0xa0)), mload(add(frame, 0xc0))), or(mload(add(frame, 0xe0)), mload(add(frame, 0x100))))
                if gt(metrics, 0xffffffffffffffff) { badMetric := 1 }
                mstore(add(leaves, shl(5, i)), keccak256(frame, 0x140))
                log2(add(frame, 0x20), 0x160, topic, provider)
            }
            root := keccak256(leaves, shl(5, n))
        }
        if (mixed) revert MixedHardware();
        if (badMetric) revert MetricOutOfRange();
    }
}
