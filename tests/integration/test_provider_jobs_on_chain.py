"""The provider agent against a real chain and a real (tiny, random-weight) model:
assigned jobs are run with the assigned method and paid; bad jobs are refused, not crashed on."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from chain.clients import JobStatus, Market
from chain.connection import connect, fund
from chain.deploy import ETHER, deploy_market
from protocol.blobstore import LocalBlobStore
from protocol.canonical import canonical_json, content_id
from protocol.jobspec import JobSpec
from provider_agent.hardware import detect
from provider_agent.job_runner import Delivered, JobRunner, Refused
from provider_agent.methods import get_method
from provider_agent.models import make_random_llama, model_info

WORKLOAD_ID = content_id({"kind": "workload", "name": "adhoc"})
PRICE = 10**9 * 600  # the provider's rate (10**9 wei/s) x 10 minutes


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory):
    return model_info(
        make_random_llama(tmp_path_factory.mktemp("models") / "tiny", size="tiny", seed=1)
    )


@pytest.fixture
def world(tmp_path: Path, tiny_model):
    w3 = connect()
    admin, provider, agent, client = (Account.create() for _ in range(4))
    for a in (admin, provider, agent, client):
        fund(w3, a.address, 100 * ETHER)
    market = Market.at(w3, deploy_market(w3, admin))
    hardware = detect(threads=[1], gpu=False)[0]
    market.registry.as_(provider).register(
        agent=agent,
        hardware_id=hardware.hardware_id,
        price_per_second=10**9,
        metadata_uri="",
        stake_wei=2 * ETHER,
    )
    store = LocalBlobStore(tmp_path / "blobs")
    runner = JobRunner.offering(
        market,
        provider.address,
        agent,
        store,
        hardware,
        [tiny_model],
        [get_method("hf-eager"), get_method("hf-sdpa")],
    )
    return market, admin, provider, client, store, runner


def _job(
    market: Market, admin, provider, client, spec_hash: str, method: str, hardware_id=None
) -> int:
    now = market.jobs.w3.eth.get_block("latest")["timestamp"]
    receipt = market.jobs.as_(client).create_job(
        spec_hash=spec_hash,
        model_id=WORKLOAD_ID,
        workload_id=WORKLOAD_ID,
        max_runtime_s=3600,
        deadline=now + 3600,
        escrow_wei=ETHER // 100,
    )
    job_id = market.jobs.created_job_id(receipt)
    hardware_id = hardware_id or detect(threads=[1], gpu=False)[0].hardware_id
    market.jobs.as_(admin).assign_job(
        job_id, provider.address, hardware_id, get_method(method).method_id, PRICE
    )
    return job_id


def test_assigned_jobs_run_with_the_assigned_method_and_exact_methods_agree(
    world, tiny_model
) -> None:
    market, admin, provider, client, store, runner = world
    spec = JobSpec(
        model_id=tiny_model.model_id,
        prompts=("hello world", "the quick brown fox jumps"),
        max_new_tokens=6,
        workload_id=WORKLOAD_ID,
        model_name=tiny_model.name,
    )
    assert store.put_json(spec.to_document()) == spec.spec_hash
    first = _job(market, admin, provider, client, spec.spec_hash, "hf-sdpa")
    second = _job(market, admin, provider, client, spec.spec_hash, "hf-eager")
    outcomes = runner.poll_once()
    assert [type(o) for o in outcomes] == [Delivered, Delivered], outcomes
    assert runner.poll_once() == []  # each assignment is handled once
    results = {}
    for outcome in outcomes:
        job = market.jobs.get_job(outcome.job_id)
        assert job.status is JobStatus.SUBMITTED
        assert "0x" + job.result_hash.hex() == outcome.result_hash
        doc = store.get_json(outcome.result_hash)
        assert (
            doc["spec_hash"] == spec.spec_hash
            and doc["method_id"] == get_method(outcome.method).method_id
        )
        assert [len(o["token_ids"]) for o in doc["outputs"]] == [6, 6]
        results[outcome.job_id] = [o["token_ids"] for o in doc["outputs"]]
    assert results[first] == results[second]  # SDPA and eager attention are both exact


def test_jobs_it_cannot_run_are_refused_with_a_reason(world, tiny_model) -> None:
    market, admin, provider, client, store, runner = world
    unknown_model = JobSpec(
        model_id=content_id({"model": "nope"}),
        prompts=("hi",),
        max_new_tokens=2,
        workload_id=WORKLOAD_ID,
    )
    store.put_json(unknown_model.to_document())
    ok_spec = JobSpec(
        model_id=tiny_model.model_id, prompts=("hi",), max_new_tokens=2, workload_id=WORKLOAD_ID
    )
    store.put_json(ok_spec.to_document())
    garbage = store.put(b'{"schema": "metainf.job-spec/1", "prompts": []}')
    missing = content_id({"never": "stored"})
    ids = [
        _job(market, admin, provider, client, unknown_model.spec_hash, "hf-eager"),
        _job(market, admin, provider, client, ok_spec.spec_hash, "hf-int8"),  # not offered
        _job(market, admin, provider, client, garbage, "hf-eager"),
        _job(market, admin, provider, client, missing, "hf-eager"),
    ]
    outcomes = runner.poll_once()
    assert all(isinstance(o, Refused) for o in outcomes), outcomes
    reasons = [o.reason for o in outcomes]
    assert "unknown model" in reasons[0]
    assert "is not offered by this provider" in reasons[1]
    assert "malformed job spec" in reasons[2]
    assert "unavailable" in reasons[3]
    assert all(market.jobs.get_job(i).status is JobStatus.ASSIGNED for i in ids)  # not accepted
    market.jobs.as_(client).cancel_job(ids[0])  # so the client takes its escrow back at once
    assert market.jobs.get_job(ids[0]).status is JobStatus.CANCELLED
    assert market.jobs.withdrawable(client.address) == ETHER // 100


def test_spec_bytes_are_verified_against_the_on_chain_hash(world, tiny_model) -> None:
    market, admin, provider, client, store, runner = world
    spec = JobSpec(
        model_id=tiny_model.model_id, prompts=("hi",), max_new_tokens=2, workload_id=WORKLOAD_ID
    )
    h = store.put_json(spec.to_document())
    store.path(h).write_bytes(canonical_json({**spec.to_document(), "max_new_tokens": 3}))  # tamper
    _job(market, admin, provider, client, h, "hf-eager")
    (outcome,) = runner.poll_once()
    assert isinstance(outcome, Refused) and "unavailable" in outcome.reason
