// Hardhat 2 config. Compiles offline with the npm `solc` (solcjs) build: Hardhat's
// own compiler download needs the internet, so the subtask below hands it the local one.
require("@nomicfoundation/hardhat-chai-matchers");
require("@nomicfoundation/hardhat-ethers");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

const SOLC_VERSION = "0.8.30"; // must equal the npm solc version in package.json

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion: require("solc").version().replace(/\.Emscripten\.clang$/, ""),
  };
});

module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun", viaIR: true },
  },
  paths: { sources: "./contracts", tests: "./test/contracts", cache: "./cache/hardhat", artifacts: "./cache/hardhat-artifacts" },
  networks: { hardhat: { chainId: 31337 } },
  mocha: { timeout: 60000 },
};
