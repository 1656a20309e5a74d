// Shared fixtures and helpers for the contract test suite.
//
// The deployment is the one chain/deploy.py should do: ProviderRegistry, AttestationRegistry and
// JobMarket with PARAMS, `registry.connectMarkets(attest, market)` (the only two contracts that
// may ever lock or slash stake), and the MATCHER/ARBITER roles given to dedicated signers.
const { ethers, network } = require("hardhat");
const { time } = require("@nomicfoundation/hardhat-network-helpers");

const ETHER = 10n ** 18n;
const DAY = 24 * 3600;

// Deployment parameters used by the suite (chain.deploy.MarketParams should mirror them).
const PARAMS = {
  adminDelay: 2 * DAY,
  minStake: ETHER,
  unstakeCooldown: 7 * DAY,
  attestationSlash: ETHER / 2n,
  banThreshold: ETHER,
  maxClockSkew: 3600,
  attestationChallengeWindow: 3 * DAY,
  attestationRulingPeriod: 7 * DAY,
  minChallengeBond: ETHER / 10n,
  challengerShareBps: 5_000,
  protocolFeeBps: 200,
  jobChallengeWindow: 3600,
  disputeRulingPeriod: 3 * DAY,
  minDisputeBond: ETHER / 100n,
  collateralBps: 10_000,
  clientCompensationBps: 5_000,
};

const UINT64_MAX = 2n ** 64n - 1n;
const HW = ethers.id("hw:nvidia-h100-sxm");
const HW2 = ethers.id("hw:nvidia-h200");
const PRICE_PER_SEC = ETHER / 1000n; // 0.001 ETH per second of compute
const METADATA = "ipfs://provider-metadata";

// ------------------------------------------------------------------ EIP-712 schema

const MEASUREMENT_FIELDS = [
  { name: "hardwareId", type: "bytes32" },
  { name: "modelId", type: "bytes32" },
  { name: "workloadId", type: "bytes32" },
  { name: "methodId", type: "bytes32" },
  { name: "tokensPerSecX1000", type: "uint64" },
  { name: "ttftP50Us", type: "uint64" },
  { name: "tpotP50Us", type: "uint64" },
  { name: "peakMemBytes", type: "uint64" },
  { name: "reportHash", type: "bytes32" },
];
const ATTESTATION_TYPES = {
  Attestation: [
    { name: "provider", type: "address" },
    { name: "measurement", type: "Measurement" },
    { name: "nonce", type: "uint64" },
    { name: "timestamp", type: "uint64" },
  ],
  Measurement: MEASUREMENT_FIELDS,
};
const BATCH_TYPES = {
  AttestationBatch: [
    { name: "provider", type: "address" },
    { name: "root", type: "bytes32" },
    { name: "count", type: "uint64" },
    { name: "nonce", type: "uint64" },
    { name: "timestamp", type: "uint64" },
  ],
};
const AGENT_BINDING_TYPES = {
  AgentBinding: [
    { name: "provider", type: "address" },
    { name: "agent", type: "address" },
    { name: "deadline", type: "uint64" },
  ],
};
const MEASUREMENT_KEYS = MEASUREMENT_FIELDS.map((f) => f.name);
const MEASUREMENT_TYPE_STRING =
  "Measurement(" + MEASUREMENT_FIELDS.map((f) => `${f.type} ${f.name}`).join(",") + ")";

async function domainOf(attest, overrides = {}) {
  const { chainId } = await ethers.provider.getNetwork();
  return {
    name: "MetaInfAttestationRegistry",
    version: "1",
    chainId,
    verifyingContract: await attest.getAddress(),
    ...overrides,
  };
}

async function registryDomainOf(registry, overrides = {}) {
  const { chainId } = await ethers.provider.getNetwork();
  return {
    name: "MetaInfProviderRegistry",
    version: "1",
    chainId,
    verifyingContract: await registry.getAddress(),
    ...overrides,
  };
}

/** The agent key's EIP-712 consent to be bound to `provider`. */
async function signBinding(agentSigner, registry, provider, deadline, domainOverrides = {}) {
  return agentSigner.signTypedData(await registryDomainOf(registry, domainOverrides), AGENT_BINDING_TYPES, {
    provider,
    agent: agentSigner.address,
    deadline: BigInt(deadline),
  });
}

