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


DAY = 24 * 3600


@dataclass(frozen=True)
class MarketParams:
    """Protocol parameters fixed at deployment (immutable on chain); docs/contracts.md says
    what each one protects. Validated here once, and again by the constructors."""

    admin_delay_s: int = 2 * DAY
    min_stake_wei: int = ETHER
    unstake_cooldown_s: int = 7 * DAY
    attestation_slash_wei: int = ETHER // 2
    ban_threshold_wei: int = ETHER
    max_clock_skew_s: int = 3600
    attestation_challenge_window_s: int = 3 * DAY
    attestation_ruling_period_s: int = 7 * DAY
    min_challenge_bond_wei: int = ETHER // 10
    challenger_share_bps: int = 5_000
    protocol_fee_bps: int = 200
    job_challenge_window_s: int = 3600
    dispute_ruling_period_s: int = 3 * DAY
    min_dispute_bond_wei: int = ETHER // 100
    collateral_bps: int = 10_000
    client_compensation_bps: int = 5_000

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        checks = [
            (self.challenger_share_bps <= 10_000, "challenger_share_bps must be at most 10000"),
            (self.protocol_fee_bps <= 1_000, "protocol_fee_bps must be at most 1000 (10%)"),
            (1 <= self.collateral_bps <= 50_000, "collateral_bps must be in 1..50000"),
            (self.client_compensation_bps <= 10_000, "client_compensation_bps must be <= 10000"),
            (self.ban_threshold_wei > 0, "ban_threshold_wei must be positive"),
            (
                self.unstake_cooldown_s
                > self.attestation_challenge_window_s + self.max_clock_skew_s,
                "unstake_cooldown_s must exceed the challenge window plus the clock skew "
                "(or a provider could leave before a claim can be challenged)",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


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
    """Deploy ProviderRegistry, AttestationRegistry and JobMarket; connect the two market
    contracts to the registry (the only contracts that may lock or slash stake), and grant
    the matcher and arbiter roles to the given accounts."""
    p = params or MarketParams()
    treasury = treasury or admin.address
    matcher = matcher or admin.address
    arbiter = arbiter or admin.address
    tx = Transactor(w3, admin)
    first_block = w3.eth.block_number + 1  # the registry's deployment goes in this block or later
    registry_addr = _deploy(
        tx,
        "ProviderRegistry",
        admin.address,
        p.admin_delay_s,
        p.min_stake_wei,
        p.unstake_cooldown_s,
        p.attestation_slash_wei,
        p.ban_threshold_wei,
    )
    attest_addr = _deploy(
        tx,
        "AttestationRegistry",
        admin.address,
        p.admin_delay_s,
        registry_addr,
        treasury,
        p.max_clock_skew_s,
        p.attestation_challenge_window_s,
        p.attestation_ruling_period_s,
        p.min_challenge_bond_wei,
        p.challenger_share_bps,
    )
    market_addr = _deploy(
        tx,
        "JobMarket",
        admin.address,
        p.admin_delay_s,
        registry_addr,
        treasury,
        p.protocol_fee_bps,
        p.job_challenge_window_s,
        p.dispute_ruling_period_s,
        p.min_dispute_bond_wei,
        p.collateral_bps,
        p.client_compensation_bps,
    )
    registry = _contract(w3, "ProviderRegistry", registry_addr)
    attest = _contract(w3, "AttestationRegistry", attest_addr)
    market = _contract(w3, "JobMarket", market_addr)
    tx.send(registry.functions.connectMarkets(attest_addr, market_addr))
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
        block_number=first_block,
        params=p,
    )


def _contract(w3: Web3, name: str, address: str):  # noqa: ANN202 - web3 Contract
    return w3.eth.contract(address=address, abi=load_artifact(name).abi)
