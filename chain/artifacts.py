"""Compiled contract artifacts (ABI + bytecode), committed so Python users need no Node.

``python -m chain.artifacts`` (run by ``make contracts``) copies Hardhat's output into
``chain/artifacts/`` with a fingerprint of everything that determines the bytecode, so a
test can tell when the committed artifacts are stale with respect to ``contracts/``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ARTIFACT_DIR = Path(__file__).with_name("artifacts")
CONTRACT_NAMES = ("ProviderRegistry", "AttestationRegistry", "JobMarket")


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    source_fingerprint: str


@cache
def load_artifact(name: str) -> Artifact:
    """Load one committed artifact by contract name."""
    if name not in CONTRACT_NAMES:
        raise KeyError(f"unknown contract {name!r}; known: {', '.join(CONTRACT_NAMES)}")
    data = json.loads((ARTIFACT_DIR / f"{name}.json").read_text())
    return Artifact(name, data["abi"], data["bytecode"], data["sourceFingerprint"])


def source_fingerprint(repo_root: Path) -> str:
    """sha256 over the Solidity sources, the compiler config and the pinned npm versions."""
    h = hashlib.sha256()
    files = sorted((repo_root / "contracts").rglob("*.sol")) + [repo_root / "hardhat.config.js"]
    for path in files:
        h.update(path.relative_to(repo_root).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    deps = json.loads((repo_root / "package.json").read_text())["devDependencies"]
    for pkg in ("solc", "hardhat", "@openzeppelin/contracts"):
        h.update(f"{pkg}@{deps[pkg]}\0".encode())
    return h.hexdigest()


def export_from_hardhat(repo_root: Path, out_dir: Path = ARTIFACT_DIR) -> list[Path]:
    """Copy ABI + bytecode of our contracts out of Hardhat's artifact tree."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fingerprint = source_fingerprint(repo_root)
    written = []
    for name in CONTRACT_NAMES:
        src = (
            repo_root / "cache" / "hardhat-artifacts" / "contracts" / f"{name}.sol" / f"{name}.json"
        )
        data = json.loads(src.read_text())
        out = out_dir / f"{name}.json"
        out.write_text(
            json.dumps(
                {
                    "contractName": name,
                    "sourceFingerprint": fingerprint,
                    "abi": data["abi"],
                    "bytecode": data["bytecode"],
                },
                indent=1,
            )
            + "\n"
        )
        written.append(out)
    return written


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    for path in export_from_hardhat(root):
        print(f"wrote {path.relative_to(root)}")