/** Register `providerSigner` with agent key `agentSigner` (which consents), one hardware profile. */
async function registerProvider(
  registry,
  providerSigner,
  agentSigner,
  { hw = HW, price = PRICE_PER_SEC, metadata = METADATA, stake = 2n * ETHER } = {},
) {
  const deadline = (await time.latest()) + DAY;
  const sig = await signBinding(agentSigner, registry, providerSigner.address, deadline);
  return registry
    .connect(providerSigner)
    .register(hw, price, metadata, agentSigner.address, deadline, sig, { value: stake });
}

/** Rotate `providerSigner`'s agent key to `agentSigner` (which consents). */
async function rotateAgent(registry, providerSigner, agentSigner) {
  const deadline = (await time.latest()) + DAY;
  const sig = await signBinding(agentSigner, registry, providerSigner.address, deadline);
  return registry.connect(providerSigner).setAgent(agentSigner.address, deadline, sig);
}

/** A measurement with deterministic, realistic (mostly non-zero) field values. */
function makeMeasurement(i = 0, overrides = {}) {
  return {
    hardwareId: HW,
    modelId: ethers.id(`model:llama-3.1-8b#${i % 4}`),
    workloadId: ethers.id(`workload:chat-512-128#${i % 3}`),
    methodId: ethers.id(`method:spec-decode#${i % 2}`),
    tokensPerSecX1000: 1_234_567n + BigInt(i),
    ttftP50Us: 45_000n + BigInt(i),
    tpotP50Us: 8_000n + BigInt(i),
    peakMemBytes: 70_000_000_000n + BigInt(i),
    reportHash: ethers.id(`report#${i}`),
    ...overrides,
  };
}

function makeAttestation(provider, nonce, timestamp, i = 0, overrides = {}) {
  const { measurement: m, ...rest } = overrides;
  return {
    provider,
    measurement: makeMeasurement(i, m ?? {}),
    nonce: BigInt(nonce),
    timestamp: BigInt(timestamp),
    ...rest,
  };
}

/** Tuple form, in the order of the Solidity struct (for events' withArgs and raw encoding). */
function measurementTuple(m) {
  return MEASUREMENT_KEYS.map((k) => m[k]);
}

/** JS recomputation of AttestationRegistry.hashMeasurement (EIP-712 struct hash). */
function leafOf(m, metricType = "uint64") {
  const types = ["bytes32", ...MEASUREMENT_FIELDS.map((f) => (f.type === "uint64" ? metricType : f.type))];
  return ethers.keccak256(
    ethers.AbiCoder.defaultAbiCoder().encode(types, [ethers.id(MEASUREMENT_TYPE_STRING), ...measurementTuple(m)]),
  );
}

function rootOf(leaves) {
  return ethers.keccak256(ethers.concat(leaves));
}

async function signAttestation(signer, attest, a, domainOverrides = {}) {
  return signer.signTypedData(await domainOf(attest, domainOverrides), ATTESTATION_TYPES, a);
}

async function signBatch(signer, attest, header, root, domainOverrides = {}) {
  const value = { provider: header.provider, root, count: header.count, nonce: header.nonce, timestamp: header.timestamp };
  return signer.signTypedData(await domainOf(attest, domainOverrides), BATCH_TYPES, value);
}

/** Build, hash and sign a batch of `n` measurements. */
async function makeSignedBatch(signer, attest, provider, nonce, timestamp, n, start = 0) {
  const items = Array.from({ length: n }, (_, i) => makeMeasurement(start + i));
  const leaves = items.map((m) => leafOf(m));
  const root = rootOf(leaves);
  const header = { provider, count: BigInt(n), nonce: BigInt(nonce), timestamp: BigInt(timestamp) };
  const signature = await signBatch(signer, attest, header, root);
  return { header, items, leaves, root, signature };
}

/** The EIP-712 digest the contract computes for an attestation. */
async function attestationDigest(attest, a) {
  return ethers.TypedDataEncoder.hash(await domainOf(attest), ATTESTATION_TYPES, a);
}

// ------------------------------------------------------------------ chain helpers

