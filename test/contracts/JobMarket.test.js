const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture, time } = require("@nomicfoundation/hardhat-network-helpers");
const {
  ETHER,
  DAY,
  PARAMS,
  HW,
  HW2,
  PRICE_PER_SEC,
  deployFixture,
  registeredFixture,
  registerProvider,
  rotateAgent,
  pinNextTimestamp,
  impersonate,
  gasCost,
  acceptOffer,
} = require("./fixtures");

const S = {
  None: 0n,
  Open: 1n,
  Assigned: 2n,
  Accepted: 3n,
  Submitted: 4n,
  Disputed: 5n,
  Finalized: 6n,
  Refunded: 7n,
  Cancelled: 8n,
};
const SPEC = ethers.id("spec");
const MODEL = ethers.id("model:llama-3.1-8b");
const WORKLOAD = ethers.id("workload:chat");
const METHOD = ethers.id("method:spec-decode");
const RESULT = ethers.id("result");
const ESCROW = ETHER;
const MAX_RUNTIME = 3600; // at 0.001 ETH/s the provider's rate allows up to 3.6 ETH
const PRICE = (6n * ETHER) / 10n;
const ceilDiv = (a, b) => (a + b - 1n) / b;
const FEE = ceilDiv(PRICE * BigInt(PARAMS.protocolFeeBps), 10_000n);
const COLLATERAL = ceilDiv(PRICE * BigInt(PARAMS.collateralBps), 10_000n);
const BOND = PARAMS.minDisputeBond;

async function createJob(f, { escrow = ESCROW, deadline, maxRuntime = MAX_RUNTIME, allowed = ethers.ZeroAddress } = {}) {
  const dl = deadline ?? (await time.latest()) + DAY;
  await f.market.connect(f.client).createJob(SPEC, MODEL, WORKLOAD, maxRuntime, allowed, dl, { value: escrow });
  return { jobId: await f.market.jobCount(), deadline: dl };
}

/** registered provider + job 1 (Open, 1 ETH escrow, deadline in a day). */
async function openFixture() {
  const f = await registeredFixture();
  return { ...f, ...(await createJob(f)) };
}

/** openFixture + job 1 offered to `provider` on HW at PRICE. */
async function assignedFixture() {
  const f = await openFixture();
  await f.market.connect(f.matcher).assignJob(f.jobId, f.provider.address, HW, METHOD, PRICE);
  return f;
}

/** assignedFixture + accepted by the agent key (collateral locked as lock 1). */
async function acceptedFixture() {
  const f = await assignedFixture();
  await acceptOffer(f.market.connect(f.agent), f.jobId);
  return f;
}

/** acceptedFixture + result submitted by the agent key. */
async function submittedFixture() {
  const f = await acceptedFixture();
  await f.market.connect(f.agent).submitResult(f.jobId, RESULT);
  const submittedAt = await time.latest();
  return { ...f, submittedAt, endsAt: submittedAt + PARAMS.jobChallengeWindow };
}

async function disputedFixture() {
  const f = await submittedFixture();
  await f.market.connect(f.client).dispute(f.jobId, { value: BOND });
  const disputedAt = await time.latest();
  return { ...f, disputedAt, rulingDeadline: disputedAt + PARAMS.disputeRulingPeriod };
}

