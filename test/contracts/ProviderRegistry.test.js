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
  METADATA,
  deployFixture,
  registeredFixture,
  pinNextTimestamp,
  impersonate,
  gasCost,
} = require("./fixtures");

describe("ProviderRegistry", function () {
  /** registeredFixture plus a plain signer (`arbiter`) with SLASHER_ROLE, to drive slash/openCase/closeCase directly. */
  async function slasherFixture() {
    const f = await registeredFixture();
    await f.registry.connect(f.admin).grantRole(f.roles.SLASHER_ROLE, f.arbiter.address);
    return f;
  }

  describe("constructor", function () {
    it("stores the parameters and grants DEFAULT_ADMIN_ROLE to admin", async function () {
      const { registry, admin } = await loadFixture(deployFixture);
      expect(await registry.minStake()).to.equal(PARAMS.minStake);
      expect(await registry.unstakeCooldown()).to.equal(PARAMS.unstakeCooldown);
      expect(await registry.hasRole(await registry.DEFAULT_ADMIN_ROLE(), admin.address)).to.equal(true);
      expect(await registry.SLASHER_ROLE()).to.equal(ethers.id("SLASHER_ROLE"));
    });

    it("reverts ZeroAddress for a zero admin", async function () {
      const { registry } = await loadFixture(deployFixture);
      await expect(
        ethers.deployContract("ProviderRegistry", [ethers.ZeroAddress, PARAMS.minStake, PARAMS.unstakeCooldown]),
      ).to.be.revertedWithCustomError(registry, "ZeroAddress");
    });
  });

  describe("register", function () {
    it("registers a provider, stores every field and emits ProviderRegistered", async function () {
      const { registry, provider, agent } = await loadFixture(deployFixture);
      const stake = 3n * ETHER;
      const tx = registry.connect(provider).register(agent.address, HW, PRICE_PER_SEC, METADATA, { value: stake });
      await expect(tx)
        .to.emit(registry, "ProviderRegistered")
        .withArgs(provider.address, agent.address, HW, stake, PRICE_PER_SEC, METADATA);
      await expect(tx).to.changeEtherBalances([provider, registry], [-stake, stake]);
      const p = await registry.getProvider(provider.address);
      expect(p.agent).to.equal(agent.address);
      expect(p.registered).to.equal(true);
      expect(p.slashed).to.equal(false);
      expect(p.openCases).to.equal(0n);
      expect(p.stake).to.equal(stake);
      expect(p.pendingUnstake).to.equal(0n);
      expect(p.unstakeReadyAt).to.equal(0n);
      expect(p.pricePerSecond).to.equal(PRICE_PER_SEC);
      expect(p.hardwareId).to.equal(HW);
      expect(p.metadataURI).to.equal(METADATA);
      expect(await registry.providerOfAgent(agent.address)).to.equal(provider.address);
      expect(await registry.agentOf(provider.address)).to.equal(agent.address);
      expect(await registry.pricePerSecond(provider.address)).to.equal(PRICE_PER_SEC);
      expect(await registry.slashableStake(provider.address)).to.equal(stake);
      expect(await registry.isActive(provider.address)).to.equal(true);
      expect(await registry.activeAgent(provider.address)).to.equal(agent.address);
    });

    it("accepts exactly the minimum stake, and the provider's own address as agent", async function () {
      const { registry, provider } = await loadFixture(deployFixture);
      await expect(
        registry.connect(provider).register(provider.address, HW, 0, "", { value: PARAMS.minStake }),
      ).to.emit(registry, "ProviderRegistered");
      expect(await registry.isActive(provider.address)).to.equal(true);
      expect(await registry.providerOfAgent(provider.address)).to.equal(provider.address);
    });

    it("reverts AlreadyRegistered on a second registration", async function () {
      const { registry, provider, agent } = await loadFixture(registeredFixture);
      await expect(registry.connect(provider).register(agent.address, HW, 1, "", { value: ETHER }))
        .to.be.revertedWithCustomError(registry, "AlreadyRegistered")
        .withArgs(provider.address);
    });

    it("reverts StakeBelowMinimum", async function () {
      const { registry, provider, agent } = await loadFixture(deployFixture);
      const value = PARAMS.minStake - 1n;
      await expect(registry.connect(provider).register(agent.address, HW, 1, "", { value }))
        .to.be.revertedWithCustomError(registry, "StakeBelowMinimum")
        .withArgs(value, PARAMS.minStake);
      await expect(registry.connect(provider).register(agent.address, HW, 1, ""))
        .to.be.revertedWithCustomError(registry, "StakeBelowMinimum")
        .withArgs(0, PARAMS.minStake);
    });

    it("reverts ZeroAddress for a zero agent", async function () {
      const { registry, provider } = await loadFixture(deployFixture);
      await expect(
        registry.connect(provider).register(ethers.ZeroAddress, HW, 1, "", { value: ETHER }),
      ).to.be.revertedWithCustomError(registry, "ZeroAddress");
    });

    it("reverts AgentAlreadyBound when the agent key is bound to another provider", async function () {
      const { registry, provider, provider2, agent } = await loadFixture(registeredFixture);
      await expect(registry.connect(provider2).register(agent.address, HW, 1, "", { value: ETHER }))
        .to.be.revertedWithCustomError(registry, "AgentAlreadyBound")
        .withArgs(agent.address, provider.address);
    });
  });

  describe("addStake", function () {
    it("adds to the active stake and emits StakeAdded", async function () {
      const { registry, provider } = await loadFixture(registeredFixture);
      const tx = registry.connect(provider).addStake({ value: ETHER });
      await expect(tx).to.emit(registry, "StakeAdded").withArgs(provider.address, ETHER, 3n * ETHER);
      await expect(tx).to.changeEtherBalance(registry, ETHER);
      expect((await registry.getProvider(provider.address)).stake).to.equal(3n * ETHER);
    });

    it("reverts ZeroAmount", async function () {
      const { registry, provider } = await loadFixture(registeredFixture);
      await expect(registry.connect(provider).addStake()).to.be.revertedWithCustomError(registry, "ZeroAmount");
    });

    it("reverts NotRegistered", async function () {
      const { registry, other } = await loadFixture(registeredFixture);
      await expect(registry.connect(other).addStake({ value: ETHER }))
        .to.be.revertedWithCustomError(registry, "NotRegistered")
        .withArgs(other.address);
    });

    it("re-activates a provider whose active stake fell below the minimum", async function () {
      const { registry, provider } = await loadFixture(registeredFixture);
      await registry.connect(provider).requestUnstake(ETHER + 1n);
      expect(await registry.isActive(provider.address)).to.equal(false);
      await registry.connect(provider).addStake({ value: 1n });
      expect(await registry.isActive(provider.address)).to.equal(true);
    });
  });

  describe("setAgent", function () {
    it("rotates the agent key, emits AgentChanged and keeps the old binding", async function () {
      const { registry, provider, agent, newAgent } = await loadFixture(registeredFixture);
      await expect(registry.connect(provider).setAgent(newAgent.address))
        .to.emit(registry, "AgentChanged")
        .withArgs(provider.address, agent.address, newAgent.address);
      expect(await registry.agentOf(provider.address)).to.equal(newAgent.address);
      expect(await registry.activeAgent(provider.address)).to.equal(newAgent.address);
      expect(await registry.providerOfAgent(newAgent.address)).to.equal(provider.address);
      // the old key stays attributable to the provider
      expect(await registry.providerOfAgent(agent.address)).to.equal(provider.address);
    });

    it("lets a provider rotate back to one of its own old keys", async function () {
      const { registry, provider, agent, newAgent } = await loadFixture(registeredFixture);
      await registry.connect(provider).setAgent(newAgent.address);
      await expect(registry.connect(provider).setAgent(agent.address))
        .to.emit(registry, "AgentChanged")
        .withArgs(provider.address, newAgent.address, agent.address);
      expect(await registry.agentOf(provider.address)).to.equal(agent.address);
    });

    it("keeps a rotated-away key bound, so no other provider can take it", async function () {
      const { registry, provider, provider2, agent, newAgent } = await loadFixture(registeredFixture);
      await registry.connect(provider).setAgent(newAgent.address);
      await expect(registry.connect(provider2).register(agent.address, HW, 1, "", { value: ETHER }))
        .to.be.revertedWithCustomError(registry, "AgentAlreadyBound")
        .withArgs(agent.address, provider.address);
    });

    it("reverts ZeroAddress, AgentAlreadyBound and NotRegistered", async function () {
      const { registry, provider, provider2, agent, agent2, other } = await loadFixture(registeredFixture);
      await registry.connect(provider2).register(agent2.address, HW, 1, "", { value: ETHER });
      await expect(registry.connect(provider).setAgent(ethers.ZeroAddress)).to.be.revertedWithCustomError(
        registry,
        "ZeroAddress",
      );
      await expect(registry.connect(provider).setAgent(agent2.address))
        .to.be.revertedWithCustomError(registry, "AgentAlreadyBound")
        .withArgs(agent2.address, provider2.address);
      await expect(registry.connect(other).setAgent(agent.address))
        .to.be.revertedWithCustomError(registry, "NotRegistered")
        .withArgs(other.address);
    });
  });

  describe("setPrice / setMetadata", function () {
    it("setPrice updates the price and emits PriceChanged", async function () {
      const { registry, provider } = await loadFixture(registeredFixture);
      await expect(registry.connect(provider).setPrice(42n)).to.emit(registry, "PriceChanged").withArgs(provider.address, 42n);
      expect(await registry.pricePerSecond(provider.address)).to.equal(42n);
    });

    it("setMetadata updates hardware id and URI and emits MetadataChanged", async function () {
      const { registry, provider } = await loadFixture(registeredFixture);
      await expect(registry.connect(provider).setMetadata(HW2, "ipfs://new"))
        .to.emit(registry, "MetadataChanged")
        .withArgs(provider.address, HW2, "ipfs://new");
      const p = await registry.getProvider(provider.address);
      expect(p.hardwareId).to.equal(HW2);
      expect(p.metadataURI).to.equal("ipfs://new");
    });

    it("both revert NotRegistered for a stranger", async function () {
      const { registry, other } = await loadFixture(registeredFixture);
      await expect(registry.connect(other).setPrice(1))
        .to.be.revertedWithCustomError(registry, "NotRegistered")
        .withArgs(other.address);
      await expect(registry.connect(other).setMetadata(HW, "x"))
        .to.be.revertedWithCustomError(registry, "NotRegistered")
        .withArgs(other.address);
    });
  });

  describe("unstaking", function () {
    it("requestUnstake moves stake into cooldown and emits UnstakeRequested", async function () {
      const { registry, provider } = await loadFixture(registeredFixture);
      const t = await pinNextTimestamp();
      const readyAt = t + PARAMS.unstakeCooldown;
      await expect(registry.connect(provider).requestUnstake(ETHER / 2n))
        .to.emit(registry, "UnstakeRequested")
        .withArgs(provider.address, ETHER / 2n, readyAt);
      const p = await registry.getProvider(provider.address);
      expect(p.stake).to.equal(ETHER + ETHER / 2n);
      expect(p.pendingUnstake).to.equal(ETHER / 2n);
      expect(p.unstakeReadyAt).to.equal(readyAt);
      expect(await registry.slashableStake(provider.address)).to.equal(2n * ETHER);
    });

    it("requestUnstake reverts ZeroAmount, UnstakePending, InsufficientStake and NotRegistered", async function () {
      const { registry, provider, other } = await loadFixture(registeredFixture);
      await expect(registry.connect(provider).requestUnstake(0)).to.be.revertedWithCustomError(registry, "ZeroAmount");
      await expect(registry.connect(provider).requestUnstake(2n * ETHER + 1n))
        .to.be.revertedWithCustomError(registry, "InsufficientStake")
        .withArgs(2n * ETHER + 1n, 2n * ETHER);
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(ETHER);
      await expect(registry.connect(provider).requestUnstake(1n))
        .to.be.revertedWithCustomError(registry, "UnstakePending")
        .withArgs(t + PARAMS.unstakeCooldown);
      await expect(registry.connect(other).requestUnstake(1n))
        .to.be.revertedWithCustomError(registry, "NotRegistered")
        .withArgs(other.address);
    });

    it("unstaking the whole stake deactivates the provider", async function () {
      const { registry, provider } = await loadFixture(registeredFixture);
      await registry.connect(provider).requestUnstake(2n * ETHER);
      expect(await registry.isActive(provider.address)).to.equal(false);
      await expect(registry.activeAgent(provider.address))
        .to.be.revertedWithCustomError(registry, "StakeBelowMinimum")
        .withArgs(0, PARAMS.minStake);
    });

    it("completeUnstake reverts CooldownNotOver until the cooldown ends, then credits withdrawable", async function () {
      const { registry, provider } = await loadFixture(registeredFixture);
      const t0 = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(ETHER);
      const readyAt = t0 + PARAMS.unstakeCooldown;

      const t1 = await pinNextTimestamp();
      await expect(registry.connect(provider).completeUnstake())
        .to.be.revertedWithCustomError(registry, "CooldownNotOver")
        .withArgs(readyAt, t1);
      await time.setNextBlockTimestamp(readyAt - 1);
      await expect(registry.connect(provider).completeUnstake())
        .to.be.revertedWithCustomError(registry, "CooldownNotOver")
        .withArgs(readyAt, readyAt - 1);

      await time.setNextBlockTimestamp(readyAt);
      const tx = registry.connect(provider).completeUnstake();
      await expect(tx).to.emit(registry, "UnstakeCompleted").withArgs(provider.address, ETHER);
      await expect(tx).to.changeEtherBalance(registry, 0);
      const p = await registry.getProvider(provider.address);
      expect(p.pendingUnstake).to.equal(0n);
      expect(p.unstakeReadyAt).to.equal(0n);
      expect(p.stake).to.equal(ETHER);
      expect(await registry.withdrawable(provider.address)).to.equal(ETHER);
      expect(await registry.slashableStake(provider.address)).to.equal(ETHER);

      // a new request is possible again
      await expect(registry.connect(provider).requestUnstake(1n)).to.emit(registry, "UnstakeRequested");
    });

    it("completeUnstake reverts ZeroAmount when nothing is pending, NotRegistered for a stranger", async function () {
      const { registry, provider, other } = await loadFixture(registeredFixture);
      await expect(registry.connect(provider).completeUnstake()).to.be.revertedWithCustomError(registry, "ZeroAmount");
      await expect(registry.connect(other).completeUnstake())
        .to.be.revertedWithCustomError(registry, "NotRegistered")
        .withArgs(other.address);
    });
  });

  describe("slash", function () {
    it("only SLASHER_ROLE may slash", async function () {
      const { registry, provider, other, roles } = await loadFixture(slasherFixture);
      await expect(registry.connect(other).slash(provider.address, 1n, other.address))
        .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
        .withArgs(other.address, roles.SLASHER_ROLE);
    });

    it("the deployment grants SLASHER_ROLE to AttestationRegistry and JobMarket", async function () {
      const { registry, attest, market, roles } = await loadFixture(deployFixture);
      expect(await registry.hasRole(roles.SLASHER_ROLE, await attest.getAddress())).to.equal(true);
      expect(await registry.hasRole(roles.SLASHER_ROLE, await market.getAddress())).to.equal(true);
    });

    it("slashes active stake, credits the beneficiary, marks the provider slashed", async function () {
      const { registry, provider, arbiter, other } = await loadFixture(slasherFixture);
      await expect(registry.connect(arbiter).slash(provider.address, ETHER / 4n, other.address))
        .to.emit(registry, "Slashed")
        .withArgs(provider.address, other.address, ETHER / 4n, arbiter.address);
      const p = await registry.getProvider(provider.address);
      expect(p.stake).to.equal(2n * ETHER - ETHER / 4n);
      expect(p.slashed).to.equal(true);
      expect(await registry.withdrawable(other.address)).to.equal(ETHER / 4n);
      // stake is still above the minimum, but a slashed provider is out for good
      expect(await registry.isActive(provider.address)).to.equal(false);
      await expect(registry.activeAgent(provider.address))
        .to.be.revertedWithCustomError(registry, "ProviderIsSlashed")
        .withArgs(provider.address);
    });

    it("takes active stake first, then pending unstake, capped at their sum", async function () {
      const { registry, provider, arbiter, other } = await loadFixture(slasherFixture);
      await registry.connect(provider).requestUnstake(ETHER / 2n); // stake 1.5, pending 0.5
      // 1.6 ETH: 1.5 from stake, 0.1 from pending
      await registry.connect(arbiter).slash(provider.address, ETHER + (6n * ETHER) / 10n, other.address);
      let p = await registry.getProvider(provider.address);
      expect(p.stake).to.equal(0n);
      expect(p.pendingUnstake).to.equal((4n * ETHER) / 10n);
      // asking for far more takes only what is left
      await expect(registry.connect(arbiter).slash(provider.address, 100n * ETHER, other.address))
        .to.emit(registry, "Slashed")
        .withArgs(provider.address, other.address, (4n * ETHER) / 10n, arbiter.address);
      p = await registry.getProvider(provider.address);
      expect(p.stake).to.equal(0n);
      expect(p.pendingUnstake).to.equal(0n);
      expect(await registry.slashableStake(provider.address)).to.equal(0n);
      expect(await registry.withdrawable(other.address)).to.equal(2n * ETHER);
      // nothing left to complete
      await expect(registry.connect(provider).completeUnstake()).to.be.revertedWithCustomError(registry, "ZeroAmount");
    });

    it("a slash of zero still marks the provider slashed", async function () {
      const { registry, provider, arbiter, other } = await loadFixture(slasherFixture);
      await expect(registry.connect(arbiter).slash(provider.address, 0, other.address))
        .to.emit(registry, "Slashed")
        .withArgs(provider.address, other.address, 0, arbiter.address);
      expect((await registry.getProvider(provider.address)).slashed).to.equal(true);
    });

    it("reverts ZeroAddress for a zero beneficiary and NotRegistered for an unknown provider", async function () {
      const { registry, provider, arbiter, other } = await loadFixture(slasherFixture);
      await expect(
        registry.connect(arbiter).slash(provider.address, 1n, ethers.ZeroAddress),
      ).to.be.revertedWithCustomError(registry, "ZeroAddress");
      await expect(registry.connect(arbiter).slash(other.address, 1n, arbiter.address))
        .to.be.revertedWithCustomError(registry, "NotRegistered")
        .withArgs(other.address);
    });

    it("a slashed provider can still recover what is left through the cooldown", async function () {
      const { registry, provider, arbiter, other } = await loadFixture(slasherFixture);
      await registry.connect(arbiter).slash(provider.address, ETHER / 2n, other.address);
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(ETHER + ETHER / 2n);
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await registry.connect(provider).completeUnstake();
      expect(await registry.withdrawable(provider.address)).to.equal(ETHER + ETHER / 2n);
    });
  });

  describe("activeAgent / isActive", function () {
    it("reverts NotRegistered for an unknown provider", async function () {
      const { registry, other } = await loadFixture(deployFixture);
      expect(await registry.isActive(other.address)).to.equal(false);
      expect(await registry.agentOf(other.address)).to.equal(ethers.ZeroAddress);
      await expect(registry.activeAgent(other.address))
        .to.be.revertedWithCustomError(registry, "NotRegistered")
        .withArgs(other.address);
    });

    it("reverts StakeBelowMinimum when the active stake is below the minimum", async function () {
      const { registry, provider } = await loadFixture(registeredFixture);
      await registry.connect(provider).requestUnstake(ETHER + 1n);
      expect(await registry.isActive(provider.address)).to.equal(false);
      await expect(registry.activeAgent(provider.address))
        .to.be.revertedWithCustomError(registry, "StakeBelowMinimum")
        .withArgs(ETHER - 1n, PARAMS.minStake);
    });
  });

  describe("withdraw", function () {
    it("reverts NothingToWithdraw", async function () {
      const { registry, provider } = await loadFixture(registeredFixture);
      await expect(registry.connect(provider).withdraw())
        .to.be.revertedWithCustomError(registry, "NothingToWithdraw")
        .withArgs(provider.address);
    });

    it("transfers exactly the withdrawable amount once", async function () {
      const { registry, provider } = await loadFixture(registeredFixture);
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(ETHER);
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await registry.connect(provider).completeUnstake();

      const before = await ethers.provider.getBalance(provider.address);
      const tx = await registry.connect(provider).withdraw();
      await expect(tx).to.emit(registry, "Withdrawn").withArgs(provider.address, ETHER);
      await expect(tx).to.changeEtherBalance(registry, -ETHER);
      const after = await ethers.provider.getBalance(provider.address);
      expect(after - before + (await gasCost(tx))).to.equal(ETHER);
      expect(await registry.withdrawable(provider.address)).to.equal(0n);
      expect(await ethers.provider.getBalance(await registry.getAddress())).to.equal(ETHER);
      await expect(registry.connect(provider).withdraw()).to.be.revertedWithCustomError(registry, "NothingToWithdraw");
    });

    it("reverts TransferFailed when the receiver rejects ETH", async function () {
      // JobMarket has no receive/fallback: credit it a slash, then withdraw as it.
      const { registry, market, provider, admin, roles } = await loadFixture(registeredFixture);
      await registry.connect(admin).grantRole(roles.SLASHER_ROLE, admin.address);
      const marketAddr = await market.getAddress();
      await registry.connect(admin).slash(provider.address, ETHER, marketAddr);
      const asMarket = await impersonate(marketAddr);
      await expect(registry.connect(asMarket).withdraw())
        .to.be.revertedWithCustomError(registry, "TransferFailed")
        .withArgs(marketAddr, ETHER);
      expect(await registry.withdrawable(marketAddr)).to.equal(ETHER);
    });
  });

  describe("accounting", function () {
    it("balance == sum(stake + pending) + sum(withdrawable) across a life cycle", async function () {
      const { registry, provider, provider2, agent2, admin, other, roles } = await loadFixture(registeredFixture);
      await registry.connect(admin).grantRole(roles.SLASHER_ROLE, admin.address);
      const accounts = [provider.address, provider2.address, other.address];
      const check = async () => {
        let sum = 0n;
        for (const a of accounts) sum += (await registry.slashableStake(a)) + (await registry.withdrawable(a));
        expect(await ethers.provider.getBalance(await registry.getAddress())).to.equal(sum);
      };
      await check();
      await registry.connect(provider2).register(agent2.address, HW, 1, "", { value: 5n * ETHER });
      await check();
      await registry.connect(provider).addStake({ value: ETHER });
      await check();
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(2n * ETHER);
      await check();
      await registry.connect(admin).slash(provider.address, 2n * ETHER, other.address);
      await check();
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await registry.connect(provider).completeUnstake();
      await check();
      await registry.connect(other).withdraw();
      await check();
      await registry.connect(provider).withdraw();
      await check();
    });
  });

  describe("open cases", function () {
    it("only SLASHER_ROLE may open or close a case (not the admin, not the provider)", async function () {
      const { registry, admin, provider, other, arbiter, roles } = await loadFixture(slasherFixture);
      await registry.connect(arbiter).openCase(provider.address);
      for (const who of [other, admin, provider]) {
        await expect(registry.connect(who).openCase(provider.address))
          .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
          .withArgs(who.address, roles.SLASHER_ROLE);
        await expect(registry.connect(who).closeCase(provider.address))
          .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
          .withArgs(who.address, roles.SLASHER_ROLE);
      }
      expect((await registry.getProvider(provider.address)).openCases).to.equal(1n);
    });

    it("openCase / closeCase count the provider's cases, emit CaseOpened / CaseClosed, and getProvider exposes the count", async function () {
      const { registry, provider, arbiter } = await loadFixture(slasherFixture);
      expect((await registry.getProvider(provider.address)).openCases).to.equal(0n);
      for (const n of [1n, 2n, 3n]) {
        await expect(registry.connect(arbiter).openCase(provider.address))
          .to.emit(registry, "CaseOpened")
          .withArgs(provider.address, n, arbiter.address);
        expect((await registry.getProvider(provider.address)).openCases).to.equal(n);
      }
      for (const n of [2n, 1n, 0n]) {
        await expect(registry.connect(arbiter).closeCase(provider.address))
          .to.emit(registry, "CaseClosed")
          .withArgs(provider.address, n, arbiter.address);
        expect((await registry.getProvider(provider.address)).openCases).to.equal(n);
      }
      // the count is bookkeeping only: stake, status and activity are untouched
      const p = await registry.getProvider(provider.address);
      expect(p.stake).to.equal(2n * ETHER);
      expect(p.slashed).to.equal(false);
      expect(await registry.isActive(provider.address)).to.equal(true);
    });

    it("closeCase reverts NoOpenCase when no case was ever opened, and once all are closed", async function () {
      const { registry, provider, arbiter } = await loadFixture(slasherFixture);
      await expect(registry.connect(arbiter).closeCase(provider.address))
        .to.be.revertedWithCustomError(registry, "NoOpenCase")
        .withArgs(provider.address);
      await registry.connect(arbiter).openCase(provider.address);
      await registry.connect(arbiter).closeCase(provider.address);
      await expect(registry.connect(arbiter).closeCase(provider.address))
        .to.be.revertedWithCustomError(registry, "NoOpenCase")
        .withArgs(provider.address);
    });

    it("both revert NotRegistered for an unknown provider and for the zero address", async function () {
      const { registry, arbiter, other } = await loadFixture(slasherFixture);
      for (const who of [other.address, ethers.ZeroAddress]) {
        await expect(registry.connect(arbiter).openCase(who))
          .to.be.revertedWithCustomError(registry, "NotRegistered")
          .withArgs(who);
        await expect(registry.connect(arbiter).closeCase(who))
          .to.be.revertedWithCustomError(registry, "NotRegistered")
          .withArgs(who);
      }
    });

    it("completeUnstake reverts CasesPending while any case is open, and completes once all are closed", async function () {
      const { registry, provider, arbiter } = await loadFixture(slasherFixture);
      await registry.connect(arbiter).openCase(provider.address);
      await registry.connect(arbiter).openCase(provider.address);
      // an open case does not stop the request itself, only its completion
      const t = await pinNextTimestamp();
      await expect(registry.connect(provider).requestUnstake(ETHER)).to.emit(registry, "UnstakeRequested");
      const readyAt = t + PARAMS.unstakeCooldown;
      // the cooldown is checked first
      await time.setNextBlockTimestamp(readyAt - 1);
      await expect(registry.connect(provider).completeUnstake())
        .to.be.revertedWithCustomError(registry, "CooldownNotOver")
        .withArgs(readyAt, readyAt - 1);
      await time.setNextBlockTimestamp(readyAt);
      await expect(registry.connect(provider).completeUnstake())
        .to.be.revertedWithCustomError(registry, "CasesPending")
        .withArgs(2);
      await registry.connect(arbiter).closeCase(provider.address);
      await expect(registry.connect(provider).completeUnstake())
        .to.be.revertedWithCustomError(registry, "CasesPending")
        .withArgs(1);
      // the blocked stake is still in cooldown, so still slashable
      const p = await registry.getProvider(provider.address);
      expect(p.pendingUnstake).to.equal(ETHER);
      expect(await registry.slashableStake(provider.address)).to.equal(2n * ETHER);
      await registry.connect(arbiter).closeCase(provider.address);
      await expect(registry.connect(provider).completeUnstake())
        .to.emit(registry, "UnstakeCompleted")
        .withArgs(provider.address, ETHER);
      expect(await registry.withdrawable(provider.address)).to.equal(ETHER);
    });

    it("a case opened after the cooldown ended still blocks a completion not yet made", async function () {
      const { registry, provider, arbiter } = await loadFixture(slasherFixture);
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(ETHER);
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown + 10 * DAY);
      await registry.connect(arbiter).openCase(provider.address);
      await expect(registry.connect(provider).completeUnstake())
        .to.be.revertedWithCustomError(registry, "CasesPending")
        .withArgs(1);
    });

    it("completeUnstake reports ZeroAmount before CasesPending when nothing is pending", async function () {
      const { registry, provider, arbiter } = await loadFixture(slasherFixture);
      await registry.connect(arbiter).openCase(provider.address);
      await expect(registry.connect(provider).completeUnstake()).to.be.revertedWithCustomError(registry, "ZeroAmount");
    });

    it("cases stay counted on a slashed provider, and block what it could otherwise recover", async function () {
      const { registry, provider, arbiter, other } = await loadFixture(slasherFixture);
      await registry.connect(arbiter).openCase(provider.address);
      await registry.connect(arbiter).slash(provider.address, ETHER / 2n, other.address);
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(ETHER + ETHER / 2n);
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await expect(registry.connect(provider).completeUnstake())
        .to.be.revertedWithCustomError(registry, "CasesPending")
        .withArgs(1);
      await registry.connect(arbiter).closeCase(provider.address);
      await registry.connect(provider).completeUnstake();
      expect(await registry.withdrawable(provider.address)).to.equal(ETHER + ETHER / 2n);
    });
  });

  describe("uint128 bound", function () {
    const UINT128_MAX = 2n ** 128n - 1n;

    async function richFixture() {
      const f = await deployFixture();
      // more than 2^128 wei, which no default hardhat account holds
      await ethers.provider.send("hardhat_setBalance", [f.provider.address, ethers.toQuantity(2n ** 130n)]);
      return f;
    }

    it("register() reverts StakeTooLarge for a stake that does not fit uint128 (nothing is kept)", async function () {
      const { registry, provider, agent } = await loadFixture(richFixture);
      for (const huge of [2n ** 128n, 2n ** 128n + PARAMS.minStake, 2n ** 129n]) {
        await expect(registry.connect(provider).register(agent.address, HW, 1, "", { value: huge }))
          .to.be.revertedWithCustomError(registry, "StakeTooLarge")
          .withArgs(huge);
      }
      expect((await registry.getProvider(provider.address)).registered).to.equal(false);
      expect(await registry.providerOfAgent(agent.address)).to.equal(ethers.ZeroAddress);
      expect(await ethers.provider.getBalance(await registry.getAddress())).to.equal(0n);
    });

    it("register() accepts exactly type(uint128).max", async function () {
      const { registry, provider, agent } = await loadFixture(richFixture);
      const tx = registry.connect(provider).register(agent.address, HW, 1, "", { value: UINT128_MAX });
      await expect(tx)
        .to.emit(registry, "ProviderRegistered")
        .withArgs(provider.address, agent.address, HW, UINT128_MAX, 1, "");
      await expect(tx).to.changeEtherBalance(registry, UINT128_MAX);
      expect((await registry.getProvider(provider.address)).stake).to.equal(UINT128_MAX);
      expect(await registry.slashableStake(provider.address)).to.equal(UINT128_MAX);
    });

    it("addStake() reverts StakeTooLarge when the new stake would not fit uint128, accepts the exact maximum", async function () {
      const { registry, provider, agent } = await loadFixture(richFixture);
      const initial = 2n * ETHER;
      await registry.connect(provider).register(agent.address, HW, 1, "", { value: initial });
      const room = UINT128_MAX - initial;
      for (const value of [room + 1n, 2n ** 128n, 2n ** 129n]) {
        await expect(registry.connect(provider).addStake({ value }))
          .to.be.revertedWithCustomError(registry, "StakeTooLarge")
          .withArgs(initial + value);
      }
      expect((await registry.getProvider(provider.address)).stake).to.equal(initial);
      await expect(registry.connect(provider).addStake({ value: room }))
        .to.emit(registry, "StakeAdded")
        .withArgs(provider.address, room, UINT128_MAX);
      expect((await registry.getProvider(provider.address)).stake).to.equal(UINT128_MAX);
      await expect(registry.connect(provider).addStake({ value: 1n }))
        .to.be.revertedWithCustomError(registry, "StakeTooLarge")
        .withArgs(2n ** 128n);
      expect(await ethers.provider.getBalance(await registry.getAddress())).to.equal(UINT128_MAX);
    });

    it("addStake() counts only active stake against the bound (pending unstake is separate)", async function () {
      const { registry, provider, agent } = await loadFixture(richFixture);
      await registry.connect(provider).register(agent.address, HW, 1, "", { value: UINT128_MAX });
      await registry.connect(provider).requestUnstake(ETHER);
      await expect(registry.connect(provider).addStake({ value: ETHER }))
        .to.emit(registry, "StakeAdded")
        .withArgs(provider.address, ETHER, UINT128_MAX);
      await expect(registry.connect(provider).addStake({ value: 1n }))
        .to.be.revertedWithCustomError(registry, "StakeTooLarge")
        .withArgs(2n ** 128n);
      expect(await registry.slashableStake(provider.address)).to.equal(UINT128_MAX + ETHER);
    });
  });
});
