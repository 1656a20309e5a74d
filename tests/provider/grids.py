"""Tiny grids for the bench tests: one tiny random model on cpu-1t, seconds per cell."""

from __future__ import annotations

from provider_agent.bench.grid import GridSpec
from provider_agent.harness import BenchConfig

SMALL = {
    "chat": dict(num_requests=4, concurrency=4, prompt_tokens=(8, 24), output_tokens=(4, 8)),
    "summarize": dict(num_requests=1, prompt_tokens=(24, 32), output_tokens=(8, 8)),
}


def tiny_grid(model, workloads=("summarize",), methods=("hf-eager",), warmup=0) -> GridSpec:
    return GridSpec(
        models=(str(model),),
        hardware=("cpu-1t",),
        workloads=workloads,
        methods=methods,
        config=BenchConfig(warmup=warmup, repetitions=3),
        workload_overrides=SMALL,
    )
