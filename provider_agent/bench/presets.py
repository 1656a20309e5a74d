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

# The meta-data set's models: parameters from 7M to 362M, deep-narrow and wide-shallow,
# multi-head to 5:1 grouped-query attention, vocabularies of 8k to 128k tokens.
MODEL_ZOO = (
    "random:7m",
    "random:48m",
    "random:deep-69m",
    "random:vocab128k-88m",
    "smollm2-135m",
    "random:mha-187m",
    "random:360m",
)

# Added later, on a design of their own (grid `cpu-more`): a model between the 7m and the
# 48m, so that the smallest model's behaviour is not a pure extrapolation.
MORE_MODELS = ("random:19m",)

# What every task of the committed CPU table shares: this host's 1- and 2-thread profiles,
# the `qmc` workloads, every CPU method, 1 warm-up + 3 measured repetitions. The `cpu` and
# `cpu-more` grids differ only in their models and how densely the design samples them.
_CPU_TABLE: dict[str, Any] = dict(
    hardware=("cpu-1t@host", "cpu-2t@host"),
    workloads=("qmc",),
    methods=(*_HF_CPU, "hf-int8-ngram", *_ORT, *_VLLM),
    reps=3,
    warmup=1,
)

GRIDS: dict[str, dict[str, Any]] = {
    # the committed CPU meta-data set (data/metadataset/cpu.csv): the model zoo x this host's
    # profiles x the 32 workloads of the `qmc` design, sampled (every workload on 5
    # model/profile pairs: 160 tasks), every CPU method on every task
    "cpu": dict(_CPU_TABLE, models=MODEL_ZOO, tasks_per_workload=5),
    # models added to the zoo after the `cpu` design was dealt (adding them there would
    # re-deal every host's tasks): each `qmc` workload on one of this host's two profiles,
    # 32 tasks per model, measured into the same table (TABLE=cpu scripts/make_metadataset.sh)
    "cpu-more": dict(_CPU_TABLE, models=MORE_MODELS, tasks_per_workload=1),
    # the first CPU data set (data/metadataset/cpu-v1.csv, an Intel Xeon): 2 models x 2
    # profiles x six hand-written workloads, 12 methods, ~45-60 min on an idle 2-core host
    "cpu-v1": dict(
        models=("smollm2-135m", "random:48m"),
        hardware=("cpu-1t", "cpu-2t"),
        workloads=_SIX,
        methods=(*_HF_CPU, *_ORT, *_VLLM),
        reps=3,
        warmup=1,
    ),
    # the v1 tasks with the eight fastest-to-measure methods: ~20 min
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
    # GPU host (scripts/gpu_bench.sh): the model zoo on the `qmc` workloads (each workload
    # on one model: 32 tasks), transformers on CUDA; vLLM / ORT-CUDA where installed.
    # torch.compile methods come last: they compile for minutes.
    "gpu": dict(
        models=MODEL_ZOO,
        hardware=("cuda0@host",),
        workloads=("qmc",),
        tasks_per_workload=1,
        order="method",
        methods=(
            "hf-eager",
            "hf-sdpa",
            "hf-fp16",
            "hf-bf16",
            "hf-ngram",
            "hf-fp16-ngram",
            *_ORT,
            *_VLLM,
            "vllm-graphs",
            "hf-fp16-compile",
        ),
        reps=3,
        warmup=1,
    ),
}

DEFAULT_GRID = "smoke"  # what `bench` measures when no --grid is given
GRID_NAMES = tuple(GRIDS)
