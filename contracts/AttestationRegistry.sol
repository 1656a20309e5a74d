// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ProviderRegistry} from "./ProviderRegistry.sol";

/// @title AttestationRegistry
/// @notice Providers post EIP-712-signed performance measurements of (hardware, model,
/// workload, method). Nothing is stored per attestation: the `Attested` event carries every
/// field, so indexers need nothing off-chain for the headline metrics, and a challenge
/// proves authorship by re-verifying the provider's signature.
/// @dev A batch is signed once: the agent signs `AttestationBatch(provider, root, count, nonce,
/// timestamp)` where `root = keccak256(leaf_0 || ... || leaf_{n-1})` and each leaf is the
/// EIP-712 struct hash of a `Measurement`. That keeps per-item cost to calldata + event.
contract AttestationRegistry is AccessControl, ReentrancyGuard, EIP712 {
    bytes32 public constant ARBITER_ROLE = keccak256("ARBITER_ROLE");

    struct Attestation {
        address provider;
        bytes32 hardwareId;
        bytes32 modelId;
        bytes32 workloadId;
        bytes32 methodId;
        uint64 tokensPerSecX1000;
        uint64 ttftP50Us;
        uint64 tpotP50Us;
        uint64 peakMemBytes;
        bytes32 reportHash;
        uint64 nonce;
        uint64 timestamp;
    }

    /// @notice One measurement inside a batch; provider, nonce and timestamp belong to the batch.
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
        Rejected
    }

    struct Challenge {
        address challenger;
        address provider;
        uint64 openedAt;
        ChallengeStatus status;
        uint128 bond;
        bytes32 claimHash; // digest of the challenged attestation or batch leaf
        bytes32 counterReportHash;
    }

    bytes32 public constant ATTESTATION_TYPEHASH = keccak256(
        "Attestation(address provider,bytes32 hardwareId,bytes32 modelId,bytes32 workloadId,bytes32 methodId,uint64 tokensPerSecX1000,uint64 ttftP50Us,uint64 tpotP50Us,uint64 peakMemBytes,bytes32 reportHash,uint64 nonce,uint64 timestamp)"
    );
    bytes32 public constant MEASUREMENT_TYPEHASH = keccak256(
        "Measurement(bytes32 hardwareId,bytes32 modelId,bytes32 workloadId,bytes32 methodId,uint64 tokensPerSecX1000,uint64 ttftP50Us,uint64 tpotP50Us,uint64 peakMemBytes,bytes32 reportHash)"
    );
    bytes32 public constant BATCH_TYPEHASH = keccak256(
        "AttestationBatch(address provider,bytes32 root,uint64 count,uint64 nonce,uint64 timestamp)"
    );

    uint256 public constant MAX_BATCH = 256;

    ProviderRegistry public immutable registry;
    /// @notice How far a signed timestamp may lie from the block time (either way).
    uint64 public immutable maxClockSkew;
    /// @notice How long after its timestamp an attestation may be challenged.
    uint64 public immutable challengeWindow;
    uint256 public immutable minChallengeBond;
    /// @notice Stake taken from a provider whose attestation is proven false.
    uint256 public immutable slashAmount;
    /// @notice Share of the slashed amount that rewards the challenger, in basis points.
    uint16 public immutable challengerShareBps;
    address public immutable treasury;

    mapping(address provider => uint64) public lastNonce;
    mapping(uint256 challengeId => Challenge) private _challenges;
    /// @notice One challenge per claim, ever: a ruling is final.
    mapping(bytes32 claimHash => uint256 challengeId) public challengeOf;
    mapping(address account => uint256) public withdrawable;
    uint256 public challengeCount;

    event Attested(
        address indexed provider,
        bytes32 hardwareId,
        bytes32 modelId,
        bytes32 workloadId,
        bytes32 methodId,
        uint64 tokensPerSecX1000,
        uint64 ttftP50Us,
        uint64 tpotP50Us,
        uint64 peakMemBytes,
        bytes32 reportHash,
        uint64 nonce,
        uint64 timestamp
    );
    event BatchAttested(address indexed provider, bytes32 indexed root, uint64 count, uint64 nonce, uint64 timestamp);
    event ChallengeOpened(
        uint256 indexed challengeId,
        address indexed provider,
        address indexed challenger,
        bytes32 claimHash,
        bytes32 counterReportHash,
        uint256 bond
    );
    event ChallengeResolved(uint256 indexed challengeId, bool upheld, uint256 slashed, uint256 challengerReward);
    event Withdrawn(address indexed account, uint256 amount);

    error InvalidSignature(address recovered, address expected);
    error NonceNotIncreasing(uint64 nonce, uint64 lastNonce);
    error TimestampOutOfRange(uint64 timestamp, uint256 blockTimestamp);
    error BatchSizeInvalid(uint256 count);
    error LeafIndexOutOfRange(uint256 index, uint256 count);
    error LeafMismatch(bytes32 leaf, bytes32 expected);
    error ChallengeWindowClosed(uint64 timestamp, uint256 closedAt);
    error BondTooSmall(uint256 bond, uint256 minimum);
    error AlreadyChallenged(bytes32 claimHash, uint256 challengeId);
    error ChallengeNotOpen(uint256 challengeId);
    error SignerNotProviderAgent(address signer, address provider);
    error NothingToWithdraw(address account);
    error TransferFailed(address to, uint256 amount);
    error ZeroAddress();
    error InvalidShare(uint256 bps);
    error MetricOutOfRange();

    constructor(
        address admin,
        ProviderRegistry registry_,
        address treasury_,
        uint64 maxClockSkew_,
        uint64 challengeWindow_,
        uint256 minChallengeBond_,
        uint256 slashAmount_,
        uint16 challengerShareBps_
    ) EIP712("MetaInfAttestationRegistry", "1") {
        if (admin == address(0) || treasury_ == address(0) || address(registry_) == address(0)) {
            revert ZeroAddress();
        }
        if (challengerShareBps_ > 10_000) revert InvalidShare(challengerShareBps_);
        registry = registry_;
        treasury = treasury_;
        maxClockSkew = maxClockSkew_;
        challengeWindow = challengeWindow_;
        minChallengeBond = minChallengeBond_;
        slashAmount = slashAmount_;
        challengerShareBps = challengerShareBps_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ------------------------------------------------------------------ attesting

    function attest(Attestation calldata a, bytes calldata signature) external {
        _checkFresh(a.provider, a.nonce, a.timestamp);
        _requireActiveAgentSigned(a.provider, _hashTypedDataV4(hashAttestation(a)), signature);
        emit Attested(
            a.provider,
            a.hardwareId,
            a.modelId,
            a.workloadId,
            a.methodId,
            a.tokensPerSecX1000,
            a.ttftP50Us,
            a.tpotP50Us,
            a.peakMemBytes,
            a.reportHash,
            a.nonce,
            a.timestamp
        );
    }

    function attestBatch(BatchHeader calldata h, Measurement[] calldata items, bytes calldata signature) external {
        uint256 n = items.length;
        if (n == 0 || n > MAX_BATCH || n != h.count) revert BatchSizeInvalid(n);
        _checkFresh(h.provider, h.nonce, h.timestamp);
        bytes32 root = _emitItemsAndRoot(h, items);
        _requireActiveAgentSigned(h.provider, batchDigest(h, root), signature);
        emit BatchAttested(h.provider, root, h.count, h.nonce, h.timestamp);
    }

    // ------------------------------------------------------------------ challenges

    /// @notice Dispute a singly posted attestation. The signature proves the provider made the claim.
    function challengeAttestation(Attestation calldata a, bytes calldata signature, bytes32 counterReportHash)
        external
        payable
        returns (uint256)
    {
        bytes32 digest = _hashTypedDataV4(hashAttestation(a));
        _requireAgentEverSigned(a.provider, digest, signature);
        return _openChallenge(a.provider, a.timestamp, digest, counterReportHash);
    }

    /// @notice Dispute one measurement of a batch, given every leaf of the batch.
    function challengeBatchItem(
        BatchHeader calldata h,
        bytes32[] calldata leaves,
        uint256 index,
        Measurement calldata item,
        bytes calldata signature,
        bytes32 counterReportHash
    ) external payable returns (uint256) {
        if (leaves.length != h.count || leaves.length == 0) revert BatchSizeInvalid(leaves.length);
        if (index >= leaves.length) revert LeafIndexOutOfRange(index, leaves.length);
        bytes32 leaf = hashMeasurement(item);
        if (leaves[index] != leaf) revert LeafMismatch(leaf, leaves[index]);
        bytes32 root = keccak256(abi.encodePacked(leaves));
        _requireAgentEverSigned(h.provider, batchDigest(h, root), signature);
        // The claim is the leaf within this particular signed batch.
        bytes32 claimHash = keccak256(abi.encode(root, h.provider, h.nonce, leaf));
        return _openChallenge(h.provider, h.timestamp, claimHash, counterReportHash);
    }

    /// @notice The arbiter rules on a challenge after re-running the benchmark off-chain.
    /// Upheld: the provider is slashed, the challenger gets its bond back plus a share.
    /// Rejected: the bond goes to the provider as compensation.
    function resolveChallenge(uint256 challengeId, bool upheld) external onlyRole(ARBITER_ROLE) nonReentrant {
        Challenge storage c = _challenges[challengeId];
        if (c.status != ChallengeStatus.Open) revert ChallengeNotOpen(challengeId);
        c.status = upheld ? ChallengeStatus.Upheld : ChallengeStatus.Rejected;
        registry.closeCase(c.provider);
        uint256 slashed;
        uint256 reward;
        if (upheld) {
            withdrawable[c.challenger] += c.bond;
            uint256 available = registry.slashableStake(c.provider);
            uint256 total = slashAmount < available ? slashAmount : available;
            reward = (total * challengerShareBps) / 10_000;
            // Slashing twice records both beneficiaries; the second call also marks the
            // provider slashed when the reward share happens to be everything.
            slashed = registry.slash(c.provider, reward, c.challenger);
            slashed += registry.slash(c.provider, total - reward, treasury);
        } else {
            withdrawable[c.provider] += c.bond;
        }
        emit ChallengeResolved(challengeId, upheld, slashed, reward);
    }

    function withdraw() external nonReentrant {
        uint256 amount = withdrawable[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        withdrawable[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
    }

    // ------------------------------------------------------------------ hashing (public so clients can cross-check)

    function hashAttestation(Attestation calldata a) public pure returns (bytes32) {
        return keccak256(
            abi.encode(
                ATTESTATION_TYPEHASH,
                a.provider,
                a.hardwareId,
                a.modelId,
                a.workloadId,
                a.methodId,
                a.tokensPerSecX1000,
                a.ttftP50Us,
                a.tpotP50Us,
                a.peakMemBytes,
                a.reportHash,
                a.nonce,
                a.timestamp
            )
        );
    }

    function hashMeasurement(Measurement calldata m) public pure returns (bytes32) {
        return keccak256(
            abi.encode(
                MEASUREMENT_TYPEHASH,
                m.hardwareId,
                m.modelId,
                m.workloadId,
                m.methodId,
                m.tokensPerSecX1000,
                m.ttftP50Us,
                m.tpotP50Us,
                m.peakMemBytes,
                m.reportHash
            )
        );
    }

    /// @notice The EIP-712 digest the agent signs for a batch with the given root.
    function batchDigest(BatchHeader calldata h, bytes32 root) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(BATCH_TYPEHASH, h.provider, root, h.count, h.nonce, h.timestamp)));
    }

    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function getChallenge(uint256 challengeId) external view returns (Challenge memory) {
        return _challenges[challengeId];
    }

    // ------------------------------------------------------------------ internals

    function _checkFresh(address provider, uint64 nonce, uint64 timestamp) private {
        uint64 last = lastNonce[provider];
        if (nonce <= last) revert NonceNotIncreasing(nonce, last);
        if (uint256(timestamp) + maxClockSkew < block.timestamp || timestamp > block.timestamp + maxClockSkew) {
            revert TimestampOutOfRange(timestamp, block.timestamp);
        }
        lastNonce[provider] = nonce;
    }

    function _requireActiveAgentSigned(address provider, bytes32 digest, bytes calldata signature) private view {
        address agent = registry.activeAgent(provider);
        address signer = ECDSA.recover(digest, signature);
        if (signer != agent) revert InvalidSignature(signer, agent);
    }

    function _requireAgentEverSigned(address provider, bytes32 digest, bytes calldata signature) private view {
        address signer = ECDSA.recover(digest, signature);
        // Unbound keys map to address(0): a claim "by" the zero address proves nothing.
        if (provider == address(0) || registry.providerOfAgent(signer) != provider) {
            revert SignerNotProviderAgent(signer, provider);
        }
    }

    function _openChallenge(address provider, uint64 timestamp, bytes32 claimHash, bytes32 counterReportHash)
        private
        returns (uint256 id)
    {
        uint256 closesAt = uint256(timestamp) + challengeWindow;
        if (block.timestamp > closesAt) revert ChallengeWindowClosed(timestamp, closesAt);
        if (msg.value < minChallengeBond) revert BondTooSmall(msg.value, minChallengeBond);
        uint256 existing = challengeOf[claimHash];
        if (existing != 0) revert AlreadyChallenged(claimHash, existing);
        id = ++challengeCount;
        _challenges[id] = Challenge({
            challenger: msg.sender,
            provider: provider,
            openedAt: uint64(block.timestamp),
            status: ChallengeStatus.Open,
            bond: uint128(msg.value),
            claimHash: claimHash,
            counterReportHash: counterReportHash
        });
        challengeOf[claimHash] = id;
        registry.openCase(provider);
        emit ChallengeOpened(id, provider, msg.sender, claimHash, counterReportHash, msg.value);
    }

    /// @dev Emits `Attested` for every item and returns keccak256(leaf_0 || ... || leaf_{n-1}).
    /// Hand-written because this loop is the whole per-item cost of a batch: each item is
    /// copied from calldata once into a scratch frame `typehash | item | nonce | timestamp`;
    /// the leaf is keccak256 of the first ten words and the event data is the last eleven,
    /// byte-identical to what `emit Attested(...)` would produce.
    function _emitItemsAndRoot(BatchHeader calldata h, Measurement[] calldata items) private returns (bytes32 root) {
        bool bad;
        bytes32 topic = Attested.selector;
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
                // the four uint64 metrics are words 4..7 of the item
                let metrics := or(or(mload(add(frame, 0xa0)), mload(add(frame, 0xc0))), or(mload(add(frame, 0xe0)), mload(add(frame, 0x100))))
                if gt(metrics, 0xffffffffffffffff) { bad := 1 }
                mstore(add(leaves, shl(5, i)), keccak256(frame, 0x140))
                log2(add(frame, 0x20), 0x160, topic, provider)
            }
            root := keccak256(leaves, shl(5, n))
        }
        if (bad) revert MetricOutOfRange();
    }
}
