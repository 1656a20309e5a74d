"""A small real market for backend tests: a chain, a staked provider whose agent posted
signed attestations of real benchmark reports (a tiny random-weight model measured on
this host), a backend database that indexed and verified them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from web3 import Web3

from backend.chainctx import MarketContext
from backend.config import BackendConfig
from backend.db import AttestationRow, ChainEvent, session_scope
from backend.events import EventSource
from backend.indexer import index_step
from backend.verify import check_report, verify_transaction
from chain.clients import Market
from chain.connection import connect, fund
from chain.deploy import ETHER, Deployment, deploy_market
from protocol.blobstore import LocalBlobStore
from provider_agent.attest import Attester
from provider_agent.bench import GridSpec, run_grid
from provider_agent.hardware import HardwareProfile, profile_by_name
from provider_agent.harness import BenchConfig
from provider_agent.models import ModelInfo, make_random_llama, model_info

METHODS = ("hf-eager", "hf-sdpa", "hf-int8")
WORKLOADS = {
    "chat": dict(num_requests=4, concurrency=4, prompt_tokens=(8, 24), output_tokens=(8, 16)),
    "summarize": dict(num_requests=2, prompt_tokens=(24, 32), output_tokens=(8, 8)),
}
PRICE_PER_SECOND = Web3.to_wei(10_000, "gwei")


@dataclass
class Measured:
    """Benchmark reports of a tiny model, measured once per test module."""

    store_dir: Path
    model: ModelInfo
    hardware: HardwareProfile
    report_hashes: list[str]
    tokens_per_s: dict[tuple[str, str], float]  # (workload, method) -> measured


def measure(root: Path) -> Measured:
    model = model_info(make_random_llama(root / "tiny", size="tiny", seed=3))
    grid = GridSpec(
        models=(str(model.path),),
        hardware=("cpu-1t",),
        workloads=tuple(WORKLOADS),
        methods=METHODS,
        config=BenchConfig(warmup=1, repetitions=3),
        workload_overrides=WORKLOADS,
    )
    result = run_grid(grid, store=LocalBlobStore(root / "blobs"), progress=False, isolate=False)
    assert not result.failures(), result.failures()
    tps = {(r["workload"], r["method"]): r["output_tokens_per_s"] for r in result.rows}
    return Measured(
        root / "blobs", model, profile_by_name("cpu-1t"), sorted(result.reports.values()), tps
    )


@dataclass
class World:
    ctx: MarketContext
    admin: LocalAccount
    provider: LocalAccount
    agent: LocalAccount
    client: LocalAccount
    measured: Measured

    @property
    def market(self) -> Market:
        return self.ctx.market

    @property
    def url(self) -> str:
        return self.ctx.config.database_url

    def index(self) -> None:
        """Index to head and verify every attestation transaction (what the tasks do)."""
        source = EventSource(self.ctx.w3, self.market)
        while True:
            with session_scope(self.url) as s:
                step = index_step(s, source, start_block=self.ctx.deployment.block_number)
            if step.to_block >= step.head:
                break
        with session_scope(self.url) as s:
            attested = select(ChainEvent.tx_hash).where(ChainEvent.name == "Attested")
            for tx in set(s.scalars(attested)):
                verify_transaction(s, self.market, self.ctx.chain_id, tx)
            for row in s.scalars(select(AttestationRow)):
                check_report(s, self.ctx.store, row)


def build_world(database_url: str, measured: Measured, rpc: str = "inprocess") -> World:
    w3 = connect(rpc)
    admin, provider, agent, client = (Account.create() for _ in range(4))
    for account in (admin, provider, agent, client):
        fund(w3, account.address, 100 * ETHER)
    deployment: Deployment = deploy_market(w3, admin)
    market = Market.at(w3, deployment)
    market.registry.as_(provider).register(
        agent=agent,
        hardware_id=measured.hardware.hardware_id,
        price_per_second=PRICE_PER_SECOND,
        metadata_uri="metainf://test-provider",
        stake_wei=3 * ETHER,
    )
    store = LocalBlobStore(measured.store_dir)
    Attester(market, provider.address, agent, store).post_reports(measured.report_hashes)
    config = BackendConfig(
        database_url=database_url,
        broker_url="memory://",
        result_backend="cache+memory://",
        embedded=True,
        rpc_url=rpc,
        deployments_dir=Path("deployments"),
        blob_location=str(measured.store_dir),
    )
    ctx = MarketContext(config, w3, deployment, market, store, admin)
    return World(ctx, admin, provider, agent, client, measured)
