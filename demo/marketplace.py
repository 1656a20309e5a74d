"""The whole marketplace in one run, on the embedded default stack (``metainf demo``).

1. deploy the contracts on an in-process EVM; start the backend (SQLite, a real Celery
   worker on the embedded transport, the HTTP API) and import the committed CPU
   meta-data set as history for the meta-learner;
2. three providers with different hardware profiles stake, benchmark their methods on a
   small random-weight model with the real harness, and post signed attestations; one of
   them also posts a deliberately false one (speed figures inflated 3x);
3. the backend indexes and re-verifies every attestation, builds the data set and trains
   MetaInf; an auditor re-verifies everything, re-measures the claims and challenges the
   false one; the arbiter upholds it and the cheater is slashed;
4. a client submits a paid job through the SDK; the backend picks the provider and
   method that MetaInf predicts fastest within the budget and offers it on chain; the
   provider's agent accepts and runs it; the client verifies the result against its
   on-chain hash; after the challenge window the job is settled and everybody withdraws;
5. the job is re-run with every eligible method on the chosen hardware, to check the
   choice against measurements; a summary, a markdown report and plots are written.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from web3 import Web3

from backend.dataset import import_external_csv
from backend.db import session_scope
from chain.clients import JobStatus
from chain.connection import advance_time
from demo.providers import (
    METHODS,
    WORKLOADS,
    DemoProvider,
    ProviderPlan,
    benchmark,
    post_false_attestation,
    register_and_attest,
)
from demo.stack import EmbeddedStack, Stack
from protocol.jobspec import JobSpec
from provider_agent.engines import make_engine
from provider_agent.job_runner import Delivered, run_spec
from provider_agent.methods import get_method
from provider_agent.models import ModelInfo, make_random_llama, model_info
from provider_agent.workloads import get_workload
from sdk import Client

REPO = Path(__file__).resolve().parent.parent
HISTORY = REPO / "data" / "metadataset" / "cpu-v1.csv"
HISTORY_DESCRIPTORS = REPO / "data" / "metadataset" / "cpu-v1.descriptors.json"
PLANS = (
    ProviderPlan("alpha", ("cpu-1t",), price_gwei_per_s=20_000),
    ProviderPlan("beta", ("cpu-2t",), price_gwei_per_s=40_000),
    ProviderPlan("gamma", ("cpu-1t", "cpu-2t"), price_gwei_per_s=30_000),
)
CHEATER = "beta"
PROMPTS = (
    "Explain what a GPU does in one paragraph.",
    "Write a short poem about the sea.",
    "What is prefix caching in LLM serving?",
    "List three uses of speculative decoding.",
)
BUDGET = Web3.to_wei(0.05, "ether")
MAX_NEW_TOKENS = 24


@dataclass
class DemoResult:
    """What ``metainf demo --json`` writes (values of that run)."""

    attestations_posted: int
    attestations_verified: int
    job_state: str
    provider: str
    method: str
    predicted_best_method: str
    measured_best_method: str
    speedup_vs_baseline: float
    chosen_vs_best_throughput: float
    provider_paid_wei: int
    client_refund_wei: int
    false_attestation_slashed: bool
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Say = Callable[[str], None]


def _setup_model(work_dir: Path) -> ModelInfo:
    return model_info(make_random_llama(work_dir / "models" / "small", size="small", seed=7))


def _backend_round(stack: Stack, say: Say) -> dict:
    """Index and verify everything on chain, then train: through the worker."""
    indexed = stack.run_task("backend.index_chain")
    stack.run_task("backend.sweep")  # verification tasks queued by the index run finish first
    trained = stack.run_task("backend.train_selector")
    say(
        f"backend indexed {indexed['events']} events; MetaInf training: {trained['status']}"
        f" ({trained['reason']})"
    )
    return trained


def _providers(stack: Stack, model: ModelInfo, say: Say) -> tuple[list[DemoProvider], int]:
    providers, posted = [], 0
    for plan in PLANS:
        say(
            f"provider {plan.name} benchmarks {len(METHODS)} methods x {len(WORKLOADS)} "
            f"workloads on {', '.join(plan.profiles)}"
        )
        provider = benchmark(stack, plan, model)
        n = register_and_attest(stack, provider)
        posted += n
        say(
            f"provider {plan.name} ({provider.address}) staked 3 ETH and posted {n} signed attestations"
        )
        providers.append(provider)
    return providers, posted


def _wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


def _serve_job(stack: Stack, providers: list[DemoProvider], model: ModelInfo, job_id: int):
    """Every provider's agent polls once; the assigned one accepts and delivers."""
    job = stack.market.jobs.get_job(job_id)
    owner = next(p for p in providers if p.address == job.provider)
    hardware = next(h for h in owner.hardware if h.hardware_id == "0x" + job.hardware_id.hex())
    outcomes = owner.runner(stack, model, hardware).poll_once()
    delivered = [o for o in outcomes if isinstance(o, Delivered) and o.job_id == job_id]
    if not delivered:
        raise RuntimeError(f"the provider did not deliver job {job_id}: {outcomes}")
    return owner, hardware