describe("JobMarket", function () {
  describe("constructor", function () {
    it("stores the parameters and the deployment's roles", async function () {
      const { market, registry, admin, treasury, matcher, arbiter, roles } = await loadFixture(deployFixture);
      expect(await market.registry()).to.equal(await registry.getAddress());
      expect(await market.treasury()).to.equal(treasury.address);
      expect(await market.protocolFeeBps()).to.equal(PARAMS.protocolFeeBps);
      expect(await market.challengeWindow()).to.equal(PARAMS.jobChallengeWindow);
      expect(await market.rulingPeriod()).to.equal(PARAMS.disputeRulingPeriod);
      expect(await market.minDisputeBond()).to.equal(PARAMS.minDisputeBond);
      expect(await market.collateralBps()).to.equal(PARAMS.collateralBps);
      expect(await market.clientCompensationBps()).to.equal(PARAMS.clientCompensationBps);
      expect(await market.MAX_FEE_BPS()).to.equal(1_000n);
      expect(await market.MAX_COLLATERAL_BPS()).to.equal(50_000n);
      expect(await market.defaultAdmin()).to.equal(admin.address);
      expect(await market.defaultAdminDelay()).to.equal(PARAMS.adminDelay);
      expect(await market.hasRole(roles.MATCHER_ROLE, matcher.address)).to.equal(true);
      expect(await market.hasRole(await market.ARBITER_ROLE(), arbiter.address)).to.equal(true);
      expect(roles.MATCHER_ROLE).to.equal(ethers.id("MATCHER_ROLE"));
    });

    it("reverts for a zero admin, registry or treasury, FeeTooHigh and InvalidBps; accepts the maxima", async function () {
      const { market, registry, admin, treasury } = await loadFixture(deployFixture);
      const reg = await registry.getAddress();
      const args = (i, v) => {
        const base = [admin.address, 0, reg, treasury.address, 200, 3600, DAY, 1n, 10_000, 5_000];
        if (i !== undefined) base[i] = v;
        return base;
      };
      await expect(ethers.deployContract("JobMarket", args(0, ethers.ZeroAddress)))
        .to.be.revertedWithCustomError(market, "AccessControlInvalidDefaultAdmin")
        .withArgs(ethers.ZeroAddress);
      for (const i of [2, 3]) {
        await expect(ethers.deployContract("JobMarket", args(i, ethers.ZeroAddress))).to.be.revertedWithCustomError(
          market,
          "ZeroAddress",
        );
      }
      await expect(ethers.deployContract("JobMarket", args(4, 1_001)))
        .to.be.revertedWithCustomError(market, "FeeTooHigh")
        .withArgs(1_001, 1_000);
      for (const [i, v] of [
        [8, 0],
        [8, 50_001],
        [9, 10_001],
      ]) {
        await expect(ethers.deployContract("JobMarket", args(i, v)))
          .to.be.revertedWithCustomError(market, "InvalidBps")
          .withArgs(v);
      }
      const max = await ethers.deployContract("JobMarket", args(4, 1_000));
      expect(await max.protocolFeeBps()).to.equal(1_000n);
      await ethers.deployContract("JobMarket", args(8, 50_000));
      await ethers.deployContract("JobMarket", args(9, 10_000));
    });
  });

  describe("createJob", function () {
    it("escrows the value, stores the job and emits JobCreated", async function () {
      const { market, client, provider } = await loadFixture(registeredFixture);
      const deadline = (await time.latest()) + DAY;
      const args = [SPEC, MODEL, WORKLOAD, MAX_RUNTIME, provider.address, deadline];
      expect(await market.connect(client).createJob.staticCall(...args, { value: ESCROW })).to.equal(1n);
      const tx = market.connect(client).createJob(...args, { value: ESCROW });
      await expect(tx)
        .to.emit(market, "JobCreated")
        .withArgs(1, client.address, SPEC, MODEL, WORKLOAD, ESCROW, MAX_RUNTIME, provider.address, deadline);
      await expect(tx).to.changeEtherBalances([client, market], [-ESCROW, ESCROW]);
      const j = await market.getJob(1);
      expect(j.client).to.equal(client.address);
      expect(j.status).to.equal(S.Open);
      expect(j.deadline).to.equal(deadline);
      expect(j.maxRuntime).to.equal(MAX_RUNTIME);
      expect(j.allowedProvider).to.equal(provider.address);
      expect(j.provider).to.equal(ethers.ZeroAddress);
      expect(j.escrow).to.equal(ESCROW);
      expect(j.price).to.equal(0n);
      expect(j.specHash).to.equal(SPEC);
      expect(await market.jobCount()).to.equal(1n);
    });

    it("reverts NoEscrow, ZeroRuntime and DeadlineInPast", async function () {
      const { market, client } = await loadFixture(registeredFixture);
      const dl = (await time.latest()) + DAY;
      await expect(
        market.connect(client).createJob(SPEC, MODEL, WORKLOAD, MAX_RUNTIME, ethers.ZeroAddress, dl),
      ).to.be.revertedWithCustomError(market, "NoEscrow");
      await expect(
        market.connect(client).createJob(SPEC, MODEL, WORKLOAD, 0, ethers.ZeroAddress, dl, { value: ESCROW }),
      ).to.be.revertedWithCustomError(market, "ZeroRuntime");
      for (const back of [0, 100]) {
        const t = await pinNextTimestamp();
        await expect(
          market.connect(client).createJob(SPEC, MODEL, WORKLOAD, MAX_RUNTIME, ethers.ZeroAddress, t - back, {
            value: ESCROW,
          }),
        )
          .to.be.revertedWithCustomError(market, "DeadlineInPast")
          .withArgs(t - back, t);
      }
    });

    it("reverts EscrowTooLarge above uint128", async function () {
      const { market, client } = await loadFixture(registeredFixture);
      const huge = 2n ** 128n;
      await ethers.provider.send("hardhat_setBalance", [client.address, ethers.toQuantity(2n ** 129n)]);
      await expect(
        market
          .connect(client)
          .createJob(SPEC, MODEL, WORKLOAD, MAX_RUNTIME, ethers.ZeroAddress, (await time.latest()) + DAY, {
            value: huge,
          }),
      )
        .to.be.revertedWithCustomError(market, "EscrowTooLarge")
        .withArgs(huge);
    });

    it("reverts EnforcedPause while the market is paused", async function () {
      const f = await loadFixture(registeredFixture);
      await f.registry.connect(f.admin).pause();
      await expect(createJob(f)).to.be.revertedWithCustomError(f.market, "EnforcedPause");
    });
  });

  describe("cancelJob", function () {
    it("cancels an open job and credits the escrow to the client", async function () {
      const { market, client, jobId } = await loadFixture(openFixture);
      await expect(market.connect(client).cancelJob(jobId))
        .to.emit(market, "JobCancelled")
        .withArgs(jobId, client.address, ESCROW);
      expect((await market.getJob(jobId)).status).to.equal(S.Cancelled);
      expect(await market.withdrawable(client.address)).to.equal(ESCROW);
      await expect(market.connect(client).cancelJob(jobId))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Cancelled, S.Open);
    });

    it("cancels a job offered but not yet accepted; the provider can no longer accept it", async function () {
      const { market, client, agent, jobId } = await loadFixture(assignedFixture);
      await expect(market.connect(client).cancelJob(jobId)).to.emit(market, "JobCancelled");
      await expect(acceptOffer(market.connect(agent), jobId))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Cancelled, S.Assigned);
    });

    it("reverts NotClient, and WrongStatus once the job is accepted", async function () {
      const { market, client, other, jobId } = await loadFixture(acceptedFixture);
      await expect(market.connect(other).cancelJob(jobId))
        .to.be.revertedWithCustomError(market, "NotClient")
        .withArgs(other.address, client.address);
      await expect(market.connect(client).cancelJob(jobId))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Accepted, S.Open);
    });
  });

  describe("assignJob", function () {
    it("offers the job: provider, hardware, method and price; emits JobAssigned", async function () {
      const { market, matcher, provider, jobId, deadline } = await loadFixture(openFixture);
      await expect(market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, PRICE))
        .to.emit(market, "JobAssigned")
        .withArgs(jobId, provider.address, HW, METHOD, PRICE);
      const j = await market.getJob(jobId);
      expect(j.status).to.equal(S.Assigned);
      expect(j.provider).to.equal(provider.address);
      expect(j.hardwareId).to.equal(HW);
      expect(j.methodId).to.equal(METHOD);
      expect(j.price).to.equal(PRICE);
      expect(j.deadline).to.equal(deadline);
    });

    it("re-offers a job nobody accepted, to another provider or at another price", async function () {
      const { market, registry, matcher, provider2, agent2, jobId } = await loadFixture(assignedFixture);
      await registerProvider(registry, provider2, agent2, { hw: HW2 });
      await expect(market.connect(matcher).assignJob(jobId, provider2.address, HW2, METHOD, PRICE / 2n))
        .to.emit(market, "JobAssigned")
        .withArgs(jobId, provider2.address, HW2, METHOD, PRICE / 2n);
      expect((await market.getJob(jobId)).provider).to.equal(provider2.address);
    });

    it("accepts a price equal to the escrow, and assignment at the deadline itself", async function () {
      const { market, matcher, provider, jobId, deadline } = await loadFixture(openFixture);
      await time.setNextBlockTimestamp(deadline);
      await expect(market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, ESCROW))
        .to.emit(market, "JobAssigned")
        .withArgs(jobId, provider.address, HW, METHOD, ESCROW);
    });

    it("only MATCHER_ROLE may assign", async function () {
      const { market, provider, other, jobId, roles } = await loadFixture(openFixture);
      for (const who of [other, provider]) {
        await expect(market.connect(who).assignJob(jobId, provider.address, HW, METHOD, PRICE))
          .to.be.revertedWithCustomError(market, "AccessControlUnauthorizedAccount")
          .withArgs(who.address, roles.MATCHER_ROLE);
      }
    });

    it("reverts WrongStatus once accepted", async function () {
      const { market, matcher, provider, jobId } = await loadFixture(acceptedFixture);
      await expect(market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, PRICE))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Accepted, S.Open);
    });

    it("reverts DeadlinePassed", async function () {
      const { market, matcher, provider, jobId, deadline } = await loadFixture(openFixture);
      await time.setNextBlockTimestamp(deadline + 1);
      await expect(market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, PRICE))
        .to.be.revertedWithCustomError(market, "DeadlinePassed")
        .withArgs(deadline, deadline + 1);
    });

    it("reverts ZeroPrice, PriceExceedsEscrow and PriceAboveProviderRate", async function () {
      const f = await loadFixture(openFixture);
      const { market, registry, matcher, provider, jobId } = f;
      await expect(market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, 0)).to.be.revertedWithCustomError(
        market,
        "ZeroPrice",
      );
      await expect(market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, ESCROW + 1n))
        .to.be.revertedWithCustomError(market, "PriceExceedsEscrow")
        .withArgs(ESCROW + 1n, ESCROW);
      await registry.connect(provider).setPrice(HW, 100n);
      await expect(market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, 100n * 3600n + 1n))
        .to.be.revertedWithCustomError(market, "PriceAboveProviderRate")
        .withArgs(100n * 3600n + 1n, 100n * 3600n);
      await expect(market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, 100n * 3600n)).to.emit(
        market,
        "JobAssigned",
      );
    });

    it("reverts HardwareNotRegistered for a profile the provider does not serve", async function () {
      const { market, registry, matcher, provider, jobId } = await loadFixture(openFixture);
      await expect(market.connect(matcher).assignJob(jobId, provider.address, HW2, METHOD, PRICE))
        .to.be.revertedWithCustomError(registry, "HardwareNotRegistered")
        .withArgs(provider.address, HW2);
    });

    it("reverts ProviderNotAllowed when the client named another provider", async function () {
      const f = await loadFixture(registeredFixture);
      const { market, matcher, provider, provider2 } = f;
      const { jobId } = await createJob(f, { allowed: provider2.address });
      await expect(market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, PRICE))
        .to.be.revertedWithCustomError(market, "ProviderNotAllowed")
        .withArgs(provider.address, provider2.address);
    });

    it("reverts ProviderNotActive for an unregistered or under-staked provider", async function () {
      const { market, registry, matcher, provider, other, jobId } = await loadFixture(openFixture);
      await expect(market.connect(matcher).assignJob(jobId, other.address, HW, METHOD, PRICE))
        .to.be.revertedWithCustomError(market, "ProviderNotActive")
        .withArgs(other.address);
      await registry.connect(provider).requestUnstake(ETHER + 1n);
      await expect(market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, PRICE))
        .to.be.revertedWithCustomError(market, "ProviderNotActive")
        .withArgs(provider.address);
    });

    it("reverts EnforcedPause while the market is paused", async function () {
      const { market, registry, admin, matcher, provider, jobId } = await loadFixture(openFixture);
      await registry.connect(admin).pause();
      await expect(
        market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, PRICE),
      ).to.be.revertedWithCustomError(market, "EnforcedPause");
    });
  });

  describe("acceptJob", function () {
    it("the provider or its agent accepts: collateral is locked from free stake, JobAccepted", async function () {
      const { market, registry, provider, agent, jobId } = await loadFixture(assignedFixture);
      const tx = acceptOffer(market.connect(agent), jobId);
      await expect(tx).to.emit(market, "JobAccepted").withArgs(jobId, provider.address, COLLATERAL, 1);
      await expect(tx)
        .to.emit(registry, "StakeLocked")
        .withArgs(1, provider.address, await market.getAddress(), COLLATERAL);
      const j = await market.getJob(jobId);
      expect(j.status).to.equal(S.Accepted);
      expect(j.collateral).to.equal(COLLATERAL);
      expect(j.lockId).to.equal(1n);
      expect(await registry.freeStake(provider.address)).to.equal(2n * ETHER - COLLATERAL);
    });

    it("the provider itself may accept; anyone else may not", async function () {
      const { market, registry, client, provider, provider2, agent2, jobId } = await loadFixture(assignedFixture);
      await registerProvider(registry, provider2, agent2);
      for (const who of [client, provider2, agent2]) {
        await expect(acceptOffer(market.connect(who), jobId))
          .to.be.revertedWithCustomError(market, "NotAssignedProvider")
          .withArgs(who.address, provider.address);
      }
      await expect(acceptOffer(market.connect(provider), jobId)).to.emit(market, "JobAccepted");
    });

    it("accepts only the terms of the current offer (a re-offer racing the acceptance reverts OfferMismatch)", async function () {
      const { market, matcher, provider, agent, jobId } = await loadFixture(assignedFixture);
      await market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, PRICE / 2n);
      for (const [hw, method, price] of [
        [HW, METHOD, PRICE],
        [HW2, METHOD, PRICE / 2n],
        [HW, ethers.id("other method"), PRICE / 2n],
      ]) {
        await expect(market.connect(agent).acceptJob(jobId, hw, method, price))
          .to.be.revertedWithCustomError(market, "OfferMismatch")
          .withArgs(jobId);
      }
      await expect(market.connect(agent).acceptJob(jobId, HW, METHOD, PRICE / 2n))
        .to.emit(market, "JobAccepted")
        .withArgs(jobId, provider.address, PRICE / 2n, 1);
    });

    it("reverts WrongStatus, DeadlinePassed, InsufficientStake and EnforcedPause", async function () {
      const f = await loadFixture(openFixture);
      const { market, registry, admin, matcher, provider, jobId, deadline } = f;
      await expect(acceptOffer(market.connect(provider), jobId))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Open, S.Assigned);
      // collateral above free stake
      const { jobId: big } = await createJob(f, { escrow: 3n * ETHER });
      await market.connect(matcher).assignJob(big, provider.address, HW, METHOD, (5n * ETHER) / 2n);
      await expect(acceptOffer(market.connect(provider), big))
        .to.be.revertedWithCustomError(registry, "InsufficientStake")
        .withArgs((5n * ETHER) / 2n, 2n * ETHER);
      await market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, PRICE);
      await registry.connect(admin).pause();
      await expect(acceptOffer(market.connect(provider), jobId)).to.be.revertedWithCustomError(registry, "EnforcedPause");
      await registry.connect(admin).unpause();
      await time.setNextBlockTimestamp(deadline + 1);
      await expect(acceptOffer(market.connect(provider), jobId))
        .to.be.revertedWithCustomError(market, "DeadlinePassed")
        .withArgs(deadline, deadline + 1);
    });
  });

  describe("submitResult", function () {
    it("the provider itself may submit; the event names the provider", async function () {
      const { market, provider, jobId } = await loadFixture(acceptedFixture);
      const t = await pinNextTimestamp();
      await expect(market.connect(provider).submitResult(jobId, RESULT))
        .to.emit(market, "ResultSubmitted")
        .withArgs(jobId, provider.address, RESULT);
      const j = await market.getJob(jobId);
      expect(j.status).to.equal(S.Submitted);
      expect(j.submittedAt).to.equal(t);
      expect(j.resultHash).to.equal(RESULT);
    });

    it("the provider's agent key may submit, also at the deadline itself", async function () {
      const { market, provider, agent, jobId, deadline } = await loadFixture(acceptedFixture);
      await time.setNextBlockTimestamp(deadline);
      await expect(market.connect(agent).submitResult(jobId, RESULT))
        .to.emit(market, "ResultSubmitted")
        .withArgs(jobId, provider.address, RESULT);
    });

    it("after a key rotation the new key may submit and the old one may not", async function () {
      const { market, registry, provider, agent, newAgent, jobId } = await loadFixture(acceptedFixture);
      await rotateAgent(registry, provider, newAgent);
      await expect(market.connect(agent).submitResult(jobId, RESULT))
        .to.be.revertedWithCustomError(market, "NotAssignedProvider")
        .withArgs(agent.address, provider.address);
      await expect(market.connect(newAgent).submitResult(jobId, RESULT)).to.emit(market, "ResultSubmitted");
    });

    it("reverts DeadlinePassed, ZeroResultHash and WrongStatus", async function () {
      const { market, provider, jobId, deadline } = await loadFixture(acceptedFixture);
      await expect(market.connect(provider).submitResult(jobId, ethers.ZeroHash)).to.be.revertedWithCustomError(
        market,
        "ZeroResultHash",
      );
      await time.setNextBlockTimestamp(deadline + 1);
      await expect(market.connect(provider).submitResult(jobId, RESULT))
        .to.be.revertedWithCustomError(market, "DeadlinePassed")
        .withArgs(deadline, deadline + 1);
      const a = await loadFixture(assignedFixture);
      await expect(a.market.connect(a.provider).submitResult(a.jobId, RESULT))
        .to.be.revertedWithCustomError(a.market, "WrongStatus")
        .withArgs(a.jobId, S.Assigned, S.Accepted);
    });
  });

  describe("finalize", function () {
    it("reverts ChallengeWindowOpen before submittedAt + challengeWindow", async function () {
      const { market, other, jobId, endsAt } = await loadFixture(submittedFixture);
      await time.setNextBlockTimestamp(endsAt - 1);
      await expect(market.connect(other).finalize(jobId))
        .to.be.revertedWithCustomError(market, "ChallengeWindowOpen")
        .withArgs(endsAt, endsAt - 1);
    });

    it("pays price - fee to the provider, the fee to the treasury and the rest to the client; releases the collateral", async function () {
      const { market, registry, provider, treasury, client, other, jobId, endsAt } = await loadFixture(submittedFixture);
      await time.setNextBlockTimestamp(endsAt);
      const tx = market.connect(other).finalize(jobId);
      await expect(tx)
        .to.emit(market, "JobFinalized")
        .withArgs(jobId, provider.address, PRICE - FEE, FEE, ESCROW - PRICE);
      await expect(tx).to.emit(registry, "StakeUnlocked").withArgs(1, provider.address, COLLATERAL, 0);
      await expect(tx).to.changeEtherBalance(market, 0);
      expect(await market.withdrawable(provider.address)).to.equal(PRICE - FEE);
      expect(await market.withdrawable(treasury.address)).to.equal(FEE);
      expect(await market.withdrawable(client.address)).to.equal(ESCROW - PRICE);
      expect((await market.getJob(jobId)).status).to.equal(S.Finalized);
      expect(await registry.freeStake(provider.address)).to.equal(2n * ETHER);
    });

    it("reverts WrongStatus on a second finalize and before submission", async function () {
      const { market, other, jobId, endsAt } = await loadFixture(submittedFixture);
      await time.setNextBlockTimestamp(endsAt);
      await market.connect(other).finalize(jobId);
      await expect(market.connect(other).finalize(jobId))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Finalized, S.Submitted);
      const a = await loadFixture(acceptedFixture);
      await expect(a.market.finalize(a.jobId))
        .to.be.revertedWithCustomError(a.market, "WrongStatus")
        .withArgs(a.jobId, S.Accepted, S.Submitted);
    });

    it("rounds a small fee up (a 49-wei price pays a 1-wei fee); nothing to the client when price == escrow", async function () {
      const f = await loadFixture(registeredFixture);
      const { market, matcher, provider, treasury, client } = f;
      const { jobId } = await createJob(f, { escrow: 49n });
      await market.connect(matcher).assignJob(jobId, provider.address, HW, METHOD, 49n); // 49 * 2% = 0.98 -> 1
      expect(await market.feeOf(49n)).to.equal(1n);
      await acceptOffer(market.connect(provider), jobId);
      await market.connect(provider).submitResult(jobId, RESULT);
      await time.increase(PARAMS.jobChallengeWindow);
      await expect(market.finalize(jobId)).to.emit(market, "JobFinalized").withArgs(jobId, provider.address, 48n, 1n, 0);
      expect(await market.withdrawable(treasury.address)).to.equal(1n);
      expect(await market.withdrawable(client.address)).to.equal(0n);
    });
  });

  describe("dispute", function () {
    it("the client disputes within the window with a bond; finalize is then blocked", async function () {
      const { market, client, jobId, endsAt } = await loadFixture(submittedFixture);
      await time.setNextBlockTimestamp(endsAt - 1);
      const tx = market.connect(client).dispute(jobId, { value: BOND });
      await expect(tx)
        .to.emit(market, "JobDisputed")
        .withArgs(jobId, client.address, BOND, endsAt - 1 + PARAMS.disputeRulingPeriod);
      await expect(tx).to.changeEtherBalances([client, market], [-BOND, BOND]);
      const j = await market.getJob(jobId);
      expect(j.status).to.equal(S.Disputed);
      expect(j.disputeBond).to.equal(BOND);
      expect(j.disputedAt).to.equal(endsAt - 1);
      await expect(market.finalize(jobId))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Disputed, S.Submitted);
    });

    it("reverts BondTooSmall, NotClient and ChallengeWindowClosed", async function () {
      const { market, client, provider, jobId, endsAt } = await loadFixture(submittedFixture);
      await expect(market.connect(client).dispute(jobId, { value: BOND - 1n }))
        .to.be.revertedWithCustomError(market, "BondTooSmall")
        .withArgs(BOND - 1n, BOND);
      await expect(market.connect(provider).dispute(jobId, { value: BOND }))
        .to.be.revertedWithCustomError(market, "NotClient")
        .withArgs(provider.address, client.address);
      await time.setNextBlockTimestamp(endsAt);
      await expect(market.connect(client).dispute(jobId, { value: BOND }))
        .to.be.revertedWithCustomError(market, "ChallengeWindowClosed")
        .withArgs(endsAt, endsAt);
    });

    it("reverts WrongStatus before submission and when already disputed", async function () {
      const { market, client, jobId } = await loadFixture(acceptedFixture);
      await expect(market.connect(client).dispute(jobId, { value: BOND }))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Accepted, S.Submitted);
      const d = await loadFixture(disputedFixture);
      await expect(d.market.connect(d.client).dispute(d.jobId, { value: BOND }))
        .to.be.revertedWithCustomError(d.market, "WrongStatus")
        .withArgs(d.jobId, S.Disputed, S.Submitted);
    });
  });

  describe("resolveDispute", function () {
    it("only ARBITER_ROLE may resolve", async function () {
      const { market, client, jobId } = await loadFixture(disputedFixture);
      await expect(market.connect(client).resolveDispute(jobId, true))
        .to.be.revertedWithCustomError(market, "AccessControlUnauthorizedAccount")
        .withArgs(client.address, await market.ARBITER_ROLE());
    });

    it("provider at fault: the client gets escrow + bond + its share of the slashed collateral; the treasury the rest", async function () {
      const { market, registry, arbiter, provider, client, treasury, jobId } = await loadFixture(disputedFixture);
      const comp = (COLLATERAL * BigInt(PARAMS.clientCompensationBps)) / 10_000n;
      const tx = market.connect(arbiter).resolveDispute(jobId, true);
      await expect(tx).to.emit(market, "JobRefunded").withArgs(jobId, client.address, ESCROW + BOND + comp);
      await expect(tx).to.emit(market, "DisputeResolved").withArgs(jobId, true, COLLATERAL, comp);
      await expect(tx)
        .to.emit(registry, "Slashed")
        .withArgs(provider.address, await market.getAddress(), COLLATERAL, COLLATERAL);
      await expect(tx).to.changeEtherBalances([registry, market], [-COLLATERAL, COLLATERAL]);
      expect(await market.withdrawable(client.address)).to.equal(ESCROW + BOND + comp);
      expect(await market.withdrawable(treasury.address)).to.equal(COLLATERAL - comp);
      expect(await market.withdrawable(provider.address)).to.equal(0n);
      const p = await registry.getProvider(provider.address);
      expect(p.stake).to.equal(2n * ETHER - COLLATERAL);
      expect(p.reserved).to.equal(0n);
      expect(p.banned).to.equal(false); // 0.6 ETH < banThreshold
      expect((await market.getJob(jobId)).status).to.equal(S.Refunded);
      await expect(market.refund(jobId))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Refunded, S.Accepted);
      await expect(market.connect(arbiter).resolveDispute(jobId, false))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Refunded, S.Disputed);
    });

    it("provider not at fault: paid as a normal finalization, the bond goes to the provider", async function () {
      const { market, registry, arbiter, provider, treasury, client, jobId } = await loadFixture(disputedFixture);
      const tx = market.connect(arbiter).resolveDispute(jobId, false);
      await expect(tx)
        .to.emit(market, "JobFinalized")
        .withArgs(jobId, provider.address, PRICE - FEE, FEE, ESCROW - PRICE);
      await expect(tx).to.emit(market, "DisputeResolved").withArgs(jobId, false, 0, 0);
      await expect(tx).to.not.emit(registry, "Slashed");
      await expect(tx).to.emit(registry, "StakeUnlocked").withArgs(1, provider.address, COLLATERAL, 0);
      expect(await market.withdrawable(provider.address)).to.equal(PRICE - FEE + BOND);
      expect(await market.withdrawable(treasury.address)).to.equal(FEE);
      expect(await market.withdrawable(client.address)).to.equal(ESCROW - PRICE);
      expect((await market.getJob(jobId)).status).to.equal(S.Finalized);
    });

    it("reverts RulingDeadlinePassed after disputedAt + rulingPeriod, and WrongStatus when not disputed", async function () {
      const { market, arbiter, jobId, rulingDeadline } = await loadFixture(disputedFixture);
      await time.setNextBlockTimestamp(rulingDeadline + 1);
      await expect(market.connect(arbiter).resolveDispute(jobId, true))
        .to.be.revertedWithCustomError(market, "RulingDeadlinePassed")
        .withArgs(jobId, rulingDeadline);
      const s = await loadFixture(submittedFixture);
      await expect(s.market.connect(s.arbiter).resolveDispute(s.jobId, true))
        .to.be.revertedWithCustomError(s.market, "WrongStatus")
        .withArgs(s.jobId, S.Submitted, S.Disputed);
    });
  });

  describe("settleExpiredDispute (default ruling)", function () {
    it("after the ruling deadline anyone settles: the job is paid, the client's bond comes back", async function () {
      const { market, registry, provider, treasury, client, other, jobId, rulingDeadline } =
        await loadFixture(disputedFixture);
      await time.setNextBlockTimestamp(rulingDeadline);
      await expect(market.connect(other).settleExpiredDispute(jobId))
        .to.be.revertedWithCustomError(market, "RulingDeadlineNotPassed")
        .withArgs(jobId, rulingDeadline);
      const tx = market.connect(other).settleExpiredDispute(jobId);
      await expect(tx).to.emit(market, "DisputeExpired").withArgs(jobId);
      await expect(tx)
        .to.emit(market, "JobFinalized")
        .withArgs(jobId, provider.address, PRICE - FEE, FEE, ESCROW - PRICE);
      await expect(tx).to.emit(registry, "StakeUnlocked").withArgs(1, provider.address, COLLATERAL, 0);
      expect(await market.withdrawable(client.address)).to.equal(ESCROW - PRICE + BOND);
      expect(await market.withdrawable(provider.address)).to.equal(PRICE - FEE);
      expect(await market.withdrawable(treasury.address)).to.equal(FEE);
      await expect(market.settleExpiredDispute(jobId))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Finalized, S.Disputed);
    });
  });

  describe("refund", function () {
    it("reverts DeadlineNotPassed up to and including the deadline", async function () {
      const { market, other, jobId, deadline } = await loadFixture(openFixture);
      await time.setNextBlockTimestamp(deadline);
      await expect(market.connect(other).refund(jobId))
        .to.be.revertedWithCustomError(market, "DeadlineNotPassed")
        .withArgs(deadline, deadline);
    });

    it("refunds an Open or Assigned job after its deadline (callable by anyone, credited to the client)", async function () {
      for (const fixture of [openFixture, assignedFixture]) {
        const { market, client, other, jobId, deadline } = await loadFixture(fixture);
        await time.setNextBlockTimestamp(deadline + 1);
        const tx = market.connect(other).refund(jobId);
        await expect(tx).to.emit(market, "JobRefunded").withArgs(jobId, client.address, ESCROW);
        await expect(tx).to.not.emit(market, "NonDelivery");
        expect(await market.withdrawable(client.address)).to.equal(ESCROW);
        expect(await market.withdrawable(other.address)).to.equal(0n);
        expect((await market.getJob(jobId)).status).to.equal(S.Refunded);
        await expect(market.refund(jobId))
          .to.be.revertedWithCustomError(market, "WrongStatus")
          .withArgs(jobId, S.Refunded, S.Accepted);
      }
    });

    it("an accepted job without a result by the deadline: non-delivery, the collateral is slashed", async function () {
      const { market, registry, client, provider, treasury, jobId, deadline } = await loadFixture(acceptedFixture);
      const comp = (COLLATERAL * BigInt(PARAMS.clientCompensationBps)) / 10_000n;
      await time.setNextBlockTimestamp(deadline + 1);
      const tx = market.refund(jobId);
      await expect(tx).to.emit(market, "NonDelivery").withArgs(jobId, provider.address, COLLATERAL, comp);
      await expect(tx).to.emit(market, "JobRefunded").withArgs(jobId, client.address, ESCROW + comp);
      expect(await market.withdrawable(client.address)).to.equal(ESCROW + comp);
      expect(await market.withdrawable(treasury.address)).to.equal(COLLATERAL - comp);
      expect(await registry.slashableStake(provider.address)).to.equal(2n * ETHER - COLLATERAL);
      await expect(market.connect(provider).submitResult(jobId, RESULT))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Refunded, S.Accepted);
    });

    it("reverts WrongStatus after submission, dispute or cancellation", async function () {
      const s = await loadFixture(submittedFixture);
      await time.setNextBlockTimestamp(s.deadline + 1);
      await expect(s.market.refund(s.jobId))
        .to.be.revertedWithCustomError(s.market, "WrongStatus")
        .withArgs(s.jobId, S.Submitted, S.Accepted);
      const d = await loadFixture(disputedFixture);
      await time.setNextBlockTimestamp(d.deadline + 1);
      await expect(d.market.refund(d.jobId))
        .to.be.revertedWithCustomError(d.market, "WrongStatus")
        .withArgs(d.jobId, S.Disputed, S.Accepted);
      const o = await loadFixture(openFixture);
      await o.market.connect(o.client).cancelJob(o.jobId);
      await time.setNextBlockTimestamp(o.deadline + 1);
      await expect(o.market.refund(o.jobId))
        .to.be.revertedWithCustomError(o.market, "WrongStatus")
        .withArgs(o.jobId, S.Cancelled, S.Accepted);
    });
  });

  describe("UnknownJob", function () {
    it("every job function reverts UnknownJob for ids that were never created", async function () {
      const { market, client, matcher, arbiter, provider, jobId } = await loadFixture(openFixture);
      for (const id of [0n, jobId + 1n, 2n ** 256n - 1n]) {
        const calls = [
          () => market.connect(client).cancelJob(id),
          () => market.connect(client).dispute(id, { value: BOND }),
          () => market.refund(id),
          () => market.connect(matcher).assignJob(id, provider.address, HW, METHOD, PRICE),
          () => acceptOffer(market.connect(provider), id),
          () => market.connect(provider).submitResult(id, RESULT),
          () => market.finalize(id),
          () => market.connect(arbiter).resolveDispute(id, true),
          () => market.settleExpiredDispute(id),
        ];
        for (const call of calls) {
          await expect(call()).to.be.revertedWithCustomError(market, "UnknownJob").withArgs(id);
        }
      }
      expect((await market.getJob(0)).status).to.equal(S.None);
    });
  });

  describe("withdraw", function () {
    it("reverts NothingToWithdraw", async function () {
      const { market, client } = await loadFixture(openFixture);
      await expect(market.connect(client).withdraw())
        .to.be.revertedWithCustomError(market, "NothingToWithdraw")
        .withArgs(client.address);
    });

    it("pays provider, treasury and client exactly their balances", async function () {
      const { market, provider, treasury, client, jobId, endsAt } = await loadFixture(submittedFixture);
      await time.setNextBlockTimestamp(endsAt);
      await market.finalize(jobId);
      for (const [who, amount] of [
        [provider, PRICE - FEE],
        [treasury, FEE],
        [client, ESCROW - PRICE],
      ]) {
        const before = await ethers.provider.getBalance(who.address);
        const tx = await market.connect(who).withdraw();
        await expect(tx).to.emit(market, "Withdrawn").withArgs(who.address, who.address, amount);
        const after = await ethers.provider.getBalance(who.address);
        expect(after - before + (await gasCost(tx))).to.equal(amount);
        await expect(market.connect(who).withdraw())
          .to.be.revertedWithCustomError(market, "NothingToWithdraw")
          .withArgs(who.address);
      }
      expect(await ethers.provider.getBalance(await market.getAddress())).to.equal(0n);
    });

    it("reverts TransferFailed when the receiver rejects ETH; withdrawTo pays elsewhere", async function () {
      // ProviderRegistry has no receive/fallback: let it be a client whose job is cancelled
      const { market, registry, other } = await loadFixture(registeredFixture);
      const regAddr = await registry.getAddress();
      const asRegistry = await impersonate(regAddr);
      await market
        .connect(asRegistry)
        .createJob(SPEC, MODEL, WORKLOAD, MAX_RUNTIME, ethers.ZeroAddress, (await time.latest()) + DAY, { value: ESCROW });
      await market.connect(asRegistry).cancelJob(1);
      await expect(market.connect(asRegistry).withdraw())
        .to.be.revertedWithCustomError(market, "TransferFailed")
        .withArgs(regAddr, ESCROW);
      expect(await market.withdrawable(regAddr)).to.equal(ESCROW);
      await expect(market.connect(asRegistry).withdrawTo(other.address)).to.changeEtherBalance(other, ESCROW);
    });
  });

  describe("balance invariant", function () {
    it("balance == escrow of unsettled jobs + dispute bonds + sum(withdrawable) after every step", async function () {
      const f = await loadFixture(registeredFixture);
      const { market, registry, matcher, arbiter, provider, agent, provider2, agent2, client, other, treasury } = f;
      await registerProvider(registry, provider2, agent2, { stake: 3n * ETHER });
      const accounts = [provider, provider2, client, other, treasury].map((s) => s.address);
      const unsettled = [S.Open, S.Assigned, S.Accepted, S.Submitted, S.Disputed];
      const check = async () => {
        let sum = 0n;
        const n = await market.jobCount();
        for (let id = 1n; id <= n; id++) {
          const j = await market.getJob(id);
          if (unsettled.includes(j.status)) sum += j.escrow;
          if (j.status === S.Disputed) sum += j.disputeBond;
        }
        for (const a of accounts) sum += await market.withdrawable(a);
        expect(await ethers.provider.getBalance(await market.getAddress())).to.equal(sum);
      };
      const now = await time.latest();
      const mk = async (who, escrow, deadline) => {
        await market.connect(who).createJob(SPEC, MODEL, WORKLOAD, MAX_RUNTIME, ethers.ZeroAddress, deadline, {
          value: escrow,
        });
        await check();
        return market.jobCount();
      };
      const step = async (p) => {
        await p;
        await check();
      };

      const j1 = await mk(client, ETHER, now + DAY); // finalized
      const j2 = await mk(client, 2n * ETHER, now + DAY); // disputed, provider at fault
      const j3 = await mk(other, 3n * ETHER, now + DAY); // disputed, provider not at fault
      const j4 = await mk(client, ETHER / 3n, now + DAY); // cancelled after the offer
      const j5 = await mk(other, 7n, now + 600); // accepted, never delivered
      const j6 = await mk(client, ETHER, now + 600); // open, refunded after deadline
      const j7 = await mk(client, ETHER, now + 2 * DAY); // left open
      const j8 = await mk(other, ETHER, now + 2 * DAY); // left submitted
      const j9 = await mk(client, ETHER, now + 2 * DAY); // disputed, default ruling

      await step(market.connect(matcher).assignJob(j1, provider.address, HW, METHOD, ETHER / 2n));
      await step(market.connect(matcher).assignJob(j2, provider.address, HW, METHOD, ETHER));
      await step(market.connect(matcher).assignJob(j3, provider2.address, HW, METHOD, 2n * ETHER));
      await step(market.connect(matcher).assignJob(j4, provider2.address, HW, METHOD, 5n));
      await step(market.connect(matcher).assignJob(j5, provider2.address, HW, METHOD, 5n));
      await step(market.connect(matcher).assignJob(j8, provider2.address, HW, METHOD, ETHER / 7n));
      await step(market.connect(matcher).assignJob(j9, provider.address, HW, METHOD, ETHER / 10n));
      for (const [id, who] of [
        [j1, agent],
        [j2, provider],
        [j3, agent2],
        [j5, agent2],
        [j8, provider2],
        [j9, agent],
      ]) {
        await step(acceptOffer(market.connect(who), id));
      }
      await step(market.connect(client).cancelJob(j4));
      await step(market.connect(agent).submitResult(j1, RESULT));
      await step(market.connect(provider).submitResult(j2, RESULT));
      await step(market.connect(agent2).submitResult(j3, RESULT));
      await step(market.connect(agent).submitResult(j9, RESULT));
      await step(market.connect(client).dispute(j2, { value: BOND }));
      await step(market.connect(other).dispute(j3, { value: 2n * BOND }));
      await step(market.connect(client).dispute(j9, { value: BOND }));
      await step(market.connect(client).withdraw());
      await time.increase(PARAMS.jobChallengeWindow);
      await step(market.connect(provider2).submitResult(j8, RESULT));
      await step(market.finalize(j1));
      await step(market.connect(arbiter).resolveDispute(j2, true));
      await step(market.connect(arbiter).resolveDispute(j3, false));
      await time.increase(600);
      await step(market.refund(j5));
      await step(market.refund(j6));
      await time.increase(PARAMS.disputeRulingPeriod);
      await step(market.settleExpiredDispute(j9));
      for (const who of [provider, provider2, treasury, other]) await step(market.connect(who).withdraw());

      const statuses = [];
      for (const id of [j1, j2, j3, j4, j5, j6, j7, j8, j9]) statuses.push((await market.getJob(id)).status);
      expect(statuses).to.deep.equal([
        S.Finalized,
        S.Refunded,
        S.Finalized,
        S.Cancelled,
        S.Refunded,
        S.Refunded,
        S.Open,
        S.Submitted,
        S.Finalized,
      ]);
      // only j8's collateral is still locked
      expect((await registry.getProvider(provider.address)).reserved).to.equal(0n);
      expect((await registry.getProvider(provider2.address)).reserved).to.equal(ETHER / 7n);
      expect(await ethers.provider.getBalance(await market.getAddress())).to.equal(
        (await market.withdrawable(client.address)) + 2n * ETHER,
      );
    });
  });
});
