from __future__ import annotations

import pytest

from meta.descriptors import (
    column_role,
    descriptor_flag_fields,
    descriptor_numeric,
    hardware_catalog_entry,
    model_catalog_entry,
    numeric_from_value,
    parse_bits,
    parse_memory_gb,
    parse_param_count,
)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("meta-llama/Llama-2-7b-hf", 7e9),
        ("meta-llama/Meta-Llama-3-70B", 70e9),
        ("mistralai/Mixtral-8x7B-v0.1", 56e9),
        ("bigscience/bloom-7b1", 7.1e9),
        ("facebook/opt-6.7b", 6.7e9),
        ("HuggingFaceTB/SmolLM2-135M-Instruct", 1.35e8),
        ("EleutherAI/gpt-j-6b", 6e9),
        ("no-size-here", None),
    ],
)
def test_param_count(name, params):
    got = parse_param_count(name)
    assert got == (pytest.approx(params) if params else None)


def test_catalogs_and_memory():
    assert model_catalog_entry("meta-llama/Llama-2-70b-hf")["layers"] == 80
    assert model_catalog_entry("mistralai/Mixtral-8x7B-v0.1")["active_params"] < 20e9
    assert hardware_catalog_entry("Nvidia H100 GPU")["bandwidth_gbs"] > 3000
    assert hardware_catalog_entry("Nvidia GH200 GPU")["memory_gb"] == 96
    assert hardware_catalog_entry("NVIDIA A100 40GB")["memory_gb"] == 40
    assert parse_memory_gb("A100 80GB") == 80
    assert numeric_from_value("hardware", "Some GPU 24 GiB")["memory_gb"] == 24


def test_bits_and_descriptors():
    assert parse_bits("Weight = fp16, KV Cache = fp8") == {"weight_bits": 16, "kv_bits": 8}
    d = descriptor_numeric({"params": 7e9, "arch": "llama", "gpu": {"memory_gb": 80, "fp8": True}})
    assert d == {"params": 7e9, "gpu.memory_gb": 80.0, "gpu.fp8": 1.0}
    host = {"cpu_flags": ["avx2", "fma"], "device": "cpu", "threads": 2, "v": 1}
    assert descriptor_numeric(host) == {
        "cpu_flags.avx2": 1.0,
        "cpu_flags.fma": 1.0,
        "device.cpu": 1.0,
        "threads": 2.0,
    }
    assert descriptor_flag_fields(host) == {
        "cpu_flags": frozenset({"avx2", "fma"}),
        "device": frozenset({"cpu"}),
    }


def test_column_roles():
    assert column_role("Model") == "model"
    assert column_role("Num of Hardware") == "hardware"
    assert column_role("gpu_count") == "hardware"
    assert column_role("Batch Size") == "workload"
