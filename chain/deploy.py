"""Deploying the three contracts and wiring their roles."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.artifacts import load_artifact
from chain.errors import ChainError
from chain.tx import Transactor

ETHER = 10**18


class DeploymentError(ChainError):
    """A deployment file is missing, malformed or for another chain."""


@dataclass(frozen=True)
class MarketParams:
    """Protocol parameters fixed at deployment (all immutable on chain)."""

    min_stake_wei: int = ETHER
    unstake_cooldown_s: int = 7 * 24 * 3600
    max_clock_skew_s: int = 3600
    attestation_challenge_window_s: int = 3 * 24 * 3600
    min_challenge_bond_wei: int = ETHER // 10
    slash_amount_wei: int = ETHER // 2
    challenger_share_bps: int = 5_000
    protocol_fee_bps: int = 200
    job_challenge_window_s: int = 3600

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.challenger_share_bps > 10_000:
            raise ValueError("challenger_share_bps must be at most 10000")
        if self.protocol_fee_bps > 1_000:
            raise ValueError("protocol_fee_bps must be at most 1000 (10%)")


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    provider_registry: str
    attestation_registry: str
    job_market: str
    admin: str
    treasury: str
    matcher: str
    arbiter: str
    block_number: int
    params: MarketParams = field(default_factory=MarketParams)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Deployment:
        try:
            data = json.loads(text)
            data["params"] = MarketParams(**data["params"])
            return cls(**data)
        except (KeyError, TypeError, ValueError) as exc:
            raise DeploymentError(f"malformed deployment file: {exc}") from exc

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.chain_id}.json"
        path.write_text(self.to_json())
        return path

    @classmethod
    def load(cls, directory: Path, chain_id: int) -> Deployment:
        path = directory / f"{chain_id}.json"
        if not path.exists():
            raise DeploymentError(
                f"no deployment for chain {chain_id} at {path}; run `metainf chain deploy`"
            )
        return cls.from_json(path.read_text())


def _deploy(tx: Transactor, name: str, *args: object) -> str:
    artifact = load_artifact(name)
    factory = tx.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = tx.send(factory.constructor(*args))
    return receipt["contractAddress"]


def deploy_market(
    w3: Web3,
    admin: LocalAccount,
    *,
    treasury: str | None = None,
    matcher: str | None = None,
    arbiter: str | None = None,
    params: MarketParams | None = None,
) -> Deployment:
    """Deploy ProviderRegistry, AttestationRegistry and JobMarket; grant the slasher role to
    both consumers of stake, and the matcher/arbiter roles to the given accounts."""
    params = params or MarketParams()
    treasury = treasury or admin.address
    matcher = matcher or admin.address
    arbiter = arbiter or admin.address
    tx = Transactor(w3, admin)
    registry_addr = _deploy(
        tx, "ProviderRegistry", admin.address, params.min_stake_wei, params.unstake_cooldown_s
    )
    attest_addr = _deploy(
        tx,
        "AttestationRegistry",
        admin.address,
        registry_addr,
        treasury,
        params.max_clock_skew_s,
        params.attestation_challenge_window_s,
        params.min_challenge_bond_wei,
        params.slash_amount_wei,
        params.challenger_share_bps,
    )
    market_addr = _deploy(
        tx,
        "JobMarket",
        admin.address,
        registry_addr,
        treasury,
        params.protocol_fee_bps,
        params.job_challenge_window_s,
    )
    registry = w3.eth.contract(address=registry_addr, abi=load_artifact("ProviderRegistry").abi)
    attest = w3.eth.contract(address=attest_addr, abi=load_artifact("AttestationRegistry").abi)
    market = w3.eth.contract(address=market_addr, abi=load_artifact("JobMarket").abi)
    slasher = registry.functions.SLASHER_ROLE().call()
    tx.send(registry.functions.grantRole(slasher, attest_addr))
    tx.send(registry.functions.grantRole(slasher, market_addr))
    tx.send(attest.functions.grantRole(attest.functions.ARBITER_ROLE().call(), arbiter))
    tx.send(market.functions.grantRole(market.functions.MATCHER_ROLE().call(), matcher))
    tx.send(market.functions.grantRole(market.functions.ARBITER_ROLE().call(), arbiter))
    return Deployment(
        chain_id=w3.eth.chain_id,
        provider_registry=registry_addr,
        attestation_registry=attest_addr,
        job_market=market_addr,
        admin=admin.address,
        treasury=treasury,
        matcher=matcher,
        arbiter=arbiter,
        block_number=w3.eth.block_number,
        params=params,
    )