def _measure_methods(spec: JobSpec, model: ModelInfo, hardware, methods: list[str]) -> dict:
    """Output tokens/s of the job itself with each method (median of 3 after a warm-up)."""
    out = {}
    for name in methods:
        engine = make_engine(model, get_method(name), hardware, max_model_len=1024)
        engine.load()
        run_spec(engine, spec, model)
        runs = [run_spec(engine, spec, model)[1]["output_tokens_per_s"] for _ in range(3)]
        engine.close()
        out[name] = statistics.median(runs)
    return out


def _settle(stack: Stack, client: Client, job_id: int) -> None:
    advance_time(stack.w3, stack.deployment.params.job_challenge_window_s + 1)
    stack.run_task("backend.index_chain")
    stack.run_task("backend.settle_jobs")


def run_demo(work_dir: Path, say: Say = print) -> DemoResult:
    work_dir.mkdir(parents=True, exist_ok=True)
    with EmbeddedStack(work_dir) as stack:
        say(f"market deployed on an in-process chain; backend API at {stack.api_url}")
        with session_scope(stack.config.database_url) as s:
            imported = import_external_csv(s, HISTORY, HISTORY_DESCRIPTORS, name="cpu-xeon")
        say(f"imported {imported} cells of history (data/metadataset/cpu-v1.csv) for MetaInf")
        model = _setup_model(work_dir)
        providers, posted = _providers(stack, model, say)
        cheater = next(p for p in providers if p.plan.name == CHEATER)
        fake = post_false_attestation(stack, cheater)
        posted += 1
        say(
            f"provider {CHEATER} also posted a false attestation ({fake['method']} on "
            f"{fake['workload']}, figures x{fake['inflation']:g})"
        )
        _backend_round(stack, say)
        audit = audit_market(stack, providers, fake, say)
        trained = _backend_round(stack, say)
        return _client_round(stack, providers, model, posted, audit, trained, say)


def audit_market(stack: Stack, providers: list[DemoProvider], fake: dict, say: Say) -> dict:
    """The auditor's pass (see auditor/): verify every attestation, re-measure, challenge."""
    from demo.audit import run_audit

    return run_audit(stack, providers, fake, say)


def _client_round(stack, providers, model, posted, audit, trained, say) -> DemoResult:  # noqa: ANN001
    client_account = stack.account()
    client = Client(backend_url=stack.api_url, private_key=client_account.key, market=stack.market)
    chat = get_workload("chat").with_(**WORKLOADS["chat"])
    handle = client.submit_job(
        model.model_id, list(PROMPTS), MAX_NEW_TOKENS, BUDGET, workload=chat.workload_id
    )
    say(f"client submitted job {handle.job_id} with {Web3.from_wei(BUDGET, 'ether')} ETH escrow")
    stack.run_task("backend.index_chain")  # the worker matches it right after indexing
    _wait_for(
        lambda: (
            stack.market.jobs.get_job(handle.job_id).status is JobStatus.ASSIGNED
            or (client.backend_view(handle.job_id) or {}).get("unmatched_reason")
        ),
        120,
        "the backend's decision",
    )
    owner, hardware = _serve_job(stack, providers, model, handle.job_id)
    stack.run_task("backend.index_chain")
    delivered = handle.wait(timeout=60, until="result")
    say(
        f"job {handle.job_id}: {owner.plan.name} served it with {delivered.method_name} on "
        f"{hardware.name}; result verified against its on-chain hash"
    )
    _settle(stack, client, handle.job_id)
    outcome = handle.wait(timeout=120)
    return _result(
        stack, client, handle, outcome, owner, hardware, model, posted, audit, trained, say
    )


def _result(stack, client, handle, outcome, owner, hardware, model, posted, audit, trained, say):  # noqa: ANN001, ANN202
    view = client.backend_view(handle.job_id) or {}
    decision = view.get("decision") or {}
    names = {get_method(m).method_id: m for m in METHODS}
    cands = [c for c in decision.get("candidates", []) if c["hardware_id"] == hardware.hardware_id]
    eligible = sorted({names[c["method_id"]] for c in cands if c["method_id"] in names})
    spec = handle.spec
    measured = _measure_methods(spec, model, hardware, eligible)
    chosen = names[outcome.method_id]
    best = max(measured, key=measured.get)
    paid = stack.market.jobs.withdrawable(owner.address)
    if paid:
        stack.market.jobs.as_(owner.owner).withdraw()
    refund = client.withdraw()
    result = DemoResult(
        attestations_posted=posted,
        attestations_verified=audit["verified"],
        job_state=outcome.state,
        provider=owner.plan.name,
        method=chosen,
        predicted_best_method=names.get(cands[0]["method_id"], "?") if cands else chosen,
        measured_best_method=best,
        speedup_vs_baseline=round(measured[chosen] / measured["hf-eager"], 3)
        if "hf-eager" in measured
        else float("nan"),
        chosen_vs_best_throughput=round(measured[chosen] / measured[best], 3),
        provider_paid_wei=paid,
        client_refund_wei=refund,
        false_attestation_slashed=audit["slashed"],
        details={
            "job_id": handle.job_id,
            "hardware": hardware.name,
            "model_version": decision.get("model_version"),
            "training": trained,
            "decision_reason": decision.get("reason"),
            "candidates": cands,
            "measured_tokens_per_s": measured,
            "price_wei": outcome.cost_wei,
            "audit": audit,
        },
    )
    say(
        f"job {handle.job_id} {outcome.state}: {owner.plan.name} paid {paid} wei, client "
        f"refunded {refund} wei; chosen {chosen}, measured best {best}"
    )
    return result
