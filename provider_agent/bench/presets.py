"""The preset grids, as names only: the CLI offers them (``bench --grid``) without importing
the agent; :func:`provider_agent.bench.grid.grid_from_options` turns one into a GridSpec."""

from __future__ import annotations

from typing import Any

# hf-compile and hf-sdpa stay out of the CPU grid: on this 2-core CPU torch.compile spends
# 35-50 s compiling each new shape and is then slower than eager (static 1024-slot cache),
# and SDPA is within noise of eager attention; both remain available by name.
_HF_CPU = ("hf-eager", "hf-int8", "hf-bf16", "hf-ngram")
_ORT = ("ort-fp32", "ort-int8")
_VLLM = ("vllm-baseline", "vllm-prefix", "vllm-chunked", "vllm-batch64", "vllm-ngram", "vllm-all")
_SIX = ("chat", "prefill-heavy", "decode-heavy", "shared-prefix", "summarize", "offline-64")

GRIDS: dict[str, dict[str, Any]] = {
    # the committed CPU meta-data set (data/metadataset/cpu.csv): every CPU method, 288
    # cells, ~45-60 min on an idle 2-core host
    "cpu": dict(
        models=("smollm2-135m", "random:48m"),
        hardware=("cpu-1t", "cpu-2t"),
        workloads=_SIX,
        methods=(*_HF_CPU, *_ORT, *_VLLM),
        reps=3,
        warmup=1,
    ),
    # the same tasks with the eight fastest-to-measure methods: ~20 min
    "cpu-quick": dict(
        models=("smollm2-135m", "random:48m"),
        hardware=("cpu-1t", "cpu-2t"),
        workloads=_SIX,
        methods=("hf-eager", "hf-int8", *_VLLM),
        reps=3,
        warmup=1,
    ),
    # seconds: the tiny random model, a few methods
    "smoke": dict(
        models=("random:tiny",),
        hardware=("cpu-1t",),
        workloads=("chat", "prefill-heavy", "shared-prefix", "summarize"),
        methods=("hf-eager", "hf-sdpa", "hf-int8", "hf-ngram", "ort-fp32"),
        reps=3,
        warmup=1,
    ),
    # GPU host (scripts/gpu_bench.sh): transformers on CUDA; vLLM / ORT-CUDA where installed
    "gpu": dict(
        models=("smollm2-135m", "random:360m"),
        hardware=("cuda0",),
        workloads=(*_SIX, "chat-stream"),
        methods=(
            "hf-eager",
            "hf-sdpa",
            "hf-fp16",
            "hf-bf16",
            "hf-fp16-compile",
            "hf-ngram",
            *_ORT,
            *_VLLM,
            "vllm-graphs",
        ),
        reps=3,
        warmup=1,
    ),
}

DEFAULT_GRID = "smoke"  # what `bench` measures when no --grid is given
GRID_NAMES = tuple(GRIDS)
