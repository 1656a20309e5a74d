// Gas goals. The per-attestation cost is what makes posting benchmarks on chain affordable; the
// security fixes of issue 9 (a stored record per posted attestation or batch, hardware and stake
// checks in the registry) had to fit these goals. Measured on the hardhat network's default
// hardfork (calldata floor pricing included).
const { expect } = require("chai");
const { loadFixture, time } = require("@nomicfoundation/hardhat-network-helpers");
const { makeAttestation, signAttestation, makeSignedBatch, registeredFixture } = require("./fixtures");

const MAX_ATTEST_GAS = 95_000n;
const MAX_BATCH_GAS_PER_ITEM = 10_000n;
const BATCH = 32n;

describe("Gas", function () {
  it(`a single attest uses <= ${MAX_ATTEST_GAS} gas (first and later nonces)`, async function () {
    const { attest, provider, agent, other } = await loadFixture(registeredFixture);
    for (const nonce of [1, 2]) {
      const a = makeAttestation(provider.address, nonce, await time.latest(), nonce);
      const receipt = await (await attest.connect(other).attest(a, await signAttestation(agent, attest, a))).wait();
      console.log(`      attest (nonce ${nonce}): ${receipt.gasUsed} gas`);
      expect(receipt.gasUsed).to.be.lte(MAX_ATTEST_GAS);
    }
  });

  it(`a ${BATCH}-item attestBatch uses <= ${MAX_BATCH_GAS_PER_ITEM} gas per item, one Attested event per item`, async function () {
    const { attest, provider, agent, other } = await loadFixture(registeredFixture);
    for (const nonce of [1, 2]) {
      const b = await makeSignedBatch(agent, attest, provider.address, nonce, await time.latest(), Number(BATCH), nonce * 100);
      const receipt = await (await attest.connect(other).attestBatch(b.header, b.items, b.signature)).wait();
      const perItem = receipt.gasUsed / BATCH;
      console.log(`      attestBatch x${BATCH} (nonce ${nonce}): ${receipt.gasUsed} gas, ${perItem} per item`);
      const attested = receipt.logs.filter((l) => attest.interface.parseLog(l)?.name === "Attested");
      expect(attested.length).to.equal(Number(BATCH));
      expect(receipt.gasUsed).to.be.lte(BATCH * MAX_BATCH_GAS_PER_ITEM);
    }
  });
});
