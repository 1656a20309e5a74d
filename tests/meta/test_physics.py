"""meta.physics: the ratios that decide LLM inference speed, from whatever a table gives."""

from __future__ import annotations

import math

import pytest

from meta.descriptors import descriptor_numeric
from meta.physics import (
    PAIR_FEATURES,
    method_physics,
    pair_physics,
    task_physics,
    workload_numbers,
)

MODEL = {"params": 1.0e8, "layers": 10.0, "kv_heads": 2.0, "head_dim": 64.0}
HW = {"threads": 2.0}
WORKLOAD = descriptor_numeric(
    {
        "kind": "workload",
        "v": 1,
        "type": "generated",
        "num_requests": 8,
        "concurrency": 8,
        "prompt_tokens": [90, 110],
        "output_tokens": [20, 40],
        "shared_prefix_tokens": 100,
        "seed": 3,
        "restate_percent": 50,
    }
)


def test_descriptor_numbers_skip_ids_and_read_ranges_and_words():
    assert "seed" not in WORKLOAD and "v" not in WORKLOAD
    assert WORKLOAD["prompt_tokens"] == 100.0 and WORKLOAD["type.generated"] == 1.0
    hw = descriptor_numeric({"cpu_flags": ["avx2", "avx512_bf16"], "cpu_model": "AMD EPYC"})
    assert hw == {"cpu_flags.avx2": 1.0, "cpu_flags.avx512_bf16": 1.0}  # a model name is no flag


def test_workload_numbers_from_descriptors_and_from_foreign_columns():
    w = workload_numbers(WORKLOAD)
    assert w["prompt_tokens"] == 200.0  # body + shared prefix
    assert w["shared_fraction"] == 0.5 and w["restate_fraction"] == 0.5
    foreign = workload_numbers({"count:Batch Size": 16.0, "count:Input Output Length": 512.0})
    assert foreign == {"concurrency": 16.0, "prompt_tokens": 512.0, "output_tokens": 512.0}
    assert workload_numbers({}) == {}


def test_task_physics():
    t = task_physics(MODEL, HW, WORKLOAD)
    assert t["physics.log_weights_per_token"] == pytest.approx(math.log(1e8 / 8))
    assert t["physics.log_prefill_flops"] == pytest.approx(math.log(2e8 * 200 * 8))
    assert t["physics.prefill_share"] == pytest.approx(200 / 230)
    kv = 2 * 10 * 2 * 64 * 230 * 8
    assert t["physics.log_kv_elements"] == pytest.approx(math.log(kv))
    assert t["physics.log_params_per_thread"] == pytest.approx(math.log(5e7))
    # nothing known, nothing made up
    assert task_physics({}, {}, {}) == {}


def test_method_and_pair_physics():
    vllm = method_physics(
        {"engine": "vllm", "flags": {"dtype": "bfloat16", "max_num_seqs": 4}}, "vllm-baseline"
    )
    assert vllm["bits"] == 16.0 and vllm["batch_depth"] == 4.0
    ngram = method_physics({"engine": "hf", "flags": {"prompt_lookup_tokens": 8}}, "hf-ngram")
    assert ngram["speculative"] == 1.0 and ngram["batch_depth"] == 1.0
    assert method_physics(None, "Weight = int8, KV Cache = fp16")["bits"] == 8.0
    assert method_physics(None, "Weight = fp16, KV Cache = fp8")["bits"] == 16.0
    task = workload_numbers(WORKLOAD) | task_physics(MODEL, HW, WORKLOAD)
    p = pair_physics(task, vllm)
    assert set(p) == set(PAIR_FEATURES)
    assert p["pair.log_effective_batch"] == pytest.approx(math.log(4))
    # half the batch, half the precision: the same weight bytes per token as fp32 at 8
    assert p["pair.log_weight_bytes_per_token"] == pytest.approx(math.log(1e8 / 8 * 2 * 4 / 2))
    assert pair_physics(task, ngram)["pair.speculation_gain"] == 0.5
    assert p["pair.speculation_gain"] == 0.0 and p["pair.prefix_gain"] == 0.0
