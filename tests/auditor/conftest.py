"""A real measured cell (tiny random-weight Llama, the agent's harness) and a real market
with an honest and a cheating provider, for the auditor's tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from auditor import Auditor
from chain.clients import Market
from chain.connection import connect, fund
from chain.deploy import ETHER, Deployment, deploy_market
from protocol.blobstore import LocalBlobStore
from protocol.eip712 import Measurement
from provider_agent.attest import Attester, Posted
from provider_agent.bench import GridSpec, run_grid
from provider_agent.harness import BenchConfig
from provider_agent.models import make_random_llama

# ~1 s per repetition: long enough that a neighbour's burst does not decide the figure
STREAM = "chat-stream"
OVERRIDES = {STREAM: {"num_requests": 4, "concurrency": 1, "output_tokens": (64, 64)}}


@dataclass(frozen=True)
class Measured:
    model: Path
    blobs: Path
    reports: dict[str, str]  # workload name -> report hash

    def store(self) -> LocalBlobStore:
        return LocalBlobStore(self.blobs)

    def report(self, workload: str = STREAM) -> dict[str, Any]:
        return self.store().get_json(self.reports[workload])


def bench(model: Path, blobs: Path, workloads: tuple[str, ...]) -> dict[str, str]:
    """Measure hf-eager cells on one CPU thread with the agent's grid runner (as a provider
    does: each group in a worker process): workload name -> report hash."""
    grid = GridSpec(
        models=(str(model),),
        hardware=("cpu-1t",),
        workloads=workloads,
        methods=("hf-eager",),
        config=BenchConfig(warmup=1, repetitions=3),
        workload_overrides=OVERRIDES,
    )
    result = run_grid(grid, store=LocalBlobStore(blobs), progress=False)
    assert not result.failures(), result.failures()
    return {key[2]: h for key, h in result.reports.items()}


@pytest.fixture(scope="session")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Measured:
    """Two cells of hf-eager on one CPU thread, measured by the agent's grid runner."""
    root = tmp_path_factory.mktemp("auditor-bench")
    model = make_random_llama(root / "tiny", size="tiny", seed=5)
    return Measured(model, root / "blobs", bench(model, root / "blobs", (STREAM, "decode-heavy")))


@dataclass
class Party:
    owner: LocalAccount
    agent: LocalAccount
    attester: Attester

    @property
    def address(self) -> str:
        return self.owner.address


@dataclass
class World:
    w3: Web3
    market: Market
    admin: LocalAccount  # deployer, matcher and arbiter
    honest: Party
    cheat: Party
    auditor_account: LocalAccount
    store: LocalBlobStore
    measured: Measured
    from_block: int
    posted: list[Posted] = field(default_factory=list)

    def account(self, ether: int = 100) -> LocalAccount:
        a = Account.create()
        fund(self.w3, a.address, ether * ETHER)
        return a

    def post(self, party: Party, *reports: dict[str, Any]) -> Posted:
        """Store ``reports`` and post their measurements (one attestation, or a batch)."""
        for r in reports:
            self.store.put_json(r)
        return self.post_measurements(party, *[Measurement.from_report(r) for r in reports])

    def post_measurements(self, party: Party, *items: Measurement) -> Posted:
        posted = party.attester.post(list(items))
        self.posted.append(posted)
        return posted

    def auditor(self, **kwargs: Any) -> Auditor:
        kwargs.setdefault("models", [self.measured.model])
        return Auditor(
            self.market,
            self.store,
            account=self.auditor_account,
            from_block=self.from_block,
            **kwargs,
        )


def make_world(
    w3: Web3,
    measured: Measured,
    deployment: Deployment | None = None,
    admin: LocalAccount | None = None,
) -> World:
    """Both providers registered on ``deployment`` (deployed here by ``admin`` when None)."""
    admin, auditor = admin or Account.create(), Account.create()
    for a in (admin, auditor):
        fund(w3, a.address, 100 * ETHER)
    deployment = deployment or deploy_market(w3, admin)
    market = Market.at(w3, deployment)
    store = measured.store()
    hardware_id = Measurement.from_report(measured.report()).hardwareId
    parties = []
    for _ in range(2):
        owner, agent = Account.create(), Account.create()
        for a in (owner, agent):
            fund(w3, a.address, 100 * ETHER)
        market.registry.as_(owner).register(
            agent=agent,
            hardware_id=hardware_id,
            price_per_second=10**9,
            metadata_uri="",
            stake_wei=2 * ETHER,
        )
        parties.append(Party(owner, agent, Attester(market, owner.address, agent, store)))
    return World(w3, market, admin, *parties, auditor, store, measured, deployment.block_number)


@pytest.fixture
def world(measured: Measured) -> World:
    """A fresh in-process chain with the market deployed and both providers staked."""
    return make_world(connect(), measured)
