"""The committed ABI + bytecode must match contracts/ (run `make contracts` after editing)."""

from __future__ import annotations

import json

from chain.artifacts import ARTIFACT_DIR, CONTRACT_NAMES, load_artifact, source_fingerprint
from chain.hardhat import REPO_ROOT


def test_committed_artifacts_match_the_sources() -> None:
    current = source_fingerprint(REPO_ROOT)
    for name in CONTRACT_NAMES:
        recorded = json.loads((ARTIFACT_DIR / f"{name}.json").read_text())["sourceFingerprint"]
        assert recorded == current, f"{name}: artifacts are stale; run `make contracts` and commit"


def test_committed_artifacts_equal_a_fresh_compile() -> None:
    # `make setup` compiles contracts/ with hardhat into cache/; compare byte for byte.
    for name in CONTRACT_NAMES:
        fresh_path = (
            REPO_ROOT / "cache" / "hardhat-artifacts" / "contracts" / f"{name}.sol" / f"{name}.json"
        )
        assert fresh_path.exists(), "no fresh compile output; run `make setup`"
        fresh = json.loads(fresh_path.read_text())
        committed = load_artifact(name)
        assert committed.abi == fresh["abi"], f"{name}: ABI differs from a fresh compile"
        assert committed.bytecode == fresh["bytecode"], (
            f"{name}: bytecode differs from a fresh compile"
        )
