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
  registerProvider,
  rotateAgent,
  signBinding,
  registryDomainOf,
  AGENT_BINDING_TYPES,
  pinNextTimestamp,
  impersonate,
  gasCost,
} = require("./fixtures");

const UINT96_MAX = 2n ** 96n - 1n;

describe("ProviderRegistry", function () {
  /** registeredFixture plus signers acting as the two market contracts (impersonated). */
  async function marketsFixture() {
    const f = await registeredFixture();
    const asMarket = await impersonate(await f.market.getAddress());
    const asAttest = await impersonate(await f.attest.getAddress());
    return { ...f, asMarket, asAttest };
  }

  describe("constructor and deployment", function () {
    it("stores the parameters; the admin is default admin (with a transfer delay) and pauser", async function () {
      const { registry, attest, market, admin, roles } = await loadFixture(deployFixture);
      expect(await registry.minStake()).to.equal(PARAMS.minStake);
      expect(await registry.unstakeCooldown()).to.equal(PARAMS.unstakeCooldown);
      expect(await registry.attestationSlash()).to.equal(PARAMS.attestationSlash);
      expect(await registry.banThreshold()).to.equal(PARAMS.banThreshold);
      expect(await registry.defaultAdmin()).to.equal(admin.address);
      expect(await registry.defaultAdminDelay()).to.equal(PARAMS.adminDelay);
      expect(await registry.hasRole(roles.PAUSER_ROLE, admin.address)).to.equal(true);
      expect(roles.PAUSER_ROLE).to.equal(ethers.id("PAUSER_ROLE"));
      expect(await registry.attestationRegistry()).to.equal(await attest.getAddress());
      expect(await registry.jobMarket()).to.equal(await market.getAddress());
      expect(await registry.AGENT_BINDING_TYPEHASH()).to.equal(
        ethers.id(ethers.TypedDataEncoder.from(AGENT_BINDING_TYPES).encodeType("AgentBinding")),
      );
      expect(await registry.domainSeparator()).to.equal(ethers.TypedDataEncoder.hashDomain(await registryDomainOf(registry)));
    });

    it("reverts for a zero admin and for a zero ban threshold", async function () {
      const { registry } = await loadFixture(deployFixture);
      const args = (i, v) => {
        const a = [ethers.ZeroAddress, 0, ETHER, 7 * DAY, ETHER / 2n, ETHER];
        a[0] = (i === 0 ? v : null) ?? registry.runner.address;
        if (i !== undefined && i !== 0) a[i] = v;
        return a;
      };
      await expect(ethers.deployContract("ProviderRegistry", args(0, ethers.ZeroAddress)))
        .to.be.revertedWithCustomError(registry, "AccessControlInvalidDefaultAdmin")
        .withArgs(ethers.ZeroAddress);
      await expect(ethers.deployContract("ProviderRegistry", args(5, 0))).to.be.revertedWithCustomError(
        registry,
        "ZeroAmount",
      );
    });

    it("connectMarkets: once, by the admin, only with contracts deployed against this registry", async function () {
      const { registry, attest, market, admin, other, treasury } = await loadFixture(deployFixture);
      await expect(registry.connect(admin).connectMarkets(other.address, other.address)).to.be.revertedWithCustomError(
        registry,
        "AlreadyConnected",
      );
      const fresh = await ethers.deployContract("ProviderRegistry", [admin.address, 0, ETHER, 7 * DAY, 1n, ETHER]);
      await expect(fresh.connect(other).connectMarkets(await attest.getAddress(), await market.getAddress()))
        .to.be.revertedWithCustomError(fresh, "AccessControlUnauthorizedAccount")
        .withArgs(other.address, await fresh.DEFAULT_ADMIN_ROLE());
      await expect(
        fresh.connect(admin).connectMarkets(ethers.ZeroAddress, await market.getAddress()),
      ).to.be.revertedWithCustomError(fresh, "ZeroAddress");
      await expect(
        fresh.connect(admin).connectMarkets(await market.getAddress(), await market.getAddress()),
      ).to.be.revertedWithCustomError(fresh, "ZeroAddress");
      // contracts wired to another registry are refused
      await expect(fresh.connect(admin).connectMarkets(await attest.getAddress(), await market.getAddress()))
        .to.be.revertedWithCustomError(fresh, "WrongRegistry")
        .withArgs(await attest.getAddress());
      const attest2 = await ethers.deployContract("AttestationRegistry", [
        admin.address, 0, await fresh.getAddress(), treasury.address, 3600, DAY, DAY, 1n, 5000,
      ]);
      const market2 = await ethers.deployContract("JobMarket", [
        admin.address, 0, await fresh.getAddress(), treasury.address, 200, 3600, DAY, 1n, 10_000, 5_000,
      ]);
      await expect(fresh.connect(admin).connectMarkets(await attest2.getAddress(), await market2.getAddress()))
        .to.emit(fresh, "MarketsConnected")
        .withArgs(await attest2.getAddress(), await market2.getAddress());
    });

    it("default-admin transfer is two-step and waits the delay", async function () {
      const { registry, admin, other } = await loadFixture(deployFixture);
      await registry.connect(admin).beginDefaultAdminTransfer(other.address);
      const [, schedule] = await registry.pendingDefaultAdmin();
      await expect(registry.connect(other).acceptDefaultAdminTransfer())
        .to.be.revertedWithCustomError(registry, "AccessControlEnforcedDefaultAdminDelay")
        .withArgs(schedule);
      await time.setNextBlockTimestamp(schedule + 1n);
      await registry.connect(other).acceptDefaultAdminTransfer();
      expect(await registry.defaultAdmin()).to.equal(other.address);
    });
  });

  describe("register", function () {
    it("registers a provider with the agent's consent, stores every field and emits ProviderRegistered + HardwareAdded", async function () {
      const { registry, provider, agent } = await loadFixture(deployFixture);
      const stake = 3n * ETHER;
      const t = await pinNextTimestamp();
      const deadline = t + DAY;
      const sig = await signBinding(agent, registry, provider.address, deadline);
      const tx = registry
        .connect(provider)
        .register(HW, PRICE_PER_SEC, METADATA, agent.address, deadline, sig, { value: stake });
      await expect(tx).to.emit(registry, "ProviderRegistered").withArgs(provider.address, agent.address, stake, METADATA);
      await expect(tx).to.emit(registry, "HardwareAdded").withArgs(provider.address, HW, PRICE_PER_SEC);
      await expect(tx).to.changeEtherBalances([provider, registry], [-stake, stake]);
      const p = await registry.getProvider(provider.address);
      expect(p.agent).to.equal(agent.address);
      expect(p.registered).to.equal(true);
      expect(p.banned).to.equal(false);
      expect(p.stake).to.equal(stake);
      expect(p.reserved).to.equal(0n);
      expect(p.pendingUnstake).to.equal(0n);
      expect(p.unstakeReadyAt).to.equal(0n);
      expect(p.attestNonce).to.equal(0n);
      expect(p.exposureUntil).to.equal(0n);
      expect(p.slashedTotal).to.equal(0n);
      expect(p.metadataURI).to.equal(METADATA);
      const k = await registry.agentKey(agent.address);
      expect([k.provider, k.boundAt, k.revokedAt]).to.deep.equal([provider.address, BigInt(t), 0n]);
      expect(await registry.providerOfAgent(agent.address)).to.equal(provider.address);
      expect(await registry.agentOf(provider.address)).to.equal(agent.address);
      expect(await registry.priceOf(provider.address, HW)).to.equal(PRICE_PER_SEC);
      const h = await registry.hardwareProfile(provider.address, HW);
      expect([h.registered, h.pricePerSecond]).to.deep.equal([true, PRICE_PER_SEC]);
      expect(await registry.slashableStake(provider.address)).to.equal(stake);
      expect(await registry.freeStake(provider.address)).to.equal(stake);
      expect(await registry.isActive(provider.address)).to.equal(true);
      expect(await registry.activeAgent(provider.address)).to.equal(agent.address);
    });

    it("accepts exactly the minimum stake, and the provider's own address as agent without a signature", async function () {
      const { registry, provider } = await loadFixture(deployFixture);
      await expect(
        registry.connect(provider).register(HW, 0, "", provider.address, 0, "0x", { value: PARAMS.minStake }),
      ).to.emit(registry, "ProviderRegistered");
      expect(await registry.isActive(provider.address)).to.equal(true);
      expect(await registry.providerOfAgent(provider.address)).to.equal(provider.address);
    });

    it("reverts AlreadyRegistered on a second registration", async function () {
      const { registry, provider } = await loadFixture(registeredFixture);
      await expect(registry.connect(provider).register(HW, 1, "", provider.address, 0, "0x", { value: ETHER }))
        .to.be.revertedWithCustomError(registry, "AlreadyRegistered")
        .withArgs(provider.address);
    });

    it("reverts StakeBelowMinimum and StakeTooLarge", async function () {
      const { registry, provider } = await loadFixture(deployFixture);
      const value = PARAMS.minStake - 1n;
      await expect(registry.connect(provider).register(HW, 1, "", provider.address, 0, "0x", { value }))
        .to.be.revertedWithCustomError(registry, "StakeBelowMinimum")
        .withArgs(value, PARAMS.minStake);
      await ethers.provider.send("hardhat_setBalance", [provider.address, ethers.toQuantity(2n ** 100n)]);
      await expect(
        registry.connect(provider).register(HW, 1, "", provider.address, 0, "0x", { value: UINT96_MAX + 1n }),
      )
        .to.be.revertedWithCustomError(registry, "StakeTooLarge")
        .withArgs(UINT96_MAX + 1n);
      await expect(
        registry.connect(provider).register(HW, 1, "", provider.address, 0, "0x", { value: UINT96_MAX }),
      ).to.emit(registry, "ProviderRegistered");
      await expect(registry.connect(provider).addStake({ value: 1n }))
        .to.be.revertedWithCustomError(registry, "StakeTooLarge")
        .withArgs(UINT96_MAX + 1n);
    });

    it("reverts ZeroAddress for a zero agent", async function () {
      const { registry, provider } = await loadFixture(deployFixture);
      await expect(
        registry.connect(provider).register(HW, 1, "", ethers.ZeroAddress, 0, "0x", { value: ETHER }),
      ).to.be.revertedWithCustomError(registry, "ZeroAddress");
    });

    it("reverts ConsentExpired after the consent deadline, accepts it at the deadline", async function () {
      const { registry, provider, agent } = await loadFixture(deployFixture);
      const t = await pinNextTimestamp();
      const sig = await signBinding(agent, registry, provider.address, t - 1);
      await expect(registry.connect(provider).register(HW, 1, "", agent.address, t - 1, sig, { value: ETHER }))
        .to.be.revertedWithCustomError(registry, "ConsentExpired")
        .withArgs(t - 1, t);
      const t2 = await pinNextTimestamp();
      const sig2 = await signBinding(agent, registry, provider.address, t2);
      await expect(
        registry.connect(provider).register(HW, 1, "", agent.address, t2, sig2, { value: ETHER }),
      ).to.emit(registry, "ProviderRegistered");
    });

    it("reverts InvalidAgentConsent for a signature by another key, for another provider or domain", async function () {
      const { registry, provider, provider2, agent, other } = await loadFixture(deployFixture);
      const deadline = (await time.latest()) + DAY;
      const digest = await registry.agentBindingDigest(provider.address, agent.address, deadline);
      const cases = [
        await signBinding(other, registry, provider.address, deadline), // not the agent
        await signBinding(agent, registry, provider2.address, deadline), // consent to another provider
        await signBinding(agent, registry, provider.address, deadline, { chainId: 1n }), // another chain
        await signBinding(agent, registry, provider.address, deadline + 1), // another deadline
      ];
      for (const sig of cases) {
        await expect(registry.connect(provider).register(HW, 1, "", agent.address, deadline, sig, { value: ETHER }))
          .to.be.revertedWithCustomError(registry, "InvalidAgentConsent")
          .withArgs(ethers.recoverAddress(digest, sig), agent.address);
      }
    });

    it("reverts AgentAlreadyBound when the key is bound to another provider", async function () {
      const { registry, provider, provider2, agent } = await loadFixture(registeredFixture);
      await expect(registerProvider(registry, provider2, agent))
        .to.be.revertedWithCustomError(registry, "AgentAlreadyBound")
        .withArgs(agent.address, provider.address);
    });

    it("reverts EnforcedPause while paused; only PAUSER_ROLE pauses", async function () {
      const { registry, admin, provider, agent, other, roles } = await loadFixture(deployFixture);
      await expect(registry.connect(other).pause())
        .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
        .withArgs(other.address, roles.PAUSER_ROLE);
      await expect(registry.connect(admin).pause()).to.emit(registry, "Paused").withArgs(admin.address);
      await expect(registerProvider(registry, provider, agent)).to.be.revertedWithCustomError(registry, "EnforcedPause");
      await registry.connect(admin).unpause();
      await expect(registerProvider(registry, provider, agent)).to.emit(registry, "ProviderRegistered");
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

    it("reverts ZeroAmount and NotRegistered", async function () {
      const { registry, provider, other } = await loadFixture(registeredFixture);
      await expect(registry.connect(provider).addStake()).to.be.revertedWithCustomError(registry, "ZeroAmount");
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
    it("rotates the key with its consent, revokes the old one, emits AgentChanged", async function () {
      const { registry, provider, agent, newAgent } = await loadFixture(registeredFixture);
      const tx = rotateAgent(registry, provider, newAgent);
      await expect(tx).to.emit(registry, "AgentChanged").withArgs(provider.address, agent.address, newAgent.address);
      const t = await time.latest();
      expect(await registry.agentOf(provider.address)).to.equal(newAgent.address);
      expect(await registry.activeAgent(provider.address)).to.equal(newAgent.address);
      const old = await registry.agentKey(agent.address);
      expect([old.provider, old.revokedAt]).to.deep.equal([provider.address, BigInt(t)]);
      const cur = await registry.agentKey(newAgent.address);
      expect([cur.provider, cur.boundAt, cur.revokedAt]).to.deep.equal([provider.address, BigInt(t), 0n]);
    });

    it("a revoked key can never be bound again, not even by its own provider", async function () {
      const { registry, provider, provider2, agent, newAgent } = await loadFixture(registeredFixture);
      await rotateAgent(registry, provider, newAgent);
      await expect(rotateAgent(registry, provider, agent))
        .to.be.revertedWithCustomError(registry, "AgentAlreadyBound")
        .withArgs(agent.address, provider.address);
      await expect(registerProvider(registry, provider2, agent))
        .to.be.revertedWithCustomError(registry, "AgentAlreadyBound")
        .withArgs(agent.address, provider.address);
    });

    it("reverts ZeroAddress, InvalidAgentConsent, AgentAlreadyBound and NotRegistered", async function () {
      const { registry, provider, provider2, agent2, other, newAgent } = await loadFixture(registeredFixture);
      await registerProvider(registry, provider2, agent2);
      await expect(registry.connect(provider).setAgent(ethers.ZeroAddress, 0, "0x")).to.be.revertedWithCustomError(
        registry,
        "ZeroAddress",
      );
      const deadline = (await time.latest()) + DAY;
      const forged = await signBinding(other, registry, provider.address, deadline);
      const digest = await registry.agentBindingDigest(provider.address, newAgent.address, deadline);
      await expect(registry.connect(provider).setAgent(newAgent.address, deadline, forged))
        .to.be.revertedWithCustomError(registry, "InvalidAgentConsent")
        .withArgs(ethers.recoverAddress(digest, forged), newAgent.address);
      await expect(rotateAgent(registry, provider, agent2))
        .to.be.revertedWithCustomError(registry, "AgentAlreadyBound")
        .withArgs(agent2.address, provider2.address);
      await expect(rotateAgent(registry, other, newAgent))
        .to.be.revertedWithCustomError(registry, "NotRegistered")
        .withArgs(other.address);
    });
  });

  describe("hardware profiles and metadata", function () {
    it("addHardware, setPrice and removeHardware maintain the served profiles and their prices", async function () {
      const { registry, provider } = await loadFixture(registeredFixture);
      await expect(registry.connect(provider).addHardware(HW2, 7n))
        .to.emit(registry, "HardwareAdded")
        .withArgs(provider.address, HW2, 7n);
      expect(await registry.priceOf(provider.address, HW2)).to.equal(7n);
      await expect(registry.connect(provider).setPrice(HW2, 42n))
        .to.emit(registry, "PriceChanged")
        .withArgs(provider.address, HW2, 42n);
      expect(await registry.priceOf(provider.address, HW2)).to.equal(42n);
      expect(await registry.priceOf(provider.address, HW)).to.equal(PRICE_PER_SEC);
      await expect(registry.connect(provider).removeHardware(HW2))
        .to.emit(registry, "HardwareRemoved")
        .withArgs(provider.address, HW2);
      await expect(registry.priceOf(provider.address, HW2))
        .to.be.revertedWithCustomError(registry, "HardwareNotRegistered")
        .withArgs(provider.address, HW2);
      expect((await registry.hardwareProfile(provider.address, HW2)).registered).to.equal(false);
    });

    it("reverts HardwareAlreadyRegistered, HardwareNotRegistered and NotRegistered", async function () {
      const { registry, provider, other } = await loadFixture(registeredFixture);
      await expect(registry.connect(provider).addHardware(HW, 1n))
        .to.be.revertedWithCustomError(registry, "HardwareAlreadyRegistered")
        .withArgs(provider.address, HW);
      for (const call of [() => registry.connect(provider).setPrice(HW2, 1n), () => registry.connect(provider).removeHardware(HW2)]) {
        await expect(call()).to.be.revertedWithCustomError(registry, "HardwareNotRegistered").withArgs(provider.address, HW2);
      }
      for (const call of [
        () => registry.connect(other).addHardware(HW, 1n),
        () => registry.connect(other).setPrice(HW, 1n),
        () => registry.connect(other).removeHardware(HW),
        () => registry.connect(other).setMetadata("x"),
      ]) {
        await expect(call()).to.be.revertedWithCustomError(registry, "NotRegistered").withArgs(other.address);
      }
    });

    it("setMetadata updates the URI and emits MetadataChanged", async function () {
      const { registry, provider } = await loadFixture(registeredFixture);
      await expect(registry.connect(provider).setMetadata("ipfs://new"))
        .to.emit(registry, "MetadataChanged")
        .withArgs(provider.address, "ipfs://new");
      expect((await registry.getProvider(provider.address)).metadataURI).to.equal("ipfs://new");
    });
  });

  describe("unstaking", function () {
    it("requestUnstake moves free stake into cooldown and emits UnstakeRequested", async function () {
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

    it("locked stake (open locks) cannot be moved into cooldown", async function () {
      const { registry, provider, asMarket } = await loadFixture(marketsFixture);
      await registry.connect(asMarket).lockStake(provider.address, (3n * ETHER) / 2n, false);
      expect(await registry.lockedStake(provider.address)).to.equal((3n * ETHER) / 2n);
      expect(await registry.freeStake(provider.address)).to.equal(ETHER / 2n);
      await expect(registry.connect(provider).requestUnstake(ETHER))
        .to.be.revertedWithCustomError(registry, "InsufficientStake")
        .withArgs(ETHER, ETHER / 2n);
      await expect(registry.connect(provider).requestUnstake(ETHER / 2n)).to.emit(registry, "UnstakeRequested");
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
      await time.setNextBlockTimestamp(readyAt - 1);
      await expect(registry.connect(provider).completeUnstake())
        .to.be.revertedWithCustomError(registry, "CooldownNotOver")
        .withArgs(readyAt, readyAt - 1);
      await time.setNextBlockTimestamp(readyAt);
      const tx = registry.connect(provider).completeUnstake();
      await expect(tx).to.emit(registry, "UnstakeCompleted").withArgs(provider.address, ETHER, 0);
      await expect(tx).to.changeEtherBalance(registry, 0);
      const p = await registry.getProvider(provider.address);
      expect(p.pendingUnstake).to.equal(0n);
      expect(p.unstakeReadyAt).to.equal(0n);
      expect(p.stake).to.equal(ETHER);
      expect(await registry.withdrawable(provider.address)).to.equal(ETHER);
      await expect(registry.connect(provider).requestUnstake(1n)).to.emit(registry, "UnstakeRequested");
    });

    it("completeUnstake reverts ZeroAmount when nothing is pending, NotRegistered for a stranger", async function () {
      const { registry, provider, other } = await loadFixture(registeredFixture);
      await expect(registry.connect(provider).completeUnstake()).to.be.revertedWithCustomError(registry, "ZeroAmount");
      await expect(registry.connect(other).completeUnstake())
        .to.be.revertedWithCustomError(registry, "NotRegistered")
        .withArgs(other.address);
    });

    it("after a slash leaves active stake short of the locks, cooldown stake leaves only beyond the shortfall", async function () {
      const { registry, provider, asMarket, asAttest } = await loadFixture(marketsFixture);
      await registry.connect(asMarket).lockStake(provider.address, ETHER, false); // lock 1: 1.0
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(ETHER); // stake 1.0 (locked), pending 1.0
      await registry.connect(asAttest).lockStake(provider.address, ETHER / 2n, true); // lock 2 dips into pending
      expect((await registry.getProvider(provider.address)).reserved).to.equal((3n * ETHER) / 2n);
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await expect(registry.connect(provider).completeUnstake())
        .to.emit(registry, "UnstakeCompleted")
        .withArgs(provider.address, ETHER / 2n, ETHER / 2n);
      let p = await registry.getProvider(provider.address);
      expect(p.pendingUnstake).to.equal(ETHER / 2n);
      expect(p.unstakeReadyAt).to.not.equal(0n);
      await expect(registry.connect(provider).completeUnstake())
        .to.be.revertedWithCustomError(registry, "UnstakeBlocked")
        .withArgs((3n * ETHER) / 2n, ETHER);
      // lock 2 is slashed in full (from active stake first): the shortfall is still needed by lock 1
      await registry.connect(asAttest).slashLock(2, ETHER / 2n);
      p = await registry.getProvider(provider.address);
      expect([p.stake, p.pendingUnstake, p.reserved]).to.deep.equal([ETHER / 2n, ETHER / 2n, ETHER]);
      await expect(registry.connect(provider).completeUnstake()).to.be.revertedWithCustomError(registry, "UnstakeBlocked");
      await registry.connect(asMarket).releaseLock(1);
      await expect(registry.connect(provider).completeUnstake())
        .to.emit(registry, "UnstakeCompleted")
        .withArgs(provider.address, ETHER / 2n, 0);
    });
  });

  describe("stake locks", function () {
    it("only the two connected market contracts may lock stake; only the attestation registry may note attestations", async function () {
      const { registry, admin, provider, other, asMarket } = await loadFixture(marketsFixture);
      for (const who of [admin, provider, other]) {
        await expect(registry.connect(who).lockStake(provider.address, 1n, true))
          .to.be.revertedWithCustomError(registry, "NotMarketContract")
          .withArgs(who.address);
      }
      await expect(registry.connect(asMarket).noteAttestation(provider.address, HW, 1, 1))
        .to.be.revertedWithCustomError(registry, "NotMarketContract")
        .withArgs(asMarket.address);
    });

    it("lockStake: strict locks need free active stake of an active provider; partial locks take what is unreserved", async function () {
      const { registry, admin, provider, asMarket, asAttest } = await loadFixture(marketsFixture);
      await expect(registry.connect(asMarket).lockStake(provider.address, 2n * ETHER + 1n, false))
        .to.be.revertedWithCustomError(registry, "InsufficientStake")
        .withArgs(2n * ETHER + 1n, 2n * ETHER);
      await expect(registry.connect(asMarket).lockStake(provider.address, (3n * ETHER) / 2n, false))
        .to.emit(registry, "StakeLocked")
        .withArgs(1, provider.address, asMarket.address, (3n * ETHER) / 2n);
      expect(await registry.connect(asAttest).lockStake.staticCall(provider.address, ETHER, true)).to.deep.equal([
        2n,
        ETHER / 2n,
      ]);
      await registry.connect(asAttest).lockStake(provider.address, ETHER, true);
      const l = await registry.getLock(2);
      expect([l.provider, l.open, l.owner, l.amount]).to.deep.equal([provider.address, true, asAttest.address, ETHER / 2n]);
      expect(await registry.lockCount()).to.equal(2n);
      // nothing left: a partial lock of 0, a strict lock reverts
      await expect(registry.connect(asAttest).lockStake(provider.address, ETHER, true))
        .to.emit(registry, "StakeLocked")
        .withArgs(3, provider.address, asAttest.address, 0);
      await expect(registry.connect(asMarket).lockStake(provider.address, 1n, false))
        .to.be.revertedWithCustomError(registry, "InsufficientStake")
        .withArgs(1n, 0n);
      // strict locks stop while paused, partial ones (challenges) do not
      await registry.connect(admin).pause();
      await expect(registry.connect(asMarket).lockStake(provider.address, 0n, false)).to.be.revertedWithCustomError(
        registry,
        "EnforcedPause",
      );
      await expect(registry.connect(asAttest).lockStake(provider.address, 0n, true)).to.emit(registry, "StakeLocked");
    });

    it("reverts NotRegistered, StakeBelowMinimum and ProviderIsBanned as applicable", async function () {
      const { registry, provider, other, asMarket } = await loadFixture(marketsFixture);
      await expect(registry.connect(asMarket).lockStake(other.address, 1n, true))
        .to.be.revertedWithCustomError(registry, "NotRegistered")
        .withArgs(other.address);
      await registry.connect(provider).requestUnstake(ETHER + 1n);
      await expect(registry.connect(asMarket).lockStake(provider.address, 1n, false))
        .to.be.revertedWithCustomError(registry, "StakeBelowMinimum")
        .withArgs(ETHER - 1n, PARAMS.minStake);
      await registry.connect(asMarket).lockStake(provider.address, PARAMS.banThreshold, true);
      await registry.connect(asMarket).slashLock(1, PARAMS.banThreshold);
      await registry.connect(provider).addStake({ value: 3n * ETHER });
      await expect(registry.connect(asMarket).lockStake(provider.address, 1n, false))
        .to.be.revertedWithCustomError(registry, "ProviderIsBanned")
        .withArgs(provider.address);
    });

    it("releaseLock / slashLock: only the lock's owner, once; the slash is capped at the lock and sent to the owner", async function () {
      const { registry, market, provider, other, asMarket, asAttest } = await loadFixture(marketsFixture);
      await registry.connect(asMarket).lockStake(provider.address, ETHER / 4n, false);
      for (const who of [asAttest, other]) {
        await expect(registry.connect(who).releaseLock(1))
          .to.be.revertedWithCustomError(registry, "NotLockOwner")
          .withArgs(1, who.address);
      }
      await expect(registry.connect(other).releaseLock(99))
        .to.be.revertedWithCustomError(registry, "NotLockOwner")
        .withArgs(99, other.address);
      const tx = registry.connect(asMarket).slashLock(1, ETHER);
      await expect(tx).to.emit(registry, "StakeUnlocked").withArgs(1, provider.address, 0, ETHER / 4n);
      await expect(tx)
        .to.emit(registry, "Slashed")
        .withArgs(provider.address, asMarket.address, ETHER / 4n, ETHER / 4n);
      await expect(tx).to.changeEtherBalances([registry, market], [-(ETHER / 4n), ETHER / 4n]);
      expect((await registry.getLock(1)).open).to.equal(false);
      await expect(registry.connect(asMarket).releaseLock(1))
        .to.be.revertedWithCustomError(registry, "LockNotOpen")
        .withArgs(1);
      const p = await registry.getProvider(provider.address);
      expect([p.stake, p.reserved, p.slashedTotal, p.banned]).to.deep.equal([
        (7n * ETHER) / 4n,
        0n,
        ETHER / 4n,
        false,
      ]);
    });

    it("slashLock takes active stake first, then stake in cooldown", async function () {
      const { registry, provider, asAttest } = await loadFixture(marketsFixture);
      await registry.connect(provider).requestUnstake((19n * ETHER) / 10n); // 0.1 active, 1.9 pending
      await registry.connect(asAttest).lockStake(provider.address, ETHER / 2n, true);
      await registry.connect(asAttest).slashLock(1, ETHER / 2n);
      const p = await registry.getProvider(provider.address);
      expect(p.stake).to.equal(0n);
      expect(p.pendingUnstake).to.equal((19n * ETHER) / 10n - (4n * ETHER) / 10n);
    });

    it("releaseLock sends nothing and bans nobody", async function () {
      const { registry, provider, asMarket } = await loadFixture(marketsFixture);
      await registry.connect(asMarket).lockStake(provider.address, ETHER, false);
      const tx = registry.connect(asMarket).releaseLock(1);
      await expect(tx).to.emit(registry, "StakeUnlocked").withArgs(1, provider.address, ETHER, 0);
      await expect(tx).to.not.emit(registry, "Slashed");
      await expect(tx).to.changeEtherBalance(registry, 0);
      expect(await registry.freeStake(provider.address)).to.equal(2n * ETHER);
    });

    it("lifetime slashes reaching banThreshold ban the provider; it can still recover what is left", async function () {
      const { registry, provider, asMarket } = await loadFixture(marketsFixture);
      await registry.connect(asMarket).lockStake(provider.address, ETHER, false);
      await registry.connect(asMarket).slashLock(1, PARAMS.banThreshold - 1n);
      expect((await registry.getProvider(provider.address)).banned).to.equal(false);
      await registry.connect(asMarket).lockStake(provider.address, ETHER / 2n, false);
      await expect(registry.connect(asMarket).slashLock(2, 1n))
        .to.emit(registry, "ProviderBanned")
        .withArgs(provider.address, PARAMS.banThreshold);
      expect(await registry.isActive(provider.address)).to.equal(false);
      await expect(registry.activeAgent(provider.address))
        .to.be.revertedWithCustomError(registry, "ProviderIsBanned")
        .withArgs(provider.address);
      const left = 2n * ETHER - PARAMS.banThreshold;
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(left);
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await expect(registry.connect(provider).completeUnstake())
        .to.emit(registry, "UnstakeCompleted")
        .withArgs(provider.address, left, 0);
    });
  });

  describe("activeAgent / isActive", function () {
    it("reverts NotRegistered for an unknown provider", async function () {
      const { registry, other } = await loadFixture(registeredFixture);
      expect(await registry.isActive(other.address)).to.equal(false);
      await expect(registry.activeAgent(other.address))
        .to.be.revertedWithCustomError(registry, "NotRegistered")
        .withArgs(other.address);
      expect(await registry.agentOf(other.address)).to.equal(ethers.ZeroAddress);
    });
  });

  describe("withdraw / withdrawTo", function () {
    it("reverts NothingToWithdraw; withdrawTo rejects the zero address", async function () {
      const { registry, provider } = await loadFixture(registeredFixture);
      await expect(registry.connect(provider).withdraw())
        .to.be.revertedWithCustomError(registry, "NothingToWithdraw")
        .withArgs(provider.address);
      await expect(registry.connect(provider).withdrawTo(ethers.ZeroAddress)).to.be.revertedWithCustomError(
        registry,
        "ZeroAddress",
      );
    });

    it("transfers exactly the withdrawable amount once, to the caller or to another address", async function () {
      const { registry, provider, other } = await loadFixture(registeredFixture);
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(ETHER);
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await registry.connect(provider).completeUnstake();
      const snapshot = await ethers.provider.send("evm_snapshot", []);
      const before = await ethers.provider.getBalance(provider.address);
      const tx = await registry.connect(provider).withdraw();
      await expect(tx).to.emit(registry, "Withdrawn").withArgs(provider.address, provider.address, ETHER);
      expect((await ethers.provider.getBalance(provider.address)) - before + (await gasCost(tx))).to.equal(ETHER);
      await expect(registry.connect(provider).withdraw()).to.be.revertedWithCustomError(registry, "NothingToWithdraw");
      await ethers.provider.send("evm_revert", [snapshot]);
      const tx2 = registry.connect(provider).withdrawTo(other.address);
      await expect(tx2).to.emit(registry, "Withdrawn").withArgs(provider.address, other.address, ETHER);
      await expect(tx2).to.changeEtherBalances([other, registry], [ETHER, -ETHER]);
    });

    it("reverts TransferFailed when the receiver rejects ETH", async function () {
      const { registry, attest, provider } = await loadFixture(registeredFixture);
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(ETHER);
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await registry.connect(provider).completeUnstake();
      // a contract without receive/fallback (the registry itself) rejects ETH
      const regAddr = await registry.getAddress();
      expect(attest).to.not.equal(undefined);
      await expect(registry.connect(provider).withdrawTo(regAddr))
        .to.be.revertedWithCustomError(registry, "TransferFailed")
        .withArgs(regAddr, ETHER);
      expect(await registry.withdrawable(provider.address)).to.equal(ETHER);
    });
  });

  describe("accounting", function () {
    it("balance == sum(stake + pending) + sum(withdrawable) across a life cycle with slashes", async function () {
      const { registry, provider, provider2, agent2, asMarket, asAttest } = await loadFixture(marketsFixture);
      await registerProvider(registry, provider2, agent2, { stake: 3n * ETHER });
      // slashed wei leave the registry for the lock owner's ledger
      let sent = 0n;
      const check = async () => {
        let sum = 0n;
        for (const a of [provider, provider2]) {
          sum += await registry.slashableStake(a.address);
          sum += await registry.withdrawable(a.address);
        }
        expect(await ethers.provider.getBalance(await registry.getAddress())).to.equal(sum);
        return sum;
      };
      const start = await check();
      await registry.connect(provider).addStake({ value: ETHER });
      await check();
      const t = await pinNextTimestamp();
      await registry.connect(provider).requestUnstake(ETHER);
      await registry.connect(asMarket).lockStake(provider2.address, ETHER, false);
      await registry.connect(asAttest).lockStake(provider.address, ETHER, true);
      await check();
      await registry.connect(asMarket).slashLock(1, ETHER / 3n);
      sent += ETHER / 3n;
      await registry.connect(asAttest).slashLock(2, ETHER);
      sent += ETHER;
      await check();
      await time.setNextBlockTimestamp(t + PARAMS.unstakeCooldown);
      await registry.connect(provider).completeUnstake();
      await check();
      await registry.connect(provider).withdraw();
      const end = await check();
      expect(start + ETHER - sent - ETHER).to.equal(end);
    });
  });
});
