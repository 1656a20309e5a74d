"""The client SDK against a real backend (HTTP API on a local port, real database), a real
chain and a real provider agent serving a tiny model: a job goes from escrow to a verified
result and a payout; the usual failures raise the typed error that says what to do."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from eth_account import Account

from backend.api.app import create_app
from backend.api.serve import ServedApi
from backend.db import session_scope
from backend.matcher import match_and_assign
from backend.settlement import settle_due
from chain.connection import advance_time
from protocol.jobspec import JobResult
from protocol.settings import Settings
from provider_agent.job_runner import Delivered, JobRunner
from provider_agent.methods import get_method
from provider_agent.workloads import get_workload
from sdk import (
    AsyncClient,
    Client,
    InsufficientFunds,
    NoProviderMatched,
    ResultHashMismatch,
)
from tests.backend.market_world import WORKLOADS, Measured, World, build_world, measure

CHAT = get_workload("chat").with_(**WORKLOADS["chat"])
PROMPTS = ["Hello there", "What is a GPU?"]


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Measured:
    return measure(tmp_path_factory.mktemp("measured"))


@pytest.fixture
def world(tmp_path, measured: Measured) -> Iterator[tuple[World, Client]]:
    from backend.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'backend.db'}"
    upgrade(url)
    w = build_world(url, measured)
    w.index()
    with ServedApi(create_app(w.ctx.config, Settings())) as api_url:
        client = Client(backend_url=api_url, private_key=w.client.key, market=w.market)
        yield w, client


def _runner(w: World) -> JobRunner:
    methods = [get_method(n) for n in ("hf-eager", "hf-sdpa")]
    return JobRunner.offering(
        w.market, w.provider.address, w.agent, w.ctx.store, w.measured.hardware,
        [w.measured.model], methods,
    )  # fmt: skip


def _submit(w: World, client: Client, budget_wei: int = 10**16):  # noqa: ANN202
    job = client.submit_job(
        w.measured.model.model_id, PROMPTS, 8, budget_wei, workload=CHAT.workload_id
    )
    w.index()
    return job


def test_a_job_goes_from_escrow_to_a_verified_result_and_a_payout(world) -> None:
    w, client = world
    job = _submit(w, client)
    assert match_and_assign(w.ctx, job.job_id).status == "assigned"
    (outcome,) = _runner(w).poll_once()
    assert isinstance(outcome, Delivered)
    delivered = job.wait(timeout=60, until="result")
    assert len(delivered.outputs) == 2 and all(len(t) == 8 for t in delivered.token_ids)
    assert delivered.method_name in ("hf-eager", "hf-sdpa")
    assert delivered.predicted_runtime_s and delivered.measured_runtime_s
    advance_time(w.ctx.w3, w.ctx.deployment.params.job_challenge_window_s + 1)
    w.index()
    with session_scope(w.url) as s:
        settle_due(s, w.ctx.signed, w.ctx.chain_id)
    final = job.wait(timeout=60)
    assert final.state == "finalized"
    assert final.cost_wei + final.refund_wei == 10**16
    assert client.withdraw() == final.refund_wei
    assert [j["job_id"] for j in client.jobs()] == [job.job_id]


def test_no_match_is_a_typed_error_and_the_escrow_comes_back(world) -> None:
    w, client = world
    job = _submit(w, client, budget_wei=1000)  # far below any predicted cost
    match_and_assign(w.ctx, job.job_id)
    with pytest.raises(NoProviderMatched, match="predicted cost exceeds the escrow"):
        job.wait(timeout=30)
    assert client.refund(job.job_id) == 1000


def test_a_result_that_is_not_the_committed_one_is_refused(world) -> None:
    w, client = world
    job = _submit(w, client)
    decided = match_and_assign(w.ctx, job.job_id)
    jobs = w.market.jobs.as_(w.agent)
    jobs.accept_job(job.job_id, decided.hardware_id, decided.method_id, decided.price_wei)
    forged = JobResult(
        job_id=job.job_id,
        spec_hash="0x" + "00" * 32,  # answers another spec
        provider=w.provider.address,
        method_id=decided.method_id,
        outputs=[{"text": "lies", "token_ids": [1]}],
    )
    jobs.submit_result(job.job_id, w.ctx.store.put_json(forged.to_document()))
    w.index()  # the backend learns the committed hash, so the client may read the blob
    with pytest.raises(ResultHashMismatch, match="spec_hash"):
        job.wait(timeout=30, until="result")
    assert job.dispute("the result answers another spec").startswith("0x")


def test_a_poor_client_is_told_before_anything_is_escrowed(world) -> None:
    w, client = world
    poor = Client(backend_url=client.backend_url, private_key=Account.create().key, market=w.market)
    with pytest.raises(InsufficientFunds, match="holds 0 wei"):
        poor.submit_job(w.measured.model.model_id, PROMPTS, 8, 10**16)


def test_the_async_client_submits_and_follows_a_job(world) -> None:
    w, client = world

    async def go() -> int:
        aclient = AsyncClient(
            backend_url=client.backend_url, private_key=w.client.key, market=w.market
        )
        job = await aclient.submit_job(w.measured.model.model_id, PROMPTS, 8, 10**16)
        return job.job_id

    job_id = asyncio.run(go())
    assert w.market.jobs.get_job(job_id).escrow == 10**16
