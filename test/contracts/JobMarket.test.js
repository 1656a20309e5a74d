const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture, time } = require("@nomicfoundation/hardhat-network-helpers");
const {
  ETHER,
  DAY,
  PARAMS,
  HW,
  makeAttestation,
  signAttestation,
  deployFixture,
  registeredFixture,
  pinNextTimestamp,
  impersonate,
  gasCost,
} = require("./fixtures");

const S = { None: 0n, Open: 1n, Assigned: 2n, Submitted: 3n, Disputed: 4n, Finalized: 5n, Refunded: 6n, Cancelled: 7n };
const SPEC = ethers.id("spec");
const MODEL = ethers.id("model:llama-3.1-8b");
const WORKLOAD = ethers.id("workload:chat");
const METHOD = ethers.id("method:spec-decode");
const RESULT = ethers.id("result");
const ESCROW = ETHER;
const PRICE = (6n * ETHER) / 10n;
const FEE = (PRICE * BigInt(PARAMS.protocolFeeBps)) / 10_000n;

async function createJob(f, { escrow = ESCROW, deadline } = {}) {
  const dl = deadline ?? (await time.latest()) + DAY;
  await f.market.connect(f.client).createJob(SPEC, MODEL, WORKLOAD, dl, { value: escrow });
  return { jobId: await f.market.jobCount(), deadline: dl };
}

/** registered provider + job 1 (Open, 1 ETH escrow, deadline in a day). */
async function openFixture() {
  const f = await registeredFixture();
  return { ...f, ...(await createJob(f)) };
}

/** openFixture + job 1 assigned to `provider` at PRICE. */
async function assignedFixture() {
  const f = await openFixture();
  await f.market.connect(f.matcher).assignJob(f.jobId, f.provider.address, METHOD, PRICE);
  return f;
}

/** assignedFixture + result submitted by the agent key. */
async function submittedFixture() {
  const f = await assignedFixture();
  await f.market.connect(f.agent).submitResult(f.jobId, RESULT);
  const submittedAt = await time.latest();
  return { ...f, submittedAt, endsAt: submittedAt + PARAMS.jobChallengeWindow };
}

async function disputedFixture() {
  const f = await submittedFixture();
  await f.market.connect(f.client).dispute(f.jobId);
  return f;
}

