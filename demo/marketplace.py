"""One marketplace round on the embedded default: real benchmarks, real attestations,
a real paid job served by a real (tiny, random-weight) model on an in-process chain.

1. deploy the contracts; a provider, its agent key and a client get throwaway keys;
2. the provider agent benchmarks a few CPU methods on a tiny model and stores the reports;
3. it registers, stakes, and posts the reports as one signed batch of attestations;
4. every attested figure is re-derived from its stored report (what an auditor checks);
5. the client uploads a job spec and escrows payment; the job is assigned the method whose
   attested throughput on that (model, hardware, workload) is highest among exact methods
   (the MetaInf matcher of the backend takes this place once it exists);
6. the agent runs the job with that method and commits the result hash; after the
   challenge window the job finalizes and the provider withdraws its pay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3

from chain.clients import Market
from chain.connection import advance_time, connect, fund
from chain.deploy import MarketParams, deploy_market
from protocol.blobstore import LocalBlobStore
from protocol.eip712 import Measurement
from protocol.jobspec import JobSpec
from provider_agent.attest import Attester
from provider_agent.bench import GridSpec, run_grid
from provider_agent.hardware import profile_by_name
from provider_agent.harness import BenchConfig
from provider_agent.job_runner import Delivered, JobRunner
from provider_agent.methods import get_method
from provider_agent.models import make_random_llama, model_info
from provider_agent.workloads import get_workload

METHODS = ("hf-eager", "hf-sdpa", "hf-int8", "hf-ngram")
WORKLOADS = {
    "chat": dict(num_requests=4, concurrency=4, prompt_tokens=(8, 24), output_tokens=(8, 16)),
    "summarize": dict(num_requests=2, prompt_tokens=(24, 32), output_tokens=(8, 8)),
}
PROMPTS = ("Tell me about GPUs.", "What is prefix caching?", "Write a haiku.", "Hello!")
ESCROW = Web3.to_wei(0.01, "ether")
PRICE_PER_SECOND = Web3.to_wei(10_000, "gwei")
MAX_RUNTIME_S = 600
PRICE = Web3.to_wei(0.004, "ether")  # <= PRICE_PER_SECOND x MAX_RUNTIME_S (0.006 ETH)


@dataclass
class DemoResult:
    attestations_posted: int
    attestations_verified: int
    job_id: int
    job_state: str
    method: str
    attested_tokens_per_s: dict[str, float]
    provider_paid_wei: int
    client_refund_wei: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pick_method(market: Market, model_id: str, hw_id: str, workload_id: str) -> str:
    """The exact method with the highest attested throughput for this task."""
    best: dict[str, int] = {}
    for event in market.attestations.logs("Attested", 0):
        a = event["args"]["measurement"]
        task = (
            "0x" + a["modelId"].hex(),
            "0x" + a["hardwareId"].hex(),
            "0x" + a["workloadId"].hex(),
        )
        if task == (model_id, hw_id, workload_id):
            best["0x" + a["methodId"].hex()] = a["tokensPerSecX1000"]
    exact = {m: tps for m, tps in best.items() if _method_by_id(m).exact}
    return max(exact, key=exact.get)


def _method_by_id(method_id: str):  # noqa: ANN202 - MethodSpec
    return next(get_method(n) for n in METHODS if get_method(n).method_id == method_id)


def run_demo(work_dir: Path, say: Callable[[str], None] = print) -> DemoResult:
    work_dir.mkdir(parents=True, exist_ok=True)
    store = LocalBlobStore(work_dir / "blobs")
    w3 = connect("inprocess")
    admin, provider, agent, client = (Account.create() for _ in range(4))
    for account in (admin, provider, agent, client):
        fund(w3, account.address, 100 * 10**18)
    params = MarketParams()
    market = Market.at(w3, deploy_market(w3, admin, params=params))
    say(f"deployed the market on in-process chain {w3.eth.chain_id}")

    model = model_info(make_random_llama(work_dir / "models" / "tiny", size="tiny", seed=0))
    grid = GridSpec(
        models=(str(model.path),),
        hardware=("cpu-1t",),
        workloads=tuple(WORKLOADS),
        methods=METHODS,
        config=BenchConfig(warmup=1, repetitions=3),
        workload_overrides=WORKLOADS,
    )
    say(f"benchmarking {len(METHODS)} methods x {len(WORKLOADS)} workloads on {model.name}")
    bench = run_grid(grid, store=store, progress=True, isolate=False)
    if bench.failures():
        raise RuntimeError(f"benchmark cells failed: {bench.failures()}")
    hardware = profile_by_name("cpu-1t")
    market.registry.as_(provider).register(
        agent=agent,
        hardware_id=hardware.hardware_id,
        price_per_second=PRICE_PER_SECOND,
        metadata_uri="metainf://demo-provider",
        stake_wei=2 * params.min_stake_wei,
    )
    posted = Attester(market, provider.address, agent, store).post_reports(
        sorted(bench.reports.values()), batch_size=32
    )
    n_posted = sum(len(p.measurements) for p in posted)
    say(f"provider {provider.address} registered and posted {n_posted} signed attestations")

    verified = 0
    for event in market.attestations.logs("Attested", 0):
        claim = Measurement.model_validate(dict(event["args"]["measurement"]))
        claim.check_supported_by(store.get_json("0x" + claim.reportHash.hex()))
        verified += 1
    say(f"{verified} attestations re-derived from their stored reports")

    chat = get_workload("chat").with_(**WORKLOADS["chat"])
    spec = JobSpec(
        model_id=model.model_id,
        prompts=PROMPTS,
        max_new_tokens=8,
        workload_id=chat.workload_id,
        model_name=model.name,
    )
    store.put_json(spec.to_document())
    deadline = w3.eth.get_block("latest")["timestamp"] + 3600
    receipt = market.jobs.as_(client).create_job(
        spec_hash=spec.spec_hash,
        model_id=model.model_id,
        workload_id=chat.workload_id,
        max_runtime_s=MAX_RUNTIME_S,
        deadline=deadline,
        escrow_wei=ESCROW,
    )
    job_id = market.jobs.created_job_id(receipt)
    method_id = _pick_method(market, model.model_id, hardware.hardware_id, chat.workload_id)
    method = _method_by_id(method_id)
    market.jobs.as_(admin).assign_job(
        job_id, provider.address, hardware.hardware_id, method_id, PRICE
    )
    say(f"job {job_id}: {Web3.from_wei(ESCROW, 'ether')} ETH escrowed, assigned {method.name}")

    runner = JobRunner.offering(market, provider.address, agent, store, hardware, [model], [method])
    (outcome,) = runner.poll_once()
    if not isinstance(outcome, Delivered):
        raise RuntimeError(f"the provider refused job {job_id}: {outcome.reason}")
    advance_time(w3, params.job_challenge_window_s + 1)
    market.jobs.as_(client).finalize(job_id)
    paid = market.jobs.withdrawable(provider.address)
    refund = market.jobs.withdrawable(client.address)
    market.jobs.as_(provider).withdraw()
    state = market.jobs.get_job(job_id).status
    say(f"job {job_id} {state.name.lower()}: provider paid {paid} wei, client refund {refund} wei")
    tps = {
        r["method"]: round(r["output_tokens_per_s"], 1)
        for r in bench.rows
        if r["workload"] == "chat"
    }
    return DemoResult(
        attestations_posted=n_posted,
        attestations_verified=verified,
        job_id=job_id,
        job_state=state.name.lower(),
        method=method.name,
        attested_tokens_per_s=tps,
        provider_paid_wei=paid,
        client_refund_wei=refund,
    )
