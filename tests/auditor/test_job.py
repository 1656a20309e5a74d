"""`job`: the auditor re-executes a finished job's spec with the job's method (greedy) and
compares with what the provider delivered: exact methods token for token, lossy ones by
token agreement with their reference, against the quality the spec allowed."""

from __future__ import annotations

import pytest

from auditor import jobs
from chain.deploy import ETHER
from protocol.jobspec import JobResult, JobSpec, Output
from provider_agent.hardware import detect
from provider_agent.job_runner import Delivered, JobRunner
from provider_agent.methods import get_method
from provider_agent.models import model_info
from tests.auditor.conftest import World

PRICE = 10**9 * 600


@pytest.fixture
def jobs_world(world: World):
    info = model_info(world.measured.model)
    hardware = detect(threads=[1], gpu=False)[0]
    runner = JobRunner.offering(
        world.market,
        world.honest.address,
        world.honest.agent,
        world.store,
        hardware,
        [info],
        [get_method("hf-eager"), get_method("hf-sdpa"), get_method("hf-int8")],
    )
    return world, info, hardware, runner, world.account()


def _spec(world: World, info, quality="exact") -> JobSpec:
    spec = JobSpec(
        model_id=info.model_id,
        prompts=("the market opens at noon", "a river runs through the city"),
        max_new_tokens=8,
        workload_id=info.model_id,
        model_name=info.name,
        quality=quality,
    )
    world.store.put_json(spec.to_document())
    return spec


def _job(world: World, client, spec: JobSpec, provider: str, method: str, hardware_id: str) -> int:
    now = world.w3.eth.get_block("latest")["timestamp"]
    receipt = world.market.jobs.as_(client).create_job(
        spec_hash=spec.spec_hash,
        model_id=spec.model_id,
        workload_id=spec.workload_id,
        max_runtime_s=3600,
        deadline=now + 3600,
        escrow_wei=ETHER // 100,
    )
    job_id = world.market.jobs.created_job_id(receipt)
    world.market.jobs.as_(world.admin).assign_job(
        job_id, provider, hardware_id, get_method(method).method_id, PRICE
    )
    return job_id


def _deliver(world: World, party, job_id: int, result: JobResult) -> None:
    """What a provider does by hand: accept the offer, store a result, commit its hash."""
    job = world.market.jobs.get_job(job_id)
    agent = world.market.jobs.as_(party.agent)
    agent.accept_job(job_id, job.hardware_id, job.method_id, job.price)
    agent.submit_result(job_id, world.store.put_json(result.to_document()))


def test_honest_results_check_and_a_tampered_one_is_caught(jobs_world) -> None:
    world, info, hardware, runner, client = jobs_world
    spec = _spec(world, info)
    honest_id = _job(world, client, spec, world.honest.address, "hf-sdpa", hardware.hardware_id)
    (outcome,) = runner.poll_once()
    assert isinstance(outcome, Delivered), outcome
    auditor = world.auditor()
    check = auditor.check_job(honest_id)
    assert check.verdict == "ok", check.to_dict()
    assert (check.method, check.exact, check.token_agreement) == ("hf-sdpa", True, 1.0)
    assert check.status == "submitted" and check.required == "exact"

    # the cheat serves the same job but changes one token (and its text) of the first output
    delivered = JobResult.from_document(world.store.get_json(outcome.result_hash))
    first = delivered.outputs[0]
    ids = [*first.token_ids[:5], (first.token_ids[5] + 1) % 300, *first.token_ids[6:]]
    tampered = [Output(text=first.text + "!", token_ids=ids), *delivered.outputs[1:]]
    cheat_id = _job(world, client, spec, world.cheat.address, "hf-sdpa", hardware.hardware_id)
    result = delivered.model_copy(
        update={"job_id": cheat_id, "provider": world.cheat.address, "outputs": tampered}
    )
    _deliver(world, world.cheat, cheat_id, result)
    caught = auditor.check_job(cheat_id)
    assert caught.verdict == "mismatch" and jobs.OUTPUTS in caught.codes(), caught.to_dict()
    assert any("prompt 0, token 5" in f.message for f in caught.findings)
    assert jobs.TEXT in caught.codes() and caught.token_agreement == pytest.approx(15 / 16)

    # a result that names another job, provider or length is caught before any re-run
    short = result.model_copy(update={"job_id": honest_id, "outputs": delivered.outputs[:1]})
    other_id = _job(world, client, spec, world.cheat.address, "hf-sdpa", hardware.hardware_id)
    _deliver(world, world.cheat, other_id, short)
    wrong = auditor.check_job(other_id)
    assert {jobs.RESULT, jobs.LENGTH} <= wrong.codes(), wrong.to_dict()


def test_lossy_methods_are_held_to_the_quality_the_spec_allowed(jobs_world) -> None:
    world, info, hardware, runner, client = jobs_world
    lenient = _spec(world, info, quality=0.5)
    exact = _spec(world, info, quality="exact")
    ok_id = _job(world, client, lenient, world.honest.address, "hf-int8", hardware.hardware_id)
    strict_id = _job(world, client, exact, world.honest.address, "hf-int8", hardware.hardware_id)
    assert [type(o) for o in runner.poll_once()] == [Delivered, Delivered]
    auditor = world.auditor()
    ok = auditor.check_job(ok_id)
    assert ok.verdict == "ok" and ok.exact is False, ok.to_dict()
    assert ok.token_agreement is not None and ok.token_agreement >= 0.5
    strict = auditor.check_job(strict_id)
    assert strict.verdict == "mismatch" and jobs.METHOD in strict.codes(), strict.to_dict()

    # garbage tokens under a lossy method: agreement with the reference collapses
    delivered = JobResult.from_document(
        world.store.get_json("0x" + world.market.jobs.get_job(ok_id).result_hash.hex())
    )
    garbage = [Output(text=o.text, token_ids=[7] * len(o.token_ids)) for o in delivered.outputs]
    cheat_id = _job(world, client, lenient, world.cheat.address, "hf-int8", hardware.hardware_id)
    _deliver(
        world,
        world.cheat,
        cheat_id,
        delivered.model_copy(
            update={"job_id": cheat_id, "provider": world.cheat.address, "outputs": garbage}
        ),
    )
    bad = auditor.check_job(cheat_id)
    assert bad.verdict == "mismatch" and {jobs.AGREEMENT, jobs.TEXT} <= bad.codes(), bad.to_dict()


def test_a_job_without_a_result_is_not_checkable(jobs_world) -> None:
    world, info, hardware, _runner, client = jobs_world
    job_id = _job(
        world, client, _spec(world, info), world.honest.address, "hf-eager", hardware.hardware_id
    )
    check = world.auditor().check_job(job_id)
    assert check.verdict == "not checkable" and "assigned" in check.reason