describe("JobMarket", function () {
  describe("constructor", function () {
    it("stores the parameters and the deployment's roles", async function () {
      const { market, registry, admin, treasury, matcher, arbiter, roles } = await loadFixture(deployFixture);
      expect(await market.registry()).to.equal(await registry.getAddress());
      expect(await market.treasury()).to.equal(treasury.address);
      expect(await market.protocolFeeBps()).to.equal(PARAMS.protocolFeeBps);
      expect(await market.challengeWindow()).to.equal(PARAMS.jobChallengeWindow);
      expect(await market.MAX_FEE_BPS()).to.equal(1_000n);
      expect(await market.hasRole(await market.DEFAULT_ADMIN_ROLE(), admin.address)).to.equal(true);
      expect(await market.hasRole(roles.MATCHER_ROLE, matcher.address)).to.equal(true);
      expect(await market.hasRole(await market.ARBITER_ROLE(), arbiter.address)).to.equal(true);
      expect(roles.MATCHER_ROLE).to.equal(ethers.id("MATCHER_ROLE"));
    });

    it("reverts ZeroAddress and FeeTooHigh, accepts the maximum fee", async function () {
      const { market, registry, admin, treasury } = await loadFixture(deployFixture);
      const reg = await registry.getAddress();
      const args = (i, v) => {
        const base = [admin.address, reg, treasury.address, 200, 3600];
        if (i !== undefined) base[i] = v;
        return base;
      };
      for (const i of [0, 1, 2]) {
        await expect(ethers.deployContract("JobMarket", args(i, ethers.ZeroAddress))).to.be.revertedWithCustomError(
          market,
          "ZeroAddress",
        );
      }
      await expect(ethers.deployContract("JobMarket", args(3, 1_001)))
        .to.be.revertedWithCustomError(market, "FeeTooHigh")
        .withArgs(1_001, 1_000);
      const max = await ethers.deployContract("JobMarket", args(3, 1_000));
      expect(await max.protocolFeeBps()).to.equal(1_000n);
    });
  });

  describe("createJob", function () {
    it("escrows the value, stores the job and emits JobCreated", async function () {
      const { market, client } = await loadFixture(registeredFixture);
      const deadline = (await time.latest()) + DAY;
      expect(
        await market.connect(client).createJob.staticCall(SPEC, MODEL, WORKLOAD, deadline, { value: ESCROW }),
      ).to.equal(1n);
      const tx = market.connect(client).createJob(SPEC, MODEL, WORKLOAD, deadline, { value: ESCROW });
      await expect(tx)
        .to.emit(market, "JobCreated")
        .withArgs(1, client.address, SPEC, MODEL, WORKLOAD, ESCROW, deadline);
      await expect(tx).to.changeEtherBalances([client, market], [-ESCROW, ESCROW]);
      const j = await market.getJob(1);
      expect(j.client).to.equal(client.address);
      expect(j.status).to.equal(S.Open);
      expect(j.deadline).to.equal(deadline);
      expect(j.provider).to.equal(ethers.ZeroAddress);
      expect(j.escrow).to.equal(ESCROW);
      expect(j.price).to.equal(0n);
      expect(j.specHash).to.equal(SPEC);
      expect(await market.jobCount()).to.equal(1n);
    });

    it("reverts NoEscrow", async function () {
      const { market, client } = await loadFixture(registeredFixture);
      await expect(
        market.connect(client).createJob(SPEC, MODEL, WORKLOAD, (await time.latest()) + DAY),
      ).to.be.revertedWithCustomError(market, "NoEscrow");
    });

    it("reverts DeadlineInPast for a deadline at or before the block time", async function () {
      const { market, client } = await loadFixture(registeredFixture);
      for (const back of [0, 100]) {
        const t = await pinNextTimestamp();
        await expect(market.connect(client).createJob(SPEC, MODEL, WORKLOAD, t - back, { value: ESCROW }))
          .to.be.revertedWithCustomError(market, "DeadlineInPast")
          .withArgs(t - back, t);
      }
      const t = await pinNextTimestamp();
      await expect(market.connect(client).createJob(SPEC, MODEL, WORKLOAD, t + 1, { value: ESCROW })).to.emit(
        market,
        "JobCreated",
      );
    });

    it("reverts EscrowTooLarge above uint128", async function () {
      const { market, client } = await loadFixture(registeredFixture);
      const huge = 2n ** 128n;
      await ethers.provider.send("hardhat_setBalance", [client.address, ethers.toQuantity(2n ** 129n)]);
      await expect(
        market.connect(client).createJob(SPEC, MODEL, WORKLOAD, (await time.latest()) + DAY, { value: huge }),
      )
        .to.be.revertedWithCustomError(market, "EscrowTooLarge")
        .withArgs(huge);
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

    it("reverts NotClient", async function () {
      const { market, client, other, jobId } = await loadFixture(openFixture);
      await expect(market.connect(other).cancelJob(jobId))
        .to.be.revertedWithCustomError(market, "NotClient")
        .withArgs(other.address, client.address);
    });

    it("reverts WrongStatus once the job is assigned", async function () {
      const { market, client, jobId } = await loadFixture(assignedFixture);
      await expect(market.connect(client).cancelJob(jobId))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Assigned, S.Open);
    });
  });

  describe("assignJob", function () {
    it("assigns a provider, method and price; emits JobAssigned", async function () {
      const { market, matcher, provider, jobId, deadline } = await loadFixture(openFixture);
      await expect(market.connect(matcher).assignJob(jobId, provider.address, METHOD, PRICE))
        .to.emit(market, "JobAssigned")
        .withArgs(jobId, provider.address, METHOD, PRICE);
      const j = await market.getJob(jobId);
      expect(j.status).to.equal(S.Assigned);
      expect(j.provider).to.equal(provider.address);
      expect(j.methodId).to.equal(METHOD);
      expect(j.price).to.equal(PRICE);
      expect(j.deadline).to.equal(deadline);
    });

    it("accepts a price equal to the escrow, and assignment at the deadline itself", async function () {
      const { market, matcher, provider, jobId, deadline } = await loadFixture(openFixture);
      await time.setNextBlockTimestamp(deadline);
      await expect(market.connect(matcher).assignJob(jobId, provider.address, METHOD, ESCROW))
        .to.emit(market, "JobAssigned")
        .withArgs(jobId, provider.address, METHOD, ESCROW);
    });

    it("only MATCHER_ROLE may assign", async function () {
      const { market, provider, other, jobId, roles } = await loadFixture(openFixture);
      await expect(market.connect(other).assignJob(jobId, provider.address, METHOD, PRICE))
        .to.be.revertedWithCustomError(market, "AccessControlUnauthorizedAccount")
        .withArgs(other.address, roles.MATCHER_ROLE);
      await expect(market.connect(provider).assignJob(jobId, provider.address, METHOD, PRICE))
        .to.be.revertedWithCustomError(market, "AccessControlUnauthorizedAccount")
        .withArgs(provider.address, roles.MATCHER_ROLE);
    });

    it("reverts WrongStatus when not open", async function () {
      const { market, matcher, provider, jobId } = await loadFixture(assignedFixture);
      await expect(market.connect(matcher).assignJob(jobId, provider.address, METHOD, PRICE))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Assigned, S.Open);
    });

    it("reverts DeadlinePassed", async function () {
      const { market, matcher, provider, jobId, deadline } = await loadFixture(openFixture);
      await time.setNextBlockTimestamp(deadline + 1);
      await expect(market.connect(matcher).assignJob(jobId, provider.address, METHOD, PRICE))
        .to.be.revertedWithCustomError(market, "DeadlinePassed")
        .withArgs(deadline, deadline + 1);
    });

    it("reverts ZeroPrice and PriceExceedsEscrow", async function () {
      const { market, matcher, provider, jobId } = await loadFixture(openFixture);
      await expect(market.connect(matcher).assignJob(jobId, provider.address, METHOD, 0)).to.be.revertedWithCustomError(
        market,
        "ZeroPrice",
      );
      await expect(market.connect(matcher).assignJob(jobId, provider.address, METHOD, ESCROW + 1n))
        .to.be.revertedWithCustomError(market, "PriceExceedsEscrow")
        .withArgs(ESCROW + 1n, ESCROW);
    });

    it("reverts ProviderNotActive for an unregistered, under-staked or slashed provider", async function () {
      const f = await loadFixture(openFixture);
      const { market, registry, matcher, admin, provider, other, roles, jobId } = f;
      await expect(market.connect(matcher).assignJob(jobId, other.address, METHOD, PRICE))
        .to.be.revertedWithCustomError(market, "ProviderNotActive")
        .withArgs(other.address);
      await registry.connect(provider).requestUnstake(ETHER + 1n);
      await expect(market.connect(matcher).assignJob(jobId, provider.address, METHOD, PRICE))
        .to.be.revertedWithCustomError(market, "ProviderNotActive")
        .withArgs(provider.address);
      await registry.connect(provider).addStake({ value: ETHER });
      await registry.connect(admin).grantRole(roles.SLASHER_ROLE, admin.address);
      await registry.connect(admin).slash(provider.address, 1n, admin.address);
      await expect(market.connect(matcher).assignJob(jobId, provider.address, METHOD, PRICE))
        .to.be.revertedWithCustomError(market, "ProviderNotActive")
        .withArgs(provider.address);
    });
  });

  describe("submitResult", function () {
    it("the provider itself may submit; the event names the provider", async function () {
      const { market, provider, jobId } = await loadFixture(assignedFixture);
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
      const { market, provider, agent, jobId, deadline } = await loadFixture(assignedFixture);
      await time.setNextBlockTimestamp(deadline);
      await expect(market.connect(agent).submitResult(jobId, RESULT))
        .to.emit(market, "ResultSubmitted")
        .withArgs(jobId, provider.address, RESULT);
    });

    it("after a key rotation the new key may submit and the old one may not", async function () {
      const { market, registry, provider, agent, newAgent, jobId } = await loadFixture(assignedFixture);
      await registry.connect(provider).setAgent(newAgent.address);
      await expect(market.connect(agent).submitResult(jobId, RESULT))
        .to.be.revertedWithCustomError(market, "NotAssignedProvider")
        .withArgs(agent.address, provider.address);
      await expect(market.connect(newAgent).submitResult(jobId, RESULT)).to.emit(market, "ResultSubmitted");
    });

    it("reverts NotAssignedProvider for anyone else (client, another provider's agent)", async function () {
      const { market, registry, client, provider, provider2, agent2, jobId } = await loadFixture(assignedFixture);
      await registry.connect(provider2).register(agent2.address, HW, 1, "", { value: ETHER });
      for (const who of [client, provider2, agent2]) {
        await expect(market.connect(who).submitResult(jobId, RESULT))
          .to.be.revertedWithCustomError(market, "NotAssignedProvider")
          .withArgs(who.address, provider.address);
      }
    });

    it("reverts DeadlinePassed", async function () {
      const { market, provider, jobId, deadline } = await loadFixture(assignedFixture);
      await time.setNextBlockTimestamp(deadline + 1);
      await expect(market.connect(provider).submitResult(jobId, RESULT))
        .to.be.revertedWithCustomError(market, "DeadlinePassed")
        .withArgs(deadline, deadline + 1);
    });

    it("reverts ZeroResultHash", async function () {
      const { market, provider, jobId } = await loadFixture(assignedFixture);
      await expect(market.connect(provider).submitResult(jobId, ethers.ZeroHash)).to.be.revertedWithCustomError(
        market,
        "ZeroResultHash",
      );
    });

    it("reverts WrongStatus for an open job and for a second submission", async function () {
      const { market, provider, jobId } = await loadFixture(openFixture);
      await expect(market.connect(provider).submitResult(jobId, RESULT))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Open, S.Assigned);
      const s = await loadFixture(submittedFixture);
      await expect(s.market.connect(s.provider).submitResult(s.jobId, RESULT))
        .to.be.revertedWithCustomError(s.market, "WrongStatus")
        .withArgs(s.jobId, S.Submitted, S.Assigned);
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

    it("pays price - fee to the provider, the fee to the treasury and the rest to the client", async function () {
      const { market, provider, treasury, client, other, jobId, endsAt } = await loadFixture(submittedFixture);
      await time.setNextBlockTimestamp(endsAt);
      const tx = market.connect(other).finalize(jobId);
      await expect(tx)
        .to.emit(market, "JobFinalized")
        .withArgs(jobId, provider.address, PRICE - FEE, FEE, ESCROW - PRICE);
      await expect(tx).to.changeEtherBalance(market, 0);
      expect(await market.withdrawable(provider.address)).to.equal(PRICE - FEE);
      expect(await market.withdrawable(treasury.address)).to.equal(FEE);
      expect(await market.withdrawable(client.address)).to.equal(ESCROW - PRICE);
      expect((await market.getJob(jobId)).status).to.equal(S.Finalized);
    });

    it("reverts WrongStatus on a second finalize and before submission", async function () {
      const { market, other, jobId, endsAt } = await loadFixture(submittedFixture);
      await time.setNextBlockTimestamp(endsAt);
      await market.connect(other).finalize(jobId);
      await expect(market.connect(other).finalize(jobId))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Finalized, S.Submitted);
      const a = await loadFixture(assignedFixture);
      await expect(a.market.finalize(a.jobId))
        .to.be.revertedWithCustomError(a.market, "WrongStatus")
        .withArgs(a.jobId, S.Assigned, S.Submitted);
    });

    it("credits nothing to the treasury when the fee rounds to zero, nothing to the client when price == escrow", async function () {
      const f = await loadFixture(registeredFixture);
      const { market, matcher, provider, treasury, client } = f;
      const { jobId } = await createJob(f, { escrow: 49n });
      await market.connect(matcher).assignJob(jobId, provider.address, METHOD, 49n); // 49 * 2% -> 0
      await market.connect(provider).submitResult(jobId, RESULT);
      await time.increase(PARAMS.jobChallengeWindow);
      await expect(market.finalize(jobId)).to.emit(market, "JobFinalized").withArgs(jobId, provider.address, 49n, 0, 0);
      expect(await market.withdrawable(treasury.address)).to.equal(0n);
      expect(await market.withdrawable(client.address)).to.equal(0n);
      expect(await market.withdrawable(provider.address)).to.equal(49n);
    });
  });

  describe("dispute", function () {
    it("the client disputes within the window; finalize is then blocked", async function () {
      const { market, registry, client, provider, jobId, endsAt } = await loadFixture(submittedFixture);
      await time.setNextBlockTimestamp(endsAt - 1);
      const tx = market.connect(client).dispute(jobId);
      await expect(tx).to.emit(market, "JobDisputed").withArgs(jobId, client.address);
      // the dispute opens a case against the provider in the registry
      await expect(tx)
        .to.emit(registry, "CaseOpened")
        .withArgs(provider.address, 1, await market.getAddress());
      expect((await registry.getProvider(provider.address)).openCases).to.equal(1n);
      expect((await market.getJob(jobId)).status).to.equal(S.Disputed);
      await expect(market.finalize(jobId))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Disputed, S.Submitted);
    });

    it("reverts NotClient", async function () {
      const { market, client, provider, jobId } = await loadFixture(submittedFixture);
      await expect(market.connect(provider).dispute(jobId))
        .to.be.revertedWithCustomError(market, "NotClient")
        .withArgs(provider.address, client.address);
    });

    it("reverts ChallengeWindowClosed from submittedAt + challengeWindow on", async function () {
      const { market, client, jobId, endsAt } = await loadFixture(submittedFixture);
      await time.setNextBlockTimestamp(endsAt);
      await expect(market.connect(client).dispute(jobId))
        .to.be.revertedWithCustomError(market, "ChallengeWindowClosed")
        .withArgs(endsAt, endsAt);
    });

    it("reverts WrongStatus before submission and when already disputed", async function () {
      const { market, client, jobId } = await loadFixture(assignedFixture);
      await expect(market.connect(client).dispute(jobId))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Assigned, S.Submitted);
      const d = await loadFixture(disputedFixture);
      await expect(d.market.connect(d.client).dispute(d.jobId))
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

    it("provider at fault: the client is refunded in full and paid the price out of the provider's stake", async function () {
      const { market, registry, arbiter, provider, client, jobId } = await loadFixture(disputedFixture);
      const tx = market.connect(arbiter).resolveDispute(jobId, true);
      await expect(tx).to.emit(market, "JobRefunded").withArgs(jobId, client.address, ESCROW);
      await expect(tx).to.emit(market, "DisputeResolved").withArgs(jobId, true, PRICE);
      await expect(tx)
        .to.emit(registry, "Slashed")
        .withArgs(provider.address, client.address, PRICE, await market.getAddress());
      await expect(tx)
        .to.emit(registry, "CaseClosed")
        .withArgs(provider.address, 0, await market.getAddress());
      expect((await registry.getProvider(provider.address)).openCases).to.equal(0n);
      expect(await market.withdrawable(client.address)).to.equal(ESCROW);
      expect(await market.withdrawable(provider.address)).to.equal(0n);
      expect(await registry.withdrawable(client.address)).to.equal(PRICE);
      expect((await registry.getProvider(provider.address)).stake).to.equal(2n * ETHER - PRICE);
      expect(await registry.isActive(provider.address)).to.equal(false);
      expect((await market.getJob(jobId)).status).to.equal(S.Refunded);
      // settled: no refund, no second ruling
      await expect(market.refund(jobId))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Refunded, S.Assigned);
      await expect(market.connect(arbiter).resolveDispute(jobId, false))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Refunded, S.Disputed);
    });

    it("provider at fault: the slash is capped at the provider's slashable stake", async function () {
      const f = await loadFixture(registeredFixture);
      const { market, registry, matcher, arbiter, provider, client } = f;
      const { jobId } = await createJob(f, { escrow: 5n * ETHER });
      await market.connect(matcher).assignJob(jobId, provider.address, METHOD, 3n * ETHER);
      await market.connect(provider).submitResult(jobId, RESULT);
      await market.connect(client).dispute(jobId);
      await expect(market.connect(arbiter).resolveDispute(jobId, true))
        .to.emit(market, "DisputeResolved")
        .withArgs(jobId, true, 2n * ETHER);
      expect(await registry.withdrawable(client.address)).to.equal(2n * ETHER);
      expect(await market.withdrawable(client.address)).to.equal(5n * ETHER);
    });

    it("provider not at fault: settled as a normal finalization", async function () {
      const { market, registry, arbiter, provider, treasury, client, jobId } = await loadFixture(disputedFixture);
      const tx = market.connect(arbiter).resolveDispute(jobId, false);
      await expect(tx)
        .to.emit(market, "JobFinalized")
        .withArgs(jobId, provider.address, PRICE - FEE, FEE, ESCROW - PRICE);
      await expect(tx).to.emit(market, "DisputeResolved").withArgs(jobId, false, 0);
      await expect(tx).to.not.emit(registry, "Slashed");
      await expect(tx)
        .to.emit(registry, "CaseClosed")
        .withArgs(provider.address, 0, await market.getAddress());
      expect((await registry.getProvider(provider.address)).openCases).to.equal(0n);
      expect(await market.withdrawable(provider.address)).to.equal(PRICE - FEE);
      expect(await market.withdrawable(treasury.address)).to.equal(FEE);
      expect(await market.withdrawable(client.address)).to.equal(ESCROW - PRICE);
      expect((await market.getJob(jobId)).status).to.equal(S.Finalized);
      expect(await registry.isActive(provider.address)).to.equal(true);
    });

    it("reverts WrongStatus when the job is not disputed", async function () {
      const { market, arbiter, jobId } = await loadFixture(submittedFixture);
      await expect(market.connect(arbiter).resolveDispute(jobId, true))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Submitted, S.Disputed);
    });

    it("a disputed job blocks the provider's completeUnstake (CasesPending) until the ruling; at fault, the slash reaches the blocked stake", async function () {
      const { market, registry, arbiter, provider, client, jobId } = await loadFixture(disputedFixture);
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake((18n * ETHER) / 10n); // 0.2 active, 1.8 pending
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await expect(registry.connect(provider).completeUnstake())
        .to.be.revertedWithCustomError(registry, "CasesPending")
        .withArgs(1);
      // PRICE (0.6) is taken: 0.2 active, then 0.4 of the pending stake
      await expect(market.connect(arbiter).resolveDispute(jobId, true))
        .to.emit(market, "DisputeResolved")
        .withArgs(jobId, true, PRICE);
      expect(await registry.withdrawable(client.address)).to.equal(PRICE);
      const left = 2n * ETHER - PRICE;
      expect((await registry.getProvider(provider.address)).pendingUnstake).to.equal(left);
      await expect(registry.connect(provider).completeUnstake())
        .to.emit(registry, "UnstakeCompleted")
        .withArgs(provider.address, left);
      expect(await registry.withdrawable(provider.address)).to.equal(left);
    });

    it("a disputed job blocks completeUnstake until the ruling; not at fault, the provider unstakes everything it asked for", async function () {
      const { market, registry, arbiter, provider, jobId } = await loadFixture(disputedFixture);
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(2n * ETHER);
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await expect(registry.connect(provider).completeUnstake())
        .to.be.revertedWithCustomError(registry, "CasesPending")
        .withArgs(1);
      await market.connect(arbiter).resolveDispute(jobId, false);
      await expect(registry.connect(provider).completeUnstake())
        .to.emit(registry, "UnstakeCompleted")
        .withArgs(provider.address, 2n * ETHER);
      expect(await registry.withdrawable(provider.address)).to.equal(2n * ETHER);
      expect(await market.withdrawable(provider.address)).to.equal(PRICE - FEE);
    });

    it("cases from job disputes and attestation challenges add up in the one registry counter", async function () {
      const { market, registry, attest, arbiter, provider, agent, challenger, jobId } = await loadFixture(disputedFixture);
      const a = makeAttestation(provider.address, 1, await time.latest());
      const sig = await signAttestation(agent, attest, a);
      await attest.connect(challenger).challengeAttestation(a, sig, ethers.id("counter"), {
        value: PARAMS.minChallengeBond,
      });
      expect((await registry.getProvider(provider.address)).openCases).to.equal(2n);
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(ETHER / 2n);
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await expect(registry.connect(provider).completeUnstake())
        .to.be.revertedWithCustomError(registry, "CasesPending")
        .withArgs(2);
      await market.connect(arbiter).resolveDispute(jobId, false);
      await expect(registry.connect(provider).completeUnstake())
        .to.be.revertedWithCustomError(registry, "CasesPending")
        .withArgs(1);
      await attest.connect(arbiter).resolveChallenge(1, false);
      await expect(registry.connect(provider).completeUnstake())
        .to.emit(registry, "UnstakeCompleted")
        .withArgs(provider.address, ETHER / 2n);
    });

    it("a job finalized without a dispute never opens a case", async function () {
      const { market, registry, provider, jobId, endsAt } = await loadFixture(submittedFixture);
      await time.setNextBlockTimestamp(endsAt);
      await expect(market.finalize(jobId)).to.not.emit(registry, "CaseOpened");
      expect((await registry.getProvider(provider.address)).openCases).to.equal(0n);
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

    it("refunds an Open job after its deadline (callable by anyone, credited to the client)", async function () {
      const { market, client, other, jobId, deadline } = await loadFixture(openFixture);
      await time.setNextBlockTimestamp(deadline + 1);
      await expect(market.connect(other).refund(jobId)).to.emit(market, "JobRefunded").withArgs(jobId, client.address, ESCROW);
      expect(await market.withdrawable(client.address)).to.equal(ESCROW);
      expect(await market.withdrawable(other.address)).to.equal(0n);
      expect((await market.getJob(jobId)).status).to.equal(S.Refunded);
      await expect(market.refund(jobId))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Refunded, S.Assigned);
    });

    it("refunds an Assigned job whose provider never delivered", async function () {
      const { market, client, provider, jobId, deadline } = await loadFixture(assignedFixture);
      await time.setNextBlockTimestamp(deadline + 1);
      await expect(market.connect(client).refund(jobId)).to.emit(market, "JobRefunded").withArgs(jobId, client.address, ESCROW);
      expect(await market.withdrawable(client.address)).to.equal(ESCROW);
      await expect(market.connect(provider).submitResult(jobId, RESULT))
        .to.be.revertedWithCustomError(market, "WrongStatus")
        .withArgs(jobId, S.Refunded, S.Assigned);
    });

    it("reverts WrongStatus after submission, dispute or cancellation", async function () {
      const s = await loadFixture(submittedFixture);
      await time.setNextBlockTimestamp(s.deadline + 1);
      await expect(s.market.refund(s.jobId))
        .to.be.revertedWithCustomError(s.market, "WrongStatus")
        .withArgs(s.jobId, S.Submitted, S.Assigned);
      const d = await loadFixture(disputedFixture);
      await time.setNextBlockTimestamp(d.deadline + 1);
      await expect(d.market.refund(d.jobId))
        .to.be.revertedWithCustomError(d.market, "WrongStatus")
        .withArgs(d.jobId, S.Disputed, S.Assigned);
      const o = await loadFixture(openFixture);
      await o.market.connect(o.client).cancelJob(o.jobId);
      await time.setNextBlockTimestamp(o.deadline + 1);
      await expect(o.market.refund(o.jobId))
        .to.be.revertedWithCustomError(o.market, "WrongStatus")
        .withArgs(o.jobId, S.Cancelled, S.Assigned);
    });
  });

  describe("UnknownJob", function () {
    it("every job function reverts UnknownJob for ids that were never created", async function () {
      const { market, client, matcher, arbiter, provider, jobId } = await loadFixture(openFixture);
      for (const id of [0n, jobId + 1n, 2n ** 256n - 1n]) {
        const calls = [
          () => market.connect(client).cancelJob(id),
          () => market.connect(client).dispute(id),
          () => market.refund(id),
          () => market.connect(matcher).assignJob(id, provider.address, METHOD, PRICE),
          () => market.connect(provider).submitResult(id, RESULT),
          () => market.finalize(id),
          () => market.connect(arbiter).resolveDispute(id, true),
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
        await expect(tx).to.emit(market, "Withdrawn").withArgs(who.address, amount);
        const after = await ethers.provider.getBalance(who.address);
        expect(after - before + (await gasCost(tx))).to.equal(amount);
        expect(await market.withdrawable(who.address)).to.equal(0n);
        await expect(market.connect(who).withdraw())
          .to.be.revertedWithCustomError(market, "NothingToWithdraw")
          .withArgs(who.address);
      }
      expect(await ethers.provider.getBalance(await market.getAddress())).to.equal(0n);
    });

    it("reverts TransferFailed when the receiver rejects ETH", async function () {
      // ProviderRegistry has no receive/fallback: let it be a client whose job is cancelled
      const { market, registry } = await loadFixture(registeredFixture);
      const regAddr = await registry.getAddress();
      const asRegistry = await impersonate(regAddr);
      await market.connect(asRegistry).createJob(SPEC, MODEL, WORKLOAD, (await time.latest()) + DAY, { value: ESCROW });
      await market.connect(asRegistry).cancelJob(1);
      await expect(market.connect(asRegistry).withdraw())
        .to.be.revertedWithCustomError(market, "TransferFailed")
        .withArgs(regAddr, ESCROW);
      expect(await market.withdrawable(regAddr)).to.equal(ESCROW);
    });
  });

  describe("balance invariant", function () {
    it("balance == escrow of unsettled jobs + sum(withdrawable) after every step of a scripted sequence", async function () {
      const f = await loadFixture(registeredFixture);
      const { market, registry, matcher, arbiter, provider, agent, provider2, agent2, client, other, treasury } = f;
      await registry.connect(provider2).register(agent2.address, HW, 1, "", { value: 3n * ETHER });
      const accounts = [provider, provider2, client, other, treasury].map((s) => s.address);
      const unsettled = [S.Open, S.Assigned, S.Submitted, S.Disputed];
      const check = async () => {
        let sum = 0n;
        const n = await market.jobCount();
        for (let id = 1n; id <= n; id++) {
          const j = await market.getJob(id);
          if (unsettled.includes(j.status)) sum += j.escrow;
        }
        for (const a of accounts) sum += await market.withdrawable(a);
        expect(await ethers.provider.getBalance(await market.getAddress())).to.equal(sum);
      };
      const now = await time.latest();
      const mk = async (who, escrow, deadline) => {
        await market.connect(who).createJob(SPEC, MODEL, WORKLOAD, deadline, { value: escrow });
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
      const j4 = await mk(client, ETHER / 3n, now + DAY); // cancelled
      const j5 = await mk(other, 7n, now + 600); // assigned, refunded after deadline
      const j6 = await mk(client, ETHER, now + 600); // open, refunded after deadline
      const j7 = await mk(client, ETHER, now + 2 * DAY); // left open
      const j8 = await mk(other, ETHER, now + 2 * DAY); // left submitted

      await step(market.connect(matcher).assignJob(j1, provider.address, METHOD, ETHER / 2n));
      await step(market.connect(matcher).assignJob(j2, provider.address, METHOD, ETHER));
      await step(market.connect(matcher).assignJob(j3, provider2.address, METHOD, 3n * ETHER));
      await step(market.connect(matcher).assignJob(j5, provider2.address, METHOD, 5n));
      await step(market.connect(matcher).assignJob(j8, provider2.address, METHOD, ETHER / 7n));
      await step(market.connect(client).cancelJob(j4));
      await step(market.connect(agent).submitResult(j1, RESULT));
      await step(market.connect(provider).submitResult(j2, RESULT));
      await step(market.connect(agent2).submitResult(j3, RESULT));
      await step(market.connect(client).dispute(j2));
      await step(market.connect(other).dispute(j3));
      await step(market.connect(client).withdraw());
      await time.increase(PARAMS.jobChallengeWindow);
      await step(market.connect(provider2).submitResult(j8, RESULT));
      await step(market.finalize(j1));
      await step(market.connect(arbiter).resolveDispute(j2, true));
      await step(market.connect(arbiter).resolveDispute(j3, false));
      await time.increase(600);
      await step(market.refund(j5));
      await step(market.refund(j6));
      for (const who of [provider, provider2, treasury, other]) await step(market.connect(who).withdraw());

      const statuses = [];
      for (const id of [j1, j2, j3, j4, j5, j6, j7, j8]) statuses.push((await market.getJob(id)).status);
      expect(statuses).to.deep.equal([
        S.Finalized,
        S.Refunded,
        S.Finalized,
        S.Cancelled,
        S.Refunded,
        S.Refunded,
        S.Open,
        S.Submitted,
      ]);
      // both disputes were ruled on: no case is left open against either provider
      expect((await registry.getProvider(provider.address)).openCases).to.equal(0n);
      expect((await registry.getProvider(provider2.address)).openCases).to.equal(0n);
      // only the client's refunds and the two live jobs remain
      expect(await ethers.provider.getBalance(await market.getAddress())).to.equal(
        (await market.withdrawable(client.address)) + 2n * ETHER,
      );
    });
  });
});
