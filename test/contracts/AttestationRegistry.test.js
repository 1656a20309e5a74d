const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture, time, takeSnapshot } = require("@nomicfoundation/hardhat-network-helpers");
const {
  ETHER,
  PARAMS,
  UINT64_MAX,
  HW,
  ATTESTATION_TYPES,
  BATCH_TYPES,
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
} = require("./fixtures");

const abi = ethers.AbiCoder.defaultAbiCoder();
const STATUS = { None: 0n, Open: 1n, Upheld: 2n, Rejected: 3n };
const COUNTER = ethers.id("counter-report");

function attestedArgs(a) {
  return [a.provider, ...measurementTuple(a), a.nonce, a.timestamp];
}

function headerTuple(h) {
  return [h.provider, h.count, h.nonce, h.timestamp];
}

/** A fixture with a registered provider and one posted attestation (nonce 1). */
async function attestedFixture() {
  const f = await registeredFixture();
  const ts = await time.latest();
  const a = makeAttestation(f.provider.address, 1, ts);
  const sig = await signAttestation(f.agent, f.attest, a);
  await f.attest.connect(f.other).attest(a, sig);
  return { ...f, a, sig, digest: await attestationDigest(f.attest, a) };
}

/** A fixture with a registered provider and one posted 8-item batch (nonce 1). */
async function batchFixture() {
  const f = await registeredFixture();
  const ts = await time.latest();
  const b = await makeSignedBatch(f.agent, f.attest, f.provider.address, 1, ts, 8);
  await f.attest.attestBatch(b.header, b.items, b.signature);
  return { ...f, b };
}

/** attestedFixture plus an open challenge (id 1) by `challenger` with the minimum bond. */
async function challengedFixture() {
  const f = await attestedFixture();
  await f.attest.connect(f.challenger).challengeAttestation(f.a, f.sig, COUNTER, { value: PARAMS.minChallengeBond });
  return f;
}

