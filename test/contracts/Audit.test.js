// Regression tests for the audit findings of issue 9. Each test performs the attack that worked
// on the old contracts and checks that it now fails (reverts, or has no effect).
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture, time } = require("@nomicfoundation/hardhat-network-helpers");
const {
  ETHER,
  DAY,
  PARAMS,
  HW,
  HW2,
  makeMeasurement,
  makeAttestation,
  leafOf,
  rootOf,
  signAttestation,
  signBatch,
  signBinding,
  makeSignedBatch,
  attestationDigest,
  registeredFixture,
  deployFixture,
  registerProvider,
  rotateAgent,
  deployMarket,
  impersonate,
  pinNextTimestamp,
  acceptOffer,
} = require("./fixtures");

const COUNTER = ethers.id("counter-report");
const SPEC = ethers.id("spec");
const MODEL = ethers.id("model");
const WORKLOAD = ethers.id("workload");
const METHOD = ethers.id("method");
const RESULT = ethers.id("result");
const MAX_RUNTIME = 3600;
const PRICE = (6n * ETHER) / 10n;
const BOND = PARAMS.minDisputeBond;
const STATUS = { Open: 1n, Upheld: 2n, Rejected: 3n, Expired: 4n };

async function postAttestation(f, nonce = 1, i = 0) {
  const a = makeAttestation(f.provider.address, nonce, await time.latest(), i);
  await f.attest.attest(a, await signAttestation(f.agent, f.attest, a));
  return a;
}

async function attestedFixture() {
  const f = await registeredFixture();
  return { ...f, a: await postAttestation(f) };
}

async function createJob(f, { escrow = ETHER, allowed = ethers.ZeroAddress, deadline } = {}) {
  const dl = deadline ?? (await time.latest()) + DAY;
  await f.market.connect(f.client).createJob(SPEC, MODEL, WORKLOAD, MAX_RUNTIME, allowed, dl, { value: escrow });
  return { jobId: await f.market.jobCount(), deadline: dl };
}

/** A job accepted by `provider` at PRICE (collateral PRICE locked). */
async function acceptedFixture() {
  const f = await registeredFixture();
  const { jobId, deadline } = await createJob(f);
  await f.market.connect(f.matcher).assignJob(jobId, f.provider.address, HW, METHOD, PRICE);
  await acceptOffer(f.market.connect(f.agent), jobId);
  return { ...f, jobId, deadline };
}

async function disputedFixture() {
  const f = await acceptedFixture();
  await f.market.connect(f.agent).submitResult(f.jobId, RESULT);
  await f.market.connect(f.client).dispute(f.jobId, { value: BOND });
  return { ...f, disputedAt: await time.latest() };
}

