"""The backend closes the loop on a real chain and a real database: signed attestations of
real benchmark reports are indexed and re-verified, a paid job is matched to the fastest
feasible (provider, method), offered on chain within the contract's bounds, served by the
provider agent, and settled; bad claims and impossible jobs are caught, not crashed on."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from sqlalchemy import select
from web3 import Web3

from backend.dataset import build_dataset
from backend.db import AttestationRow, JobRow, MatchDecision, session_scope
from backend.matcher import MatchPolicy, _record, decide, match_and_assign
from backend.settlement import settle_due
from chain.clients import JobStatus
from chain.connection import advance_time
from protocol.jobspec import JobSpec
from provider_agent.job_runner import Delivered, JobRunner
from provider_agent.methods import get_method
from provider_agent.workloads import get_workload
from tests.backend.market_world import WORKLOADS, Measured, World, build_world, measure

CHAT = get_workload("chat").with_(**WORKLOADS["chat"])


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Measured:
    return measure(tmp_path_factory.mktemp("measured"))


@pytest.fixture
def world(database_url: str, measured: Measured) -> World:
    w = build_world(database_url, measured)
    w.index()
    return w


def _submit(world: World, quality="exact", escrow_eth=0.01, max_runtime_s=600) -> int:
    spec = JobSpec(
        model_id=world.measured.model.model_id,
        prompts=("Hello there", "What is a GPU?", "Tell me a story", "Why?"),
        max_new_tokens=8,
        workload_id=CHAT.workload_id,
        quality=quality,
    )
    world.ctx.store.put_json(spec.to_document())
    now = world.ctx.w3.eth.get_block("latest")["timestamp"]
    receipt = world.market.jobs.as_(world.client).create_job(
        spec_hash=spec.spec_hash,
        model_id=spec.model_id,
        workload_id=spec.workload_id,
        max_runtime_s=max_runtime_s,
        deadline=now + 3600,
        escrow_wei=Web3.to_wei(escrow_eth, "ether"),
    )
    job_id = world.market.jobs.created_job_id(receipt)
    world.index()
    return job_id


def test_attestations_are_reverified_against_signer_and_report(world: World) -> None:
    with session_scope(world.url) as s:
        rows = s.scalars(select(AttestationRow)).all()
    assert len(rows) == len(world.measured.report_hashes)
    assert all(r.signature_ok and r.report_ok for r in rows)
    assert {r.signer for r in rows} == {world.agent.address}
    # each item of the batch has its own claim hash: what a challenge of it names
    assert len({r.claim_hash for r in rows}) == len(rows)
    assert sorted(r.batch_index for r in rows) == list(range(len(rows)))


def test_a_job_is_matched_to_the_fastest_exact_method_and_settled(world: World) -> None:
    job_id = _submit(world)
    result = match_and_assign(world.ctx, job_id)
    assert result.status == "assigned", result.reason
    measured = world.measured.tokens_per_s
    exact = {m: measured[("chat", m)] for m in ("hf-eager", "hf-sdpa")}  # hf-int8 is lossy
    chosen = next(n for n in exact if get_method(n).method_id == result.method_id)
    assert chosen == max(exact, key=exact.get)  # no model yet: the attested figures decide
    job = world.market.jobs.get_job(job_id)
    assert job.status is JobStatus.ASSIGNED and job.price == result.price_wei
    assert 0 < job.price <= job.escrow
    assert match_and_assign(world.ctx, job_id).status in ("not-open", "assigned")  # redelivery
    runner = JobRunner.offering(
        world.market,
        world.provider.address,
        world.agent,
        world.ctx.store,
        world.measured.hardware,
        [world.measured.model],
        [get_method(n) for n in ("hf-eager", "hf-sdpa")],
    )
    (outcome,) = runner.poll_once()
    assert isinstance(outcome, Delivered), outcome
    advance_time(world.ctx.w3, world.ctx.deployment.params.job_challenge_window_s + 1)
    world.index()
    with session_scope(world.url) as s:
        report = settle_due(s, world.ctx.signed, world.ctx.chain_id)
    assert report.finalized == [job_id]
    assert world.market.jobs.get_job(job_id).status is JobStatus.FINALIZED
    world.index()
    with session_scope(world.url) as s:
        assert s.scalar(select(JobRow.status).where(JobRow.job_id == job_id)) == "finalized"
        decision = s.scalar(select(MatchDecision).where(MatchDecision.job_id == job_id))
        assert decision.tx_hash and decision.candidates[0]["method_id"] == result.method_id


def test_workers_racing_on_a_decided_job_send_one_assignment(world: World) -> None:
    # a decision whose assignJob was never recorded: what a redelivered message and the
    # sweep's copy of it both find, and both see the job still open on chain
    job_id = _submit(world)
    with session_scope(world.url) as s:
        job = s.scalar(select(JobRow).where(JobRow.job_id == job_id))
        assert _record(s, world.ctx.chain_id, decide(s, world.ctx, job, MatchPolicy()))
    start = Barrier(4)

    def worker() -> str | None:
        start.wait()
        return match_and_assign(world.ctx, job_id).tx_hash

    with ThreadPoolExecutor(4) as pool:
        sent = [f.result() for f in [pool.submit(worker) for _ in range(4)]]
    logs = world.market.jobs.logs("JobAssigned", world.ctx.deployment.block_number)
    assert [log["args"]["jobId"] for log in logs].count(job_id) == 1
    with session_scope(world.url) as s:
        recorded = s.scalar(select(MatchDecision.tx_hash).where(MatchDecision.job_id == job_id))
    assert recorded and set(sent) <= {recorded, None}


def test_lossy_methods_need_the_client_s_consent(world: World) -> None:
    strict = match_and_assign(world.ctx, _submit(world, quality="exact"))
    lossy_ok = match_and_assign(world.ctx, _submit(world, quality=0.0))
    int8 = get_method("hf-int8").method_id
    assert int8 not in {c.method_id for c in strict.candidates}
    assert int8 in {c.method_id for c in lossy_ok.candidates}


def test_an_infeasible_job_is_unmatched_with_the_reason_and_refundable(world: World) -> None:
    job_id = _submit(world, escrow_eth=1e-12)  # 1 micro-ether-cent: nothing fits
    result = match_and_assign(world.ctx, job_id)
    assert result.status == "unmatched"
    assert "predicted cost exceeds the escrow" in result.reason
    with session_scope(world.url) as s:
        job = s.scalar(select(JobRow).where(JobRow.job_id == job_id))
        assert job.unmatched_reason == result.reason
    world.market.jobs.as_(world.client).cancel_job(job_id)
    assert world.market.jobs.get_job(job_id).status is JobStatus.CANCELLED


def test_a_forged_report_is_flagged_and_left_out_of_the_data_set(world: World) -> None:
    with session_scope(world.url) as s:
        before = build_dataset(s).n_cells
        row = s.scalars(select(AttestationRow)).first()
        forged = dict(world.ctx.store.get_json(row.report_hash))
        forged["metrics"] = {**forged["metrics"], "output_tokens_per_s": 1e6}
        # the forged document lives under its own hash: it cannot replace the attested one
        assert world.ctx.store.put_json(forged) != row.report_hash
        row.report_ok = False
        s.flush()
        assert build_dataset(s).n_cells == before - 1
