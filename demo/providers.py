"""The demo's providers: each one stakes, measures its methods on its own hardware
profiles with the real harness, and posts the reports as signed attestations."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.deploy import ETHER
from demo.stack import Stack
from protocol.canonical import content_id
from protocol.eip712 import Attestation, Measurement, sign_attestation
from protocol.report import utc_now
from provider_agent.attest import Attester
from provider_agent.bench import GridSpec, run_grid
from provider_agent.hardware import HardwareProfile, profile_by_name
from provider_agent.harness import BenchConfig
from provider_agent.job_runner import JobRunner
from provider_agent.methods import get_method
from provider_agent.models import ModelInfo

METHODS = ("hf-eager", "hf-sdpa", "hf-int8", "hf-ngram")
WORKLOADS = {
    "chat": dict(num_requests=4, concurrency=4, prompt_tokens=(8, 24), output_tokens=(16, 24)),
    "summarize": dict(num_requests=2, prompt_tokens=(48, 64), output_tokens=(16, 16)),
}


@dataclass(frozen=True)
class ProviderPlan:
    name: str
    profiles: tuple[str, ...]  # hardware profiles it offers, e.g. ("cpu-1t",)
    price_gwei_per_s: int


@dataclass
class DemoProvider:
    plan: ProviderPlan
    owner: LocalAccount
    agent: LocalAccount
    hardware: list[HardwareProfile]
    report_hashes: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)  # its benchmark table

    @property
    def address(self) -> str:
        return self.owner.address

    def runner(self, stack: Stack, model: ModelInfo, hardware: HardwareProfile) -> JobRunner:
        methods = [get_method(m) for m in METHODS]
        return JobRunner.offering(
            stack.market, self.address, self.agent, stack.store, hardware, [model], methods
        )


def benchmark(stack: Stack, plan: ProviderPlan, model: ModelInfo) -> DemoProvider:
    """Measure every method on every profile of the plan; reports go to the blob store."""
    grid = GridSpec(
        models=(str(model.path),),
        hardware=plan.profiles,
        workloads=tuple(WORKLOADS),
        methods=METHODS,
        config=BenchConfig(warmup=1, repetitions=3),
        workload_overrides=WORKLOADS,
    )
    result = run_grid(grid, store=stack.store, progress=True, isolate=False)
    if result.failures():
        raise RuntimeError(f"{plan.name}: benchmark cells failed: {result.failures()}")
    provider = DemoProvider(
        plan,
        stack.account(),
        stack.account(),
        [profile_by_name(p) for p in plan.profiles],
        sorted(result.reports.values()),
        list(result.rows),
    )
    return provider


def register_and_attest(stack: Stack, provider: DemoProvider) -> int:
    """Stake, offer each profile at the plan's price, post the reports; returns how many."""
    price = Web3.to_wei(provider.plan.price_gwei_per_s, "gwei")
    first, *others = provider.hardware
    registry = stack.market.registry.as_(provider.owner)
    registry.register(
        agent=provider.agent,
        hardware_id=first.hardware_id,
        price_per_second=price,
        metadata_uri=f"metainf://demo/{provider.plan.name}",
        stake_wei=3 * ETHER,
    )
    for hw in others:
        registry.add_hardware(hw.hardware_id, price)
    attester = Attester(stack.market, provider.address, provider.agent, stack.store)
    posted = attester.post_reports(provider.report_hashes)
    return sum(len(p.measurements) for p in posted)


def post_false_attestation(stack: Stack, provider: DemoProvider, factor: float = 3.0) -> dict:
    """The cheat: one real report with every speed figure inflated ``factor`` times, and
    a matching attestation. Its report supports its claim, so only re-measuring finds it."""
    honest = stack.store.get_json(provider.report_hashes[0])
    report = copy.deepcopy(honest)
    metrics = report["metrics"]
    for key in list(metrics):
        if key.startswith("output_tokens_per_s") or key == "requests_per_s":
            metrics[key] = round(metrics[key] * factor, 6)
        elif key.endswith("_ms") or key == "wall_s_median":
            metrics[key] = round(metrics[key] / factor, 6)
    report["measured_at"] = utc_now()
    stack.store.put_json(report)
    claim = Measurement.from_report(report)
    attestation = Attestation(
        provider=provider.address,
        measurement=claim,
        nonce=stack.market.attestations.last_nonce(provider.address) + 1,
        timestamp=stack.now(),
    )
    signature = sign_attestation(
        attestation, stack.market.attestations.domain(), provider.agent.key
    )
    receipt = stack.market.attestations.as_(provider.agent).attest(attestation, signature)
    return {
        "tx_hash": receipt["transactionHash"].to_0x_hex(),
        "report_hash": content_id(report),
        "honest_report_hash": provider.report_hashes[0],
        "method": report["method"]["name"],
        "workload": report["workload"]["name"],
        "hardware": provider.hardware[0].name,
        "inflation": factor,
    }