describe("Audit findings (issue 9)", function () {
  describe("1. rotated-out agent keys", function () {
    it("a rotated-out (leaked) agent key can neither post nor get a claim it signs challenged", async function () {
      const { attest, registry, provider, agent, newAgent, challenger } = await loadFixture(registeredFixture);
      await rotateAgent(registry, provider, newAgent);
      expect((await registry.agentKey(agent.address)).revokedAt).to.equal(await time.latest());
      // the attacker holds the old key: a fresh false claim...
      const forged = makeAttestation(provider.address, 1, await time.latest(), 0, {
        measurement: { tokensPerSecX1000: 1n },
      });
      const sig = await signAttestation(agent, attest, forged);
      // ...cannot be posted (only the current key posts)...
      await expect(attest.attest(forged, sig))
        .to.be.revertedWithCustomError(attest, "InvalidSignature")
        .withArgs(agent.address, newAgent.address);
      // ...and cannot be challenged, so the slash the attacker wanted to share never happens
      await expect(attest.connect(challenger).challengeAttestation(forged, COUNTER, { value: PARAMS.minChallengeBond }))
        .to.be.revertedWithCustomError(attest, "ClaimNotPosted")
        .withArgs(await attestationDigest(attest, forged));
      expect(await registry.slashableStake(provider.address)).to.equal(2n * ETHER);
      expect(await attest.challengeCount()).to.equal(0n);
    });

    it("what the old key posted while it was current stays challengeable after the rotation", async function () {
      const { attest, registry, provider, newAgent, challenger, a } = await loadFixture(attestedFixture);
      await rotateAgent(registry, provider, newAgent);
      await expect(
        attest.connect(challenger).challengeAttestation(a, COUNTER, { value: PARAMS.minChallengeBond }),
      ).to.emit(attest, "ChallengeOpened");
    });
  });

  describe("2. unposted claims", function () {
    it("a signed attestation that was never posted cannot be challenged", async function () {
      const { attest, provider, agent, challenger } = await loadFixture(registeredFixture);
      const a = makeAttestation(provider.address, 1, await time.latest());
      await signAttestation(agent, attest, a);
      await expect(attest.connect(challenger).challengeAttestation(a, COUNTER, { value: PARAMS.minChallengeBond }))
        .to.be.revertedWithCustomError(attest, "ClaimNotPosted")
        .withArgs(await attestationDigest(attest, a));
    });

    it("a claim made stale by a later nonce can neither be posted nor challenged", async function () {
      const f = await loadFixture(registeredFixture);
      const { attest, registry, provider, agent, challenger } = f;
      const stale = makeAttestation(provider.address, 1, await time.latest(), 1);
      const staleSig = await signAttestation(agent, attest, stale);
      await postAttestation(f, 2, 2);
      await expect(attest.attest(stale, staleSig))
        .to.be.revertedWithCustomError(registry, "NonceNotIncreasing")
        .withArgs(1, 2);
      await expect(
        attest.connect(challenger).challengeAttestation(stale, COUNTER, { value: PARAMS.minChallengeBond }),
      ).to.be.revertedWithCustomError(attest, "ClaimNotPosted");
    });

    it("an item of a batch that was never posted (or could never be, above MAX_BATCH) cannot be challenged", async function () {
      const { attest, provider, agent, challenger } = await loadFixture(registeredFixture);
      for (const n of [4, 257]) {
        const b = await makeSignedBatch(agent, attest, provider.address, 1, await time.latest(), n);
        if (n > 256) {
          await expect(attest.attestBatch(b.header, b.items, b.signature))
            .to.be.revertedWithCustomError(attest, "BatchSizeInvalid")
            .withArgs(n);
        }
        await expect(
          attest.connect(challenger).challengeBatchItem(b.header, b.leaves, 1, b.items[1], COUNTER, {
            value: PARAMS.minChallengeBond,
          }),
        )
          .to.be.revertedWithCustomError(attest, "ClaimNotPosted")
          .withArgs(await attest.batchDigest(b.header, b.root));
      }
    });
  });

  describe("3. agent keys bound without consent", function () {
    it("an attacker can bind someone else's key neither without its signature nor by front-running its consent", async function () {
      const { registry, provider: victim, agent: victimKey, other: attacker } = await loadFixture(deployFixture);
      const deadline = (await time.latest()) + DAY;
      // no consent at all
      await expect(
        registry.connect(attacker).register(HW, 1, "", victimKey.address, deadline, "0x", { value: ETHER }),
      ).to.be.revertedWithCustomError(registry, "ECDSAInvalidSignatureLength");
      // a consent the attacker forged with its own key
      const forged = await signBinding(attacker, registry, attacker.address, deadline);
      await expect(
        registry.connect(attacker).register(HW, 1, "", victimKey.address, deadline, forged, { value: ETHER }),
      ).to.be.revertedWithCustomError(registry, "InvalidAgentConsent");
      // the victim's real consent, copied from the mempool: it names the victim as provider
      const consent = await signBinding(victimKey, registry, victim.address, deadline);
      await expect(
        registry.connect(attacker).register(HW, 1, "", victimKey.address, deadline, consent, { value: ETHER }),
      ).to.be.revertedWithCustomError(registry, "InvalidAgentConsent");
      // same through setAgent once the attacker is registered with its own key
      await registry.connect(attacker).register(HW, 1, "", attacker.address, 0, "0x", { value: ETHER });
      await expect(
        registry.connect(attacker).setAgent(victimKey.address, deadline, consent),
      ).to.be.revertedWithCustomError(registry, "InvalidAgentConsent");
      // the key is still free: its owner registers with it
      await expect(registry.connect(victim).register(HW, 1, "", victimKey.address, deadline, consent, { value: ETHER }))
        .to.emit(registry, "ProviderRegistered")
        .withArgs(victim.address, victimKey.address, ETHER, "");
    });

    it("a consent cannot be used after its deadline", async function () {
      const { registry, provider, agent } = await loadFixture(deployFixture);
      const deadline = (await time.latest()) + 60;
      const consent = await signBinding(agent, registry, provider.address, deadline);
      await time.setNextBlockTimestamp(deadline + 1);
      await expect(registry.connect(provider).register(HW, 1, "", agent.address, deadline, consent, { value: ETHER }))
        .to.be.revertedWithCustomError(registry, "ConsentExpired")
        .withArgs(deadline, deadline + 1);
    });
  });

  describe("4. free disputes freezing a provider", function () {
    it("a dispute without a bond is refused", async function () {
      const f = await loadFixture(acceptedFixture);
      await f.market.connect(f.agent).submitResult(f.jobId, RESULT);
      await expect(f.market.connect(f.client).dispute(f.jobId))
        .to.be.revertedWithCustomError(f.market, "BondTooSmall")
        .withArgs(0, BOND);
    });

    it("an unanswered dispute ends at its deadline with the default ruling: the job is paid out", async function () {
      const { market, registry, provider, client, other, jobId, disputedAt } = await loadFixture(disputedFixture);
      // the arbiter never rules; years later is no longer needed: the deadline is disputedAt + rulingPeriod
      const deadline = disputedAt + PARAMS.disputeRulingPeriod;
      await time.setNextBlockTimestamp(deadline + 1);
      await expect(market.connect(other).settleExpiredDispute(jobId)).to.emit(market, "DisputeExpired").withArgs(jobId);
      const fee = (PRICE * BigInt(PARAMS.protocolFeeBps) + 9_999n) / 10_000n;
      expect(await market.withdrawable(provider.address)).to.equal(PRICE - fee);
      expect(await market.withdrawable(client.address)).to.equal(ETHER - PRICE + BOND);
      expect(await registry.lockedStake(provider.address)).to.equal(0n);
    });

    it("an open dispute locks only the job's collateral: the rest of the stake can be unstaked meanwhile", async function () {
      const { registry, provider } = await loadFixture(disputedFixture);
      expect(await registry.lockedStake(provider.address)).to.equal(PRICE);
      const t = await pinNextTimestamp();
      await expect(registry.connect(provider).requestUnstake(2n * ETHER - PRICE))
        .to.emit(registry, "UnstakeRequested")
        .withArgs(provider.address, 2n * ETHER - PRICE, t + PARAMS.unstakeCooldown);
    });
  });

  describe("5. challenges against true attestations", function () {
    it("an unanswered challenge ends at its deadline: bonds come back, the lock is released, unstaking was never blocked", async function () {
      const { attest, registry, provider, challenger, a } = await loadFixture(attestedFixture);
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(ETHER);
      await attest.connect(challenger).challengeAttestation(a, COUNTER, { value: PARAMS.minChallengeBond });
      const openedAt = await time.latest();
      // while the case is open, everything but the at-risk amount (and the window's reserve) leaves
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await expect(registry.connect(provider).completeUnstake())
        .to.emit(registry, "UnstakeCompleted")
        .withArgs(provider.address, ETHER, 0);
      expect((await attest.getChallenge(1)).status).to.equal(STATUS.Open);
      // the arbiter never rules: the default ruling rejects the challenge and returns the bond
      await time.setNextBlockTimestamp(openedAt + PARAMS.attestationRulingPeriod + 1);
      await expect(attest.settleExpiredChallenge(1))
        .to.emit(attest, "ChallengeResolved")
        .withArgs(1, STATUS.Expired, 0, 0);
      await attest.settleChallenger(1, challenger.address);
      expect(await attest.withdrawable(challenger.address)).to.equal(PARAMS.minChallengeBond);
      expect(await registry.lockedStake(provider.address)).to.equal(0n);
      expect(await registry.slashableStake(provider.address)).to.equal(ETHER);
    });
  });

  describe("6. first challenger takes all", function () {
    it("a front-running sock puppet only joins the case: the honest challenger still gets its share, the provider its full slash", async function () {
      const { attest, registry, arbiter, provider, challenger, other: puppet, treasury, a } =
        await loadFixture(attestedFixture);
      await attest.connect(puppet).challengeAttestation(a, ethers.id("junk"), { value: PARAMS.minChallengeBond });
      await expect(attest.connect(challenger).challengeAttestation(a, COUNTER, { value: PARAMS.minChallengeBond }))
        .to.emit(attest, "ChallengerJoined")
        .withArgs(1, challenger.address, PARAMS.minChallengeBond, 2n * PARAMS.minChallengeBond, COUNTER);
      await attest.connect(arbiter).resolveChallenge(1, true);
      await attest.settleChallenger(1, challenger.address);
      const reward = PARAMS.attestationSlash / 2n;
      expect(await attest.withdrawable(challenger.address)).to.equal(PARAMS.minChallengeBond + reward / 2n);
      expect(await attest.withdrawable(treasury.address)).to.equal(PARAMS.attestationSlash - reward);
      expect(await registry.slashableStake(provider.address)).to.equal(2n * ETHER - PARAMS.attestationSlash);
    });

    it("a rejected challenge does not lock the claim: a later challenger opens a new case", async function () {
      const { attest, arbiter, challenger, other: puppet, a } = await loadFixture(attestedFixture);
      await attest.connect(puppet).challengeAttestation(a, ethers.id("junk"), { value: PARAMS.minChallengeBond });
      await attest.connect(arbiter).resolveChallenge(1, false);
      await expect(attest.connect(challenger).challengeAttestation(a, COUNTER, { value: PARAMS.minChallengeBond }))
        .to.emit(attest, "ChallengeOpened");
      await expect(attest.connect(arbiter).resolveChallenge(2, true))
        .to.emit(attest, "ChallengeResolved")
        .withArgs(2, STATUS.Upheld, PARAMS.attestationSlash, PARAMS.attestationSlash / 2n);
      // once upheld, a claim is final
      await expect(attest.connect(puppet).challengeAttestation(a, COUNTER, { value: PARAMS.minChallengeBond }))
        .to.be.revertedWithCustomError(attest, "ClaimAlreadyUpheld")
        .withArgs(await attestationDigest(attest, a), 2);
    });
  });

  describe("7. any slasher closing any case", function () {
    it("a case is closed only by the contract that opened it: the provider cannot escape a dispute, the escrow is not stuck", async function () {
      const { market, attest, registry, arbiter, provider, client, jobId } = await loadFixture(disputedFixture);
      // the other slashing contract (here: the attestation registry's address) tries to close the dispute's lock
      const asAttest = await impersonate(await attest.getAddress());
      await expect(registry.connect(asAttest).releaseLock(1))
        .to.be.revertedWithCustomError(registry, "NotLockOwner")
        .withArgs(1, asAttest.address);
      await expect(registry.connect(asAttest).slashLock(1, 0))
        .to.be.revertedWithCustomError(registry, "NotLockOwner")
        .withArgs(1, asAttest.address);
      // the collateral stays locked, so the provider cannot unstake it
      await expect(registry.connect(provider).requestUnstake(2n * ETHER))
        .to.be.revertedWithCustomError(registry, "InsufficientStake")
        .withArgs(2n * ETHER, 2n * ETHER - PRICE);
      // and the real ruling still goes through
      await expect(market.connect(arbiter).resolveDispute(jobId, true)).to.emit(market, "DisputeResolved");
      expect(await market.withdrawable(client.address)).to.be.gt(ETHER);
    });
  });

  describe("8. the admin taking every stake", function () {
    it("the admin cannot make itself a slasher, lock or slash stake, or rewire the markets", async function () {
      const { registry, admin, provider } = await loadFixture(registeredFixture);
      // granting itself the old role name does nothing: there is no slasher role
      await registry.connect(admin).grantRole(ethers.id("SLASHER_ROLE"), admin.address);
      await expect(registry.connect(admin).lockStake(provider.address, 2n * ETHER, true))
        .to.be.revertedWithCustomError(registry, "NotMarketContract")
        .withArgs(admin.address);
      await expect(registry.connect(admin).slashLock(1, 2n * ETHER))
        .to.be.revertedWithCustomError(registry, "NotLockOwner")
        .withArgs(1, admin.address);
      await expect(registry.connect(admin).connectMarkets(admin.address, provider.address)).to.be.revertedWithCustomError(
        registry,
        "AlreadyConnected",
      );
      expect(await registry.slashableStake(provider.address)).to.equal(2n * ETHER);
    });

    it("handing over the admin role is two-step and waits the delay", async function () {
      const { registry, admin, other } = await loadFixture(deployFixture);
      await expect(registry.connect(admin).grantRole(await registry.DEFAULT_ADMIN_ROLE(), other.address))
        .to.be.revertedWithCustomError(registry, "AccessControlEnforcedDefaultAdminRules");
      await registry.connect(admin).beginDefaultAdminTransfer(other.address);
      await expect(registry.connect(other).acceptDefaultAdminTransfer()).to.be.revertedWithCustomError(
        registry,
        "AccessControlEnforcedDefaultAdminDelay",
      );
      expect(await registry.defaultAdmin()).to.equal(admin.address);
    });

    it("a pause stops new business but never exits: withdrawals, unstaking, disputes and rulings go on", async function () {
      const f = await loadFixture(acceptedFixture);
      const { market, registry, admin, arbiter, provider, agent, client, jobId } = f;
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(ETHER);
      await registry.connect(admin).pause();
      await expect(createJob(f)).to.be.revertedWithCustomError(market, "EnforcedPause");
      await market.connect(agent).submitResult(jobId, RESULT);
      await market.connect(client).dispute(jobId, { value: BOND });
      await market.connect(arbiter).resolveDispute(jobId, false);
      await market.connect(provider).withdraw();
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await registry.connect(provider).completeUnstake();
      await expect(registry.connect(provider).withdraw()).to.emit(registry, "Withdrawn");
    });
  });

  describe("9. stake not tied to exposure", function () {
    it("a provider holding an accepted job cannot unstake its collateral; delivering garbage costs it", async function () {
      const f = await loadFixture(registeredFixture);
      const { market, registry, matcher, arbiter, provider, agent, client } = f;
      const { jobId } = await createJob(f, { deadline: (await time.latest()) + 30 * DAY });
      await market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, PRICE);
      await acceptOffer(market.connect(agent), jobId);
      await expect(registry.connect(provider).requestUnstake(2n * ETHER))
        .to.be.revertedWithCustomError(registry, "InsufficientStake")
        .withArgs(2n * ETHER, 2n * ETHER - PRICE);
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(2n * ETHER - PRICE);
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown - 2 * 3600);
      await market.connect(agent).submitResult(jobId, ethers.id("garbage"));
      await market.connect(client).dispute(jobId, { value: BOND });
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await registry.connect(provider).completeUnstake();
      await registry.connect(provider).withdraw();
      await expect(market.connect(arbiter).resolveDispute(jobId, true))
        .to.emit(market, "DisputeResolved")
        .withArgs(jobId, true, PRICE, PRICE / 2n);
    });

    it("a provider with a posted attestation keeps attestationSlash staked until its window closes", async function () {
      const { registry, provider } = await loadFixture(attestedFixture);
      await expect(registry.connect(provider).requestUnstake(2n * ETHER))
        .to.be.revertedWithCustomError(registry, "InsufficientStake")
        .withArgs(2n * ETHER, 2n * ETHER - PARAMS.attestationSlash);
      await time.increase(PARAMS.attestationChallengeWindow);
      await expect(registry.connect(provider).requestUnstake(2n * ETHER)).to.emit(registry, "UnstakeRequested");
    });
  });

  describe("10. the matcher setting any price", function () {
    it("a price above the provider's rate × the job's max runtime is refused", async function () {
      const f = await loadFixture(registeredFixture);
      const { market, registry, matcher, provider } = f;
      await registry.connect(provider).setPrice(HW, 100n); // 100 wei/s × 3600 s = 360000 wei
      const { jobId } = await createJob(f);
      await expect(market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, ETHER))
        .to.be.revertedWithCustomError(market, "PriceAboveProviderRate")
        .withArgs(ETHER, 360_000n);
    });

    it("the client's maximum price (its escrow) and its allowed provider bind the matcher", async function () {
      const f = await loadFixture(registeredFixture);
      const { market, registry, matcher, provider, provider2, agent2 } = f;
      await registerProvider(registry, provider2, agent2);
      const { jobId } = await createJob(f, { escrow: PRICE, allowed: provider.address });
      await expect(market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, PRICE + 1n))
        .to.be.revertedWithCustomError(market, "PriceExceedsEscrow")
        .withArgs(PRICE + 1n, PRICE);
      await expect(market.connect(matcher).assignJob(jobId, provider2.address, HW, METHOD, PRICE))
        .to.be.revertedWithCustomError(market, "ProviderNotAllowed")
        .withArgs(provider2.address, provider.address);
    });

    it("an assignment binds nobody until the provider accepts it", async function () {
      const f = await loadFixture(registeredFixture);
      const { market, matcher, provider, agent, client } = f;
      const { jobId } = await createJob(f);
      await market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, PRICE);
      await expect(market.connect(agent).submitResult(jobId, RESULT))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, 2n, 3n);
      await expect(market.connect(client).cancelJob(jobId)).to.emit(market, "JobCancelled");
    });
  });

  describe("11. assigned jobs and non-delivery", function () {
    it("a job offered but not accepted can be cancelled at once", async function () {
      const f = await loadFixture(registeredFixture);
      const { market, matcher, provider, client } = f;
      const { jobId } = await createJob(f, { deadline: (await time.latest()) + 365 * DAY });
      await market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, PRICE);
      await expect(market.connect(client).cancelJob(jobId))
        .to.emit(market, "JobCancelled")
        .withArgs(jobId, client.address, ETHER);
    });

    it("an accepted job not delivered by the deadline refunds the client and slashes the provider", async function () {
      const { market, registry, provider, client, jobId, deadline } = await loadFixture(acceptedFixture);
      await time.setNextBlockTimestamp(deadline + 1);
      await expect(market.refund(jobId))
        .to.emit(market, "NonDelivery")
        .withArgs(jobId, provider.address, PRICE, PRICE / 2n);
      expect(await market.withdrawable(client.address)).to.equal(ETHER + PRICE / 2n);
      expect(await registry.slashableStake(provider.address)).to.equal(2n * ETHER - PRICE);
    });
  });

  describe("12. disputes paying the client escrow plus the price", function () {
    it("a won dispute pays back escrow and bond plus a defined compensation out of the slash; nothing is created", async function () {
      const { market, registry, arbiter, client, treasury, jobId } = await loadFixture(disputedFixture);
      const before = (await ethers.provider.getBalance(await market.getAddress())) + (await ethers.provider.getBalance(await registry.getAddress()));
      await market.connect(arbiter).resolveDispute(jobId, true);
      const comp = (PRICE * BigInt(PARAMS.clientCompensationBps)) / 10_000n;
      expect(await market.withdrawable(client.address)).to.equal(ETHER + BOND + comp);
      expect(await market.withdrawable(client.address)).to.be.lt(ETHER + BOND + PRICE);
      expect(await market.withdrawable(treasury.address)).to.equal(PRICE - comp);
      // conservation: the two contracts hold exactly what they did; the market's balance is what it owes
      const after = (await ethers.provider.getBalance(await market.getAddress())) + (await ethers.provider.getBalance(await registry.getAddress()));
      expect(after).to.equal(before);
      expect(await ethers.provider.getBalance(await market.getAddress())).to.equal(ETHER + BOND + comp + PRICE - comp);
    });
  });

  describe("13. any slash banning for good", function () {
    it("losing a dispute over a 1-wei job costs 1 wei and bans nobody; only lifetime slashes at banThreshold ban", async function () {
      const f = await loadFixture(registeredFixture);
      const { market, registry, matcher, arbiter, provider, client } = f;
      const { jobId } = await createJob(f, { escrow: 1n });
      await market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, 1n);
      await acceptOffer(market.connect(provider), jobId);
      await market.connect(provider).submitResult(jobId, RESULT);
      await market.connect(client).dispute(jobId, { value: BOND });
      await expect(market.connect(arbiter).resolveDispute(jobId, true))
        .to.emit(registry, "Slashed")
        .withArgs(provider.address, await market.getAddress(), 1n, 1n);
      expect(await registry.isActive(provider.address)).to.equal(true);
      expect((await registry.getProvider(provider.address)).banned).to.equal(false);
    });
  });

  describe("14. unregistered hardware", function () {
    it("a provider registered on cpu-2t cannot post cpu-1t figures, singly, in a batch, or mixed into a batch", async function () {
      const { attest, registry, provider, agent } = await loadFixture(registeredFixture); // serves HW only
      const a = makeAttestation(provider.address, 1, await time.latest(), 0, { measurement: { hardwareId: HW2 } });
      await expect(attest.attest(a, await signAttestation(agent, attest, a)))
        .to.be.revertedWithCustomError(registry, "HardwareNotRegistered")
        .withArgs(provider.address, HW2);
      const header = { provider: provider.address, count: 2n, nonce: 1n, timestamp: BigInt(await time.latest()) };
      const other = [makeMeasurement(0, { hardwareId: HW2 }), makeMeasurement(1, { hardwareId: HW2 })];
      await expect(attest.attestBatch(header, other, await signBatch(agent, attest, header, rootOf(other.map((m) => leafOf(m))))))
        .to.be.revertedWithCustomError(registry, "HardwareNotRegistered")
        .withArgs(provider.address, HW2);
      const mixed = [makeMeasurement(0), makeMeasurement(1, { hardwareId: HW2 })];
      await expect(
        attest.attestBatch(header, mixed, await signBatch(agent, attest, header, rootOf(mixed.map((m) => leafOf(m))))),
      ).to.be.revertedWithCustomError(attest, "MixedHardware");
    });

    it("jobs are priced per registered hardware profile; unregistered hardware cannot be assigned", async function () {
      const f = await loadFixture(registeredFixture);
      const { market, registry, matcher, provider } = f;
      const { jobId } = await createJob(f);
      await expect(market.connect(matcher).assignJob(jobId, provider.address, HW2, METHOD, 1n))
        .to.be.revertedWithCustomError(registry, "HardwareNotRegistered")
        .withArgs(provider.address, HW2);
    });
  });

  describe("15. smaller findings", function () {
    it("the constructor enforces unstakeCooldown > challengeWindow + maxClockSkew", async function () {
      const [admin, treasury] = await ethers.getSigners();
      const bad = { ...PARAMS, unstakeCooldown: PARAMS.attestationChallengeWindow + PARAMS.maxClockSkew };
      const { attest } = await loadFixture(deployFixture);
      await expect(deployMarket(admin, treasury, bad))
        .to.be.revertedWithCustomError(attest, "CooldownTooShort")
        .withArgs(bad.unstakeCooldown, PARAMS.attestationChallengeWindow + PARAMS.maxClockSkew);
      await deployMarket(admin, treasury, { ...bad, unstakeCooldown: bad.unstakeCooldown + 1 });
    });

    it("a backdated timestamp does not shorten the challenge window (it runs from posting)", async function () {
      const { attest, provider, agent, challenger } = await loadFixture(registeredFixture);
      const t = await pinNextTimestamp();
      const a = makeAttestation(provider.address, 1, t - PARAMS.maxClockSkew);
      await attest.attest(a, await signAttestation(agent, attest, a));
      await time.setNextBlockTimestamp(t + PARAMS.attestationChallengeWindow);
      await expect(
        attest.connect(challenger).challengeAttestation(a, COUNTER, { value: PARAMS.minChallengeBond }),
      ).to.emit(attest, "ChallengeOpened");
    });

    it("withdrawTo pays a balance to another address", async function () {
      const { market, client, other, jobId } = await loadFixture(acceptedFixture);
      expect(jobId).to.equal(1n);
      const f2 = await createJob({ market, client });
      await market.connect(client).cancelJob(f2.jobId);
      await expect(market.connect(client).withdrawTo(other.address))
        .to.emit(market, "Withdrawn")
        .withArgs(client.address, other.address, ETHER);
    });

    it("a bond above uint128 is refused, not silently cut", async function () {
      const { attest, challenger, a } = await loadFixture(attestedFixture);
      const huge = 2n ** 128n;
      await ethers.provider.send("hardhat_setBalance", [challenger.address, ethers.toQuantity(2n ** 129n)]);
      await expect(attest.connect(challenger).challengeAttestation(a, COUNTER, { value: huge }))
        .to.be.revertedWithCustomError(attest, "SafeCastOverflowedUintDowncast")
        .withArgs(128, huge);
    });

    it("a small fee rounds up instead of to zero", async function () {
      const { market } = await loadFixture(deployFixture);
      expect(await market.feeOf(1n)).to.equal(1n);
      expect(await market.feeOf(49n)).to.equal(1n);
      expect(await market.feeOf(50n)).to.equal(1n);
      expect(await market.feeOf(51n)).to.equal(2n);
      expect(await market.feeOf(0n)).to.equal(0n);
    });
  });
});