describe("AttestationRegistry", function () {
  describe("constructor", function () {
    it("stores the parameters and grants DEFAULT_ADMIN_ROLE / ARBITER_ROLE as deployed", async function () {
      const { attest, registry, admin, arbiter, treasury, roles } = await loadFixture(deployFixture);
      expect(await attest.registry()).to.equal(await registry.getAddress());
      expect(await attest.treasury()).to.equal(treasury.address);
      expect(await attest.maxClockSkew()).to.equal(PARAMS.maxClockSkew);
      expect(await attest.challengeWindow()).to.equal(PARAMS.attestationChallengeWindow);
      expect(await attest.minChallengeBond()).to.equal(PARAMS.minChallengeBond);
      expect(await attest.slashAmount()).to.equal(PARAMS.slashAmount);
      expect(await attest.challengerShareBps()).to.equal(PARAMS.challengerShareBps);
      expect(await attest.MAX_BATCH()).to.equal(256n);
      expect(await attest.hasRole(await attest.DEFAULT_ADMIN_ROLE(), admin.address)).to.equal(true);
      expect(await attest.hasRole(roles.ARBITER_ROLE, arbiter.address)).to.equal(true);
      expect(roles.ARBITER_ROLE).to.equal(ethers.id("ARBITER_ROLE"));
    });

    it("reverts ZeroAddress for a zero admin, registry or treasury, and InvalidShare above 100%", async function () {
      const { attest, registry, admin, treasury } = await loadFixture(deployFixture);
      const reg = await registry.getAddress();
      const args = (over) => {
        const base = [admin.address, reg, treasury.address, 3600, 86400, 1n, 1n, 5000];
        for (const [i, v] of Object.entries(over)) base[i] = v;
        return base;
      };
      for (const i of [0, 1, 2]) {
        await expect(
          ethers.deployContract("AttestationRegistry", args({ [i]: ethers.ZeroAddress })),
        ).to.be.revertedWithCustomError(attest, "ZeroAddress");
      }
      await expect(ethers.deployContract("AttestationRegistry", args({ 7: 10_001 })))
        .to.be.revertedWithCustomError(attest, "InvalidShare")
        .withArgs(10_001);
      const full = await ethers.deployContract("AttestationRegistry", args({ 7: 10_000 }));
      expect(await full.challengerShareBps()).to.equal(10_000n);
    });
  });

  describe("hashing", function () {
    it("typehashes match the EIP-712 type strings", async function () {
      const { attest } = await loadFixture(deployFixture);
      expect(await attest.ATTESTATION_TYPEHASH()).to.equal(
        ethers.id(ethers.TypedDataEncoder.from(ATTESTATION_TYPES).encodeType("Attestation")),
      );
      expect(await attest.BATCH_TYPEHASH()).to.equal(
        ethers.id(ethers.TypedDataEncoder.from(BATCH_TYPES).encodeType("AttestationBatch")),
      );
      expect(await attest.MEASUREMENT_TYPEHASH()).to.equal(ethers.id(MEASUREMENT_TYPE_STRING));
    });

    it("domainSeparator, hashAttestation and hashMeasurement match ethers", async function () {
      const { attest, provider } = await loadFixture(deployFixture);
      const domain = await domainOf(attest);
      expect(await attest.domainSeparator()).to.equal(ethers.TypedDataEncoder.hashDomain(domain));
      const a = makeAttestation(provider.address, 7, 1_700_000_000);
      expect(await attest.hashAttestation(a)).to.equal(ethers.TypedDataEncoder.hashStruct("Attestation", ATTESTATION_TYPES, a));
      for (const i of [0, 1, 5]) {
        const m = makeMeasurement(i);
        const js = ethers.keccak256(
          abi.encode(
            ["bytes32", "bytes32", "bytes32", "bytes32", "bytes32", "uint64", "uint64", "uint64", "uint64", "bytes32"],
            [await attest.MEASUREMENT_TYPEHASH(), ...measurementTuple(m)],
          ),
        );
        expect(await attest.hashMeasurement(m)).to.equal(js);
        expect(leafOf(m)).to.equal(js);
      }
    });

    it("batchDigest matches the EIP-712 digest of AttestationBatch", async function () {
      const { attest, provider } = await loadFixture(deployFixture);
      const items = [0, 1, 2].map((i) => makeMeasurement(i));
      const root = rootOf(items.map((m) => leafOf(m)));
      const header = { provider: provider.address, count: 3n, nonce: 9n, timestamp: 1_700_000_000n };
      expect(await attest.batchDigest(header, root)).to.equal(
        ethers.TypedDataEncoder.hash(await domainOf(attest), BATCH_TYPES, { ...header, root }),
      );
    });
  });

  describe("attest", function () {
    it("accepts an agent-signed attestation, relayed by anyone, and emits Attested with every field", async function () {
      const { attest, provider, agent, other } = await loadFixture(registeredFixture);
      const a = makeAttestation(provider.address, 1, await time.latest());
      const sig = await signAttestation(agent, attest, a);
      await expect(attest.connect(other).attest(a, sig))
        .to.emit(attest, "Attested")
        .withArgs(...attestedArgs(a));
      expect(await attest.lastNonce(provider.address)).to.equal(1n);
      // nonces need only increase, not be consecutive
      const a2 = makeAttestation(provider.address, 10, await time.latest(), 1);
      await expect(attest.attest(a2, await signAttestation(agent, attest, a2)))
        .to.emit(attest, "Attested")
        .withArgs(...attestedArgs(a2));
      expect(await attest.lastNonce(provider.address)).to.equal(10n);
    });

    it("accepts uint64-max metrics", async function () {
      const { attest, provider, agent } = await loadFixture(registeredFixture);
      const a = makeAttestation(provider.address, 1, await time.latest(), 0, {
        tokensPerSecX1000: UINT64_MAX,
        ttftP50Us: UINT64_MAX,
        tpotP50Us: UINT64_MAX,
        peakMemBytes: UINT64_MAX,
      });
      await expect(attest.attest(a, await signAttestation(agent, attest, a)))
        .to.emit(attest, "Attested")
        .withArgs(...attestedArgs(a));
    });

    it("reverts InvalidSignature for a non-agent signer (a stranger, or the provider's own key)", async function () {
      const { attest, provider, agent, other } = await loadFixture(registeredFixture);
      const a = makeAttestation(provider.address, 1, await time.latest());
      await expect(attest.attest(a, await signAttestation(other, attest, a)))
        .to.be.revertedWithCustomError(attest, "InvalidSignature")
        .withArgs(other.address, agent.address);
      await expect(attest.attest(a, await signAttestation(provider, attest, a)))
        .to.be.revertedWithCustomError(attest, "InvalidSignature")
        .withArgs(provider.address, agent.address);
    });

    it("reverts InvalidSignature for a signature over another chainId or verifyingContract", async function () {
      const { attest, registry, provider, agent } = await loadFixture(registeredFixture);
      const a = makeAttestation(provider.address, 1, await time.latest());
      const digest = await attestationDigest(attest, a);
      for (const wrong of [{ chainId: 1n }, { verifyingContract: await registry.getAddress() }, { version: "2" }]) {
        const sig = await signAttestation(agent, attest, a, wrong);
        const recovered = ethers.recoverAddress(digest, sig);
        expect(recovered).to.not.equal(agent.address);
        await expect(attest.attest(a, sig))
          .to.be.revertedWithCustomError(attest, "InvalidSignature")
          .withArgs(recovered, agent.address);
      }
    });

    it("reverts InvalidSignature when a signed field is altered", async function () {
      const { attest, provider, agent } = await loadFixture(registeredFixture);
      const a = makeAttestation(provider.address, 1, await time.latest());
      const sig = await signAttestation(agent, attest, a);
      const forged = { ...a, tokensPerSecX1000: a.tokensPerSecX1000 * 2n };
      const recovered = ethers.recoverAddress(await attestationDigest(attest, forged), sig);
      await expect(attest.attest(forged, sig))
        .to.be.revertedWithCustomError(attest, "InvalidSignature")
        .withArgs(recovered, agent.address);
    });

    it("rejects malformed and malleable signatures with OpenZeppelin's ECDSA errors", async function () {
      const { attest, provider, agent } = await loadFixture(registeredFixture);
      const a = makeAttestation(provider.address, 1, await time.latest());
      const sig = ethers.Signature.from(await signAttestation(agent, attest, a));
      await expect(attest.attest(a, ethers.dataSlice(sig.serialized, 0, 64)))
        .to.be.revertedWithCustomError(attest, "ECDSAInvalidSignatureLength")
        .withArgs(64);
      // the (r, n - s, v') twin recovers the same key but is non-canonical
      const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
      const highS = ethers.toBeHex(N - BigInt(sig.s), 32);
      const twin = ethers.concat([sig.r, highS, sig.v === 27 ? "0x1c" : "0x1b"]);
      await expect(attest.attest(a, twin))
        .to.be.revertedWithCustomError(attest, "ECDSAInvalidSignatureS")
        .withArgs(highS);
    });

    it("reverts NonceNotIncreasing on a replay and on a lower nonce", async function () {
      const { attest, provider, agent, a, sig } = await loadFixture(attestedFixture);
      await expect(attest.attest(a, sig)).to.be.revertedWithCustomError(attest, "NonceNotIncreasing").withArgs(1, 1);
      const a5 = makeAttestation(provider.address, 5, await time.latest());
      await attest.attest(a5, await signAttestation(agent, attest, a5));
      const a3 = makeAttestation(provider.address, 3, await time.latest());
      await expect(attest.attest(a3, await signAttestation(agent, attest, a3)))
        .to.be.revertedWithCustomError(attest, "NonceNotIncreasing")
        .withArgs(3, 5);
    });

    it("reverts NonceNotIncreasing for nonce 0", async function () {
      const { attest, provider, agent } = await loadFixture(registeredFixture);
      const a = makeAttestation(provider.address, 0, await time.latest());
      await expect(attest.attest(a, await signAttestation(agent, attest, a)))
        .to.be.revertedWithCustomError(attest, "NonceNotIncreasing")
        .withArgs(0, 0);
    });

    it("reverts TimestampOutOfRange outside ±maxClockSkew, accepts both edges", async function () {
      const { attest, provider, agent } = await loadFixture(registeredFixture);
      const skew = PARAMS.maxClockSkew;
      const cases = [
        { delta: -skew - 1, ok: false },
        { delta: skew + 1, ok: false },
        { delta: -skew, ok: true },
        { delta: skew, ok: true },
      ];
      let nonce = 1;
      for (const { delta, ok } of cases) {
        const t = (await time.latest()) + 10;
        const a = makeAttestation(provider.address, nonce, t + delta);
        const sig = await signAttestation(agent, attest, a);
        await time.setNextBlockTimestamp(t);
        if (ok) {
          await expect(attest.attest(a, sig)).to.emit(attest, "Attested");
          nonce++;
        } else {
          await expect(attest.attest(a, sig))
            .to.be.revertedWithCustomError(attest, "TimestampOutOfRange")
            .withArgs(t + delta, t);
        }
      }
    });

    it("a timestamp near 2^64 reverts TimestampOutOfRange, not an overflow panic", async function () {
      const { attest, provider, agent } = await loadFixture(registeredFixture);
      // UINT64_MAX - maxClockSkew + 1 is the smallest timestamp whose `+ maxClockSkew` overflows uint64
      for (const ts of [UINT64_MAX, UINT64_MAX - BigInt(PARAMS.maxClockSkew) + 1n]) {
        const a = makeAttestation(provider.address, 1, ts);
        const sig = await signAttestation(agent, attest, a);
        const t = await pinNextTimestamp();
        await expect(attest.attest(a, sig)).to.be.revertedWithCustomError(attest, "TimestampOutOfRange").withArgs(ts, t);
      }
      // attestBatch goes through the same check
      const b = await makeSignedBatch(agent, attest, provider.address, 1, UINT64_MAX, 2);
      const t = await pinNextTimestamp();
      await expect(attest.attestBatch(b.header, b.items, b.signature))
        .to.be.revertedWithCustomError(attest, "TimestampOutOfRange")
        .withArgs(UINT64_MAX, t);
      expect(await attest.lastNonce(provider.address)).to.equal(0n);
    });

    it("reverts NotRegistered for an unregistered provider", async function () {
      const { attest, registry, provider2, agent2 } = await loadFixture(registeredFixture);
      const a = makeAttestation(provider2.address, 1, await time.latest());
      await expect(attest.attest(a, await signAttestation(agent2, attest, a)))
        .to.be.revertedWithCustomError(registry, "NotRegistered")
        .withArgs(provider2.address);
    });

    it("reverts ProviderIsSlashed for a slashed provider", async function () {
      const { attest, registry, admin, provider, agent, roles } = await loadFixture(registeredFixture);
      await registry.connect(admin).grantRole(roles.SLASHER_ROLE, admin.address);
      await registry.connect(admin).slash(provider.address, 1n, admin.address);
      const a = makeAttestation(provider.address, 1, await time.latest());
      await expect(attest.attest(a, await signAttestation(agent, attest, a)))
        .to.be.revertedWithCustomError(registry, "ProviderIsSlashed")
        .withArgs(provider.address);
    });

    it("reverts StakeBelowMinimum when the active stake is below the minimum", async function () {
      const { attest, registry, provider, agent } = await loadFixture(registeredFixture);
      await registry.connect(provider).requestUnstake(ETHER + 1n);
      const a = makeAttestation(provider.address, 1, await time.latest());
      await expect(attest.attest(a, await signAttestation(agent, attest, a)))
        .to.be.revertedWithCustomError(registry, "StakeBelowMinimum")
        .withArgs(ETHER - 1n, PARAMS.minStake);
    });

    it("after a key rotation only the new agent key can attest", async function () {
      const { attest, registry, provider, agent, newAgent } = await loadFixture(registeredFixture);
      await registry.connect(provider).setAgent(newAgent.address);
      const a = makeAttestation(provider.address, 1, await time.latest());
      await expect(attest.attest(a, await signAttestation(agent, attest, a)))
        .to.be.revertedWithCustomError(attest, "InvalidSignature")
        .withArgs(agent.address, newAgent.address);
      await expect(attest.attest(a, await signAttestation(newAgent, attest, a)))
        .to.emit(attest, "Attested")
        .withArgs(...attestedArgs(a));
    });

    it("rejects calldata whose uint64 field has dirty high bits (ABI decoder)", async function () {
      const { attest, provider, agent, other } = await loadFixture(registeredFixture);
      const a = makeAttestation(provider.address, 1, await time.latest());
      const sig = await signAttestation(agent, attest, a);
      const types = [
        "tuple(address,bytes32,bytes32,bytes32,bytes32,uint256,uint64,uint64,uint64,bytes32,uint64,uint64)",
        "bytes",
      ];
      const tuple = attestedArgs(a);
      tuple[5] = a.tokensPerSecX1000 + 2n ** 64n;
      const data = ethers.concat([attest.interface.getFunction("attest").selector, abi.encode(types, [tuple, sig])]);
      await expect(other.sendTransaction({ to: await attest.getAddress(), data })).to.be.revertedWithoutReason();
    });
  });

  describe("attestBatch", function () {
    it("posts 32 items: 32 Attested events in order, then BatchAttested with the root", async function () {
      const { attest, provider, agent, other } = await loadFixture(registeredFixture);
      const ts = await time.latest();
      const b = await makeSignedBatch(agent, attest, provider.address, 1, ts, 32);
      // the contract's leaf hashing agrees with the JS one
      for (const i of [0, 13, 31]) expect(await attest.hashMeasurement(b.items[i])).to.equal(b.leaves[i]);

      const tx = await attest.connect(other).attestBatch(b.header, b.items, b.signature);
      await expect(tx).to.emit(attest, "BatchAttested").withArgs(provider.address, b.root, 32, 1, ts);
      const receipt = await tx.wait();
      const logs = receipt.logs.map((l) => attest.interface.parseLog(l));
      expect(logs.length).to.equal(33);
      for (let i = 0; i < 32; i++) {
        expect(logs[i].name).to.equal("Attested");
        expect(receipt.logs[i].topics[1]).to.equal(ethers.zeroPadValue(provider.address, 32));
        expect([...logs[i].args]).to.deep.equal([provider.address, ...measurementTuple(b.items[i]), 1n, BigInt(ts)]);
      }
      expect(logs[32].name).to.equal("BatchAttested");
      expect(await attest.lastNonce(provider.address)).to.equal(1n);
    });

    it("accepts a single item and the MAX_BATCH (256) boundary", async function () {
      const { attest, provider, agent } = await loadFixture(registeredFixture);
      const ts = await time.latest();
      const one = await makeSignedBatch(agent, attest, provider.address, 1, ts, 1);
      await expect(attest.attestBatch(one.header, one.items, one.signature))
        .to.emit(attest, "BatchAttested")
        .withArgs(provider.address, one.root, 1, 1, ts);
      const max = await makeSignedBatch(agent, attest, provider.address, 2, ts, 256);
      const receipt = await (await attest.attestBatch(max.header, max.items, max.signature)).wait();
      expect(receipt.logs.length).to.equal(257);
      expect(attest.interface.parseLog(receipt.logs[256]).args.root).to.equal(max.root);
    });

    it("shares the nonce sequence with attest", async function () {
      const { attest, provider, agent } = await loadFixture(batchFixture);
      const a = makeAttestation(provider.address, 1, await time.latest());
      await expect(attest.attest(a, await signAttestation(agent, attest, a)))
        .to.be.revertedWithCustomError(attest, "NonceNotIncreasing")
        .withArgs(1, 1);
    });

    it("reverts BatchSizeInvalid for 0 items, a count mismatch, and more than MAX_BATCH", async function () {
      const { attest, provider, agent } = await loadFixture(registeredFixture);
      const ts = await time.latest();
      const header0 = { provider: provider.address, count: 0n, nonce: 1n, timestamp: BigInt(ts) };
      await expect(attest.attestBatch(header0, [], await signBatch(agent, attest, header0, ethers.keccak256("0x"))))
        .to.be.revertedWithCustomError(attest, "BatchSizeInvalid")
        .withArgs(0);

      const b = await makeSignedBatch(agent, attest, provider.address, 1, ts, 3);
      await expect(attest.attestBatch({ ...b.header, count: 4n }, b.items, b.signature))
        .to.be.revertedWithCustomError(attest, "BatchSizeInvalid")
        .withArgs(3);
      await expect(attest.attestBatch({ ...b.header, count: 2n }, b.items, b.signature))
        .to.be.revertedWithCustomError(attest, "BatchSizeInvalid")
        .withArgs(3);

      const big = await makeSignedBatch(agent, attest, provider.address, 1, ts, 257);
      await expect(attest.attestBatch(big.header, big.items, big.signature))
        .to.be.revertedWithCustomError(attest, "BatchSizeInvalid")
        .withArgs(257);
    });

    it("reverts InvalidSignature when an item, the order or the header is tampered with after signing", async function () {
      const { attest, provider, agent } = await loadFixture(registeredFixture);
      const ts = await time.latest();
      const b = await makeSignedBatch(agent, attest, provider.address, 1, ts, 4);
      const expectForged = async (header, items) => {
        const root = rootOf(items.map((m) => leafOf(m)));
        const recovered = ethers.recoverAddress(await attest.batchDigest(header, root), b.signature);
        expect(recovered).to.not.equal(agent.address);
        await expect(attest.attestBatch(header, items, b.signature))
          .to.be.revertedWithCustomError(attest, "InvalidSignature")
          .withArgs(recovered, agent.address);
      };
      const tampered = b.items.map((m) => ({ ...m }));
      tampered[2].ttftP50Us -= 1n;
      await expectForged(b.header, tampered);
      await expectForged(b.header, [b.items[1], b.items[0], b.items[2], b.items[3]]);
      await expectForged({ ...b.header, nonce: 2n }, b.items);
      await expectForged({ ...b.header, timestamp: b.header.timestamp + 1n }, b.items);
      // and the untouched batch still goes through
      await expect(attest.attestBatch(b.header, b.items, b.signature)).to.emit(attest, "BatchAttested");
    });

    it("reverts InvalidSignature for a non-agent signer", async function () {
      const { attest, provider, agent, other } = await loadFixture(registeredFixture);
      const b = await makeSignedBatch(other, attest, provider.address, 1, await time.latest(), 2);
      await expect(attest.attestBatch(b.header, b.items, b.signature))
        .to.be.revertedWithCustomError(attest, "InvalidSignature")
        .withArgs(other.address, agent.address);
    });

    it("reverts NonceNotIncreasing, TimestampOutOfRange and the registry's activeAgent errors", async function () {
      const { attest, registry, provider, provider2, agent, agent2, b } = await loadFixture(batchFixture);
      await expect(attest.attestBatch(b.header, b.items, b.signature))
        .to.be.revertedWithCustomError(attest, "NonceNotIncreasing")
        .withArgs(1, 1);

      const t = (await time.latest()) + 10;
      const stale = await makeSignedBatch(agent, attest, provider.address, 2, t - PARAMS.maxClockSkew - 1, 2);
      await time.setNextBlockTimestamp(t);
      await expect(attest.attestBatch(stale.header, stale.items, stale.signature))
        .to.be.revertedWithCustomError(attest, "TimestampOutOfRange")
        .withArgs(t - PARAMS.maxClockSkew - 1, t);

      const unreg = await makeSignedBatch(agent2, attest, provider2.address, 1, await time.latest(), 2);
      await expect(attest.attestBatch(unreg.header, unreg.items, unreg.signature))
        .to.be.revertedWithCustomError(registry, "NotRegistered")
        .withArgs(provider2.address);

      await registry.connect(provider).requestUnstake(2n * ETHER);
      const low = await makeSignedBatch(agent, attest, provider.address, 2, await time.latest(), 2);
      await expect(attest.attestBatch(low.header, low.items, low.signature))
        .to.be.revertedWithCustomError(registry, "StakeBelowMinimum")
        .withArgs(0, PARAMS.minStake);
    });

    it("reverts MetricOutOfRange when a metric word exceeds uint64 (raw calldata), even if validly signed", async function () {
      const { attest, provider, agent, other } = await loadFixture(registeredFixture);
      const ts = await time.latest();
      const selector = attest.interface.getFunction("attestBatch").selector;
      const itemType = "tuple(bytes32,bytes32,bytes32,bytes32,uint256,uint256,uint256,uint256,bytes32)[]";
      const metrics = ["tokensPerSecX1000", "ttftP50Us", "tpotP50Us", "peakMemBytes"];
      for (let k = 0; k < metrics.length; k++) {
        const items = [0, 1, 2].map((i) => makeMeasurement(i));
        items[k % 3][metrics[k]] = 2n ** 64n + items[k % 3][metrics[k]]; // only the high bits are dirty
        // sign the root the contract would compute over the raw words
        const root = rootOf(items.map((m) => leafOf(m, "uint256")));
        const header = { provider: provider.address, count: 3n, nonce: 1n, timestamp: BigInt(ts) };
        const sig = await signBatch(agent, attest, header, root);
        const data = ethers.concat([
          selector,
          abi.encode(
            ["tuple(address,uint64,uint64,uint64)", itemType, "bytes"],
            [headerTuple(header), items.map(measurementTuple), sig],
          ),
        ]);
        await expect(other.sendTransaction({ to: await attest.getAddress(), data })).to.be.revertedWithCustomError(
          attest,
          "MetricOutOfRange",
        );
      }
      // the same raw path with in-range words is accepted (the encoding itself is sound)
      const items = [0, 1, 2].map((i) => makeMeasurement(i));
      const header = { provider: provider.address, count: 3n, nonce: 1n, timestamp: BigInt(ts) };
      const root = rootOf(items.map((m) => leafOf(m)));
      const data = ethers.concat([
        selector,
        abi.encode(
          ["tuple(address,uint64,uint64,uint64)", itemType, "bytes"],
          [headerTuple(header), items.map(measurementTuple), await signBatch(agent, attest, header, root)],
        ),
      ]);
      await expect(other.sendTransaction({ to: await attest.getAddress(), data }))
        .to.emit(attest, "BatchAttested")
        .withArgs(provider.address, root, 3, 1, ts);
    });
  });

  describe("challengeAttestation", function () {
    it("opens a challenge: stores it, returns its id, holds the bond, emits ChallengeOpened, opens a case", async function () {
      const { attest, registry, provider, challenger, a, sig, digest } = await loadFixture(attestedFixture);
      const bond = PARAMS.minChallengeBond;
      expect(
        await attest.connect(challenger).challengeAttestation.staticCall(a, sig, COUNTER, { value: bond }),
      ).to.equal(1n);
      const t = await pinNextTimestamp();
      const tx = attest.connect(challenger).challengeAttestation(a, sig, COUNTER, { value: bond });
      await expect(tx)
        .to.emit(attest, "ChallengeOpened")
        .withArgs(1, provider.address, challenger.address, digest, COUNTER, bond);
      await expect(tx).to.changeEtherBalances([challenger, attest], [-bond, bond]);
      // the challenge opens a case against the provider in the registry
      await expect(tx)
        .to.emit(registry, "CaseOpened")
        .withArgs(provider.address, 1, await attest.getAddress());
      expect((await registry.getProvider(provider.address)).openCases).to.equal(1n);
      const c = await attest.getChallenge(1);
      expect(c.challenger).to.equal(challenger.address);
      expect(c.provider).to.equal(provider.address);
      expect(c.openedAt).to.equal(t);
      expect(c.status).to.equal(STATUS.Open);
      expect(c.bond).to.equal(bond);
      expect(c.claimHash).to.equal(digest);
      expect(c.counterReportHash).to.equal(COUNTER);
      expect(await attest.challengeOf(digest)).to.equal(1n);
      expect(await attest.challengeCount()).to.equal(1n);
    });

    it("reverts BondTooSmall", async function () {
      const { attest, challenger, a, sig } = await loadFixture(attestedFixture);
      const bond = PARAMS.minChallengeBond - 1n;
      await expect(attest.connect(challenger).challengeAttestation(a, sig, COUNTER, { value: bond }))
        .to.be.revertedWithCustomError(attest, "BondTooSmall")
        .withArgs(bond, PARAMS.minChallengeBond);
    });

    it("is open up to timestamp + challengeWindow, then reverts ChallengeWindowClosed", async function () {
      const { attest, challenger, other, a, sig } = await loadFixture(attestedFixture);
      const closesAt = Number(a.timestamp) + PARAMS.attestationChallengeWindow;
      const snap = await takeSnapshot();
      await time.setNextBlockTimestamp(closesAt);
      await expect(
        attest.connect(other).challengeAttestation(a, sig, COUNTER, { value: PARAMS.minChallengeBond }),
      ).to.emit(attest, "ChallengeOpened");
      await snap.restore();
      await time.setNextBlockTimestamp(closesAt + 1);
      await expect(attest.connect(challenger).challengeAttestation(a, sig, COUNTER, { value: PARAMS.minChallengeBond }))
        .to.be.revertedWithCustomError(attest, "ChallengeWindowClosed")
        .withArgs(a.timestamp, closesAt);
    });

    it("reverts AlreadyChallenged for a second challenge of the same claim", async function () {
      const { attest, other, a, sig, digest } = await loadFixture(challengedFixture);
      await expect(attest.connect(other).challengeAttestation(a, sig, ethers.id("x"), { value: ETHER }))
        .to.be.revertedWithCustomError(attest, "AlreadyChallenged")
        .withArgs(digest, 1);
    });

    it("reverts SignerNotProviderAgent for a signature by a key not bound to the provider", async function () {
      const { attest, registry, provider2, agent2, challenger, other, a } = await loadFixture(attestedFixture);
      // an unbound key
      await expect(
        attest.connect(challenger).challengeAttestation(a, await signAttestation(other, attest, a), COUNTER, {
          value: PARAMS.minChallengeBond,
        }),
      )
        .to.be.revertedWithCustomError(attest, "SignerNotProviderAgent")
        .withArgs(other.address, a.provider);
      // another provider's agent key
      await registry.connect(provider2).register(agent2.address, HW, 1, "", { value: ETHER });
      await expect(
        attest.connect(challenger).challengeAttestation(a, await signAttestation(agent2, attest, a), COUNTER, {
          value: PARAMS.minChallengeBond,
        }),
      )
        .to.be.revertedWithCustomError(attest, "SignerNotProviderAgent")
        .withArgs(agent2.address, a.provider);
    });

    it("still works after the provider rotates its agent key, and after it is slashed", async function () {
      const { attest, registry, admin, provider, challenger, newAgent, a, sig, digest, roles } =
        await loadFixture(attestedFixture);
      await registry.connect(provider).setAgent(newAgent.address);
      await registry.connect(admin).grantRole(roles.SLASHER_ROLE, admin.address);
      await registry.connect(admin).slash(provider.address, 1n, admin.address);
      await expect(attest.connect(challenger).challengeAttestation(a, sig, COUNTER, { value: PARAMS.minChallengeBond }))
        .to.emit(attest, "ChallengeOpened")
        .withArgs(1, provider.address, challenger.address, digest, COUNTER, PARAMS.minChallengeBond);
    });

    it("a challenge against the zero address is rejected with SignerNotProviderAgent", async function () {
      // every unbound key maps to address(0) in providerOfAgent, so the zero address must be refused outright
      const { attest, agent, other, challenger } = await loadFixture(registeredFixture);
      const a = makeAttestation(ethers.ZeroAddress, 1, await time.latest());
      for (const signer of [other, agent]) {
        await expect(
          attest.connect(challenger).challengeAttestation(a, await signAttestation(signer, attest, a), COUNTER, {
            value: PARAMS.minChallengeBond,
          }),
        )
          .to.be.revertedWithCustomError(attest, "SignerNotProviderAgent")
          .withArgs(signer.address, ethers.ZeroAddress);
      }
      // the same for one item of a batch "by" the zero address
      const b = await makeSignedBatch(other, attest, ethers.ZeroAddress, 1, await time.latest(), 4);
      await expect(
        attest.connect(challenger).challengeBatchItem(b.header, b.leaves, 1, b.items[1], b.signature, COUNTER, {
          value: PARAMS.minChallengeBond,
        }),
      )
        .to.be.revertedWithCustomError(attest, "SignerNotProviderAgent")
        .withArgs(other.address, ethers.ZeroAddress);
      expect(await attest.challengeCount()).to.equal(0n);
      expect(await ethers.provider.getBalance(await attest.getAddress())).to.equal(0n);
    });
  });

  describe("challengeBatchItem", function () {
    const claimOf = (b, i) =>
      ethers.keccak256(
        abi.encode(["bytes32", "address", "uint64", "bytes32"], [b.root, b.header.provider, b.header.nonce, b.leaves[i]]),
      );

    it("opens a challenge on one leaf of a signed batch", async function () {
      const { attest, registry, admin, provider, challenger, b } = await loadFixture(batchFixture);
      const i = 5;
      const claim = claimOf(b, i);
      const t = await pinNextTimestamp();
      await expect(
        attest
          .connect(challenger)
          .challengeBatchItem(b.header, b.leaves, i, b.items[i], b.signature, COUNTER, { value: PARAMS.minChallengeBond }),
      )
        .to.emit(attest, "ChallengeOpened")
        .withArgs(1, provider.address, challenger.address, claim, COUNTER, PARAMS.minChallengeBond);
      const c = await attest.getChallenge(1);
      expect(c.challenger).to.equal(challenger.address);
      expect(c.provider).to.equal(provider.address);
      expect(c.openedAt).to.equal(t);
      expect(c.status).to.equal(STATUS.Open);
      expect(c.claimHash).to.equal(claim);
      expect(await attest.challengeOf(claim)).to.equal(1n);

      // the same leaf again: AlreadyChallenged; another leaf: a new challenge
      await expect(
        attest.connect(admin).challengeBatchItem(b.header, b.leaves, i, b.items[i], b.signature, COUNTER, { value: ETHER }),
      )
        .to.be.revertedWithCustomError(attest, "AlreadyChallenged")
        .withArgs(claim, 1);
      await expect(
        attest.connect(admin).challengeBatchItem(b.header, b.leaves, 0, b.items[0], b.signature, COUNTER, { value: ETHER }),
      )
        .to.emit(attest, "ChallengeOpened")
        .withArgs(2, provider.address, admin.address, claimOf(b, 0), COUNTER, ETHER);
      // one case per open challenge
      expect((await registry.getProvider(provider.address)).openCases).to.equal(2n);
    });

    it("reverts LeafIndexOutOfRange", async function () {
      const { attest, challenger, b } = await loadFixture(batchFixture);
      await expect(
        attest.connect(challenger).challengeBatchItem(b.header, b.leaves, 8, b.items[0], b.signature, COUNTER, {
          value: PARAMS.minChallengeBond,
        }),
      )
        .to.be.revertedWithCustomError(attest, "LeafIndexOutOfRange")
        .withArgs(8, 8);
    });

    it("reverts LeafMismatch when the item does not hash to the leaf at index", async function () {
      const { attest, challenger, b } = await loadFixture(batchFixture);
      await expect(
        attest.connect(challenger).challengeBatchItem(b.header, b.leaves, 3, b.items[4], b.signature, COUNTER, {
          value: PARAMS.minChallengeBond,
        }),
      )
        .to.be.revertedWithCustomError(attest, "LeafMismatch")
        .withArgs(b.leaves[4], b.leaves[3]);
    });

    it("reverts BatchSizeInvalid when the leaves do not match the count, or are empty", async function () {
      const { attest, challenger, b } = await loadFixture(batchFixture);
      const bond = { value: PARAMS.minChallengeBond };
      await expect(
        attest
          .connect(challenger)
          .challengeBatchItem(b.header, b.leaves.slice(0, 7), 0, b.items[0], b.signature, COUNTER, bond),
      )
        .to.be.revertedWithCustomError(attest, "BatchSizeInvalid")
        .withArgs(7);
      await expect(
        attest
          .connect(challenger)
          .challengeBatchItem({ ...b.header, count: 0n }, [], 0, b.items[0], b.signature, COUNTER, bond),
      )
        .to.be.revertedWithCustomError(attest, "BatchSizeInvalid")
        .withArgs(0);
    });

    it("reverts SignerNotProviderAgent when the leaves are not the signed batch", async function () {
      const { attest, provider, challenger, b } = await loadFixture(batchFixture);
      const leaves = [...b.leaves];
      leaves[7] = ethers.id("forged leaf");
      const recovered = ethers.recoverAddress(await attest.batchDigest(b.header, rootOf(leaves)), b.signature);
      await expect(
        attest.connect(challenger).challengeBatchItem(b.header, leaves, 0, b.items[0], b.signature, COUNTER, {
          value: PARAMS.minChallengeBond,
        }),
      )
        .to.be.revertedWithCustomError(attest, "SignerNotProviderAgent")
        .withArgs(recovered, provider.address);
    });

    it("reverts BondTooSmall and ChallengeWindowClosed", async function () {
      const { attest, challenger, b } = await loadFixture(batchFixture);
      await expect(
        attest.connect(challenger).challengeBatchItem(b.header, b.leaves, 0, b.items[0], b.signature, COUNTER, {
          value: 1n,
        }),
      )
        .to.be.revertedWithCustomError(attest, "BondTooSmall")
        .withArgs(1n, PARAMS.minChallengeBond);
      const closesAt = Number(b.header.timestamp) + PARAMS.attestationChallengeWindow;
      await time.setNextBlockTimestamp(closesAt + 1);
      await expect(
        attest.connect(challenger).challengeBatchItem(b.header, b.leaves, 0, b.items[0], b.signature, COUNTER, {
          value: PARAMS.minChallengeBond,
        }),
      )
        .to.be.revertedWithCustomError(attest, "ChallengeWindowClosed")
        .withArgs(b.header.timestamp, closesAt);
    });

    it("works with a batch signed by a since-rotated agent key", async function () {
      const { attest, registry, provider, challenger, newAgent, b } = await loadFixture(batchFixture);
      await registry.connect(provider).setAgent(newAgent.address);
      await expect(
        attest.connect(challenger).challengeBatchItem(b.header, b.leaves, 2, b.items[2], b.signature, COUNTER, {
          value: PARAMS.minChallengeBond,
        }),
      ).to.emit(attest, "ChallengeOpened");
    });
  });

  describe("resolveChallenge", function () {
    it("only ARBITER_ROLE may resolve", async function () {
      const { attest, other, roles } = await loadFixture(challengedFixture);
      await expect(attest.connect(other).resolveChallenge(1, true))
        .to.be.revertedWithCustomError(attest, "AccessControlUnauthorizedAccount")
        .withArgs(other.address, roles.ARBITER_ROLE);
    });

    it("upheld: slashes min(slashAmount, stake), refunds the bond, rewards the challenger, pays the treasury", async function () {
      const { attest, registry, arbiter, provider, challenger, treasury } = await loadFixture(challengedFixture);
      const total = PARAMS.slashAmount; // stake is 2 ETH > slashAmount
      const reward = (total * BigInt(PARAMS.challengerShareBps)) / 10_000n;
      const attestAddr = await attest.getAddress();
      const tx = attest.connect(arbiter).resolveChallenge(1, true);
      await expect(tx).to.emit(attest, "ChallengeResolved").withArgs(1, true, total, reward);
      await expect(tx).to.emit(registry, "Slashed").withArgs(provider.address, challenger.address, reward, attestAddr);
      await expect(tx)
        .to.emit(registry, "Slashed")
        .withArgs(provider.address, treasury.address, total - reward, attestAddr);
      await expect(tx).to.emit(registry, "CaseClosed").withArgs(provider.address, 0, attestAddr);
      // the bond sits in AttestationRegistry.withdrawable, the reward in ProviderRegistry.withdrawable
      expect(await attest.withdrawable(challenger.address)).to.equal(PARAMS.minChallengeBond);
      expect(await registry.withdrawable(challenger.address)).to.equal(reward);
      expect(await registry.withdrawable(treasury.address)).to.equal(total - reward);
      expect(await attest.withdrawable(provider.address)).to.equal(0n);
      const p = await registry.getProvider(provider.address);
      expect(p.stake).to.equal(2n * ETHER - total);
      expect(p.slashed).to.equal(true);
      expect(p.openCases).to.equal(0n);
      expect(await registry.isActive(provider.address)).to.equal(false);
      expect((await attest.getChallenge(1)).status).to.equal(STATUS.Upheld);
    });

    it("upheld: caps the slash at what is still slashable (active + cooling down)", async function () {
      const { attest, registry, arbiter, provider, agent, challenger, treasury } = await loadFixture(registeredFixture);
      // with no case open, the provider unstakes 1.8 ETH and gets it out after the cooldown...
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake((18n * ETHER) / 10n);
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await registry.connect(provider).completeUnstake();
      // ...then moves half of the remaining 0.2 ETH into cooldown: 0.1 active + 0.1 pending stay slashable
      await registry.connect(provider).requestUnstake(ETHER / 10n);
      // A claim its agent key signs now. Below minStake it cannot be posted (attest reverts), but the
      // signature alone is what challengeAttestation checks. (The attestation challenge window, 3 days,
      // is shorter than the unstake cooldown, 7 days, so a posted claim could not outlive a completed unstake.)
      const a = makeAttestation(provider.address, 1, await time.latest());
      const sig = await signAttestation(agent, attest, a);
      await expect(attest.attest(a, sig))
        .to.be.revertedWithCustomError(registry, "StakeBelowMinimum")
        .withArgs(ETHER / 10n, PARAMS.minStake);
      await attest.connect(challenger).challengeAttestation(a, sig, COUNTER, { value: PARAMS.minChallengeBond });

      const total = (2n * ETHER) / 10n;
      const reward = total / 2n;
      await expect(attest.connect(arbiter).resolveChallenge(1, true))
        .to.emit(attest, "ChallengeResolved")
        .withArgs(1, true, total, reward);
      const p = await registry.getProvider(provider.address);
      expect(p.stake).to.equal(0n);
      expect(p.pendingUnstake).to.equal(0n);
      expect(await registry.slashableStake(provider.address)).to.equal(0n);
      expect(await registry.withdrawable(challenger.address)).to.equal(reward);
      expect(await registry.withdrawable(treasury.address)).to.equal(total - reward);
      // what completed the cooldown before the challenge was opened is out of reach
      expect(await registry.withdrawable(provider.address)).to.equal((18n * ETHER) / 10n);
    });

    it("an open challenge blocks completeUnstake (CasesPending); upheld, the slash reaches the blocked stake", async function () {
      const { attest, registry, arbiter, provider, challenger, treasury } = await loadFixture(challengedFixture);
      // the provider tries to unstake its way out of the ruling
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake((18n * ETHER) / 10n); // 0.2 active, 1.8 pending
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await expect(registry.connect(provider).completeUnstake())
        .to.be.revertedWithCustomError(registry, "CasesPending")
        .withArgs(1);
      // the ruling closes the case and slashes 0.5: all 0.2 active, then 0.3 of the pending stake
      const tx = attest.connect(arbiter).resolveChallenge(1, true);
      await expect(tx)
        .to.emit(attest, "ChallengeResolved")
        .withArgs(1, true, PARAMS.slashAmount, PARAMS.slashAmount / 2n);
      await expect(tx)
        .to.emit(registry, "CaseClosed")
        .withArgs(provider.address, 0, await attest.getAddress());
      const left = 2n * ETHER - PARAMS.slashAmount;
      let p = await registry.getProvider(provider.address);
      expect(p.stake).to.equal(0n);
      expect(p.pendingUnstake).to.equal(left);
      expect(p.openCases).to.equal(0n);
      expect(await registry.withdrawable(challenger.address)).to.equal(PARAMS.slashAmount / 2n);
      expect(await registry.withdrawable(treasury.address)).to.equal(PARAMS.slashAmount / 2n);
      // now the rest can be unstaked
      await expect(registry.connect(provider).completeUnstake())
        .to.emit(registry, "UnstakeCompleted")
        .withArgs(provider.address, left);
      p = await registry.getProvider(provider.address);
      expect(p.pendingUnstake).to.equal(0n);
      expect(await registry.withdrawable(provider.address)).to.equal(left);
    });

    it("an open challenge blocks completeUnstake; rejected, the provider unstakes everything it asked for", async function () {
      const { attest, registry, arbiter, provider } = await loadFixture(challengedFixture);
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake((18n * ETHER) / 10n);
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await expect(registry.connect(provider).completeUnstake())
        .to.be.revertedWithCustomError(registry, "CasesPending")
        .withArgs(1);
      await attest.connect(arbiter).resolveChallenge(1, false);
      await expect(registry.connect(provider).completeUnstake())
        .to.emit(registry, "UnstakeCompleted")
        .withArgs(provider.address, (18n * ETHER) / 10n);
      expect(await registry.withdrawable(provider.address)).to.equal((18n * ETHER) / 10n);
      expect(await attest.withdrawable(provider.address)).to.equal(PARAMS.minChallengeBond);
    });

    it("every open challenge counts: the unstake waits for the last ruling", async function () {
      const { attest, registry, arbiter, provider, challenger, other, b } = await loadFixture(batchFixture);
      for (const [i, who] of [
        [0, challenger],
        [1, other],
      ]) {
        await attest
          .connect(who)
          .challengeBatchItem(b.header, b.leaves, i, b.items[i], b.signature, COUNTER, { value: PARAMS.minChallengeBond });
      }
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(ETHER);
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await expect(registry.connect(provider).completeUnstake())
        .to.be.revertedWithCustomError(registry, "CasesPending")
        .withArgs(2);
      await expect(attest.connect(arbiter).resolveChallenge(2, false))
        .to.emit(registry, "CaseClosed")
        .withArgs(provider.address, 1, await attest.getAddress());
      await expect(registry.connect(provider).completeUnstake())
        .to.be.revertedWithCustomError(registry, "CasesPending")
        .withArgs(1);
      await attest.connect(arbiter).resolveChallenge(1, false);
      await expect(registry.connect(provider).completeUnstake())
        .to.emit(registry, "UnstakeCompleted")
        .withArgs(provider.address, ETHER);
    });

    it("upheld: reaches stake still in cooldown", async function () {
      const { attest, registry, arbiter, provider } = await loadFixture(challengedFixture);
      await registry.connect(provider).requestUnstake((19n * ETHER) / 10n); // 0.1 active, 1.9 pending
      await expect(attest.connect(arbiter).resolveChallenge(1, true))
        .to.emit(attest, "ChallengeResolved")
        .withArgs(1, true, PARAMS.slashAmount, PARAMS.slashAmount / 2n);
      const p = await registry.getProvider(provider.address);
      expect(p.stake).to.equal(0n);
      expect(p.pendingUnstake).to.equal((19n * ETHER) / 10n - (PARAMS.slashAmount - ETHER / 10n));
    });

    it("rejected: the bond goes to the provider, nothing is slashed", async function () {
      const { attest, registry, arbiter, provider, challenger } = await loadFixture(challengedFixture);
      const tx = attest.connect(arbiter).resolveChallenge(1, false);
      await expect(tx).to.emit(attest, "ChallengeResolved").withArgs(1, false, 0, 0);
      await expect(tx).to.not.emit(registry, "Slashed");
      await expect(tx)
        .to.emit(registry, "CaseClosed")
        .withArgs(provider.address, 0, await attest.getAddress());
      expect((await registry.getProvider(provider.address)).openCases).to.equal(0n);
      expect(await attest.withdrawable(provider.address)).to.equal(PARAMS.minChallengeBond);
      expect(await attest.withdrawable(challenger.address)).to.equal(0n);
      expect((await attest.getChallenge(1)).status).to.equal(STATUS.Rejected);
      expect(await registry.isActive(provider.address)).to.equal(true);
      expect(await registry.slashableStake(provider.address)).to.equal(2n * ETHER);
    });

    it("reverts ChallengeNotOpen on a second resolve and for unknown ids", async function () {
      const { attest, arbiter } = await loadFixture(challengedFixture);
      await attest.connect(arbiter).resolveChallenge(1, false);
      for (const [id, upheld] of [
        [1, false],
        [1, true],
        [0, true],
        [2, false],
      ]) {
        await expect(attest.connect(arbiter).resolveChallenge(id, upheld))
          .to.be.revertedWithCustomError(attest, "ChallengeNotOpen")
          .withArgs(id);
      }
    });

    it("a second upheld challenge against an already slashed provider slashes again", async function () {
      const { attest, registry, arbiter, provider, challenger, other, b } = await loadFixture(batchFixture);
      for (const [i, who] of [
        [0, challenger],
        [1, other],
      ]) {
        await attest
          .connect(who)
          .challengeBatchItem(b.header, b.leaves, i, b.items[i], b.signature, COUNTER, { value: PARAMS.minChallengeBond });
      }
      expect((await registry.getProvider(provider.address)).openCases).to.equal(2n);
      await attest.connect(arbiter).resolveChallenge(1, true);
      expect((await registry.getProvider(provider.address)).openCases).to.equal(1n);
      await expect(attest.connect(arbiter).resolveChallenge(2, true))
        .to.emit(attest, "ChallengeResolved")
        .withArgs(2, true, PARAMS.slashAmount, PARAMS.slashAmount / 2n);
      expect((await registry.getProvider(provider.address)).openCases).to.equal(0n);
      expect(await registry.slashableStake(provider.address)).to.equal(2n * ETHER - 2n * PARAMS.slashAmount);
      expect(await registry.withdrawable(other.address)).to.equal(PARAMS.slashAmount / 2n);
    });
  });

  describe("withdraw", function () {
    it("reverts NothingToWithdraw", async function () {
      const { attest, other } = await loadFixture(challengedFixture);
      await expect(attest.connect(other).withdraw())
        .to.be.revertedWithCustomError(attest, "NothingToWithdraw")
        .withArgs(other.address);
    });

    it("pays the challenger its bond after an upheld challenge (and the registry pays the reward)", async function () {
      const { attest, registry, arbiter, challenger } = await loadFixture(challengedFixture);
      await attest.connect(arbiter).resolveChallenge(1, true);
      const bond = PARAMS.minChallengeBond;
      const tx = attest.connect(challenger).withdraw();
      await expect(tx).to.emit(attest, "Withdrawn").withArgs(challenger.address, bond);
      await expect(tx).to.changeEtherBalances([challenger, attest], [bond, -bond]);
      expect(await attest.withdrawable(challenger.address)).to.equal(0n);
      const reward = PARAMS.slashAmount / 2n;
      await expect(registry.connect(challenger).withdraw()).to.changeEtherBalances(
        [challenger, registry],
        [reward, -reward],
      );
    });

    it("pays the provider the bond of a rejected challenge, exactly once", async function () {
      const { attest, arbiter, provider } = await loadFixture(challengedFixture);
      await attest.connect(arbiter).resolveChallenge(1, false);
      const before = await ethers.provider.getBalance(provider.address);
      const tx = await attest.connect(provider).withdraw();
      const after = await ethers.provider.getBalance(provider.address);
      expect(after - before + (await gasCost(tx))).to.equal(PARAMS.minChallengeBond);
      expect(await ethers.provider.getBalance(await attest.getAddress())).to.equal(0n);
      await expect(attest.connect(provider).withdraw()).to.be.revertedWithCustomError(attest, "NothingToWithdraw");
    });

    it("reverts TransferFailed when the receiver rejects ETH", async function () {
      // a contract with no receive/fallback (JobMarket) acts as challenger
      const { attest, market, arbiter, a, sig } = await loadFixture(attestedFixture);
      const marketAddr = await market.getAddress();
      const asMarket = await impersonate(marketAddr);
      await attest.connect(asMarket).challengeAttestation(a, sig, COUNTER, { value: PARAMS.minChallengeBond });
      await attest.connect(arbiter).resolveChallenge(1, true);
      await expect(attest.connect(asMarket).withdraw())
        .to.be.revertedWithCustomError(attest, "TransferFailed")
        .withArgs(marketAddr, PARAMS.minChallengeBond);
    });

    it("balance == open bonds + withdrawables throughout", async function () {
      const { attest, arbiter, provider, challenger, other, b } = await loadFixture(batchFixture);
      const accounts = [provider.address, challenger.address, other.address];
      const check = async () => {
        let sum = 0n;
        for (let id = 1n; id <= (await attest.challengeCount()); id++) {
          const c = await attest.getChallenge(id);
          if (c.status === STATUS.Open) sum += c.bond;
        }
        for (const acc of accounts) sum += await attest.withdrawable(acc);
        expect(await ethers.provider.getBalance(await attest.getAddress())).to.equal(sum);
      };
      const bonds = [PARAMS.minChallengeBond, ETHER, 3n * PARAMS.minChallengeBond];
      for (const i of [0, 1, 2]) {
        await attest
          .connect(i === 1 ? other : challenger)
          .challengeBatchItem(b.header, b.leaves, i, b.items[i], b.signature, COUNTER, { value: bonds[i] });
        await check();
      }
      await attest.connect(arbiter).resolveChallenge(2, false);
      await check();
      await attest.connect(arbiter).resolveChallenge(1, true);
      await check();
      await attest.connect(provider).withdraw();
      await check();
      await attest.connect(arbiter).resolveChallenge(3, true);
      await check();
      await attest.connect(challenger).withdraw();
      await check();
      expect(await ethers.provider.getBalance(await attest.getAddress())).to.equal(0n);
    });
  });
});