/** Pin the next block's timestamp and return it (makes time-dependent revert args exact). */
async function pinNextTimestamp(delta = 1) {
  const t = (await time.latest()) + delta;
  await time.setNextBlockTimestamp(t);
  return t;
}

/** A signer for an address we hold no key for (e.g. a contract that rejects ETH). */
async function impersonate(address, balance = 10n * ETHER) {
  await network.provider.request({ method: "hardhat_impersonateAccount", params: [address] });
  await network.provider.send("hardhat_setBalance", [address, ethers.toQuantity(balance)]);
  return ethers.getSigner(address);
}

async function gasCost(txOrReceipt) {
  const receipt = txOrReceipt.wait ? await txOrReceipt.wait() : txOrReceipt;
  return receipt.gasUsed * receipt.gasPrice;
}

// ------------------------------------------------------------------ fixtures

/** Accept a job's current offer on exactly its terms (as a provider agent would, from JobAssigned). */
async function acceptOffer(marketAs, jobId) {
  const j = await marketAs.getJob(jobId);
  return marketAs.acceptJob(jobId, j.hardwareId, j.methodId, j.price);
}

async function deployMarket(admin, treasury, params = PARAMS) {
  const registry = await ethers.deployContract("ProviderRegistry", [
    admin.address,
    params.adminDelay,
    params.minStake,
    params.unstakeCooldown,
    params.attestationSlash,
    params.banThreshold,
  ]);
  const attest = await ethers.deployContract("AttestationRegistry", [
    admin.address,
    params.adminDelay,
    await registry.getAddress(),
    treasury.address,
    params.maxClockSkew,
    params.attestationChallengeWindow,
    params.attestationRulingPeriod,
    params.minChallengeBond,
    params.challengerShareBps,
  ]);
  const market = await ethers.deployContract("JobMarket", [
    admin.address,
    params.adminDelay,
    await registry.getAddress(),
    treasury.address,
    params.protocolFeeBps,
    params.jobChallengeWindow,
    params.disputeRulingPeriod,
    params.minDisputeBond,
    params.collateralBps,
    params.clientCompensationBps,
  ]);
  await registry.connect(admin).connectMarkets(await attest.getAddress(), await market.getAddress());
  return { registry, attest, market };
}

async function deployFixture() {
  const [admin, treasury, matcher, arbiter, provider, agent, provider2, agent2, client, challenger, other, newAgent] =
    await ethers.getSigners();

  const { registry, attest, market } = await deployMarket(admin, treasury);

  const ARBITER_ROLE = await attest.ARBITER_ROLE();
  const MATCHER_ROLE = await market.MATCHER_ROLE();
  const PAUSER_ROLE = await registry.PAUSER_ROLE();
  await attest.grantRole(ARBITER_ROLE, arbiter.address);
  await market.grantRole(MATCHER_ROLE, matcher.address);
  await market.grantRole(await market.ARBITER_ROLE(), arbiter.address);

  return {
    registry,
    attest,
    market,
    roles: { ARBITER_ROLE, MATCHER_ROLE, PAUSER_ROLE },
    admin,
    treasury,
    matcher,
    arbiter,
    provider,
    agent,
    provider2,
    agent2,
    client,
    challenger,
    other,
    newAgent,
  };
}

/** deployFixture plus `provider` registered (agent key `agent`, hardware HW) with 2 ETH of stake. */
async function registeredFixture() {
  const f = await deployFixture();
  await registerProvider(f.registry, f.provider, f.agent);
  return f;
}

module.exports = {
  ETHER,
  DAY,
  PARAMS,
  UINT64_MAX,
  HW,
  HW2,
  PRICE_PER_SEC,
  METADATA,
  ATTESTATION_TYPES,
  BATCH_TYPES,
  AGENT_BINDING_TYPES,
  registryDomainOf,
  signBinding,
  registerProvider,
  rotateAgent,
  deployMarket,
  acceptOffer,
  MEASUREMENT_FIELDS,
  MEASUREMENT_TYPE_STRING,
  domainOf,
  makeMeasurement,
  makeAttestation,
  measurementTuple,
  leafOf,
  rootOf,
  signAttestation,
  signBatch,
  makeSignedBatch,
  attestationDigest,
  pinNextTimestamp,
  impersonate,
  gasCost,
  deployFixture,
  registeredFixture,
};
